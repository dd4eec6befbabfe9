"""Session fixtures that start the real local stack: the Firebase Auth emulator, the Gemini
stand-in and functions-framework processes; and the whole-run privacy scan of their logs.
"""

from __future__ import annotations

import pathlib
import secrets

import pytest
from auth_emulator import sign_in_with_google, start_auth_emulator  # devtools/ (pytest pythonpath)
from firestore_emulator import start_firestore_emulator
from procs import free_port, start_standin

from tests.integration.harness import (APP_ORIGIN, CANARIES, CANARY_API_KEY, CANARY_SECRET_KEY,
                                       PROJECT_ID, Canaries, Functions, Standin)

_LOG_DIRS: list[pathlib.Path] = []


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("stack-logs")
    _LOG_DIRS.append(path)
    return path


@pytest.fixture(scope="session")
def canaries() -> Canaries:
    return CANARIES


@pytest.fixture(scope="session")
def standin_server(log_dir):
    port = free_port()
    process = start_standin(port, log_dir / "gemini-standin.log", chunk_delay=0.05)
    yield Standin(f"http://127.0.0.1:{port}")
    process.stop()


@pytest.fixture
def standin(standin_server) -> Standin:
    standin_server.reset()
    return standin_server


@pytest.fixture(scope="session")
def auth_emulator(log_dir):
    # Google's stand-in, not our code: its output is kept apart from the logs we promise about.
    emulator = start_auth_emulator(free_port(), PROJECT_ID, log_path=log_dir / "auth-emulator.out")
    yield emulator
    emulator.stop()


class FirestoreStore:
    """The Firestore emulator as the chat functions' shared rate-limit store."""

    COLLECTION = "rate_limits"

    def __init__(self, emulator):
        self.emulator = emulator
        self.settings = {"RATE_LIMIT_STORAGE": f"firestore://{self.COLLECTION}",
                         "FIRESTORE_EMULATOR_HOST": emulator.host}

    def dump(self) -> list[dict]:
        """Every stored document, read back with the real client."""
        from google.cloud import firestore

        with pytest.MonkeyPatch.context() as env:
            env.setenv("FIRESTORE_EMULATOR_HOST", self.emulator.host)
            client = firestore.Client(project=PROJECT_ID)
            return [{"id": snap.id, **snap.to_dict()}
                    for snap in client.collection(self.COLLECTION).stream()]


@pytest.fixture(scope="session")
def firestore(log_dir):
    # Google's stand-in, like the Auth emulator: its output is not one of our logs.
    emulator = start_firestore_emulator(free_port(), PROJECT_ID,
                                        log_path=log_dir / "firestore-emulator.out")
    yield FirestoreStore(emulator)
    emulator.stop()


@pytest.fixture(scope="session")
def redis_server(log_dir):
    from redis_server import start_redis

    server = start_redis(free_port(), log_path=log_dir / "redis-server.out")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def functions(log_dir, standin_server, auth_emulator):
    base_env = {
        "APP_ENV": "development",
        "SECRET_KEY": CANARY_SECRET_KEY,
        "ALLOWED_ORIGINS": f"{APP_ORIGIN},http://localhost:5173",
        "FIREBASE_PROJECT_ID": PROJECT_ID,
        "FIREBASE_AUTH_EMULATOR_HOST": auth_emulator.host,
        "GEMINI_API_KEY": CANARY_API_KEY,
        "GEMINI_BASE_URL": standin_server.base_url,
        "GEMINI_TIMEOUT_S": "10",
    }
    running = Functions(log_dir, base_env)
    yield running
    running.stop_all()


@pytest.fixture(scope="session")
def sign_in(auth_emulator):
    """sign_in(email=..., verified=True) -> ID token of a Google user of the Auth emulator."""

    def sign_in_as(email: str | None = None, verified: bool = True, name: str = "Test Person") -> str:
        email = email or f"person.{secrets.token_hex(4)}@example.com"
        session = sign_in_with_google(auth_emulator.host, sub=f"google-{email}", email=email,
                                      email_verified=verified, name=name)
        CANARIES.add(session["idToken"], session.get("refreshToken", ""), email,
                     session["localId"])
        return session["idToken"]

    return sign_in_as


def pytest_sessionfinish(session, exitstatus):
    """Privacy, whole run: no planted secret, token, e-mail or uid in any captured log."""
    hits = [hit for path in _LOG_DIRS for hit in CANARIES.scan(path)]
    if hits:
        session.exitstatus = 1
        print("\nPRIVACY FAILURE: secrets found in logs:\n  " + "\n  ".join(hits))
