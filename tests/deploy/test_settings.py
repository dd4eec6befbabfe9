"""deploy.sh against functions/core/settings.py: every setting deploy.env may hold (APP_SETTINGS)
and every one deploy.sh sets itself reaches exactly the functions that read it, and each function
is bound exactly its secrets (secrets_of)."""

from __future__ import annotations

import pytest
from core.settings import SETTINGS, secrets_of

from .sandbox import FUNCTIONS, Sandbox, deploy_command, env_vars, flags

# What deploy.sh sends besides the app's settings: functions-framework's worker threads.
RUNTIME_ONLY = {"THREADS"}
# A valid value for the settings that have no default.
SAMPLES = {"ALLOWED_EMAILS": "a@example.com", "ALLOWED_DOMAINS": "example.com"}


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> str:
    """The plan of `all` with every deploy.env setting of the table set (to its default)."""
    sandbox = Sandbox(tmp_path_factory.mktemp("settings"))
    lines = [f"{name}={SAMPLES.get(name) or entry.default_text}"
             for name, entry in SETTINGS.items() if entry.source == "deploy.env"]
    (sandbox.repo / "deploy.env").write_text("\n".join(lines) + "\n")
    return sandbox.plan("all", "--project", "demo", env_file="deploy.env")


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_each_function_gets_exactly_the_settings_it_reads(plan, fn):
    sent = set(env_vars(deploy_command(plan, fn))) - RUNTIME_ONLY
    reads = {name for name, entry in SETTINGS.items() if fn in entry.functions
             and entry.source in ("deploy.env", "deploy.sh")}
    reads.discard("GEMINI_MODELS")  # deploy.sh sends one of the two: GEMINI_MODEL when no list
    assert sent == reads, (f"{fn}: deploy.sh also sends {sorted(sent - reads)}, and not "
                           f"{sorted(reads - sent)} (see functions/core/settings.py)")


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_each_function_is_bound_exactly_its_secrets(plan, fn):
    bound = flags(deploy_command(plan, fn)).get("--set-secrets", "")
    assert tuple(item.split("=", 1)[0] for item in bound.split(",") if item) == secrets_of(fn)


def test_deploy_env_refuses_the_settings_a_deployment_must_not_take_from_it(tmp_path):
    sandbox = Sandbox(tmp_path)
    for name, entry in SETTINGS.items():
        if entry.source in ("development", "runtime", "unset", "secret"):
            (sandbox.repo / "deploy.env").write_text(f"{name}=x\n")
            result = sandbox.run("health", "--project", "demo", "--dry-run",
                                 env_file="deploy.env", check=False)
            assert result.returncode != 0 and f"unknown setting {name}" in result.stderr, name
