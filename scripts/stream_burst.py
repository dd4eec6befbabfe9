"""One burst for scripts/bench_streams.py: N concurrent SSE streams against one server, each read
whole and checked, and what the burst cost the server's process group (CPU, peak memory).

The load runs here (asyncio, httpx), so its CPU is never the server's; it is reported apart
only to show it is not the bottleneck.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import time
from collections import Counter
from dataclasses import dataclass

import httpx
from procs import Process, live_processes  # devtools/, on the path of every caller

CHUNKS = 10
# "Echo: stream <n>" and these 27 words: 30 words, which the Gemini stand-in sends 3 a chunk.
WORDS = ("the quick brown fox jumps over the lazy dog while seven curious cats watch "
         "from a sunny window and count every leap it makes with great ease").split()
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SETTLE_S = 0.3  # after the last `done`: the server closes its streams and logs them


@dataclass
class Server:
    """A function served by functions-framework: its process group (gunicorn's arbiter and
    worker), its URL and the ID tokens its streams send in turn (none: no sign-in)."""

    process: Process
    url: str
    tokens: list[str]

    def pids(self) -> list[int]:
        return [pid for pid, _, group, _ in live_processes() if group == self.process.popen.pid]

    def stop(self) -> None:
        self.process.stop()


@dataclass
class Burst:
    errors: Counter  # what went wrong -> how many streams
    first_delta_s: list[float]  # of the whole, correct answers
    wall_s: float
    peak_rss_mib: float  # the largest VmHWM of the group (the worker's)
    cpu_per_answer_ms: float  # the server's user+sys
    client_cpu_per_answer_ms: float  # this process's: the load


def message(number: int) -> str:
    return " ".join(["stream", str(number), *WORDS])


async def one_stream(client: httpx.AsyncClient, server: Server, number: int) -> float | str:
    """Seconds to the first delta of a whole, correct answer; else what went wrong."""
    headers = {"Accept": "text/event-stream"}
    if server.tokens:
        headers["Authorization"] = f"Bearer {server.tokens[number % len(server.tokens)]}"
    started, first, event, text, done = time.perf_counter(), None, None, [], False
    try:
        async with client.stream("POST", server.url, json={"message": message(number)},
                                 headers=headers) as response:
            if response.status_code != 200:
                return f"status {response.status_code}"
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "delta":
                    first = first or time.perf_counter() - started
                    text.append(json.loads(line[6:])["text"])
                elif line.startswith("data: "):
                    if event != "done":
                        return f"{event} event"
                    done = True
    except httpx.HTTPError as error:
        return type(error).__name__
    if not done:
        return "no done event"
    if len(text) != CHUNKS or "".join(text) != "Echo: " + message(number):
        return "wrong answer"
    return first


async def streams(server: Server, count: int) -> tuple[list[float | str], float]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(120.0)) as client:
        started = time.perf_counter()
        results = await asyncio.gather(*(one_stream(client, server, n) for n in range(count)))
        return results, time.perf_counter() - started


def burst(server: Server, count: int) -> Burst:
    """`count` streams at once; the server's CPU and peak RSS over them (read from /proc)."""
    pids = server.pids()
    for pid in pids:
        pathlib.Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
    before, client_before = cpu_seconds(pids), time.process_time()
    results, wall = asyncio.run(streams(server, count))
    client_cpu = time.process_time() - client_before
    time.sleep(SETTLE_S)
    cpu = cpu_seconds(pids) - before
    return Burst(Counter(r for r in results if isinstance(r, str)),
                 [r for r in results if not isinstance(r, str)], wall, peak_rss_mib(pids),
                 cpu / count * 1000, client_cpu / count * 1000)


def cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime: all threads, ended ones too
    return ticks / CLOCK_TICKS


def peak_rss_mib(pids: list[int]) -> float:
    return max(int(line.split()[1]) for pid in pids
               for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmHWM:")) / 1024
