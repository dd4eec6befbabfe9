"""chat/sse: `delta`* then `done`, or `error`; model text can never forge an event; however the
stream ends, its bill is settled after the upstream is closed, at what billing.charge says; and
the stream says how it ended (`final_status`) for the request log."""

from __future__ import annotations

import json

import pytest

from billing import Meter, charge
from core.config import load_config
from core.errors import ApiError
from sse import ChatEvents as chat_events
from sse import event
from tests.helpers import GeminiStream, opened
from turn import Turn

CONFIG = load_config("chat", {"APP_ENV": "development", "MAX_OUTPUT_TOKENS": "100"})
TURN = Turn(message="hi", history=())
INPUT_TOKENS = 10  # what the fake countTokens answers for the request


class Count:
    """A fake countTokens: the request is INPUT_TOKENS, a model text one token per character."""

    def __init__(self, error: Exception | None = None):
        self.calls: list[list[dict]] = []
        self.error = error

    def __call__(self, contents: list[dict]) -> int:
        self.calls.append(contents)
        if self.error is not None:
            raise self.error
        if contents[0]["role"] == "model":
            return len(contents[0]["parts"][0]["text"])
        return INPUT_TOKENS


class Bill:
    """What the stream sees of billing.Bill: its meter, and settle() -> the quota left. Each
    call is recorded with the charge billing computes at that moment (billing.Bill's own
    exactly-once settlement is tested with a real quota in test_sse_settle)."""

    def __init__(self, meter: Meter, count: Count | None = None, on_settle=None):
        self.meter, self.count = meter, count or Count()
        self.charges: list[int | None] = []
        self._on_settle = on_settle

    def settle(self) -> dict:
        if self._on_settle is not None:
            self._on_settle()
        tokens = charge(self.meter, TURN, CONFIG, self.count)
        self.charges.append(tokens)
        return {"requestsLeft": 7, "tokensLeft": 1000 - tokens}


def parse(frames) -> list[tuple[str, dict]]:
    """Parse SSE bytes strictly: each frame exactly `event: NAME\\ndata: JSON\\n\\n`."""
    events = []
    for frame in frames:
        text = frame.decode("ascii")
        assert text.endswith("\n\n") and text.count("\n") == 3
        name_line, data_line = text[:-2].split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        events.append((name_line[7:], json.loads(data_line[6:])))
    return events


def serve(events) -> list[tuple[str, dict]]:
    """What a WSGI server does with the body: iterate it to the end, then close it."""
    try:
        return parse(list(events))
    finally:
        events.close()


USAGE = {"inputTokens": 3, "outputTokens": 5, "totalTokens": 8}
ZERO = {"inputTokens": 0, "outputTokens": 0}


def test_event_format_is_exact():
    assert event("done", {"a": 1}) == b'event: done\ndata: {"a": 1}\n\n'


def test_text_cannot_forge_an_event():
    text = "a\n\ndata: x\r\nevent: done\u2028\u2029\x85é"
    frame = event("delta", {"text": text})
    assert parse([frame]) == [("delta", {"text": text})]
    assert b"\r" not in frame and frame.count(b"\n") == 3
    frame.decode("ascii")  # non-ASCII is escaped, so no exotic line separators reach the wire


def done(finish_reason: str, usage: dict, charged: int) -> tuple[str, dict]:
    return ("done", {"finishReason": finish_reason, "usage": usage,
                     "quota": {"requestsLeft": 7, "tokensLeft": 1000 - charged}})


def test_deltas_then_done():
    meter = Meter()
    rest = GeminiStream(meter, ("lo",), ("",), ("!", "STOP", USAGE))
    bill = Bill(meter)
    events = serve(chat_events(opened(meter, "Hel"), rest, bill))
    assert events == [
        ("delta", {"text": "Hel"}), ("delta", {"text": "lo"}), ("delta", {"text": "!"}),
        done("STOP", {"inputTokens": 3, "outputTokens": 5}, charged=8),
    ]
    assert rest.closed
    # Gemini's totalTokens (8) is charged; nothing needs counting.
    assert bill.charges and set(bill.charges) == {8}
    assert bill.count.calls == []


def test_done_is_sent_settled():
    meter = Meter()
    bill = Bill(meter)
    events = chat_events(opened(meter, "Hi"), GeminiStream(meter, ("", "STOP", USAGE)), bill)
    assert parse([next(events)]) == [("delta", {"text": "Hi"})]
    assert bill.charges == []
    assert parse([next(events)]) == [done("STOP", {"inputTokens": 3, "outputTokens": 5}, 8)]
    assert bill.charges == [8]  # before `done` left, not only at close()


def test_done_defaults_to_stop_and_zero_usage():
    meter = Meter()
    bill = Bill(meter)
    events = serve(chat_events(opened(meter, "Hi"), GeminiStream(meter), bill))
    # No usageMetadata at all: the input and the 2 characters sent are counted.
    assert events[-1] == done("STOP", ZERO, charged=INPUT_TOKENS + 2)
    assert set(bill.charges) == {INPUT_TOKENS + 2}


def test_first_chunk_usage_and_finish_are_kept():
    meter = Meter()
    bill = Bill(meter)
    first = opened(meter, "Hi", "MAX_TOKENS", USAGE)
    events = serve(chat_events(first, GeminiStream(meter), bill))
    assert events[-1] == done("MAX_TOKENS", {"inputTokens": 3, "outputTokens": 5}, charged=8)
    assert set(bill.charges) == {8}


def test_text_cut_short_by_safety_is_done_with_safety():
    meter = Meter()
    rest = GeminiStream(meter, ("", "SAFETY"))
    events = serve(chat_events(opened(meter, "Part"), rest, Bill(meter)))
    assert events == [("delta", {"text": "Part"}),
                      done("SAFETY", ZERO, charged=INPUT_TOKENS + 4)]


def test_safety_before_any_text_is_an_error_event():
    meter = Meter()
    bill = Bill(meter)
    rest = GeminiStream(meter, ("", "SAFETY", {"inputTokens": 3, "totalTokens": 3}))
    events = serve(chat_events(opened(meter, ""), rest, bill))
    assert [name for name, _ in events] == ["error"]
    assert events[0][1]["error"]["code"] == "blocked"
    assert bill.charges == [3]  # the slot is freed; Gemini billed the prompt


def test_other_filters_before_any_text_are_blocked_too():
    # upstream.read_chunk treats every finish reason of its FILTERED set as "blocked" when no
    # text came (JSON mode answers 422); the stream must agree, not end with `done`.
    meter = Meter()
    rest = GeminiStream(meter, ("", "PROHIBITED_CONTENT"))
    events = serve(chat_events(opened(meter, ""), rest, Bill(meter)))
    assert [name for name, _ in events] == ["error"]
    assert events[0][1]["error"]["code"] == "blocked"


def test_failure_midway_is_an_error_event_and_the_stream_ends():
    meter = Meter()
    bill = Bill(meter)
    rest = GeminiStream(meter, ("more",), ApiError("timeout"), ("never",))
    first = opened(meter, "Hi", None, {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4})
    events = serve(chat_events(first, rest, bill))
    assert [name for name, _ in events] == ["delta", "delta", "error"]
    assert events[-1][1] == {"error": {"code": "timeout",
                                       "message": ApiError("timeout").message}}
    assert rest.closed and rest.pulled == 2
    assert bill.charges == [3 + len("Himore")]  # input reported + output received, counted


def test_closing_early_closes_the_upstream_stream_then_settles():
    meter = Meter()
    rest = GeminiStream(meter, ("b",), ("c",), ("d", "STOP"))
    seen_closed = []
    bill = Bill(meter, on_settle=lambda: seen_closed.append(rest.closed))
    events = chat_events(opened(meter, "a"), rest, bill)
    assert parse([next(events), next(events)]) == [("delta", {"text": "a"}),
                                                    ("delta", {"text": "b"})]
    assert not rest.closed and bill.charges == []
    events.close()  # the client went away
    assert rest.closed and seen_closed == [True]
    assert rest.pulled == 1
    assert bill.charges == [INPUT_TOKENS + 2]  # the input and "ab", counted
    assert bill.count.calls == [[{"role": "user", "parts": [{"text": CONFIG.system_prompt}]},
                                 {"role": "user", "parts": [{"text": "hi"}]}],
                                [{"role": "model", "parts": [{"text": "ab"}]}]]


def test_closing_early_keeps_usage_gemini_already_reported():
    meter = Meter()
    bill = Bill(meter)
    thinking = {"inputTokens": 30, "outputTokens": 2, "totalTokens": 40}
    rest = GeminiStream(meter, ("bc", None, thinking), ("d", "STOP"))
    events = chat_events(opened(meter, "a"), rest, bill)
    next(events), next(events)
    events.close()
    assert bill.charges == [40]  # 30 + max(3 counted, 40 - 30 reported)


def test_a_failing_close_of_the_upstream_still_settles():
    meter = Meter()
    bill = Bill(meter)
    rest = GeminiStream(meter)
    rest.close = lambda: (_ for _ in ()).throw(RuntimeError("socket"))  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        chat_events(opened(meter, "a", "STOP", USAGE), rest, bill).close()
    assert bill.charges == [8]


# --- how the stream ended, for the request log (core.http reads `final_status` at its end) -------

def test_final_status_is_200_after_done():
    meter = Meter()
    events = chat_events(opened(meter, "Hi"), GeminiStream(meter, ("", "STOP", USAGE)), Bill(meter))
    assert events.final_status is None  # not ended yet
    serve(events)
    assert events.final_status == 200


def test_final_status_is_the_error_s_after_an_error_event():
    meter = Meter()
    events = chat_events(opened(meter, "Hi"), GeminiStream(meter, ApiError("timeout")), Bill(meter))
    assert serve(events)[-1][0] == "error"
    assert events.final_status == 504


def test_final_status_stays_unset_when_the_client_leaves():
    meter = Meter()
    events = chat_events(opened(meter, "Hi"), GeminiStream(meter, ("more",)), Bill(meter))
    next(events)
    events.close()
    assert events.final_status is None
