"""CPU per request of the auth function, the number behind deploy.sh's CONCURRENCY_AUTH: the
staged function under functions-framework as deployed, signed-in users (Firebase Auth emulator,
real ID tokens), its limits on gcloud's Firestore emulator as in production (AUTH_RATE_LIMITS set
high: counted, never refusing), GET /api/auth from `--concurrency` clients at once.

    .venv/bin/python scripts/bench_auth.py [--requests 400] [--concurrency 10] [--rounds 3]

Server CPU = user+sys of the function's process group across a round, after a warm-up round;
latency = each request's, as its client saw it. One vCPU is used up at 1000 / (CPU per request)
requests/s, and `concurrency` requests at once reach that rate when concurrency is about
rate x latency: more only queue (deploy.env.example).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import pathlib
import statistics
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "devtools"), str(ROOT / "scripts")]

from auth_emulator import sign_in_with_google, start_auth_emulator  # noqa: E402
from firestore_emulator import start_firestore_emulator  # noqa: E402
from procs import free_port, launch_function, live_processes, stage  # noqa: E402
from stack import PROJECT_ID, function_env  # noqa: E402
from stream_burst import cpu_seconds  # noqa: E402

USERS = 20


def measure(requests: int, concurrency: int, rounds: int, workdir: pathlib.Path) -> None:
    port, emulator_port = free_port(), free_port()
    with start_auth_emulator(emulator_port, PROJECT_ID, log_path=workdir / "auth-emulator.out"), \
            start_firestore_emulator(free_port(), PROJECT_ID,
                                     log_path=workdir / "firestore-emulator.out") as firestore:
        env, _ = function_env({}, {"auth-emulator": emulator_port, "gemini-standin": free_port()})
        env.update(RATE_LIMIT_STORAGE="firestore://rate_limits", AUTH_RATE_LIMITS="1000000/minute",
                   FIRESTORE_EMULATOR_HOST=firestore.host)
        process = launch_function("auth", "auth", stage("auth", workdir / "auth"), port, env,
                                  workdir / "auth.log")
        try:
            process.wait_port(port)
            host = f"127.0.0.1:{emulator_port}"
            tokens = [sign_in_with_google(host, sub=f"bench-{n}", email=f"bench.{n}@example.com")
                      ["idToken"] for n in range(USERS)]

            def ask(number: int) -> float:
                started = time.perf_counter()
                request = urllib.request.Request(f"http://127.0.0.1:{port}/api/auth", headers={
                    "Authorization": f"Bearer {tokens[number % USERS]}"})
                with urllib.request.urlopen(request, timeout=30) as response:
                    response.read()
                    if response.status != 200:
                        raise RuntimeError(f"GET /api/auth -> {response.status}")
                return time.perf_counter() - started

            pids = [pid for pid, _, group, _ in live_processes() if group == process.popen.pid]
            print(f"auth: GET /api/auth, {concurrency} at once, limits on the Firestore emulator")
            print(f"{'round':<7}{'CPU/request ms':>15}{'latency p50 ms':>16}{'p99 ms':>8}"
                  f"{'requests/s':>12}")
            with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(ask, range(requests)))  # warm-up: start-up costs excluded
                for number in range(1, rounds + 1):
                    before, started = cpu_seconds(pids), time.perf_counter()
                    latencies = sorted(pool.map(ask, range(requests)))
                    wall, cpu = time.perf_counter() - started, cpu_seconds(pids) - before
                    print(f"{number:<7}{cpu / requests * 1000:>15.2f}"
                          f"{statistics.median(latencies) * 1000:>16.1f}"
                          f"{latencies[int(len(latencies) * 0.99) - 1] * 1000:>8.1f}"
                          f"{requests / wall:>12.0f}")
        finally:
            process.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per round")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if min(args.requests, args.concurrency, args.rounds) < 1 or args.concurrency > 64:
        parser.error("--requests, --rounds >= 1 and --concurrency 1-64")
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
        measure(args.requests, args.concurrency, args.rounds, pathlib.Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
