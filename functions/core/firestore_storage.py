"""A `limits` storage on Firestore (`firestore://<collection>`), exact across instances.

Windows: one batch read, then one commit of server-side Increments (a precondition opens a new
window), so concurrent hits never livelock as read-write transactions do on one hot document.

Batch reads and commits give up after `timeout`, or `first_timeout` until one has succeeded (the
first calls also open the gRPC channel and fetch credentials).
"""

from __future__ import annotations

import datetime
import time
from urllib.parse import urlsplit

from google.api_core import exceptions as api_exceptions
from google.cloud import firestore
from limits.storage import Storage

__all__ = ["FirestoreStorage"]

_ATTEMPTS = 3  # a lost race to open a window is retried; the winner's window is then counted


class Counts(list):
    """incr_many's [(count, window_end)], and `as_of`: the time of its commit (None if it only
    read), at which read_many can read other counters as they were right after it."""

    as_of: datetime.datetime | None = None


class FirestoreStorage(Storage):
    """Documents `{count, expires_at (float s), expire_at (Timestamp for a TTL policy)}`."""

    STORAGE_SCHEME = ["firestore"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, project: str | None = None,
                 timeout: float = 2.0, first_timeout: float | None = None, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.collection_name = (urlsplit(uri).netloc + urlsplit(uri).path).strip("/") or "rate_limits"
        self.timeout = timeout
        self._deadline = first_timeout or timeout  # `timeout` once a call has succeeded
        self._client = firestore.Client(project=project)
        self._collection = self._client.collection(self.collection_name)

    @property
    def base_exceptions(self):
        return (api_exceptions.GoogleAPICallError, api_exceptions.RetryError)

    # -- batch operations used by core.quota (round trips: see each docstring) ---------------

    def incr_many(self, ops: list[tuple[str, int, int]]) -> list[tuple[int, float]]:
        """Fixed-window increments of (key, expiry_s, amount); amount 0 only reads.

        Two round trips for any number of keys: one batch read, one commit. Returns the count
        after each increment and the window's end (epoch seconds), as Counts.
        """
        for attempt in range(_ATTEMPTS):
            try:
                return self._incr_once(ops)
            except (api_exceptions.AlreadyExists, api_exceptions.FailedPrecondition,
                    api_exceptions.NotFound):  # lost a race to open (or a TTL deleted) a window
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def add_many(self, ops: list[tuple[str, int, int]]) -> None:
        """Blind increments of (key, expiry_s, amount) in one commit (one round trip), for
        counters whose keys already name their period (daily budgets, stream slots)."""
        batch = self._client.batch()
        now = time.time()
        for key, expiry, amount in ops:
            batch.set(self._doc(key), {"count": firestore.Increment(amount),
                                       "expires_at": firestore.Maximum(now + expiry),
                                       **_expiry_fields(now + expiry)}, merge=True)
        self._commit(batch)

    def read_many(self, keys: list[str], as_of: datetime.datetime | None = None) -> list[int]:
        """The counts of `keys` (0 where none or expired) now, or as they were at `as_of` (a
        Counts.as_of: Firestore reads any moment of the last hour), in one batch read."""
        now = time.time()
        refs = [self._doc(key) for key in keys]
        snapshots = self._read(refs, as_of)
        return [data["count"] if _is_open(data, now) else 0 for data in
                (_fields(snapshots.get(ref.path)) for ref in refs)]

    def _incr_once(self, ops):
        now = time.time()
        refs = [self._doc(key) for key, _, _ in ops]
        snapshots = self._read(refs)
        batch = self._client.batch()
        results = Counts()
        write_slots: list[int | None] = []  # per write: the result its Increment answers
        for ref, (_, expiry, amount) in zip(refs, ops):
            snap = snapshots.get(ref.path)
            data = _fields(snap)
            if _is_open(data, now):
                results.append((data["count"], data["expires_at"]))
                if amount:
                    batch.update(ref, {"count": firestore.Increment(amount)})
                    write_slots.append(len(results) - 1)
                continue
            results.append((amount, now + expiry))
            if not amount:
                continue
            fields = {"count": amount, "expires_at": now + expiry, **_expiry_fields(now + expiry)}
            if data is None:
                batch.create(ref, fields)  # fails (and we retry) if another instance just did
            else:  # reopen an expired window only if nobody else has since (WriteBatch.set
                # takes no precondition: update does, and every field is written anew)
                batch.update(ref, fields, option=self._client.write_option(
                    last_update_time=snap.update_time))
            write_slots.append(None)
        if write_slots:
            write_results = self._commit(batch)
            for result, slot in zip(write_results, write_slots):
                if slot is not None:
                    count = int(result.transform_results[0].integer_value)
                    results[slot] = (count, results[slot][1])
            results.as_of = batch.commit_time
        return results

    def _read(self, refs, read_time: datetime.datetime | None = None) -> dict:
        """One batch read (at `read_time`, else now): the snapshots of `refs` by path."""
        snapshots = {snap.reference.path: snap for snap in self._client.get_all(
            refs, retry=None, timeout=self._deadline, read_time=read_time)}
        self._deadline = self.timeout
        return snapshots

    def _commit(self, batch):
        results = batch.commit(retry=None, timeout=self._deadline)
        self._deadline = self.timeout
        return results

    # -- limits.storage.Storage --------------------------------------------------------------

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self.incr_many([(key, expiry, amount)])[0][0]

    def get(self, key: str) -> int:
        return self.incr_many([(key, 1, 0)])[0][0]

    def get_expiry(self, key: str) -> float:
        data = _fields(self._doc(key).get(retry=None, timeout=self.timeout))
        return data["expires_at"] if _is_open(data, time.time()) else time.time()

    def check(self) -> bool:
        try:
            self._doc("healthcheck").get(retry=None, timeout=self.timeout)
            return True
        except Exception:  # noqa: BLE001 - limits' contract: False when unreachable
            return False

    def reset(self) -> int | None:
        count = 0
        for snap in self._collection.stream(retry=None, timeout=self.timeout):
            snap.reference.delete()
            count += 1
        return count

    def clear(self, key: str) -> None:
        self._doc(key).delete(retry=None, timeout=self.timeout)

    def _doc(self, key: str):
        # Document ids cannot contain "/": limits keys are "LIMITER/<id>/<amount>/<multiple>/<g>".
        return self._collection.document(key.replace("/", "|"))


def _fields(snap) -> dict | None:
    """A snapshot's stored fields; None where there is no document."""
    return snap.to_dict() if snap is not None and snap.exists else None


def _is_open(data: dict | None, now: float) -> bool:
    """Whether stored `data` is a counter whose window (or day) has not ended."""
    return data is not None and data.get("expires_at", 0) > now


def _expiry_fields(expires_at: float) -> dict:
    return {"expire_at": datetime.datetime.fromtimestamp(expires_at, datetime.timezone.utc)}

