"""Raw HTTP/1.1 for the fuzz suite: send exact bytes (any method, header byte or request line)
to a running function, read what comes back, and check openapi.yaml's promises on every reply.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.integration.harness import APP_ORIGIN, CANARIES, ROOT
from tests.spec import SECURITY_HEADERS

# openapi.yaml's error table: code -> status (and the codes that carry Retry-After).
SPEC_STATUS = {
    "invalid_argument": 400, "unauthenticated": 401, "permission_denied": 403, "not_found": 404,
    "method_not_allowed": 405, "request_timeout": 408, "payload_too_large": 413,
    "unsupported_media_type": 415, "blocked": 422, "rate_limited": 429, "quota_exceeded": 429,
    "internal": 500, "upstream_error": 502, "unavailable": 503, "timeout": 504,
}
SPEC_RETRY_AFTER = {"rate_limited", "quota_exceeded", "unavailable"}
ALLOWED_ORIGINS = frozenset({APP_ORIGIN, "http://localhost:5173"})  # conftest's ALLOWED_ORIGINS
# Text that betrays a traceback, a file path or a library behind an answer.
LEAKS = ("Traceback", 'File "', "site-packages", "dist-packages", "/usr/lib/python", str(ROOT))
LIBRARY_WORDS = ("werkzeug", "flask", "gunicorn", "firebase_admin", "google.", "httpx", "Error:",
                 "Exception")


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def request_bytes(method: str | bytes, target: str | bytes, headers: list[tuple],
                  body: bytes = b"", version: bytes = b"HTTP/1.1") -> bytes:
    """One request exactly as given: str parts are UTF-8 encoded, bytes are sent unchanged.
    Adds Host, Connection: close and (with a body) Content-Length unless `headers` names them."""
    def raw(part):
        return part if isinstance(part, bytes) else part.encode("utf-8", "surrogatepass")

    names = {raw(name).lower() for name, _ in headers}
    lines = [b" ".join((raw(method), raw(target), version))]
    if b"host" not in names:
        lines.append(b"Host: 127.0.0.1")
    lines += [raw(name) + b": " + raw(value) for name, value in headers]
    if b"connection" not in names:
        lines.append(b"Connection: close")
    if body and b"content-length" not in names and b"transfer-encoding" not in names:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def exchange(url: str, raw: bytes, method: str, timeout: float = 20,
             half_close: bool = False) -> Reply | None:
    """Send `raw` on a fresh connection (then end our side if `half_close`); the reply, or
    None if the server closed without one."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it answered (and closed) before reading everything: read that answer
        response = http.client.HTTPResponse(sock, method=method)
        try:
            response.begin()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None
        try:
            body = response.read()
        except http.client.IncompleteRead as cut:
            body = cut.partial + b"\n[cut]"
        return Reply(response.status, response.headers, body)


def is_server_refusal(reply: Reply) -> bool:
    """gunicorn's own HTML page for a request it could not parse (the function never ran)."""
    return (reply.status in (400, 414, 431, 501) and "Server" not in reply.headers
            and (reply.header("Content-Type") or "").startswith("text/html"))


def check_any_reply(reply: Reply | None, raw: bytes, method: str, own: tuple = ()) -> None:
    """For bytes that may not be HTTP: an answer from the function keeps every promise of
    check_reply; gunicorn's own refusal page (the function never ran) keeps what it can."""
    if reply is None:  # closed without answering: fair for bytes that are not HTTP
        return
    if is_server_refusal(reply):
        # 501: gunicorn's answer to an unknown transfer coding (RFC 9112 section 6.1).
        assert reply.status < 500 or reply.status == 501 and (
            method == "HEAD" or b"transfer coding" in reply.body), reply.body[:200]
        # The page quotes the bad line back to its sender: the sender's own bytes only.
        sent = tuple(value for value in CANARIES.values if value.encode() in raw)
        assert_no_leak(reply.body.decode("utf-8", "replace"), sent)
        return
    check_reply(reply, method, may_contain=own)


def check_reply(reply: Reply | None, method: str, origin: str | None = None,
                may_contain: tuple[str, ...] = ()) -> None:
    """Every promise that holds for any request the function saw. `origin`: the Origin as the
    server read it; `may_contain`: canaries this reply may carry (GET /api/auth: the caller's
    own e-mail and uid)."""
    assert reply is not None, "the connection closed without an HTTP response"
    # Security headers: every response, errors and preflights included.
    for name, value in SECURITY_HEADERS.items():
        assert reply.header(name) == value, f"{name}: {reply.header(name)!r} on {reply.status}"
    assert reply.header("X-XSS-Protection") in (None, "0")
    # CORS: an allowed origin is echoed exactly, nothing else ever is.
    acao = reply.headers.get_all("Access-Control-Allow-Origin") or []
    assert "Access-Control-Allow-Credentials" not in reply.headers
    assert acao == [] or (acao == [origin] and origin in ALLOWED_ORIGINS), acao
    if acao:
        assert "origin" in (reply.header("Vary") or "").lower()
    if origin is not None and origin not in ALLOWED_ORIGINS:
        assert not [h for h in reply.headers if h.lower().startswith("access-control-")]
    text = reply.body.decode("utf-8", "replace")
    code = None
    if reply.status >= 400 and method != "HEAD":  # the envelope, with the code's status
        assert (reply.header("Content-Type") or "").startswith("application/json"), \
            (reply.status, reply.header("Content-Type"), text[:200])
        try:
            body = json.loads(reply.body)
        except ValueError:
            raise AssertionError(f"not JSON: {text[:200]!r}") from None
        assert isinstance(body, dict) and list(body) == ["error"], text[:200]
        error = body["error"]
        assert isinstance(error, dict) and sorted(error) == ["code", "message"], text[:200]
        code, message = error["code"], error["message"]
        assert SPEC_STATUS.get(code) == reply.status, (reply.status, code)
        assert isinstance(message, str) and 0 < len(message) < 200
        # A field name the client sent is quoted back ("Unknown field 'Exception' in ..."): its
        # own text, so only the rest of the sentence must be free of library words.
        ours = re.sub(r"'[A-Za-z0-9_]{1,40}'", "''", message)
        assert not [word for word in LIBRARY_WORDS if word in ours], message
        if code == "unauthenticated":
            assert reply.header("WWW-Authenticate") == "Bearer"
        elif code == "method_not_allowed":
            assert reply.header("Allow")
        elif code in SPEC_RETRY_AFTER:
            assert int(reply.header("Retry-After") or 0) >= 1, reply.header("Retry-After")
    # No 5xx, except "unavailable" (busy or paused; the stand-in never fails unasked).
    assert reply.status < 500 or (reply.status == 503 and code == "unavailable"), \
        (reply.status, text[:300])
    assert_no_leak(text, may_contain)


def assert_no_leak(text: str, may_contain: tuple[str, ...] = ()) -> None:
    leaks = [word for word in LEAKS if word in text]
    leaks += [value[:16] + "…" for value in CANARIES.values
              if value not in may_contain and value in text]
    assert leaks == [], f"leaked {leaks} in {text[:300]!r}"
