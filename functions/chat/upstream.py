"""Gemini through google-genai: one lazy client per instance, a total deadline, and retries
with backoff on 429/5xx only until the first chunk exists (nothing has reached the client yet).
Every call records what Gemini reported into a `billing.Meter`. The turn picks the model (one
of GEMINI_MODELS) and may carry the user's instructions for system_instruction.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterator

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from core import log
from core.config import Config
from core.errors import ApiError

from attachments import Attachment
from billing import Meter
from turn import Turn, system_instruction

MAX_ATTEMPTS = 3
FIRST_BACKOFF_S = 0.5
COUNT_TOKENS_TIMEOUT_S = 10
QUOTA_RETRY_AFTER_S = 30
MEDIA_COUNTS_KEPT = 512  # attachments' token counts remembered per instance (by a hash of the bytes)
# Finish reasons that mean "stopped by a filter"; with no text at all the answer is `blocked`.
FILTERED = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION", "IMAGE_SAFETY"}


@dataclass
class Chunk:
    text: str
    finish_reason: str | None


class Gemini:
    def __init__(self, config: Config):
        self._config = config
        self._client: genai.Client | None = None
        self._lock = threading.Lock()
        # (model, SHA-256 of the bytes) -> Gemini's token count: a history re-sends the same
        # PDF with every turn, and it is counted once. Counts only, never the bytes.
        self._media_tokens: OrderedDict[tuple[str, bytes], int] = OrderedDict()

    def client(self) -> genai.Client:
        """Built on first use, once per instance, safely under concurrent first requests."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    options = types.HttpOptions(base_url=self._config.gemini_base_url,
                                                api_version="v1beta") \
                        if self._config.gemini_base_url else None
                    self._client = genai.Client(api_key=self._config.gemini_api_key,
                                                http_options=options)
        return self._client

    def complete(self, turn: Turn, subject: str, meter: Meter) -> Chunk:
        """One whole answer (JSON mode)."""
        deadline = time.monotonic() + self._config.gemini_timeout_s
        model = self._model(turn)

        def attempt(remaining: float) -> Chunk:
            response = self.client().models.generate_content(
                model=model, contents=turn.contents(),
                config=self._request_config(turn, remaining))
            return read_chunk(response, meter, first=True)

        return self._with_retries(attempt, deadline, subject, meter)

    def open_stream(self, turn: Turn, subject: str,
                    meter: Meter) -> tuple[Chunk, Iterator[Chunk]]:
        """The first chunk (retried as needed) and an iterator over the rest of the answer."""
        deadline = time.monotonic() + self._config.gemini_timeout_s
        model = self._model(turn)

        def attempt(remaining: float) -> tuple[Chunk, Iterator]:
            stream = self.client().models.generate_content_stream(
                model=model, contents=turn.contents(),
                config=self._request_config(turn, remaining))
            try:
                first = next(stream, None)
                if first is None:
                    raise ApiError("upstream_error", reason="empty_stream")
                return read_chunk(first, meter, first=True), stream
            except BaseException:
                stream.close()
                raise

        first, stream = self._with_retries(attempt, deadline, subject, meter)
        return first, _Rest(self._rest(stream, deadline, subject, meter), stream)

    def count_tokens(self, contents: list[dict], model: str | None = None) -> int:
        """Gemini's own count for `contents` with `model` (default: the first of GEMINI_MODELS;
        countTokens is free of charge)."""
        response = self.client().models.count_tokens(
            model=self._config.model(model).id, contents=contents,
            config=types.CountTokensConfig(http_options=types.HttpOptions(
                timeout=COUNT_TOKENS_TIMEOUT_S * 1000)))
        return int(response.total_tokens or 0)

    def count_media(self, attachment: Attachment, subject: str, model: str | None = None) -> int:
        """Gemini's token count for one attachment with `model`, remembered per instance."""
        key = (self._config.model(model).id, hashlib.sha256(attachment.data).digest())
        with self._lock:
            if key in self._media_tokens:
                self._media_tokens.move_to_end(key)
                return self._media_tokens[key]
        try:
            tokens = self.count_tokens([{"role": "user", "parts": [attachment.part()]}], model)
        except Exception as error:
            raise upstream_failure(error, subject) from None
        with self._lock:
            self._media_tokens[key] = tokens
            while len(self._media_tokens) > MEDIA_COUNTS_KEPT:
                self._media_tokens.popitem(last=False)
        return tokens

    def _rest(self, stream, deadline: float, subject: str, meter: Meter) -> Iterator[Chunk]:
        try:
            for response in stream:
                if time.monotonic() > deadline:
                    raise ApiError("timeout", reason="deadline")
                yield read_chunk(response, meter, first=False)
        except ApiError:
            raise
        except Exception as error:
            raise upstream_failure(error, subject, mid_stream=True) from None
        finally:
            stream.close()  # a client that went away stops the upstream call here

    def _model(self, turn: Turn) -> str:
        return self._config.model(turn.model).id  # a listed model only (KeyError otherwise)

    def _request_config(self, turn: Turn, remaining_s: float) -> types.GenerateContentConfig:
        return types.GenerateContentConfig(
            system_instruction=system_instruction(turn, self._config),
            max_output_tokens=self._config.max_output_tokens,
            http_options=types.HttpOptions(timeout=max(1, int(remaining_s * 1000))),
        )

    def _with_retries(self, attempt, deadline: float, subject: str, meter: Meter):
        backoff = FIRST_BACKOFF_S
        for number in range(1, MAX_ATTEMPTS + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise upstream_failure(TimeoutError(), subject)
            try:
                return attempt(remaining)
            except ApiError as refusal:
                log.security_event("upstream_refusal", subject=subject, reason=refusal.reason)
                raise
            except Exception as error:
                if _status(error) is None and not _never_sent(error):
                    meter.unknown = True  # Gemini may have run it: never retried, charged
                wait = backoff * random.uniform(0.8, 1.2)
                if (not _retryable(error) or number == MAX_ATTEMPTS
                        or time.monotonic() + wait >= deadline):
                    raise upstream_failure(error, subject) from None
                log.logger.warning("upstream retry", extra={"fields": {
                    "subject": subject, "attempt": number, "status": _status(error)}})
                time.sleep(wait)
                backoff *= 2
        raise AssertionError("unreachable")


class _Rest:
    """The rest of a stream. close() also closes the upstream call when iteration never
    started (a generator closed before its first step skips its `finally`)."""

    def __init__(self, chunks: Iterator[Chunk], stream):
        self._chunks, self._stream = chunks, stream

    def __iter__(self) -> _Rest:
        return self

    def __next__(self) -> Chunk:
        return next(self._chunks)

    def close(self) -> None:
        try:
            self._chunks.close()
        finally:
            self._stream.close()


def read_chunk(response: types.GenerateContentResponse, meter: Meter, first: bool) -> Chunk:
    """Text and finish reason of one response, recorded with its usage in `meter`; refusals
    become ApiErrors."""
    usage = None
    if response.usage_metadata is not None:
        meta = response.usage_metadata
        usage = {"inputTokens": meta.prompt_token_count or 0,
                 "outputTokens": meta.candidates_token_count or 0,
                 "totalTokens": meta.total_token_count or 0}
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        meter.record(usage, "", final=True)
        raise ApiError("blocked", reason="prompt_blocked")
    if not response.candidates:
        meter.record(usage, "", final=False)
        if first:
            raise ApiError("upstream_error", reason="no_candidates")
        return Chunk("", None)
    candidate = response.candidates[0]
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    text = "".join(part.text for part in parts if part.text and not part.thought)
    finish = _name(candidate.finish_reason)
    meter.record(usage, text, final=finish is not None)
    if first and not text and finish in FILTERED:
        raise ApiError("blocked", reason="answer_blocked")
    return Chunk(text, finish)


def upstream_failure(error: BaseException, subject: str, mid_stream: bool = False) -> ApiError:
    """Map an SDK or transport failure to our error code, and log it without content."""
    status = _status(error)
    if isinstance(error, TimeoutError) or _is_transport(error, "TimeoutException"):
        result = ApiError("timeout", reason="deadline")
    elif status == 429:
        # Gemini's quota is ours, not the user's fault: 503 with an honest Retry-After.
        result = ApiError("unavailable", "The model is busy right now; please try again soon.",
                          retry_after=_retry_delay(error) or QUOTA_RETRY_AFTER_S,
                          reason="upstream_quota")
    else:
        result = ApiError("upstream_error", reason="upstream_status" if status else "connection")
    log.security_event("upstream_error", logging.ERROR, subject=subject, status=status or 0,
                       reason=result.reason, error_class=type(error).__name__,
                       mid_stream=mid_stream)
    return result


def _retryable(error: BaseException) -> bool:
    """Only what Gemini refused with a status, or what never reached it, is tried again: a
    call cut off after it was sent may have run (and been billed)."""
    status = _status(error)
    if status is not None:
        return status == 429 or status >= 500
    return _never_sent(error)


def _never_sent(error: BaseException) -> bool:
    return _is_transport(error, "ConnectError") or _is_transport(error, "ConnectTimeout")


def _status(error: BaseException) -> int | None:
    return error.code if isinstance(error, genai_errors.APIError) else None


def _is_transport(error: BaseException, class_name: str) -> bool:
    # google-genai may use httpx or its fork httpx2: match the exception family by name.
    return any(cls.__name__ == class_name and cls.__module__.startswith("httpx")
               for cls in type(error).__mro__)


def _retry_delay(error: BaseException) -> int | None:
    details = getattr(error, "details", None)
    body = details.get("error", details) if isinstance(details, dict) else {}
    for item in body.get("details", []) if isinstance(body, dict) else []:
        match = re.fullmatch(r"(\d+)(?:\.\d+)?s", str(item.get("retryDelay", "")))
        if match:
            return max(1, int(match.group(1)))
    return None


def _name(reason) -> str | None:
    if reason is None:
        return None
    return getattr(reason, "value", None) or str(reason)
