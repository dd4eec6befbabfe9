"""The staged chat function: what can be decided before the first byte is a plain JSON error,
and a stream is `text/event-stream` with openapi.yaml's headers (Gemini replaced by a stub)."""

from __future__ import annotations

import io
import json
import sys

import pytest

from core import log
from core.errors import ApiError
from core.quota import Quota
from tests.helpers import GeminiStream, opened
from turn import Said

ORIGIN = "https://app.example"
SSE = {"Accept": "text/event-stream", "Origin": ORIGIN}
USAGE = {"inputTokens": 2, "outputTokens": 3, "totalTokens": 5}
COUNTED = 7  # countTokens of a request


@pytest.fixture(scope="module")
def chat(staged_client):
    client = staged_client("chat", APP_ENV="development", ALLOWED_ORIGINS=ORIGIN,
                           FIREBASE_PROJECT_ID="demo-test", GEMINI_API_KEY="x",
                           REQUIRE_AUTH="false", MAX_REQUEST_BYTES="1024")
    return client, sys.modules["main"]


@pytest.fixture
def gemini(chat, monkeypatch):
    """Replace the module's Gemini calls; records every call so tests can assert 'not called'.
    Each test gets fresh limits, so counts do not depend on the other tests."""
    return stub_gemini(chat[1], monkeypatch)


def stub_gemini(main, monkeypatch, first=("Hel",), rest=(("lo", "STOP", USAGE),),
                reply=("Hello", "STOP", USAGE)) -> list:
    """Gemini answering `first` then `rest` (streams) or `reply` (JSON); countTokens answers
    COUNTED for a request and one token per character for a model text. Each answer call is
    recorded with the caller's pseudonym, as the request's log lines name it."""
    monkeypatch.setattr(main, "QUOTA", Quota(main.CONFIG))
    calls = []

    def open_stream(turn, meter):
        calls.append(("stream", turn, log.subject()))
        stream = GeminiStream(meter, *rest)
        calls.append(("rest", stream))
        return opened(meter, *first), stream

    def complete(turn, meter):
        calls.append(("complete", turn, log.subject()))
        return opened(meter, *reply)

    def count_tokens(contents, model=None):
        calls.append(("count", contents, model))
        if contents[0]["role"] == "model":
            return len(contents[0]["parts"][0]["text"])
        return COUNTED

    monkeypatch.setattr(main.GEMINI, "open_stream", open_stream)
    monkeypatch.setattr(main.GEMINI, "complete", complete)
    monkeypatch.setattr(main.GEMINI, "count_tokens", count_tokens)
    return calls


def answers(calls: list) -> list:
    """The calls that asked Gemini for an answer."""
    return [call for call in calls if call[0] in ("stream", "complete")]


def post(client, body, headers=SSE, **kwargs):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    kwargs.setdefault("content_type", "application/json")
    return client.post("/api/chat", data=data, headers=headers, **kwargs)


def assert_json_error(response, status, code):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == code
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.parametrize("body", [{"message": "hi", "model": "gemini-ultra"},
                                  {"message": "hi", "history": [{"role": "system", "text": "x"}]},
                                  {"message": " "}, {"message": "hi", "temperature": 2}])
def test_invalid_request_is_a_json_400_not_a_stream(chat, gemini, body):
    assert_json_error(post(chat[0], body), 400, "invalid_argument")
    assert gemini == []


def test_wrong_media_type_is_a_json_415(chat, gemini):
    response = post(chat[0], b'{"message": "hi"}', content_type="text/plain")
    assert_json_error(response, 415, "unsupported_media_type")
    assert gemini == []


def test_too_large_is_a_json_413(chat, gemini):
    assert_json_error(post(chat[0], {"message": "x" * 2000}), 413, "payload_too_large")
    assert gemini == []


def test_deep_nesting_is_a_json_400(chat, gemini):
    response = post(chat[0], b'{"message": ' + b"[" * 400 + b"]" * 400 + b"}")
    assert_json_error(response, 400, "invalid_argument")


def test_get_is_405(chat):
    response = chat[0].get("/api/chat", headers={"Origin": ORIGIN})
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST, OPTIONS"


def test_upstream_refusal_before_the_first_byte_is_a_json_error(chat, monkeypatch):
    def blocked(turn, meter):
        raise ApiError("blocked", reason="answer_blocked")

    monkeypatch.setattr(chat[1].GEMINI, "open_stream", blocked)
    assert_json_error(post(chat[0], {"message": "hi"}), 422, "blocked")


def test_stream_has_the_spec_headers_and_events(chat, gemini):
    response = post(chat[0], {"message": "hi", "history": [{"role": "user", "text": "a"},
                                                          {"role": "model", "text": "b"}]})
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.get_data() == (
        b'event: delta\ndata: {"text": "Hel"}\n\n'
        b'event: delta\ndata: {"text": "lo"}\n\n'
        b'event: done\ndata: {"finishReason": "STOP", '
        b'"usage": {"inputTokens": 2, "outputTokens": 3}, '
        b'"quota": {"requestsLeft": 29, "tokensLeft": 199995}}\n\n')
    ((kind, turn, subject),) = answers(gemini)
    assert kind == "stream" and turn.history == (Said("user", "a"), Said("model", "b"))
    assert subject.startswith("ip:")  # anonymous caller: a pseudonym, never the raw address
    # Gemini's totalTokens (5) was charged to the caller's daily budget.
    assert chat[1].QUOTA.status(subject)["tokens"]["remaining"] == 200_000 - 5


def test_json_mode_answer(chat, gemini):
    response = post(chat[0], {"message": "hi"}, headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.get_json() == {"reply": "Hello", "finishReason": "STOP",
                                   "usage": {"inputTokens": 2, "outputTokens": 3},
                                   "quota": {"requestsLeft": 29, "tokensLeft": 199995}}
    ((kind, _, subject),) = answers(gemini)
    assert kind == "complete"
    assert chat[1].QUOTA.status(subject)["tokens"]["remaining"] == 200_000 - 5


def test_finished_streams_free_their_slots(chat, gemini):
    for _ in range(3):  # MAX_CONCURRENT_STREAMS_PER_USER is 2
        response = post(chat[0], {"message": "hi"})
        assert response.status_code == 200
        assert b"event: done" in response.get_data()
    assert len(answers(gemini)) == 3


def test_open_streams_are_limited_per_caller(chat, gemini):
    first = post(chat[0], {"message": "hi"}, buffered=False)
    second = post(chat[0], {"message": "hi"}, buffered=False)
    assert (first.status_code, second.status_code) == (200, 200)  # both still streaming
    third = post(chat[0], {"message": "hi"})
    assert_json_error(third, 429, "rate_limited")
    assert int(third.headers["Retry-After"]) >= 1
    assert len(answers(gemini)) == 2
    assert first.get_data().endswith(b"}}\n\n")  # read to its `done`: its slot is free
    assert post(chat[0], {"message": "hi"}).status_code == 200
    second.get_data()


def test_upstream_refusal_frees_the_slot_and_charges_nothing(chat, gemini, monkeypatch):
    def blocked(turn, meter):
        gemini.append(("stream", turn, log.subject()))
        raise ApiError("blocked", reason="answer_blocked")

    monkeypatch.setattr(chat[1].GEMINI, "open_stream", blocked)
    for _ in range(3):
        assert_json_error(post(chat[0], {"message": "hi"}), 422, "blocked")
    assert chat[1].QUOTA.status(gemini[0][2])["tokens"]["remaining"] == 200_000
    assert [call for call in gemini if call[0] == "count"] == []  # nothing accepted: no count


@pytest.fixture(scope="module")
def limited(staged_client):
    client = staged_client("chat", APP_ENV="development", ALLOWED_ORIGINS=ORIGIN,
                           FIREBASE_PROJECT_ID="demo-test", GEMINI_API_KEY="x",
                           REQUIRE_AUTH="false", RATE_LIMITS="2/minute")
    return client, sys.modules["main"]


@pytest.mark.parametrize("headers", [SSE, {"Origin": ORIGIN}], ids=["sse", "json"])
def test_over_the_limit_is_429_and_gemini_is_not_called(limited, monkeypatch, headers):
    calls = stub_gemini(limited[1], monkeypatch)
    for _ in range(2):
        assert post(limited[0], {"message": "hi"}, headers=headers).status_code == 200
    response = post(limited[0], {"message": "hi"}, headers=headers)
    assert_json_error(response, 429, "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
    assert len(answers(calls)) == 2  # the refused request never reached the model


def test_invalid_input_does_not_use_up_the_limit(limited, monkeypatch):
    calls = stub_gemini(limited[1], monkeypatch)
    for body in ({"message": " "}, {"message": "hi", "model": "x"}, {"message": "hi", "a": 1}):
        assert_json_error(post(limited[0], body), 400, "invalid_argument")
    for _ in range(2):
        assert post(limited[0], {"message": "hi"}).status_code == 200
    assert_json_error(post(limited[0], {"message": "hi"}), 429, "rate_limited")
    assert len(answers(calls)) == 2


class CountingStream(io.BytesIO):
    consumed = 0

    def read(self, *args):
        data = super().read(*args)
        self.consumed += len(data)
        return data

    def readinto(self, buffer):
        count = super().readinto(buffer)
        self.consumed += count
        return count


def test_refused_oversized_body_is_not_read_after_the_413(chat, gemini):
    # core.body refuses on Content-Length without reading; the whole deployed stack must not
    # then read the body anyway (functions-framework's after_request hook calls get_data()).
    stream = CountingStream(b"x" * 3_000_000)
    response = chat[0].post("/api/chat", input_stream=stream, content_type="application/json",
                            headers={"Content-Length": "3000000", **SSE})
    assert response.status_code == 413
    assert stream.consumed <= 64 * 1024


def test_accept_is_matched_without_regard_to_case(chat, gemini):
    response = post(chat[0], {"message": "hi"}, headers={"Accept": "TEXT/Event-Stream",
                                                         "Origin": ORIGIN})
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
