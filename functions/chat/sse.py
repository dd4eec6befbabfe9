"""Server-sent events for the chat stream: `delta`* then `done`, or `error` if it fails midway.

Every payload is one JSON line (ASCII-escaped), so model text can never forge an event.
"""

from __future__ import annotations

import json
from typing import Callable, Iterator

from core.errors import ApiError

from upstream import FILTERED, Chunk


def event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=True)}\n\n".encode()


class ChatEvents:
    """The SSE body of one answer. Closing it, even before the first event was sent, closes
    the upstream stream and settles the admission (`finish(tokens)` runs exactly once)."""

    def __init__(self, first: Chunk, rest: Iterator[Chunk], finish: Callable[[int], dict]):
        self._events = _events(first, rest, finish)
        self._unstarted = (first, rest, finish)

    def __iter__(self) -> ChatEvents:
        return self

    def __next__(self) -> bytes:
        self._unstarted = None
        return next(self._events)

    def close(self) -> None:
        if self._unstarted is not None:  # a generator that never ran skips its `finally`
            first, rest, finish = self._unstarted
            self._unstarted = None
            rest.close()
            finish(first.total_tokens(len(first.text)))
        self._events.close()


def _events(first: Chunk, rest: Iterator[Chunk], finish: Callable[[int], dict]) -> Iterator[bytes]:
    """`delta`* then `done` (with the quota left), or `error`; charges what was generated."""
    finish_reason, usage, sent_chars = first.finish_reason, first.usage, len(first.text)
    try:
        if first.text:
            yield event("delta", {"text": first.text})
        for chunk in rest:
            finish_reason = chunk.finish_reason or finish_reason
            usage = chunk.usage or usage
            if chunk.text:
                sent_chars += len(chunk.text)
                yield event("delta", {"text": chunk.text})
        if not sent_chars and finish_reason in FILTERED:
            raise ApiError("blocked", reason="answer_blocked")
        summary = Chunk("", finish_reason, usage)
        quota = finish(summary.total_tokens(sent_chars))
        yield event("done", {"finishReason": finish_reason or "STOP",
                             "usage": summary.public_usage(), "quota": quota})
    except ApiError as error:
        yield event("error", error.body())
    finally:
        rest.close()
        # A client that went away, or an error midway, still pays for what was generated.
        finish(Chunk("", None, usage).total_tokens(sent_chars))
