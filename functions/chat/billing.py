"""What one answer costs: the worst case reserved before Gemini is called, and the exact charge
that replaces it afterwards, from Gemini's usageMetadata or, failing that, its free countTokens.

    Bill.open(…)       reserve the worst case, or be refused      (admission, core.quota)
      reservation(turn)  input upper bound + MAX_OUTPUT_TOKENS
                         (attachments: Gemini's published rules, else its countTokens)
    bill.meter         what Gemini reported and sent while the answer ran
    bill.settle()      charge(meter, …), what Gemini bills, in place of the reservation
                                                                   (settlement, exactly once)

Both are in weighted tokens, what the budgets count: Gemini's tokens × the chosen model's
weight (GEMINI_MODELS), rounded up, and at least 1 when Gemini's count is above 0.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Callable

from core import log
from core.config import Config
from core.quota import Admission, Quota

from attachments import TOKENS_PER_PART, Attachment
from turn import Turn, system_instruction

if TYPE_CHECKING:
    from upstream import Gemini

# Gemini's tokenizer falls back to single bytes, so a text never makes more tokens than its
# UTF-8 bytes; each turn adds a few framing tokens.
TOKENS_PER_TURN = 8


def weighted(tokens: int, weight: Fraction) -> int:
    """`tokens` of a model of `weight` in budget tokens: rounded up, and never 0 for a cost."""
    if tokens <= 0:
        return 0
    return max(1, math.ceil(tokens * weight))


def reservation(turn: Turn, config: Config,
                count_media: Callable[[Attachment], int] | None = None) -> int:
    """The most this request can cost: every input byte of text as a token (the system
    instruction with the user's instructions included), each attachment by Gemini's published
    token rules (text files: bytes; PNG/JPEG/WebP: 258 per 768 px tile from the header's size) or,
    where no rule bounds it (PDF pages, HEIC/HEIF), by `count_media` (Gemini's countTokens),
    plus the longest answer, × the model's weight."""
    texts = [system_instruction(turn, config), *(said.text for said in turn.history),
             turn.message]
    raw = sum(len(text.encode()) + TOKENS_PER_TURN for text in texts) + config.max_output_tokens
    for attachment in turn.all_attachments():
        bound = attachment.token_bound()
        if bound is None:
            if count_media is None:
                raise ValueError("an attachment without a published token rule needs count_media")
            bound = count_media(attachment) + TOKENS_PER_PART
        raw += bound
    return weighted(raw, config.model(turn.model).weight)


@dataclass
class Meter:
    """What one request to Gemini has produced so far, as Gemini itself reported it."""

    usage: dict | None = None  # the latest usageMetadata: inputTokens, outputTokens, totalTokens
    final: bool = False  # the answer (or the prompt's refusal) is complete: usage is the bill
    accepted: bool = False  # Gemini answered the call: from here on it bills
    unknown: bool = False  # a call may have run although no answer was seen (timeout, cut)
    output: list[str] = field(default_factory=list, repr=False)  # model text received

    def record(self, usage: dict | None, text: str, final: bool) -> None:
        self.accepted = True
        self.usage = usage or self.usage
        if text:
            self.output.append(text)
        self.final = self.final or (final and usage is not None)

    def public_usage(self) -> dict:
        usage = self.usage or {}
        return {"inputTokens": usage.get("inputTokens", 0),
                "outputTokens": usage.get("outputTokens", 0)}


class Bill:
    """One answer's charge, from admission to settlement: the one place that reserves, charges
    and frees the stream slot. Used as a context manager around the work:

        with Bill.open(config, quota, gemini, subject, turn) as bill:  # reserved, or refused
            Gemini runs and records what it reports in bill.meter
            bill.settle()  # the quota left, for the answer; leaving the block settles too

    settle() charges what Gemini billed for the meter, exactly once however often it is called
    (then it answers the same). Leaving the block settles, by an exception too: Gemini bills
    only what it accepted. A streamed answer outlives the block: `hand_over()` leaves the
    settlement to the stream (its `done`, and its close() when the response ends).
    """

    def __init__(self, config: Config, quota: Quota, admission: Admission, turn: Turn,
                 count_tokens: Callable[[list[dict]], int]):
        self.meter = Meter()
        self._config, self._quota, self._admission, self._turn = config, quota, admission, turn
        self._count_tokens = count_tokens
        self._lock = threading.Lock()
        self._left: dict | None = None
        self._handed_over = False

    @classmethod
    def open(cls, config: Config, quota: Quota, gemini: Gemini, subject: str,
             turn: Turn) -> Bill:
        """Reserve the most `turn` can cost `subject`, or raise the refusal (429, 503)."""
        if any(attachment.token_bound() is None for attachment in turn.all_attachments()):
            quota.precheck_chat(subject)  # Gemini counts no file of a refused request
        count_media = functools.partial(gemini.count_media, model=turn.model)
        admission = quota.admit_chat(subject, reservation(turn, config, count_media))
        return cls(config, quota, admission, turn,
                   functools.partial(gemini.count_tokens, model=turn.model))

    def settle(self) -> dict:
        """Charge what Gemini bills in place of the reservation and free the stream slot (once);
        returns the quota left: {"requestsLeft", "tokensLeft"}."""
        with self._lock:
            if self._left is None:
                tokens = charge(self.meter, self._turn, self._config, self._count_tokens)
                self._left = self._quota.settle_chat(self._admission, tokens)
            return self._left

    def hand_over(self) -> Bill:
        """The stream settles from here on: leaving the `with` block no longer does."""
        self._handed_over = True
        return self

    def __enter__(self) -> Bill:
        return self

    def __exit__(self, *exc_info) -> None:
        if not self._handed_over:
            self.settle()


def charge(meter: Meter, turn: Turn, config: Config,
           count_tokens: Callable[[list[dict]], int]) -> int | None:
    """The weighted tokens of what Gemini bills for this request; None when they cannot be
    known (the caller then keeps the whole reservation). `count_tokens` counts with the turn's
    model."""
    billed = _billed(meter, turn, config, count_tokens)
    return None if billed is None else weighted(billed, config.model(turn.model).weight)


def _billed(meter: Meter, turn: Turn, config: Config,
            count_tokens: Callable[[list[dict]], int]) -> int | None:
    """The tokens Gemini bills for this request (its own count, unweighted), or None.

    - complete: Gemini's final totalTokenCount;
    - refused with an error status before answering: nothing;
    - cut short (client left, upstream failed, deadline): the input and the output produced so
      far, from the usage already seen, else counted with countTokens;
    - no answer seen although the call may have run: the input and the longest answer.
    """
    usage = meter.usage or {}
    if meter.final:
        return usage.get("totalTokens", 0)
    if not meter.accepted and not meter.unknown:
        return 0
    try:
        input_tokens = usage.get("inputTokens") or count_tokens(
            [_content("user", system_instruction(turn, config)), *turn.contents()])
        if not meter.accepted:
            return input_tokens + config.max_output_tokens
        text = "".join(meter.output)
        produced = count_tokens([_content("model", text)]) if text else 0
        return input_tokens + max(produced, usage.get("totalTokens", 0) - input_tokens)
    except Exception as error:  # noqa: BLE001 - no count: the reservation stays charged
        log.logger.warning("token count failed; the reservation stays charged",
                           extra={"fields": {"error_class": type(error).__name__}})
        return None


def _content(role: str, text: str) -> dict:
    return {"role": role, "parts": [{"text": text}]}
