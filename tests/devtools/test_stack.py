"""Tests for devtools/stack.py (what ./scripts/dev.sh serves): chat and auth count the limits in
one store, so GET /api/auth shows what chat enforces (issue #9). The stack runs on free ports,
its logs and staged functions in a temporary folder, and leaves no process behind.
"""
from __future__ import annotations

import json
import shutil
import socket

import pytest
import requests
import stack  # devtools/ (pytest pythonpath)
from auth_emulator import sign_in_with_google
from procs import free_port, group_members, http_ok, listening

from tests.helpers import wait_until

CHARGED = 1234  # what "Gemini" (the stand-in) bills for the one answer


def free_ports() -> dict[str, int]:
    """stack.PORTS with a distinct free port each, so a running ./scripts/dev.sh is no obstacle."""
    ports: dict[str, int] = {}
    while len(set(ports.values())) < len(stack.PORTS):
        ports = {name: free_port() for name in stack.PORTS}
    return ports


def group_of(started) -> int:
    """The process group of a started Process or Service."""
    return getattr(started, "process", started).popen.pid


def no_gemini_key(monkeypatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)  # never real Gemini from a test


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        name, data = block.split("\n")
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


def test_auth_shows_what_chat_enforces(tmp_path, monkeypatch, capsys):
    no_gemini_key(monkeypatch)
    ports = free_ports()
    env, real_gemini = stack.function_env({}, ports)  # no RATE_LIMIT_STORAGE: the stack decides
    started, store = stack.start_stack(env, real_gemini, ports, tmp_path / "run", web=False,
                                       build_dir=tmp_path / "build", chunk_delay=0)
    groups = [group_of(process) for process in started]
    try:
        # redis-server is on PATH wherever the tests run (setup.sh --test-services).
        assert store.settings == {"RATE_LIMIT_STORAGE": f"redis://127.0.0.1:{ports['redis']}"}
        assert "shared by chat and auth" in store.summary
        host = f"127.0.0.1:{ports['auth-emulator']}"
        token = sign_in_with_google(host, sub="google-quota", email="quota@example.com",
                                    name="Quota")["idToken"]
        bearer = {"Authorization": f"Bearer {token}"}
        requests.post(f"http://127.0.0.1:{ports['gemini-standin']}/_standin/script", timeout=5,
                      json={"steps": [{"action": "reply", "text": "Counted.", "usage": {
                          "promptTokenCount": 4, "candidatesTokenCount": CHARGED - 4,
                          "totalTokenCount": CHARGED}}]}).raise_for_status()

        chat = requests.post(f"http://127.0.0.1:{ports['chat']}/", json={"message": "hi"},
                             headers={**bearer, "Accept": "text/event-stream"}, timeout=30)
        assert chat.status_code == 200, chat.text
        name, done = sse_events(chat.text)[-1]
        assert name == "done"
        me = requests.get(f"http://127.0.0.1:{ports['auth']}/", headers=bearer, timeout=10)
        assert me.status_code == 200, me.text
        quota = me.json()["quota"]

        # Every window of RATE_LIMITS (default 30/minute;50/hour;200/day) counted the request.
        windows = {window["limit"]: window["remaining"] for window in quota["requests"]}
        assert windows == {"30 per 1 minute": 29, "50 per 1 hour": 49, "200 per 1 day": 199}
        assert min(windows.values()) == done["quota"]["requestsLeft"]
        budget = quota["tokens"]["dailyLimit"]
        assert budget == 200_000
        assert quota["tokens"]["remaining"] == done["quota"]["tokensLeft"] == budget - CHARGED
        # A choice of models by default, so the web app shows its picker (stack.DEV_MODELS).
        assert me.json()["chat"]["models"] == [
            {"id": "gemini-2.5-flash", "weight": 1}, {"id": "gemini-2.5-flash-lite", "weight": 0.3},
            {"id": "gemini-2.5-pro", "weight": 8}]

        # The README's `TOKEN=$(.venv/bin/python devtools/stack.py token)`, then who am I.
        monkeypatch.setitem(stack.PORTS, "auth-emulator", ports["auth-emulator"])
        stack.print_token("token.cli@example.com")
        token = capsys.readouterr().out.strip()
        me = requests.get(f"http://127.0.0.1:{ports['auth']}/", timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        assert me.json()["email"] == "token.cli@example.com"
    finally:
        stack.stop_stack(started)
    assert [group_members(group) for group in groups] == [[] for _ in groups]
    assert [name for name, port in ports.items() if listening(port)] == []


@pytest.mark.parametrize(("dotenv", "expected"), [
    ("", {"GEMINI_MODELS": stack.DEV_MODELS}),
    ("GEMINI_MODELS=\n", {"GEMINI_MODELS": stack.DEV_MODELS}),  # empty means the default
    ("GEMINI_MODELS=gemini-2.5-pro:1\n", {"GEMINI_MODELS": "gemini-2.5-pro:1"}),
    ("GEMINI_MODEL=gemini-2.5-flash-lite\n", {"GEMINI_MODEL": "gemini-2.5-flash-lite"}),
])
def test_the_models_offered_unless_dotenv_says(tmp_path, monkeypatch, dotenv, expected):
    for name in ("GEMINI_MODELS", "GEMINI_MODEL"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / ".env").write_text(dotenv)
    env, _ = stack.function_env(stack.read_dotenv(tmp_path / ".env"), free_ports())
    assert {k: v for k, v in env.items() if k.startswith("GEMINI_MODEL")} == expected


def test_configured_storage_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("RATE_LIMIT_STORAGE=redis://127.0.0.1:1\n")
    assert stack.read_dotenv(tmp_path / ".env")["RATE_LIMIT_STORAGE"] == "redis://127.0.0.1:1"
    monkeypatch.setenv("RATE_LIMIT_STORAGE", "memory://")  # the shell wins over .env
    overrides = stack.read_dotenv(tmp_path / ".env")
    env, _ = stack.function_env(overrides, free_ports())
    assert env["RATE_LIMIT_STORAGE"] == "memory://"

    everything = shutil.which  # redis-server and gcloud are here: the setting still wins
    memory = stack.start_store("memory://", free_ports(), tmp_path, which=everything)
    assert (memory.settings, memory.service) == ({"RATE_LIMIT_STORAGE": "memory://"}, None)
    assert memory.summary == f"{stack.MEMORY_SUMMARY} (RATE_LIMIT_STORAGE)"
    redis = stack.start_store("redis://127.0.0.1:1/3", free_ports(), tmp_path, which=everything)
    assert (redis.settings, redis.service) == ({"RATE_LIMIT_STORAGE": "redis://127.0.0.1:1/3"},
                                               None)


def test_nothing_to_share_falls_back_to_memory_and_says_so(tmp_path):
    store = stack.start_store(None, free_ports(), tmp_path, which=lambda _name: None)
    assert (store.settings, store.service) == ({"RATE_LIMIT_STORAGE": "memory://"}, None)
    assert store.summary.startswith("memory://, per process: GET /api/auth's quota does not "
                                    "count chat's requests (no redis-server on PATH, no "
                                    "gcloud+java for the Firestore emulator;")
    assert "\n" not in store.summary


def test_redis_port_taken_falls_through_with_the_reason(tmp_path):
    ports = free_ports()
    with socket.create_server(("127.0.0.1", ports["redis"])):
        store = stack.start_store(None, ports, tmp_path,
                                  which=lambda name: shutil.which(name) if name == "redis-server"
                                  else None)
    assert (store.settings, store.service) == ({"RATE_LIMIT_STORAGE": "memory://"}, None)
    assert f"redis-server did not start: port {ports['redis']} is already in use" in store.summary


def test_without_redis_server_the_firestore_emulator_is_shared(tmp_path):
    ports = free_ports()
    store = stack.start_store(None, ports, tmp_path,
                              which=lambda name: None if name == "redis-server"
                              else shutil.which(name))
    try:
        host = f"127.0.0.1:{ports['firestore-emulator']}"
        assert store.settings == {"RATE_LIMIT_STORAGE": "firestore://rate_limits",
                                  "FIRESTORE_EMULATOR_HOST": host}
        assert "shared by chat and auth" in store.summary
        assert http_ok(f"http://{host}/")
        group = group_of(store.service)
    finally:
        if store.service is not None:
            store.service.stop()
    assert group_members(group) == []
    # The port is free once the kernel has closed the killed emulator's socket: after the
    # group is gone, shortly (it was still listening right after the check, once, on a loaded
    # machine); a process of its own left holding it would keep it past the wait.
    wait_until(lambda: not listening(ports["firestore-emulator"]), timeout=10,
               what="the Firestore emulator's port free again")

