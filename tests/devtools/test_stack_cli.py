"""devtools/stack.py as a command (what ./scripts/dev.sh runs, and the README's `stack.py token`):
its errors are one line on stderr, never a traceback, and its banner names every emulator that
runs. Each command runs in a process of its own, on the ports of this test (stack.PORTS made
free ports), so a running ./scripts/dev.sh is no obstacle. (`stack.py token` against a running
stack: test_stack.py.)
"""
from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys

import stack  # devtools/ (pytest pythonpath)
from procs import free_port, group_members, listening

DEVTOOLS = pathlib.Path(stack.__file__).resolve().parent


def free_ports() -> dict[str, int]:
    ports: dict[str, int] = {}
    while len(set(ports.values())) < len(stack.PORTS):
        ports = {name: free_port() for name in stack.PORTS}
    return ports


def run_stack(ports: dict[str, int], *args: str) -> subprocess.CompletedProcess:
    """`python devtools/stack.py ARGS` with stack.PORTS set to `ports`; leaves no process."""
    code = (f"import sys; sys.argv = ['devtools/stack.py', *{list(args)!r}]; "
            f"sys.path.insert(0, {str(DEVTOOLS)!r}); import stack; "
            f"stack.PORTS.update({ports!r}); stack.main()")
    env = {k: v for k, v in os.environ.items() if k != "GEMINI_API_KEY"}  # never real Gemini
    process = subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.communicate()
    assert group_members(process.pid) == []
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_a_second_dev_sh_says_in_one_line_that_the_port_is_taken():
    ports = free_ports()
    # The first ./scripts/dev.sh holds every port; the Auth emulator's is the first one it needs.
    with socket.create_server(("127.0.0.1", ports["auth-emulator"])):
        result = run_stack(ports)  # `serve`, what ./scripts/dev.sh runs
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr == (f"dev: port {ports['auth-emulator']} (Firebase Auth emulator) "
                                 "is in use — is another ./scripts/dev.sh running? Stop it first\n")
        # Nothing was started: of the stack's ports, only the one taken before listens.
        assert [name for name, port in ports.items() if listening(port)] == ["auth-emulator"]


def test_another_port_taken_is_named_too():
    ports = free_ports()
    with socket.create_server(("127.0.0.1", ports["chat"])):
        result = run_stack(ports)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"dev: port {ports['chat']} (chat function) is in use — is another "
                             "./scripts/dev.sh running? Stop it first\n")


def test_token_without_a_running_stack_says_so_in_one_line():
    ports = free_ports()  # nothing listens on any of them
    result = run_stack(ports, "token")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (f"token: no Firebase Auth emulator answers on 127.0.0.1:"
                             f"{ports['auth-emulator']} — is the local stack running? Start it "
                             "with ./scripts/dev.sh\n")


def store(settings: dict[str, str], summary: str) -> stack.Store:
    return stack.Store(settings, None, summary)


def test_the_banner_names_the_firestore_emulator_when_it_runs():
    ports = free_ports()
    host = f"127.0.0.1:{ports['firestore-emulator']}"
    firestore = store({"RATE_LIMIT_STORAGE": "firestore://rate_limits",
                       "FIRESTORE_EMULATOR_HOST": host}, "firestore://rate_limits (…)")
    lines = stack.banner({}, False, firestore, ports).splitlines()
    auth_line = lines.index(f"  Firebase Auth emulator  http://127.0.0.1:{ports['auth-emulator']}"
                            f"  (project {stack.PROJECT_ID})")
    assert lines[auth_line + 1] == f"  Firestore emulator      http://{host}  (project demo-jette)"
    assert "  Rate limits and budgets  firestore://rate_limits (…)" in lines

    redis = store({"RATE_LIMIT_STORAGE": "redis://127.0.0.1:6380"}, "redis://127.0.0.1:6380 (…)")
    assert "Firestore" not in stack.banner({}, False, redis, ports)
