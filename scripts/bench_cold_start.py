"""Cold start, measured: process start -> FIRST SUCCESSFUL ANSWER of each function,
side by side with two peers built here: `hello`, a bare functions-framework hello world, and
`sdk-floor`, the same plus `import google.genai` and `import firebase_admin.auth` at module
level (what chat cannot avoid importing). Medians of >= 7 runs, as ratios to the peers.

    .venv/bin/python scripts/bench_cold_start.py [--runs 7] [--only health,chat]
    .venv/bin/python scripts/bench_cold_start.py --importtime chat   # where chat's import time goes

A run starts the staged function in a fresh functions-framework process, exactly as deployed,
and times from Popen until the first request that succeeds: the port is polled every 3 ms until
it accepts, then the real request is sent once: health GET /api/health -> 200 {"status": "ok"};
auth GET /api/auth with a valid ID token -> 200 with that user's uid; chat POST /api/chat (JSON)
-> 200 with the stand-in's reply to the message; the peers GET / -> 200 "ok". Any other answer
fails the whole benchmark with the function's log tail: a failed start is not a timing.

Interleaved: each run starts every variant once, in an order rotated by one per run, so noise
of the (shared) machine hits all alike; one unmeasured round first warms the page cache and
writes the staged code's .pyc files. The services start once, outside every measured time: the
Firebase Auth emulator (auth, chat), the Gemini stand-in (chat; never real Gemini) and gcloud's
Firestore emulator for the +fs variants (limits in Firestore, as in production; the others count
in memory). The functions get the local stack's settings (stack.function_env), none from .env or
the shell. Rate limits stay at their defaults: every run signs in a fresh user, so no run's
limits or budget count against another's.

As deployed: each function and peer runs in a virtualenv of its own requirements.txt only
(hello in health's, which is functions-framework alone; sdk-floor in chat's), built once under
build/bench-venvs/ (pip, from the package index), never in the development .venv, whose extra
packages change what the SDKs import (httpx loads rich and pygments for its command line when
they are installed). The staged sources are compiled to bytecode first, as Google's Functions
Framework buildpack does (`python3 -m compileall -f -q .`). `--python current` runs everything
in this interpreter's environment instead (smoke tests; the ratios then include dev packages).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import pathlib
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from unittest import mock

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "devtools"))

from auth_emulator import sign_in_with_google, start_auth_emulator  # noqa: E402
from firestore_emulator import start_firestore_emulator  # noqa: E402
from procs import free_port, function_environ, launch_function, start_standin  # noqa: E402
from stack import PROJECT_ID, function_env  # noqa: E402
from bench_sources import PEERS, build_sources, function_of, python_of  # noqa: E402

VARIANTS = ("hello", "sdk-floor", "health", "auth", "chat", "auth+fs", "chat+fs")
# variant -> (the peer it is judged against, the largest ratio that meets its goal)
GOALS = {"health": ("hello", 1.05), "auth": ("hello", 1.8), "chat": ("sdk-floor", 1.15),
         "auth+fs": ("hello", 1.8), "chat+fs": ("sdk-floor", 1.15)}
MESSAGE = "Say hello to the cold start benchmark."
FIRESTORE_LIMITS = "firestore://rate_limits"
POLL_S = 0.003
TIMEOUT_S = 60.0
MIN_RUNS = 7
IMPORT_ROW = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (.*)")  # self us, cumulative us, name


class RunFailed(RuntimeError):
    """A start that did not end in a successful answer: the benchmark's result is void."""


def expected(function: str, user: dict | None) -> tuple[str, str, str | dict]:
    """The real first request of `function` (method, path) and the answer that counts as success."""
    if function == "chat":
        return "POST", "/api/chat", {"reply": "Echo: " + MESSAGE}  # the stand-in echoes
    if function == "auth":
        return "GET", "/api/auth", {"uid": user["localId"]}
    if function == "health":
        return "GET", "/api/health", {"status": "ok"}
    return "GET", "/", "ok"


def succeeded(status: int, body: bytes, want: str | dict) -> bool:
    """200 with `want`: the whole text, or (a dict) these fields of the JSON answer."""
    if status != 200 or isinstance(want, str):
        return status == 200 and body == want.encode()
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and all(answer.get(k) == v for k, v in want.items())


def accepts(port: int) -> bool:
    """Whether the port takes a connection now (refused: not yet). A connect() to a closed port
    in the ephemeral range can reach itself: that one does not count."""
    with socket.socket() as sock:
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            return False
        return sock.getsockname() != sock.getpeername()


def ask(port: int, method: str, path: str, user: dict | None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {user['idToken']}"} if user else {}
    body = None
    if method == "POST":
        body = json.dumps({"message": MESSAGE}).encode()
        headers["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def cold_start(variant: str, source: pathlib.Path, bin_dir: pathlib.Path, env: dict[str, str],
               user: dict | None, log_path: pathlib.Path) -> float:
    """Seconds from Popen of a fresh process to the first successful answer."""
    function = function_of(variant)
    target = "hello" if variant in PEERS else function
    method, path, want = expected(function, user)
    port = free_port()
    started = time.perf_counter()
    process = launch_function(variant, target, source, port, env, log_path, bin_dir)
    try:
        while not accepts(port):
            if process.popen.poll() is not None:
                raise RunFailed(f"{variant} exited with {process.popen.returncode}:\n"
                                f"{process.tail()}")
            if time.perf_counter() - started > TIMEOUT_S:
                raise RunFailed(f"{variant} did not listen in {TIMEOUT_S:.0f}s:\n{process.tail()}")
            time.sleep(POLL_S)
        try:
            status, body = ask(port, method, path, user)
        except OSError as error:
            raise RunFailed(f"{variant}: {method} {path} failed ({error}):\n"
                            f"{process.tail()}") from None
        elapsed = time.perf_counter() - started
        if not succeeded(status, body, want):
            raise RunFailed(f"{variant}: {method} {path} -> {status} "
                            f"{body[:300].decode(errors='replace')}\n{process.tail()}")
        return elapsed
    finally:
        process.stop()


def settings_for(variants: list[str], ports: dict[str, int],
                 firestore_host: str) -> dict[str, dict[str, str]]:
    """Each variant's environment: the local stack's (stack.function_env) on these ports, the
    +fs variants with their limits on the Firestore emulator at `firestore_host`."""
    with mock.patch.dict(os.environ):  # restored after; a real key makes function_env pick Gemini
        os.environ.pop("GEMINI_API_KEY", None)
        base, _ = function_env({}, ports)
    firestore = {"RATE_LIMIT_STORAGE": FIRESTORE_LIMITS, "FIRESTORE_EMULATOR_HOST": firestore_host}
    return {v: {**base, **(firestore if v.endswith("+fs") else {})} for v in variants}


def start_services(variants: list[str], logs: pathlib.Path,
                   services: contextlib.ExitStack) -> dict[str, dict[str, str]]:
    """Start what the variants need (each stopped by `services`); return their environments."""
    functions = {function_of(v) for v in variants}
    ports = {"auth-emulator": free_port(), "gemini-standin": free_port()}
    if functions & {"auth", "chat"}:
        emulator = start_auth_emulator(ports["auth-emulator"], PROJECT_ID,
                                       log_path=logs / "auth-emulator.out")
        services.callback(emulator.stop)
    if "chat" in functions:
        standin = start_standin(ports["gemini-standin"], logs / "gemini-standin.log",
                                chunk_delay=0.001)
        services.callback(standin.stop)
    firestore_host = ""
    if any(v.endswith("+fs") for v in variants):
        firestore = start_firestore_emulator(free_port(), PROJECT_ID,
                                             log_path=logs / "firestore-emulator.out")
        services.callback(firestore.stop)
        firestore_host = firestore.host
    return settings_for(variants, ports, firestore_host)


def measure(variants: list[str], runs: int, workdir: pathlib.Path,
            python: str) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {v: [] for v in variants}
    bins = {v: python_of(v, python) for v in variants}
    with contextlib.ExitStack() as services:
        envs = start_services(variants, workdir / "logs", services)
        sources = build_sources(variants, workdir / "build", bins)
        for run in range(-1, runs):  # run -1: the unmeasured warm-up round
            shift = run % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                env, user = envs[variant], None
                if function_of(variant) in ("auth", "chat"):  # a fresh user, signed in untimed
                    name = secrets.token_hex(6)
                    user = sign_in_with_google(env["FIREBASE_AUTH_EMULATOR_HOST"],
                                               sub=f"bench-{name}", email=f"bench.{name}@example.com")
                seconds = cold_start(variant, sources[variant], bins[variant], env, user,
                                     workdir / "logs" / f"{variant}-{run + 1}.log")
                if run >= 0:
                    samples[variant].append(seconds)
    return samples


def ratio(medians: dict[str, float], variant: str, peer: str) -> str:
    return f"{medians[variant] / medians[peer]:.2f}" if peer in medians else "-"


def report(samples: dict[str, list[float]], runs: int) -> None:
    medians = {v: statistics.median(s) for v, s in samples.items()}
    print(f"cold start to the first successful answer: median of {runs} interleaved runs "
          "(this machine); +fs = limits on the Firestore emulator, as in production")
    print(f"{'variant':<10}{'median ms':>10}{'min ms':>8}{'max ms':>8}{'x hello':>9}"
          f"{'x sdk-floor':>13}")
    for variant, values in samples.items():
        print(f"{variant:<10}{medians[variant] * 1000:>10.0f}{min(values) * 1000:>8.0f}"
              f"{max(values) * 1000:>8.0f}{ratio(medians, variant, 'hello'):>9}"
              f"{ratio(medians, variant, 'sdk-floor'):>13}")
    print("goals:")
    for variant, (peer, limit) in GOALS.items():
        if variant in medians:
            value = medians[variant] / medians[peer]
            print(f"  {variant:<8} <= {limit:.2f} x {peer:<10}{value:>6.2f}  "
                  f"{'PASS' if value <= limit else 'MISS'}")


def importtime(variant: str, python: str) -> None:
    """Print the 25 largest cumulative import times of the variant's module, imported after
    functions_framework (as the framework does) with a measured run's environment. What the
    first request imports lazily is not in it: the cold start measures that too."""
    with tempfile.TemporaryDirectory(prefix="bench-importtime-") as tmp:
        bins = {variant: python_of(variant, python)}
        source = build_sources([variant], pathlib.Path(tmp), bins)[variant]
        ports = {"auth-emulator": free_port(), "gemini-standin": free_port()}
        env = settings_for([variant], ports, f"127.0.0.1:{free_port()}")[variant]
        argv = [str(bins[variant] / "python"), "-X", "importtime", "-c",
                "import functions_framework, main"]
        try:  # subprocess.run kills the child on any exception, Ctrl-C included
            result = subprocess.run(argv, env=function_environ(env), cwd=source.parent,
                                    capture_output=True, text=True, timeout=TIMEOUT_S,
                                    stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise RunFailed(f"importing {variant} took over {TIMEOUT_S:.0f}s") from None
    lines = result.stderr.splitlines()
    if result.returncode:
        other = [line for line in lines if not IMPORT_ROW.match(line)]
        raise RunFailed(f"importing {variant} failed:\n" + "\n".join(other[-30:]))
    rows = sorted(((int(m[2]), int(m[1]), m[3].strip()) for m in map(IMPORT_ROW.match, lines)
                   if m), reverse=True)
    total = {name: cumulative / 1000 for cumulative, _, name in rows}  # top level: `main` etc.
    print(f"{variant} (python -X importtime): import main {total['main']:.1f} ms, after import "
          f"functions_framework {total['functions_framework']:.1f} ms; the 25 largest:")
    print(f"{'cumulative ms':>13}{'self ms':>9}  module")
    for cumulative, own, name in rows[:25]:
        print(f"{cumulative / 1000:>13.1f}{own / 1000:>9.1f}  {name}")


def pick(only: str | None) -> list[str]:
    """The variants named (all if none), plus the peers their goals are judged against."""
    if not only:
        return list(VARIANTS)
    picked = {name.strip() for name in only.split(",")}
    unknown = picked - set(VARIANTS)
    if unknown:
        raise ValueError(f"unknown variant {', '.join(sorted(unknown))}; "
                         f"choose from {','.join(VARIANTS)}")
    picked |= {GOALS[v][0] for v in picked if v in GOALS}
    return [v for v in VARIANTS if v in picked]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=MIN_RUNS,
                        help=f"measured runs of each variant (at least {MIN_RUNS})")
    parser.add_argument("--quick", action="store_true",
                        help=f"allow fewer than {MIN_RUNS} runs: a smoke run, its medians mean little")
    parser.add_argument("--only", metavar="A,B", help=f"variants to run, of {','.join(VARIANTS)} "
                        "(the peers their goals compare against are added)")
    parser.add_argument("--python", choices=("deployed", "current"), default="deployed",
                        help="deployed: each variant in a virtualenv of its own requirements.txt "
                        "(default); current: this interpreter's environment")
    parser.add_argument("--importtime", metavar="VARIANT", choices=VARIANTS,
                        help="print where the variant's import time goes, and nothing else")
    args = parser.parse_args(argv)
    if args.runs < 1 or (args.runs < MIN_RUNS and not args.quick):
        parser.error(f"--runs {args.runs}: medians need at least {MIN_RUNS} runs "
                     "(--quick for a smoke run)")
    try:
        variants = pick(args.only)
    except ValueError as error:
        parser.error(str(error))
    try:
        if args.importtime:
            importtime(args.importtime, args.python)
            return 0
        with tempfile.TemporaryDirectory(prefix="bench-cold-start-") as tmp:
            samples = measure(variants, args.runs, pathlib.Path(tmp), args.python)
    except (RuntimeError, subprocess.CalledProcessError) as error:  # a failed run, start or build
        print(f"bench_cold_start: {error}", file=sys.stderr)
        return 1
    report(samples, args.runs)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds: every process stopped
    sys.exit(main())
