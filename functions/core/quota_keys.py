"""Where a chat request is counted: the keys of its budget counters and stream slots in the
shared store (core.counters), for core.quota."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

__all__ = ["ChatKeys", "GLOBAL_BUDGET_SHARDS", "shards_for"]

# The deployment's budget is this many counters, each request writing a random one: Firestore
# sustains about one write per second per document and each chat request writes the budget
# twice (reservation, settlement): 40 requests/s (the load test's rate) make 1.25 writes/s per
# shard. The price: an admission batch-reads all 64 (64 billed document reads, ~12 ms on the
# emulator against ~4 ms for one document).
GLOBAL_BUDGET_SHARDS = 64


def shards_for(storage_uri: str) -> int:
    """How many counters the deployment's budget has in this store: GLOBAL_BUDGET_SHARDS on
    Firestore, whose write rate per document they are for; one on Redis and memory://, which
    count one key at any rate, and whose increment returns its exact total."""
    return GLOBAL_BUDGET_SHARDS if storage_uri.startswith("firestore://") else 1


@dataclass
class ChatKeys:
    """The counters of one chat request of `subject` at `now`: the user's and the
    deployment's budget of that UTC day, and its stream slots."""

    subject: str
    now: float
    stream_period: int
    shard: int = 0  # the deployment's budget counter this request writes, of `shards`
    shards: int = 1
    day: str = field(init=False)
    day_end: float = field(init=False)

    def __post_init__(self):
        self.day = time.strftime("%Y-%m-%d", time.gmtime(self.now))
        self.day_end = (math.floor(self.now / 86400) + 1) * 86400.0  # next 00:00 UTC
        self._period = math.floor(self.now / self.stream_period)

    @property
    def user_budget(self) -> str:
        return f"budget/user/{self.subject}/{self.day}"

    @property
    def global_shard(self) -> str:
        return self.global_shards[self.shard]

    @property
    def global_shards(self) -> list[str]:
        return [f"budget/global/{self.day}/{shard}" for shard in range(self.shards)]

    @property
    def budget_ttl(self) -> int:
        return int(self.day_end - self.now) + 3600

    # Open streams are counted per period as long as the longest answer: a slot is taken in
    # the current period's counter and given back to that same counter, and admission reads
    # this period's and the last one's. A counter is never read after its two periods, so a
    # slot that outlives them (a hung instance) lapses once and cannot drive a live count
    # below zero or be freed twice.
    @property
    def streams(self) -> str:
        return f"streams/{self.subject}/{self._period}"

    @property
    def earlier_streams(self) -> str:
        return f"streams/{self.subject}/{self._period - 1}"

    @property
    def stream_ttl(self) -> int:
        return 3 * self.stream_period
