"""core/firestore_storage.py against the real Firestore emulator: fixed windows that open, count
and expire (amount 0 only reads), blind increments for keys that name their period, exact counts
under concurrent increments from several clients, the Timestamp a TTL policy deletes by, batch
reads now or as of a commit, and the longer deadline of an instance's first calls.
The store's clock (its `time` module) is a fake where a test needs a window to pass."""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import secrets
import threading
import time

import pytest
from google.api_core import exceptions as api_exceptions
from google.cloud import firestore as firestore_client

import core.firestore_storage as storage_module
from core.counters import FIRST_STORE_TIMEOUT_S, STORE_TIMEOUT_S, open_storage
from core.firestore_storage import FirestoreStorage
from tests.integration.harness import PROJECT_ID

NOW = 1_900_000_000.0  # the fake clock's start (2030): far from the real one


class Clock:
    """Stands in for the `time` module of core.firestore_storage."""

    def __init__(self):
        self.now = NOW

    def time(self) -> float:
        return self.now


@pytest.fixture
def emulator(firestore, monkeypatch) -> str:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore.emulator.host)
    return f"storage_{secrets.token_hex(4)}"  # a collection of this test's own


@pytest.fixture
def storage(emulator) -> FirestoreStorage:
    return FirestoreStorage(f"firestore://{emulator}", project=PROJECT_ID)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(storage_module, "time", clock)
    return clock


def document(storage: FirestoreStorage, key: str) -> dict | None:
    """The stored document of `key`, read back with a client of its own."""
    snap = (firestore_client.Client(project=PROJECT_ID).collection(storage.collection_name)
            .document(key.replace("/", "|")).get())
    return snap.to_dict() if snap.exists else None


def test_a_window_opens_counts_and_reports_its_end(storage, clock):
    assert storage.incr_many([("user/a", 60, 1), ("user/b", 60, 3)]) == [
        (1, NOW + 60), (3, NOW + 60)]
    clock.now += 10
    assert storage.incr_many([("user/a", 60, 1), ("user/b", 60, 2)]) == [
        (2, NOW + 60), (5, NOW + 60)]  # the same windows: their end does not move
    assert document(storage, "user/a")["count"] == 2  # stored as user|a: ids cannot hold "/"


def test_an_expired_window_is_reopened_from_the_amount(storage, clock):
    storage.incr_many([("w", 60, 5)])
    clock.now += 60  # the window's end: it is over
    assert storage.incr_many([("w", 60, 2)]) == [(2, NOW + 120)]
    assert document(storage, "w")["count"] == 2


def test_amount_zero_only_reads(storage, clock):
    assert storage.incr_many([("fresh", 60, 0)]) == [(0, NOW + 60)]
    assert document(storage, "fresh") is None  # reading wrote nothing
    storage.incr_many([("counted", 60, 4)])
    clock.now += 5
    assert storage.incr_many([("counted", 60, 0), ("fresh", 60, 0)]) == [
        (4, NOW + 60), (0, NOW + 65)]
    assert document(storage, "counted")["count"] == 4 and document(storage, "fresh") is None


def test_every_write_carries_the_timestamp_a_ttl_policy_deletes_by(storage, clock):
    storage.incr_many([("window", 60, 1)])
    storage.add_many([("budget/day", 86_400, 7)])
    for key, end in (("window", NOW + 60), ("budget/day", NOW + 86_400)):
        stored = document(storage, key)
        assert stored["expires_at"] == end
        assert stored["expire_at"] == datetime.datetime.fromtimestamp(end, datetime.timezone.utc)


def test_add_many_adds_blindly_and_keeps_the_latest_end(storage, clock):
    storage.add_many([("budget/day", 3_600, 5), ("slots/u", 600, 1)])
    clock.now += 100
    storage.add_many([("budget/day", 3_600, 7), ("slots/u", 600, -1)])
    budget, slots = document(storage, "budget/day"), document(storage, "slots/u")
    assert (budget["count"], budget["expires_at"]) == (12, NOW + 3_700)
    assert (slots["count"], slots["expires_at"]) == (0, NOW + 700)
    clock.now -= 50  # a late writer with an earlier end does not shorten it (Maximum)
    storage.add_many([("budget/day", 3_600, 1)])
    assert document(storage, "budget/day")["expires_at"] == NOW + 3_700


@pytest.mark.parametrize("window", ["new", "open", "expired"])
def test_concurrent_increments_from_several_clients_are_exact(emulator, clock, window):
    """Three clients (instances), 30 increments at once, on a window the race opens (a new key,
    or one whose window has ended) or one already open: 30 counted, each caller told a different
    count."""
    clients = [FirestoreStorage(f"firestore://{emulator}", project=PROJECT_ID) for _ in range(3)]
    before = 0
    if window != "new":
        before = clients[0].incr_many([("hot", 300, 1)])[0][0]
    if window == "expired":
        clock.now += 300
        before = 0
    start = threading.Barrier(30)

    def increment(number: int) -> int:
        start.wait()
        return clients[number % 3].incr_many([("hot", 300, 1), ("cold", 300, 0)])[0][0]

    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        counts = list(pool.map(increment, range(30)))
    assert sorted(counts) == list(range(before + 1, before + 31))
    assert document(clients[0], "hot")["count"] == before + 30
    assert document(clients[0], "cold") is None


def test_limits_storage_interface(storage):
    """What the `limits` library itself calls, on the real clock."""
    assert storage.check()
    assert storage.incr("k", 60) == 1 and storage.incr("k", 60, amount=2) == 3
    assert storage.get("k") == 3
    assert time.time() < storage.get_expiry("k") <= time.time() + 60
    storage.clear("k")
    assert storage.get("k") == 0
    storage.incr("a", 60)
    storage.incr("b", 60)
    assert storage.reset() == 2 and storage.get("a") == 0


def test_read_many_reads_open_counters_in_one_batch(storage, clock):
    storage.add_many([("budget/0", 60, 5), ("budget/1", 120, 7)])
    assert storage.read_many(["budget/0", "budget/1", "budget/2"]) == [5, 7, 0]
    clock.now += 60  # the first one's period has ended
    assert storage.read_many(["budget/0", "budget/1"]) == [0, 7]
    assert document(storage, "budget/2") is None  # reading wrote nothing


def test_read_many_as_of_a_commit_sees_it_and_nothing_later(storage):
    first = storage.incr_many([("shard/0", 600, 5)])
    storage.incr_many([("shard/0", 600, 1), ("shard/1", 600, 7)])
    storage.add_many([("shard/2", 600, 9)])
    keys = ["shard/0", "shard/1", "shard/2"]
    assert storage.read_many(keys) == [6, 7, 9]
    assert storage.read_many(keys, first.as_of) == [5, 0, 0]
    assert storage.incr_many([("shard/0", 600, 0)]).as_of is None  # only read: no commit


@contextlib.contextmanager
def stalled(emulator, seconds: float):
    """The emulator frozen (SIGSTOP) for `seconds` from now, whatever happens meanwhile."""
    emulator.pause()
    thaw = threading.Timer(seconds, emulator.resume)
    thaw.start()
    try:
        yield
    finally:
        thaw.join()


def test_an_instance_s_first_call_may_take_longer_than_the_rest(firestore, emulator):
    # The first calls also open the channel (and, deployed, fetch credentials): a stall of 2.5 s
    # is waited out (FIRST_STORE_TIMEOUT_S); once a call has succeeded, the same stall is a
    # failure after STORE_TIMEOUT_S, which the quota turns into its incident window.
    assert STORE_TIMEOUT_S < 2.5 < FIRST_STORE_TIMEOUT_S - 1
    storage = open_storage(f"firestore://{emulator}", PROJECT_ID)
    with stalled(firestore.emulator, 2.5):
        assert storage.incr_many([("first", 60, 1)])[0][0] == 1
    with stalled(firestore.emulator, 2.5):
        started = time.monotonic()
        with pytest.raises(api_exceptions.DeadlineExceeded):
            storage.incr_many([("first", 60, 1)])
        assert time.monotonic() - started < 2.5
