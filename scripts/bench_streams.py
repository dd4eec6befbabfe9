"""CPU per streamed answer: chat (sign-in and limits on) side by side with two bare google-genai
passthroughs, N concurrent SSE streams on ONE instance (THREADS=N), interleaved runs, medians.

    .venv/bin/python scripts/bench_streams.py [--streams 64 256 512] [--runs 7]
                                               [--store memory|firestore] [--quick]

Every variant is served by functions-framework as deployed and streams, from the Gemini stand-in
(devtools/gemini_standin.py, its own process: not counted), an echo of the message in 10 chunks
100 ms apart:
  threaded  scripts/stream_peers/threaded.py: the message to generate_content_stream, the deltas
            back as SSE (chat's events); no sign-in, no limits; Flask on gunicorn's threads.
  async     scripts/stream_peers/aio.py: the same on functions_framework.aio (uvicorn) with the
            SDK's async client (client.aio).
  chat      functions/chat staged, signed-in users (Firebase Auth emulator, real ID tokens) and
            limits on (memory://, or gcloud's Firestore emulator with --store firestore). A pool
            of 64 users sends the streams, and the limits are set high (RATE_LIMITS 1000000/minute,
            MAX_CONCURRENT_STREAMS_PER_USER 100, budgets 10^12 / 10^13 tokens) so that they are
            checked and charged on every request but never refuse one: what is measured is their
            cost, not a refusal.
The load (scripts/stream_burst.py: N asyncio clients in this process, not counted) sends one POST
per stream with Accept: text/event-stream and reads it whole. An error is a status other than
200, an `error` event, a missing `done`, or a text other than the echo in 10 deltas; any error
makes the exit status 1.
Server CPU = user+sys of the server's process group (gunicorn's arbiter and worker, from
/proc/<pid>/stat) across the burst, after a warm-up burst of N (start-up, imports, thread pools,
connections and the users' first sign-in check excluded); CPU per answer = that / N (the kernel
counts in 1/CLK_TCK s, 10 ms per burst: 0.16 ms per answer at N=64). Peak RSS = the largest
VmHWM in the group (the worker's), reset before each burst. The ratios are medians of each run's
ratio. The emulator's ID tokens are unsigned: Google's certificate list and the RSA check of
production (~0.4 ms per check) are not exercised; core.auth checks a token once until it expires.
Every server starts at once and waits, idle, for its round. Local only (127.0.0.1), at most 512
streams at once.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import pathlib
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
from collections import Counter

import httpx

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "devtools"), str(ROOT / "functions")]

from auth_emulator import sign_in_with_google, start_auth_emulator  # noqa: E402
from core.config import DEFAULT_MODEL  # noqa: E402
from firestore_emulator import start_firestore_emulator  # noqa: E402
from procs import free_port, launch_function, start_function, start_standin  # noqa: E402
from stream_burst import CHUNKS, Burst, Server, burst  # noqa: E402

PROJECT = "demo-jette"
MAX_STREAMS = 512
MIN_RUNS = 7
USERS = 64
CHUNK_DELAY_S = 0.1
PEERS = {"threaded": "threaded.py", "async": "aio.py"}  # in scripts/stream_peers/
VARIANTS = (*PEERS, "chat")


def start_peer(name: str, count: int, standin_url: str, workdir: pathlib.Path) -> Server:
    """A passthrough peer, copied out of the repository (its own folder, as deployed)."""
    folder = workdir / f"{name}-{count}"
    shutil.copytree(ROOT / "scripts" / "stream_peers", folder,
                    ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    env = {"THREADS": str(count), "GEMINI_API_KEY": "bench-key",
           "GEMINI_BASE_URL": standin_url, "BENCH_MODEL": DEFAULT_MODEL}
    process = launch_function(f"{name}-{count}", "passthrough", folder / PEERS[name], port, env,
                              workdir / f"{name}-{count}.log")
    process.wait_port(port)
    return Server(process, f"http://127.0.0.1:{port}/", [])


def start_chat(count: int, env: dict[str, str], workdir: pathlib.Path) -> Server:
    port = free_port()
    process = start_function("chat", port, {**env, "THREADS": str(count)},
                             workdir / f"chat-{count}.log", workdir / f"build-{count}")
    return Server(process, f"http://127.0.0.1:{port}/", [])


def chat_env(standin_url: str, auth_host: str, firestore_host: str | None) -> dict[str, str]:
    """Chat with sign-in and every limit on, set high enough never to refuse (see above); the
    limits in memory://, or in the Firestore emulator at `firestore_host`."""
    env = {"APP_ENV": "development", "SECRET_KEY": secrets.token_urlsafe(48),
           "FIREBASE_PROJECT_ID": PROJECT, "FIREBASE_AUTH_EMULATOR_HOST": auth_host,
           "GEMINI_API_KEY": "bench-key", "GEMINI_BASE_URL": standin_url,
           "RATE_LIMITS": "1000000/minute", "MAX_CONCURRENT_STREAMS_PER_USER": "100",
           "DAILY_TOKEN_BUDGET": str(10**12), "GLOBAL_DAILY_TOKEN_BUDGET": str(10**13),
           "RATE_LIMIT_STORAGE": "memory://"}
    if firestore_host is not None:
        env |= {"RATE_LIMIT_STORAGE": "firestore://bench_limits",
                "FIRESTORE_EMULATOR_HOST": firestore_host}
    return env


def sign_in(auth_host: str, users: int) -> list[str]:
    tag = secrets.token_hex(4)
    return [sign_in_with_google(auth_host, sub=f"bench-{tag}-{n}",
                                email=f"bench.{tag}.{n}@example.com")["idToken"]
            for n in range(users)]


def measure(servers: dict[str, Server], count: int, runs: int, warm_up: int) -> dict:
    for server in servers.values():  # start-up, imports, thread pools: not measured
        burst(server, warm_up)
    samples: dict[str, list[Burst]] = {name: [] for name in servers}
    for _ in range(runs):  # interleaved: machine noise hits every variant alike
        for name, server in servers.items():
            samples[name].append(burst(server, count))
    return samples


def table(count: int, runs: int, samples: dict[str, list[Burst]]) -> str:
    def per_run_ratio(name: str, peer: str) -> float:
        return statistics.median(mine.cpu_per_answer_ms / theirs.cpu_per_answer_ms
                                 for mine, theirs in zip(samples[name], samples[peer]))

    rows = [f"N={count} concurrent streams on one instance (THREADS={count}), {CHUNKS} chunks "
            f"{CHUNK_DELAY_S * 1000:.0f} ms apart; median of {runs} interleaved runs",
            f"{'variant':<10}{'errors':>7}{'first p50 ms':>14}{'first p99 ms':>14}{'wall s':>8}"
            f"{'peak RSS MiB':>14}{'CPU/answer ms':>15}{'x threaded':>12}{'x async':>9}"]
    for name, bursts in samples.items():
        p50 = median(median(b.first_delta_s) * 1000 for b in bursts)
        p99 = median(percentile(b.first_delta_s, 99) * 1000 for b in bursts)
        errors = sum((b.errors for b in bursts), Counter())
        rows.append(f"{name:<10}{errors.total():>7}{p50:>14.0f}{p99:>14.0f}"
                    f"{median(b.wall_s for b in bursts):>8.2f}"
                    f"{median(b.peak_rss_mib for b in bursts):>14.1f}"
                    f"{median(b.cpu_per_answer_ms for b in bursts):>15.2f}"
                    f"{per_run_ratio(name, 'threaded'):>12.2f}{per_run_ratio(name, 'async'):>9.2f}")
        if errors:
            rows.append(f"  {name} errors: " + ", ".join(f"{n} {what}" for what, n in
                                                        errors.most_common()))
    client = median(b.client_cpu_per_answer_ms for bursts in samples.values() for b in bursts)
    rows.append(f"  the load (this process, not counted): {client:.2f} ms CPU per answer")
    return "\n".join(rows)


def median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], rank: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[rank - 1]


def started(futures: dict[object, concurrent.futures.Future], services: list) -> dict:
    """Each future's result once all are done; whatever did start joins `services` (stopped at
    the end) even when another failed, whose error is then raised."""
    concurrent.futures.wait(futures.values())
    services.extend(f.result() for f in futures.values() if f.exception() is None)
    return {name: future.result() for name, future in futures.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[64, 256, 512],
                        help=f"the concurrent streams of each round, 1..{MAX_STREAMS}")
    parser.add_argument("--runs", type=int, default=MIN_RUNS)
    parser.add_argument("--store", choices=("memory", "firestore"), default="memory",
                        help="chat's limits: memory:// or gcloud's Firestore emulator")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: one run after a one-stream warm-up")
    args = parser.parse_args(argv)
    if not all(0 < n <= MAX_STREAMS for n in args.streams):
        parser.error(f"--streams: each between 1 and {MAX_STREAMS}")
    if args.runs < MIN_RUNS and not args.quick:
        parser.error(f"--runs {args.runs}: medians need at least {MIN_RUNS} runs "
                     "(--quick for a smoke run)")
    runs = 1 if args.quick else args.runs
    failed = False
    ports = {name: free_port() for name in ("auth", "standin", "firestore")}
    standin_url = f"http://127.0.0.1:{ports['standin']}"
    firestore_host = f"127.0.0.1:{ports['firestore']}" if args.store == "firestore" else None
    env = chat_env(standin_url, f"127.0.0.1:{ports['auth']}", firestore_host)
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(16) as pool:
        workdir, services = pathlib.Path(tmp), []
        try:
            # Everything starts at once (the Auth emulator takes ~15 s); each round's servers
            # wait, idle, for their turn.
            starting = {
                "auth": pool.submit(start_auth_emulator, ports["auth"], PROJECT,
                                    workdir / "auth.log"),
                "standin": pool.submit(start_standin, ports["standin"], workdir / "standin.log",
                                       CHUNK_DELAY_S),
                **{(name, count): pool.submit(start_peer, name, count, standin_url, workdir)
                   for count in args.streams for name in PEERS},
                **{("chat", count): pool.submit(start_chat, count, env, workdir)
                   for count in args.streams}}
            if firestore_host:
                starting["firestore"] = pool.submit(start_firestore_emulator, ports["firestore"],
                                                    PROJECT, workdir / "firestore.log")
            running = started(starting, services)
            tokens = sign_in(running["auth"].host, min(USERS, max(args.streams)))
            for count in args.streams:
                servers = {name: running[name, count] for name in VARIANTS}
                servers["chat"].tokens = tokens
                samples = measure(servers, count, runs, 1 if args.quick else count)
                for server in servers.values():
                    server.stop()
                httpx.post(f"{standin_url}/_standin/reset", timeout=10)  # its call records
                print(table(count, runs, samples), flush=True)
                failed = failed or any(b.errors for bursts in samples.values() for b in bursts)
        finally:
            for service in reversed(services):
                service.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds: every process stopped
    sys.exit(main())
