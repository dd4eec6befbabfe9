"""Cold start, measured: process start -> first HTTP answer for chat, auth and health, side by
side with a bare functions-framework hello world (medians of N runs, ratio to hello world).

    .venv/bin/python scripts/bench_cold_start.py [--runs 7]
"""

from __future__ import annotations

import argparse
import pathlib
import secrets
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "devtools"))

from procs import Process, free_port, stage  # noqa: E402

ENV = {
    "APP_ENV": "development",
    "SECRET_KEY": secrets.token_urlsafe(48),
    "ALLOWED_ORIGINS": "http://localhost:5173",
    "FIREBASE_PROJECT_ID": "demo-jette",
    "GEMINI_API_KEY": "bench-key",
    "GEMINI_BASE_URL": "http://127.0.0.1:9",
}
HELLO = 'def hello(request):\n    return "ok"\n'


# Production keeps limits in Firestore: its client is part of chat's and auth's cold start there.
FIRESTORE = {"RATE_LIMIT_STORAGE": "firestore://rate_limits", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9"}


def first_answer_seconds(target: str, source: pathlib.Path, workdir: pathlib.Path,
                         extra_env: dict[str, str]) -> float:
    port = free_port()
    argv = [str(pathlib.Path(sys.executable).parent / "functions-framework"), "--target", target,
            "--source", str(source), "--host", "127.0.0.1", "--port", str(port)]
    started = time.perf_counter()
    process = Process(target, argv, {**ENV, **extra_env, "PATH": "/usr/bin:/bin"},
                      workdir / f"{target}.log",
                      cwd=source.parent)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).read()
                break
            except urllib.error.HTTPError:
                break  # any HTTP answer counts: chat says 405 to GET, auth 401
            except OSError:
                if process.popen.poll() is not None:
                    raise RuntimeError(f"{target} exited:\n{process.tail()}") from None
                time.sleep(0.005)
        return time.perf_counter() - started
    finally:
        process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = pathlib.Path(tmp)
        hello = workdir / "hello" / "main.py"
        hello.parent.mkdir()
        hello.write_text(HELLO)
        staged = {name: stage(name, workdir / name) for name in ("health", "auth", "chat")}
        variants = {"hello": ("hello", hello, {}), "health": ("health", staged["health"], {}),
                    "auth": ("auth", staged["auth"], {}), "chat": ("chat", staged["chat"], {}),
                    "auth+fs": ("auth", staged["auth"], FIRESTORE),
                    "chat+fs": ("chat", staged["chat"], FIRESTORE)}
        samples = {name: [] for name in variants}
        for _ in range(args.runs):  # interleaved, so machine noise hits every target alike
            for name, (target, source, extra) in variants.items():
                samples[name].append(first_answer_seconds(target, source, workdir, extra))
    base = statistics.median(samples["hello"])
    print(f"cold start to first HTTP answer, median of {args.runs} runs (this machine); "
          "+fs = limits on Firestore, as in production")
    print(f"{'function':<10}{'median ms':>11}{'min ms':>9}{'max ms':>9}{'x hello':>9}")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:<10}{median * 1000:>11.0f}{min(values) * 1000:>9.0f}"
              f"{max(values) * 1000:>9.0f}{median / base:>9.2f}")


if __name__ == "__main__":
    main()
