"""Operator tools against fakes at the wire: the real google-cloud-secret-manager client talks to
devtools/fake_secret_manager.py, `gcloud` is tests/ops/fake_gcloud.py, the site a local server.

Every command run through `run_secrets*` is checked for leaks: no value the fake stores (nor the
canary key) may appear in its stdout or stderr.
"""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import io
import json
import os
import pathlib
import secrets
import shlex
import subprocess
import sys
import threading
from unittest import mock

import pytest
from fake_secret_manager import serve  # devtools/ (pytest pythonpath)

from .live_monitoring import BILLING_ACCOUNT, live_state

ROOT = pathlib.Path(__file__).resolve().parents[2]

PROJECT = "jette-prod"
REGION = "us-central1"
# Shaped like a Gemini key but made at run time, so no key-looking literal is ever committed.
CANARY = "AIza" + "CANARY-gemini-key-" + secrets.token_hex(8)
SA = {fn: f"{fn}-fn@{PROJECT}.iam.gserviceaccount.com" for fn in ("chat", "auth", "health")}


def load_script(name: str):
    """scripts/<name>.py loaded as a module (under a private name, so nothing else is shadowed)."""
    spec = importlib.util.spec_from_file_location(f"ops_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake():
    server = serve()
    yield server
    server.close()


@pytest.fixture
def run_secrets_cli(fake):
    """Run scripts/manage_secrets.py as deploy.sh does (a subprocess), then check it leaked nothing."""

    def run(*args: str, stdin: str | None = None, env: dict | None = None):
        full_env = {**os.environ, "SECRET_MANAGER_ENDPOINT": fake.url, **(env or {})}
        done = subprocess.run([sys.executable, str(ROOT / "scripts" / "manage_secrets.py"), *args,
                               "--project", PROJECT], input=stdin or "", text=True,
                              capture_output=True, env=full_env, cwd=ROOT, timeout=60)
        assert_no_values(fake, done.stdout + done.stderr)
        assert "Traceback" not in done.stderr
        return done

    return run


@pytest.fixture
def run_secrets(fake):
    """The same command in this process (faster): main(argv) with stdin, stdout, stderr and the
    environment swapped for the call."""
    tool = load_script("manage_secrets")

    def run(*args: str, stdin: str | None = None, env: dict | None = None):
        out, err = io.StringIO(), io.StringIO()
        settings = {"SECRET_MANAGER_ENDPOINT": fake.url, **(env or {})}
        with mock.patch.dict(os.environ, settings), mock.patch.object(
                sys, "stdin", io.StringIO(stdin or "")), contextlib.redirect_stdout(
                out), contextlib.redirect_stderr(err):
            try:
                code = tool.main([*args, "--project", PROJECT])
            except SystemExit as exit_:  # argparse refusing the command line
                code = exit_.code
        done = subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())
        assert_no_values(fake, done.stdout + done.stderr)
        return done

    return run


def assert_no_values(fake, output: str) -> None:
    for value in [*fake.fake.stored_values(), CANARY.encode()]:
        assert value.decode() not in output, "a secret value was printed"


def function_json(name: str, **service) -> dict:
    """`gcloud functions describe NAME --gen2 --format=json` of a function as deploy.sh deploys it
    (test_doctor.py checks deploy.sh's real plan separately)."""
    secrets = {"chat": ("GEMINI_API_KEY", "SECRET_KEY"), "auth": ("SECRET_KEY",), "health": ()}
    env = {"APP_ENV": "production", "THREADS": "4", "LOG_EXECUTION_ID": "true",
           "ALLOWED_ORIGINS": f"https://{PROJECT}.web.app,https://{PROJECT}.firebaseapp.com"}
    if name != "health":
        env.update(FIREBASE_PROJECT_ID=PROJECT, RATE_LIMIT_STORAGE="firestore://rate_limits",
                   APP_CHECK="off")
    if name == "chat":
        env.update(REQUIRE_AUTH="true", GEMINI_MODEL="gemini-2.5-flash")
    config = {
        "service": f"projects/{PROJECT}/locations/{REGION}/services/{name}",
        "uri": f"https://{name}-k3x9q2-uc.a.run.app", "timeoutSeconds": 60,
        "availableMemory": "512Mi", "maxInstanceCount": 10, "maxInstanceRequestConcurrency": 8,
        "ingressSettings": "ALLOW_ALL", "serviceAccountEmail": SA[name],
        "environmentVariables": env, "allTrafficOnLatestRevision": True,
        "secretEnvironmentVariables": [{"key": s, "projectId": PROJECT, "secret": s,
                                        "version": "1"} for s in secrets[name]],
    }
    config.update(service)
    return {"name": f"projects/{PROJECT}/locations/{REGION}/functions/{name}",
            "environment": "GEN_2", "state": "ACTIVE", "url": config["uri"],
            "buildConfig": {"runtime": "python311", "entryPoint": name},
            "serviceConfig": config, "updateTime": "2025-11-28T10:00:00.000000Z"}


def gcloud_env(config: str) -> dict[str, str]:
    """For the real gcloud: no account, no prompts, and every way out (metadata server, proxies)
    pointed at a closed loopback port, so a run never leaves the machine."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CLOUDSDK_", "GOOGLE_", "GCE_")) and "proxy" not in k.lower()}
    closed = "127.0.0.1:9"
    env.update(CLOUDSDK_CONFIG=config, CLOUDSDK_CORE_DISABLE_PROMPTS="1",
               CLOUDSDK_CORE_CHECK_GCE_METADATA="false",
               CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true",
               CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true",
               GCE_METADATA_ROOT=closed, GCE_METADATA_HOST=closed, GCE_METADATA_IP=closed,
               HTTPS_PROXY=f"http://{closed}", HTTP_PROXY=f"http://{closed}",
               https_proxy=f"http://{closed}", http_proxy=f"http://{closed}")
    return env


def hosting_headers() -> dict[str, str]:
    """The headers firebase.json gives every Hosting response."""
    hosting = json.loads((ROOT / "firebase.json").read_text())["hosting"]
    rule = next(r for r in hosting["headers"] if r["source"] == "**")
    return {h["key"]: h["value"] for h in rule["headers"]}


class Site(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        self.headers = hosting_headers()
        self.app_config = {"chatUrl": "https://chat-k3x9q2-uc.a.run.app/"}  # /config.json
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"<!doctype html><title>Jette</title>"
                if self.path == "/config.json":
                    body = json.dumps(site.app_config).encode()
                self.send_response(200)
                for key, value in site.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"


class Production:
    """A whole production setup, correct until a test breaks one thing."""

    def __init__(self, tmp: pathlib.Path, fake, site: Site):
        self.fake, self.site = fake, site
        self.state_path, self.log_path = tmp / "gcloud-state.json", tmp / "gcloud-log.jsonl"
        self.functions = {fn: function_json(fn) for fn in ("chat", "auth", "health")}
        self.ttls = [{"name": f"projects/{PROJECT}/databases/(default)/collectionGroups/"
                              "rate_limits/fields/expire_at", "ttlConfig": {"state": "ACTIVE"}}]
        self.project_policy = {"etag": "BwY=", "version": 1, "bindings": [
            {"role": "roles/owner", "members": [f"user:ops@{PROJECT}.example"]}]}
        self.monitoring = live_state(PROJECT)  # what ./deploy.sh monitoring made
        fake.fake.put(PROJECT, "GEMINI_API_KEY", CANARY.encode(),
                      accessors=(f"serviceAccount:{SA['chat']}",))
        fake.fake.put(PROJECT, "SECRET_KEY", b"k" * 8 + b"0123456789abcdefghijklmnopqrstuvwxyz",
                      accessors=(f"serviceAccount:{SA['chat']}", f"serviceAccount:{SA['auth']}"))

    def env(self) -> dict[str, str]:
        self.state_path.write_text(json.dumps({
            "functions": self.functions, "ttls": self.ttls, "project_policy": self.project_policy,
            **self.monitoring, "billing_account": BILLING_ACCOUNT}))
        gcloud = shlex.join([sys.executable, str(ROOT / "tests" / "ops" / "fake_gcloud.py")])
        return {"GCLOUD": gcloud, "FAKE_GCLOUD_STATE": str(self.state_path),
                "FAKE_GCLOUD_LOG": str(self.log_path), "SECRET_MANAGER_ENDPOINT": self.fake.url}

    def gcloud_calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def args(self) -> list[str]:
        return ["--project", PROJECT, "--region", REGION, "--site", self.site.url,
                "--billing-account", BILLING_ACCOUNT]


@pytest.fixture
def production(tmp_path, fake):
    site = Site()
    threading.Thread(target=site.serve_forever, args=(0.05,), daemon=True).start()
    yield Production(tmp_path, fake, site)
    site.shutdown()
    site.server_close()
