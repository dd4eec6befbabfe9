"""core.body: strict JSON bodies (media type, size before reading, a parser that cannot 500)."""

from __future__ import annotations

import io
import json

import flask
import pytest

from core.body import MAX_DEPTH, check_fields, parse_json_object, read_json
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
