"""scripts/doctor.py on a correct production setup, then with one thing broken at a time.

gcloud is tests/ops/fake_gcloud.py (answers in the real `--format=json` shapes), Secret Manager
the fake behind the real client, the site a local server sending firebase.json's headers.
"""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest

from .conftest import (
    CANARY,
    PROJECT,
    REGION,
    ROOT,
    SA,
    assert_no_values,
    function_json,
    gcloud_env,
    load_script,
)

doctor = load_script("doctor")


def run_doctor(production, capsys, *extra: str) -> tuple[int, list[str]]:
    with mock.patch.dict(os.environ, production.env()):
        code = doctor.main([*production.args(), *extra])
    output = capsys.readouterr().out
    assert_no_values(production.fake, output)
    return code, output.splitlines()


def failures(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("✘")]


def test_a_correct_setup_passes_every_check(production, capsys):
    code, lines = run_doctor(production, capsys)
    assert code == 0, "\n".join(lines)
    assert failures(lines) == []
    checks = [line for line in lines if line.startswith("✔")]
    assert len(checks) >= 30 and lines[-1] == "all checks passed"
    for expected in ("chat: runs as its own service account", "chat: APP_ENV=production",
                     "chat: REQUIRE_AUTH is on", "health: secrets none",
                     "auth: ALLOWED_ORIGINS is exactly", "chat: max instances 10",
                     "secret GEMINI_API_KEY: readable only by chat",
                     "secret SECRET_KEY: readable only by chat and auth",
                     "Firestore TTL on rate_limits.expire_at: ACTIVE",
                     "Content-Security-Policy present", "Strict-Transport-Security present",
                     "CSP img-src allows blob: (attachment thumbnails)"):
        assert any(expected in line for line in checks), expected
    describes = [call for call in production.gcloud_calls() if call[:2] == ["functions",
                                                                           "describe"]]
    assert sorted(call[2] for call in describes) == ["auth", "chat", "health"]
    assert all({"--gen2", "--region", REGION, "--project", PROJECT} <= set(call)
               for call in describes)


def _set_env(fn, **env):
    def mutate(production):
        production.functions[fn]["serviceConfig"]["environmentVariables"].update(env)
    return mutate


def _service(fn, **fields):
    def mutate(production):
        config = production.functions[fn]["serviceConfig"]
        for key, value in fields.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
    return mutate


def _drop_env(fn, name):
    def mutate(production):
        production.functions[fn]["serviceConfig"]["environmentVariables"].pop(name)
    return mutate


def _extra_accessor(production):
    production.fake.fake.put(PROJECT, "GEMINI_API_KEY", accessors=(
        f"serviceAccount:{SA['chat']}", f"serviceAccount:{SA['health']}"))


def _no_ttl(production):
    production.ttls = []


def _no_csp(production):
    del production.site.headers["Content-Security-Policy"]


def _unsafe_inline(production):
    production.site.headers["Content-Security-Policy"] += "; script-src 'self' 'unsafe-inline'"


def _no_blob_images(production):
    production.site.headers["Content-Security-Policy"] = \
        production.site.headers["Content-Security-Policy"].replace(" blob:", "")


def _project_accessor(production):
    production.project_policy["bindings"].append({"role": "roles/secretmanager.secretAccessor",
                                                  "members": [f"serviceAccount:{SA['health']}"]})


def _disabled_version_in_use(production):
    production.fake.fake.put(PROJECT, "SECRET_KEY", b"n" * 10 + b"0123456789abcdefghijklmnopqrs")
    with production.fake.fake._lock:
        production.fake.fake._secrets[(PROJECT, "SECRET_KEY")]["versions"][0]["state"] = "DISABLED"


SITE_KEY = "6LcZq9AAAAAAAJ3t-doctor_test-site-key00"
APP_CHECK_SOURCES = {  # what deploy.sh adds to the CSP with a site key
    "script-src": "https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/",
    "frame-src": "https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/",
    "connect-src": "https://content-firebaseappcheck.googleapis.com",
}


def _app_check(mode, site_key=None, csp=True, auth_mode=None):
    def mutate(production):
        _set_env("chat", APP_CHECK=mode)(production)
        _set_env("auth", APP_CHECK=auth_mode or mode)(production)
        if site_key:
            production.site.app_config["appCheckSiteKey"] = site_key
        if csp:
            rules = production.site.headers["Content-Security-Policy"].split("; ")
            production.site.headers["Content-Security-Policy"] = "; ".join(
                f"{rule} {APP_CHECK_SOURCES[rule.split()[0]]}"
                if rule.split()[0] in APP_CHECK_SOURCES else rule for rule in rules)
    return mutate


HEALTH_SECRET = [{"key": "GEMINI_API_KEY", "projectId": PROJECT, "secret": "GEMINI_API_KEY",
                  "version": "1"}]
DEFAULT_SA = "123456789012-compute@developer.gserviceaccount.com"

BROKEN = {
    "extra accessor member": (_extra_accessor, [
        f"secret GEMINI_API_KEY: also readable by serviceAccount:{SA['health']}"]),
    "shared service account": (_service("auth", serviceAccountEmail=SA["chat"]), [
        f"chat: runs as {SA['chat']}, shared with auth",
        f"auth: runs as {SA['chat']}, shared with chat",
        f"secret SECRET_KEY: also readable by serviceAccount:{SA['auth']}"]),
    "default compute service account": (_service("health", serviceAccountEmail=DEFAULT_SA), [
        "health: runs as the default service account"]),
    "APP_ENV missing": (_drop_env("auth", "APP_ENV"), ["auth: APP_ENV is missing"]),
    "APP_ENV development": (_set_env("chat", APP_ENV="development"),
                           ["chat: APP_ENV is not production"]),
    "emulator variable": (_set_env("chat", FIREBASE_AUTH_EMULATOR_HOST="127.0.0.1:9099"), [
        "chat: development-only settings FIREBASE_AUTH_EMULATOR_HOST"]),
    "debug variables": (_set_env("auth", DEBUG="1", LOG_LEVEL="DEBUG"), [
        "auth: development-only settings DEBUG, LOG_LEVEL"]),
    "wildcard origin": (_set_env("chat", ALLOWED_ORIGINS="*"), [
        "chat: ALLOWED_ORIGINS has a wildcard or a non-https origin"]),
    "http origin": (_set_env("auth", ALLOWED_ORIGINS=f"http://{PROJECT}.web.app"), [
        "auth: ALLOWED_ORIGINS has a wildcard or a non-https origin"]),
    "unexpected origin": (_set_env("chat", ALLOWED_ORIGINS=f"https://{PROJECT}.web.app,"
                                   "https://evil.example"), [
        "chat: ALLOWED_ORIGINS differs: unexpected https://evil.example; missing "
        f"https://{PROJECT}.firebaseapp.com"]),
    "anonymous chat": (_set_env("chat", REQUIRE_AUTH="false"), ["chat: REQUIRE_AUTH is false"]),
    "unreadable REQUIRE_AUTH": (_set_env("chat", REQUIRE_AUTH="maybe"), [
        "chat: REQUIRE_AUTH is not true or false"]),
    "no max instances": (_service("chat", maxInstanceCount=None), [
        "chat: max instances not set"]),
    "health with a secret": (_service("health", secretEnvironmentVariables=HEALTH_SECRET), [
        "health: secrets GEMINI_API_KEY, but it needs none"]),
    "secret as a plain variable": (_set_env("auth", SECRET_KEY=CANARY), [
        "auth: SECRET_KEY set as a plain environment variable"]),
    "function uses a disabled version": (_disabled_version_in_use, [
        "secret SECRET_KEY: chat uses version 1, auth uses version 1, not enabled"]),
    "project-wide accessor": (_project_accessor, [
        f"project-wide roles/secretmanager.secretAccessor (reads every secret): "
        f"serviceAccount:{SA['health']}"]),
    "no TTL policy": (_no_ttl, ["Firestore TTL on rate_limits.expire_at: missing"]),
    "missing CSP": (_no_csp, ["Content-Security-Policy missing"]),
    "CSP with unsafe-inline": (_unsafe_inline, [
        "Content-Security-Policy allows unsafe-inline/unsafe-eval"]),
    "CSP without blob: images": (_no_blob_images, [
        "CSP img-src does not allow blob: (attachment thumbnails are blocked)"]),
    "APP_CHECK not a mode": (_set_env("auth", APP_CHECK="strict"), [
        "auth: APP_CHECK is not off, monitor or enforce (the function refuses to start)"]),
    "App Check enforced without a site key": (_app_check("enforce", csp=False), [
        "App Check enforce on auth, chat, but the web app's /config.json has no appCheckSiteKey "
        "(every request from the web app is refused)"]),
    "App Check differs between chat and auth": (_app_check("enforce", SITE_KEY, auth_mode="off"), [
        "App Check differs: auth off, chat enforce"]),
    "App Check site key without the CSP": (_app_check("monitor", SITE_KEY, csp=False), [
        "App Check monitor: the site's CSP connect-src does not allow "
        "https://content-firebaseappcheck.googleapis.com"]),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_each_broken_item_fails_its_line_with_a_fix(production, capsys, case):
    mutate, expected = BROKEN[case]
    mutate(production)
    code, lines = run_doctor(production, capsys)
    assert code == 1
    failed = failures(lines)
    assert len(failed) == len(expected), "\n".join(failed)
    for line, text in zip(failed, expected):
        assert text in line, line
        assert " — fix: " in line and line.split(" — fix: ")[1].strip()
    assert lines[-1].startswith(f"{len(expected)} check(s) failed.")


@pytest.mark.parametrize("mode", ["enforce", "monitor", " Enforce "])
def test_app_check_with_the_site_key_deploy_writes_passes(production, capsys, mode):
    _app_check(mode, SITE_KEY)(production)
    code, lines = run_doctor(production, capsys)
    assert code == 0, "\n".join(failures(lines))
    assert f"✔ App Check {mode.strip().lower()} on auth, chat; the web app has a site key" in lines
    assert "✔ chat: APP_CHECK " + mode.strip().lower() in lines
    assert SITE_KEY not in "\n".join(lines)


def test_app_check_monitor_without_a_site_key_passes_with_a_note(production, capsys):
    _app_check("monitor", csp=False)(production)
    code, lines = run_doctor(production, capsys)
    assert code == 0, "\n".join(failures(lines))
    assert any(line.startswith("✔ App Check monitor on auth, chat, but") for line in lines)


def test_app_check_off_does_not_read_the_web_app_config(production, capsys):
    production.site.app_config = "not json"  # never fetched while App Check is off
    code, lines = run_doctor(production, capsys)
    assert code == 0 and "✔ App Check off on chat and auth" in lines


@pytest.mark.parametrize(("value", "state"), [("TRUE", "on"), (" Yes ", "on"), ("on", "on"),
                                              ("0", "false"), ("", "on"), ("Off", "false"),
                                              ("maybe", "not true or false")])
def test_require_auth_is_read_by_the_config_rule(production, capsys, value, state):
    _set_env("chat", REQUIRE_AUTH=value)(production)
    _, lines = run_doctor(production, capsys)
    assert any(line.startswith(f"{'✔' if state == 'on' else '✘'} chat: REQUIRE_AUTH is {state}")
               for line in lines), lines


def test_allow_anonymous_accepts_require_auth_false(production, capsys):
    _set_env("chat", REQUIRE_AUTH="false")(production)
    assert run_doctor(production, capsys, "--allow-anonymous")[0] == 0


def test_extra_origins_are_passed_explicitly(production, capsys):
    origins = f"https://{PROJECT}.web.app,https://{PROJECT}.firebaseapp.com,https://chat.example"
    for fn in ("chat", "auth", "health"):  # deploy.sh sets the same list everywhere
        _set_env(fn, ALLOWED_ORIGINS=origins)(production)
    assert run_doctor(production, capsys)[0] == 1
    assert run_doctor(production, capsys, "--origin", "https://chat.example")[0] == 0


def test_missing_function_and_unreachable_services_are_single_lines(production, capsys):
    del production.functions["health"]
    production.fake.fake.refusal = "api_disabled"
    production.site.url = "http://127.0.0.1:9/"
    code, lines = run_doctor(production, capsys)
    failed = failures(lines)
    assert code == 1 and [line.split(":")[0] for line in failed] == [
        "✘ health", "✘ secret GEMINI_API_KEY", "✘ secret SECRET_KEY", "✘ http"]
    assert "was not found" in failed[0] and "./deploy.sh health" in failed[0]
    assert "gcloud services enable secretmanager.googleapis.com" in failed[1]
    assert "unreachable" in failed[3]


def test_the_command_line_exits_non_zero_on_a_broken_setup(production):
    _extra_accessor(production)
    _set_env("chat", FIRESTORE_EMULATOR_HOST="localhost:8089")(production)
    done = subprocess.run([sys.executable, "scripts/doctor.py", *production.args()], cwd=ROOT,
                          env={**os.environ, **production.env()}, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1 and done.stderr == ""
    failed = failures(done.stdout.splitlines())
    assert len(failed) == 2
    assert failed[0].startswith("✘ chat: development-only settings FIRESTORE_EMULATOR_HOST — fix: "
                                f"gcloud run services update chat --region {REGION} --project "
                                f"{PROJECT} --remove-env-vars FIRESTORE_EMULATOR_HOST")
    assert failed[1] == (f"✘ secret GEMINI_API_KEY: also readable by serviceAccount:{SA['health']}"
                         f" — fix: gcloud secrets remove-iam-policy-binding GEMINI_API_KEY "
                         f"--project {PROJECT} --member serviceAccount:{SA['health']} --role "
                         "roles/secretmanager.secretAccessor")


@pytest.mark.skipif(shutil.which("gcloud") is None, reason="needs the real gcloud to parse")
def test_the_real_gcloud_accepts_every_command_and_fix(production, capsys):
    """Each gcloud command the doctor runs or prints parses in the installed gcloud: without an
    account it stops at "no active account" (exit 1), not at an unknown flag (exit 2)."""
    for mutate in (_extra_accessor, _no_ttl, _project_accessor, _set_env("chat", DEBUG="1"),
                   _service("chat", maxInstanceCount=None), _set_env("auth", APP_ENV="dev"),
                   _set_env("auth", ALLOWED_ORIGINS="*"), _set_env("chat", REQUIRE_AUTH="0"),
                   _service("health", secretEnvironmentVariables=HEALTH_SECRET)):
        mutate(production)
    _, lines = run_doctor(production, capsys)
    fixes = {fix.strip() for line in failures(lines)
             for fix in line.split(" — fix: ")[1].split(";") if fix.strip().startswith("gcloud ")}
    commands = {shlex.join(["gcloud", *call]) for call in production.gcloud_calls()}
    assert len(fixes) >= 8
    # One command per shape (subcommand + flags): the values do not change how gcloud parses.
    shapes = {}
    for command in sorted(fixes | commands):
        words = shlex.split(command.split(" (")[0])
        shapes.setdefault((*words[:3], *sorted(w.split("=")[0] for w in words
                                                if w.startswith("--"))), command)
    config = tempfile.mkdtemp()
    env = gcloud_env(config)

    def parse(command: str) -> tuple[str, int, str]:
        done = subprocess.run(shlex.split(command.split(" (")[0]), env=env, text=True,
                              capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        return command, done.returncode, done.stderr

    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(parse, shapes.values()))
    finally:
        shutil.rmtree(config, ignore_errors=True)
    assert len(results) >= 9
    for command, code, stderr in results:
        assert code == 1 and "active account" in stderr, f"{command}\n{stderr}"


DEPLOY_HARNESS = ROOT / "tests" / "deploy" / "gcloud_service_config.py"


@pytest.mark.skipif(shutil.which("gcloud") is None or not DEPLOY_HARNESS.exists()
                    or not (ROOT / "deploy.sh").exists(), reason="needs gcloud and deploy.sh")
def test_what_deploy_sh_deploys_passes_the_doctor(production, capsys, tmp_path):
    """deploy.sh's own plan, turned by the real gcloud's parser into the ServiceConfig it would
    send (tests/deploy's harness), is what `functions describe` shows: the doctor accepts it."""
    plan = subprocess.run(["bash", "deploy.sh", "all", "--project", PROJECT, "--dry-run"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "DEPLOY_ENV_FILE": str(tmp_path / "none.env")})
    assert plan.returncode == 0, plan.stderr
    deploys = [shlex.split(line.replace("<version of GEMINI_API_KEY>", "1")
                           .replace("<version of SECRET_KEY>", "1"), comments=True)
               for line in plan.stdout.splitlines() if line.startswith("gcloud functions deploy")]
    assert [argv[3] for argv in deploys] == ["health", "auth", "chat"]
    sdk = pathlib.Path(os.path.realpath(shutil.which("gcloud"))).parents[1]
    bundled = sdk / "platform" / "bundledpythonunix" / "bin" / "python3"
    python = str(bundled) if bundled.exists() else "python3"

    def service_config(argv: list[str]) -> dict:
        config = tmp_path / f"gcloud-{argv[3]}"
        config.mkdir()
        done = subprocess.run([python, str(DEPLOY_HARNESS), str(sdk), *argv[1:]], cwd=tmp_path,
                              env=gcloud_env(str(config)), capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["serviceConfig"]

    with ThreadPoolExecutor(2) as pool:
        configs = dict(zip([argv[3] for argv in deploys], pool.map(service_config, deploys)))
    for name, config in configs.items():
        production.functions[name] = {**function_json(name), "serviceConfig": config}
    code, lines = run_doctor(production, capsys)
    assert code == 0, "\n".join(failures(lines))
