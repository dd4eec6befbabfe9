"""A real (non-dry) deploy.sh run against recording fakes of Google's tools: it runs exactly its
dry-run plan, writes the web app's config and the narrowed Hosting config, is idempotent, and
its preflight stops with one clear line."""

from __future__ import annotations

import json

import pytest

from .fake_tools import CHAT_URL
from .sandbox import FUNCTIONS, PREFLIGHT, ROOT, commands, placeholders_resolved

DEMO = ("--project", "demo", "--region", "us-central1")


def expected_calls(plan: str) -> list[list[str]]:
    """The plan's commands with the read-only answers filled in, staging left out (the staging
    script is the real one: its effect is checked instead)."""
    return [argv for argv in commands(placeholders_resolved(plan))
            if argv[1:2] != ["scripts/stage_function.py"]]


def split_preflight(calls: list[dict]) -> tuple[list[list[str]], list[list[str]]]:
    argvs = [call["argv"] for call in calls]
    preflight = [argv for argv in argvs if tuple(argv[:3]) in PREFLIGHT]
    assert argvs[:len(preflight)] == preflight, "the checks come before any change"
    return preflight, argvs[len(preflight):]


@pytest.mark.parametrize("target", ["chat", "auth", "health", "hosting", "all"])
def test_run_makes_exactly_the_planned_calls(sandbox, target):
    plan = sandbox.plan(target, *DEMO)
    sandbox.run(target, *DEMO)
    preflight, calls = split_preflight(sandbox.calls())
    assert [argv[:3] for argv in preflight] == [list(p) for p in PREFLIGHT]
    assert calls == expected_calls(plan)


def test_full_run_pins_stages_and_writes_the_hosting_config(sandbox):
    sandbox.set_state(secret_versions={"GEMINI_API_KEY": "7", "SECRET_KEY": "12"})
    sandbox.run("all", *DEMO)
    calls = sandbox.calls()
    deploys = {c["argv"][3]: c["argv"] for c in calls
               if c["argv"][:3] == ["gcloud", "functions", "deploy"]}
    assert "--set-secrets=GEMINI_API_KEY=GEMINI_API_KEY:7,SECRET_KEY=SECRET_KEY:12" in deploys["chat"]
    assert "--set-secrets=SECRET_KEY=SECRET_KEY:12" in deploys["auth"]
    assert "--clear-secrets" in deploys["health"]
    # Each function uploads its own staged folder: its code, its requirements, the shared core.
    for fn in FUNCTIONS:
        [deploy] = [c for c in calls if c["argv"][:4] == ["gcloud", "functions", "deploy", fn]]
        files = deploy["source_files"]
        assert {"main.py", "requirements.txt", "core/__init__.py", "core/config.py"} <= set(files)
        staged = sandbox.repo / "build" / "deploy" / fn
        assert (staged / "requirements.txt").read_text() == (
            ROOT / "functions" / fn / "requirements.txt").read_text()
    [firebase] = [c for c in calls if c["argv"][0] == "node_modules/.bin/firebase"]
    assert firebase["config_json_present"]

    config = json.loads((sandbox.repo / "hosting" / "dist" / "config.json").read_text())
    assert config == {"chatUrl": f"{CHAT_URL}/"}
    assert (sandbox.repo / "hosting" / "dist" / "index.html").exists()  # built, then written

    generated = json.loads((sandbox.repo / "build" / "firebase.deploy.json").read_text())
    original = json.loads((ROOT / "firebase.json").read_text())
    hosting = generated["hosting"]
    assert hosting["public"] == str(sandbox.repo / "hosting" / "dist")
    csp = next(h["value"] for rule in hosting["headers"] for h in rule["headers"]
               if h["key"] == "Content-Security-Policy")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["connect-src"] == ["'self'", CHAT_URL,
                                         "https://identitytoolkit.googleapis.com",
                                         "https://securetoken.googleapis.com"]
    assert directives["frame-src"] == ["https://demo.firebaseapp.com"]
    assert "*" not in " ".join(directives["connect-src"] + directives["frame-src"])
    # Nothing else differs from firebase.json.
    original_csp = next(h["value"] for rule in original["hosting"]["headers"]
                        for h in rule["headers"] if h["key"] == "Content-Security-Policy")
    assert csp == (original_csp.replace("https://*.a.run.app", CHAT_URL)
                   .replace("https://*.firebaseapp.com", "https://demo.firebaseapp.com"))
    for rule in hosting["headers"]:
        for header in rule["headers"]:
            if header["key"] == "Content-Security-Policy":
                header["value"] = original_csp
    hosting["public"] = original["hosting"]["public"]
    assert generated == original


def test_region_reaches_the_hosting_rewrites(sandbox):
    sandbox.run("hosting", "--project", "demo", "--region", "europe-west1")
    generated = json.loads((sandbox.repo / "build" / "firebase.deploy.json").read_text())
    rewrites = generated["hosting"]["rewrites"]
    assert {r["run"]["serviceId"] for r in rewrites} == {"chat", "auth", "health"}
    assert {r["run"]["region"] for r in rewrites} == {"europe-west1"}
    describe = [c["argv"] for c in sandbox.calls() if c["argv"][1:3] == ["functions", "describe"]]
    assert "--region=europe-west1" in describe[0]


def test_limits_set_in_deploy_env_reach_the_web_app(sandbox):
    (sandbox.repo / "deploy.env").write_text("MAX_MESSAGE_CHARS=4000\nMAX_HISTORY_MESSAGES=10\n")
    sandbox.run("hosting", *DEMO, env_file="deploy.env")
    config = json.loads((sandbox.repo / "hosting" / "dist" / "config.json").read_text())
    assert config == {"chatUrl": f"{CHAT_URL}/",
                      "limits": {"maxMessageChars": 4000, "maxHistoryMessages": 10}}


def test_second_run_creates_nothing(sandbox):
    sandbox.run("all", *DEMO)
    first = split_preflight(sandbox.calls())[1]
    sandbox.log.write_text("")
    sandbox.run("all", *DEMO)
    second = split_preflight(sandbox.calls())[1]
    creates = [argv for argv in first if "create" in argv or argv[3:5] == ["ttls", "update"]]
    assert len(creates) == 4  # three service accounts and the TTL policy, the first time only
    assert [argv for argv in second if "create" in argv or "update" in argv] == []
    assert second == [argv for argv in first if argv not in creates]


@pytest.mark.parametrize("case, message", [
    ("no gcloud", "gcloud not found: install the Google Cloud CLI "
                   "(https://cloud.google.com/sdk/docs/install)"),
    ("no venv", ".venv/bin/python not found: run ./scripts/setup.sh first"),
    ("no firebase", "firebase-tools or the web app's packages are missing: run "
                    "./scripts/setup.sh first"),
    ("not logged in", "gcloud is not logged in: run gcloud auth login (and gcloud auth "
                      "application-default login)"),
    ("apis disabled", "APIs not enabled in demo: run gcloud services enable run.googleapis.com "
                      "secretmanager.googleapis.com --project=demo"),
    ("no secret version", "no enabled version of SECRET_KEY: run .venv/bin/python "
                          "scripts/manage_secrets.py create --project=demo"),
])
def test_preflight_failure_is_one_line_and_changes_nothing(sandbox, case, message):
    if case == "no gcloud":
        (sandbox.bin / "gcloud").unlink()
    elif case == "no venv":
        (sandbox.repo / ".venv").unlink()
    elif case == "no firebase":
        (sandbox.repo / "node_modules" / ".bin" / "firebase").unlink()
    elif case == "not logged in":
        sandbox.set_state(account="")
    elif case == "apis disabled":
        from .fake_tools import default_state

        apis = [a for a in default_state()["apis"] if a.split(".")[0] not in ("run", "secretmanager")]
        sandbox.set_state(apis=apis)
    elif case == "no secret version":
        sandbox.set_state(secret_versions={"SECRET_KEY": ""})
    result = sandbox.run("all", *DEMO, check=False)
    assert result.returncode != 0
    assert [line for line in result.stderr.splitlines() if not line.startswith("+ ")] == [
        f"deploy: {message}"]
    # At most the read-only checks ran.
    assert [c["argv"] for c in sandbox.calls() if tuple(c["argv"][:3]) not in PREFLIGHT
            and c["argv"][2:3] != ["version"]] == []


def test_a_failing_step_stops_the_deploy(sandbox):
    sandbox.set_state(chat_url="")
    result = sandbox.run("hosting", *DEMO, check=False)
    assert result.returncode != 0
    assert result.stderr.splitlines()[-1] == (
        "deploy: the chat function is not deployed in us-central1: run ./deploy.sh chat "
        "--project demo first")
    assert not any(c["argv"][0] == "node_modules/.bin/firebase" for c in sandbox.calls())


def test_a_binding_refused_right_after_the_account_was_created_is_retried(sandbox):
    sandbox.set_state(failures={"projects add-iam-policy-binding": 2})
    sandbox.run("auth", *DEMO)
    argvs = [c["argv"] for c in sandbox.calls()]
    bindings = [i for i, argv in enumerate(argvs) if "add-iam-policy-binding" in argv]
    assert len(bindings) == 4  # datastore.user: refused, refused, granted; then firebaseauth
    assert argvs[bindings[0] + 1] == ["sleep", "10"] and argvs[bindings[1] + 1] == ["sleep", "20"]
    assert argvs[bindings[0]] == argvs[bindings[1]] == argvs[bindings[2]]
    assert any(argv[:3] == ["gcloud", "functions", "deploy"] for argv in argvs)


def test_a_binding_that_keeps_failing_stops_the_deploy(sandbox):
    sandbox.set_state(failures={"projects add-iam-policy-binding": 9})
    result = sandbox.run("auth", *DEMO, check=False)
    assert result.returncode != 0
    argvs = [c["argv"] for c in sandbox.calls()]
    assert sum("add-iam-policy-binding" in argv for argv in argvs) == 4
    assert not any(argv[:3] == ["gcloud", "functions", "deploy"] for argv in argvs)
