"""Tests for devtools/firestore_emulator.py: the gcloud Firestore emulator, driven by the real
google-cloud-firestore client exactly as the functions use it."""
from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time

import firestore_emulator as emulator_module  # devtools/ (pytest pythonpath)
import procs
import pytest
from google.api_core import exceptions
from google.cloud import firestore
from procs import free_port, group_members

from tests.helpers import wait_until

PROJECT_ID = "demo-jette"


def port_of(emulator) -> int:
    return int(emulator.host.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def emulator():
    with emulator_module.start_firestore_emulator(free_port(), PROJECT_ID) as running:
        yield running


@pytest.fixture(scope="module")
def client(emulator):
    """The real client pointed at the emulator; the env var is restored afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FIRESTORE_EMULATOR_HOST", emulator.host)
        db = firestore.Client(project=PROJECT_ID)
        yield db
        db.close()


def test_write_and_read_a_document(client):
    ref = client.collection("chats").document("c1")
    ref.set({"title": "hello", "count": 1})
    snapshot = ref.get()
    assert snapshot.exists
    assert snapshot.to_dict() == {"title": "hello", "count": 1}


def test_increment_from_threads_is_exact(client):
    ref = client.collection("counters").document("hits")
    ref.set({"n": 0})
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        list(pool.map(lambda _: ref.update({"n": firestore.Increment(1)}), range(20)))
    assert ref.get().get("n") == 20


def test_reset_empties_the_database(emulator, client):
    client.collection("a").document("1").set({"x": 1})
    client.collection("b").document("2").collection("sub").document("3").set({"y": 2})
    emulator.reset()
    assert list(client.collections()) == []
    assert not client.collection("a").document("1").get().exists


def test_pause_makes_calls_fail_and_resume_recovers(emulator, client):
    ref = client.collection("outage").document("doc")
    ref.set({"v": 1})
    emulator.pause()
    try:
        started = time.monotonic()
        # retry=None: get() retries DeadlineExceeded for up to 300 s by default, even with timeout=1
        with pytest.raises(exceptions.DeadlineExceeded):
            ref.get(timeout=1, retry=None)
        with pytest.raises(exceptions.DeadlineExceeded):  # commits are not retried on a deadline
            ref.set({"v": 2}, timeout=1)
        assert time.monotonic() - started < 5
    finally:
        emulator.resume()
    assert ref.get(timeout=10).exists


def test_refuses_a_port_already_in_use(emulator):
    with pytest.raises(emulator_module.FirestoreEmulatorError, match="already in use"):
        emulator_module.start_firestore_emulator(port_of(emulator))


def test_stop_while_paused_leaves_no_process_and_closes_the_port():
    emulator = emulator_module.start_firestore_emulator(free_port())
    group = emulator.process.popen.pid
    assert "java" in group_members(group)  # gcloud -> bash -> java, all in one group
    emulator.pause()
    emulator.stop()
    emulator.stop()  # idempotent
    assert group_members(group) == []
    # The port is closed shortly after the group is gone (it was still listening right after
    # the check once, on a loaded machine).
    wait_until(lambda: not procs.listening(port_of(emulator)), 10, "the port to close")


def test_command_line_runs_until_ctrl_c_and_leaves_no_process():
    port = free_port()
    cli = subprocess.Popen(
        [sys.executable, emulator_module.__file__, str(port)],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    started_groups: set[int] = set()
    try:
        assert cli.stdout.readline().strip() == f"firestore-emulator ready on 127.0.0.1:{port}"
        children = [pid for pid, ppid, _, _ in procs.live_processes() if ppid == cli.pid]
        started_groups.update(os.getpgid(pid) for pid in children)
        assert len(children) == 1
        assert os.getpgid(children[0]) == children[0]  # the emulator leads its own group
        cli.send_signal(signal.SIGINT)  # Ctrl-C
        assert cli.wait(timeout=30) == 0
        assert group_members(children[0]) == []
        assert not procs.listening(port)
    finally:
        # The emulator leads a group of its own: a failed run must not leave it behind.
        started_groups.update(group for _, ppid, group, _ in procs.live_processes()
                              if ppid == cli.pid)
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
        for group in started_groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
