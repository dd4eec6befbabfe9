"""Tests for devtools/redis_server.py: a real redis-server, driven by the real redis client."""
from __future__ import annotations

import concurrent.futures
import importlib.util
import pathlib
import socket
import time

import pytest
import redis

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Load by path: a tests/devtools package would shadow the top-level devtools/ directory.
_spec = importlib.util.spec_from_file_location("redis_server",
                                               ROOT / "devtools" / "redis_server.py")
redis_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(redis_module)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def group_members(pgrp: int) -> list[int]:
    """Live (non-zombie) processes of the group, read from /proc."""
    members = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except OSError:  # the process ended while we looked
            continue
        if state != "Z" and int(group) == pgrp:
            members.append(int(stat.parent.name))
    return members


@pytest.fixture(scope="module")
def server():
    with redis_module.start_redis(free_port()) as running:
        yield running


@pytest.fixture
def client(server):
    connection = redis.Redis.from_url(server.url, socket_timeout=1)
    yield connection
    connection.close()


def test_ping(server, client):
    assert server.url == f"redis://127.0.0.1:{server.port}"
    assert client.ping() is True


def test_incr_from_threads_is_exact(server):
    pool = redis.ConnectionPool.from_url(server.url, max_connections=20)
    counter = redis.Redis(connection_pool=pool)
    counter.delete("hits")
    with concurrent.futures.ThreadPoolExecutor(20) as executor:
        list(executor.map(lambda _: counter.incr("hits"), range(1000)))
    assert int(counter.get("hits")) == 1000
    pool.disconnect()


def test_pause_times_out_and_resume_recovers(server, client):
    client.set("k", "v")
    server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(redis.exceptions.TimeoutError):
            client.get("k")
        assert time.monotonic() - started < 3
    finally:
        server.resume()
    assert client.get("k") == b"v"  # the client reconnects by itself


def test_refuses_a_port_already_in_use(server):
    with pytest.raises(redis_module.RedisServerError, match="already in use"):
        redis_module.start_redis(server.port)


def test_missing_binary_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(redis_module.RedisServerError, match=r"setup\.sh --test-services"):
        redis_module.start_redis(free_port())


def test_stop_while_paused_leaves_no_process_and_closes_the_port():
    server = redis_module.start_redis(free_port())
    group = server.process.popen.pid
    assert group_members(group) == [group]
    server.pause()
    server.stop()
    server.stop()  # idempotent
    assert group_members(group) == []
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", server.port)) != 0
