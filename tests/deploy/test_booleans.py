"""One boolean rule everywhere: core/config.py's parse_bool, deploy.sh's is_true and
scripts/doctor.py agree on every value of a table (true, false, or refused naming the variable)."""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor

import pytest
from core.config import ConfigError, parse_bool

from .sandbox import ROOT, commands, deploy_command, env_vars

TABLE = ["1", "true", "TRUE", "True", "Yes", "YES", "on", " on ", "ON", "\ttrue",
         "0", "false", "FALSE", "No", "off", " Off ",
         "maybe", "2", "y", "t", "enabled", "truee", "on on", "-1", "\u00a0on"]
VIEWER = "roles/firebaseauth.viewer"


def config_says(value: str) -> str:
    try:
        return "true" if parse_bool("CHECK_REVOKED", value, False) else "false"
    except ConfigError as error:
        assert str(error).startswith("CHECK_REVOKED: must be true or false")
        return "refused"


def deploy_says(sandbox, value: str, index: int) -> str:
    """CHECK_REVOKED=value in deploy.env (quoted, so that surrounding spaces stay)."""
    name = f"deploy.env.{index}"
    (sandbox.repo / name).write_text(f'CHECK_REVOKED="{value}"\n')
    result = sandbox.run("chat", "--project", "demo", "--dry-run", env_file=name, check=False)
    if result.returncode != 0:
        assert result.stderr == ("deploy: CHECK_REVOKED: must be true or false (1, true, yes, on "
                                 "or 0, false, no, off, in any case; empty means the default)\n")
        return "refused"
    roles = [a for argv in commands(result.stdout) for a in argv if a.startswith("--role=")]
    granted = f"--role={VIEWER}" in roles
    # what the function is sent is what config then reads
    sent = env_vars(deploy_command(result.stdout, "chat")).get("CHECK_REVOKED")
    assert sent is None if value == "" else sent == value
    return "true" if granted else "false"


def load_doctor():
    spec = importlib.util.spec_from_file_location("booleans_doctor",
                                                  ROOT / "scripts" / "doctor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def doctor_says(doctor, value: str) -> str:
    state = doctor.require_auth_state({"REQUIRE_AUTH": value})
    return {"on": "true", "off": "false", "invalid": "refused"}[state]


def test_config_deploy_and_doctor_agree_on_every_value(sandbox):
    doctor = load_doctor()
    with ThreadPoolExecutor(max_workers=2) as pool:
        deployed = list(pool.map(lambda job: deploy_says(sandbox, *job),
                                 [(value, i) for i, value in enumerate(TABLE)]))
    table = {value: (config_says(value), deploy, doctor_says(doctor, value))
             for value, deploy in zip(TABLE, deployed)}
    assert all(len(set(answers)) == 1 for answers in table.values()), table
    assert {v for v, (c, _, _) in table.items() if c == "true"} == {
        "1", "true", "TRUE", "True", "Yes", "YES", "on", " on ", "ON", "\ttrue"}
    assert {v for v, (c, _, _) in table.items() if c == "refused"} == {
        "maybe", "2", "y", "t", "enabled", "truee", "on on", "-1", "\u00a0on"}


def test_doctor_reads_an_unset_require_auth_as_on(sandbox):
    assert load_doctor().require_auth_state({}) == "on"


def test_empty_means_the_default_everywhere(sandbox):
    # An empty REQUIRE_AUTH must never turn sign-in off (it did when "" meant false).
    assert parse_bool("REQUIRE_AUTH", "", True) is True
    assert parse_bool("CHECK_REVOKED", " ", False) is False
    assert load_doctor().require_auth_state({"REQUIRE_AUTH": ""}) == "on"
    assert deploy_says(sandbox, "", 99) == "false"  # CHECK_REVOKED's default: no viewer role


@pytest.mark.parametrize("name", ["REQUIRE_AUTH", "CHAT_ENABLED", "CHECK_REVOKED"])
def test_deploy_refuses_a_boolean_setting_that_is_not_one(sandbox, name):
    (sandbox.repo / "deploy.env").write_text(f"{name}=sometimes\n")
    for target in ("chat", "auth", "hosting"):
        result = sandbox.run(target, "--project", "demo", "--dry-run", env_file="deploy.env",
                             check=False)
        assert result.returncode != 0 and result.stdout == ""
        assert result.stderr.startswith(f"deploy: {name}: must be true or false")
        assert "sometimes" not in result.stderr
    assert sandbox.calls() == []


@pytest.mark.parametrize("value", ["TRUE", "Yes", "on", "1"])
def test_check_revoked_in_any_accepted_spelling_grants_what_it_needs(sandbox, value):
    (sandbox.repo / "deploy.env").write_text(f"CHECK_REVOKED={value}\n")
    plan = sandbox.plan("chat", "--project", "demo", env_file="deploy.env")
    assert f"--role={VIEWER}" in plan
