"""Server-sent events for the chat stream: `delta`* then `done`, or `error` if it fails midway.

Every payload is one JSON line (ASCII-escaped), so model text can never forge an event.
"""

from __future__ import annotations

import json
from typing import Iterator

from core.errors import ApiError

from upstream import FILTERED, Chunk


def event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=True)}\n\n".encode()


def chat_events(first: Chunk, rest: Iterator[Chunk]) -> Iterator[bytes]:
    """Encode the answer as it arrives; closing this generator closes the upstream stream."""
    finish, usage, sent_text = first.finish_reason, first.usage, bool(first.text)
    try:
        if first.text:
            yield event("delta", {"text": first.text})
        for chunk in rest:
            if chunk.text:
                sent_text = True
                yield event("delta", {"text": chunk.text})
            finish = chunk.finish_reason or finish
            usage = chunk.usage or usage
        if not sent_text and finish in FILTERED:
            raise ApiError("blocked", reason="answer_blocked")
        summary = Chunk("", finish, usage)
        yield event("done", {"finishReason": finish or "STOP", "usage": summary.public_usage()})
    except ApiError as error:
        yield event("error", error.body())
    finally:
        rest.close()
