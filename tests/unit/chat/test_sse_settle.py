"""chat/sse with a real billing.Bill over core.quota: the reservation holds while the answer runs,
and however the stream ends it is replaced exactly once by the charge and the stream slot is
freed."""

from __future__ import annotations

import pytest

from billing import Bill
from core.config import load_config
from core.errors import ApiError
from core.quota import Quota
from sse import ChatEvents as chat_events
from tests.helpers import GeminiStream, opened

from .test_sse import CONFIG, INPUT_TOKENS, TURN, USAGE, Count, serve

BUDGET = 1000
RESERVE = 300


@pytest.fixture
def quota():
    return Quota(load_config("chat", {"APP_ENV": "development", "RATE_LIMITS": "100/minute",
                                      "DAILY_TOKEN_BUDGET": str(BUDGET),
                                      "MAX_CONCURRENT_STREAMS_PER_USER": "1"}))


class Answer:
    """One admitted answer as main.answer opens it: a Bill of RESERVE tokens, handed to its
    stream."""

    def __init__(self, quota: Quota, subject: str, count: Count | None = None):
        self.count = count or Count()
        self.bill = Bill(CONFIG, quota, quota.admit_chat(subject, RESERVE), TURN, self.count)
        self.meter = self.bill.meter

    def settle(self) -> dict:
        return self.bill.settle()

    def events(self, first: tuple, *rest) -> tuple[chat_events, GeminiStream]:
        stream = GeminiStream(self.meter, *rest)
        return chat_events(opened(self.meter, *first), stream, self.bill.hand_over()), stream


def remaining(quota: Quota, subject: str) -> int:
    return quota.status(subject)["tokens"]["remaining"]


def assert_charged_once(quota: Quota, subject: str, tokens: int) -> None:
    assert remaining(quota, subject) == BUDGET - tokens
    # With one stream allowed, a new admission proves the finished one freed its slot.
    quota.settle_chat(quota.admit_chat(subject, RESERVE), 0)
    assert remaining(quota, subject) == BUDGET - tokens


def test_done_charges_gemini_total_once(quota):
    answer = Answer(quota, "uid:a")
    events, _ = answer.events(("Hel",), ("lo", "STOP", USAGE))
    assert remaining(quota, "uid:a") == BUDGET - RESERVE  # reserved while it runs
    frames = serve(events)
    assert frames[-1][1]["quota"] == {"requestsLeft": 99, "tokensLeft": BUDGET - 8}
    assert_charged_once(quota, "uid:a", 8)


def test_client_closing_early_charges_the_count_once(quota):
    answer = Answer(quota, "uid:b")
    events, _ = answer.events(("abc",), ("x" * 9,), ("never", "STOP", USAGE))
    next(events), next(events)
    events.close()
    events.close()  # a second close changes nothing
    assert_charged_once(quota, "uid:b", INPUT_TOKENS + 12)


def test_error_midway_charges_the_count_once(quota):
    answer = Answer(quota, "uid:c")
    events, _ = answer.events(("z",), ("y" * 10,), ApiError("upstream_error"))
    assert serve(events)[-1][0] == "error"
    assert_charged_once(quota, "uid:c", INPUT_TOKENS + 11)


def test_blocked_answer_charges_the_reported_prompt_and_frees_the_slot(quota):
    answer = Answer(quota, "uid:d")
    events, _ = answer.events(("",), ("", "SAFETY", {"inputTokens": 4, "totalTokens": 4}))
    assert [name for name, _ in serve(events)] == ["error"]
    assert_charged_once(quota, "uid:d", 4)


def test_stream_closed_before_its_first_event_still_settles(quota):
    # The server may close a response it never iterated (the client left first): the
    # admission must still be settled and the upstream stream closed.
    answer = Answer(quota, "uid:e")
    events, rest = answer.events(("Hi", None, {"inputTokens": 5, "totalTokens": 6}),
                                 ("never", "STOP", USAGE))
    events.close()
    assert rest.closed and rest.pulled == 0
    # The first chunk was generated (and billed upstream) before the client left: 5 + "Hi".
    assert_charged_once(quota, "uid:e", 5 + 2)


def test_a_failed_count_keeps_the_whole_reservation_and_frees_the_slot(quota):
    answer = Answer(quota, "uid:f", Count(TimeoutError("countTokens")))
    events, _ = answer.events(("Hi",), ("more",))
    next(events)
    events.close()
    assert_charged_once(quota, "uid:f", RESERVE)


def test_refused_before_gemini_answered_gives_the_whole_reservation_back(quota):
    answer = Answer(quota, "uid:g")  # e.g. every attempt refused with a 503: the meter is empty
    assert answer.settle() == {"requestsLeft": 99, "tokensLeft": BUDGET}
    assert answer.count.calls == []
    assert_charged_once(quota, "uid:g", 0)
