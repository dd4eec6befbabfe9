"""`deploy.sh --dry-run`: the exact plan per target (committed goldens), what each function gets,
and that a dry run writes nothing and calls nothing. UPDATE_GOLDEN=1 rewrites the goldens."""

from __future__ import annotations

import os
import shlex
from concurrent.futures import ThreadPoolExecutor

import pytest

from .sandbox import (FUNCTIONS, GOLDEN, RICH_ENV, SECRETS_OF, TARGETS, commands,
                      deploy_command, env_vars, flags)

DEMO = ("--project", "demo", "--region", "us-central1")


@pytest.mark.parametrize("target", TARGETS)
def test_plan_matches_golden(sandbox, target):
    plan = sandbox.plan(target, *DEMO)
    golden = GOLDEN / f"{target}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(plan)
    assert plan == golden.read_text(), f"plan changed; if deliberate: UPDATE_GOLDEN=1 ({golden})"


@pytest.mark.parametrize("target", TARGETS)
def test_dry_run_calls_nothing_and_writes_nothing(sandbox, target):
    before = sandbox.files()
    result = sandbox.run(target, *DEMO, "--dry-run")
    assert sandbox.calls() == []
    assert sandbox.files() == before
    assert result.stderr == ""
    assert not (sandbox.repo / "build").exists()


def test_defaults_are_those_of_the_example(sandbox, golden_plans):
    """deploy.env.example writes down the defaults: copying it unchanged changes nothing."""
    assert sandbox.plan("all", *DEMO, env_file="deploy.env.example") == golden_plans["all"]


def test_region_defaults_to_us_central1(sandbox, golden_plans):
    assert sandbox.plan("all", "--project", "demo") == golden_plans["all"]


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_each_function_gets_only_its_own(golden_plans, fn):
    plan = golden_plans[fn]
    argv = deploy_command(plan, fn)
    got = flags(argv)
    sa = f"{fn}-fn@demo.iam.gserviceaccount.com"
    assert got["--service-account"] == sa
    assert got["--runtime"] == "python312" and got["--entry-point"] == fn
    assert "--gen2" in got and "--trigger-http" in got and "--allow-unauthenticated" in got
    assert got["--source"] == f"build/deploy/{fn}" and got["--region"] == "us-central1"
    assert int(got["--max-instances"]) >= 1 and got["--min-instances"] == "0"
    envs = env_vars(argv)
    assert envs["APP_ENV"] == "production"
    assert envs["THREADS"] == got["--concurrency"]
    assert envs["ALLOWED_ORIGINS"] == "https://demo.web.app,https://demo.firebaseapp.com"
    expected_secrets = ",".join(f"{s}={s}:<version of {s}>" for s in SECRETS_OF[fn])
    if SECRETS_OF[fn]:
        assert got["--set-secrets"] == expected_secrets
    else:
        assert "--set-secrets" not in got and "--clear-secrets" in got
    # Each secret's version is asked, and each secret bound to this account, nothing more.
    python = [c[1:] for c in commands(plan) if c[0] == ".venv/bin/python"]
    assert [c[2] for c in python if c[1] == "version"] == list(SECRETS_OF[fn])
    assert [c[2] for c in python if c[1] == "bind"] == list(SECRETS_OF[fn])
    assert all(f"--member=serviceAccount:{sa}" in c for c in python if c[1] == "bind")
    assert ["scripts/stage_function.py", fn, f"build/deploy/{fn}"] in python
    roles = [flags(c)["--role"] for c in commands(plan) if c[1:3] == ["projects",
                                                                       "add-iam-policy-binding"]]
    assert roles == {"chat": ["roles/datastore.user"], "health": [],
                     "auth": ["roles/datastore.user", "roles/firebaseauth.admin"]}[fn]
    if fn == "health":
        assert set(envs) == {"APP_ENV", "THREADS", "ALLOWED_ORIGINS"}
    else:
        assert envs["FIREBASE_PROJECT_ID"] == "demo"
        assert envs["RATE_LIMIT_STORAGE"] == "firestore://rate_limits"
        assert envs["APP_CHECK"] == "off"
    if fn == "chat":
        assert envs["REQUIRE_AUTH"] == "true"
    if fn != "health":  # chat calls the model, auth lists it (GET /api/auth)
        assert envs["GEMINI_MODEL"] == "gemini-2.5-flash" and "GEMINI_MODELS" not in envs


def test_service_account_is_created_only_after_a_failed_describe(golden_plans):
    lines = golden_plans["health"].splitlines()
    describe = shlex.split(lines[0])
    create = shlex.split(lines[1], comments=True)
    assert describe[:4] == ["gcloud", "iam", "service-accounts", "describe"]
    assert create[:5] == ["gcloud", "iam", "service-accounts", "create", "health-fn"]
    assert lines[1].endswith("# only if the describe above failed")


def test_all_is_health_auth_chat_then_ttl_then_hosting(golden_plans):
    plan = golden_plans["all"]
    order = [c[3] for c in commands(plan) if c[:3] == ["gcloud", "functions", "deploy"]]
    assert order == ["health", "auth", "chat"]
    steps = commands(plan)
    ttl = steps.index(["gcloud", "firestore", "fields", "ttls", "update", "expire_at",
                       "--collection-group=rate_limits", "--enable-ttl", "--async",
                       "--project=demo"])
    assert steps[ttl - 2][:4] == ["gcloud", "functions", "deploy", "chat"]
    assert steps[-1] == ["node_modules/.bin/firebase", "deploy", "--only", "hosting", "--project",
                         "demo", "--config", "build/firebase.deploy.json"]
    # The secret versions are asked once, before any change, and pinned alike in chat and auth.
    assert [c[3] for c in steps[:2]] == ["SECRET_KEY", "GEMINI_API_KEY"]
    assert [c for c in steps if "version" in c] == steps[:2]

    # Otherwise it is the single-target plans one after the other (the TTL step only once;
    # monitoring, without ALERT_EMAIL, only says it is skipped: test_monitoring.py).
    def rest(text):
        return [line for line in text.splitlines() if " version " not in line
                and "firestore fields ttls" not in line and "# monitoring skipped" not in line]

    assert rest(plan) == [line for fn in ("health", "auth", "chat", "hosting")
                          for line in rest(golden_plans[fn])]


def test_hosting_reads_the_chat_url_builds_then_deploys(golden_plans):
    assert golden_plans["hosting"].splitlines() == [
        "gcloud functions describe chat --gen2 --region=us-central1 --project=demo "
        "'--format=value(serviceConfig.uri)'",
        "npm --prefix hosting run build",
        '# write hosting/dist/config.json: {"chatUrl": "<chat-url>/"}',
        "# write build/firebase.deploy.json: firebase.json with connect-src <chat-url>, "
        "frame-src https://demo.firebaseapp.com, rewrites to us-central1, "
        "public = absolute hosting/dist",
        "node_modules/.bin/firebase deploy --only hosting --project demo "
        "--config build/firebase.deploy.json",
    ]




def test_deploy_env_reaches_the_functions_that_read_it(sandbox):
    (sandbox.repo / "deploy.env").write_text(RICH_ENV)
    plan = sandbox.plan("all", "--project", "demo", env_file="deploy.env")
    chat, auth, health = (deploy_command(plan, fn) for fn in ("chat", "auth", "health"))
    chat_env, auth_env, health_env = env_vars(chat), env_vars(auth), env_vars(health)
    origins = ("https://demo.web.app,https://demo.firebaseapp.com,https://chat.example.com,"
               "https://www.example.com")
    assert chat_env["ALLOWED_ORIGINS"] == auth_env["ALLOWED_ORIGINS"] == origins
    assert chat_env["ALLOWED_EMAILS"] == auth_env["ALLOWED_EMAILS"] == "a@example.com,b@example.com"
    assert chat_env["ALLOWED_DOMAINS"] == "example.org"
    assert chat_env["RATE_LIMITS"] == auth_env["RATE_LIMITS"] == "10/minute;100/day"
    assert chat_env["SYSTEM_PROMPT"] == "Say \"hi\", it's ## fine = ok"
    assert flags(chat)["--set-env-vars"].startswith("^@@^")  # the prompt holds ##
    # chat enforces it, auth tells the web app (GET /api/auth)
    assert chat_env["MAX_MESSAGE_CHARS"] == auth_env["MAX_MESSAGE_CHARS"] == "4000"
    assert "MAX_HISTORY_MESSAGES" not in auth_env and "MAX_MESSAGE_CHARS" not in health_env
    assert "SYSTEM_PROMPT" not in auth_env and "RATE_LIMITS" not in health_env
    assert flags(chat)["--region"] == "europe-west1"
    assert flags(chat)["--max-instances"] == "9" and flags(auth)["--min-instances"] == "1"
    assert health_env["THREADS"] == flags(health)["--concurrency"] == "4"
    roles = [flags(c)["--role"] for c in commands(plan) if "add-iam-policy-binding" in c]
    assert roles == ["roles/datastore.user", "roles/firebaseauth.admin",  # auth
                     "roles/datastore.user", "roles/firebaseauth.viewer"]  # chat checks revoked
    assert '{"chatUrl": "<chat-url>/"}' in plan


def test_flags_win_over_deploy_env(sandbox):
    (sandbox.repo / "deploy.env").write_text("REGION=europe-west1\n")
    plan = sandbox.plan("chat", "--project", "demo", "--region=asia-east1", env_file="deploy.env")
    assert flags(deploy_command(plan, "chat"))["--region"] == "asia-east1"


def example_keys() -> list[str]:
    text = (GOLDEN.parent.parents[1] / "deploy.env.example").read_text()
    return [line.split("=", 1)[0] for line in text.splitlines()
            if line and not line.startswith("#")]


def sample(key: str) -> str:
    """A valid value for `key` that differs from its default."""
    if key == "MEMORY_CHAT":
        return "3Gi"  # still holds 20 requests of the largest body (check_chat_memory)
    for knob, value in (("MEMORY", "2Gi"), ("CPU", "2"), ("CONCURRENCY", "3"),
                        ("INSTANCES", "4"), ("TIMEOUT", "33s")):
        if knob in key:
            return value
    return {"REGION": "europe-west1", "EXTRA_ORIGINS": "https://x.example.com",
            "REQUIRE_AUTH": "false", "CHECK_REVOKED": "true", "CHAT_ENABLED": "false",
            "GEMINI_MODEL": "gemini-2.5-pro", "LOG_LEVEL": "WARNING", "APP_CHECK": "monitor",
            "GEMINI_MODELS": "gemini-2.5-flash:1,gemini-2.5-pro:8", "ATTACHMENT_TYPES": "image/png",
            "APP_CHECK_SITE_KEY": "6LcZq9AAAAAAAJ3t-sample_site-key-000000",
            "ALERT_EMAIL": "oncall@example.com", "BILLING_ACCOUNT": "0A0A0A-0A0A0A-0A0A0A",
            "BUDGET_AMOUNT": "75"}.get(key, "7")


def test_example_documents_every_setting_and_each_one_matters(sandbox):
    keys = example_keys()
    required = {"REGION", "REQUIRE_AUTH", "ALLOWED_EMAILS", "ALLOWED_DOMAINS", "EXTRA_ORIGINS",
                "GEMINI_MODEL", "RATE_LIMITS", "DAILY_TOKEN_BUDGET", "GLOBAL_DAILY_TOKEN_BUDGET",
                "MIN_INSTANCES", "ALERT_EMAIL", "BILLING_ACCOUNT", "BUDGET_AMOUNT"} | {
                    f"{knob}_{fn.upper()}" for fn in FUNCTIONS
                    for knob in ("MAX_INSTANCES", "MEMORY", "CONCURRENCY")}
    assert required <= set(keys)
    assert len(keys) == len(set(keys))
    base = "CPU_HEALTH=1\n"  # so that CONCURRENCY_HEALTH may be above 1
    # `all` sets up the alerts and a budget: the thresholds and the budget show in the plan; the
    # address does not (test_monitoring.py), it matters by turning the alerts on.
    alerts = "ALERT_EMAIL=ops@example.com\nBILLING_ACCOUNT=01A2B3-C4D5E6-F7A8B9\nBUDGET_AMOUNT=50\n"
    lines = {"baseline": base + alerts, "ALERT_EMAIL": f"{base}ALERT_EMAIL={sample('ALERT_EMAIL')}\n",
             **{key: f"{base}{alerts}{key}={sample(key)}\n" for key in keys if key != "ALERT_EMAIL"},
             "no alerts": base}

    def plan_with(name):
        (sandbox.repo / f"deploy.env.{name}").write_text(lines[name])
        return sandbox.plan("all", "--project", "demo", env_file=f"deploy.env.{name}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        plans = dict(zip(lines, pool.map(plan_with, lines)))
    for key in keys:
        baseline = plans["no alerts" if key == "ALERT_EMAIL" else "baseline"]
        assert plans[key] != baseline, f"{key} in deploy.env.example changes nothing"


@pytest.mark.parametrize("args, env, message", [
    (("chat",), None, "--project is required"),
    (("chat", "--project", "demo", "--verbose"), None, "unknown argument --verbose"),
    (("chat", "--project", "Demo_1"), None, "--project: not a project id"),
    (("chat", "--project", "demo", "--region", "mars"), None, "not a region: mars"),
    (("chat", "--project", "demo"), "REGOIN=us-east1", "deploy.env:1: unknown setting REGOIN"),
    (("chat", "--project", "demo"), "just words", "deploy.env:1: expected KEY=value"),
    (("chat", "--project", "demo"), "EXTRA_ORIGINS=https://x.example.com/path",
     "EXTRA_ORIGINS: each entry must be an exact https origin"),
    (("health", "--project", "demo"), "CONCURRENCY_HEALTH=4",
     "CONCURRENCY_HEALTH > 1 needs CPU_HEALTH >= 1 (below 1 vCPU"),
    (("auth", "--project", "demo"), "MAX_INSTANCES_AUTH=many",
     "MAX_INSTANCES_AUTH: must be a whole number"),
    # 20 requests of 20 MiB at once need 256 + 20 x 110 MiB
    (("chat", "--project", "demo"), "MEMORY_CHAT=2Gi",
     "MEMORY_CHAT: 2048 MiB cannot hold CONCURRENCY_CHAT=20 requests of MAX_REQUEST_BYTES=20971520"
     " at once: give it at least 2456 MiB"),
    (("chat", "--project", "demo"), "MEMORY_CHAT=1Gi\nCONCURRENCY_CHAT=8\nMAX_REQUEST_BYTES=33554432",
     "give it at least 1664 MiB"),
    (("chat", "--project", "demo"), "MEMORY_CHAT=lots",
     "MEMORY_CHAT: must be a whole number with Mi, Gi, M or G, like 4Gi"),
    (("chat", "--project", "demo"), "MAX_REQUEST_BYTES=20MB",
     "MAX_REQUEST_BYTES: must be a whole number of bytes"),
])
def test_bad_input_is_one_clear_line(sandbox, args, env, message):
    if env is not None:
        (sandbox.repo / "deploy.env").write_text(env + "\n")
    result = sandbox.run(*args, "--dry-run", env_file="deploy.env", check=False)
    assert result.returncode != 0 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr
    assert sandbox.calls() == []


@pytest.mark.parametrize("env", ["MEMORY_CHAT=1Gi\nMAX_REQUEST_BYTES=65536",
                                 "MEMORY_CHAT=2456Mi", "MEMORY_CHAT=3G"])
def test_chat_memory_that_holds_its_concurrency_is_planned(sandbox, env):
    (sandbox.repo / "deploy.env").write_text(env + "\n")
    memory = env.split("\n")[0].split("=")[1]
    assert f"--memory={memory} " in sandbox.plan("chat", "--project", "demo", env_file="deploy.env")
