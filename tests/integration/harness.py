"""The test harness of the integration suite: the canary registry, the Gemini stand-in's admin
API and a pool of functions-framework processes (one per function and settings).
"""

from __future__ import annotations

import base64
import json
import pathlib
import secrets
import requests
from procs import free_port, start_function  # devtools/ (pytest pythonpath)

ROOT = pathlib.Path(__file__).resolve().parents[2]

PROJECT_ID = "demo-jette"
APP_ORIGIN = "https://app.example.test"
# Secrets planted in every process of the run; none may ever appear in a log line.
CANARY_API_KEY = "canary-gemini-key-" + secrets.token_hex(12)
CANARY_SECRET_KEY = "canary-secret-key-" + secrets.token_hex(16)


class Canaries:
    """Every secret or personal value the run creates; `scan` searches all captured logs."""

    def __init__(self):
        self.values: set[str] = {CANARY_API_KEY, CANARY_SECRET_KEY}

    def add(self, *values: str) -> None:
        self.values.update(v for v in values if v and len(v) >= 8)

    def scan(self, log_dir: pathlib.Path) -> list[str]:
        hits = []
        for path in sorted(log_dir.rglob("*.log")):
            text = path.read_text(errors="replace")
            hits += [f"{path.name}: {value[:24]}…" for value in self.values if value in text]
        return hits


CANARIES = Canaries()


def claims_of(token: str) -> dict:
    """The payload of a JWT, unverified (the tests' own tokens)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class Standin:
    """Admin side of the Gemini stand-in: script failures, read what reached 'Google'."""

    def __init__(self, base_url: str):
        self.base_url = base_url

    def script(self, *steps: dict) -> None:
        requests.post(f"{self.base_url}/_standin/script", json={"steps": list(steps)},
                      timeout=5).raise_for_status()

    def requests(self) -> list[dict]:
        return requests.get(f"{self.base_url}/_standin/requests", timeout=5).json()

    def reset(self) -> None:
        requests.post(f"{self.base_url}/_standin/reset", timeout=5).raise_for_status()


class Functions:
    """functions-framework processes, one per (function, settings), started on first use."""

    def __init__(self, log_dir: pathlib.Path, base_env: dict[str, str]):
        self._log_dir = log_dir
        self._base_env = base_env
        self._running: dict[tuple, tuple[object, str]] = {}
        self._logs: dict[str, pathlib.Path] = {}

    def url(self, name: str, **settings: str) -> str:
        key = (name, tuple(sorted(settings.items())))
        if key not in self._running:
            port = free_port()
            label = f"{name}-{len(self._running)}"
            process = start_function(name, port, {**self._base_env, **settings},
                                     self._log_dir / f"{label}.log", self._log_dir / "build" / label)
            self._running[key] = (process, f"http://127.0.0.1:{port}")
            self._logs[f"http://127.0.0.1:{port}"] = process.log_path
        return self._running[key][1]

    def log_of(self, url: str) -> pathlib.Path:
        return self._logs[url]

    def stop_all(self) -> None:
        for process, _ in self._running.values():
            process.stop()
