"""Run Firebase emulators (Auth, Hosting) from this repo's firebase-tools, for tests and local use.
Also signs users in through the Auth emulator's REST API, exactly as the browser SDK does."""
from __future__ import annotations

import json
import os
import pathlib
import sys
import tempfile
import urllib.parse

import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from procs import (ROOT, Process, Service, free_port, http_ok, port_open,  # noqa: E402
                   serve_until_interrupted, wait_ready)

FIREBASE_BIN = ROOT / "node_modules" / ".bin" / "firebase"
FAKE_API_KEY = "fake-api-key"


class FirebaseEmulatorError(RuntimeError):
    """The emulator did not start, or one of its REST calls failed."""


class FirebaseEmulator(Service):
    """A running `firebase emulators:start --only NAME`; stop() or use as a context manager."""

    def __init__(self, process: Process, port: int, project_id: str,
                 workdir: tempfile.TemporaryDirectory):
        super().__init__(process, workdir)
        self.host = f"127.0.0.1:{port}"
        self.project_id = project_id


def _quiet_env(workdir: pathlib.Path) -> dict[str, str]:
    """Environment in which firebase-tools never prompts, checks for updates, or phones home."""
    return {
        **os.environ,
        "CI": "true",  # skips the MOTD fetch; is-ci also turns the update notifier off
        "NO_UPDATE_NOTIFIER": "1",  # update-notifier's own off switch
        # A fresh configstore: no developer login, no analytics opt-in ("usage"), no cached MOTD.
        "XDG_CONFIG_HOME": str(workdir / "config"),
        "TMPDIR": str(workdir),  # the hub's locator file (hub-<project>.json) goes here, not /tmp
    }


def start_auth_emulator(port: int, project_id: str = "demo-jette",
                        log_path: pathlib.Path | None = None, *,
                        timeout: float = 60.0) -> FirebaseEmulator:
    """Start the Auth emulator on 127.0.0.1:port; return once it answers HTTP (~15 s)."""
    return _start("auth", port, project_id, {}, log_path, timeout)


def start_hosting_emulator(port: int, firebase_json: pathlib.Path, project_id: str = "demo-jette",
                           log_path: pathlib.Path | None = None, *,
                           timeout: float = 60.0) -> FirebaseEmulator:
    """Serve `firebase_json`'s hosting section (its public folder made absolute) on
    127.0.0.1:port with the Hosting emulator: Firebase's own headers and routing."""
    hosting = json.loads(firebase_json.read_text())["hosting"]
    public = (firebase_json.parent / hosting["public"]).resolve()
    return _start("hosting", port, project_id, {"hosting": hosting}, log_path, timeout,
                  public=public)


def _start(only: str, port: int, project_id: str, config: dict,
           log_path: pathlib.Path | None, timeout: float,
           public: pathlib.Path | None = None) -> FirebaseEmulator:
    if not FIREBASE_BIN.exists():
        raise FirebaseEmulatorError(f"{FIREBASE_BIN} is missing: run ./scripts/setup.sh")
    if port_open(port):
        raise FirebaseEmulatorError(f"port {port} is already in use on 127.0.0.1")
    workdir = tempfile.TemporaryDirectory(prefix=f"{only}-emulator-")
    workpath = pathlib.Path(workdir.name)
    config_path = workpath / "firebase.json"
    if public is not None:  # the Hosting emulator serves only a public path relative to config
        config["hosting"]["public"] = os.path.relpath(public, workpath)
    # The hub and logging emulators start too: free ports, so two stacks never collide.
    config_path.write_text(json.dumps({**config, "emulators": {
        only: {"host": "127.0.0.1", "port": port},
        "hub": {"host": "127.0.0.1", "port": free_port()},
        "logging": {"host": "127.0.0.1", "port": free_port()},
        "ui": {"enabled": False}}}))
    argv = [str(FIREBASE_BIN), "emulators:start", "--only", only, "--project", project_id,
            "--config", str(config_path)]
    # firebase-debug.log is written to the working directory: keep it in the temp dir.
    process = Process(f"{only}-emulator", argv, _quiet_env(workpath),
                      log_path or workpath / "emulator.log", cwd=workpath)
    emulator = FirebaseEmulator(process, port, project_id, workdir)
    wait_ready(emulator, lambda: http_ok(f"http://{emulator.host}/"), timeout,
               FirebaseEmulatorError)
    return emulator


def _call(method: str, url: str, **kwargs) -> dict:
    response = requests.request(method, url, timeout=10, **kwargs)
    if not response.ok:
        raise FirebaseEmulatorError(f"{method} {url} -> {response.status_code}: {response.text}")
    return response.json()


def _identity_toolkit(host: str, method: str, api_key: str) -> str:
    return f"http://{host}/identitytoolkit.googleapis.com/v1/accounts:{method}?key={api_key}"


def sign_in_with_google(host: str, *, sub: str, email: str, email_verified: bool = True,
                        name: str | None = None, picture: str | None = None,
                        api_key: str = FAKE_API_KEY) -> dict:
    """Sign in with a fake Google id_token, as signInWithCredential(GoogleAuthProvider.credential())
    would; returns the signInWithIdp response: idToken, refreshToken, localId, email, ...
    email_verified is fixed when the emulator creates the user (same sub again: no change); a new
    sub with an email another user has is refused, like account-exists-with-different-credential.
    """
    claims = {"sub": sub, "email": email, "email_verified": email_verified,
              "name": name, "picture": picture}
    claims = {key: value for key, value in claims.items() if value is not None}
    post_body = urllib.parse.urlencode({"id_token": json.dumps(claims), "providerId": "google.com"})
    session = _call("POST", _identity_toolkit(host, "signInWithIdp", api_key), json={
        "postBody": post_body, "requestUri": "http://localhost",
        "returnSecureToken": True, "returnIdpCredential": True})
    if "idToken" not in session:
        raise FirebaseEmulatorError(f"no idToken for {email} (needConfirmation="
                                f"{session.get('needConfirmation')}): another user has this email")
    return session


def sign_in_anonymously(host: str, api_key: str = FAKE_API_KEY) -> dict:
    """Create an anonymous user; returns idToken, refreshToken, localId."""
    return _call("POST", _identity_toolkit(host, "signUp", api_key),
                 json={"returnSecureToken": True})


def refresh(host: str, refresh_token: str, api_key: str = FAKE_API_KEY) -> dict:
    """Exchange a refresh token; returns id_token, refresh_token, user_id (snake_case keys)."""
    return _call("POST", f"http://{host}/securetoken.googleapis.com/v1/token?key={api_key}",
                 data={"grant_type": "refresh_token", "refresh_token": refresh_token})


def clear_accounts(host: str, project_id: str) -> None:
    """Delete every user of the project in the emulator."""
    _call("DELETE", f"http://{host}/emulator/v1/projects/{project_id}/accounts")


def main(argv: list[str]) -> int:
    """Usage: python devtools/auth_emulator.py [PORT=9099] [PROJECT_ID=demo-jette]"""
    port = int(argv[1]) if len(argv) > 1 else 9099
    emulator = start_auth_emulator(port, argv[2] if len(argv) > 2 else "demo-jette")
    return serve_until_interrupted(emulator, f"auth-emulator ready on {emulator.host}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
