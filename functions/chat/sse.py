"""Server-sent events for the chat stream: `delta`* then `done`, or `error` if it fails midway.

Every payload is one JSON line (ASCII-escaped), so model text can never forge an event.
"""

from __future__ import annotations

import json
from typing import Callable, Iterator

from core.errors import ApiError

from billing import Meter
from upstream import FILTERED, Chunk


def event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=True)}\n\n".encode()


class ChatEvents:
    """The SSE body of one answer. Closing it, even before the first event was sent, closes
    the upstream stream and then settles the admission (`settle()` is idempotent): a client
    that leaves, or an upstream that fails midway, still pays for what Gemini produced."""

    def __init__(self, first: Chunk, rest: Iterator[Chunk], meter: Meter,
                 settle: Callable[[], dict]):
        self._rest = rest
        self._settle = settle
        self._events = _events(first, rest, meter, settle)

    def __iter__(self) -> ChatEvents:
        return self

    def __next__(self) -> bytes:
        return next(self._events)

    def close(self) -> None:
        try:
            self._events.close()
            self._rest.close()  # a generator that never ran skips its `finally`
        finally:
            self._settle()  # after the response ended: may ask Gemini to count tokens


def _events(first: Chunk, rest: Iterator[Chunk], meter: Meter,
            settle: Callable[[], dict]) -> Iterator[bytes]:
    """`delta`* then `done` (settled, with the quota left), or `error`."""
    finish_reason, sent = first.finish_reason, bool(first.text)
    try:
        if first.text:
            yield event("delta", {"text": first.text})
        for chunk in rest:
            finish_reason = chunk.finish_reason or finish_reason
            if chunk.text:
                sent = True
                yield event("delta", {"text": chunk.text})
        if not sent and finish_reason in FILTERED:
            raise ApiError("blocked", reason="answer_blocked")
        quota = settle()
        yield event("done", {"finishReason": finish_reason or "STOP",
                             "usage": meter.public_usage(), "quota": quota})
    except ApiError as error:
        yield event("error", error.body())
    finally:
        rest.close()
