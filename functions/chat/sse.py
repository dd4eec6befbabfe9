"""Server-sent events for the chat stream: `delta`* then `done`, or `error` if it fails midway.

Every payload is one JSON line (ASCII-escaped), so model text can never forge an event.
"""

from __future__ import annotations

import json
from typing import Iterator

from core.errors import ApiError

from billing import Bill
from upstream import FILTERED, Chunk


def event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=True)}\n\n".encode()


class ChatEvents:
    """The SSE body of one answer, whose bill it settles: before `done` (which carries the quota
    left), and when the response is closed, however it ended — a client that leaves, or an
    upstream that fails midway, still pays for what Gemini produced (the bill settles once).

    `final_status` is how it ended, for the request log (core.http): 200 after `done`, the
    error's status after `error`; None while it runs or if it never got there.
    """

    def __init__(self, first: Chunk, rest: Iterator[Chunk], bill: Bill):
        self._rest, self._bill = rest, bill
        self.final_status: int | None = None
        self._events = self._run(first, rest)

    def __iter__(self) -> ChatEvents:
        return self

    def __next__(self) -> bytes:
        return next(self._events)

    def close(self) -> None:
        try:
            self._events.close()
            self._rest.close()  # a generator that never ran skips its `finally`
        finally:
            self._bill.settle()  # after the upstream call ended: may ask Gemini to count

    def _run(self, first: Chunk, rest: Iterator[Chunk]) -> Iterator[bytes]:
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
            quota = self._bill.settle()
            self.final_status = 200
            yield event("done", {"finishReason": finish_reason or "STOP",
                                 "usage": self._bill.meter.public_usage(), "quota": quota})
        except ApiError as error:
            self.final_status = error.status
            yield event("error", error.body())
        finally:
            rest.close()
