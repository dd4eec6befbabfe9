"""The staged chat function and issue #8: the reservation reaches the quota before Gemini is called,
and every way an answer ends settles it to the charge billing computes (Gemini replaced by a stub)."""

from __future__ import annotations

import json
import sys

import pytest
from werkzeug.test import EnvironBuilder

from billing import reservation
from core import log
from core.config import load_config
from core.errors import ApiError
from turn import Turn

from .test_main import COUNTED, ORIGIN, SSE, answers, assert_json_error, post, stub_gemini

SYSTEM = "Be brief."
ENV = {"APP_ENV": "development", "ALLOWED_ORIGINS": ORIGIN, "FIREBASE_PROJECT_ID": "demo-test",
       "GEMINI_API_KEY": "x", "REQUIRE_AUTH": "false", "SYSTEM_PROMPT": SYSTEM,
       "MAX_OUTPUT_TOKENS": "100"}
# What {"message": "hi"} reserves: every input byte and a few tokens per turn, plus 100.
RESERVED = reservation(Turn(message="hi", history=()), load_config("chat", ENV))
BUDGET = 200_000
INPUT = [{"role": "user", "parts": [{"text": SYSTEM}]}, {"role": "user", "parts": [{"text": "hi"}]}]


def model(text: str) -> list[dict]:
    return [{"role": "model", "parts": [{"text": text}]}]


def counts(calls: list) -> list:
    return [rest[0] for kind, *rest in calls if kind == "count"]


def remaining(main, calls: list) -> int:
    return main.QUOTA.status(answers(calls)[0][2])["tokens"]["remaining"]


@pytest.fixture(scope="module")
def chat(staged_client):
    return staged_client("chat", **ENV), sys.modules["main"]


@pytest.fixture(scope="module")
def budgeted(staged_client):
    """A daily budget of exactly one reservation."""
    return staged_client("chat", **ENV, DAILY_TOKEN_BUDGET=str(RESERVED)), sys.modules["main"]


def test_the_reservation_reaches_the_quota_before_gemini_runs(budgeted, monkeypatch):
    client, main = budgeted
    assert RESERVED == len(SYSTEM) + len("hi") + 2 * 8 + 100
    calls = stub_gemini(main, monkeypatch)
    first = post(client, {"message": "hi"}, buffered=False)
    assert first.status_code == 200
    assert remaining(main, calls) == 0  # the open answer holds its whole reservation
    second = post(client, {"message": "hi"})
    assert_json_error(second, 429, "quota_exceeded")
    assert len(answers(calls)) == 1  # the refused request never reached the model
    assert first.get_data().endswith(
        b'"quota": {"requestsLeft": 29, "tokensLeft": %d}}\n\n' % (RESERVED - 5))
    assert remaining(main, calls) == RESERVED - 5  # settled: the reservation became 5
    assert post(client, {"message": "hi"}).status_code == 200
    assert counts(calls) == []


def open_unread(client, body: dict):
    """What the server does when the client left before the first byte: call the app, then
    close the body it returned without iterating it (a test client would read one event)."""
    environ = EnvironBuilder(path="/api/chat", method="POST", data=json.dumps(body),
                             content_type="application/json", headers=SSE).get_environ()
    status = []
    body_iterable = client.application(environ, lambda line, headers, exc=None: status.append(line))
    return status, body_iterable


@pytest.mark.parametrize("first, charged, counted", [
    (("Hel", None, {"inputTokens": 2, "outputTokens": 0, "totalTokens": 2}), 2 + 3,
     [model("Hel")]),
    (("Hel",), COUNTED + 3, [INPUT, model("Hel")]),
], ids=["usage_seen", "nothing_reported"])
def test_a_client_leaving_before_the_first_event_still_settles(chat, monkeypatch, first, charged,
                                                               counted):
    client, main = chat
    calls = stub_gemini(main, monkeypatch, first=first)
    status, body = open_unread(client, {"message": "hi"})
    assert status == ["200 OK"]
    assert remaining(main, calls) == BUDGET - RESERVED
    body.close()  # not one byte was sent
    ((_, rest),) = [call for call in calls if call[0] == "rest"]
    assert rest.closed
    assert remaining(main, calls) == BUDGET - charged
    assert counts(calls) == counted
    # Its stream slot is free: two answers (the limit) can be open at once again.
    more = [open_unread(client, {"message": "hi"}) for _ in range(2)]
    assert [line for line, _ in more] == [["200 OK"], ["200 OK"]]
    for _, unread in more:
        unread.close()


def test_the_json_quota_is_the_settled_charge(chat, monkeypatch):
    client, main = chat
    calls = stub_gemini(main, monkeypatch, reply=("Hello", "STOP", None))  # no usageMetadata
    response = post(client, {"message": "hi"}, headers={"Origin": ORIGIN})
    assert response.get_json() == {
        "reply": "Hello", "finishReason": "STOP", "usage": {"inputTokens": 0, "outputTokens": 0},
        "quota": {"requestsLeft": 29, "tokensLeft": BUDGET - COUNTED - 5}}
    assert remaining(main, calls) == BUDGET - COUNTED - 5
    assert counts(calls) == [INPUT, model("Hello")]


def test_the_json_quota_is_gemini_total_with_thinking(chat, monkeypatch):
    client, main = chat
    thinking = {"inputTokens": 2, "outputTokens": 3, "totalTokens": 40}
    calls = stub_gemini(main, monkeypatch, reply=("Hello", "STOP", thinking))
    response = post(client, {"message": "hi"}, headers={"Origin": ORIGIN})
    assert response.get_json()["quota"] == {"requestsLeft": 29, "tokensLeft": BUDGET - 40}
    assert remaining(main, calls) == BUDGET - 40
    assert counts(calls) == []


@pytest.mark.parametrize("mode", ["complete", "open_stream"])
def test_an_unknown_outcome_charges_the_input_and_the_longest_answer(chat, monkeypatch, mode):
    client, main = chat
    calls = stub_gemini(main, monkeypatch)

    def timed_out(turn, meter):
        calls.append(("stream", turn, log.subject()))
        meter.unknown = True  # e.g. a ReadTimeout after the request was sent
        raise ApiError("timeout", reason="deadline")

    monkeypatch.setattr(main.GEMINI, mode, timed_out)
    headers = {"Origin": ORIGIN, **({"Accept": "text/event-stream"} if mode != "complete" else {})}
    assert_json_error(post(client, {"message": "hi"}, headers=headers), 504, "timeout")
    assert remaining(main, calls) == BUDGET - COUNTED - 100
    assert counts(calls) == [INPUT]


def test_a_failed_count_keeps_the_whole_reservation(chat, monkeypatch):
    client, main = chat
    calls = stub_gemini(main, monkeypatch, first=("Hel",), rest=(("lo", "STOP"),))

    def count_fails(contents, model=None):
        raise TimeoutError("countTokens")

    monkeypatch.setattr(main.GEMINI, "count_tokens", count_fails)
    data = post(client, {"message": "hi"}).get_data()
    assert data.endswith(b'"tokensLeft": %d}}\n\n' % (BUDGET - RESERVED))
    assert remaining(main, calls) == BUDGET - RESERVED


def test_a_stream_ending_without_usage_is_counted_once(chat, monkeypatch):
    # The stream settles its bill before `done` and again when the server closes the body; the
    # Bill settles once: the quota is charged once and Gemini is not asked to count again.
    client, main = chat
    calls = stub_gemini(main, monkeypatch, first=("Hel",), rest=(("lo", "STOP"),))
    response = post(client, {"message": "hi"})
    assert response.get_data().endswith(b'"tokensLeft": %d}}\n\n' % (BUDGET - COUNTED - 5))
    response.close()  # as every WSGI server does once the body was sent
    assert remaining(main, calls) == BUDGET - COUNTED - 5
    assert counts(calls) == [INPUT, model("Hello")]


# --- issue #10: the chosen model reaches Gemini and the budgets count its weight ---------------

MODELS = "gemini-2.5-flash:1,gemini-2.5-flash-lite:0.3,gemini-2.5-pro:8"


@pytest.fixture(scope="module")
def models(staged_client):
    return (staged_client("chat", **ENV, GEMINI_MODELS=MODELS, RATE_LIMITS="1000/minute",
                          DAILY_TOKEN_BUDGET="400"),
            sys.modules["main"])


@pytest.mark.parametrize("model, weight", [(None, 1), ("gemini-2.5-flash", 1),
                                           ("gemini-2.5-pro", 8)])
def test_the_json_answer_charges_tokens_times_the_weight(models, monkeypatch, model, weight):
    client, main = models
    calls = stub_gemini(main, monkeypatch)  # totalTokens 5
    body = {"message": "hi", **({"model": model} if model else {}), "instructions": "Be terse."}
    response = post(client, body, headers={"Origin": ORIGIN})
    assert response.get_json() == {
        "reply": "Hello", "finishReason": "STOP", "usage": {"inputTokens": 2, "outputTokens": 3},
        "quota": {"requestsLeft": 999, "tokensLeft": 400 - 5 * weight}}
    ((_, turn, _),) = answers(calls)
    assert (turn.model, turn.instructions) == (model, "Be terse.")


def test_a_counted_stream_counts_with_the_chosen_model(models, monkeypatch):
    client, main = models
    calls = stub_gemini(main, monkeypatch, first=("Hel",), rest=(("lo", "STOP"),))  # no usage
    data = post(client, {"message": "hi", "model": "gemini-2.5-flash-lite"}).get_data()
    # countTokens: COUNTED for the request, 5 for "Hello"; (7 + 5) × 0.3 rounded up = 4
    assert data.endswith(b'"tokensLeft": %d}}\n\n' % (400 - 4))
    assert [call[2] for call in calls if call[0] == "count"] == ["gemini-2.5-flash-lite"] * 2


def test_a_weight_8_model_exhausts_the_budget_8_times_faster(models, monkeypatch):
    client, main = models
    for model, expected in (("gemini-2.5-flash", 80), ("gemini-2.5-pro", 10)):
        calls = stub_gemini(main, monkeypatch)  # fresh limits; 5 tokens an answer
        statuses = [post(client, {"message": "hi", "model": model},
                         headers={"Origin": ORIGIN}).status_code for _ in range(expected + 1)]
        assert statuses == [200] * expected + [429], model
        assert len(answers(calls)) == expected


def test_a_model_not_on_the_list_is_400_and_reserves_nothing(models, monkeypatch):
    client, main = models
    calls = stub_gemini(main, monkeypatch)
    response = post(client, {"message": "hi", "model": "gemini-ultra"})
    assert_json_error(response, 400, "invalid_argument")
    assert "gemini-ultra" not in response.get_data(as_text=True)
    assert answers(calls) == []
