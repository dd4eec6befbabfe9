"""Run the Firestore emulator that ships with the gcloud CLI, for tests and local use.
Also wipes its data, and pauses it (SIGSTOP) to make the store unreachable mid-test."""
from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import signal
import sys
import tempfile
import time

import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from procs import Process, port_open  # noqa: E402


class FirestoreEmulatorError(RuntimeError):
    """The emulator did not start, or one of its REST calls failed."""


class FirestoreEmulator:
    """A running `gcloud emulators firestore start`; stop() or use as a context manager.
    Its process group is gcloud (Python) -> cloud_firestore_emulator (bash) -> java."""

    def __init__(self, process: Process, port: int, project_id: str,
                 workdir: tempfile.TemporaryDirectory):
        self.process = process
        self.host = f"127.0.0.1:{port}"
        self.project_id = project_id
        self.log_path = process.log_path
        self._workdir = workdir

    def reset(self) -> None:
        """Delete every document of the project's (default) database."""
        url = (f"http://{self.host}/emulator/v1/projects/{self.project_id}"
               "/databases/(default)/documents")
        response = requests.delete(url, timeout=10)
        if not response.ok:
            raise FirestoreEmulatorError(f"DELETE {url} -> {response.status_code}: {response.text}")

    def pause(self) -> None:
        """SIGSTOP the whole group: the port still accepts connections but nothing answers."""
        os.killpg(self.process.popen.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.popen.pid, signal.SIGCONT)

    def stop(self) -> None:
        """End the emulator's whole process group, the java child included (idempotent)."""
        if self.process.popen.poll() is None:
            self.resume()  # if paused: a stopped process only handles SIGTERM once continued
        self.process.stop()  # waits for gcloud only: java may still be exiting (SIGKILLed)
        deadline = time.monotonic() + 10
        while _group_alive(self.process.popen.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._workdir.cleanup()

    def __enter__(self) -> FirestoreEmulator:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process of the group is left, read from /proc."""
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except OSError:  # it ended while we looked
            continue
        if state != "Z" and int(group) == pgid:
            return True
    return False


# gcloud never prompts, phones home or checks for updates; CLOUDSDK_CONFIG (set per run to a temp
# dir) keeps it away from ~/.config/gcloud: no developer login, project, properties or logs.
_QUIET_ENV = {
    "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
    "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
    "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
    "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",  # else it probes the GCE metadata server
    "CLOUDSDK_CORE_DISABLE_FILE_LOGGING": "true",
    "CLOUDSDK_SURVEY_DISABLE_PROMPTS": "true",
}


def start_firestore_emulator(port: int, project_id: str = "demo-jette",
                             log_path: pathlib.Path | None = None, *,
                             timeout: float = 60.0) -> FirestoreEmulator:
    """Start the emulator on 127.0.0.1:port and return once it answers HTTP (~5 s).
    The java child also listens on a few random ports (websocket and internal)."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise FirestoreEmulatorError("gcloud is not on PATH: install the Google Cloud CLI with "
                                     "its cloud-firestore-emulator component")
    if port_open(port):
        raise FirestoreEmulatorError(f"port {port} is already in use on 127.0.0.1")
    workdir = tempfile.TemporaryDirectory(prefix="firestore-emulator-")
    workpath = pathlib.Path(workdir.name)
    argv = [gcloud, "emulators", "firestore", "start", f"--host-port=127.0.0.1:{port}",
            "--database-mode=firestore-native"]
    env = {**os.environ, **_QUIET_ENV, "CLOUDSDK_CONFIG": str(workpath / "gcloud")}
    process = Process("firestore-emulator", argv, env, log_path or workpath / "emulator.log",
                      cwd=workpath)
    emulator = FirestoreEmulator(process, port, project_id, workdir)
    try:
        _wait_until_ready(emulator, timeout)
    except BaseException:
        emulator.stop()
        raise
    return emulator


def _wait_until_ready(emulator: FirestoreEmulator, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if emulator.process.popen.poll() is not None:
            raise FirestoreEmulatorError(
                f"firestore emulator exited with code {emulator.process.popen.returncode}:\n"
                f"{emulator.process.tail()}")
        with contextlib.suppress(requests.RequestException):  # GET / answers "Ok" once ready
            if requests.get(f"http://{emulator.host}/", timeout=1).ok:
                return
        time.sleep(0.1)
    raise FirestoreEmulatorError(
        f"firestore emulator not ready on {emulator.host} after {timeout:.0f}s:\n"
        f"{emulator.process.tail()}")


def main(argv: list[str]) -> int:
    """Usage: python devtools/firestore_emulator.py [PORT=8080] [PROJECT_ID=demo-jette]"""
    port = int(argv[1]) if len(argv) > 1 else 8080
    project_id = argv[2] if len(argv) > 2 else "demo-jette"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the emulator on kill too
    with start_firestore_emulator(port, project_id) as emulator:
        print(f"firestore-emulator ready on {emulator.host}", flush=True)
        try:
            while emulator.process.popen.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            return 0
        print(f"firestore emulator exited:\n{emulator.process.tail()}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
