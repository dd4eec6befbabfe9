"""Gemini through google-genai: one lazy client per instance, a total deadline, and retries
with backoff, only until the first chunk exists (nothing has reached the client yet) and only
of what upstream_errors calls retryable. Every call records what Gemini reported into a
`billing.Meter`. The turn picks the model (one of GEMINI_MODELS) and may carry the user's
instructions for system_instruction.
"""

from __future__ import annotations

import hashlib
import os
import random
import ssl
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterator

import certifi
from google import genai
from google.genai import types

from core import log
from core.config import Config
from core.errors import ApiError

from attachments import Attachment
from billing import Meter
from turn import Turn, system_instruction
from upstream_errors import classify, status_of, upstream_failure

MAX_ATTEMPTS = 3
FIRST_BACKOFF_S = 0.5
COUNT_TOKENS_TIMEOUT_S = 10
# A first attempt starts within this of its deadline's start; a retry, after a backoff of at
# least 0.4 s, never does (_for_attempt).
PRESET_SLACK_S = 0.05
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
        self._clients: dict[bool, genai.Client] = {}  # preset? -> the client
        self._tls: ssl.SSLContext | None = None
        self._lock = threading.Lock()
        # (model, SHA-256 of the bytes) -> Gemini's token count: a history re-sends the same
        # PDF with every turn, and it is counted once. Counts only, never the bytes.
        self._media_tokens: OrderedDict[tuple[str, bytes], int] = OrderedDict()

    def client(self, preset: bool = False) -> genai.Client:
        """Built on first use, once per instance, safely under concurrent first requests. The
        preset one sends SYSTEM_PROMPT, MAX_OUTPUT_TOKENS and the whole GEMINI_TIMEOUT_S with
        every request itself (_for_attempt); the plain one sends what each request says."""
        if preset not in self._clients:
            with self._lock:
                if preset not in self._clients:
                    self._clients[preset] = genai.Client(api_key=self._config.gemini_api_key,
                                                         http_options=self._options(preset))
        return self._clients[preset]

    def _options(self, preset: bool) -> types.HttpOptions:
        if self._tls is None:
            self._tls = _tls_context()
        options: dict = {"client_args": {"verify": self._tls},
                         "async_client_args": {"verify": self._tls, "ssl": self._tls}}
        if self._config.gemini_base_url:
            options.update(base_url=self._config.gemini_base_url, api_version="v1beta")
        if preset:
            options.update(timeout=int(self._config.gemini_timeout_s * 1000), extra_body={
                "systemInstruction": {"parts": [{"text": self._config.system_prompt}]},
                "generationConfig": {"maxOutputTokens": self._config.max_output_tokens}})
        return types.HttpOptions(**options)

    def _for_attempt(self, turn: Turn, remaining_s: float
                     ) -> tuple[genai.Client, types.GenerateContentConfig | None]:
        """The client and the per-request config of one attempt. A first attempt without the
        user's instructions needs no config: the preset client sends the same systemInstruction,
        maxOutputTokens and timeout (the whole deadline), and google-genai spends ~0.35 ms of CPU
        converting any per-request config, and ~20 ms building its schema at an instance's
        first request (scripts/bench_streams.py, scripts/bench_cold_start.py)."""
        if not turn.instructions and self._config.gemini_timeout_s - remaining_s < PRESET_SLACK_S:
            return self.client(preset=True), None
        return self.client(), self._request_config(turn, remaining_s)

    def complete(self, turn: Turn, meter: Meter) -> Chunk:
        """One whole answer (JSON mode)."""
        deadline = time.monotonic() + self._config.gemini_timeout_s
        model = self._model(turn)

        def attempt(remaining: float) -> Chunk:
            client, config = self._for_attempt(turn, remaining)
            response = client.models.generate_content(model=model, contents=turn.contents(),
                                                      config=config)
            return read_chunk(response, meter, first=True)

        return self._with_retries(attempt, deadline, meter)

    def open_stream(self, turn: Turn, meter: Meter) -> tuple[Chunk, Iterator[Chunk]]:
        """The first chunk (retried as needed) and an iterator over the rest of the answer."""
        deadline = time.monotonic() + self._config.gemini_timeout_s
        model = self._model(turn)

        def attempt(remaining: float) -> tuple[Chunk, Iterator]:
            client, config = self._for_attempt(turn, remaining)
            stream = client.models.generate_content_stream(model=model, contents=turn.contents(),
                                                           config=config)
            try:
                first = next(stream, None)
                if first is None:
                    raise ApiError("upstream_error", reason="empty_stream")
                return read_chunk(first, meter, first=True), stream
            except BaseException:
                stream.close()
                raise

        first, stream = self._with_retries(attempt, deadline, meter)
        return first, _Rest(self._rest(stream, deadline, meter), stream)

    def count_tokens(self, contents: list[dict], model: str | None = None) -> int:
        """Gemini's own count for `contents` with `model` (default: the first of GEMINI_MODELS;
        countTokens is free of charge)."""
        response = self.client().models.count_tokens(
            model=self._config.model(model).id, contents=contents,
            config=types.CountTokensConfig(http_options=types.HttpOptions(
                timeout=COUNT_TOKENS_TIMEOUT_S * 1000)))
        return int(response.total_tokens or 0)

    def count_media(self, attachment: Attachment, model: str | None = None) -> int:
        """Gemini's token count for one attachment with `model`, remembered per instance."""
        key = (self._config.model(model).id, hashlib.sha256(attachment.data).digest())
        with self._lock:
            if key in self._media_tokens:
                self._media_tokens.move_to_end(key)
                return self._media_tokens[key]
        try:
            tokens = self.count_tokens([{"role": "user", "parts": [attachment.part()]}], model)
        except Exception as error:
            raise upstream_failure(error) from None
        with self._lock:
            self._media_tokens[key] = tokens
            while len(self._media_tokens) > MEDIA_COUNTS_KEPT:
                self._media_tokens.popitem(last=False)
        return tokens

    def _rest(self, stream, deadline: float, meter: Meter) -> Iterator[Chunk]:
        try:
            for response in stream:
                if time.monotonic() > deadline:
                    raise ApiError("timeout", reason="deadline")
                yield read_chunk(response, meter, first=False)
        except ApiError:
            raise
        except Exception as error:
            raise upstream_failure(error, mid_stream=True) from None
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

    def _with_retries(self, attempt, deadline: float, meter: Meter):
        backoff = FIRST_BACKOFF_S
        for number in range(1, MAX_ATTEMPTS + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise upstream_failure(TimeoutError())
            try:
                return attempt(remaining)
            except ApiError as refusal:
                log.security_event("upstream_refusal", reason=refusal.reason)
                raise
            except Exception as error:
                failure = classify(error)
                if failure.may_have_run:
                    meter.unknown = True  # never retried, and charged as if it ran
                wait = backoff * random.uniform(0.8, 1.2)
                if (not failure.retry or number == MAX_ATTEMPTS
                        or time.monotonic() + wait >= deadline):
                    raise upstream_failure(error) from None
                log.logger.warning("upstream retry", extra={"fields": {
                    "attempt": number, "status": status_of(error)}})
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


def _tls_context() -> ssl.SSLContext:
    """One TLS context for the SDK's HTTP clients (sync and async) and its websocket client,
    which would otherwise each build their own at an instance's first request, loading a CA
    bundle each time (~15 ms apiece of chat's cold start). The CAs are those the SDK picks for
    its websockets: SSL_CERT_FILE / SSL_CERT_DIR when set, else certifi's bundle."""
    return ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE", certifi.where()),
                                      capath=os.environ.get("SSL_CERT_DIR"))


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


def _name(reason) -> str | None:
    if reason is None:
        return None
    return getattr(reason, "value", None) or str(reason)
