"""Run a throwaway redis-server (no persistence) for tests and local use.
Also pauses it (SIGSTOP) to make the store unreachable mid-test."""
from __future__ import annotations

import os
import pathlib
import shutil
import signal
import sys
import tempfile
import time

import redis

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from procs import Process, port_open  # noqa: E402


class RedisServerError(RuntimeError):
    """redis-server is missing or did not start."""


class RedisServer:
    """A running redis-server on 127.0.0.1; stop() or use as a context manager."""

    def __init__(self, process: Process, port: int, workdir: tempfile.TemporaryDirectory):
        self.process = process
        self.port = port
        self.url = f"redis://127.0.0.1:{port}"
        self.log_path = process.log_path
        self._workdir = workdir

    def pause(self) -> None:
        """SIGSTOP the server: connections are accepted but nothing answers."""
        os.killpg(self.process.popen.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.popen.pid, signal.SIGCONT)

    def stop(self) -> None:
        """End the server's process group (idempotent), also while paused."""
        if self.process.popen.poll() is None:
            self.resume()  # if paused: a stopped process only handles SIGTERM once continued
        self.process.stop()
        self._workdir.cleanup()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


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
    try:
        _wait_until_ready(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: RedisServer, timeout: float) -> None:
    client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=1,
                         socket_connect_timeout=1)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if server.process.popen.poll() is not None:
                raise RedisServerError(f"redis-server exited with code "
                                       f"{server.process.popen.returncode}:\n"
                                       f"{server.process.tail()}")
            try:
                if client.ping():
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
    finally:
        client.close()
    raise RedisServerError(f"redis-server not ready on port {server.port} after {timeout:.0f}s:\n"
                           f"{server.process.tail()}")
