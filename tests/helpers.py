"""What many tests need: the repository's root, `wait_until` in place of hand-written polling
loops, and the one fake of Gemini's answer stream that chat's unit tests share."""

from __future__ import annotations

import os
import pathlib
import time
from typing import Callable, TypeVar

ROOT = pathlib.Path(__file__).resolve().parents[1]

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 10.0, what: str = "the condition",
               interval: float = 0.05) -> T:
    """Call `condition()` until it returns something truthy, and return that. After `timeout`
    seconds, fail naming `what` (and the last value seen)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} "
                                 f"(last: {value!r})")
        time.sleep(interval)


def opened(meter, text: str, finish: str | None = None, usage: dict | None = None):
    """A chunk Gemini sent, recorded in `meter` as chat/upstream.py records it (text, finish
    reason, usage metadata)."""
    from upstream import Chunk  # functions/chat/, imported flat as staged

    meter.record(usage, text, final=finish is not None)
    return Chunk(text, finish)


class GeminiStream:
    """Gemini's answer after its first chunk, as chat/upstream.py hands it to chat: an iterator
    of chunks, each recorded in the request's meter as it is pulled. Each item is the arguments
    of `opened` — (text, finish, usage) — or an exception to raise at that point. Records how
    many chunks were pulled and whether it was closed."""

    def __init__(self, meter, *items):
        self._meter, self._items = meter, list(items)
        self.pulled = 0
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self):
        if not self._items:
            raise StopIteration
        self.pulled += 1
        item = self._items.pop(0)
        if isinstance(item, BaseException):
            raise item
        return opened(self._meter, *item)

    def close(self) -> None:
        self.closed = True


def left_behind(tmp_path: pathlib.Path) -> list[str]:
    """Live processes whose output goes to a file under `tmp_path`, or named in their argv:
    what the script started (procs.Process sends each one's output to its log)."""
    inside = f"{tmp_path}/"
    found = []
    for proc in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            output = os.readlink(proc / "fd" / "1")
            argv = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:  # ended while we looked, or a zombie
            continue
        if output.startswith(inside) or inside in argv:
            found.append(f"{proc.name}: {argv.replace(chr(0), ' ')}")
    return found
