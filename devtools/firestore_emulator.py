"""Run the Firestore emulator that ships with the gcloud CLI, for tests and local use.
Also wipes its data, and pauses it (SIGSTOP) to make the store unreachable mid-test."""
from __future__ import annotations

import os
import pathlib
import shutil
import sys
import tempfile

import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from procs import (Process, Service, http_ok, port_open,  # noqa: E402
                   serve_until_interrupted, wait_ready)


class FirestoreEmulatorError(RuntimeError):
    """The emulator did not start, or one of its REST calls failed."""


class FirestoreEmulator(Service):
    """A running `gcloud emulators firestore start`; stop() or use as a context manager.
    Its process group is gcloud (Python) -> cloud_firestore_emulator (bash) -> java."""

    def __init__(self, process: Process, port: int, project_id: str,
                 workdir: tempfile.TemporaryDirectory):
        super().__init__(process, workdir)
        self.host = f"127.0.0.1:{port}"
        self.project_id = project_id

    def reset(self) -> None:
        """Delete every document of the project's (default) database."""
        url = (f"http://{self.host}/emulator/v1/projects/{self.project_id}"
               "/databases/(default)/documents")
        response = requests.delete(url, timeout=10)
        if not response.ok:
            raise FirestoreEmulatorError(f"DELETE {url} -> {response.status_code}: {response.text}")


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
    # GET / answers "Ok" once the emulator is ready.
    wait_ready(emulator, lambda: http_ok(f"http://{emulator.host}/"), timeout,
               FirestoreEmulatorError)
    return emulator


def main(argv: list[str]) -> int:
    """Usage: python devtools/firestore_emulator.py [PORT=8080] [PROJECT_ID=demo-jette]"""
    port = int(argv[1]) if len(argv) > 1 else 8080
    emulator = start_firestore_emulator(port, argv[2] if len(argv) > 2 else "demo-jette")
    return serve_until_interrupted(emulator, f"firestore-emulator ready on {emulator.host}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
