"""Start and stop the local stack's processes: each in its own process group, logs to a file,
ready when its port answers. Used by `scripts/dev.sh` and by the tests alike.
"""

from __future__ import annotations

import atexit
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "functions"))

from core.config import ENV_VARIABLES  # noqa: E402
from stage_function import stage  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def listening(port: int) -> bool:
    """Whether any socket listens on `port` (read from /proc: a connect() to a closed port in
    the ephemeral range can connect to itself and look open)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            for row in rows:
                local, state = row.split()[1], row.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    return True
    return False


def http_ok(url: str) -> bool:
    """Whether `url` answers 2xx right now."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return 200 <= response.status < 300
    except OSError:  # refused, reset, timeout, or an HTTP error status
        return False


class Process:
    """A child process in its own group; `stop()` ends the whole group, and so does this
    interpreter's exit for any not stopped by then (a test run cut short by a timeout in a
    fixture's teardown must still leave nothing behind)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: pathlib.Path,
                 cwd: pathlib.Path = ROOT):
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                      stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        _LIVE.add(self)

    def wait_port(self, port: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")
            if port_open(port):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen on {port} in {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the group, SIGKILL after `grace`; idempotent."""
        if self._log.closed:
            return
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait()
        # The leader may be gone while children of its group still run (java under gcloud).
        self._signal_group(signal.SIGKILL)
        deadline = time.monotonic() + grace
        while _group_alive(self.popen.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._log.close()
        _LIVE.discard(self)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass


_LIVE: set[Process] = set()  # started, not stopped yet


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_LIVE):
        process._signal_group(signal.SIGKILL)


class Service:
    """A started tool (emulator, server): its process group and temporary working folder.
    pause()/resume() SIGSTOP/SIGCONT the group to simulate an outage; stop() is idempotent."""

    def __init__(self, process: Process, workdir: tempfile.TemporaryDirectory):
        self.process = process
        self.log_path = process.log_path
        self._workdir = workdir

    def pause(self) -> None:
        os.killpg(self.process.popen.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.popen.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process.popen.poll() is None:
            self.resume()  # a stopped process handles SIGTERM only once continued
        self.process.stop()
        self._workdir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def wait_ready(service: Service, is_ready, timeout: float, error: type[Exception]) -> None:
    """Poll `is_ready()` until true; on exit or timeout stop the service and raise `error`."""
    process = service.process
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise error(f"{process.name} exited with code {process.popen.returncode}:\n"
                            f"{process.tail()}")
            if is_ready():
                return
            time.sleep(0.05)
        raise error(f"{process.name} not ready after {timeout:.0f}s:\n{process.tail()}")
    except BaseException:
        service.stop()
        raise


def serve_until_interrupted(service: Service, ready_line: str) -> int:
    """The command-line mode of a tool: print `ready_line`, run until Ctrl-C or SIGTERM."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Started from a background job, a process inherits SIGINT ignored: Ctrl-C must still stop it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:  # around the whole `with`: a Ctrl-C right after the ready line still stops cleanly
        with service:
            print(ready_line, flush=True)
            while service.process.popen.poll() is None:
                time.sleep(1)
            print(f"{service.process.name} exited:\n{service.process.tail()}", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        return 0


def live_processes() -> list[tuple[int, int, int, str]]:
    """(pid, parent pid, process group, command name) of every live (non-zombie) process,
    read from /proc."""
    processes = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended while we looked
            continue
        name = text[text.index("(") + 1:text.rindex(")")]
        state, ppid, pgrp = text.rsplit(")", 1)[1].split()[:3]
        if state != "Z":
            processes.append((int(stat.parent.name), int(ppid), int(pgrp), name))
    return processes


def group_members(pgid: int) -> list[str]:
    """Command names of the live (non-zombie) processes of the group."""
    return [name for _, _, group, name in live_processes() if group == pgid]


def _group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process of the group is left, read from /proc."""
    return bool(group_members(pgid))


def start_function(name: str, port: int, env: dict[str, str], log_path: pathlib.Path,
                   build_dir: pathlib.Path) -> Process:
    """Stage `name` and serve it with functions-framework exactly as Cloud Functions would."""
    process = launch_function(name, name, stage(name, build_dir / name), port, env, log_path)
    process.wait_port(port)
    return process


def launch_function(name: str, target: str, source: pathlib.Path, port: int, env: dict[str, str],
                    log_path: pathlib.Path, bin_dir: pathlib.Path | None = None) -> Process:
    """functions-framework serving `target` of `source` (its main.py) on 127.0.0.1:port, from
    `bin_dir` (default: this interpreter's), with `env` over this process's environment minus
    every variable a function reads; returns at once, not waiting for the port."""
    bin_dir = bin_dir or pathlib.Path(sys.executable).parent
    argv = [str(bin_dir / "functions-framework"), "--target", target, "--source", str(source),
            "--host", "127.0.0.1", "--port", str(port)]
    return Process(name, argv, function_environ(env), log_path, cwd=source.parent)


def function_environ(env: dict[str, str]) -> dict[str, str]:
    """A function process's environment: `env` over this process's, minus every variable a
    function reads (the stack sets those explicitly, never inherits them by accident)."""
    clean = {k: v for k, v in os.environ.items() if k not in STACK_VARIABLES}
    return {**clean, **env, "PYTHONUNBUFFERED": "1"}


def start_web(port: int, urls: dict[str, str], log_path: pathlib.Path) -> Process:
    """Serve the built web app (hosting/dist) as Firebase Hosting would: `vite preview`
    applies firebase.json's headers and rewrites, proxying /api/* to the local functions.
    `urls`: chat, auth, health, auth-emulator base URLs."""
    env = {**os.environ, "JETTE_CHAT_URL": urls["chat"] + "/", "JETTE_AUTH_FUNCTION_URL": urls["auth"],
           "JETTE_HEALTH_URL": urls["health"], "JETTE_AUTH_EMULATOR_URL": urls["auth-emulator"]}
    argv = [str(ROOT / "hosting" / "node_modules" / ".bin" / "vite"), "preview", "--host",
            "127.0.0.1", "--port", str(port), "--strictPort"]
    process = Process("web", argv, env, log_path, cwd=ROOT / "hosting")
    process.wait_port(port)
    return process


def start_standin(port: int, log_path: pathlib.Path, chunk_delay: float = 0.05) -> Process:
    argv = [sys.executable, str(ROOT / "devtools" / "gemini_standin.py"), "--port", str(port),
            "--chunk-delay", str(chunk_delay)]
    process = Process("gemini-standin", argv, {**os.environ, "PYTHONUNBUFFERED": "1"}, log_path)
    process.wait_port(port)
    return process


# Variables a function reads: the stack sets them explicitly, never inherits them by accident.
STACK_VARIABLES = ENV_VARIABLES
