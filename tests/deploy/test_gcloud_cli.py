"""The real tools read the plan as intended: the installed gcloud CLI parses every gcloud command
of the plan (it stops only for lack of credentials, offline, with an empty config), gcloud's own
parser turns `--set-env-vars` / `--set-secrets` into exactly the intended values, every command
of ci-identity's plan builds exactly the intended request (gcloud_request.py), and
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
from .sandbox import (GOLDEN, HERE, PROJECT_NUMBER, RICH_ENV, ROOT, commands, env_vars, flags,
                      placeholders_resolved)

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


def gcloud_python(sdk_root: pathlib.Path) -> str:
    """The Python gcloud runs on: the harnesses beside this file import its modules."""
    bundled = sdk_root / "platform" / "bundledpythonunix" / "bin" / "python3"
    return str(bundled) if bundled.exists() else "python3"


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


@pytest.mark.parametrize("name, count", [("all", 12), ("monitoring-budget", 24)])
def test_gcloud_parses_every_command_of_the_plan(sdk_root, name, count, tmp_path):
    """All but `functions deploy`, which the next test runs through the real parser, further."""
    plan = placeholders_resolved((GOLDEN / f"{name}.txt").read_text())
    argvs = [argv for argv in commands(plan)
             if argv[0] == "gcloud" and argv[1:3] != ["functions", "deploy"]]
    assert len(argvs) == count
    assert_parsed(argvs, tmp_path)


def assert_parsed(argvs: list[list[str]], tmp_path: pathlib.Path) -> None:
    """Each gcloud command stops at the credentials, past its parsing."""
    for argv, result in zip(argvs, run_all(argvs, tmp_path)):
        words = [w for w in argv[1:] if not w.startswith("-")]
        group = ".".join(words[:3] if words[0] in ("functions", "projects") else words[:4])
        group = re.sub(r"\.(?:chat|demo|[a-z]+-fn(@\S+)?|expire_at|jette_\w+|projects/\S+"
                       r"|billingAccounts/\S+)$", "", group)
        assert result.returncode == 1, (argv, result.stderr)
        assert f"ERROR: (gcloud.{group}) {NO_CREDENTIALS}" in result.stderr, (argv, result.stderr)
        assert "unrecognized arguments" not in result.stderr
        assert "argument" not in result.stderr.split(NO_CREDENTIALS)[0]


def test_gcloud_parses_what_a_rerun_updates(sdk_root, sandbox, tmp_path):
    """The commands a later run makes when deploy.env or the project drifted (test_monitoring)."""
    from .test_monitoring import BUDGET_ENV, run_monitoring

    run_monitoring(sandbox)
    state = json.loads(sandbox.state.read_text())
    state["metrics"]["jette_5xx"]["filter"] = "severity>=ERROR"
    sandbox.state.write_text(json.dumps(state))
    _, calls = run_monitoring(sandbox, BUDGET_ENV.replace("ops@", "oncall@").replace("=50", "=80"))
    updates = [argv for argv in calls if "update" in argv]
    assert {" ".join(argv[1:4]) for argv in updates} == {
        "logging metrics update", "beta monitoring channels", "alpha monitoring policies",
        "billing budgets update"}
    assert_parsed(updates, tmp_path)


def test_gcloud_reads_each_alert_policy_by_the_api_schema(sdk_root, tmp_path):
    """deploy.sh's --policy JSON, read by gcloud into the Monitoring API's AlertPolicy: no field
    or enum value the API does not define, and gcloud sends exactly what was written."""
    plan = (GOLDEN / "monitoring.txt").read_text()
    policies = [flags(argv)["--policy"] for argv in commands(plan)
                if argv[2:5] == ["monitoring", "policies", "create"]]
    assert len(policies) == 5
    config = tmp_path / "gcloud-config"
    config.mkdir()
    done = subprocess.run([gcloud_python(sdk_root), str(HERE / "gcloud_alert_policy.py"),
                           str(sdk_root)],
                          input="\n".join(policies), env=gcloud_env(config), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    read = [json.loads(line) for line in done.stdout.splitlines()]
    assert [policy["unknown"] for policy in read] == [[]] * 5
    assert [policy["sent"] for policy in read] == [json.loads(text) for text in policies]


def test_gcloud_reads_env_vars_and_secrets_as_intended(sdk_root, sandbox, golden_plans,
                                                       tmp_path):
    (sandbox.repo / "deploy.env").write_text(RICH_ENV)
    rich = sandbox.plan("all", "--project", "demo", env_file="deploy.env")

    def deploys(plan):
        return [argv for argv in commands(placeholders_resolved(plan))
                if argv[:3] == ["gcloud", "functions", "deploy"]]

    harness = [gcloud_python(sdk_root), str(HERE / "gcloud_service_config.py"), str(sdk_root)]
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


CI_CONDITION = ("assertion.repository == 'octo-org/jette-ai-app' && assertion.environment == "
                "'production' && (assertion.ref == 'refs/heads/main' || "
                "assertion.ref.startsWith('refs/tags/v'))")
# What each kind of command asks the API (the last request it makes).
CI_METHODS = {"describe": ".get", "create": ".create", "create-oidc": ".create",
              "update-oidc": ".patch", "add-iam-policy-binding": ".setIamPolicy"}


def test_gcloud_sends_what_ci_identity_means(sdk_root, tmp_path):
    """Every command of the ci-identity plan through the real gcloud up to the request it would
    send (gcloud_request.py): the provider's condition and mapping, and every binding, arrive
    exactly as meant."""
    plan = placeholders_resolved((GOLDEN / "ci-identity.txt").read_text())
    argvs = [argv for argv in commands(plan) if argv[0] == "gcloud"]
    token = tmp_path / "token"
    token.write_text("not-a-token\n")  # instead of an account: never sent anywhere
    harness = [gcloud_python(sdk_root), str(HERE / "gcloud_request.py"), str(sdk_root)]
    results = run_all([harness + argv[1:] + [f"--access-token-file={token}"] for argv in argvs],
                      tmp_path)
    assert all(result.returncode == 0 for result in results), [r.stderr for r in results]
    sent = [json.loads(result.stdout.splitlines()[-1]) for result in results]
    for argv, request in zip(argvs, sent):
        verb = [word for word in argv if not word.startswith("-")][-2]
        assert request["method"].endswith(CI_METHODS[verb]), (argv, request)

    providers = [r["request"] for r in sent if ".providers.create" in r["method"]
                 or ".providers.patch" in r["method"]]
    for provider in (r["workloadIdentityPoolProvider"] for r in providers):
        assert provider["attributeCondition"] == CI_CONDITION
        assert provider["attributeMapping"] == {"google.subject": "assertion.sub",
                                                "attribute.repository": "assertion.repository"}
    assert providers[0]["workloadIdentityPoolProvider"]["oidc"] == {
        "issuerUri": "https://token.actions.githubusercontent.com"}
    assert providers[0]["parent"] == "projects/demo/locations/global/workloadIdentityPools/github"
    assert set(providers[1]["updateMask"].split(",")) >= {"attributeCondition", "attributeMapping"}

    granted = [(r["request"]["resource"], binding) for r in sent
               if r["method"].endswith(".setIamPolicy")
               for binding in r["request"]["setIamPolicyRequest"]["policy"]["bindings"]]
    deployer = "serviceAccount:github-deployer@demo.iam.gserviceaccount.com"
    accounts = "projects/demo/serviceAccounts/{}@demo.iam.gserviceaccount.com"
    assert [(resource, binding["role"]) for resource, binding in granted] == [
        *(("demo", role) for role in (
            "roles/cloudfunctions.developer", "roles/run.admin", "roles/cloudbuild.builds.viewer",
            "roles/datastore.indexAdmin", "roles/firebasehosting.admin",
            "roles/serviceusage.serviceUsageViewer", "roles/resourcemanager.projectIamAdmin")),
        *((accounts.format(f"{fn}-fn"), "roles/iam.serviceAccountUser")
          for fn in ("health", "auth", "chat")),
        ("projects/demo/secrets/SECRET_KEY", "roles/secretmanager.admin"),
        ("projects/demo/secrets/GEMINI_API_KEY", "roles/secretmanager.admin"),
        (accounts.format("github-deployer"), "roles/iam.workloadIdentityUser")]
    assert all(binding["members"] == [deployer] for _, binding in granted[:-1])
    assert granted[-1][1]["members"] == [
        f"principalSet://iam.googleapis.com/projects/{PROJECT_NUMBER}/locations/global/"
        "workloadIdentityPools/github/attribute.repository/octo-org/jette-ai-app"]
    conditions = [binding.get("condition") for _, binding in granted]
    assert conditions[6]["expression"] == (
        "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', [])"
        ".hasOnly(['roles/datastore.user', 'roles/firebaseauth.admin', "
        "'roles/firebaseauth.viewer'])")
    assert conditions[6]["title"] and conditions[:6] + conditions[7:] == [None] * 12
