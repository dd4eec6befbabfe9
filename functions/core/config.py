"""Typed configuration, read once from the environment when a function module loads.

Production is the default; an insecure production config raises ConfigError naming the rule.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping
from urllib.parse import urlsplit

from .secret_key import secret_key_weakness

__all__ = ["Config", "ConfigError", "ENV_VARIABLES", "Model", "chat_settings", "load_config",
           "parse_bool", "secret_key_weakness"]

# Which secrets and settings each deployed function needs (and nothing more).
_NEEDS = {
    "chat": {"SECRET_KEY", "ALLOWED_ORIGINS", "GEMINI_API_KEY", "FIREBASE_PROJECT_ID"},
    "auth": {"SECRET_KEY", "ALLOWED_ORIGINS", "FIREBASE_PROJECT_ID"},
    "health": set(),
}
_PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "your-secret-key", "your_secret_key",
                      "placeholder", "example", "insecure", "replace-me", "replace_me")
_PLACEHOLDER_KEYS = {"dev", "secret", "secret_key", "secretkey", "password", "test", "default"}
_DEBUG_FLAGS = ("DEBUG", "FLASK_DEBUG")
# Every environment variable load_config reads, for tools that must set or clear them all
# (the local stack, tests); tests/unit/test_config.py checks that nothing else is read.
ENV_VARIABLES = frozenset({
    "APP_ENV", "SECRET_KEY", "REQUIRE_AUTH", "ALLOWED_ORIGINS", "ALLOWED_EMAILS",
    "ALLOWED_DOMAINS", "FIREBASE_PROJECT_ID", "GOOGLE_CLOUD_PROJECT", "CHECK_REVOKED",
    "CHAT_ENABLED", "GEMINI_API_KEY", "GEMINI_MODEL", "GEMINI_BASE_URL", "SYSTEM_PROMPT",
    "MAX_REQUEST_BYTES", "MAX_MESSAGE_CHARS", "MAX_HISTORY_MESSAGES", "MAX_OUTPUT_TOKENS",
    "GEMINI_TIMEOUT_S", "TRUSTED_PROXY_HOPS", "LOG_LEVEL", "GUNICORN_LOG_LEVEL",
    "FIREBASE_AUTH_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST", "RATE_LIMITS", "AUTH_RATE_LIMITS",
    "RATE_LIMIT_STORAGE", "DAILY_TOKEN_BUDGET", "GLOBAL_DAILY_TOKEN_BUDGET",
    "MAX_CONCURRENT_STREAMS_PER_USER", "ALLOWED_SIGN_IN_PROVIDERS", "REQUEST_BODY_TIMEOUT_S",
    "APP_CHECK", "GEMINI_MODELS", "MAX_INSTRUCTIONS_CHARS", "MAX_ATTACHMENTS",
    "MAX_ATTACHMENT_BYTES", "ATTACHMENT_TYPES", *_DEBUG_FLAGS,
})
# The one boolean rule (deploy.sh's is_true and scripts/doctor.py use it too): one of these, in
# any case, with surrounding ASCII whitespace ignored; anything else is an error.
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_ASCII_SPACE = " \t\n\r\v\f"
_BOOL_RULE = "must be true or false (1, true, yes, on or 0, false, no, off, in any case; " \
    "empty means the default)"
# http (not https) is allowed for GEMINI_BASE_URL in production only to these (local stand-ins).
_LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
_GENERATE_KEY = "generate one with python -c 'import secrets; print(secrets.token_urlsafe(48))'"
DEFAULT_MODEL = "gemini-2.5-flash"
# GEMINI_MODELS: "id:weight,id:weight,..."; the first is the default. Ids are written like
# Gemini's own (gemini-2.5-flash); weights are plain decimals, 0 < weight <= 1000.
_MODEL_ID = re.compile(r"[a-z0-9][a-z0-9.-]{0,99}")
_WEIGHT = re.compile(r"([0-9]{1,4})(?:\.([0-9]{1,6}))?")
MAX_WEIGHT = 1000
MAX_MODELS = 20
_MODELS_EXAMPLE = "like gemini-2.5-flash:1,gemini-2.5-flash-lite:0.3,gemini-2.5-pro:8"
# What a chat attachment may be (validated in a later slice); ATTACHMENT_TYPES picks a subset.
SUPPORTED_ATTACHMENT_TYPES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif",
                              "application/pdf", "text/plain", "text/markdown", "text/csv")
# A chat request with its attachments (base64): under Gemini's 20 MB inline-data request and
# Cloud Run's 32 MiB request limit, which is also the most MAX_REQUEST_BYTES may be.
DEFAULT_MAX_REQUEST_BYTES = 20 << 20
MAX_REQUEST_BYTES_LIMIT = 32 << 20
DEFAULT_SIGN_IN_PROVIDERS = "google.com"
APP_CHECK_MODES = ("off", "monitor", "enforce")
DEFAULT_RATE_LIMITS = "30/minute;50/hour;200/day"
DEFAULT_AUTH_RATE_LIMITS = "120/minute;2000/day"
_STORAGE_SCHEMES = ("memory", "firestore", "redis", "rediss")
DEFAULT_SYSTEM_PROMPT = ("You are a helpful, concise assistant. Answer in the user's language "
                         "and format code as Markdown code blocks.")


class ConfigError(RuntimeError):
    """The environment is invalid or insecure; the message names the variable and the rule."""


@dataclass(frozen=True)
class Model:
    """A Gemini model the client may pick, and what one of its tokens costs against the budgets
    (in tokens of the default model's price; exact, so rounding happens once, upwards)."""

    id: str
    weight: Fraction

    @property
    def public_weight(self) -> int | float:
        """The weight as a JSON number: 1, 0.3, 8."""
        return int(self.weight) if self.weight.denominator == 1 else float(self.weight)


@dataclass(frozen=True)
class Config:
    function: str
    app_env: str
    secret_key: bytes = field(repr=False)
    require_auth: bool
    allowed_origins: frozenset[str]
    allowed_emails: frozenset[str]
    allowed_domains: frozenset[str]
    project_id: str | None
    check_revoked: bool
    chat_enabled: bool
    gemini_api_key: str | None = field(repr=False)
    models: tuple[Model, ...]
    gemini_base_url: str | None
    system_prompt: str = field(repr=False)
    max_request_bytes: int
    max_message_chars: int
    max_instructions_chars: int
    max_history_messages: int
    max_output_tokens: int
    gemini_timeout_s: float
    trusted_proxy_hops: int
    log_level: str
    rate_limits: str
    auth_rate_limits: str
    rate_limit_storage: str = field(repr=False)
    daily_token_budget: int
    global_daily_token_budget: int
    max_concurrent_streams: int
    allowed_sign_in_providers: frozenset[str]
    request_body_timeout_s: float
    app_check: str
    max_attachments: int
    max_attachment_bytes: int
    attachment_types: tuple[str, ...]

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @property
    def gemini_model(self) -> str:
        """The default model: the first of GEMINI_MODELS (or GEMINI_MODEL)."""
        return self.models[0].id

    def model(self, model_id: str | None = None) -> Model:
        """The listed model `model_id` (None: the default); KeyError if it is not listed."""
        if model_id is None:
            return self.models[0]
        for model in self.models:
            if model.id == model_id:
                return model
        raise KeyError("model not listed")


def load_config(function: str, environ: Mapping[str, str] | None = None) -> Config:
    """Build the config of `function` ("chat", "auth" or "health") or raise ConfigError."""
    env = _Env(os.environ if environ is None else environ)
    app_env = env.choice("APP_ENV", "production", ("production", "development"))
    production = app_env == "production"
    needs = _NEEDS[function]
    if production:
        _refuse_insecure_production(env, needs)

    secret = env.str("SECRET_KEY")
    if secret is None:
        # Development only (production refused above): a fresh key per process.
        secret = secrets.token_urlsafe(48)
    elif "SECRET_KEY" in needs or production:
        _check_secret_key(secret, env.str("GEMINI_API_KEY"))

    return Config(
        function=function,
        app_env=app_env,
        secret_key=secret.encode(),
        require_auth=env.bool("REQUIRE_AUTH", True),
        allowed_origins=_origins(env, production),
        allowed_emails=frozenset(e.lower() for e in env.list("ALLOWED_EMAILS")),
        allowed_domains=frozenset(d.lower().lstrip("@") for d in env.list("ALLOWED_DOMAINS")),
        project_id=env.str("FIREBASE_PROJECT_ID") or env.str("GOOGLE_CLOUD_PROJECT"),
        check_revoked=env.bool("CHECK_REVOKED", False),
        chat_enabled=env.bool("CHAT_ENABLED", True),
        gemini_api_key=env.str("GEMINI_API_KEY"),
        models=_models(env),
        gemini_base_url=_base_url(env, production),
        system_prompt=env.str("SYSTEM_PROMPT") or DEFAULT_SYSTEM_PROMPT,
        max_request_bytes=env.int("MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES, 1024,
                                  MAX_REQUEST_BYTES_LIMIT),
        max_message_chars=env.int("MAX_MESSAGE_CHARS", 8000, 1, 100_000),
        max_instructions_chars=env.int("MAX_INSTRUCTIONS_CHARS", 2000, 0, 20_000),
        max_history_messages=env.int("MAX_HISTORY_MESSAGES", 40, 0, 500),
        max_output_tokens=env.int("MAX_OUTPUT_TOKENS", 2048, 1, 65536),
        gemini_timeout_s=float(env.int("GEMINI_TIMEOUT_S", 60, 1, 3600)),
        trusted_proxy_hops=env.int("TRUSTED_PROXY_HOPS", 1, 0, 10),
        log_level=env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        rate_limits=env.str("RATE_LIMITS") or DEFAULT_RATE_LIMITS,
        auth_rate_limits=env.str("AUTH_RATE_LIMITS") or DEFAULT_AUTH_RATE_LIMITS,
        rate_limit_storage=_storage_uri(env, production),
        daily_token_budget=env.int("DAILY_TOKEN_BUDGET", 200_000, 1, 10**12),
        global_daily_token_budget=env.int("GLOBAL_DAILY_TOKEN_BUDGET", 5_000_000, 1, 10**13),
        max_concurrent_streams=env.int("MAX_CONCURRENT_STREAMS_PER_USER", 2, 1, 100),
        allowed_sign_in_providers=frozenset(
            env.list("ALLOWED_SIGN_IN_PROVIDERS") or [DEFAULT_SIGN_IN_PROVIDERS]),
        request_body_timeout_s=float(env.int("REQUEST_BODY_TIMEOUT_S", 10, 1, 300)),
        app_check=env.choice("APP_CHECK", "off", APP_CHECK_MODES),
        max_attachments=env.int("MAX_ATTACHMENTS", 4, 0, 10),
        max_attachment_bytes=env.int("MAX_ATTACHMENT_BYTES", 5 << 20, 1, 20 << 20),
        attachment_types=_attachment_types(env),
    )


def chat_settings(config: Config) -> dict:
    """What the web app needs to know about chat (GET /api/auth's "chat"): the models it may
    pick, with their budget weights, and the request limits."""
    return {
        "models": [{"id": model.id, "weight": model.public_weight} for model in config.models],
        "limits": {
            "maxAttachments": config.max_attachments,
            "maxAttachmentBytes": config.max_attachment_bytes,
            "attachmentTypes": list(config.attachment_types),
            "maxMessageChars": config.max_message_chars,
            "maxRequestBytes": config.max_request_bytes,
            "maxInstructionsChars": config.max_instructions_chars,
        },
    }


def _models(env: _Env) -> tuple[Model, ...]:
    """GEMINI_MODELS (the first entry is the default), else GEMINI_MODEL as a one-model list of
    weight 1. Both set: GEMINI_MODEL must be GEMINI_MODELS' first entry (an older deployment's
    GEMINI_MODEL never silently stops being the default). Errors never quote the values."""
    single = env.str("GEMINI_MODEL")
    if single is not None:
        single = single.strip(_ASCII_SPACE)
        if not _MODEL_ID.fullmatch(single):
            raise ConfigError("GEMINI_MODEL: must be a Gemini model id: lowercase letters, digits, "
                              "'.' and '-' (at most 100, starting with a letter or digit), like "
                              "gemini-2.5-flash")
    listed = env.str("GEMINI_MODELS")
    if listed is None:
        return (Model(single or DEFAULT_MODEL, Fraction(1)),)
    models: list[Model] = []
    for number, entry in enumerate(listed.strip(_ASCII_SPACE).split(","), start=1):
        where = f"GEMINI_MODELS: entry {number}"
        model_id, colon, weight = (part.strip(_ASCII_SPACE) for part in entry.partition(":"))
        if not entry.strip(_ASCII_SPACE):
            raise ConfigError(f"{where} is empty; list id:weight pairs separated by commas, "
                              f"{_MODELS_EXAMPLE}")
        if not colon:
            raise ConfigError(f"{where}: must be id:weight, {_MODELS_EXAMPLE}")
        if not _MODEL_ID.fullmatch(model_id):
            raise ConfigError(f"{where}: the model id must be lowercase letters, digits, '.' and "
                              "'-' (at most 100, starting with a letter or digit), like "
                              "gemini-2.5-flash")
        match = _WEIGHT.fullmatch(weight)
        value = Fraction(weight) if match else Fraction(0)
        if not 0 < value <= MAX_WEIGHT:
            raise ConfigError(f"{where}: the weight must be a decimal number above 0 and at most "
                              f"{MAX_WEIGHT}, with at most 6 decimals, like 1, 0.3 or 8")
        if any(model.id == model_id for model in models):
            raise ConfigError(f"{where}: the model is listed twice")
        models.append(Model(model_id, value))
    if len(models) > MAX_MODELS:
        raise ConfigError(f"GEMINI_MODELS: at most {MAX_MODELS} models")
    if single is not None and single != models[0].id:
        raise ConfigError("GEMINI_MODEL: must be the first (default) model of GEMINI_MODELS when "
                          "both are set; unset GEMINI_MODEL or list that model first")
    return tuple(models)


def _attachment_types(env: _Env) -> tuple[str, ...]:
    listed = env.list("ATTACHMENT_TYPES")
    if env.str("ATTACHMENT_TYPES") is not None and not listed:
        raise ConfigError("ATTACHMENT_TYPES: lists no type (it is empty after splitting on "
                          "commas); leave it empty for all supported types")
    chosen = {item.lower() for item in listed}
    if not chosen <= set(SUPPORTED_ATTACHMENT_TYPES):
        raise ConfigError("ATTACHMENT_TYPES: each entry must be one of "
                          + ", ".join(SUPPORTED_ATTACHMENT_TYPES))
    return tuple(kind for kind in SUPPORTED_ATTACHMENT_TYPES if not chosen or kind in chosen)


def _refuse_insecure_production(env: _Env, needs: set[str]) -> None:
    # Any value but "" counts as set, whitespace included: the client libraries switch to the
    # emulator for any non-empty value (and a broken one makes the limiter fall back to memory).
    if env.raw("FIREBASE_AUTH_EMULATOR_HOST") not in (None, ""):
        raise ConfigError("FIREBASE_AUTH_EMULATOR_HOST: must not be set in production (any value "
                          "but the empty string counts, spaces too; firebase-admin then accepts "
                          "unsigned ID tokens)")
    if env.raw("FIRESTORE_EMULATOR_HOST") not in (None, ""):
        raise ConfigError("FIRESTORE_EMULATOR_HOST: must not be set in production (any value but "
                          "the empty string counts, spaces too; rate limits and budgets would be "
                          "counted in a local emulator)")
    for flag in _DEBUG_FLAGS:
        if env.bool(flag, False):
            raise ConfigError(f"{flag}: debug mode must be off in production")
    if env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")) == "DEBUG":
        raise ConfigError("LOG_LEVEL: DEBUG is refused in production (libraries log request data)")
    if (env.str("GUNICORN_LOG_LEVEL") or "").lower() == "debug":
        raise ConfigError("GUNICORN_LOG_LEVEL: debug is refused in production (it logs headers)")
    for name in sorted(needs):
        if name == "FIREBASE_PROJECT_ID":
            if not (env.str(name) or env.str("GOOGLE_CLOUD_PROJECT")):
                raise ConfigError(f"{name}: required in production (the project whose ID tokens "
                                  "are accepted)")
        elif env.str(name) is None:
            raise ConfigError(f"{name}: required in production")


def _check_secret_key(secret: str, gemini_api_key: str | None = None) -> None:
    lowered = secret.strip().lower()
    if lowered in _PLACEHOLDER_KEYS or any(word in lowered for word in _PLACEHOLDER_WORDS):
        raise ConfigError(f"SECRET_KEY: a known placeholder is refused; {_GENERATE_KEY}")
    if len(secret.encode()) < 32 or len(set(secret)) < 10:
        raise ConfigError("SECRET_KEY: must be at least 32 bytes of random data; "
                          + _GENERATE_KEY)
    if gemini_api_key is not None and hmac.compare_digest(
            secret.strip().encode(), gemini_api_key.strip().encode()):
        raise ConfigError("SECRET_KEY: must not equal GEMINI_API_KEY (auth, which holds only "
                          f"SECRET_KEY, would hold the Gemini key too); {_GENERATE_KEY}")
    weakness = secret_key_weakness(secret)
    if weakness is not None:
        raise ConfigError(f"SECRET_KEY: {weakness} is refused; {_GENERATE_KEY}")


def _origins(env: _Env, production: bool) -> frozenset[str]:
    origins = env.list("ALLOWED_ORIGINS")
    if production and not origins and env.str("ALLOWED_ORIGINS") is not None:
        raise ConfigError("ALLOWED_ORIGINS: lists no origin (it is empty after splitting on "
                          "commas); list exact origins like https://example.web.app")
    for origin in origins:
        if origin == "*":
            raise ConfigError("ALLOWED_ORIGINS: '*' is refused; list exact origins")
        try:
            parts = urlsplit(origin)
        except ValueError:  # e.g. an unclosed [IPv6 literal
            parts = urlsplit("")
        exact = (parts.scheme in ("http", "https") and parts.netloc and not parts.path
                 and not parts.query and not parts.fragment and "*" not in origin
                 and f"{parts.scheme}://{parts.netloc}" == origin)
        if not exact:
            raise ConfigError("ALLOWED_ORIGINS: each entry must be an exact origin like "
                              "https://example.web.app (scheme://host[:port], no path)")
        if production and parts.scheme != "https":
            raise ConfigError("ALLOWED_ORIGINS: production origins must use https")
    return frozenset(origins)


def _storage_uri(env: _Env, production: bool) -> str:
    uri = env.str("RATE_LIMIT_STORAGE") or ("firestore://rate_limits" if production else "memory://")
    scheme, separator, rest = uri.strip().partition("://")
    if not separator or scheme.lower() not in _STORAGE_SCHEMES:
        raise ConfigError("RATE_LIMIT_STORAGE: must be memory://, firestore://<collection> or "
                          "redis://host:port")
    return f"{scheme.lower()}://{rest}"


def _base_url(env: _Env, production: bool) -> str | None:
    url = env.str("GEMINI_BASE_URL")
    if url is None:
        return None
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # e.g. an unclosed [IPv6 literal
        parts, host = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise ConfigError("GEMINI_BASE_URL: must be an http(s) URL with a host")
    if production and parts.scheme != "https" and host not in _LOOPBACK_HOSTS:
        raise ConfigError("GEMINI_BASE_URL: must use https in production (plain http only for a "
                          "loopback host: 127.0.0.1, ::1 or localhost)")
    return url


class _Env:
    """Typed reads of environment variables; errors name the variable, never its value."""

    def __init__(self, source: Mapping[str, str]):
        self._source = source

    def raw(self, name: str) -> str | None:
        return self._source.get(name)

    def str(self, name: str) -> str | None:
        value = self._source.get(name)
        return value if value is not None and value.strip() != "" else None

    def list(self, name: str) -> list[str]:
        return [item.strip() for item in (self.str(name) or "").split(",") if item.strip()]

    def bool(self, name: str, default: bool) -> bool:
        return parse_bool(name, self._source.get(name), default)

    def int(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.str(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}: must be a whole number") from None
        if not low <= value <= high:
            raise ConfigError(f"{name}: must be between {low} and {high}")
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = self.str(name)
        if raw is None:
            return default
        for option in allowed:
            if raw.strip().lower() == option.lower():
                return option
        raise ConfigError(f"{name}: must be one of {', '.join(allowed)}")


def parse_bool(name: str, raw: str | None, default: bool) -> bool:
    """The one boolean rule: unset or empty is `default` (an empty REQUIRE_AUTH must never turn
    sign-in off); otherwise, ignoring case and surrounding ASCII whitespace, 1/true/yes/on is
    True and 0/false/no/off is False; anything else raises ConfigError naming `name` (never the
    value). deploy.sh's is_true and scripts/doctor.py apply exactly this
    (tests/deploy/test_booleans.py)."""
    value = (raw or "").strip(_ASCII_SPACE).lower()
    if not value:
        return default
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}: {_BOOL_RULE}")
