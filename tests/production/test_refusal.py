"""Refuse to start: each insecure production config makes a real `functions-framework` process
exit non-zero before it ever listens, naming the variable and the rule but never the value.

All processes of the matrix run at once (each one's import of google-genai costs 1-2 s).
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from core.config import ENV_VARIABLES
from stage_function import stage


FUNCTIONS_FRAMEWORK = Path(sys.executable).with_name("functions-framework")
# Only a limit for a process that never exits: a refusing one exits as soon as its imports are
# done, which on a loaded 2-core machine, many at once, took more than 20 s.
START_TIMEOUT_S = 90.0
# Processes started at once: each import is ~1.5 s of CPU.
PARALLEL = 2 * (os.cpu_count() or 2)
SECRET_KEY = "sk-" + secrets.token_urlsafe(40)
GEMINI_API_KEY = "AIza-refusal-" + secrets.token_hex(12)
SECURE_PRODUCTION = {
    "SECRET_KEY": SECRET_KEY,
    "ALLOWED_ORIGINS": "https://app.example.web.app",
    "FIREBASE_PROJECT_ID": "prod-test-project",
    "GEMINI_API_KEY": GEMINI_API_KEY,
    "GEMINI_BASE_URL": "http://127.0.0.1:9",
}
# Variables the functions or the framework read: never inherited from the test's environment.
_FRAMEWORK_PREFIXES = ("GUNICORN_", "FUNCTION_", "FLASK_")
_APP_VARS = ENV_VARIABLES | {"ENTRY_POINT", "LOG_EXECUTION_ID", "PORT", "HOST", "K_SERVICE",
                             "GOOGLE_APPLICATION_CREDENTIALS", "PYTHONPATH"}
# Values that would be a leak if printed (the rule may quote '*' or DEBUG; those are not secrets).
_SECRET_VARS = ("SECRET_KEY", "GEMINI_API_KEY", "FIREBASE_AUTH_EMULATOR_HOST", "ALLOWED_ORIGINS")


@dataclass(frozen=True)
class Case:
    changes: dict  # variable -> new value, or None to remove it
    variable: str
    rule: str  # a fragment of the refusal message
    target: str = "chat"


REFUSALS = {
    "missing_secret_key": Case({"SECRET_KEY": None}, "SECRET_KEY", "required in production"),
    "placeholder_secret_key": Case({"SECRET_KEY": "changeme-Vq81Lp3xWz"}, "SECRET_KEY",
                                   "placeholder"),
    "20_byte_secret_key": Case({"SECRET_KEY": "Kx7Qw2Lm9Pz4Rt6Yv8Bn"}, "SECRET_KEY",
                               "at least 32 bytes"),
    "auth_emulator_host": Case({"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:59187"},
                               "FIREBASE_AUTH_EMULATOR_HOST", "must not be set in production"),
    "origins_missing": Case({"ALLOWED_ORIGINS": None}, "ALLOWED_ORIGINS", "required in production"),
    "origins_wildcard": Case({"ALLOWED_ORIGINS": "*"}, "ALLOWED_ORIGINS", "'*' is refused"),
    "origin_over_http": Case({"ALLOWED_ORIGINS": "http://plain-q3z.example.web.app"},
                             "ALLOWED_ORIGINS", "must use https"),
    "chat_without_gemini_key": Case({"GEMINI_API_KEY": None}, "GEMINI_API_KEY",
                                    "required in production"),
    "debug": Case({"DEBUG": "true"}, "DEBUG", "debug mode must be off"),
    "flask_debug": Case({"FLASK_DEBUG": "1"}, "FLASK_DEBUG", "debug mode must be off"),
    "log_level_debug": Case({"LOG_LEVEL": "DEBUG"}, "LOG_LEVEL", "DEBUG is refused"),
    "gunicorn_log_level_debug": Case({"GUNICORN_LOG_LEVEL": "debug"}, "GUNICORN_LOG_LEVEL",
                                     "refused in production"),
    "auth_missing_secret_key": Case({"SECRET_KEY": None}, "SECRET_KEY", "required in production",
                                    target="auth"),
    "auth_emulator_host_for_auth": Case({"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:59188"},
                                        "FIREBASE_AUTH_EMULATOR_HOST",
                                        "must not be set in production", target="auth"),
    # issue #8, section 4: any value but "" is "set"; whitespace used to pass
    "auth_emulator_host_spaces": Case({"FIREBASE_AUTH_EMULATOR_HOST": "   "},
                                      "FIREBASE_AUTH_EMULATOR_HOST",
                                      "must not be set in production"),
    "firestore_emulator_host_space": Case({"FIRESTORE_EMULATOR_HOST": " "},
                                          "FIRESTORE_EMULATOR_HOST",
                                          "must not be set in production", target="auth"),
    "origins_empty_after_splitting": Case({"ALLOWED_ORIGINS": " , "}, "ALLOWED_ORIGINS",
                                          "lists no origin"),
    "gemini_base_url_plain_http": Case({"GEMINI_BASE_URL": "http://gemini-proxy.zq9.example"},
                                       "GEMINI_BASE_URL", "must use https in production"),
    "secret_key_repeated_pattern": Case({"SECRET_KEY": "0123456789" * 4}, "SECRET_KEY",
                                        "a short pattern repeated"),
    "secret_key_keyboard_walk": Case({"SECRET_KEY": "qwertyuiopasdfghjklzxcvbnm1234567890"},
                                     "SECRET_KEY", "keyboard walk", target="auth"),
    "secret_key_is_the_gemini_key": Case({"SECRET_KEY": GEMINI_API_KEY}, "SECRET_KEY",
                                         "must not equal GEMINI_API_KEY"),
}


@dataclass
class Outcome:
    returncode: int | None  # None: still running at the deadline (then killed)
    output: str
    accepted_connection: bool
    response: tuple[int, dict, bytes] | None = None  # control case: (status, headers, body)


def clean_env(changes: dict) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if name not in _APP_VARS and not name.startswith(_FRAMEWORK_PREFIXES)}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(SECURE_PRODUCTION)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def get_root(port: int) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/")
        reply = connection.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    finally:
        connection.close()


def run_function(source: Path, target: str, env: dict[str, str], out_path: Path,
                 serve_once: bool = False) -> Outcome:
    """Start functions-framework; watch its port until it exits or START_TIMEOUT_S passes.

    With serve_once, the first accepted connection is followed by one GET / before the kill.
    """
    port = free_port()
    argv = [str(FUNCTIONS_FRAMEWORK), "--target", target, "--source", str(source),
            "--port", str(port), "--host", "127.0.0.1"]
    accepted, response = False, None
    with open(out_path, "wb") as out:
        process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while process.poll() is None and time.monotonic() < deadline:
                if accepts(port):
                    accepted = True
                    if serve_once:
                        response = get_root(port)
                        break
                time.sleep(0.05)
        finally:
            stop_group(process)
    returncode = None if serve_once or process.returncode < 0 else process.returncode
    return Outcome(returncode, out_path.read_text(errors="replace"), accepted, response)


def stop_group(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(5)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, ambient_credentials) -> dict[str, Outcome]:
    """Every refusal case plus the secure control, run concurrently, once."""
    root = tmp_path_factory.mktemp("refusal")
    sources = {name: stage(name, root / name) for name in ("chat", "auth")}
    # As on Cloud Functions, credentials exist (production keeps its limits in Firestore).
    adc = {"GOOGLE_APPLICATION_CREDENTIALS": str(ambient_credentials)}
    jobs = {name: (sources[case.target], case.target, {**clean_env(case.changes), **adc}, False)
            for name, case in REFUSALS.items()}
    jobs["secure_control"] = (sources["chat"], "chat", {**clean_env({}), **adc}, True)
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(jobs))) as pool:
        futures = {name: pool.submit(run_function, source, target, env, root / f"{name}.out",
                                     serve_once)
                   for name, (source, target, env, serve_once) in jobs.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_insecure_production_config_refuses_to_start(outcomes, name):
    case, outcome = REFUSALS[name], outcomes[name]
    assert outcome.returncode is not None, f"still running after {START_TIMEOUT_S} s"
    assert outcome.returncode != 0
    assert not outcome.accepted_connection, "it listened before refusing"
    assert f"{case.variable}: " in outcome.output and case.rule in outcome.output, outcome.output
    env = clean_env(case.changes)
    for variable in (*_SECRET_VARS, *case.changes):
        value = env.get(variable)
        if value and len(value) >= 8:
            assert value not in outcome.output, f"the output shows the value of {variable}"


def test_secure_production_config_starts_and_answers_json(outcomes):
    outcome = outcomes["secure_control"]
    assert outcome.accepted_connection, outcome.output
    status, headers, body = outcome.response
    assert status == 405
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Allow"] == "POST, OPTIONS"
    assert json.loads(body)["error"]["code"] == "method_not_allowed"
    for value in (SECRET_KEY, GEMINI_API_KEY):
        assert value not in outcome.output
