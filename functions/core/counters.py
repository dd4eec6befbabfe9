"""The shared store of the limits: batches of counter operations over any `limits` storage
(memory://, redis://, firestore://, the last batched natively in one round trip each).

    incr_many([(key, expiry_s, amount)])  -> [(count, window_end)]   amount 0: read only
    add_many([(key, expiry_s, amount)])   blind increments (a settlement)
    read_many([key], after)               -> [count]   read only, after incr_many's `after`
"""

from __future__ import annotations

from limits.storage import storage_from_string

__all__ = ["Counters", "open_storage", "STORE_TIMEOUT_S", "FIRST_STORE_TIMEOUT_S"]

STORE_TIMEOUT_S = 1.5
# An instance's first Firestore calls also open its gRPC channel and fetch its credentials; on
# a busy instance that passed 1.5 s and cost 30 s of 503s. They get this long instead, until
# one call has succeeded (nothing is done ahead of time: cold start does not pay for it).
FIRST_STORE_TIMEOUT_S = 5.0


class Counters:
    """Batch counter operations over `storage` (one storage call per operation unless it
    batches them itself, as FirestoreStorage does)."""

    def __init__(self, storage):
        self.storage = storage

    def incr_many(self, ops):
        if hasattr(self.storage, "incr_many"):
            return self.storage.incr_many(ops)
        results = []
        for key, expiry, amount in ops:
            count = self.storage.incr(key, expiry, amount) if amount else self.storage.get(key)
            results.append((count, self.storage.get_expiry(key)))
        return results

    def add_many(self, ops):
        if hasattr(self.storage, "add_many"):
            return self.storage.add_many(ops)
        for key, expiry, amount in ops:
            self.storage.incr(key, expiry, amount)

    def read_many(self, keys, after=None):
        """The counts of `keys` (0 where none), reading only. Firestore reads them in one batch,
        as they were right after the commit of incr_many's result `after`: a consistent cut of
        all commits up to that one. Other stores read them one by one, now (later than that;
        never earlier); core.quota reads several only on Firestore."""
        if hasattr(self.storage, "read_many"):
            return self.storage.read_many(keys, getattr(after, "as_of", None))
        return [self.storage.get(key) for key in keys]


def open_storage(uri: str, project_id: str | None):
    """The `limits` storage of RATE_LIMIT_STORAGE, answering within STORE_TIMEOUT_S or failing."""
    if uri.startswith("firestore://"):
        from .firestore_storage import FirestoreStorage  # only functions that use it pay for it
        return FirestoreStorage(uri, project=project_id, timeout=STORE_TIMEOUT_S,
                                first_timeout=FIRST_STORE_TIMEOUT_S)
    options = {"socket_timeout": STORE_TIMEOUT_S, "socket_connect_timeout": STORE_TIMEOUT_S} \
        if uri.startswith(("redis://", "rediss://")) else {}
    return storage_from_string(uri, **options)
