"""Strict JSON request bodies: media type, size before reading, deadlines while reading, and a
parser that cannot 500.

Rejects deep nesting, invalid UTF-8, a BOM, NaN/Infinity, duplicate keys and lone surrogates.

Slow bodies (408): under gunicorn (functions-framework's server) a body must keep arriving —
no byte for `timeout_s` (REQUEST_BODY_TIMEOUT_S) is an idle timeout — and must be complete
within `timeout_s + length / MIN_BODY_RATE` in all (the declared Content-Length, or the
maximum size for a chunked body), so a trickler cannot hold a worker thread for long while a
slow but steady upload still gets through. A body given up on, timed out or simply not read
(an error answered before it), is never read on: its connection is closed after the answer.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time

from .errors import ApiError

__all__ = ["read_json", "check_fields", "abandon_unread", "MAX_DEPTH", "MIN_BODY_RATE",
           "TIMEOUT_KEY"]

MAX_DEPTH = 32
# The most JSON structure outside strings (brackets, commas, colons, numbers, literals; not
# whitespace) a body may have. A chat request's bulk is strings (texts, base64 attachments);
# its structure is a few characters per history item. Bounding it bounds the Python objects a
# body can become: 20 MiB of "[]," would otherwise be 7 million lists (~600 MB) in one request.
MAX_STRUCTURE_CHARS = 256 * 1024
_SPACE = re.compile(r"[ \t\n\r]+")
# The slowest average upload rate we wait for, in bytes per second (512 kbit/s, a poor mobile
# uplink): a body gets REQUEST_BODY_TIMEOUT_S plus its length at this rate to arrive in all.
# A 20 MiB attachment thus gets 10 s + 320 s; a 64 KiB chat request 10 s + 1 s.
MIN_BODY_RATE = 64 * 1024
DEFAULT_TIMEOUT_S = 10.0
# Where core.http.Endpoint puts the function's REQUEST_BODY_TIMEOUT_S for read_json.
TIMEOUT_KEY = "jette.body_timeout_s"
_STATE_KEY = "jette.body"  # "read" once the whole body was read, "abandoned" once given up on
_READ_STEP = 64 * 1024


def read_json(request, max_bytes: int, timeout_s: float | None = None) -> dict:
    """Return the request's JSON object or raise ApiError (415, 413, 408 or 400)."""
    mimetype, options = request.mimetype, request.mimetype_params
    if mimetype != "application/json" or options.get("charset", "utf-8").lower() != "utf-8":
        raise ApiError("unsupported_media_type", reason="media_type")
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise _too_large(request, "content_length")
    sock = request.environ.get("gunicorn.socket")
    if hasattr(sock, "settimeout") and hasattr(sock, "shutdown"):
        if timeout_s is None:
            timeout_s = float(request.environ.get(TIMEOUT_KEY, DEFAULT_TIMEOUT_S))
        raw = _read_with_deadlines(request, sock, max_bytes, timeout_s)
    else:  # the Flask test client, another server: nothing to put a deadline on
        raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise _too_large(request, "body_size")
    if declared is not None and len(raw) < declared:  # the client closed before its end
        request.environ[_STATE_KEY] = "abandoned"
        raise _invalid("The request body ended early.", "body_incomplete")
    request.environ[_STATE_KEY] = "read"
    return parse_json_object(raw)


def abandon_unread(request) -> None:
    """Answering without having read the whole body: nobody reads the rest — neither
    functions-framework (which reads it after every answer, with no deadline) nor gunicorn
    (which would drain it to keep the connection alive) — and the connection closes."""
    if request.environ.get(_STATE_KEY) is not None or not _has_body(request):
        return
    request.environ[_STATE_KEY] = "abandoned"
    request._cached_data = b""  # what functions-framework's request.get_data() returns now
    sock = request.environ.get("gunicorn.socket")
    if hasattr(sock, "shutdown"):
        _stop_reading(sock)


def _has_body(request) -> bool:
    transfer = request.environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    return bool(request.content_length) or "chunked" in transfer


def _read_with_deadlines(request, sock, max_bytes: int, timeout_s: float) -> bytes:
    """Read up to max_bytes + 1 bytes of the body, in steps, from gunicorn's socket.

    The socket timeout (per recv) is the idle deadline; a watchdog shuts the socket for reading
    at the total deadline, which ends a read that a byte now and then would keep alive."""
    length = request.content_length if request.content_length is not None else max_bytes
    budget = timeout_s + length / MIN_BODY_RATE
    deadline = time.monotonic() + budget
    previous = sock.gettimeout()
    watchdog = _Watchdog(sock, budget)
    parts: list[bytes] = []
    size = 0
    reason = None
    try:
        while size <= max_bytes:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reason = "body_total"
                break
            sock.settimeout(min(timeout_s, remaining))
            try:
                part = request.stream.read(min(_READ_STEP, max_bytes + 1 - size))
            except Exception as error:  # noqa: BLE001 - socket.timeout, a read cut short by
                # the watchdog, or gunicorn's refusals of a broken body (a bad chunk, a reset)
                if isinstance(error, socket.timeout):  # no byte for timeout_s: idle, even
                    reason = "body_idle"  # when a busy machine got here after the total cap
                elif watchdog.fired or time.monotonic() >= deadline:
                    reason = "body_total"
                else:
                    reason = "body_broken"
                break
            if not part:
                break
            parts.append(part)
            size += len(part)
    finally:
        watchdog.cancel()
        try:
            sock.settimeout(previous)
        except OSError:
            pass
    if reason is None and watchdog.fired:
        reason = "body_total"  # the watchdog's shutdown ended the body early
    if reason is not None:
        request.environ[_STATE_KEY] = "abandoned"
        request._cached_data = b""
        _stop_reading(sock)
        if reason == "body_broken":
            raise _invalid("The request body could not be read.", reason)
        raise ApiError("request_timeout", reason=reason)
    return b"".join(parts)


class _Watchdog:
    """Shuts `sock` for reading after `seconds` unless cancelled first: a recv blocked on it
    returns at once (end of data), later ones never wait again."""

    def __init__(self, sock, seconds: float):
        self._sock = sock
        self._lock = threading.Lock()
        self._done = False
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = self.fired = True
        _stop_reading(self._sock)

    def cancel(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()


def _stop_reading(sock) -> None:
    # Reads end at once from now on, and gunicorn's close (which drains what is left before
    # closing) never waits for a trickler: the connection closes after the answer.
    try:
        sock.shutdown(socket.SHUT_RD)
    except OSError:  # already closed by the peer
        pass


def _too_large(request, reason: str) -> ApiError:
    # functions-framework calls request.get_data() after every response; an empty cache keeps
    # it from buffering the refused body, and core.http closes the connection after the answer.
    request._cached_data = b""
    return ApiError("payload_too_large", reason=reason)


def parse_json_object(raw: bytes) -> dict:
    if raw.startswith(b"\xef\xbb\xbf"):
        raise _invalid("The body must not start with a byte order mark.", "bom")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("The body is not valid UTF-8.", "utf8") from None
    structure = _structure(text)
    if len(structure) - sum(structure.count(space) for space in " \t\n\r") > MAX_STRUCTURE_CHARS:
        raise _invalid("The JSON has too many elements.", "structure")
    if _nesting_depth(_SPACE.sub("", structure)) > MAX_DEPTH:
        raise _invalid("The JSON is nested too deeply.", "depth")
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise _invalid("The body is not valid JSON.", "json") from None
    if not isinstance(value, dict):
        raise _invalid("The body must be a JSON object.", "not_object")
    _check_strings(value)
    return value


def check_fields(obj: dict, required: dict[str, type], optional: dict[str, type], where: str) -> None:
    """Exact schema for one JSON object: no unknown, missing or mistyped fields."""
    for name in obj:
        if name not in required and name not in optional:
            raise _invalid(f"Unknown field {_safe_name(name)} in {where}.", "unknown_field")
    for name, kind in {**required, **optional}.items():
        if name in obj and not _is_type(obj[name], kind):
            raise _invalid(f"Field {name} in {where} must be {_TYPE_NAMES[kind]}.", "field_type")
    for name in required:
        if name not in obj:
            raise _invalid(f"Field {name} is required in {where}.", "missing_field")


_TYPE_NAMES = {str: "a string", list: "a list", dict: "an object", bool: "true or false",
               int: "a whole number"}


def _is_type(value: object, kind: type) -> bool:
    return isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))


def _safe_name(name: str) -> str:
    # Field names are client input: quote them only when they look like identifiers.
    if name.isascii() and name.replace("_", "").isalnum() and len(name) <= 40:
        return f"'{name}'"
    return "(unnamed)"


def _invalid(message: str, reason: str) -> ApiError:
    return ApiError("invalid_argument", message, reason=reason)


def _structure(text: str) -> str:
    """`text` without its strings, in C-speed steps: escaped backslashes, then
    escaped quotes, are removed (both pair up left to right, as the JSON parser reads them), so
    every quote left opens or closes a string, and the pieces between pairs of them are the
    structure (after an odd quote, the rest is an unterminated string, as the parser sees it)."""
    return "".join(text.replace("\\\\", "").replace('\\"', "").split('"')[0::2])


def _nesting_depth(structure: str) -> int:
    """Deepest [ / { nesting of a body's structure (its strings removed), without recursion."""
    depth = deepest = 0
    for char in structure:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                break
        elif char in "]}":
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise _invalid("The body has a duplicate key.", "duplicate_key")
        result[key] = value
    return result


def _no_constants(name: str) -> None:
    raise _invalid("NaN and Infinity are not valid JSON.", "constant")


def _check_strings(value: object) -> None:
    """Lone surrogates (\\ud800) parse in Python but cannot be sent anywhere as UTF-8."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise _invalid("The body contains an invalid unicode escape.", "surrogate") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
