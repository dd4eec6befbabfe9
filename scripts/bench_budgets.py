"""The two budget attacks of the security review, replayed against a real local stack (chat in
functions-framework, Auth emulator, Gemini stand-in, redis-server as the shared store), with
what Gemini billed (the stand-in's count) side by side with what the budgets let through.

    .venv/bin/python scripts/bench_budgets.py [--streams 14] [--users 60]

1. Dropped streams: one user with DAILY_TOKEN_BUDGET=40 opens --streams answers in a row, each
   with a 61,663-character prompt, and closes every stream after its first delta.
2. Global race: GLOBAL_DAILY_TOKEN_BUDGET=40 (room for ~3 answers); --users users each send one
   message at the same moment.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import pathlib
import secrets
import sys
import tempfile
import threading

import redis as redis_client
import requests

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "devtools"), str(ROOT / "functions")]

from auth_emulator import sign_in_with_google, start_auth_emulator  # noqa: E402
from procs import free_port, start_function, start_standin  # noqa: E402
from redis_server import start_redis  # noqa: E402

PROJECT = "demo-jette"
PROMPT_CHARS = 61_663


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=14)
    parser.add_argument("--users", type=int, default=60)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        logs = pathlib.Path(tmp)
        services = []
        try:
            standin = start_standin(free_port(), logs / "standin.log", chunk_delay=0.2)
            services.append(standin)
            standin_url = f"http://127.0.0.1:{standin_port(standin)}"
            auth = start_auth_emulator(free_port(), PROJECT, log_path=logs / "auth.out")
            services.append(auth)
            redis = start_redis(free_port(), log_path=logs / "redis.out")
            services.append(redis)
            base = {"APP_ENV": "development", "SECRET_KEY": secrets.token_urlsafe(48),
                    "ALLOWED_ORIGINS": "http://127.0.0.1:5000", "FIREBASE_PROJECT_ID": PROJECT,
                    "FIREBASE_AUTH_EMULATOR_HOST": auth.host, "GEMINI_API_KEY": "bench-key",
                    "GEMINI_BASE_URL": standin_url, "RATE_LIMITS": "100000/minute",
                    "MAX_CONCURRENT_STREAMS_PER_USER": "100", "THREADS": "64",
                    "RATE_LIMIT_STORAGE": f"redis://127.0.0.1:{redis.port}"}

            def chat(label: str, **settings: str) -> str:
                port = free_port()
                services.append(start_function("chat", port, {**base, **settings},
                                               logs / f"{label}.log", logs / "build" / label))
                return f"http://127.0.0.1:{port}/"

            def token() -> str:
                email = f"bench.{secrets.token_hex(4)}@example.com"
                return sign_in_with_google(auth.host, sub=f"google-{email}", email=email)["idToken"]

            url = chat("dropped", DAILY_TOKEN_BUDGET="40", MAX_MESSAGE_CHARS="100000",
                       MAX_REQUEST_BYTES="1048576")
            store = redis_client.Redis(host="127.0.0.1", port=redis.port)
            dropped(url, token(), args.streams, standin_url)
            print(f"  charged to the budgets: {charged(store):,} tokens")
            requests.post(f"{standin_url}/_standin/reset", timeout=5)
            store.flushall()  # a fresh day
            url = chat("race", GLOBAL_DAILY_TOKEN_BUDGET="40")
            race(url, [token() for _ in range(args.users)], standin_url)
            print(f"  charged to the budgets: {charged(store):,} tokens")
        finally:
            for service in reversed(services):
                service.stop()
    return 0


def standin_port(process) -> int:
    return int(process.popen.args[process.popen.args.index("--port") + 1])


def dropped(url: str, token: str, streams: int, standin_url: str) -> None:
    admitted = 0
    for _ in range(streams):
        body = {"message": "word " * (PROMPT_CHARS // 5) + "x" * (PROMPT_CHARS % 5)}
        with requests.post(url, json=body, stream=True, timeout=30, headers={
                "Authorization": f"Bearer {token}", "Accept": "text/event-stream"}) as response:
            if response.status_code == 200:
                admitted += 1
                next(response.iter_content(64))  # the first delta, then hang up
    billed = settled_billing(standin_url, admitted)
    print(f"dropped streams: {streams} sent with {PROMPT_CHARS:,} characters each, user budget 40 "
          f"tokens -> {admitted} admitted, {admitted * PROMPT_CHARS:,} input characters; "
          f"Gemini billed {billed:,} tokens")


def race(url: str, tokens: list[str], standin_url: str) -> None:
    barrier = threading.Barrier(len(tokens))

    def one(token: str) -> int:
        barrier.wait()
        return requests.post(url, json={"message": "Hello there, how are you today?"},
                             headers={"Authorization": f"Bearer {token}"}, timeout=60).status_code

    with concurrent.futures.ThreadPoolExecutor(len(tokens)) as pool:
        statuses = list(pool.map(one, tokens))
    ok = statuses.count(200)
    billed = settled_billing(standin_url, ok)
    print(f"global race: {len(tokens)} users at once, global budget 40 tokens -> {ok} got 200, "
          f"{statuses.count(429)} got 429; Gemini billed {billed:,} tokens")


def charged(store) -> int:
    """The deployment's budget counter for today, once every answer has settled."""
    threading.Event().wait(1.0)
    return sum(int(store.get(key) or 0) for key in store.keys("LIMITS:budget/global/*"))


def settled_billing(standin_url: str, calls: int) -> int:
    """What the stand-in billed, once every generate call it received has ended."""
    for _ in range(100):
        records = [r for r in requests.get(f"{standin_url}/_standin/requests", timeout=5).json()
                   if r["method"] != "countTokens"]
        if len(records) >= calls and all(r["state"] != "in_progress" for r in records):
            break
        threading.Event().wait(0.1)
    return sum(r.get("billed_tokens", 0) for r in records)


if __name__ == "__main__":
    sys.exit(main())
