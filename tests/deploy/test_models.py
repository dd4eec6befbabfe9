"""Issue #10 in deploy.sh: GEMINI_MODELS / GEMINI_MODEL follow core/config.py's rule to the word
(a list the functions would refuse at start stops the deploy instead), only one of them is sent,
to chat and auth and never health, and the chat limits GET /api/auth shows reach both."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from core.config import ConfigError, load_config

from .sandbox import deploy_command, env_vars

# (GEMINI_MODELS, GEMINI_MODEL) as deploy.env would hold them; "" = unset.
TABLE = [
    ("", ""), ("", "gemini-2.5-pro"), ("", " gemini-2.5-pro "), ("", "Gemini-Pro"),
    ("", "models/gemini-2.5-pro"), ("", "x" * 100), ("", "x" * 101),
    ("gemini-2.5-flash:1,gemini-2.5-flash-lite:0.3,gemini-2.5-pro:8", ""),
    ("gemini-2.5-flash:1,gemini-2.5-flash-lite:0.3,gemini-2.5-pro:8", "gemini-2.5-flash"),
    ("gemini-2.5-flash:1,gemini-2.5-pro:8", "gemini-2.5-pro"),
    ("gemini-2.5-flash:1,gemini-2.5-pro:8", "Gemini-Pro"),
    (" gemini-2.5-pro : 8 , gemini-2.5-flash:1 ", "gemini-2.5-pro"),
    ("a:1000", ""), ("a:1000.000000", ""), ("a:0001.5", ""), ("a:0.000001", ""),
    ("a:1000.000001", ""), ("a:1001", ""), ("a:0", ""), ("a:0.0", ""), ("a:-1", ""),
    ("a:1e3", ""), ("a:.5", ""), ("a:1.", ""), ("a:0.0000001", ""), ("a:inf", ""),
    ("a:nan", ""), ("a:+1", ""), ("a:1:2", ""), ("a:", ""), ("a:\uff11", ""), ("a", ""),
    ("a=1", ""), (":1", ""), ("A:1", ""), ("-a:1", ""), (".a:1", ""), ("a b:1", ""),
    ("g\u00e9mini:1", ""), ("a/b:1", ""), ("a" * 100 + ":1", ""), ("a" * 101 + ":1", ""),
    (",", ""), ("a:1,", ""), (",a:1", ""), ("a:1,,b:2", ""), ("a:1, ,b:2", ""),
    ("a:1,b:2,a:3", ""), ("a:1,b:x,a:3", ""), ("a:1,B:2", ""),
    (",".join(f"m{i}:1" for i in range(20)), ""), (",".join(f"m{i}:1" for i in range(21)), ""),
    (",".join(f"m{i}:1" for i in range(20)) + ",m0:1", ""),
]


def config_says(models: str, model: str) -> str:
    environ = {"APP_ENV": "development", "GEMINI_MODELS": models, "GEMINI_MODEL": model}
    try:
        loaded = load_config("auth", environ).models
    except ConfigError as error:
        return f"refused: {error}"
    return ",".join(f"{m.id}:{m.weight}" for m in loaded)


def deploy_says(sandbox, models: str, model: str, index: int) -> str:
    name = f"deploy.env.{index}"
    (sandbox.repo / name).write_text(f'GEMINI_MODELS="{models}"\nGEMINI_MODEL="{model}"\n')
    result = sandbox.run("all", "--project", "demo", "--dry-run", env_file=name, check=False)
    if result.returncode != 0:
        assert result.stdout == "" and result.stderr.startswith("deploy: ")
        assert len(result.stderr.splitlines()) == 1
        return "refused: " + result.stderr.removeprefix("deploy: ").rstrip("\n")
    chat, auth, health = (env_vars(deploy_command(result.stdout, fn))
                          for fn in ("chat", "auth", "health"))
    sent = {k: v for k, v in chat.items() if k.startswith("GEMINI_MODEL")}
    assert sent == {k: v for k, v in auth.items() if k.startswith("GEMINI_MODEL")}
    assert len(sent) == 1 and not any(k.startswith("GEMINI") for k in health)
    # what the function then reads from the one variable it is sent
    return config_says(sent.get("GEMINI_MODELS", ""), sent.get("GEMINI_MODEL", ""))


def test_config_and_deploy_agree_on_every_list_word_for_word(sandbox):
    with ThreadPoolExecutor(max_workers=2) as pool:
        deployed = list(pool.map(lambda job: deploy_says(sandbox, *job[1], job[0]),
                                 enumerate(TABLE)))
    table = {row: (config_says(*row), deploy) for row, deploy in zip(TABLE, deployed)}
    assert [row for row, (config, deploy) in table.items() if config != deploy] == []
    accepted = [row for row, (config, _) in table.items() if not config.startswith("refused")]
    assert len(accepted) == 13, accepted  # the table exercises both sides of every rule
    assert table[("", "")][0] == "gemini-2.5-flash:1"
    assert table[("gemini-2.5-flash:1,gemini-2.5-pro:8", "gemini-2.5-pro")][0] == (
        "refused: GEMINI_MODEL: must be the first (default) model of GEMINI_MODELS when both are "
        "set; unset GEMINI_MODEL or list that model first")


def test_the_list_is_sent_alone_and_the_example_default_still_deploys(sandbox, golden_plans):
    (sandbox.repo / "deploy.env").write_text(
        "GEMINI_MODELS=gemini-2.5-flash:1,gemini-2.5-pro:8\nGEMINI_MODEL=gemini-2.5-flash\n")
    plan = sandbox.plan("all", "--project", "demo", env_file="deploy.env")
    for fn in ("chat", "auth"):
        envs = env_vars(deploy_command(plan, fn))
        assert envs["GEMINI_MODELS"] == "gemini-2.5-flash:1,gemini-2.5-pro:8"
        assert "GEMINI_MODEL" not in envs
    for fn in ("chat", "auth"):  # with neither set: the one default model, as before
        assert env_vars(deploy_command(golden_plans["all"], fn))["GEMINI_MODEL"] == (
            "gemini-2.5-flash")


@pytest.mark.parametrize("name, value", [
    ("MAX_MESSAGE_CHARS", "4000"), ("MAX_INSTRUCTIONS_CHARS", "500"), ("MAX_ATTACHMENTS", "2"),
    ("MAX_ATTACHMENT_BYTES", "1048576"), ("ATTACHMENT_TYPES", "image/png,application/pdf"),
])
def test_the_chat_limits_reach_chat_and_auth_only(sandbox, name, value):
    (sandbox.repo / "deploy.env").write_text(f"{name}={value}\n")
    plan = sandbox.plan("all", "--project", "demo", env_file="deploy.env")
    sent = {fn: env_vars(deploy_command(plan, fn)).get(name) for fn in ("chat", "auth", "health")}
    assert sent == {"chat": value, "auth": value, "health": None}
