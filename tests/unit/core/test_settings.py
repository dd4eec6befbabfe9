"""core.settings: the one table of settings is well formed, the loader reads each one by it, and
.env.example agrees with it (names, defaults; every example a value the functions accept)."""

from __future__ import annotations

import re

import pytest

from core.config import ENV_VARIABLES, ConfigError, load_config
from core.settings import FUNCTIONS, KINDS, SETTINGS, SOURCES, required_by, secrets_of
from tests.helpers import ROOT

DEVELOPMENT = {"APP_ENV": "development"}
# A line of .env.example that sets a variable, or shows one commented out.
ASSIGNMENT = re.compile(r"(#?)([A-Z][A-Z0-9_]*)=(.*)")


def dotenv_example() -> list[tuple[bool, str, str]]:
    """(commented out, name, value) of each assignment in .env.example."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    return [(bool(m[1]), m[2], m[3]) for m in map(ASSIGNMENT.fullmatch, lines) if m]


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_each_setting_is_declared_completely(name):
    entry = SETTINGS[name]
    assert entry.name == name and entry.kind in KINDS and entry.source in SOURCES
    assert entry.functions and set(entry.functions) <= set(FUNCTIONS)
    assert set(entry.required_by) <= set(entry.functions)
    assert entry.doc.strip() and not entry.doc.endswith(".")  # a table cell, not a paragraph
    if entry.kind in ("int", "seconds"):
        assert entry.low <= entry.default <= entry.high
    else:
        assert entry.low is None and entry.high is None
    assert (entry.kind == "choice") == bool(entry.choices)
    if entry.kind == "choice":
        assert entry.default in entry.choices
    if entry.kind == "bool":
        assert isinstance(entry.default, bool)
    if entry.source == "secret":
        assert entry.required_by == entry.functions  # bound to exactly the functions needing it


def test_env_variables_are_the_table():
    assert ENV_VARIABLES == frozenset(SETTINGS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_an_empty_development_environment_gives_every_default(function):
    config = load_config(function, DEVELOPMENT)
    fields = {"MAX_MESSAGE_CHARS": config.max_message_chars,
              "MAX_HISTORY_MESSAGES": config.max_history_messages,
              "MAX_REQUEST_BYTES": config.max_request_bytes,
              "MAX_INSTRUCTIONS_CHARS": config.max_instructions_chars,
              "MAX_ATTACHMENTS": config.max_attachments,
              "MAX_ATTACHMENT_BYTES": config.max_attachment_bytes,
              "ATTACHMENT_TYPES": config.attachment_types,
              "GEMINI_TIMEOUT_S": config.gemini_timeout_s,
              "REQUEST_BODY_TIMEOUT_S": config.request_body_timeout_s,
              "CHAT_ENABLED": config.chat_enabled, "REQUIRE_AUTH": config.require_auth,
              "CHECK_REVOKED": config.check_revoked, "APP_CHECK": config.app_check,
              "LOG_LEVEL": config.log_level, "RATE_LIMITS": config.rate_limits,
              "ALLOWED_SIGN_IN_PROVIDERS": tuple(config.allowed_sign_in_providers)}
    if function in SETTINGS["GEMINI_MODEL"].functions:
        fields["GEMINI_MODEL"] = config.gemini_model
    for name, value in fields.items():
        assert value == SETTINGS[name].default, name


@pytest.mark.parametrize("name", sorted(n for n, s in SETTINGS.items() if s.kind in ("int",
                                                                                    "seconds")))
def test_whole_numbers_are_held_to_their_declared_range(name):
    entry = SETTINGS[name]
    for inside in (entry.low, entry.high):
        load_config("chat", {**DEVELOPMENT, name: str(inside)})
    for outside in (entry.low - 1, entry.high + 1):
        with pytest.raises(ConfigError, match=f"^{name}: must be between {entry.low} and "
                                            f"{entry.high}$"):
            load_config("chat", {**DEVELOPMENT, name: str(outside)})


def test_secrets_and_requirements_come_from_the_table():
    for function in FUNCTIONS:
        assert set(secrets_of(function)) <= required_by(function)
        assert all(SETTINGS[name].source == "secret" for name in secrets_of(function))
    assert secrets_of("health") == () and required_by("health") == frozenset()


def test_env_example_names_only_settings_and_sets_each_once():
    names = {name for _, name, _ in dotenv_example()}
    assert names <= set(SETTINGS), names - set(SETTINGS)
    set_lines = [name for commented, name, _ in dotenv_example() if not commented]
    assert len(set_lines) == len(set(set_lines))


def test_env_example_lists_every_setting_an_operator_chooses():
    chosen = {name for name, entry in SETTINGS.items()
              if entry.source in ("deploy.env", "deploy.sh", "secret")}
    missing = chosen - {name for _, name, _ in dotenv_example()}
    assert not missing, f".env.example lacks {sorted(missing)} (see functions/core/settings.py)"


@pytest.mark.parametrize("commented, name, value", dotenv_example())
def test_env_example_values_are_the_defaults_or_valid_examples(commented, name, value):
    if value and not commented:
        assert value == SETTINGS[name].default_text, f"{name}: not the default"
    if value:  # an example the functions accept
        load_config("chat", {**DEVELOPMENT, name: value})
