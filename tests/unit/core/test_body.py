"""core.body: strict JSON bodies (media type, size before reading, a parser that cannot 500)."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
import types

import flask
import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from core.body import (MAX_DEPTH, MAX_STRUCTURE_CHARS, MIN_BODY_RATE, TIMEOUT_KEY,
                       abandon_unread, check_fields, parse_json_object, read_json)
from core.body import _nesting_depth, _structure
from core.errors import ApiError

APP = flask.Flask(__name__)
JSON = "application/json"


class RecordingStream(io.BytesIO):
    """A wsgi.input that remembers whether anyone read from it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.reads = 0

    def read(self, *args):
        self.reads += 1
        return super().read(*args)

    def readinto(self, buffer):
        self.reads += 1
        return super().readinto(buffer)

    def readline(self, *args):
        self.reads += 1
        return super().readline(*args)


def refused(function, *args) -> ApiError:
    with pytest.raises(ApiError) as caught:
        function(*args)
    return caught.value


def read(data: bytes = b"{}", max_bytes: int = 100, **request_args) -> dict:
    request_args.setdefault("content_type", JSON)
    with APP.test_request_context("/", method="POST", data=data, **request_args):
        return read_json(flask.request, max_bytes)


def read_refused(data: bytes, **request_args) -> ApiError:
    with pytest.raises(ApiError) as caught:
        read(data, **request_args)
    return caught.value


# --- read_json: media type and size ------------------------------------------------------------

@pytest.mark.parametrize("content_type", [
    "text/plain", "", "application/json; charset=latin-1", "application/x-www-form-urlencoded",
    "application/json-patch+json",
])
def test_wrong_media_type_is_415(content_type):
    error = read_refused(b'{"a": 1}', content_type=content_type)
    assert (error.status, error.code) == (415, "unsupported_media_type")


def test_missing_content_type_is_415():
    with APP.test_request_context("/", method="POST", input_stream=io.BytesIO(b"{}"),
                                  content_length=2):
        assert flask.request.mimetype == ""
        assert refused(read_json, flask.request, 100).status == 415


@pytest.mark.parametrize("content_type", [JSON, "application/json; charset=utf-8",
                                          "application/json; charset=UTF-8"])
def test_json_with_utf8_or_no_charset_is_read(content_type):
    assert read(b'{"a": "\xc3\xa9"}', content_type=content_type) == {"a": "é"}


def test_declared_length_over_the_limit_is_413_without_reading_the_body():
    stream = RecordingStream(b'{"a": "' + b"x" * 5000 + b'"}')
    with APP.test_request_context("/", method="POST", input_stream=stream, content_type=JSON,
                                  content_length=5009):
        error = refused(read_json, flask.request, 100)
    assert (error.status, error.code, error.reason) == (413, "payload_too_large", "content_length")
    assert stream.reads == 0
    assert stream.tell() == 0


def chunked(data: bytes, max_bytes: int = 100) -> dict:
    """A body without Content-Length, as a WSGI server hands over a chunked upload."""
    stream = RecordingStream(data)
    with APP.test_request_context("/", method="POST", input_stream=stream, content_type=JSON,
                                  headers={"Transfer-Encoding": "chunked"},
                                  environ_overrides={"wsgi.input_terminated": True}):
        assert flask.request.content_length is None
        return read_json(flask.request, max_bytes)


def test_chunked_body_over_the_limit_is_413():
    error = refused(chunked, b'{"a": "' + b"x" * 5000 + b'"}')
    assert (error.status, error.code, error.reason) == (413, "payload_too_large", "body_size")


def test_chunked_body_at_the_limit_is_read():
    data = b'{"a": "' + b"x" * 91 + b'"}'
    assert len(data) == 100
    assert chunked(data) == {"a": "x" * 91}


def test_body_exactly_at_the_limit_passes_and_one_byte_more_fails():
    data = b'{"a": "' + b"x" * 91 + b'"}'
    assert read(data, max_bytes=100) == {"a": "x" * 91}
    assert read_refused(data + b" ", max_bytes=100).status == 413


# --- parse_json_object ---------------------------------------------------------------------------

def nested(depth: int) -> bytes:
    """An object whose deepest container is `depth` levels down (the object counts as 1)."""
    return b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def invalid(raw: bytes) -> ApiError:
    error = refused(parse_json_object, raw)
    assert (error.status, error.code) == (400, "invalid_argument")
    return error


def test_hundred_thousand_brackets_are_a_400_not_a_recursion_error():
    assert "nested too deeply" in invalid(b"[" * 100_000).message
    assert "nested too deeply" in invalid(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}").message


def test_depth_limit_is_32():
    assert MAX_DEPTH == 32
    assert parse_json_object(nested(32))["a"] is not None
    assert "nested too deeply" in invalid(nested(33)).message


def test_brackets_inside_strings_do_not_count():
    assert parse_json_object(b'{"a": "' + b"[{" * 100 + b'"}') == {"a": "[{" * 100}


def test_escaped_quote_does_not_end_the_string():
    raw = b'{"a": "\\"' + b"[" * 100 + b'"}'
    assert parse_json_object(raw) == {"a": '"' + "[" * 100}


def test_escaped_backslash_ends_the_string_so_later_brackets_count():
    deep = b"[" * 40 + b"]" * 40
    assert "nested too deeply" in invalid(b'{"a": "\\\\", "b": ' + deep + b"}").message


def reference_depth(text: str) -> int | None:
    """The deepest nesting outside strings, read one character at a time (the obvious way);
    None for a backslash outside strings (never JSON: the parser refuses it either way)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == "\\":
            return None
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='[]{}"\\ :,ab', max_size=80))
def test_the_structure_scan_finds_the_same_nesting_as_a_character_loop(text):
    expected = reference_depth(text)
    if expected is None:
        with pytest.raises(ApiError):
            parse_json_object(f'{{"a": {text}}}'.encode())
    else:
        assert _nesting_depth(_structure(text)) == expected


def test_structure_outside_strings_is_bounded():
    items = b"[]," * (MAX_STRUCTURE_CHARS // 3 + 1)
    error = invalid(b'{"history": [' + items + b"[]]}")
    assert error.reason == "structure" and "too many elements" in error.message


def test_large_strings_and_whitespace_are_not_structure():
    text = "x" * (4 * MAX_STRUCTURE_CHARS)
    raw = ('{\n' + " " * (2 * MAX_STRUCTURE_CHARS) + '"a": "' + text + '", "b": ['
           + '"[]{},\\"", ' * 1000 + '"z"]}').encode()
    value = parse_json_object(raw)
    assert value["a"] == text and len(value["b"]) == 1001


@pytest.mark.parametrize(("raw", "words"), [
    (b'{"a": "\xff"}', "UTF-8"),
    (b'{"a": "\xed\xa0\x80"}', "UTF-8"),  # an encoded surrogate is not UTF-8 either
    (b'\xef\xbb\xbf{"a": 1}', "byte order mark"),
    (b'{"a": NaN}', "NaN and Infinity"),
    (b'{"a": Infinity}', "NaN and Infinity"),
    (b'{"a": -Infinity}', "NaN and Infinity"),
    (b'{"a": 1, "a": 2}', "duplicate key"),
    (b'{"a": {"b": 1, "b": 2}}', "duplicate key"),
    (b'{"a": [{"b": 1}, {"c": 1, "c": 1}]}', "duplicate key"),
    (b'[{"a": 1}]', "JSON object"),
    (b'"text"', "JSON object"),
    (b"null", "JSON object"),
    (b'{"a": "\\ud800"}', "unicode"),
    (b'{"\\udfff": 1}', "unicode"),
    (b'{"a": ["x", {"b": "\\ud800"}]}', "unicode"),
    (b"", "not valid JSON"),
    (b"   ", "not valid JSON"),
    (b'{"a": 1,}', "not valid JSON"),
    (b'{"a": 1} {"b": 2}', "not valid JSON"),
    (b'{"a": "line\nbreak"}', "not valid JSON"),  # raw control characters are not JSON
])
def test_malformed_body_is_400_with_a_clear_message(raw, words):
    assert words in invalid(raw).message


def test_error_message_never_quotes_the_body():
    raw = b'{"a": "Zq9-private-words", "a": 2}'
    assert "Zq9" not in invalid(raw).message


def test_valid_object_passes():
    raw = json.dumps({"message": "Hi 😀", "history": [{"role": "user", "text": "x"}],
                      "n": 1.5, "ok": True, "none": None}).encode()
    assert parse_json_object(raw)["message"] == "Hi 😀"
    assert parse_json_object(b'{"a": "\\ud83d\\ude00"}') == {"a": "😀"}  # a proper pair


# --- check_fields -----------------------------------------------------------------------------

def fields_refused(obj: dict) -> ApiError:
    error = refused(check_fields, obj, {"message": str}, {"history": list, "flag": bool},
                    "the request")
    assert (error.status, error.code) == (400, "invalid_argument")
    return error


def test_exact_schema_passes():
    check_fields({"message": "hi", "history": [], "flag": False},
                 {"message": str}, {"history": list, "flag": bool}, "the request")


def test_unknown_plain_field_is_named():
    message = fields_refused({"message": "hi", "temperature": 2}).message
    assert "'temperature'" in message and "the request" in message


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "a" * 500, "naïve", "a b",
                                  "x\r\ny", "$where", ""])
def test_unknown_weird_field_is_not_echoed(name):
    message = fields_refused({"message": "hi", name: 1}).message
    assert name not in message if name else "''" not in message
    assert "<" not in message and "\n" not in message
    assert len(message) < 120


def test_missing_required_field():
    assert "message" in fields_refused({"history": []}).message


@pytest.mark.parametrize("obj", [
    {"message": 1}, {"message": None}, {"message": ["hi"]}, {"message": True},
    {"message": "hi", "history": {}}, {"message": "hi", "history": "[]"},
    {"message": "hi", "flag": 1}, {"message": "hi", "flag": "true"},
])
def test_wrong_type_is_refused(obj):
    assert "must be" in fields_refused(obj).message


def test_bool_is_not_accepted_as_a_string():
    message = fields_refused({"message": False}).message
    assert "Field message in the request must be a string." == message


def test_bool_field_accepts_only_true_or_false():
    assert "true or false" in fields_refused({"message": "hi", "flag": 0}).message
    check_fields({"message": "hi", "flag": True}, {"message": str}, {"flag": bool}, "x")


# --- read_json under gunicorn: idle and total deadlines (408) ----------------------------------

def tcp_pair() -> tuple[socket.socket, socket.socket]:
    """A connected (server, client) pair over loopback TCP, as gunicorn's sockets are (a Unix
    socketpair behaves differently once shut for reading)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return server, client


class Peer:
    """The client end of a TCP connection whose other end is a gunicorn connection: gunicorn's own
    Body, LengthReader/ChunkedReader and SocketUnreader read the request body from it."""

    def __init__(self, declared: int | None = 1000, chunked: bool = False):
        from gunicorn.http.body import Body, ChunkedReader, LengthReader
        from gunicorn.http.unreader import SocketUnreader

        self.server, self.client = tcp_pair()
        unreader = SocketUnreader(self.server)
        reader = (ChunkedReader(types.SimpleNamespace(), unreader) if chunked
                  else LengthReader(unreader, declared))
        self.environ = {"wsgi.input": Body(reader), "gunicorn.socket": self.server,
                        "wsgi.input_terminated": True}
        self.headers = {"Transfer-Encoding": "chunked"} if chunked else {}
        if chunked:
            self.environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        self.declared = declared
        self._stop = threading.Event()
        self._thread = None

    def send(self, data: bytes) -> None:
        self.client.sendall(data)

    def trickle(self, first: bytes, every: float | None, piece: bytes = b" ",
                for_s: float = 3.0) -> None:
        """Send `first`, then `piece` every `every` s (or nothing), and close after `for_s`
        (bounds the test on code that would wait for the rest forever)."""
        def run():
            try:
                self.client.sendall(first)
            except OSError:
                return
            until = time.monotonic() + for_s
            while not self._stop.wait(every or 0.05) and time.monotonic() < until:
                if every:
                    try:
                        self.client.sendall(piece)
                    except OSError:
                        return
            self.client.close()
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def request(self, max_bytes: int = 65536, timeout_s: float | None = 0.3, **kwargs):
        """(result or ApiError, seconds it took, the request) of read_json on this body."""
        length = {"content_length": self.declared} if self.declared is not None else {}
        with APP.test_request_context("/", method="POST", content_type=JSON, headers=self.headers,
                                      environ_overrides=self.environ, **length):
            started = time.monotonic()
            try:
                result = read_json(flask.request, max_bytes, timeout_s, **kwargs)
            except ApiError as error:
                result = error
            return result, time.monotonic() - started, flask.request._get_current_object()

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        self.server.close()
        self.client.close()


@pytest.fixture
def peers():
    made = []

    def make(*args, **kwargs) -> Peer:
        made.append(Peer(*args, **kwargs))
        return made[-1]

    yield make
    for peer in made:
        peer.close()


def assert_reading_stopped(peer: Peer) -> None:
    """Nobody will wait for the rest: the server end reads end-of-data at once."""
    peer.server.settimeout(1)
    started = time.monotonic()
    # What had already arrived may still be handed out (Linux keeps it after SHUT_RD); then
    # end-of-data, without waiting for the client.
    while peer.server.recv(65536):
        assert time.monotonic() - started < 0.2
    assert time.monotonic() - started < 0.2


def assert_drain_ends_at_once(peer: Peer) -> None:
    """What a closing server drains (gunicorn does) is what had arrived, then end-of-data,
    although the peer is still sending."""
    time.sleep(0.2)
    peer.server.settimeout(1)
    started = time.monotonic()
    while peer.server.recv(65536):
        pass
    assert time.monotonic() - started < 0.2


def test_min_body_rate_is_64_kib_per_second():
    assert MIN_BODY_RATE == 64 * 1024


def test_body_that_goes_silent_is_408_after_the_idle_timeout(peers):
    peer = peers(declared=1000)
    peer.trickle(b'{"message":', every=None)
    error, took, request = peer.request(timeout_s=0.3)
    assert isinstance(error, ApiError), error
    assert (error.status, error.code, error.reason) == (408, "request_timeout", "body_idle")
    assert 0.3 <= took < 0.8
    assert request._cached_data == b""  # functions-framework's get_data() will not read on
    assert peer.server.gettimeout() is None  # gunicorn's blocking socket, as it was
    assert_reading_stopped(peer)


def test_body_trickling_under_the_idle_timeout_hits_the_total_cap(peers):
    # A byte every 0.1 s never trips the 0.3 s idle timeout; the cap is 0.3 s + 1000 B / 64 KiB/s.
    peer = peers(declared=1000)
    peer.trickle(b'{"message":', every=0.1)
    error, took, _ = peer.request(timeout_s=0.3)
    assert isinstance(error, ApiError), error
    assert (error.status, error.reason) == (408, "body_total")
    cap = 0.3 + 1000 / MIN_BODY_RATE
    assert cap <= took < cap + 0.4
    assert peer.server.gettimeout() is None
    assert_reading_stopped(peer)


@pytest.mark.parametrize("every", [None, 0.1])
def test_chunked_body_too_slow_is_408_within_its_cap(peers, every):
    # No Content-Length: the cap counts the largest allowed body.
    peer = peers(declared=None, chunked=True)
    peer.trickle(b'b\r\n{"message":\r\n', every=every, piece=b"1\r\n \r\n")
    error, took, _ = peer.request(max_bytes=6553, timeout_s=0.3)
    assert isinstance(error, ApiError), error
    assert error.status == 408
    assert took < 0.3 + 6553 / MIN_BODY_RATE + 0.4
    assert_reading_stopped(peer)


def test_slow_but_steady_upload_is_read_whole(peers):
    # 200 kB in 20 kB pieces 0.1 s apart: about 1 s in all, far over the 0.3 s idle timeout,
    # never idle that long, and within its cap (0.3 s + 200 kB / 64 KiB/s = 3.4 s).
    body = b'{"a": "' + b"x" * 199_990 + b'"}'
    assert len(body) == 199_999
    peer = peers(declared=len(body))

    def upload():
        for start in range(0, len(body), 20_000):
            peer.send(body[start:start + 20_000])
            time.sleep(0.1)

    sender = threading.Thread(target=upload, daemon=True)
    sender.start()
    result, took, _ = peer.request(max_bytes=200_000, timeout_s=0.3)
    sender.join(5)
    assert result == {"a": "x" * 199_990}, result
    assert took > 0.5
    assert peer.server.gettimeout() is None


def test_prompt_body_is_read_and_the_socket_timeout_restored(peers):
    peer = peers(declared=14)
    peer.server.settimeout(7.0)
    peer.send(b'{"message": 1}')
    assert peer.request()[0] == {"message": 1}
    assert peer.server.gettimeout() == 7.0
    peer.send(b"NEXT")  # the next request on this connection
    assert peer.server.recv(4) == b"NEXT"  # reading was not shut: the connection lives on


def test_request_timeout_comes_from_the_environ_when_not_given(peers):
    peer = peers(declared=1000)
    peer.environ[TIMEOUT_KEY] = 0.2
    peer.trickle(b"{", every=None)
    error, took, _ = peer.request(timeout_s=None)
    assert isinstance(error, ApiError) and error.reason == "body_idle"
    assert 0.2 <= took < 0.6


# --- abandon_unread: an answer given before the body was read --------------------------------

def test_unread_body_is_abandoned_and_never_read(peers):
    peer = peers(declared=1000)
    peer.trickle(b'{"message":', every=0.05)
    with APP.test_request_context("/", method="POST", content_type=JSON, content_length=1000,
                                  environ_overrides=peer.environ):
        abandon_unread(flask.request)
        assert flask.request._cached_data == b""
        started = time.monotonic()
        assert flask.request.get_data() == b""  # what functions-framework calls
        assert time.monotonic() - started < 0.1
    assert_drain_ends_at_once(peer)


def test_body_read_whole_is_not_abandoned(peers):
    peer = peers(declared=2)
    peer.send(b"{}")
    with APP.test_request_context("/", method="POST", content_type=JSON, content_length=2,
                                  environ_overrides=peer.environ):
        assert read_json(flask.request, 100, 0.3) == {}
        abandon_unread(flask.request)
    peer.send(b"NEXT")
    peer.server.settimeout(1)
    assert peer.server.recv(4) == b"NEXT"  # still open for the next request


def test_request_without_a_body_is_not_abandoned(peers):
    peer = peers(declared=0)
    peer.send(b"NEXT")
    with APP.test_request_context("/", method="GET", environ_overrides=peer.environ):
        abandon_unread(flask.request)
    peer.server.settimeout(1)
    assert peer.server.recv(4) == b"NEXT"


def test_body_refused_for_its_size_is_abandoned(peers):
    peer = peers(declared=5000)
    peer.trickle(b"{", every=0.05)
    error, _, request = peer.request(max_bytes=100)
    assert error.status == 413
    with APP.test_request_context("/", method="POST", content_type=JSON, content_length=5000,
                                  environ_overrides=peer.environ):
        abandon_unread(flask.request)
    assert_drain_ends_at_once(peer)


@pytest.mark.parametrize("broken", [b"zz\r\n", b"5\r\nhello", b"5\r\nhelloXX"])
def test_a_broken_chunked_body_is_400_and_never_read_on(peers, broken):
    peer = peers(declared=None, chunked=True)
    peer.send(broken)
    peer.client.shutdown(socket.SHUT_WR)  # and the client says no more
    error, seconds, request = peer.request()
    assert isinstance(error, ApiError)
    assert (error.status, error.code, error.reason) == (400, "invalid_argument", "body_broken")
    assert error.message == "The request body could not be read."
    assert request.get_data() == b""
    assert_reading_stopped(peer)


def test_a_body_that_ends_before_its_content_length_is_400(peers):
    peer = peers(declared=100)
    peer.send(b'{"message": "hi"}')  # 17 of the 100 bytes it announced
    peer.client.shutdown(socket.SHUT_WR)
    error, _, _ = peer.request()
    assert isinstance(error, ApiError)
    assert (error.status, error.reason) == (400, "body_incomplete")
