"""Run a throwaway redis-server (no persistence) for tests and local use.
Also pauses it (SIGSTOP) to make the store unreachable mid-test."""
from __future__ import annotations

import os
import pathlib
import shutil
import sys
import tempfile

import redis

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from procs import Process, Service, port_open, wait_ready  # noqa: E402


class RedisServerError(RuntimeError):
    """redis-server is missing or did not start."""


class RedisServer(Service):
    """A running redis-server on 127.0.0.1; stop() or use as a context manager."""

    def __init__(self, process: Process, port: int, workdir: tempfile.TemporaryDirectory):
        super().__init__(process, workdir)
        self.port = port
        self.url = f"redis://127.0.0.1:{port}"


def start_redis(port: int, log_path: pathlib.Path | None = None, *,
                timeout: float = 10.0) -> RedisServer:
    """Start redis-server on 127.0.0.1:port and return once it answers PING (~0.1 s)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisServerError("redis-server is not on PATH: "
                               "run ./scripts/setup.sh --test-services")
    if port_open(port):
        raise RedisServerError(f"port {port} is already in use on 127.0.0.1")
    workdir = tempfile.TemporaryDirectory(prefix="redis-server-")
    workpath = pathlib.Path(workdir.name)
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(workpath)]
    process = Process("redis-server", argv, dict(os.environ),
                      log_path or workpath / "redis.log", cwd=workpath)
    server = RedisServer(process, port, workdir)
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)
    try:
        wait_ready(server, lambda: _pings(client), timeout, RedisServerError)
    finally:
        client.close()
    return server


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
