"""deploy.sh's side of App Check: APP_CHECK (off | monitor | enforce) reaches chat and auth only;
APP_CHECK_SITE_KEY (public) reaches the web app's config.json and opens exactly the reCAPTCHA
Enterprise and App Check origins in the Hosting CSP; enforce without a site key is refused."""

from __future__ import annotations

import json
import os

import pytest

from .fake_tools import CHAT_URL
from .sandbox import GOLDEN, ROOT, commands, deploy_command, env_vars

DEMO = ("--project", "demo", "--region", "us-central1")
SITE_KEY = "6LcZq9AAAAAAAJ3t-deploy_test-site-key00"  # shaped like a reCAPTCHA Enterprise key
ADDED = {  # the contract with the web app: exactly these, only with a site key
    "script-src": ["https://www.google.com/recaptcha/", "https://www.gstatic.com/recaptcha/"],
    "frame-src": ["https://www.google.com/recaptcha/", "https://recaptcha.google.com/recaptcha/"],
    "connect-src": ["https://content-firebaseappcheck.googleapis.com"],
}


def with_env(sandbox, text: str) -> str:
    (sandbox.repo / "deploy.env").write_text(text)
    return "deploy.env"


def csp_of(path) -> dict[str, list[str]]:
    hosting = json.loads(path.read_text())["hosting"]
    value = next(h["value"] for rule in hosting["headers"] for h in rule["headers"]
                 if h["key"] == "Content-Security-Policy")
    return {d.split()[0]: d.split()[1:] for d in value.split("; ")}


def narrowed_original() -> dict[str, list[str]]:
    csp = csp_of(ROOT / "firebase.json")
    csp["connect-src"] = [CHAT_URL if s == "https://*.a.run.app" else s
                          for s in csp["connect-src"]]
    csp["frame-src"] = ["https://demo.firebaseapp.com" if s == "https://*.firebaseapp.com" else s
                        for s in csp["frame-src"]]
    return csp


def test_app_check_plan_matches_golden(sandbox):
    """The whole plan with App Check enforced (tests/deploy/golden/all-app-check.txt)."""
    env_file = with_env(sandbox, f"APP_CHECK=enforce\nAPP_CHECK_SITE_KEY={SITE_KEY}\n")
    plan = sandbox.plan("all", *DEMO, env_file=env_file)
    golden = GOLDEN / "all-app-check.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(plan)
    assert plan == golden.read_text(), f"plan changed; if deliberate: UPDATE_GOLDEN=1 ({golden})"


def test_app_check_is_off_by_default_on_chat_and_auth_and_never_on_health(golden_plans):
    for fn in ("chat", "auth"):
        assert env_vars(deploy_command(golden_plans[fn], fn))["APP_CHECK"] == "off"
        assert env_vars(deploy_command(golden_plans["all"], fn))["APP_CHECK"] == "off"
    assert "APP_CHECK" not in env_vars(deploy_command(golden_plans["health"], "health"))
    assert "APP_CHECK" not in golden_plans["hosting"]


@pytest.mark.parametrize(("value", "mode"), [("monitor", "monitor"), ("enforce", "enforce"),
                                             ("off", "off"), ("Enforce", "enforce"),
                                             ("' monitor '", "monitor")])
def test_app_check_mode_reaches_chat_and_auth_only(sandbox, value, mode):
    env_file = with_env(sandbox, f"APP_CHECK={value}\nAPP_CHECK_SITE_KEY={SITE_KEY}\n")
    plan = sandbox.plan("all", *DEMO, env_file=env_file)
    for fn in ("chat", "auth"):
        assert env_vars(deploy_command(plan, fn))["APP_CHECK"] == mode
    assert "APP_CHECK" not in env_vars(deploy_command(plan, "health"))
    # The site key is for the web app only: no function is sent it.
    for fn in ("chat", "auth", "health"):
        assert SITE_KEY not in " ".join(deploy_command(plan, fn))


def test_the_plan_says_what_the_site_key_adds(sandbox):
    env_file = with_env(sandbox, f"APP_CHECK_SITE_KEY={SITE_KEY}\n")
    plan = sandbox.plan("hosting", *DEMO, env_file=env_file)
    lines = plan.splitlines()
    assert f'# write hosting/dist/config.json: {{"chatUrl": "<chat-url>/", "appCheckSiteKey": ' \
           f'"{SITE_KEY}"}}' in lines
    [csp_line] = [line for line in lines if line.startswith("# write build/firebase.deploy.json")]
    for directive, sources in ADDED.items():
        assert f"{directive} += {' '.join(sources)}" in csp_line
    assert len(commands(plan)) == 3  # still describe, build, deploy: nothing else runs


def test_site_key_reaches_config_json_and_the_csp_gains_exactly_the_app_check_sources(sandbox):
    env_file = with_env(sandbox, f"APP_CHECK=enforce\nAPP_CHECK_SITE_KEY={SITE_KEY}\n")
    sandbox.run("hosting", *DEMO, env_file=env_file)
    config = json.loads((sandbox.repo / "hosting" / "dist" / "config.json").read_text())
    assert config == {"chatUrl": f"{CHAT_URL}/", "appCheckSiteKey": SITE_KEY}
    expected = narrowed_original()
    for directive, sources in ADDED.items():
        expected[directive] = expected[directive] + sources
    assert csp_of(sandbox.repo / "build" / "firebase.deploy.json") == expected


@pytest.mark.parametrize("mode", ["off", "monitor"])
def test_without_a_site_key_nothing_is_added(sandbox, mode):
    env_file = with_env(sandbox, f"APP_CHECK={mode}\n")
    sandbox.run("hosting", *DEMO, env_file=env_file)
    config = json.loads((sandbox.repo / "hosting" / "dist" / "config.json").read_text())
    assert config == {"chatUrl": f"{CHAT_URL}/"}
    assert csp_of(sandbox.repo / "build" / "firebase.deploy.json") == narrowed_original()


@pytest.mark.parametrize(("target", "env", "message"), [
    ("chat", "APP_CHECK=strict", "APP_CHECK: must be off, monitor or enforce"),
    ("auth", "APP_CHECK=true", "APP_CHECK: must be off, monitor or enforce"),
    ("all", "APP_CHECK=enforce", "APP_CHECK=enforce needs APP_CHECK_SITE_KEY"),
    ("hosting", "APP_CHECK=enforce\nAPP_CHECK_SITE_KEY=", "APP_CHECK=enforce needs "
                                                          "APP_CHECK_SITE_KEY"),
    ("chat", "APP_CHECK=enforce", "APP_CHECK=enforce needs APP_CHECK_SITE_KEY"),
    ("hosting", 'APP_CHECK_SITE_KEY=6Lc"},"x":"<script>', "APP_CHECK_SITE_KEY: not a reCAPTCHA "
                                                          "Enterprise site key"),
    ("hosting", "APP_CHECK_SITE_KEY=6Lc key with spaces", "APP_CHECK_SITE_KEY: not a reCAPTCHA "
                                                          "Enterprise site key"),
])
def test_bad_app_check_settings_are_one_clear_line(sandbox, target, env, message):
    env_file = with_env(sandbox, env + "\n")
    for dry in (True, False):
        result = sandbox.run(target, *DEMO, *(["--dry-run"] if dry else []), env_file=env_file,
                             check=False)
        assert result.returncode != 0 and result.stdout == ""
        assert result.stderr.splitlines() == [result.stderr.strip()]
        assert result.stderr.startswith(f"deploy: {message}")
        assert sandbox.calls() == []
