"""Cold start: each staged function imports only what it uses (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from stage_function import stage

HEAVY = ("google.genai", "firebase_admin", "google.cloud.firestore", "grpc")
PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import main
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in
                        ("google", "firebase_admin", "grpc"))))
"""
ENV = {"APP_ENV": "development", "FIREBASE_PROJECT_ID": "demo-jette", "GEMINI_API_KEY": "x",
       "PATH": "/usr/bin:/bin"}


def loaded_modules(name: str, tmp_path) -> set[str]:
    source = stage(name, tmp_path / name)
    result = subprocess.run([sys.executable, "-c", PROBE, str(source.parent)], env=ENV,
                            capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def heavy(modules: set[str]) -> set[str]:
    return {h for h in HEAVY if any(m == h or m.startswith(h + ".") for m in modules)}


def test_health_imports_neither_gemini_nor_firebase(tmp_path):
    assert heavy(loaded_modules("health", tmp_path)) == set()


def test_auth_imports_firebase_but_not_gemini(tmp_path):
    assert heavy(loaded_modules("auth", tmp_path)) == {"firebase_admin"}


def test_chat_imports_gemini_and_firebase_only(tmp_path):
    assert heavy(loaded_modules("chat", tmp_path)) == {"google.genai", "firebase_admin"}


APP_CHECK_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import flask, main
from core.app_check import verify_app
with flask.Flask("probe").test_request_context("/", headers={"X-Firebase-AppCheck": "x.y.z"}):
    verify_app(flask.request, main.CONFIG)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("firebase_admin", "jwt"))))
"""


@pytest.mark.parametrize("name", ["chat", "auth"])
def test_app_check_off_never_imports_its_verifier(name, tmp_path):
    # APP_CHECK is unset (= off): neither loading the function nor checking a request with a
    # token pulls in firebase_admin.app_check (nor PyJWT, which only it uses).
    source = stage(name, tmp_path / name)
    result = subprocess.run([sys.executable, "-c", APP_CHECK_PROBE, str(source.parent)], env=ENV,
                            capture_output=True, text=True, timeout=60, check=True)
    modules = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "firebase_admin" in modules  # the probe sees firebase-admin itself (ID tokens)
    assert not {m for m in modules if m == "jwt" or m.startswith(("jwt.", "firebase_admin.app_check"))}
