"""The local stack on fixed ports: Auth emulator, Gemini stand-in, the three functions, the web
app, and the limits store chat and auth share (redis-server, else the Firestore emulator).

`python devtools/stack.py` serves until Ctrl-C; `python devtools/stack.py token` prints an ID token.
Errors go to stderr without a traceback (exit 1): one line for a port in use or for `token` with
no stack running; a tool that did not start, its message and the tail of its log.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import secrets
import shutil
import signal
import sys

import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from auth_emulator import (FirebaseEmulatorError, sign_in_with_google,  # noqa: E402
                           start_auth_emulator)
from firestore_emulator import FirestoreEmulatorError, start_firestore_emulator  # noqa: E402
from procs import (ROOT, STACK_VARIABLES, port_open, start_function, start_standin,  # noqa: E402
                   start_web)
from redis_server import RedisServerError, start_redis  # noqa: E402

# redis-server on 6380, next to Redis's default: a developer's own redis on 6379 is left alone.
PORTS = {"web": 5000, "auth-emulator": 9099, "firestore-emulator": 8089, "redis": 6380,
         "gemini-standin": 8090, "chat": 8081, "auth": 8082, "health": 8083}
LABELS = {"web": "web app", "auth-emulator": "Firebase Auth emulator",
          "firestore-emulator": "Firestore emulator", "redis": "redis-server",
          "gemini-standin": "Gemini stand-in", "chat": "chat function", "auth": "auth function",
          "health": "health function"}
FUNCTIONS = ("chat", "auth", "health")
PROJECT_ID = "demo-jette"
# The web app as dev.sh serves it (:5000), `npm run dev` (:5173) and `npm run preview` (:4173).
DEV_ORIGINS = ",".join(f"http://{host}:{port}" for port in (5000, 5173, 4173)
                       for host in ("127.0.0.1", "localhost"))
RUN_DIR = ROOT / ".run"
# What the local stack itself decides; .env and the shell cannot change these.
_STACK_OWNED = {"APP_ENV", "FIREBASE_AUTH_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST",
                "FIREBASE_PROJECT_ID", "GEMINI_API_KEY", "GEMINI_BASE_URL"}
# A choice of models (the stand-in knows each), so the web app shows its model picker locally.
# GEMINI_MODELS or GEMINI_MODEL from .env or the shell wins (GEMINI_MODEL alone: that one model).
DEV_MODELS = "gemini-2.5-flash:1,gemini-2.5-flash-lite:0.3,gemini-2.5-pro:8"


def read_dotenv(path: pathlib.Path) -> dict[str, str]:
    """KEY=VALUE lines of `.env` (comments and empty values skipped); the shell wins."""
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            value = value.strip().strip("'\"")
            if sep and key and not key.startswith("#") and value:  # empty means "default"
                values[key.strip()] = value
    # Settings exported in the shell win over .env (e.g. RATE_LIMIT_STORAGE=firestore://...).
    exported = {k: v for k, v in os.environ.items() if k in STACK_VARIABLES and v}
    return {**values, **exported}


def function_env(overrides: dict[str, str],
                 ports: dict[str, int] = PORTS) -> tuple[dict[str, str], bool]:
    """Development settings for the functions; a real GEMINI_API_KEY switches to real Gemini."""
    real_key = overrides.get("GEMINI_API_KEY") or os.environ.get("GEMINI_API_KEY")
    env = {
        "APP_ENV": "development",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_ORIGINS": DEV_ORIGINS,
        "FIREBASE_PROJECT_ID": PROJECT_ID,
        "FIREBASE_AUTH_EMULATOR_HOST": f"127.0.0.1:{ports['auth-emulator']}",
        "GEMINI_API_KEY": real_key or "standin-key",
        **({} if real_key else {"GEMINI_BASE_URL": f"http://127.0.0.1:{ports['gemini-standin']}"}),
        **({} if {"GEMINI_MODELS", "GEMINI_MODEL"} & overrides.keys() else {"GEMINI_MODELS": DEV_MODELS}),
    }
    env.update({k: v for k, v in overrides.items() if k not in _STACK_OWNED})
    return env, bool(real_key)


# The one line the banner prints when chat and auth each count on their own.
MEMORY_SUMMARY = "memory://, per process: GET /api/auth's quota does not count chat's requests"


@dataclasses.dataclass
class Store:
    """Where chat and auth count the rate limits and budgets: `settings` for both functions,
    the store's process if the stack started one, and one line for the banner."""

    settings: dict[str, str]
    service: object | None
    summary: str


def start_store(configured: str | None, ports: dict[str, int] = PORTS,
                run_dir: pathlib.Path = RUN_DIR, which=shutil.which) -> Store:
    """One store shared by chat and auth, so GET /api/auth shows what chat enforces.

    RATE_LIMIT_STORAGE from .env or the shell wins (firestore://… starts the Firestore emulator;
    redis://… is used as is). Otherwise the first that this machine has: redis-server (tiny,
    ~0.1 s), then gcloud's Firestore emulator (needs java, ~5 s), else memory://, where each
    function counts on its own and the summary says so.
    """
    if configured and configured.startswith("firestore://"):
        emulator = _firestore(ports, run_dir)
        return Store({"RATE_LIMIT_STORAGE": configured, "FIRESTORE_EMULATOR_HOST": emulator.host},
                     emulator, f"{configured} (Firestore emulator {emulator.host})")
    if configured:
        summary = MEMORY_SUMMARY if configured.startswith("memory://") else configured
        return Store({"RATE_LIMIT_STORAGE": configured}, None, f"{summary} (RATE_LIMIT_STORAGE)")
    missing = []
    if which("redis-server"):
        try:
            server = start_redis(ports["redis"], log_path=run_dir / "redis-server.log")
            return Store({"RATE_LIMIT_STORAGE": server.url}, server,
                         f"{server.url} (redis-server, shared by chat and auth)")
        except RedisServerError as error:
            missing.append(f"redis-server did not start: {_first_line(error)}")
    else:
        missing.append("no redis-server on PATH")
    if which("gcloud") and which("java"):
        try:
            emulator = _firestore(ports, run_dir)
            return Store({"RATE_LIMIT_STORAGE": "firestore://rate_limits",
                          "FIRESTORE_EMULATOR_HOST": emulator.host}, emulator,
                         f"firestore://rate_limits (Firestore emulator {emulator.host}, "
                         "shared by chat and auth)")
        except FirestoreEmulatorError as error:
            missing.append(f"the Firestore emulator did not start: {_first_line(error)}")
    else:
        missing.append("no gcloud+java for the Firestore emulator")
    return Store({"RATE_LIMIT_STORAGE": "memory://"}, None,
                 f"{MEMORY_SUMMARY} ({', '.join(missing)}; install redis-server to share one)")


def _firestore(ports: dict[str, int], run_dir: pathlib.Path):
    return start_firestore_emulator(ports["firestore-emulator"], PROJECT_ID,
                                    log_path=run_dir / "firestore-emulator.log")


def _first_line(error: Exception) -> str:
    return (str(error).splitlines() or [type(error).__name__])[0]


def start_stack(env: dict[str, str], real_gemini: bool, ports: dict[str, int] = PORTS,
                run_dir: pathlib.Path = RUN_DIR, *, web: bool = True,
                build_dir: pathlib.Path = ROOT / "build" / "functions",
                chunk_delay: float = 0.12, which=shutil.which) -> tuple[list, Store]:
    """Start the Auth emulator, the limits store, the Gemini stand-in (unless real Gemini), the
    three functions and (`web`) the web app; returns what was started, to stop in reverse
    order with stop_stack(), and the store. If one fails, the others are stopped first."""
    started = []
    try:
        started.append(start_auth_emulator(ports["auth-emulator"], PROJECT_ID,
                                           log_path=run_dir / "auth-emulator.log"))
        store = start_store(env.get("RATE_LIMIT_STORAGE"), ports, run_dir, which)
        if store.service is not None:
            started.append(store.service)
        env = {**env, **store.settings}
        if not real_gemini:
            started.append(start_standin(ports["gemini-standin"], run_dir / "gemini-standin.log",
                                         chunk_delay=chunk_delay))
        for name in FUNCTIONS:
            started.append(start_function(name, ports[name], env, run_dir / f"{name}.log",
                                          build_dir))
        if web:
            local = {name: f"http://127.0.0.1:{ports[name]}"
                     for name in (*FUNCTIONS, "auth-emulator")}
            started.append(start_web(ports["web"], local, run_dir / "web.log"))
    except BaseException:
        stop_stack(started)
        raise
    return started, store


def stop_stack(started: list) -> None:
    for process in reversed(started):
        process.stop()


class StackError(RuntimeError):
    """What stops the command, said in one line (no traceback)."""


def check_ports_free(real_gemini: bool, ports: dict[str, int] = PORTS) -> None:
    """Refuse to start over a running stack: the ports the stack listens on, in start order.
    (The limits store's ports are not checked: a taken one falls through to the next store.)"""
    for name in ("auth-emulator", *([] if real_gemini else ["gemini-standin"]), *FUNCTIONS, "web"):
        if port_open(ports[name]):
            raise StackError(f"port {ports[name]} ({LABELS[name]}) is in use — is another "
                             "./scripts/dev.sh running? Stop it first")


def banner(env: dict[str, str], real_gemini: bool, store: Store,
           ports: dict[str, int] = PORTS) -> str:
    """What `serve` prints once everything answers: each URL, and what stands in for what."""
    gemini = "real Gemini (GEMINI_API_KEY)" if real_gemini else \
        f"stand-in http://127.0.0.1:{ports['gemini-standin']}"
    emulators = (f"  Firebase Auth emulator  http://127.0.0.1:{ports['auth-emulator']}  "
                 f"(project {PROJECT_ID})")
    firestore = store.settings.get("FIRESTORE_EMULATOR_HOST")
    if firestore:  # the limits store
        emulators += f"\n  Firestore emulator      http://{firestore}  (project {PROJECT_ID})"
    models = env.get("GEMINI_MODELS") or env.get("GEMINI_MODEL", "gemini-2.5-flash")
    return f"""
Local stack is up (logs in .run/):
  web app http://127.0.0.1:{ports['web']}/      (sign in with the emulator's Google account)
  chat    http://127.0.0.1:{ports['chat']}/      (POST; SSE with Accept: text/event-stream)
  auth    http://127.0.0.1:{ports['auth']}/      (GET who am I, POST /revoke)
  health  http://127.0.0.1:{ports['health']}/      (GET)
{emulators}
  Gemini  {gemini}; models {models}
  Rate limits and budgets  {store.summary}
An ID token for curl:  TOKEN=$(.venv/bin/python devtools/stack.py token)
Ctrl-C stops everything."""


def serve() -> None:
    env, real_gemini = function_env(read_dotenv(ROOT / ".env"))
    check_ports_free(real_gemini)
    started = []

    def stop_all(*_):
        stop_stack(started)
        print("stopped.")
        sys.exit(0)

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    delay = float(os.environ.get("STANDIN_CHUNK_DELAY", "0.12"))  # visible streaming
    try:
        processes, store = start_stack(env, real_gemini, chunk_delay=delay)
    except RuntimeError as error:  # a tool that did not start: its message and its log's tail
        raise StackError(f"{error}\n(logs in {RUN_DIR.relative_to(ROOT)}/)") from None
    started.extend(processes)
    print(banner(env, real_gemini, store), flush=True)
    signal.pause()


def print_token(email: str) -> None:
    host = f"127.0.0.1:{PORTS['auth-emulator']}"
    try:
        session = sign_in_with_google(host, sub=f"dev-{email}", email=email, name="Dev User")
    except requests.RequestException:
        raise StackError(f"no Firebase Auth emulator answers on {host} — is the local stack "
                         "running? Start it with ./scripts/dev.sh") from None
    except FirebaseEmulatorError as error:
        raise StackError(f"the Firebase Auth emulator on {host} refused the sign-in: "
                         f"{_first_line(error)}") from None
    print(session["idToken"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", nargs="?", default="serve", choices=("serve", "token"))
    parser.add_argument("--email", default="dev.user@example.com")
    args = parser.parse_args()
    try:
        serve() if args.command == "serve" else print_token(args.email)
    except StackError as error:
        sys.exit(f"{'dev' if args.command == 'serve' else 'token'}: {error}")


if __name__ == "__main__":
    main()
