"""Start and stop the local stack's processes: each in its own process group, logs to a file,
ready when its port answers. Used by `scripts/dev.sh` and by the tests alike.
"""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

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


class Process:
    """A child process in its own group; `stop()` ends the whole group."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: pathlib.Path,
                 cwd: pathlib.Path = ROOT):
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                      stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

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
        # The leader may be gone while children of its group still run.
        self._signal_group(signal.SIGKILL)
        self._log.close()

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass


def start_function(name: str, port: int, env: dict[str, str], log_path: pathlib.Path,
                   build_dir: pathlib.Path) -> Process:
    """Stage `name` and serve it with functions-framework exactly as Cloud Functions would."""
    source = stage(name, build_dir / name)
    argv = [str(pathlib.Path(sys.executable).parent / "functions-framework"),
            "--target", name, "--source", str(source), "--host", "127.0.0.1", "--port", str(port)]
    clean_env = {k: v for k, v in os.environ.items() if k not in STACK_VARIABLES}
    process = Process(name, argv, {**clean_env, **env, "PYTHONUNBUFFERED": "1"}, log_path,
                      cwd=source.parent)
    process.wait_port(port)
    return process


def start_standin(port: int, log_path: pathlib.Path, chunk_delay: float = 0.05) -> Process:
    argv = [sys.executable, str(ROOT / "devtools" / "gemini_standin.py"), "--port", str(port),
            "--chunk-delay", str(chunk_delay)]
    process = Process("gemini-standin", argv, {**os.environ, "PYTHONUNBUFFERED": "1"}, log_path)
    process.wait_port(port)
    return process


# Variables a function reads: the stack sets them explicitly, never inherits them by accident.
STACK_VARIABLES = {
    "APP_ENV", "GEMINI_API_KEY", "GEMINI_MODEL", "GEMINI_BASE_URL", "SECRET_KEY", "REQUIRE_AUTH",
    "ALLOWED_ORIGINS", "ALLOWED_EMAILS", "ALLOWED_DOMAINS", "FIREBASE_PROJECT_ID",
    "GOOGLE_CLOUD_PROJECT", "FIREBASE_AUTH_EMULATOR_HOST", "SYSTEM_PROMPT", "MAX_REQUEST_BYTES",
    "MAX_MESSAGE_CHARS", "MAX_HISTORY_MESSAGES", "MAX_OUTPUT_TOKENS", "GEMINI_TIMEOUT_S",
    "CHECK_REVOKED", "CHAT_ENABLED", "TRUSTED_PROXY_HOPS", "LOG_LEVEL", "DEBUG", "FLASK_DEBUG",
    "GUNICORN_LOG_LEVEL", "RATE_LIMITS", "AUTH_RATE_LIMITS", "RATE_LIMIT_STORAGE",
    "DAILY_TOKEN_BUDGET", "GLOBAL_DAILY_TOKEN_BUDGET", "MAX_CONCURRENT_STREAMS_PER_USER",
    "FIRESTORE_EMULATOR_HOST",
}
