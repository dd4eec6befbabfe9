"""Peak memory of the chat function when every request is as large as it may be: --concurrency
requests at once (deploy.sh's CONCURRENCY_CHAT, also its THREADS), each a MAX_REQUEST_BYTES body
of attachments (PNG images of incompressible pixels, just under MAX_ATTACHMENT_BYTES each), held
open by a slow Gemini stand-in so they all overlap. Chat runs staged under functions-framework
exactly as deployed; the peak is the kernel's high-water mark (VmHWM) of its processes.

    .venv/bin/python scripts/bench_attachment_memory.py [--concurrency 1 10 20] [--rounds 2]

Prints, per concurrency: the idle RSS, the peak, and the peak's growth per request, and what
the chosen MEMORY_CHAT leaves free at the deployed concurrency.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import json
import os
import pathlib
import secrets
import struct
import sys
import tempfile
import threading
import zlib

import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "devtools"), str(ROOT / "functions")]

from core.config import DEFAULT_MAX_REQUEST_BYTES  # noqa: E402
from procs import free_port, start_function, start_standin  # noqa: E402

ATTACHMENT_BYTES = 5 << 20
MIB = 1 << 20


def png(size: int) -> bytes:
    """A valid PNG of about `size` bytes: random pixels, stored (level-0) zlib, so it does not
    shrink and Gemini's rules see a real width and height."""
    width = 1024
    height = max(1, (size - 200) // (width * 3 + 1))
    rows = b"".join(b"\x00" + secrets.token_bytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 0))
            + chunk(b"IEND", b""))


def largest_body(max_request_bytes: int) -> bytes:
    """A chat request of at most `max_request_bytes`, nearly all of it attachments."""
    count = max(1, (max_request_bytes * 3 // 4) // ATTACHMENT_BYTES + 1)
    while True:
        each = min(ATTACHMENT_BYTES - 4096, (max_request_bytes - 1024) * 3 // 4 // count)
        items = [{"name": f"photo-{n}.png", "mimeType": "image/png",
                  "data": base64.b64encode(png(each)).decode()} for n in range(count)]
        body = json.dumps({"message": "What is in these pictures?",
                           "attachments": items}).encode()
        if len(body) <= max_request_bytes:
            return body
        count += 1


def group_memory(pid: int) -> tuple[int, int]:
    """(RSS, peak RSS) in bytes, summed over `pid`'s process group (gunicorn's arbiter and
    worker)."""
    rss = peak = 0
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pid:
                continue
            status = (entry / "status").read_text()
        except (OSError, ProcessLookupError):
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss += int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
        peak += int(fields.get("VmHWM", "0 kB").split()[0]) * 1024
    return rss, peak


def measure(concurrency: int, rounds: int, body: bytes, logs: pathlib.Path,
            standin_url: str) -> tuple[int, int, list[int]]:
    port = free_port()
    env = {"APP_ENV": "development", "SECRET_KEY": secrets.token_urlsafe(48),
           "ALLOWED_ORIGINS": "http://127.0.0.1:5000", "FIREBASE_PROJECT_ID": "demo-jette",
           "REQUIRE_AUTH": "false", "GEMINI_API_KEY": "bench-key", "GEMINI_BASE_URL": standin_url,
           "RATE_LIMITS": "100000/minute", "RATE_LIMIT_STORAGE": "memory://",
           "DAILY_TOKEN_BUDGET": str(10**9), "GLOBAL_DAILY_TOKEN_BUDGET": str(10**9),
           "MAX_CONCURRENT_STREAMS_PER_USER": "100", "THREADS": str(concurrency),
           "LOG_LEVEL": "WARNING"}
    process = start_function("chat", port, env, logs / f"chat-{concurrency}.log",
                             logs / "build" / str(concurrency))
    url = f"http://127.0.0.1:{port}/"
    try:
        warm = requests.post(url, json={"message": "hi"}, timeout=60)
        assert warm.status_code == 200, warm.text
        idle, _ = group_memory(process.popen.pid)
        statuses: list[int] = []
        for _ in range(rounds):
            barrier = threading.Barrier(concurrency)

            def one(_: int) -> int:
                barrier.wait()
                # SSE: the stand-in streams slowly, so the whole round overlaps
                return requests.post(url, data=body, timeout=300, headers={
                    "Content-Type": "application/json", "Accept": "text/event-stream"}).status_code

            with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
                statuses += list(pool.map(one, range(concurrency)))
        _, peak = group_memory(process.popen.pid)
        return idle, peak, statuses
    finally:
        process.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 20])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-request-bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES)
    parser.add_argument("--memory-mib", type=int, default=4096,
                        help="MEMORY_CHAT to check against (deploy.sh's default, 4Gi)")
    args = parser.parse_args(argv)
    body = largest_body(args.max_request_bytes)
    count = body.count(b'"image/png"')
    print(f"each request: {len(body) / MIB:.2f} MiB of JSON (MAX_REQUEST_BYTES "
          f"{args.max_request_bytes / MIB:.0f} MiB), {count} PNG attachments of "
          f"{len(body) * 3 / 4 / count / MIB:.2f} MiB; {args.rounds} rounds per concurrency")
    print(f"{'concurrency':>11} {'idle RSS':>10} {'peak RSS':>10} {'per request':>12}  statuses")
    with tempfile.TemporaryDirectory() as tmp:
        logs = pathlib.Path(tmp)
        # Slow enough that every request of a round is still open when the last one arrives.
        standin = start_standin(free_port(), logs / "standin.log", chunk_delay=0.5)
        args_ = standin.popen.args
        standin_url = f"http://127.0.0.1:{args_[args_.index('--port') + 1]}"
        results = []
        try:
            for concurrency in args.concurrency:
                idle, peak, statuses = measure(concurrency, args.rounds, body, logs, standin_url)
                per = (peak - idle) / concurrency
                results.append((concurrency, idle, peak, per))
                counts = ", ".join(f"{statuses.count(s)}× {s}" for s in sorted(set(statuses)))
                print(f"{concurrency:>11} {idle / MIB:>8.0f} M {peak / MIB:>8.0f} M "
                      f"{per / MIB:>10.1f} M  {counts}")
        finally:
            standin.stop()
    concurrency, idle, peak, _ = results[-1]
    print(f"MEMORY_CHAT {args.memory_mib} MiB at concurrency {concurrency}: peak {peak / MIB:.0f} "
          f"MiB, {args.memory_mib - peak / MIB:.0f} MiB ({1 - peak / MIB / args.memory_mib:.0%}) "
          "left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
