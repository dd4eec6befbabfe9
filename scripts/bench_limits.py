"""What a limit check costs: Firestore round trips per chat request and the latency an
admission (+ the charge after the answer) adds, against the Firestore emulator vs memory://.

    .venv/bin/python scripts/bench_limits.py [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "devtools"), str(ROOT / "functions")]

from firestore_emulator import start_firestore_emulator  # noqa: E402
from procs import free_port  # noqa: E402


class RpcCounter:
    """Counts calls on the Firestore client's transport (one call = one round trip)."""

    def __init__(self, api):
        self.calls: list[str] = []
        for name in ("batch_get_documents", "commit", "get_document"):
            original = getattr(api, name)
            setattr(api, name, self._counted(name, original))

    def _counted(self, name, original):
        def call(*args, **kwargs):
            self.calls.append(name)
            result = original(*args, **kwargs)
            return list(result) if name == "batch_get_documents" else result
        return call


def measure(storage: str, requests: int) -> tuple[list[float], list[float], dict]:
    from core.config import load_config
    from core.quota import Quota

    config = load_config("chat", {"APP_ENV": "development", "RATE_LIMIT_STORAGE": storage,
                                  "RATE_LIMITS": "100000/minute", "FIREBASE_PROJECT_ID": "demo-jette",
                                  "GEMINI_API_KEY": "bench"})
    quota = Quota(config)
    counter = None
    if storage.startswith("firestore"):
        counter = RpcCounter(quota._store.storage._client._firestore_api)
    admit_ms, finish_ms, trips = [], [], {}
    for number in range(requests):
        subject = f"uid:bench{number % 10}"
        before = len(counter.calls) if counter else 0
        started = time.perf_counter()
        admission = quota.admit_chat(subject, 120)
        admitted = time.perf_counter()
        middle = len(counter.calls) if counter else 0
        quota.settle_chat(admission, 100)
        done = time.perf_counter()
        admit_ms.append((admitted - started) * 1000)
        finish_ms.append((done - admitted) * 1000)
        if counter:
            trips = {"admission": counter.calls[before:middle],
                     "after the answer": counter.calls[middle:]}
    return admit_ms, finish_ms, trips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        emulator = start_firestore_emulator(free_port(), "demo-jette",
                                            log_path=pathlib.Path(tmp) / "firestore.out")
        os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.host
        try:
            results = {name: measure(uri, args.requests) for name, uri in
                       (("memory://", "memory://"), ("firestore (emulator)", "firestore://bench"))}
        finally:
            emulator.stop()
    print(f"limit check per chat request, {args.requests} sequential requests, medians (ms)")
    print(f"{'storage':<22}{'admission':>11}{'charge':>9}{'p90 admission':>15}")
    for name, (admit, finish, _) in results.items():
        p90 = statistics.quantiles(admit, n=10)[-1]
        print(f"{name:<22}{statistics.median(admit):>11.2f}{statistics.median(finish):>9.2f}"
              f"{p90:>15.2f}")
    trips = results["firestore (emulator)"][2]
    print("Firestore round trips of the last request: "
          + "; ".join(f"{k}: {len(v)} ({', '.join(v)})" for k, v in trips.items()))


if __name__ == "__main__":
    main()
