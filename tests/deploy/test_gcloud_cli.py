"""The real tools read the plan as intended: the installed gcloud CLI parses every gcloud command
of the plan (it stops only for lack of credentials, offline, with an empty config), gcloud's own
parser turns `--set-env-vars` / `--set-secrets` into exactly the intended values, and
firebase-tools loads the generated Hosting config."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from .fake_tools import CHAT_URL
from .sandbox import HERE, RICH_ENV, ROOT, commands, env_vars, flags, placeholders_resolved

NO_CREDENTIALS = "You do not currently have an active account selected."


def gcloud_env(config: pathlib.Path) -> dict[str, str]:
    """No credentials, no prompts, no metadata server, and no way out to the network."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CLOUDSDK_", "GOOGLE_", "GCE_")) and "proxy" not in k.lower()}
    env.update(CLOUDSDK_CONFIG=str(config), CLOUDSDK_CORE_DISABLE_PROMPTS="1",
               CLOUDSDK_CORE_CHECK_GCE_METADATA="false",
               CLOUDSDK_CORE_DISABLE_USAGE_REPORTING="true",
               CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK="true",
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9",
               https_proxy="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9")
    return env


@pytest.fixture(scope="module")
def sdk_root() -> pathlib.Path:
    found = shutil.which("gcloud")
    if found is None:
        pytest.fail("gcloud is not installed: ./scripts/setup.sh --test-services says how")
    return pathlib.Path(os.path.realpath(found)).parents[1]


def run_all(argvs: list[list[str]], tmp_path: pathlib.Path) -> list[subprocess.CompletedProcess]:
    """Each command with its own empty gcloud config, a few at a time (each start costs ~1 s)."""
    def run(job):
        index, argv = job
        config = tmp_path / f"gcloud-config-{index}"
        config.mkdir()
        return subprocess.run(argv, cwd=tmp_path, env=gcloud_env(config), capture_output=True,
                              text=True, timeout=60)

    with ThreadPoolExecutor(max_workers=max(2, min(8, (os.cpu_count() or 2) * 2))) as pool:
        return list(pool.map(run, enumerate(argvs)))


def test_gcloud_parses_every_command_of_the_plan(sdk_root, golden_plans, tmp_path):
    """All but `functions deploy`, which the next test runs through the real parser, further."""
    plan = placeholders_resolved(golden_plans["all"])
    argvs = [argv for argv in commands(plan)
             if argv[0] == "gcloud" and argv[1:3] != ["functions", "deploy"]]
    assert len(argvs) == 12
    for argv, result in zip(argvs, run_all(argvs, tmp_path)):
        words = [w for w in argv[1:] if not w.startswith("-")]
        group = ".".join(words[:3] if words[0] in ("functions", "projects") else words[:4])
        group = re.sub(r"\.(?:chat|demo|[a-z]+-fn(@\S+)?|expire_at)$", "", group)
        assert result.returncode == 1, (argv, result.stderr)
        assert f"ERROR: (gcloud.{group}) {NO_CREDENTIALS}" in result.stderr, (argv, result.stderr)
        assert "unrecognized arguments" not in result.stderr
        assert "argument" not in result.stderr.split(NO_CREDENTIALS)[0]


def test_gcloud_reads_env_vars_and_secrets_as_intended(sdk_root, sandbox, golden_plans,
                                                       tmp_path):
    (sandbox.repo / "deploy.env").write_text(RICH_ENV)
    rich = sandbox.plan("all", "--project", "demo", env_file="deploy.env")

    def deploys(plan):
        return [argv for argv in commands(placeholders_resolved(plan))
                if argv[:3] == ["gcloud", "functions", "deploy"]]

    bundled = sdk_root / "platform" / "bundledpythonunix" / "bin" / "python3"
    python = str(bundled) if bundled.exists() else "python3"
    harness = [python, str(HERE / "gcloud_service_config.py"), str(sdk_root)]
    argvs = deploys(rich) + deploys(golden_plans["all"])
    results = run_all([harness + argv[1:] for argv in argvs], tmp_path)
    assert all(result.returncode == 0 for result in results), [r.stderr for r in results]
    sent = [json.loads(result.stdout) for result in results]
    requests = {argv[3]: request for argv, request in zip(argvs[:3], sent[:3])}

    # The default plan: what the test's own reading of the flags says is what gcloud sends.
    for argv, request in zip(argvs[3:], sent[3:]):
        given, config = flags(argv), request["serviceConfig"]
        assert config["environmentVariables"] == env_vars(argv)
        assert (config["availableCpu"], config["availableMemory"]) == (given["--cpu"],
                                                                       given["--memory"])
        assert config["maxInstanceCount"] == int(given["--max-instances"])
        assert config["serviceAccountEmail"] == given["--service-account"]
        assert len(config.get("secretEnvironmentVariables", [])) == given.get(
            "--set-secrets", "").count(":")

    # deploy.env with every kind of value that needs care: exactly these values arrive.
    origins = ("https://demo.web.app,https://demo.firebaseapp.com,https://chat.example.com,"
               "https://www.example.com")
    chat = requests["chat"]
    assert chat["build"] == {"runtime": "python312", "entryPoint": "chat",
                             "source": "build/deploy/chat", "region": "europe-west1",
                             "triggerHttp": True, "allowUnauthenticated": True}
    assert chat["serviceConfig"] == {
        "availableCpu": "1", "availableMemory": "4Gi", "maxInstanceCount": 9,
        "minInstanceCount": 1, "maxInstanceRequestConcurrency": 20, "timeoutSeconds": 120,
        "serviceAccountEmail": "chat-fn@demo.iam.gserviceaccount.com",
        "environmentVariables": {
            "APP_ENV": "production", "THREADS": "20", "ALLOWED_ORIGINS": origins,
            "FIREBASE_PROJECT_ID": "demo", "RATE_LIMIT_STORAGE": "firestore://rate_limits",
            "APP_CHECK": "off", "REQUIRE_AUTH": "true", "GEMINI_MODEL": "gemini-2.5-flash",
            "ALLOWED_EMAILS": "a@example.com,b@example.com", "ALLOWED_DOMAINS": "example.org",
            "CHECK_REVOKED": "true", "RATE_LIMITS": "10/minute;100/day",
            "SYSTEM_PROMPT": "Say \"hi\", it's ## fine = ok", "MAX_MESSAGE_CHARS": "4000"},
        "secretEnvironmentVariables": [
            {"key": name, "projectId": "123456789012", "secret": name, "version": "3"}
            for name in ("GEMINI_API_KEY", "SECRET_KEY")],
    }
    auth = requests["auth"]["serviceConfig"]
    assert auth["serviceAccountEmail"] == "auth-fn@demo.iam.gserviceaccount.com"
    assert auth["environmentVariables"] == {
        "APP_ENV": "production", "THREADS": "10", "ALLOWED_ORIGINS": origins,
        "FIREBASE_PROJECT_ID": "demo", "RATE_LIMIT_STORAGE": "firestore://rate_limits",
        "APP_CHECK": "off", "GEMINI_MODEL": "gemini-2.5-flash",
        "ALLOWED_EMAILS": "a@example.com,b@example.com", "ALLOWED_DOMAINS": "example.org",
        "CHECK_REVOKED": "true", "RATE_LIMITS": "10/minute;100/day", "MAX_MESSAGE_CHARS": "4000"}
    assert [s["secret"] for s in auth["secretEnvironmentVariables"]] == ["SECRET_KEY"]
    health = requests["health"]["serviceConfig"]
    assert health["environmentVariables"] == {"APP_ENV": "production", "THREADS": "4",
                                              "ALLOWED_ORIGINS": origins}
    assert "secretEnvironmentVariables" not in health
    assert (health["availableCpu"], health["availableMemory"]) == ("1", "256Mi")


FIREBASE_CHECK = """
const [root, repo] = process.argv.slice(1);  // node -e SCRIPT ROOT REPO
const { Config } = require(`${root}/node_modules/firebase-tools/lib/config`);
const { getValidator } = require(`${root}/node_modules/firebase-tools/lib/firebaseConfigValidate`);
const { hostingConfig } = require(`${root}/node_modules/firebase-tools/lib/hosting/config`);
const options = { cwd: repo, configPath: "build/firebase.deploy.json", only: "hosting",
                  project: "demo", site: "demo" };
const config = Config.load(options);
options.config = config;
const validate = getValidator();
const [site] = hostingConfig(options);
console.log(JSON.stringify({ valid: validate(config.src), errors: validate.errors,
  publicDir: config.path(site.public), rewrites: site.rewrites }));
"""


def test_firebase_tools_loads_the_generated_config(sandbox):
    sandbox.run("hosting", "--project", "demo", "--region", "us-central1")
    result = subprocess.run(["node", "-e", FIREBASE_CHECK, str(ROOT), str(sandbox.repo)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["valid"], loaded["errors"]
    assert loaded["publicDir"] == str(sandbox.repo / "hosting" / "dist")
    assert {r["run"]["region"] for r in loaded["rewrites"]} == {"us-central1"}
    assert CHAT_URL in (sandbox.repo / "build" / "firebase.deploy.json").read_text()

