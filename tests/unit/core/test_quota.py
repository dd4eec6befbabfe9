"""core.quota over memory://: request rates, daily token budgets, concurrent streams, refusals
logged without content, and store failures (never a 500, never unlimited, never a fresh
budget)."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import threading
import time
import types

import pytest

import core.quota as quota_module
import core.quota_keys as quota_keys
from core.quota_keys import GLOBAL_BUDGET_SHARDS
from core.config import ConfigError, load_config
from core.errors import ApiError
from core.quota import Quota


def make_quota(**env: str) -> Quota:
    return Quota(load_config("chat", {"APP_ENV": "development", **env}))


def refusal(call, *args) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args)
    return caught.value


def seconds_to_utc_midnight() -> float:
    return 86400 - time.time() % 86400


def admit_and_finish(quota: Quota, subject: str, times: int) -> None:
    for _ in range(times):
        quota.settle_chat(quota.admit_chat(subject, 0), 0)


def test_31st_request_in_a_minute_is_rate_limited_with_an_honest_retry_after():
    quota = make_quota(RATE_LIMITS="30/minute")
    admit_and_finish(quota, "uid:a", 30)
    error = refusal(quota.admit_chat, "uid:a", 0)
    assert (error.code, error.status) == ("rate_limited", 429)
    assert 1 <= error.retry_after <= 60
    assert error.headers()["Retry-After"] == str(error.retry_after)


def test_retry_after_never_exceeds_the_window_when_a_store_rounds_expiry_up():
    # Redis reports a key's TTL in whole (rounded) seconds: the window's end can look later
    # than it is. Retry-After stays within one window.
    class RoundingStore:
        def incr_many(self, ops):
            return [(1000, time.time() + expiry + 0.7) for _, expiry, _ in ops]

        def add_many(self, ops):
            pass

    quota = make_quota(RATE_LIMITS="30/minute")
    quota._store = RoundingStore()
    error = refusal(quota.admit_chat, "uid:r", 0)
    assert error.code == "rate_limited" and error.retry_after == 60


def test_default_limits_are_the_issue_s():
    quota = make_quota()
    assert [str(item) for item in quota.chat_items] == [
        "30 per 1 minute", "50 per 1 hour", "200 per 1 day"]
    assert quota.admit_chat("uid:a", 0).requests_left == 29  # the tightest window decides


def test_subjects_do_not_share_a_limit():
    quota = make_quota(RATE_LIMITS="2/minute")
    admit_and_finish(quota, "uid:a", 2)
    assert refusal(quota.admit_chat, "uid:a", 0).code == "rate_limited"
    admit_and_finish(quota, "uid:b", 2)  # b's first two pass although a is refused
    assert refusal(quota.admit_chat, "uid:b", 0).code == "rate_limited"


def test_longest_full_window_decides_retry_after():
    quota = make_quota(RATE_LIMITS="5/second;2/hour")
    admit_and_finish(quota, "uid:a", 2)
    error = refusal(quota.admit_chat, "uid:a", 0)
    assert error.reason == "rate:2 per 1 hour"
    assert 3500 <= error.retry_after <= 3600


def test_user_budget_used_up_is_quota_exceeded_until_utc_midnight():
    quota = make_quota(DAILY_TOKEN_BUDGET="100")
    assert quota.settle_chat(quota.admit_chat("uid:a", 0), 60) == {"requestsLeft": 29,
                                                                    "tokensLeft": 40}
    assert quota.settle_chat(quota.admit_chat("uid:a", 0), 40)["tokensLeft"] == 0
    error = refusal(quota.admit_chat, "uid:a", 0)
    assert (error.code, error.status, error.reason) == ("quota_exceeded", 429,
                                                        "user_token_budget")
    assert abs(error.retry_after - seconds_to_utc_midnight()) <= 2
    quota.settle_chat(quota.admit_chat("uid:other", 0), 0)  # another user's budget is untouched


def test_global_budget_stops_another_user():
    quota = make_quota(DAILY_TOKEN_BUDGET="1000", GLOBAL_DAILY_TOKEN_BUDGET="150")
    quota.settle_chat(quota.admit_chat("uid:a", 0), 150)
    error = refusal(quota.admit_chat, "uid:b", 0)
    assert (error.code, error.reason) == ("quota_exceeded", "global_token_budget")
    assert abs(error.retry_after - seconds_to_utc_midnight()) <= 2


def test_third_concurrent_stream_is_refused_and_finishing_one_frees_a_slot():
    quota = make_quota()
    first, _second = quota.admit_chat("uid:a", 0), quota.admit_chat("uid:a", 0)
    error = refusal(quota.admit_chat, "uid:a", 0)
    assert (error.code, error.reason) == ("rate_limited", "concurrent_streams")
    assert error.retry_after >= 1
    quota.admit_chat("uid:b", 0)  # streams are per identity
    quota.settle_chat(first, 10)
    third = quota.admit_chat("uid:a", 0)  # the refused attempt did not keep a slot
    assert refusal(quota.admit_chat, "uid:a", 0).reason == "concurrent_streams"
    quota.settle_chat(third, 0)


def test_refused_admissions_hold_no_stream_slot():
    quota = make_quota(RATE_LIMITS="9/minute", MAX_CONCURRENT_STREAMS_PER_USER="1",
                       DAILY_TOKEN_BUDGET="10")
    held = quota.admit_chat("uid:a", 0)
    for _ in range(3):
        assert refusal(quota.admit_chat, "uid:a", 0).reason == "concurrent_streams"
    quota.settle_chat(held, 0)
    quota.settle_chat(quota.admit_chat("uid:a", 0), 10)  # three refusals left no slot behind
    assert refusal(quota.admit_chat, "uid:a", 0).reason == "user_token_budget"
    # ...nor does a budget refusal: with the budget raised, one stream opens at once.
    quota._config = dataclasses.replace(quota._config, daily_token_budget=99)
    quota.admit_chat("uid:a", 0)


def test_status_shows_requests_and_tokens_decreasing_and_reads_only():
    quota = make_quota(DAILY_TOKEN_BUDGET="500")
    fresh = quota.status("uid:a")
    assert [row["remaining"] for row in fresh["requests"]] == [30, 50, 200]
    assert [row["limit"] for row in fresh["requests"]] == [
        "30 per 1 minute", "50 per 1 hour", "200 per 1 day"]
    assert fresh["tokens"]["dailyLimit"] == 500 and fresh["tokens"]["remaining"] == 500
    assert abs(fresh["tokens"]["resetSeconds"] - seconds_to_utc_midnight()) <= 2
    again = quota.status("uid:a")  # reading does not count
    assert [row["remaining"] for row in again["requests"]] == [30, 50, 200]
    assert again["tokens"]["remaining"] == 500
    quota.settle_chat(quota.admit_chat("uid:a", 0), 120)
    quota.settle_chat(quota.admit_chat("uid:a", 0), 30)
    after = quota.status("uid:a")
    assert [row["remaining"] for row in after["requests"]] == [28, 48, 198]
    assert [1 <= row["resetSeconds"] <= limit for row, limit in
            zip(after["requests"], (60, 3600, 86400))] == [True] * 3
    assert after["tokens"]["remaining"] == 350


def test_settling_twice_charges_once():
    quota = make_quota(DAILY_TOKEN_BUDGET="500", MAX_CONCURRENT_STREAMS_PER_USER="1")
    admission = quota.admit_chat("uid:a", 0)
    quota.settle_chat(admission, 100)
    quota.settle_chat(admission, 100)
    assert quota.status("uid:a")["tokens"]["remaining"] == 400
    other = quota.admit_chat("uid:a", 0)  # the slot was freed once, not twice (-1 would allow 2)
    assert refusal(quota.admit_chat, "uid:a", 0).reason == "concurrent_streams"
    quota.settle_chat(other, 0)


def test_auth_requests_have_their_own_limit():
    quota = make_quota(RATE_LIMITS="1/minute", AUTH_RATE_LIMITS="2/minute")
    quota.settle_chat(quota.admit_chat("uid:a", 0), 0)
    quota.admit_request("uid:a")
    quota.admit_request("uid:a")
    error = refusal(quota.admit_request, "uid:a")
    assert error.code == "rate_limited" and 1 <= error.retry_after <= 60
    quota.admit_request("uid:b")


def test_refusals_are_limit_refused_events_without_content(captured):
    quota = make_quota(RATE_LIMITS="1/minute", AUTH_RATE_LIMITS="1/minute")
    quota.settle_chat(quota.admit_chat("uid:zq9", 0), 0)
    quota.admit_request("uid:zq9")
    refusal(quota.admit_chat, "uid:zq9", 0)
    refusal(quota.admit_request, "uid:zq9")
    events = [line for line in captured() if line.get("event") == "limit_refused"]
    assert [event["limit"] for event in events] == ["rate:1 per 1 minute"] * 2
    for event in events:
        assert event["subject"] == "uid:zq9" and event["function"] == "chat"
        assert event["severity"] == "WARNING"
        assert set(event) == {"severity", "message", "logger", "event", "subject", "function",
                              "limit"}  # no message text, no counts of someone else


class BrokenStore:
    """A shared store that is down: every batch raises, as a lost connection does."""

    def __init__(self):
        self.calls = 0

    def incr_many(self, ops):
        self.calls += 1
        raise ConnectionError("firestore.example:443 refused zq9-secret-detail")

    add_many = incr_many


@pytest.fixture
def clock(monkeypatch):
    """core.quota's monotonic clock, moved by hand (wall time stays real)."""
    now = [1000.0]
    fake = types.SimpleNamespace(time=time.time, gmtime=time.gmtime, strftime=time.strftime,
                                 monotonic=lambda: now[0])
    monkeypatch.setattr(quota_module, "time", fake)
    return now


def store_down_lines(captured) -> list[dict]:
    return [line for line in captured() if line.get("event") == "limit_store_down"]


def test_store_failure_refuses_chat_and_limits_auth_locally_with_one_error(captured, clock):
    quota = make_quota(AUTH_RATE_LIMITS="3/minute")
    quota._store = BrokenStore()
    error = refusal(quota.admit_chat, "uid:a", 100)  # no exception escapes: no 500
    # A budget counted in one instance's memory is no cap: chat waits for the store.
    assert (error.code, error.status, error.reason) == ("unavailable", 503, "limit_store_down")
    assert 1 <= error.retry_after <= quota_module.INCIDENT_WINDOW_S
    for _ in range(3):
        quota.admit_request("uid:a")  # auth: the same limits in this instance's memory
    assert refusal(quota.admit_request, "uid:a").code == "rate_limited"  # never unlimited
    (line,) = store_down_lines(captured)
    assert line["severity"] == "ERROR" and line["error_class"] == "ConnectionError"
    assert "zq9-secret-detail" not in captured.raw()
    assert quota._store.calls == 1  # inside the window the dead store is not retried

    clock[0] += quota_module.INCIDENT_WINDOW_S - 1
    assert refusal(quota.admit_chat, "uid:a", 100).retry_after == 1
    assert len(store_down_lines(captured)) == 1
    clock[0] += 2  # the window has passed: the store is tried again, and fails again
    assert refusal(quota.admit_chat, "uid:a", 100).code == "unavailable"
    assert len(store_down_lines(captured)) == 2
    assert refusal(quota.admit_request, "uid:a").code == "rate_limited"  # fallback kept its counts


def test_store_recovery_goes_back_to_the_shared_store(captured, clock):
    quota = make_quota()
    shared = quota._store
    quota._store = BrokenStore()
    refusal(quota.admit_chat, "uid:a", 50)
    quota._store = shared
    clock[0] += quota_module.INCIDENT_WINDOW_S + 1
    quota.settle_chat(quota.admit_chat("uid:a", 50), 7)
    assert quota.status("uid:a")["tokens"]["remaining"] == 200_000 - 7  # nothing else was kept
    assert len(store_down_lines(captured)) == 1


@pytest.mark.parametrize(("variable", "value"), [
    ("RATE_LIMITS", "30 per fortnight zq9"), ("RATE_LIMITS", ";"), ("RATE_LIMITS", "lots-zq9"),
    ("AUTH_RATE_LIMITS", "zq9/minute"),
])
def test_invalid_limits_text_is_a_config_error_naming_the_variable(variable, value):
    config = load_config("chat", {"APP_ENV": "development", variable: value})
    with pytest.raises(ConfigError) as caught:
        Quota(config)
    assert str(caught.value).startswith(f"{variable}:")
    assert "zq9" not in str(caught.value)


def test_memory_storage_in_production_is_warned_about(captured):
    environ = {"SECRET_KEY": "Qh7vN2xLp9Rz4KwT8mYc3Fb6Jd1Gs5HnVe0UaXiOqZrB",
               "ALLOWED_ORIGINS": "https://app.example", "GEMINI_API_KEY": "k",
               "FIREBASE_PROJECT_ID": "p", "RATE_LIMIT_STORAGE": "memory://"}
    Quota(load_config("chat", environ))
    (line,) = captured()
    assert line["severity"] == "WARNING" and "per instance" in line["message"]


# -- reservations (issue #8): reserve the worst case first, settle to the real charge ----------

def test_a_reservation_counts_at_once_so_a_concurrent_request_sees_it():
    quota = make_quota(DAILY_TOKEN_BUDGET="100", MAX_CONCURRENT_STREAMS_PER_USER="5")
    open_answer = quota.admit_chat("uid:a", 100)  # the budget had room before its reservation
    assert quota.status("uid:a")["tokens"]["remaining"] == 0
    error = refusal(quota.admit_chat, "uid:a", 1)
    assert (error.code, error.reason) == ("quota_exceeded", "user_token_budget")
    assert quota.settle_chat(open_answer, 30) == {"requestsLeft": 29, "tokensLeft": 70}
    assert quota.status("uid:a")["tokens"]["remaining"] == 70  # the refusal gave its share back
    quota.settle_chat(quota.admit_chat("uid:a", 100), 10)


def test_settling_none_keeps_the_whole_reservation():
    quota = make_quota(DAILY_TOKEN_BUDGET="1000")
    quota.settle_chat(quota.admit_chat("uid:a", 300), None)
    assert quota.status("uid:a")["tokens"]["remaining"] == 700


def test_settle_may_charge_more_than_was_reserved():
    quota = make_quota(DAILY_TOKEN_BUDGET="1000")
    quota.settle_chat(quota.admit_chat("uid:a", 10), 25)
    assert quota.status("uid:a")["tokens"]["remaining"] == 975


def test_sixty_concurrent_users_cannot_overspend_the_global_budget_by_more_than_one_answer():
    quota = make_quota(GLOBAL_DAILY_TOKEN_BUDGET="40", DAILY_TOKEN_BUDGET="100000")
    reserve = 2100
    start = threading.Barrier(60)

    def one(number: int) -> bool:
        start.wait()
        try:
            quota.admit_chat(f"uid:u{number}", reserve)
        except ApiError as error:
            assert error.reason == "global_token_budget"
            return False
        return True

    with concurrent.futures.ThreadPoolExecutor(60) as pool:
        admitted = sum(pool.map(one, range(60)))
    # Racing requests may all see each other's reservations and all be refused (never the
    # reverse): then the refusals gave them back and the next request has the room.
    assert admitted <= 1
    assert admitted + admits(quota, "uid:after", reserve) == 1


def admits(quota: Quota, subject: str, reserve: int) -> bool:
    """Whether `subject` is admitted now (the admission is left open)."""
    try:
        quota.admit_chat(subject, reserve)
    except ApiError as error:
        assert error.reason == "global_token_budget"
        return False
    return True


def test_a_store_failing_at_settlement_keeps_the_reservation(captured):
    quota = make_quota(DAILY_TOKEN_BUDGET="1000")
    admission = quota.admit_chat("uid:a", 600)
    shared = quota._store
    quota._store = admission.counters = BrokenStore()
    quota.settle_chat(admission, 5)  # no exception escapes
    quota._store = shared
    assert shared.incr_many([(admission.keys.user_budget, 60, 0)])[0][0] == 600
    assert len(store_down_lines(captured)) == 1


# -- the deployment's budget in shards (issue #12) -------------------------------------------

class Shards:
    """The deployment's budget in GLOBAL_BUDGET_SHARDS counters on memory:// too (as on
    Firestore), and which one each admission writes: `pick` for this thread (else 0), in place
    of core.quota's random choice."""

    def __init__(self, monkeypatch):
        self._local = threading.local()
        monkeypatch.setattr(quota_module, "shards_for", lambda uri: GLOBAL_BUDGET_SHARDS)
        monkeypatch.setattr(quota_module, "random", types.SimpleNamespace(
            randrange=lambda count: getattr(self._local, "shard", 0) % count))

    def pick(self, shard: int) -> None:
        self._local.shard = shard


@pytest.fixture
def shards(monkeypatch) -> Shards:
    return Shards(monkeypatch)


def shard_counts(counters) -> dict[int, int]:
    """The deployment's budget in `counters`, shard by shard (those above 0)."""
    keys = quota_keys.ChatKeys("uid:any", time.time(), 60, shards=GLOBAL_BUDGET_SHARDS).global_shards
    return {shard: count for shard, count in enumerate(counters.read_many(keys)) if count}


def test_the_global_budget_is_the_sum_of_its_shards(shards):
    quota = make_quota(DAILY_TOKEN_BUDGET="1000", GLOBAL_DAILY_TOKEN_BUDGET="150")
    for shard, user in ((3, "uid:a"), (17, "uid:b"), (63, "uid:c")):
        shards.pick(shard)
        quota.settle_chat(quota.admit_chat(user, 80), 49)  # reserved 80 on its shard, charged 49
    assert shard_counts(quota._store) == {3: 49, 17: 49, 63: 49}  # 147: no single shard is near 150
    shards.pick(40)
    quota.settle_chat(quota.admit_chat("uid:d", 80), 3)  # 147 < 150: room before its reservation
    shards.pick(0)
    error = refusal(quota.admit_chat, "uid:e", 1)
    assert (error.code, error.reason) == ("quota_exceeded", "global_token_budget")
    assert refusal(quota.precheck_chat, "uid:e").reason == "global_token_budget"
    assert shard_counts(quota._store) == {3: 49, 17: 49, 40: 3, 63: 49}  # the 1 given back


def test_settlement_replaces_the_reservation_on_its_own_shard(shards):
    quota = make_quota(DAILY_TOKEN_BUDGET="1000")
    shards.pick(5)
    admission = quota.admit_chat("uid:a", 100)
    assert shard_counts(quota._store) == {5: 100}
    shards.pick(9)  # whatever other requests pick meanwhile
    quota.settle_chat(admission, 30)
    assert shard_counts(quota._store) == {5: 30}
    assert quota.status("uid:a")["tokens"]["remaining"] == 970


class Schedule:
    """Runs each request's two steps against the store, its commit ("C", n) and its read of
    the deployment's budget ("R", n), in one given order, whatever the threads do."""

    def __init__(self, store, order):
        self._store, self._order = store, list(order)
        self._turn = threading.Condition()
        self.request = threading.local()

    def _wait(self, step) -> None:
        with self._turn:
            assert self._turn.wait_for(lambda: self._order[0] == step, timeout=10), step

    def next(self) -> None:
        with self._turn:
            self._order.pop(0)
            self._turn.notify_all()

    def incr_many(self, ops):
        self._wait(("C", self.request.number))
        try:
            return self._store.incr_many(ops)
        finally:
            self.next()

    def read_many(self, keys, after):
        self._wait(("R", self.request.number))  # next() once the admission has ended
        return self._store.read_many(keys, after)

    def add_many(self, ops):
        return self._store.add_many(ops)


def interleavings(requests: int):
    """Every order of `requests` commits and reads in which each read follows its commit."""
    return [order for order in itertools.permutations(
        [(step, n) for n in range(requests) for step in "CR"])
        if all(order.index(("C", n)) < order.index(("R", n)) for n in range(requests))]


@pytest.mark.parametrize("order", interleavings(3))
def test_no_interleaving_of_stale_reads_overspends_by_more_than_one_reservation(shards, order):
    # Three requests on three shards: each commit's own count is exact, the other shards' are
    # whatever the order makes them. Room for 1.5 answers: at most two may be admitted.
    quota = make_quota(DAILY_TOKEN_BUDGET="1000", GLOBAL_DAILY_TOKEN_BUDGET="15")
    shared = quota._store
    schedule = quota._store = Schedule(shared, order)

    def request(number: int):
        schedule.request.number = number
        shards.pick(number)
        try:
            return quota.admit_chat(f"uid:u{number}", 10)
        except ApiError as error:
            assert error.reason == "global_token_budget"
            return None
        finally:
            schedule.next()

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        admissions = [a for a in pool.map(request, range(3)) if a is not None]
    for admission in admissions:
        quota.settle_chat(admission, 10)  # each charged its whole reservation
    charged = sum(shard_counts(shared).values())
    assert charged == 10 * len(admissions)  # the refused gave theirs back
    assert charged <= 15 + 10  # the budget plus one reservation
    if order[1] == ("R", order[0][1]):
        assert len(admissions) >= 1  # a read before any other commit sees room


def test_a_store_failing_while_reading_the_shards_gives_everything_back(clock, shards):
    quota = make_quota(DAILY_TOKEN_BUDGET="1000", MAX_CONCURRENT_STREAMS_PER_USER="1")
    shared = quota._store

    class FailingReads:
        incr_many, add_many = shared.incr_many, shared.add_many

        def read_many(self, keys, after):
            raise ConnectionError("read refused")

    quota._store = FailingReads()
    error = refusal(quota.admit_chat, "uid:a", 300)
    assert (error.code, error.status) == ("unavailable", 503)
    quota._store = shared
    clock[0] += quota_module.INCIDENT_WINDOW_S + 1
    assert quota.status("uid:a")["tokens"]["remaining"] == 1000  # the reservation came back
    assert shard_counts(quota._store) == {}
    quota.admit_chat("uid:a", 0)  # and so did the one stream slot


def test_without_firestore_the_budget_is_one_counter_and_its_commit_decides(monkeypatch):
    """Redis and memory:// need no shards (no write limit per key) and their increment returns
    the exact total: the commit's own count decides, with no read after it."""
    assert [quota_keys.shards_for(uri) for uri in ("firestore://rate_limits", "redis://h:6379",
                                                   "memory://")] == [GLOBAL_BUDGET_SHARDS, 1, 1]
    quota = make_quota(DAILY_TOKEN_BUDGET="1000", GLOBAL_DAILY_TOKEN_BUDGET="150")
    reads = []
    monkeypatch.setattr(quota._store, "read_many", lambda *args: reads.append(args))
    quota.settle_chat(quota.admit_chat("uid:a", 100), 70)
    quota.settle_chat(quota.admit_chat("uid:b", 100), 70)  # 70 before its reservation: admitted
    quota.settle_chat(quota.admit_chat("uid:c", 10), 10)  # 140 before: admitted, 150 after
    assert refusal(quota.admit_chat, "uid:d", 10).reason == "global_token_budget"  # 150 before
    assert reads == []
    [key] = quota_keys.ChatKeys("uid:any", time.time(), 60).global_shards
    assert key.endswith("/0") and quota._store.storage.get(key) == 150


# -- stream slots (issue #8): never negative, a lapsed slot is never freed twice --------------

@pytest.fixture
def wall_clock(monkeypatch):
    """time.time for core.quota and limits' MemoryStorage, moved by hand."""
    now = [1_800_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    return now


def test_lapsed_stream_slots_never_let_more_than_the_cap_run(wall_clock):
    quota = make_quota(MAX_CONCURRENT_STREAMS_PER_USER="2", GEMINI_TIMEOUT_S="1",
                       RATE_LIMITS="1000/minute")
    hung = [quota.admit_chat("uid:a", 0), quota.admit_chat("uid:a", 0)]
    assert refusal(quota.admit_chat, "uid:a", 0).reason == "concurrent_streams"
    wall_clock[0] += 3 * 3600  # both answers' instances hung far past the longest answer
    fresh = [quota.admit_chat("uid:a", 0), quota.admit_chat("uid:a", 0)]  # the slots lapsed
    for admission in hung:  # the hung ones end at last: they must not free the fresh slots
        quota.settle_chat(admission, 0)
    assert refusal(quota.admit_chat, "uid:a", 0).reason == "concurrent_streams"
    quota.settle_chat(fresh[0], 0)
    quota.admit_chat("uid:a", 0)
    assert refusal(quota.admit_chat, "uid:a", 0).reason == "concurrent_streams"


def test_streams_overlapping_without_end_keep_their_count(wall_clock):
    # The old counter set its expiry only on 0 -> 1: answers that always overlap let it lapse.
    quota = make_quota(MAX_CONCURRENT_STREAMS_PER_USER="2", GEMINI_TIMEOUT_S="10",
                       RATE_LIMITS="100000/minute")
    held = quota.admit_chat("uid:a", 0)
    for _ in range(40):  # 40 answers of 60 s, each starting while the last is open
        wall_clock[0] += 60
        following = quota.admit_chat("uid:a", 0)
        quota.settle_chat(held, 0)
        held = following
        second = quota.admit_chat("uid:a", 0)  # cap 2: exactly one more fits
        assert refusal(quota.admit_chat, "uid:a", 0).reason == "concurrent_streams"
        quota.settle_chat(second, 0)


# --- precheck_chat: turning the already refused away before work they must not cause --------

@pytest.mark.parametrize("env, fill, code, reason", [
    ({"RATE_LIMITS": "3/minute"}, lambda q: admit_and_finish(q, "uid:p", 3),
     "rate_limited", "rate:3 per 1 minute"),
    ({"DAILY_TOKEN_BUDGET": "100"}, lambda q: q.settle_chat(q.admit_chat("uid:p", 0), 100),
     "quota_exceeded", "user_token_budget"),
    ({"GLOBAL_DAILY_TOKEN_BUDGET": "100"},
     lambda q: q.settle_chat(q.admit_chat("uid:other", 0), 100),
     "quota_exceeded", "global_token_budget"),
    ({"MAX_CONCURRENT_STREAMS_PER_USER": "2"},
     lambda q: [q.admit_chat("uid:p", 0) for _ in range(2)], "rate_limited", "concurrent_streams"),
])
def test_precheck_refuses_exactly_as_admission_would(env, fill, code, reason):
    quota = make_quota(**env)
    quota.precheck_chat("uid:p")  # room: no refusal
    fill(quota)
    before = quota.status("uid:p")
    checked = refusal(quota.precheck_chat, "uid:p")
    assert quota.status("uid:p") == before  # the precheck counted nothing
    admitted = refusal(quota.admit_chat, "uid:p", 0)
    assert (checked.code, checked.reason) == (admitted.code, admitted.reason) == (code, reason)
    assert checked.retry_after == admitted.retry_after


def test_precheck_reads_only():
    quota = make_quota(RATE_LIMITS="2/minute", MAX_CONCURRENT_STREAMS_PER_USER="1")
    for _ in range(10):
        quota.precheck_chat("uid:q")
    admit_and_finish(quota, "uid:q", 2)  # both requests of the window are still there
    assert refusal(quota.precheck_chat, "uid:q").code == "rate_limited"
