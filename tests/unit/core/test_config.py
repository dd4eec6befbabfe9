"""core.config: production by default, and every insecure production config refused by name."""

from __future__ import annotations

import base64
import pathlib
import random
import secrets
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import DEFAULT_SYSTEM_PROMPT, ConfigError, load_config

ROOT = pathlib.Path(__file__).resolve().parents[3]

GOOD_KEY = "Qh7vN2xLp9Rz4KwT8mYc3Fb6Jd1Gs5HnVe0UaXiOqZrB"  # 44 chars, high variety
GOOD_PROD = {
    "SECRET_KEY": GOOD_KEY,
    "ALLOWED_ORIGINS": "https://app.example",
    "GEMINI_API_KEY": "AIza-distinctive-api-key-Zq9",
    "FIREBASE_PROJECT_ID": "my-project",
}


def env(removed: tuple[str, ...] = (), **overrides: str) -> dict[str, str]:
    result = {**GOOD_PROD, **overrides}
    for name in removed:
        result.pop(name, None)
    return result


def refusal(function: str, environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(function, environ)
    return str(caught.value)


def test_good_production_config_loads_for_every_function():
    for function in ("chat", "auth", "health"):
        assert load_config(function, GOOD_PROD).production


def test_production_is_the_default():
    config = load_config("chat", GOOD_PROD)
    assert config.app_env == "production"
    # ...so development leniency (no key) is not available without saying so
    assert "SECRET_KEY" in refusal("chat", env(removed=("SECRET_KEY",)))


# (function, environment, variable named, rule fragment, value that must not be echoed)
REFUSALS = [
    ("chat", env(removed=("SECRET_KEY",)), "SECRET_KEY", "required", None),
    ("auth", env(removed=("SECRET_KEY",)), "SECRET_KEY", "required", None),
    ("chat", env(SECRET_KEY="Zq9shortKey7"), "SECRET_KEY", "at least 32 bytes", "Zq9shortKey7"),
    ("chat", env(SECRET_KEY="changeme"), "SECRET_KEY", "placeholder", None),
    ("chat", env(SECRET_KEY="your-secret-key"), "SECRET_KEY", "placeholder", None),
    ("chat", env(SECRET_KEY="dev"), "SECRET_KEY", "placeholder", None),
    ("chat", env(SECRET_KEY="secret"), "SECRET_KEY", "placeholder", None),
    ("auth", env(SECRET_KEY="Zq9x-CHANGEME-" + "Kw3vB8nLp2Rt6Yh1Mc5Fd7Gj"), "SECRET_KEY",
     "placeholder", "Zq9x-CHANGEME-Kw3vB8nLp2Rt6Yh1Mc5Fd7Gj"),
    ("chat", env(SECRET_KEY="a" * 40), "SECRET_KEY", "random", "a" * 40),
    ("chat", env(FIREBASE_AUTH_EMULATOR_HOST="127.0.0.1:9099"), "FIREBASE_AUTH_EMULATOR_HOST",
     "must not be set", "127.0.0.1:9099"),
    ("health", {"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"}, "FIREBASE_AUTH_EMULATOR_HOST",
     "must not be set", "127.0.0.1:9099"),
    ("chat", env(removed=("ALLOWED_ORIGINS",)), "ALLOWED_ORIGINS", "required", None),
    ("auth", env(removed=("ALLOWED_ORIGINS",)), "ALLOWED_ORIGINS", "required", None),
    ("chat", env(ALLOWED_ORIGINS="https://ok.example,*"), "ALLOWED_ORIGINS", "'*' is refused",
     None),
    ("chat", env(ALLOWED_ORIGINS="https://*.zq9.app"), "ALLOWED_ORIGINS", "exact origin",
     "zq9.app"),
    ("chat", env(ALLOWED_ORIGINS="https://x.app/path-zq9"), "ALLOWED_ORIGINS", "exact origin",
     "path-zq9"),
    ("chat", env(ALLOWED_ORIGINS="https://x.app/"), "ALLOWED_ORIGINS", "exact origin", "x.app"),
    ("chat", env(ALLOWED_ORIGINS="zq9.app"), "ALLOWED_ORIGINS", "exact origin", "zq9.app"),
    ("auth", env(ALLOWED_ORIGINS="http://zq9.app"), "ALLOWED_ORIGINS", "https", "zq9.app"),
    ("chat", env(removed=("GEMINI_API_KEY",)), "GEMINI_API_KEY", "required", None),
    ("chat", env(removed=("FIREBASE_PROJECT_ID",)), "FIREBASE_PROJECT_ID", "required", None),
    ("auth", env(removed=("FIREBASE_PROJECT_ID",)), "FIREBASE_PROJECT_ID", "required", None),
    ("chat", env(DEBUG="true"), "DEBUG", "debug mode must be off", None),
    ("auth", env(FLASK_DEBUG="1"), "FLASK_DEBUG", "debug mode must be off", None),
    ("chat", env(LOG_LEVEL="DEBUG"), "LOG_LEVEL", "refused in production", None),
    ("health", {"LOG_LEVEL": "debug"}, "LOG_LEVEL", "refused in production", None),
    ("chat", env(GUNICORN_LOG_LEVEL="debug"), "GUNICORN_LOG_LEVEL", "refused in production", None),
    ("chat", env(FIRESTORE_EMULATOR_HOST="127.0.0.1:8085"), "FIRESTORE_EMULATOR_HOST",
     "must not be set", "127.0.0.1:8085"),
    ("auth", env(FIRESTORE_EMULATOR_HOST="zq9-host:8085"), "FIRESTORE_EMULATOR_HOST",
     "must not be set", "zq9-host"),
    ("chat", env(RATE_LIMIT_STORAGE="memcached://zq9-cache:11211"), "RATE_LIMIT_STORAGE",
     "firestore://", "zq9-cache"),
    ("auth", env(RATE_LIMIT_STORAGE="rate_limits_zq9"), "RATE_LIMIT_STORAGE", "redis://",
     "rate_limits_zq9"),
]


@pytest.mark.parametrize(("function", "environ", "variable", "rule", "hidden"), REFUSALS)
def test_insecure_production_config_is_refused(function, environ, variable, rule, hidden):
    message = refusal(function, environ)
    assert message.startswith(f"{variable}:")
    assert rule in message
    if hidden is not None:
        assert hidden not in message
        assert hidden.lower() not in message.lower()


def test_refusal_never_echoes_the_secret_itself():
    key = "Zq9-example-" + "Kw3vB8nLp2Rt6Yh1Mc5Fd7GjXs"  # contains the placeholder word
    message = refusal("chat", env(SECRET_KEY=key))
    assert key not in message and "Kw3vB8nLp2Rt6Yh1Mc5Fd7GjXs" not in message


def test_gemini_key_is_not_needed_by_auth_or_health():
    assert load_config("auth", env(removed=("GEMINI_API_KEY",))).gemini_api_key is None
    assert load_config("health", {}).gemini_api_key is None


def test_google_cloud_project_satisfies_the_project_rule():
    for function in ("chat", "auth"):
        environ = env(removed=("FIREBASE_PROJECT_ID",), GOOGLE_CLOUD_PROJECT="gcp-project")
        assert load_config(function, environ).project_id == "gcp-project"
    assert load_config("chat", env(GOOGLE_CLOUD_PROJECT="other")).project_id == "my-project"


def test_health_loads_in_production_without_any_secret():
    config = load_config("health", {})
    assert config.production
    assert config.allowed_origins == frozenset()
    assert len(config.secret_key) >= 32


@pytest.mark.parametrize(("variable", "value", "rule"), [
    ("REQUIRE_AUTH", "maybe-zq9", "true or false"),
    ("CHECK_REVOKED", "sometimes-zq9", "true or false"),
    ("CHAT_ENABLED", "2-zq9", "true or false"),
    ("DEBUG", "verbose-zq9", "true or false"),
    ("MAX_REQUEST_BYTES", "64kb-zq9", "whole number"),
    ("MAX_MESSAGE_CHARS", "8000.5", "whole number"),
    ("MAX_HISTORY_MESSAGES", "99999", "between"),
    ("MAX_REQUEST_BYTES", "777", "between"),
    ("GEMINI_TIMEOUT_S", "98765", "between"),
    ("TRUSTED_PROXY_HOPS", "-7", "between"),
    ("GEMINI_BASE_URL", "ftp://zq9.example", "http(s) URL"),
    ("DAILY_TOKEN_BUDGET", "-3", "between"),
    ("DAILY_TOKEN_BUDGET", "1e6", "whole number"),
    ("GLOBAL_DAILY_TOKEN_BUDGET", "-5", "between"),
    ("MAX_CONCURRENT_STREAMS_PER_USER", "101", "between"),
    ("MAX_CONCURRENT_STREAMS_PER_USER", "two-zq9", "whole number"),
])
def test_invalid_typed_value_names_the_variable_not_the_value(variable, value, rule):
    message = refusal("chat", env(**{variable: value}))
    assert message.startswith(f"{variable}:")
    assert rule in message
    assert value not in message


@pytest.mark.parametrize("value", ["prod", "staging-zq9", "dev"])
def test_app_env_typo_is_refused(value):
    message = refusal("health", {"APP_ENV": value})
    assert message.startswith("APP_ENV:")
    assert "production, development" in message


def test_development_generates_a_fresh_random_key_per_load():
    first = load_config("chat", {"APP_ENV": "development"})
    second = load_config("chat", {"APP_ENV": "development"})
    assert not first.production
    assert len(first.secret_key) >= 32
    assert first.secret_key != second.secret_key


def test_development_accepts_the_auth_emulator_and_http_origins():
    config = load_config("auth", {"APP_ENV": "development",
                                  "FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099",
                                  "ALLOWED_ORIGINS": "http://localhost:5173"})
    assert config.allowed_origins == frozenset({"http://localhost:5173"})


def test_development_still_refuses_a_wildcard_origin():
    assert "'*'" in refusal("chat", {"APP_ENV": "development", "ALLOWED_ORIGINS": "*"})


def test_good_production_config_has_typed_fields():
    config = load_config("chat", env(
        ALLOWED_ORIGINS=" https://a.example , https://b.example:8443 ,",
        ALLOWED_EMAILS="Ann@Example.com", ALLOWED_DOMAINS="@Corp.example",
        MAX_REQUEST_BYTES="2048", GEMINI_TIMEOUT_S="30", TRUSTED_PROXY_HOPS="2",
        REQUIRE_AUTH="false", CHECK_REVOKED="yes", LOG_LEVEL="warning"))
    assert config.allowed_origins == frozenset({"https://a.example", "https://b.example:8443"})
    assert isinstance(config.allowed_origins, frozenset)
    assert config.allowed_emails == frozenset({"ann@example.com"})
    assert config.allowed_domains == frozenset({"corp.example"})
    assert config.max_request_bytes == 2048 and isinstance(config.max_request_bytes, int)
    assert config.gemini_timeout_s == 30.0 and isinstance(config.gemini_timeout_s, float)
    assert config.trusted_proxy_hops == 2
    assert config.require_auth is False and config.check_revoked is True
    assert config.log_level == "WARNING"
    assert config.secret_key == GOOD_KEY.encode()
    assert config.gemini_api_key == GOOD_PROD["GEMINI_API_KEY"]


def test_defaults_of_the_spec():
    config = load_config("chat", GOOD_PROD)
    assert (config.max_request_bytes, config.max_message_chars, config.max_history_messages,
            config.max_output_tokens, config.gemini_timeout_s) == (20 << 20, 8000, 40, 2048, 60.0)
    assert config.require_auth is True and config.check_revoked is False
    assert config.system_prompt == DEFAULT_SYSTEM_PROMPT
    assert config.gemini_base_url is None


def test_limit_defaults_of_the_issue():
    config = load_config("chat", GOOD_PROD)
    assert config.rate_limits == "30/minute;50/hour;200/day"
    assert config.auth_rate_limits == "120/minute;2000/day"  # looser than chat
    assert config.rate_limit_storage == "firestore://rate_limits"  # shared by all instances
    assert (config.daily_token_budget, config.global_daily_token_budget) == (200_000, 5_000_000)
    assert config.max_concurrent_streams == 2
    assert load_config("chat", {"APP_ENV": "development"}).rate_limit_storage == "memory://"


def test_limit_settings_are_read():
    config = load_config("chat", env(
        RATE_LIMITS="5/minute", AUTH_RATE_LIMITS="9/minute", DAILY_TOKEN_BUDGET="1000",
        GLOBAL_DAILY_TOKEN_BUDGET="50000", MAX_CONCURRENT_STREAMS_PER_USER="4",
        RATE_LIMIT_STORAGE="redis://cache.internal:6379"))
    assert (config.rate_limits, config.auth_rate_limits) == ("5/minute", "9/minute")
    assert (config.daily_token_budget, config.global_daily_token_budget) == (1000, 50000)
    assert config.max_concurrent_streams == 4
    assert config.rate_limit_storage == "redis://cache.internal:6379"
    for uri in ("firestore://my_limits", "rediss://cache:6380", "memory://"):
        assert load_config("chat", env(RATE_LIMIT_STORAGE=uri)).rate_limit_storage == uri


def test_development_accepts_the_firestore_emulator():
    config = load_config("chat", {"APP_ENV": "development",
                                  "FIRESTORE_EMULATOR_HOST": "127.0.0.1:8085",
                                  "RATE_LIMIT_STORAGE": "firestore://rate_limits"})
    assert config.rate_limit_storage == "firestore://rate_limits"


def test_storage_scheme_accepted_is_one_quota_can_build():
    # urlsplit lowercases the scheme, so "Firestore://" passes the check; core.quota picks
    # Firestore by a case-sensitive prefix. Either refuse it or hand quota a lowercase scheme.
    try:
        config = load_config("chat", env(RATE_LIMIT_STORAGE="Firestore://rate_limits"))
    except ConfigError as error:
        assert str(error).startswith("RATE_LIMIT_STORAGE:")
    else:
        assert config.rate_limit_storage.startswith("firestore://")


def test_repr_hides_the_storage_uri_with_its_password():
    config = load_config("chat", env(RATE_LIMIT_STORAGE="redis://:hunter2-zq9@cache:6379"))
    assert "hunter2-zq9" not in repr(config)


def test_repr_hides_secrets_and_system_prompt():
    prompt = "Internal prompt zq9 wording"
    config = load_config("chat", env(SYSTEM_PROMPT=prompt))
    text = repr(config)
    assert "allowed_origins" in text  # it is the dataclass repr, with its ordinary fields
    for hidden in (GOOD_KEY, GOOD_PROD["GEMINI_API_KEY"], prompt):
        assert hidden not in text
    for field in ("secret_key", "gemini_api_key", "system_prompt"):
        assert field not in text


class _RecordingEnvironment(dict):
    def __init__(self, values):
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, name, default=None):
        self.read.add(name)
        return super().get(name, default)


@pytest.mark.parametrize("function", ["chat", "auth", "health"])
@pytest.mark.parametrize("app_env", ["production", "development"])
def test_env_variables_names_everything_config_reads(function, app_env):
    from core.config import ENV_VARIABLES

    environ = _RecordingEnvironment({
        "APP_ENV": app_env, "SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_ORIGINS": "https://app.example", "FIREBASE_PROJECT_ID": "p",
        "GEMINI_API_KEY": "k"})
    load_config(function, environ)
    assert environ.read <= ENV_VARIABLES
    assert len(environ.read) > 20  # it really read through the recorder


# --- issue #8, section 4: production refuses more --------------------------------------------

@pytest.mark.parametrize("function", ["chat", "auth", "health"])
@pytest.mark.parametrize("variable", ["FIREBASE_AUTH_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST"])
@pytest.mark.parametrize("value", [" ", "   ", "\t", "\n"])
def test_emulator_host_set_to_whitespace_is_refused(function, variable, value):
    # firebase-admin and google-cloud-firestore switch to the emulator for any non-empty value.
    base = {} if function == "health" else env()
    message = refusal(function, {**base, variable: value})
    assert message.startswith(f"{variable}:") and "must not be set in production" in message


@pytest.mark.parametrize("variable", ["FIREBASE_AUTH_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST"])
def test_emulator_host_set_to_the_empty_string_means_unset(variable):
    assert load_config("chat", env(**{variable: ""})).production


@pytest.mark.parametrize("function", ["chat", "auth", "health"])
@pytest.mark.parametrize("value", [" , ", ",", ",,, ,"])
def test_origins_empty_after_splitting_are_refused(function, value):
    message = refusal(function, {**env(), "ALLOWED_ORIGINS": value})
    assert message.startswith("ALLOWED_ORIGINS:") and "no origin" in message


@pytest.mark.parametrize("url", [
    "http://gemini-proxy.zq9.example", "http://10.0.0.5:8090", "http://localhost.zq9.example",
    "http://127.0.0.1.zq9.example:8090", "http://127.0.0.1@zq9.example", "http://127.0.0.2:8090",
    "http://[::2]:8090", "http://0.0.0.0:8090",
])
def test_plain_http_gemini_base_url_is_refused_in_production_unless_loopback(url):
    message = refusal("chat", env(GEMINI_BASE_URL=url))
    assert message.startswith("GEMINI_BASE_URL:") and "https" in message
    assert "zq9" not in message and url not in message


@pytest.mark.parametrize("url", [
    "https://generativelanguage.googleapis.com", "https://proxy.example:8443/v1",
    "http://127.0.0.1:8090", "http://[::1]:8090", "http://localhost:8090", "http://LOCALHOST/x",
])
def test_https_or_loopback_gemini_base_url_is_accepted_in_production(url):
    assert load_config("chat", env(GEMINI_BASE_URL=url)).gemini_base_url == url


@pytest.mark.parametrize("url", ["https:///v1", "http://", "https://:8443", "http://[::1"])
def test_gemini_base_url_without_a_host_is_refused(url):
    for app_env in ("production", "development"):
        message = refusal("chat", env(GEMINI_BASE_URL=url, APP_ENV=app_env))
        assert message.startswith("GEMINI_BASE_URL:")


def test_malformed_origin_is_a_config_error_not_a_crash():
    assert refusal("chat", env(ALLOWED_ORIGINS="https://[zq9")).startswith("ALLOWED_ORIGINS:")


def test_development_still_accepts_a_plain_http_stand_in_on_another_host():
    config = load_config("chat", {"APP_ENV": "development",
                                  "GEMINI_BASE_URL": "http://standin.internal:8090"})
    assert config.gemini_base_url == "http://standin.internal:8090"


WEAK_KEYS = [
    ("0123456789" * 4, "repeat"),
    ("Kx7Qw2Lm9Pz4Rt6Y" * 3, "repeat"),  # 16 distinct characters, 192 "bits" by Shannon alone
    ("Zq9!Vb#4Km" * 4, "repeat"),
    ("Kx7Qw2Lm9Pz4Rt6Yv8BnKx7Qw2Lm9Pz4Rt6Yv8Bn", "repeat"),  # period 20, half the length
    ("qwertyuiopasdfghjklzxcvbnm1234567890", "keyboard walk"),
    ("abcdefghijklmnopqrstuvwxyz0123456789", "keyboard walk"),
    ("zyxwvutsrqponmlkjihgfedcba9876543210", "keyboard walk"),
    ("1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.", "keyboard walk"),
    ("qwertyQWERTYasdfghASDFGHzxcvbnZXCVBN12345", "keyboard walk"),
    ("1234567890qwertyuiopASDFGHJKL:zxcvbnm<>?", "keyboard walk"),
    ("Zq9shortKey7Zq9shortKey7Zq9shortKey7x", "too little randomness"),
    ("passwordpassword1234passwordpassword", "too little randomness"),
    ("Hunter2!hunter2?HUNTER2#hunter2.Hunter2", "too little randomness"),
    ("MyDogRexMyDogRexMyDogRex-born-2019!", "too little randomness"),
    ("2024-01-01T00:00:00Z/2024-12-31T23:59:59Z", "too little randomness"),
]


@pytest.mark.parametrize(("key", "rule"), WEAK_KEYS)
@pytest.mark.parametrize("function", ["chat", "auth"])
def test_low_entropy_secret_key_is_refused(function, key, rule):
    message = refusal(function, env(SECRET_KEY=key))
    assert message.startswith("SECRET_KEY:") and rule in message, message
    assert key not in message and key[:8] not in message
    assert "secrets.token_urlsafe(48)" in message  # says how to make a good one


def test_secret_key_equal_to_the_gemini_key_is_refused():
    key = "AIza" + secrets.token_urlsafe(30)
    message = refusal("chat", env(SECRET_KEY=key, GEMINI_API_KEY=key))
    assert message.startswith("SECRET_KEY:") and "GEMINI_API_KEY" in message
    assert key not in message
    # auth has no Gemini key of its own, but the same key in its environment is refused alike
    assert refusal("auth", env(SECRET_KEY=key, GEMINI_API_KEY=key)).startswith("SECRET_KEY:")


def test_secret_key_equal_to_the_gemini_key_up_to_surrounding_whitespace_is_refused():
    key = secrets.token_urlsafe(48)
    assert "GEMINI_API_KEY" in refusal("chat", env(SECRET_KEY=key + "\n", GEMINI_API_KEY=key))


def test_secret_key_generated_as_documented_always_passes():
    """secrets.token_urlsafe(48) and token_hex(32), drawn fresh many times."""
    for _ in range(3000):
        for key in (secrets.token_urlsafe(48), secrets.token_hex(32)):
            assert load_config("chat", env(SECRET_KEY=key)).secret_key == key.encode()


@settings(max_examples=1500, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**128))
def test_secret_key_of_uniform_random_bytes_always_passes(seed):
    """The same constructions as token_urlsafe(48) / token_hex(32), on uniformly random bytes
    (a seeded generator, so a failure replays)."""
    data = random.Random(seed).randbytes(48)
    for key in (base64.urlsafe_b64encode(data).rstrip(b"=").decode(), data[:32].hex()):
        assert load_config("auth", env(SECRET_KEY=key)).secret_key == key.encode()


# --- one boolean rule (config, deploy.sh and scripts/doctor.py; tests/deploy/test_booleans.py) --

@pytest.mark.parametrize(("raw", "expected"), [
    ("1", True), ("true", True), ("TRUE", True), ("Yes", True), (" on ", True), ("\tOn\n", True),
    ("0", False), ("false", False), ("False", False), ("NO", False), (" off ", False), ("", "default"),
    ("  ", "default"), (None, "default"),
])
def test_one_boolean_rule(raw, expected):
    from core.config import parse_bool

    for default in (True, False):
        want = default if expected == "default" else expected
        assert parse_bool("CHECK_REVOKED", raw, default) is want


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "t", "enabled", "truee", "\u00a0true", "on on"])
def test_anything_else_is_not_a_boolean(raw):
    from core.config import parse_bool

    with pytest.raises(ConfigError) as caught:
        parse_bool("CHAT_ENABLED", raw, True)
    # one fixed text for every value, so the value is never echoed
    assert str(caught.value) == ("CHAT_ENABLED: must be true or false (1, true, yes, on or 0, "
                                 "false, no, off, in any case; empty means the default)")


# --- issue #10: models with budget weights, instructions and attachment limits ----------------

def models_of(environ: dict) -> list[tuple[str, str]]:
    return [(model.id, str(model.weight)) for model in load_config("chat", environ).models]


def test_gemini_models_lists_ids_and_exact_weights_the_first_is_the_default():
    from fractions import Fraction

    config = load_config("chat", env(GEMINI_MODELS=(
        "gemini-2.5-flash:1, gemini-2.5-flash-lite:0.3 ,gemini-2.5-pro:8,x.y-1:1000,"
        "tiny:0.000001")))
    assert [(m.id, m.weight) for m in config.models] == [
        ("gemini-2.5-flash", 1), ("gemini-2.5-flash-lite", Fraction(3, 10)),
        ("gemini-2.5-pro", 8), ("x.y-1", 1000), ("tiny", Fraction(1, 10**6))]
    assert config.gemini_model == "gemini-2.5-flash" == config.model().id
    assert config.model("gemini-2.5-pro").weight == 8
    assert [m.public_weight for m in config.models] == [1, 0.3, 8, 1000, 1e-06]
    assert isinstance(config.models[0].public_weight, int)
    with pytest.raises(KeyError):
        config.model("gemini-ultra")


def test_gemini_model_alone_is_a_one_model_list_of_weight_1():
    assert models_of(env()) == [("gemini-2.5-flash", "1")]
    assert models_of(env(GEMINI_MODEL="gemini-2.5-pro")) == [("gemini-2.5-pro", "1")]
    assert models_of(env(GEMINI_MODEL=" gemini-2.5-pro ", GEMINI_MODELS=" ")) == [
        ("gemini-2.5-pro", "1")]


def test_both_set_gemini_models_wins_when_gemini_model_is_its_first_entry():
    environ = env(GEMINI_MODEL="gemini-2.5-pro", GEMINI_MODELS="gemini-2.5-pro:8,gemini-2.5-flash:1")
    assert models_of(environ) == [("gemini-2.5-pro", "8"), ("gemini-2.5-flash", "1")]


@pytest.mark.parametrize("function", ["chat", "auth"])
def test_both_set_with_another_default_refuses_to_start(function):
    message = refusal(function, env(GEMINI_MODEL="zq9-model",
                                    GEMINI_MODELS="gemini-2.5-flash:1,zq9-model:2"))
    assert message == ("GEMINI_MODEL: must be the first (default) model of GEMINI_MODELS when "
                       "both are set; unset GEMINI_MODEL or list that model first")


def test_health_reads_no_models_and_does_not_load_their_parser():
    """health reads neither GEMINI_MODEL nor GEMINI_MODELS (settings.py), so a value only chat
    and auth would refuse does not stop it, and core.models stays out of its cold start."""
    code = ("import sys; from core.config import load_config; "
            "config = load_config('health', {'APP_ENV': 'development', 'GEMINI_MODEL': 'zq9-model', "
            "'GEMINI_MODELS': 'gemini-2.5-flash:1,zq9-model:2'}); "
            "print(config.models, 'core.models' in sys.modules, 'fractions' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT / "functions",
                            capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["()", "False", "False"]


@pytest.mark.parametrize("value, rule", [
    (",", "entry 1 is empty"),
    ("zq9-model:1,", "entry 2 is empty"),
    ("zq9-model:1, ,gemini-2.5-pro:8", "entry 2 is empty"),
    ("zq9-model", "entry 1: must be id:weight"),
    ("zq9-model=1", "entry 1: must be id:weight"),
    ("Zq9-Model:1", "entry 1: the model id must be"),
    ("models/zq9-model:1", "entry 1: the model id must be"),
    ("zq9 model:1", "entry 1: the model id must be"),
    ("-zq9-model:1", "entry 1: the model id must be"),
    (".zq9:1", "entry 1: the model id must be"),
    (":1", "entry 1: the model id must be"),
    ("zq9-gémini:1", "entry 1: the model id must be"),
    ("zq9-" + "m" * 97 + ":1", "entry 1: the model id must be"),
    ("gemini-2.5-flash:1,zq9-model:0", "entry 2: the weight must be"),
    ("zq9-model:0.000000", "entry 1: the weight must be"),
    ("zq9-model:-1", "entry 1: the weight must be"),
    ("zq9-model:1000.000001", "entry 1: the weight must be"),
    ("zq9-model:1001", "entry 1: the weight must be"),
    ("zq9-model:10000", "entry 1: the weight must be"),
    ("zq9-model:1e3", "entry 1: the weight must be"),
    ("zq9-model:inf", "entry 1: the weight must be"),
    ("zq9-model:nan", "entry 1: the weight must be"),
    ("zq9-model:.5", "entry 1: the weight must be"),
    ("zq9-model:1.", "entry 1: the weight must be"),
    ("zq9-model:0.0000001", "entry 1: the weight must be"),
    ("zq9-model:1/2", "entry 1: the weight must be"),
    ("zq9-model:+1", "entry 1: the weight must be"),
    ("zq9-model:\uff11", "entry 1: the weight must be"),  # a fullwidth digit one
    ("zq9-model:", "entry 1: the weight must be"),
    ("zq9-model:1:2", "entry 1: the weight must be"),
    ("zq9-model:1,gemini-2.5-pro:8,zq9-model:2", "entry 3: the model is listed twice"),
    (",".join(f"zq9-m{i}:1" for i in range(21)), "at most 20 models"),
])
def test_bad_gemini_models_is_refused_naming_the_variable_not_the_value(value, rule):
    for function in ("chat", "auth"):
        message = refusal(function, env(GEMINI_MODELS=value))
        assert message.startswith("GEMINI_MODELS:") and rule in message, message
        assert "zq9" not in message and "gémini" not in message


@pytest.mark.parametrize("value", ["Gemini-2.5-Flash", "models/gemini-2.5-flash", "zq9 model",
                                   "zq9-model:1"])
def test_bad_gemini_model_is_refused(value):
    message = refusal("chat", env(GEMINI_MODEL=value))
    assert message.startswith("GEMINI_MODEL: must be a Gemini model id")
    assert "zq9" not in message and value not in message


def test_twenty_models_are_accepted():
    value = ",".join(f"m{i}:{i + 1}" for i in range(20))
    assert len(load_config("auth", env(GEMINI_MODELS=value)).models) == 20


def test_chat_limits_of_the_issue_and_their_settings():
    from core.config import SUPPORTED_ATTACHMENT_TYPES

    config = load_config("chat", GOOD_PROD)
    assert (config.max_instructions_chars, config.max_attachments,
            config.max_attachment_bytes) == (2000, 4, 5 * 1024 * 1024)
    assert config.attachment_types == SUPPORTED_ATTACHMENT_TYPES == (
        "image/png", "image/jpeg", "image/webp", "image/heic", "image/heif", "application/pdf",
        "text/plain", "text/markdown", "text/csv")
    config = load_config("auth", env(MAX_INSTRUCTIONS_CHARS="0", MAX_ATTACHMENTS="0",
                                     MAX_ATTACHMENT_BYTES="1048576",
                                     ATTACHMENT_TYPES=" text/CSV,image/png , image/png"))
    assert (config.max_instructions_chars, config.max_attachments,
            config.max_attachment_bytes) == (0, 0, 1 << 20)
    assert config.attachment_types == ("image/png", "text/csv")  # in the supported order


@pytest.mark.parametrize("variable, value, rule", [
    ("MAX_INSTRUCTIONS_CHARS", "20001", "between 0 and 20000"),
    ("MAX_INSTRUCTIONS_CHARS", "-1", "between"),
    ("MAX_INSTRUCTIONS_CHARS", "2k", "whole number"),
    ("MAX_ATTACHMENTS", "11", "between 0 and 10"),
    ("MAX_ATTACHMENT_BYTES", "0", "between 1 and 20971520"),
    ("MAX_ATTACHMENT_BYTES", "20971521", "between"),
    ("MAX_ATTACHMENT_BYTES", "5MiB", "whole number"),
    ("ATTACHMENT_TYPES", "image/zq9", "each entry must be one of image/png, image/jpeg"),
    ("ATTACHMENT_TYPES", "image/png,application/zq9-octet", "each entry must be one of"),
    ("ATTACHMENT_TYPES", "image/*", "each entry must be one of"),
    ("ATTACHMENT_TYPES", " , ", "lists no type"),
])
def test_bad_chat_limits_are_refused(variable, value, rule):
    message = refusal("auth", env(**{variable: value}))
    assert message.startswith(f"{variable}:") and rule in message, message
    assert "zq9" not in message


def test_chat_settings_is_the_block_of_get_api_auth():
    from core.config import chat_settings

    config = load_config("auth", env(GEMINI_MODELS="gemini-2.5-flash:1,gemini-2.5-flash-lite:0.3",
                                     MAX_MESSAGE_CHARS="4000", ATTACHMENT_TYPES="application/pdf",
                                     MAX_REQUEST_BYTES="1048576"))
    assert chat_settings(config) == {
        "models": [{"id": "gemini-2.5-flash", "weight": 1},
                   {"id": "gemini-2.5-flash-lite", "weight": 0.3}],
        "limits": {"maxAttachments": 4, "maxAttachmentBytes": 5242880,
                   "attachmentTypes": ["application/pdf"], "maxMessageChars": 4000,
                   "maxInstructionsChars": 2000, "maxRequestBytes": 1048576}}
