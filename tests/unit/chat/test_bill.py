"""chat/billing.Bill over a real core.quota (memory://): the one owner of an answer's charge.
Reserve first, settle exactly once (however often and from however many threads it is asked),
settle when the work fails, leave it to the stream when handed over; a refused request reserves
nothing and makes Gemini count nothing. Gemini's two counting calls are the only fake."""

from __future__ import annotations

import threading

import pytest

from attachments import Attachment
from billing import Bill, reservation
from core.config import load_config
from core.errors import ApiError
from core.quota import Quota
from tests.media_files import pdf
from turn import Turn

CONFIG = load_config("chat", {"APP_ENV": "development", "DAILY_TOKEN_BUDGET": "1000",
                              "RATE_LIMITS": "2/minute", "MAX_OUTPUT_TOKENS": "100",
                              "MAX_CONCURRENT_STREAMS_PER_USER": "1"})
TURN = Turn(message="hi", history=())
RESERVED = reservation(TURN, CONFIG)
USAGE = {"inputTokens": 2, "outputTokens": 3, "totalTokens": 5}
COUNTED = 7  # countTokens of the request
MEDIA = 300  # countTokens of one PDF


class Gemini:
    """Gemini's counting calls as Bill.open binds them, each recorded."""

    def __init__(self):
        self.counted: list[list[dict]] = []
        self.media: list[Attachment] = []

    def count_tokens(self, contents: list[dict], model: str | None = None) -> int:
        self.counted.append(contents)
        return len(contents[0]["parts"][0]["text"]) if contents[0]["role"] == "model" else COUNTED

    def count_media(self, attachment: Attachment, model: str | None = None) -> int:
        self.media.append(attachment)
        return MEDIA


@pytest.fixture
def quota() -> Quota:
    return Quota(CONFIG)


def left(quota: Quota) -> int:
    return quota.status("uid:a")["tokens"]["remaining"]


def test_open_reserves_the_worst_case_and_settle_replaces_it_by_the_bill(quota):
    gemini = Gemini()
    with Bill.open(CONFIG, quota, gemini, "uid:a", TURN) as bill:
        assert left(quota) == 1000 - RESERVED  # before Gemini runs
        bill.meter.record(USAGE, "Hello", final=True)
        assert bill.settle() == {"requestsLeft": 1, "tokensLeft": 1000 - 5}
    assert left(quota) == 1000 - 5
    assert gemini.counted == []  # Gemini's own total: nothing to count


def test_settle_is_once_however_often_it_is_asked(quota):
    gemini = Gemini()
    with Bill.open(CONFIG, quota, gemini, "uid:a", TURN) as bill:
        bill.meter.record(None, "Hello", final=False)  # no usage: counted
        answers = [bill.settle() for _ in range(3)]
    assert answers == [{"requestsLeft": 1, "tokensLeft": 1000 - COUNTED - 5}] * 3
    assert len(gemini.counted) == 2  # the request and "Hello", once each
    assert left(quota) == 1000 - COUNTED - 5
    Bill.open(CONFIG, quota, gemini, "uid:a", TURN).settle()  # its one stream slot was freed


def test_concurrent_settles_charge_once(quota):
    gemini = Gemini()
    bill = Bill.open(CONFIG, quota, gemini, "uid:a", TURN)
    bill.meter.record(None, "Hi", final=False)
    start = threading.Barrier(8)

    def settle():
        start.wait()
        bill.settle()

    threads = [threading.Thread(target=settle) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(gemini.counted) == 2 and left(quota) == 1000 - COUNTED - 2


def test_an_exception_in_the_block_settles_what_gemini_accepted(quota):
    gemini = Gemini()
    with pytest.raises(ApiError):
        with Bill.open(CONFIG, quota, gemini, "uid:a", TURN):
            raise ApiError("upstream_error")  # refused with a status: nothing accepted
    assert left(quota) == 1000  # the whole reservation given back
    assert gemini.counted == []
    Bill.open(CONFIG, quota, gemini, "uid:a", TURN).settle()  # and the slot


def test_a_call_that_may_have_run_keeps_its_input_and_longest_answer(quota):
    with pytest.raises(ApiError):
        with Bill.open(CONFIG, quota, Gemini(), "uid:a", TURN) as bill:
            bill.meter.unknown = True  # a read timeout after the request was sent
            raise ApiError("timeout")
    assert left(quota) == 1000 - COUNTED - 100


def test_a_handed_over_bill_is_settled_by_the_stream_not_the_block(quota):
    with Bill.open(CONFIG, quota, Gemini(), "uid:a", TURN) as bill:
        stream = bill.hand_over()
    assert left(quota) == 1000 - RESERVED  # the answer still runs
    stream.meter.record(USAGE, "Hello", final=True)
    stream.settle()  # its `done`, or its close()
    assert left(quota) == 1000 - 5


def test_a_refused_request_reserves_nothing_and_gemini_counts_no_file(quota):
    gemini = Gemini()
    for _ in range(2):
        Bill.open(CONFIG, quota, gemini, "uid:a", TURN).settle()
    with_pdf = Turn(message="hi", history=(),
                    attachments=(Attachment("a.pdf", "application/pdf", pdf()),))
    with pytest.raises(ApiError) as refused:
        Bill.open(CONFIG, quota, gemini, "uid:a", with_pdf)
    assert refused.value.code == "rate_limited"
    assert gemini.media == []  # the precheck turned it away before countTokens
    assert left(quota) == 1000


def test_a_file_without_a_published_rule_is_reserved_by_gemini_s_count(quota):
    gemini = Gemini()
    with_pdf = Turn(message="hi", history=(),
                    attachments=(Attachment("a.pdf", "application/pdf", pdf()),))
    bill = Bill.open(CONFIG, quota, gemini, "uid:a", with_pdf)
    assert len(gemini.media) == 1
    assert left(quota) == 1000 - reservation(with_pdf, CONFIG, lambda _: MEDIA)
    bill.settle()
