"""Tests for devtools/redis_server.py: a real redis-server, driven by the real redis client."""
from __future__ import annotations

import concurrent.futures
import time

import procs
import pytest
import redis
import redis_server as redis_module  # devtools/ (pytest pythonpath)
from procs import free_port


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
    assert [pid for pid, _, pgrp, _ in procs.live_processes() if pgrp == group] == [group]
    server.pause()
    server.stop()
    server.stop()  # idempotent
    assert procs.group_members(group) == []
    assert not procs.listening(server.port)
