"""chat/upstream: real google-genai responses and errors mapped to openapi.yaml's error codes."""

from __future__ import annotations

import json

import httpx
import pytest
from google.genai import errors as genai_errors
from google.genai import types

from billing import Meter
from core.errors import ApiError
from core import log
from upstream import Chunk, read_chunk
from upstream_errors import QUOTA_RETRY_AFTER_S, classify, upstream_failure

SUBJECT = "uid:0123456789abcdef01234567"


def response(**fields) -> types.GenerateContentResponse:
    return types.GenerateContentResponse.model_validate(fields)


def answer(*parts: dict, finish: str | None = "STOP", usage: dict | None = None):
    candidate = {"content": {"role": "model", "parts": list(parts)}}
    if finish:
        candidate["finishReason"] = finish
    extra = {"usageMetadata": usage} if usage else {}
    return response(candidates=[candidate], **extra)


def refusal(raw, first: bool = True, meter: Meter | None = None) -> ApiError:
    with pytest.raises(ApiError) as caught:
        read_chunk(raw, meter or Meter(), first=first)
    return caught.value


def read(raw, first: bool = True) -> tuple[Chunk, Meter]:
    meter = Meter()
    return read_chunk(raw, meter, first=first), meter


# --- read_chunk ----------------------------------------------------------------------------------

def test_text_finish_and_usage():
    raw = answer({"text": "Hel"}, {"text": "lo"},
                 usage={"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6})
    chunk, meter = read(raw)
    assert chunk == Chunk("Hello", "STOP")
    assert meter.usage == {"inputTokens": 4, "outputTokens": 2, "totalTokens": 6}
    assert (meter.final, meter.accepted, meter.unknown, meter.output) == \
        (True, True, False, ["Hello"])
    assert meter.public_usage() == {"inputTokens": 4, "outputTokens": 2}


def test_snake_case_response_reads_the_same():
    raw = response(candidates=[{"content": {"parts": [{"text": "ok"}]},
                                "finish_reason": "MAX_TOKENS"}])
    chunk, meter = read(raw)
    assert chunk == Chunk("ok", "MAX_TOKENS")
    # A finish without usageMetadata is no bill: the charge will be counted instead.
    assert (meter.usage, meter.final, meter.accepted, meter.output) == (None, False, True, ["ok"])


def test_thought_parts_are_dropped():
    raw = answer({"text": "secret reasoning", "thought": True}, {"text": "Answer"})
    chunk, meter = read(raw)
    assert chunk.text == "Answer"
    assert meter.output == ["Answer"]  # thinking is billed through totalTokens, never counted


def test_blocked_prompt_is_blocked():
    raw = response(promptFeedback={"blockReason": "SAFETY"})
    for first in (True, False):
        error = refusal(raw, first)
        assert (error.code, error.status) == ("blocked", 422)


def test_blocked_prompt_records_its_usage_as_final():
    raw = response(promptFeedback={"blockReason": "SAFETY"},
                   usageMetadata={"promptTokenCount": 6, "totalTokenCount": 6})
    meter = Meter()
    assert refusal(raw, meter=meter).reason == "prompt_blocked"
    assert meter.usage == {"inputTokens": 6, "outputTokens": 0, "totalTokens": 6}
    assert (meter.final, meter.accepted, meter.output) == (True, True, [])


def test_blocked_prompt_wins_over_candidates():
    raw = response(promptFeedback={"blockReason": "PROHIBITED_CONTENT"},
                   candidates=[{"content": {"parts": [{"text": "x"}]}}])
    meter = Meter()
    assert refusal(raw, meter=meter).code == "blocked"
    assert meter.output == []  # text beside a blocked prompt is neither shown nor counted


def test_no_candidates_first_is_upstream_error():
    for raw in (response(), response(candidates=[])):
        meter = Meter()
        error = refusal(raw, meter=meter)
        assert (error.code, error.status) == ("upstream_error", 502)
        assert (meter.accepted, meter.final) == (True, False)  # Gemini answered: it bills


def test_no_candidates_later_is_an_empty_chunk_with_usage():
    raw = response(usageMetadata={"promptTokenCount": 1, "candidatesTokenCount": 9})
    chunk, meter = read(raw, first=False)
    assert chunk == Chunk("", None)
    assert meter.public_usage() == {"inputTokens": 1, "outputTokens": 9}
    assert meter.final is False


def test_usage_seen_earlier_is_kept_when_a_later_chunk_has_none():
    meter = Meter()
    read_chunk(answer({"text": "a"}, finish=None, usage={"promptTokenCount": 3,
                                                          "totalTokenCount": 4}), meter, True)
    read_chunk(answer({"text": "b"}, finish=None), meter, False)
    assert meter.usage == {"inputTokens": 3, "outputTokens": 0, "totalTokens": 4}
    assert (meter.output, meter.final) == (["a", "b"], False)


@pytest.mark.parametrize("finish", ["SAFETY", "PROHIBITED_CONTENT", "RECITATION", "BLOCKLIST",
                                    "SPII"])
def test_filtered_first_chunk_without_text_is_blocked(finish):
    assert refusal(answer(finish=finish)).code == "blocked"
    assert refusal(answer({"text": "thinking", "thought": True}, finish=finish)).code == "blocked"


def test_filtered_first_chunk_records_its_usage_before_refusing():
    meter = Meter()
    usage = {"promptTokenCount": 5, "candidatesTokenCount": 0, "totalTokenCount": 30}
    assert refusal(answer(finish="SAFETY", usage=usage), meter=meter).code == "blocked"
    assert (meter.usage["totalTokens"], meter.final) == (30, True)


def test_filtered_later_chunk_without_text_is_passed_on():
    assert read(answer(finish="SAFETY"), first=False)[0] == Chunk("", "SAFETY")


def test_text_cut_short_by_safety_keeps_the_text():
    assert read(answer({"text": "Par"}, finish="SAFETY"))[0] == Chunk("Par", "SAFETY")


def test_first_chunk_without_text_or_finish_is_fine():
    chunk, meter = read(answer(finish=None))
    assert chunk == Chunk("", None)
    assert (meter.accepted, meter.output) == (True, [])


# --- upstream_failure ------------------------------------------------------------------------------

PRIVATE = "quota for project Zq9-private detail"


def rate_limited(details: list | None = None) -> genai_errors.ClientError:
    body = {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": PRIVATE}
    if details is not None:
        body["details"] = details
    return genai_errors.ClientError(429, {"error": body})


def server_error(code: int) -> genai_errors.ServerError:
    return genai_errors.ServerError(code, {"error": {"code": code, "status": "UNAVAILABLE",
                                                     "message": PRIVATE}})


def test_429_with_retry_info_is_unavailable_with_its_delay(captured):
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}
    token = log.bind_request({}, None, SUBJECT)  # the request's caller, from its log context
    try:
        error = upstream_failure(rate_limited([retry]))
    finally:
        log.reset_request(token)
    assert (error.code, error.status, error.retry_after) == ("unavailable", 503, 7)
    assert error.headers()["Retry-After"] == "7"
    (entry,) = captured()
    assert (entry["event"], entry["status"], entry["error_class"]) == \
        ("upstream_error", 429, "ClientError")
    assert entry["subject"] == SUBJECT and entry["severity"] == "ERROR"


def test_429_fractional_delay_is_whole_seconds():
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}
    assert upstream_failure(rate_limited([retry])).retry_after == 2


def test_429_without_retry_info_uses_the_default():
    for details in (None, [], [{"@type": "type.googleapis.com/google.rpc.Help"}],
                    [{"retryDelay": "soon"}]):
        error = upstream_failure(rate_limited(details))
        assert (error.code, error.retry_after) == ("unavailable", QUOTA_RETRY_AFTER_S)


@pytest.mark.parametrize("code", [500, 503])
def test_server_error_is_upstream_error(code):
    error = upstream_failure(server_error(code))
    assert (error.code, error.status) == ("upstream_error", 502)


def test_other_client_error_is_upstream_error():
    error = genai_errors.ClientError(400, {"error": {"code": 400, "message": PRIVATE}})
    assert upstream_failure(error).code == "upstream_error"


@pytest.mark.parametrize("error", [httpx.ReadTimeout("x"), httpx.ConnectTimeout("x"),
                                   httpx.PoolTimeout("x"), TimeoutError()])
def test_timeouts_are_timeout(error):
    result = upstream_failure(error)
    assert (result.code, result.status) == ("timeout", 504)


def test_connection_failure_is_upstream_error(captured):
    result = upstream_failure(httpx.ConnectError("x"), mid_stream=True)
    assert (result.code, result.status, result.reason) == ("upstream_error", 502, "connection")
    (entry,) = captured()
    assert (entry["status"], entry["error_class"], entry["mid_stream"]) == (0, "ConnectError", True)


def test_library_text_never_reaches_the_client_or_the_log(captured):
    for error in (rate_limited(), server_error(500)):
        result = upstream_failure(error)
        assert "Zq9" not in json.dumps(result.body())
    assert captured() and "Zq9" not in json.dumps(captured())


class ForkError(Exception):
    """A class of google-genai's other HTTP library, httpx2, as the table sees it."""


ForkError.__module__ = "httpx2._exceptions"


@pytest.mark.parametrize("error, code, retry, may_have_run", [
    (rate_limited(), "unavailable", True, False),
    (server_error(500), "upstream_error", True, False),
    (genai_errors.ClientError(400, {"error": {"code": 400}}), "upstream_error", False, False),
    (httpx.ConnectError("x"), "upstream_error", True, False),  # never reached Gemini
    (httpx.ConnectTimeout("x"), "timeout", True, False),  # more specific than TimeoutException
    (httpx.ReadTimeout("x"), "timeout", False, True),  # sent: Gemini may be running it
    (httpx.PoolTimeout("x"), "timeout", False, True),
    (TimeoutError(), "timeout", False, True),
    (httpx.RemoteProtocolError("x"), "upstream_error", False, True),
    (ValueError("x"), "upstream_error", False, True),  # anything else: may have run
    (type("ConnectError", (ForkError,), {"__module__": "httpx2._exceptions"})(), "upstream_error",
     True, False),
    (type("ConnectError", (Exception,), {"__module__": "elsewhere"})(), "upstream_error", False,
     True),  # the name alone is not enough
])
def test_each_failure_has_one_row_of_the_table(error, code, retry, may_have_run):
    failure = classify(error)
    assert (failure.code, failure.retry, failure.may_have_run) == (code, retry, may_have_run)
    assert upstream_failure(error).code == code


def test_one_client_per_instance_built_lazily_and_thread_safely(monkeypatch):
    import threading
    import time

    import upstream
    from core.config import load_config

    built = []

    class SlowClient:
        def __init__(self, **kwargs):
            time.sleep(0.05)  # widen the race window
            built.append(kwargs)

    monkeypatch.setattr(upstream.genai, "Client", SlowClient)
    gemini = upstream.Gemini(load_config("chat", {"APP_ENV": "development",
                                                  "GEMINI_API_KEY": "k",
                                                  "GEMINI_BASE_URL": "http://127.0.0.1:9"}))
    assert built == []  # nothing built before the first request
    clients = []
    threads = [threading.Thread(target=lambda: clients.append(gemini.client())) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and len({id(c) for c in clients}) == 1
    options = built[0]["http_options"]
    assert (options.base_url, options.api_version) == ("http://127.0.0.1:9", "v1beta")
    assert built[0]["api_key"] == "k"


def test_closing_the_rest_before_it_started_closes_the_upstream_call():
    from upstream import _Rest

    class Upstream:
        closed = False

        def close(self):
            self.closed = True

    def never_started():
        try:
            yield from ()
        finally:  # a generator closed before its first step never gets here
            raise AssertionError("unreachable")

    upstream = Upstream()
    _Rest(never_started(), upstream).close()
    assert upstream.closed
