"""The local stack on fixed ports: Auth emulator, Gemini stand-in and the three functions.

`python devtools/stack.py` serves until Ctrl-C; `python devtools/stack.py token` prints an ID token.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import secrets
import signal
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from auth_emulator import sign_in_with_google, start_auth_emulator  # noqa: E402
from firestore_emulator import start_firestore_emulator  # noqa: E402
from procs import ROOT, STACK_VARIABLES, start_function, start_standin, start_web  # noqa: E402

PORTS = {"web": 5000, "auth-emulator": 9099, "firestore-emulator": 8089, "gemini-standin": 8090,
         "chat": 8081, "auth": 8082, "health": 8083}
PROJECT_ID = "demo-jette"
DEV_ORIGINS = "http://127.0.0.1:5000,http://localhost:5000,http://127.0.0.1:5173,http://localhost:5173"
RUN_DIR = ROOT / ".run"
# What the local stack itself decides; .env and the shell cannot change these.
_STACK_OWNED = {"APP_ENV", "FIREBASE_AUTH_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST",
                "FIREBASE_PROJECT_ID", "GEMINI_API_KEY", "GEMINI_BASE_URL"}


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


def function_env(overrides: dict[str, str]) -> tuple[dict[str, str], bool]:
    """Development settings for the functions; a real GEMINI_API_KEY switches to real Gemini."""
    real_key = overrides.get("GEMINI_API_KEY") or os.environ.get("GEMINI_API_KEY")
    env = {
        "APP_ENV": "development",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_ORIGINS": DEV_ORIGINS,
        "FIREBASE_PROJECT_ID": PROJECT_ID,
        "FIREBASE_AUTH_EMULATOR_HOST": f"127.0.0.1:{PORTS['auth-emulator']}",
        "GEMINI_API_KEY": real_key or "standin-key",
        **({} if real_key else {"GEMINI_BASE_URL": f"http://127.0.0.1:{PORTS['gemini-standin']}"}),
    }
    env.update({k: v for k, v in overrides.items() if k not in _STACK_OWNED})
    return env, bool(real_key)


def serve() -> None:
    env, real_gemini = function_env(read_dotenv(ROOT / ".env"))
    started = []

    def stop_all(*_):
        for process in reversed(started):
            process.stop()
        print("stopped.")
        sys.exit(0)

    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    try:
        started.append(start_auth_emulator(PORTS["auth-emulator"], PROJECT_ID,
                                           log_path=RUN_DIR / "auth-emulator.log"))
        if env.get("RATE_LIMIT_STORAGE", "").startswith("firestore://"):
            # One variable switches the limits to Firestore: then the stack runs its emulator.
            started.append(start_firestore_emulator(PORTS["firestore-emulator"], PROJECT_ID,
                                                    log_path=RUN_DIR / "firestore-emulator.log"))
            env["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{PORTS['firestore-emulator']}"
        if not real_gemini:
            delay = float(os.environ.get("STANDIN_CHUNK_DELAY", "0.12"))  # visible streaming
            started.append(start_standin(PORTS["gemini-standin"], RUN_DIR / "gemini-standin.log",
                                         chunk_delay=delay))
        for name in ("chat", "auth", "health"):
            started.append(start_function(name, PORTS[name], env, RUN_DIR / f"{name}.log",
                                          ROOT / "build" / "functions"))
        local = {name: f"http://127.0.0.1:{PORTS[name]}"
                 for name in ("chat", "auth", "health", "auth-emulator")}
        started.append(start_web(PORTS["web"], local, RUN_DIR / "web.log"))
    except BaseException:
        for process in reversed(started):
            process.stop()
        raise
    gemini = "real Gemini (GEMINI_API_KEY)" if real_gemini else \
        f"stand-in http://127.0.0.1:{PORTS['gemini-standin']}"
    print(f"""
Local stack is up (logs in .run/):
  web app http://127.0.0.1:{PORTS['web']}/      (sign in with the emulator's Google account)
  chat    http://127.0.0.1:{PORTS['chat']}/      (POST; SSE with Accept: text/event-stream)
  auth    http://127.0.0.1:{PORTS['auth']}/      (GET who am I, POST /revoke)
  health  http://127.0.0.1:{PORTS['health']}/      (GET)
  Firebase Auth emulator  http://127.0.0.1:{PORTS['auth-emulator']}  (project {PROJECT_ID})
  Gemini  {gemini}
  Rate limits and budgets  {env.get("RATE_LIMIT_STORAGE", "memory://")}
An ID token for curl:  TOKEN=$(.venv/bin/python devtools/stack.py token)
Ctrl-C stops everything.""", flush=True)
    signal.pause()


def print_token(email: str) -> None:
    host = f"127.0.0.1:{PORTS['auth-emulator']}"
    session = sign_in_with_google(host, sub=f"dev-{email}", email=email, name="Dev User")
    print(session["idToken"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", nargs="?", default="serve", choices=("serve", "token"))
    parser.add_argument("--email", default="dev.user@example.com")
    args = parser.parse_args()
    serve() if args.command == "serve" else print_token(args.email)


if __name__ == "__main__":
    main()
