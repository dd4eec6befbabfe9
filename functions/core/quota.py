"""Abuse and cost limits shared by every instance: request rates (`limits` notation), daily
token budgets per user and for the deployment, and concurrent streams, counted in the shared
store (core.counters).

A chat request is admitted (`admit_chat`: counted, a stream slot taken, its worst case
reserved), then settled once (`settle_chat`: the charge in place of the reservation, the slot
freed); chat's billing.Bill does both.

A budget is overspent by at most one answer's reservation, however many requests race. The
user's is one counter: the commit that counts a request adds its reservation and returns the
exact total. So is the deployment's on Redis and memory://. On Firestore, which sustains about
one write per second per document, it is GLOBAL_BUDGET_SHARDS counters (core.quota_keys): the
commit adds the reservation to a random one, then all are read as they were at that commit.
Either way a request is admitted while the total less its own reservation is below the budget,
counting exactly the reservations committed before it: the admitted request that committed
last saw every admitted reservation (or its charge), all before it fit, and it adds one. A
refusal gives its reservation back on its own shard (no read sees a share below zero).

If the shared store fails, a per-instance in-memory limiter takes over for an incident window
for the auth function's limits; chat, which spends the budgets, is refused (503) meanwhile.
"""

from __future__ import annotations

import math
import random
import threading
import time
from typing import NoReturn
from dataclasses import dataclass, field

from limits import RateLimitItem, parse_many
from limits.errors import ConfigurationError
from limits.storage import MemoryStorage

from . import log
from .config import Config, ConfigError
from .counters import Counters, open_storage
from .errors import ApiError
from .quota_keys import ChatKeys, shards_for

__all__ = ["Quota", "Admission"]

INCIDENT_WINDOW_S = 30.0
STREAM_RETRY_AFTER_S = 5
STREAM_MARGIN_S = 60


class Quota:
    def __init__(self, config: Config):
        self._config = config
        self.chat_items = _parse("RATE_LIMITS", config.rate_limits)
        self.auth_items = _parse("AUTH_RATE_LIMITS", config.auth_rate_limits)
        self._store = Counters(open_storage(config.rate_limit_storage, config.project_id))
        self._shards = shards_for(config.rate_limit_storage)
        self._fallback = Counters(MemoryStorage())
        self._down_until = 0.0
        self._lock = threading.Lock()
        if config.production and config.rate_limit_storage.startswith("memory://"):
            log.logger.warning("RATE_LIMIT_STORAGE=memory:// counts per instance: limits are "
                               "multiplied by the number of instances")

    def admit_chat(self, subject: str, reserve_tokens: int) -> Admission:
        """Count one chat request, take a stream slot and reserve its worst case
        (`reserve_tokens`) against both daily budgets, or raise 429 (`rate_limited` /
        `quota_exceeded`). `settle_chat` ends what this begins. One commit counts the request
        and reserves, then the deployment's budget is read (the module's docstring says why
        that order keeps the budgets)."""
        now = time.time()
        keys = ChatKeys(subject, now, _stream_period(self._config),
                        shard=random.randrange(self._shards), shards=self._shards)
        reserve = max(0, int(reserve_tokens))
        counts, counters = self._run("incr_many", self._chat_ops(subject, keys, 1, reserve),
                                     shared_only=True)
        admission = Admission(counters, keys, reserved=reserve, user_tokens_used=counts[-4][0],
                              requests_left=_requests_left(self.chat_items, counts[:-4]))
        try:  # the deployment's budget is read last: a request refused already skips the read
            refusal = (self._chat_refusal(counts, keys, now, reserve, this_one=0)
                       or self._global_refusal(keys, now, reserve, after=counts))
        except ApiError:  # the store failed reading the shards (503): give back what we took
            self.settle_chat(admission, 0)
            raise
        if refusal is not None:
            self.settle_chat(admission, 0)  # give the reservation and the stream slot back
            self._refused(subject, refusal)
        return admission

    def settle_chat(self, admission: Admission, tokens: int | None) -> dict:
        """Replace `admission`'s reservation by the charge, `tokens` (None: unknown, the whole
        reservation stays), and free its stream slot: once, on the counters that admitted it
        (a later call changes nothing). Returns what is left: {"requestsLeft", "tokensLeft"}.

        If the store fails now, or the instance dies first, the reservation stays: that errs
        towards the budget, never towards the caller."""
        charge = admission.reserved if tokens is None else max(0, int(tokens))
        if admission.first_settlement():
            keys, delta = admission.keys, charge - admission.reserved
            ops = [(keys.streams, keys.stream_ttl, -1)]
            if delta:  # the global delta on the reservation's own shard
                ops += [(keys.user_budget, keys.budget_ttl, delta),
                        (keys.global_shard, keys.budget_ttl, delta)]
            try:
                admission.counters.add_many(ops)
            except Exception as error:  # noqa: BLE001 - the reservation stays charged
                self._incident(error)
        used = admission.user_tokens_used - admission.reserved + charge
        return {"requestsLeft": admission.requests_left,
                "tokensLeft": max(0, self._config.daily_token_budget - used)}

    def precheck_chat(self, subject: str) -> None:
        """Raise the refusal admit_chat would give `subject` right now, reading only: before
        work a refused request must not cause (Gemini counting its attachments' tokens).
        admit_chat still decides, atomically; this only turns away the already refused."""
        now = time.time()
        keys = ChatKeys(subject, now, _stream_period(self._config), shards=self._shards)
        counts, _ = self._run("incr_many", self._chat_ops(subject, keys, 0, 0), shared_only=True)
        refusal = (self._chat_refusal(counts, keys, now, 0, this_one=1)
                   or self._global_refusal(keys, now, 0, after=counts))
        if refusal is not None:
            self._refused(subject, refusal)

    def _chat_ops(self, subject: str, keys: ChatKeys, count: int, reserve: int) -> list:
        """A chat request's counters: its rate windows and stream slot (+ `count`), the user's
        budget and its shard of the deployment's (+ `reserve`), and the previous period's slots
        (read). All 0: read only."""
        ops = [(item.key_for("chat", subject), item.get_expiry(), count)
               for item in self.chat_items]
        return ops + [(keys.user_budget, keys.budget_ttl, reserve),
                      (keys.streams, keys.stream_ttl, count),
                      (keys.earlier_streams, keys.stream_ttl, 0),
                      (keys.global_shard, keys.budget_ttl, reserve)]

    def _chat_refusal(self, counts, keys: ChatKeys, now: float, reserve: int,
                      this_one: int) -> ApiError | None:
        """The refusal for counts read by _chat_ops, but for the deployment's budget (read
        later): the user's budget as it was before this request's own `reserve`; rates and
        streams with this request (`this_one`: 1 if not yet counted)."""
        rates, (used, _), (streams, _), (earlier, _), _ = counts[:-4], *counts[-4:]
        return (_budget_refusal(self._config.daily_token_budget, used - reserve,
                                "user_token_budget", keys, now)
                or _rate_refusal(self.chat_items, [(n + this_one, end) for n, end in rates], now)
                or _stream_refusal(self._config, streams + earlier + this_one))

    def _global_refusal(self, keys: ChatKeys, now: float, reserve: int,
                        after) -> ApiError | None:
        """The deployment's budget: all its shards, read after the commit `after` added this
        request's `reserve` to one of them (the module's docstring says why). One shard: that
        commit's own count (its last) is already the exact total, as for the user's budget."""
        if keys.shards == 1:
            total = after[-1][0]
        else:
            counts, _ = self._run("read_many", keys.global_shards, after, shared_only=True)
            total = sum(counts)
        return _budget_refusal(self._config.global_daily_token_budget, total - reserve,
                               "global_token_budget", keys, now)

    def _refused(self, subject: str, refusal: ApiError) -> NoReturn:
        log.security_event("limit_refused", subject=subject, function=self._config.function,
                           limit=refusal.reason)
        raise refusal

    def admit_request(self, subject: str) -> None:
        """Count one request to the auth function, or raise 429 `rate_limited`."""
        now = time.time()
        ops = [(item.key_for("auth", subject), item.get_expiry(), 1) for item in self.auth_items]
        counts, _ = self._run("incr_many", ops)
        refusal = _rate_refusal(self.auth_items, counts, now)
        if refusal is not None:
            self._refused(subject, refusal)

    def status(self, subject: str) -> dict:
        """What is left of the chat limits for `subject` (reads only; reservations count)."""
        now = time.time()
        keys = ChatKeys(subject, now, _stream_period(self._config))
        ops = [(item.key_for("chat", subject), item.get_expiry(), 0) for item in self.chat_items]
        ops.append((keys.user_budget, keys.budget_ttl, 0))
        counts, _ = self._run("incr_many", ops)
        requests = [{"limit": str(item), "remaining": max(0, item.amount - count),
                     "resetSeconds": _seconds_until(end, now) if count else item.get_expiry()}
                    for item, (count, end) in zip(self.chat_items, counts)]
        used = counts[-1][0]
        return {"requests": requests, "tokens": {
            "dailyLimit": self._config.daily_token_budget,
            "remaining": max(0, self._config.daily_token_budget - used),
            "resetSeconds": _seconds_until(keys.day_end, now)}}

    def _run(self, operation: str, *args, shared_only: bool = False):
        """The shared store, or the per-instance fallback while the store is failing; returns
        the result and the counters that produced it (a settlement goes to the same ones).

        `shared_only` (chat admissions, which spend the budgets): no fallback. An instance's
        memory cannot know what the others spent, so a budget counted there would not be a
        cap: while the store fails such requests get 503 `unavailable`, never a fresh budget.
        """
        if time.monotonic() >= self._down_until:
            try:
                return getattr(self._store, operation)(*args), self._store
            except Exception as error:  # noqa: BLE001 - any store failure: never a 500
                self._incident(error)
        if shared_only:
            wait = max(1, math.ceil(self._down_until - time.monotonic()))
            raise ApiError("unavailable", "Usage limits cannot be checked right now; please "
                           "try again shortly.", retry_after=wait, reason="limit_store_down")
        return getattr(self._fallback, operation)(*args), self._fallback

    def _incident(self, error: Exception) -> None:
        with self._lock:
            new = time.monotonic() >= self._down_until
            self._down_until = time.monotonic() + INCIDENT_WINDOW_S
        if new:  # one ERROR per incident window
            log.logger.error("rate-limit store unavailable; per-instance limits for "
                             f"{INCIDENT_WINDOW_S:.0f} s", extra={"fields": {
                                 "event": "limit_store_down", "error_class": type(error).__name__}})


@dataclass
class Admission:
    """An admitted chat request, from Quota.admit_chat until Quota.settle_chat: its
    reservation, on the counters that admitted it."""

    counters: Counters
    keys: ChatKeys
    reserved: int
    user_tokens_used: int
    requests_left: int
    _unsettled: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def first_settlement(self) -> bool:
        """True once: for the one settlement that may touch the counters."""
        return self._unsettled.acquire(blocking=False)  # never released


def _stream_period(config: Config) -> int:
    """The longest an answer can hold its slot: the Gemini deadline plus a margin."""
    return int(config.gemini_timeout_s) + STREAM_MARGIN_S


def _parse(name: str, text: str) -> list[RateLimitItem]:
    try:
        items = parse_many(text)
    except (ValueError, ConfigurationError):
        raise ConfigError(f"{name}: must be limits like 30/minute;50/hour;200/day") from None
    if not items:
        raise ConfigError(f"{name}: must name at least one limit")
    return items


def _requests_left(items: list[RateLimitItem], counts) -> int:
    return min(max(0, item.amount - count) for item, (count, _) in zip(items, counts))


def _seconds_until(moment: float, now: float) -> int:
    return max(1, math.ceil(moment - now))


def _rate_refusal(items, counts, now: float) -> ApiError | None:
    over = [(item, end) for item, (count, end) in zip(items, counts) if count > item.amount]
    if not over:
        return None
    item, end = max(over, key=lambda pair: pair[1])  # wait for the longest window that is full
    # Stores round expiries (Redis keeps whole seconds): never promise more than one window.
    wait = min(_seconds_until(end, now), item.get_expiry())
    return ApiError("rate_limited", f"Too many requests: the limit is {item}. Please wait.",
                    retry_after=wait, reason=f"rate:{item}")


_BUDGET_MESSAGES = {"global_token_budget": "The app's daily quota is used up",
                    "user_token_budget": "Your daily quota is used up"}


def _budget_refusal(budget: int, used: int, reason: str, keys: ChatKeys,
                    now: float) -> ApiError | None:
    if used < budget:
        return None
    return ApiError("quota_exceeded", f"{_BUDGET_MESSAGES[reason]}; it resets at midnight UTC.",
                    retry_after=_seconds_until(keys.day_end, now), reason=reason)


def _stream_refusal(config: Config, streams: int) -> ApiError | None:
    if streams > config.max_concurrent_streams:
        return ApiError("rate_limited", "Too many answers at once; wait for one to finish.",
                        retry_after=STREAM_RETRY_AFTER_S, reason="concurrent_streams")
    return None
