"""Cold start: each staged function imports only what it uses (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

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
