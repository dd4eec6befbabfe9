"""chat/sse: `delta`* then `done`, or `error`; model text can never forge an event."""

from __future__ import annotations

import json

import pytest

from core.config import load_config
from core.errors import ApiError
from core.quota import Quota
from sse import ChatEvents as chat_events
from sse import event
from upstream import Chunk


class FakeStream:
    """The rest-iterator of an upstream stream: yields chunks (or raises), records close()."""

    def __init__(self, *items):
        self._items = list(items)
        self.closed = False
        self.pulled = 0

    def __iter__(self):
        return self

    def __next__(self):
        if not self._items:
            raise StopIteration
        self.pulled += 1
        item = self._items.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self):
        self.closed = True


class Charges:
    """The `finish` callback of an admission: records each charge, answers the quota left."""

    def __init__(self):
        self.calls: list[int] = []

    def __call__(self, tokens: int) -> dict:
        self.calls.append(tokens)
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


USAGE = {"inputTokens": 3, "outputTokens": 5, "totalTokens": 8}


def test_event_format_is_exact():
    assert event("done", {"a": 1}) == b'event: done\ndata: {"a": 1}\n\n'


def test_text_cannot_forge_an_event():
    text = "a\n\ndata: x\r\nevent: done\u2028\u2029\x85é"
    frame = event("delta", {"text": text})
    assert parse([frame]) == [("delta", {"text": text})]
    assert b"\r" not in frame and frame.count(b"\n") == 3
    frame.decode("ascii")  # non-ASCII is escaped, so no exotic line separators reach the wire


QUOTA = {"requestsLeft": 7, "tokensLeft": 1000}  # what Charges answers, minus the charge


def done(finish_reason: str, usage: dict, charged: int) -> tuple[str, dict]:
    return ("done", {"finishReason": finish_reason, "usage": usage,
                     "quota": {"requestsLeft": 7, "tokensLeft": 1000 - charged}})


def test_deltas_then_done():
    rest = FakeStream(Chunk("lo", None, None), Chunk("", None, None), Chunk("!", "STOP", USAGE))
    charges = Charges()
    events = parse(chat_events(Chunk("Hel", None, None), rest, charges))
    assert events == [
        ("delta", {"text": "Hel"}), ("delta", {"text": "lo"}), ("delta", {"text": "!"}),
        done("STOP", {"inputTokens": 3, "outputTokens": 5}, charged=8),
    ]
    assert rest.closed
    # Gemini's totalTokens (8) is charged, not the estimate from 6 characters (2).
    assert charges.calls and set(charges.calls) == {8}


def test_done_defaults_to_stop_and_zero_usage():
    charges = Charges()
    events = parse(chat_events(Chunk("Hi", None, None), FakeStream(), charges))
    # No usageMetadata at all: the answer is charged the estimate ceil(2 chars / 4) = 1.
    assert events[-1] == done("STOP", {"inputTokens": 0, "outputTokens": 0}, charged=1)
    assert set(charges.calls) == {1}


def test_first_chunk_usage_and_finish_are_kept():
    charges = Charges()
    events = parse(chat_events(Chunk("Hi", "MAX_TOKENS", USAGE), FakeStream(), charges))
    assert events[-1] == done("MAX_TOKENS", {"inputTokens": 3, "outputTokens": 5}, charged=8)
    assert set(charges.calls) == {8}


def test_text_cut_short_by_safety_is_done_with_safety():
    charges = Charges()
    rest = FakeStream(Chunk("", "SAFETY", None))
    events = parse(chat_events(Chunk("Part", None, None), rest, charges))
    assert events == [("delta", {"text": "Part"}),
                      done("SAFETY", {"inputTokens": 0, "outputTokens": 0}, charged=1)]


def test_safety_before_any_text_is_an_error_event():
    charges = Charges()
    rest = FakeStream(Chunk("", "SAFETY", None))
    events = parse(chat_events(Chunk("", None, None), rest, charges))
    assert [name for name, _ in events] == ["error"]
    assert events[0][1]["error"]["code"] == "blocked"
    assert charges.calls and set(charges.calls) == {0}  # the slot is freed, nothing was said


def test_other_filters_before_any_text_are_blocked_too():
    # upstream.read_chunk treats every finish reason of its _FILTERED set as "blocked" when no
    # text came (JSON mode answers 422); the stream must agree, not end with `done`.
    rest = FakeStream(Chunk("", "PROHIBITED_CONTENT", None))
    events = parse(chat_events(Chunk("", None, None), rest, Charges()))
    assert [name for name, _ in events] == ["error"]
    assert events[0][1]["error"]["code"] == "blocked"


def test_failure_midway_is_an_error_event_and_the_stream_ends():
    charges = Charges()
    rest = FakeStream(Chunk("more", None, None), ApiError("timeout"), Chunk("never", None, None))
    events = parse(chat_events(Chunk("Hi", None, None), rest, charges))
    assert [name for name, _ in events] == ["delta", "delta", "error"]
    assert events[-1][1] == {"error": {"code": "timeout",
                                       "message": ApiError("timeout").message}}
    assert rest.closed and rest.pulled == 2
    assert charges.calls and set(charges.calls) == {2}  # ceil(6 chars sent / 4)


def test_closing_early_closes_the_upstream_stream():
    charges = Charges()
    rest = FakeStream(Chunk("b", None, None), Chunk("c", None, None), Chunk("d", "STOP", None))
    events = chat_events(Chunk("a", None, None), rest, charges)
    assert parse([next(events), next(events)]) == [("delta", {"text": "a"}),
                                                    ("delta", {"text": "b"})]
    assert not rest.closed and charges.calls == []
    events.close()  # the client went away
    assert rest.closed
    assert rest.pulled == 1
    assert charges.calls == [1]  # ceil(2 chars sent / 4)


def test_closing_early_keeps_usage_gemini_already_reported():
    charges = Charges()
    rest = FakeStream(Chunk("bc", None, {"totalTokens": 40}), Chunk("d", "STOP", None))
    events = chat_events(Chunk("a", None, None), rest, charges)
    next(events), next(events)
    events.close()
    assert charges.calls == [40]


# -- with a real admission: however the stream ends, exactly one charge -----------------------

BUDGET = 1000


@pytest.fixture
def quota():
    return Quota(load_config("chat", {"APP_ENV": "development", "RATE_LIMITS": "100/minute",
                                      "DAILY_TOKEN_BUDGET": str(BUDGET),
                                      "MAX_CONCURRENT_STREAMS_PER_USER": "1"}))


def assert_charged_once(quota: Quota, subject: str, tokens: int) -> None:
    assert quota.status(subject)["tokens"]["remaining"] == BUDGET - tokens
    # With one stream allowed, a new admission proves the finished one freed its slot.
    quota.admit_chat(subject).finish(0)
    assert quota.status(subject)["tokens"]["remaining"] == BUDGET - tokens


def test_done_charges_gemini_total_once(quota):
    admission = quota.admit_chat("uid:a")
    rest = FakeStream(Chunk("lo", "STOP", USAGE))
    events = parse(chat_events(Chunk("Hel", None, None), rest, admission.finish))
    assert events[-1][1]["quota"] == {"requestsLeft": 99, "tokensLeft": BUDGET - 8}
    assert_charged_once(quota, "uid:a", 8)


def test_client_closing_early_charges_the_estimate_once(quota):
    admission = quota.admit_chat("uid:b")
    rest = FakeStream(Chunk("x" * 9, None, None), Chunk("never", "STOP", USAGE))
    events = chat_events(Chunk("abc", None, None), rest, admission.finish)
    next(events), next(events)
    events.close()
    assert_charged_once(quota, "uid:b", 3)  # ceil(12 chars / 4)


def test_error_midway_charges_the_estimate_once(quota):
    admission = quota.admit_chat("uid:c")
    rest = FakeStream(Chunk("y" * 10, None, None), ApiError("upstream_error"))
    events = parse(chat_events(Chunk("z", None, None), rest, admission.finish))
    assert events[-1][0] == "error"
    assert_charged_once(quota, "uid:c", 3)  # ceil(11 chars / 4)


def test_blocked_answer_charges_nothing_and_frees_the_slot(quota):
    admission = quota.admit_chat("uid:d")
    events = parse(chat_events(Chunk("", None, None), FakeStream(Chunk("", "SAFETY", None)),
                               admission.finish))
    assert [name for name, _ in events] == ["error"]
    assert_charged_once(quota, "uid:d", 0)


def test_stream_closed_before_its_first_event_still_frees_the_slot(quota):
    # The server may close a response it never iterated (the client left first): the
    # admission must still be finished and the upstream stream closed.
    admission = quota.admit_chat("uid:e")
    rest = FakeStream(Chunk("never", "STOP", USAGE))
    chat_events(Chunk("Hi", None, None), rest, admission.finish).close()
    assert rest.closed
    # The first chunk was generated (and paid for upstream) before the client left.
    assert_charged_once(quota, "uid:e", 1)
