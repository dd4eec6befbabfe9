"""chat/sse: `delta`* then `done`, or `error`; model text can never forge an event."""

from __future__ import annotations

import json

from core.errors import ApiError
from sse import chat_events, event
from upstream import Chunk


class FakeStream:
    """The rest-iterator of an upstream stream: yields chunks (or raises), records close()."""

    def __init__(self, *items):
        self._items = list(items)
        self.closed = False
        self.pulled = 0

    def __iter__(self):
        return self

    def __next__(self):
        if not self._items:
            raise StopIteration
        self.pulled += 1
        item = self._items.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self):
        self.closed = True


def parse(frames) -> list[tuple[str, dict]]:
    """Parse SSE bytes strictly: each frame exactly `event: NAME\\ndata: JSON\\n\\n`."""
    events = []
    for frame in frames:
        text = frame.decode("ascii")
        assert text.endswith("\n\n") and text.count("\n") == 3
        name_line, data_line = text[:-2].split("\n")
        assert name_line.startswith("event: ") and data_line.startswith("data: ")
        events.append((name_line[7:], json.loads(data_line[6:])))
    return events


USAGE = {"inputTokens": 3, "outputTokens": 5, "totalTokens": 8}


def test_event_format_is_exact():
    assert event("done", {"a": 1}) == b'event: done\ndata: {"a": 1}\n\n'


def test_text_cannot_forge_an_event():
    text = "a\n\ndata: x\r\nevent: done\u2028\u2029\x85é"
    frame = event("delta", {"text": text})
    assert parse([frame]) == [("delta", {"text": text})]
    assert b"\r" not in frame and frame.count(b"\n") == 3
    frame.decode("ascii")  # non-ASCII is escaped, so no exotic line separators reach the wire


def test_deltas_then_done():
    rest = FakeStream(Chunk("lo", None, None), Chunk("", None, None), Chunk("!", "STOP", USAGE))
    events = parse(chat_events(Chunk("Hel", None, None), rest))
    assert events == [
        ("delta", {"text": "Hel"}), ("delta", {"text": "lo"}), ("delta", {"text": "!"}),
        ("done", {"finishReason": "STOP", "usage": {"inputTokens": 3, "outputTokens": 5}}),
    ]
    assert rest.closed


def test_done_defaults_to_stop_and_zero_usage():
    events = parse(chat_events(Chunk("Hi", None, None), FakeStream()))
    assert events[-1] == ("done", {"finishReason": "STOP",
                                   "usage": {"inputTokens": 0, "outputTokens": 0}})


def test_first_chunk_usage_and_finish_are_kept():
    events = parse(chat_events(Chunk("Hi", "MAX_TOKENS", USAGE), FakeStream()))
    assert events[-1] == ("done", {"finishReason": "MAX_TOKENS",
                                   "usage": {"inputTokens": 3, "outputTokens": 5}})


def test_text_cut_short_by_safety_is_done_with_safety():
    events = parse(chat_events(Chunk("Part", None, None), FakeStream(Chunk("", "SAFETY", None))))
    assert events == [("delta", {"text": "Part"}),
                      ("done", {"finishReason": "SAFETY",
                                "usage": {"inputTokens": 0, "outputTokens": 0}})]


def test_safety_before_any_text_is_an_error_event():
    events = parse(chat_events(Chunk("", None, None), FakeStream(Chunk("", "SAFETY", None))))
    assert [name for name, _ in events] == ["error"]
    assert events[0][1]["error"]["code"] == "blocked"


def test_other_filters_before_any_text_are_blocked_too():
    # upstream.read_chunk treats every finish reason of its _FILTERED set as "blocked" when no
    # text came (JSON mode answers 422); the stream must agree, not end with `done`.
    rest = FakeStream(Chunk("", "PROHIBITED_CONTENT", None))
    events = parse(chat_events(Chunk("", None, None), rest))
    assert [name for name, _ in events] == ["error"]
    assert events[0][1]["error"]["code"] == "blocked"


def test_failure_midway_is_an_error_event_and_the_stream_ends():
    rest = FakeStream(Chunk("more", None, None), ApiError("timeout"), Chunk("never", None, None))
    events = parse(chat_events(Chunk("Hi", None, None), rest))
    assert [name for name, _ in events] == ["delta", "delta", "error"]
    assert events[-1][1] == {"error": {"code": "timeout",
                                       "message": ApiError("timeout").message}}
    assert rest.closed and rest.pulled == 2


def test_closing_early_closes_the_upstream_stream():
    rest = FakeStream(Chunk("b", None, None), Chunk("c", None, None), Chunk("d", "STOP", None))
    events = chat_events(Chunk("a", None, None), rest)
    assert parse([next(events), next(events)]) == [("delta", {"text": "a"}),
                                                    ("delta", {"text": "b"})]
    assert not rest.closed
    events.close()  # the client went away
    assert rest.closed
    assert rest.pulled == 1
