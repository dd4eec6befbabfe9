"""Typed configuration, read once from the environment when a function module loads, by the
table of core/settings.py (each setting's type, rule and default are declared there).

Production is the default; an insecure production config raises ConfigError naming the rule.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping
from urllib.parse import urlsplit

from .environment import Environment, parse_bool
from .secret_key import secret_key_weakness
from .settings import (APP_CHECK_MODES, DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MODEL,
                       DEFAULT_SYSTEM_PROMPT, FUNCTIONS, MAX_REQUEST_BYTES_LIMIT, SETTINGS,
                       SUPPORTED_ATTACHMENT_TYPES, ConfigError, required_by)

if TYPE_CHECKING:
    from .models import Model

__all__ = ["APP_CHECK_MODES", "Config", "ConfigError", "DEFAULT_MAX_REQUEST_BYTES", "DEFAULT_MODEL",
           "DEFAULT_SYSTEM_PROMPT", "ENV_VARIABLES", "MAX_REQUEST_BYTES_LIMIT",
           "SUPPORTED_ATTACHMENT_TYPES", "chat_settings", "load_config", "parse_bool",
           "secret_key_weakness"]

_PLACEHOLDER_WORDS = ("changeme", "change-me", "change_me", "your-secret-key", "your_secret_key",
                      "placeholder", "example", "insecure", "replace-me", "replace_me")
_PLACEHOLDER_KEYS = {"dev", "secret", "secret_key", "secretkey", "password", "test", "default"}
_DEBUG_FLAGS = ("DEBUG", "FLASK_DEBUG")
# Every environment variable load_config reads, for tools that must set or clear them all
# (the local stack, tests); tests/unit/core/test_config.py checks that nothing else is read.
ENV_VARIABLES = frozenset(SETTINGS)
# http (not https) is allowed for GEMINI_BASE_URL in production only to these (local stand-ins).
_LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
_GENERATE_KEY = "generate one with python -c 'import secrets; print(secrets.token_urlsafe(48))'"
_STORAGE_SCHEMES = ("memory", "firestore", "redis", "rediss")


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
    env = Environment(os.environ if environ is None else environ)
    app_env = env.value("APP_ENV")
    production = app_env == "production"
    if function not in FUNCTIONS:
        raise KeyError(function)
    needs = required_by(function)
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
        require_auth=env.value("REQUIRE_AUTH"),
        allowed_origins=_origins(env, production),
        allowed_emails=frozenset(e.lower() for e in env.value("ALLOWED_EMAILS")),
        allowed_domains=frozenset(d.lower().lstrip("@") for d in env.value("ALLOWED_DOMAINS")),
        project_id=env.value("FIREBASE_PROJECT_ID") or env.value("GOOGLE_CLOUD_PROJECT"),
        check_revoked=env.value("CHECK_REVOKED"),
        chat_enabled=env.value("CHAT_ENABLED"),
        gemini_api_key=env.value("GEMINI_API_KEY"),
        models=_models(env, function),
        gemini_base_url=_base_url(env, production),
        system_prompt=env.value("SYSTEM_PROMPT"),
        max_request_bytes=env.value("MAX_REQUEST_BYTES"),
        max_message_chars=env.value("MAX_MESSAGE_CHARS"),
        max_instructions_chars=env.value("MAX_INSTRUCTIONS_CHARS"),
        max_history_messages=env.value("MAX_HISTORY_MESSAGES"),
        max_output_tokens=env.value("MAX_OUTPUT_TOKENS"),
        gemini_timeout_s=env.value("GEMINI_TIMEOUT_S"),
        trusted_proxy_hops=env.value("TRUSTED_PROXY_HOPS"),
        log_level=env.value("LOG_LEVEL"),
        rate_limits=env.value("RATE_LIMITS"),
        auth_rate_limits=env.value("AUTH_RATE_LIMITS"),
        rate_limit_storage=_storage_uri(env, production),
        daily_token_budget=env.value("DAILY_TOKEN_BUDGET"),
        global_daily_token_budget=env.value("GLOBAL_DAILY_TOKEN_BUDGET"),
        max_concurrent_streams=env.value("MAX_CONCURRENT_STREAMS_PER_USER"),
        allowed_sign_in_providers=frozenset(env.value("ALLOWED_SIGN_IN_PROVIDERS")),
        request_body_timeout_s=env.value("REQUEST_BODY_TIMEOUT_S"),
        app_check=env.value("APP_CHECK"),
        max_attachments=env.value("MAX_ATTACHMENTS"),
        max_attachment_bytes=env.value("MAX_ATTACHMENT_BYTES"),
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


def _attachment_types(env: Environment) -> tuple[str, ...]:
    listed = env.list("ATTACHMENT_TYPES")
    if env.str("ATTACHMENT_TYPES") is not None and not listed:
        raise ConfigError("ATTACHMENT_TYPES: lists no type (it is empty after splitting on "
                          "commas); leave it empty for all supported types")
    chosen = {item.lower() for item in listed}
    if not chosen <= set(SUPPORTED_ATTACHMENT_TYPES):
        raise ConfigError("ATTACHMENT_TYPES: each entry must be one of "
                          + ", ".join(SUPPORTED_ATTACHMENT_TYPES))
    return tuple(kind for kind in SUPPORTED_ATTACHMENT_TYPES if not chosen or kind in chosen)


def _refuse_insecure_production(env: Environment, needs: frozenset[str]) -> None:
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
        if env.value(flag):
            raise ConfigError(f"{flag}: debug mode must be off in production")
    if env.value("LOG_LEVEL") == "DEBUG":
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


def _models(env: Environment, function: str) -> tuple[Model, ...]:
    """GEMINI_MODELS (or GEMINI_MODEL) for the functions that read them; health reads neither,
    and does not even import core.models (with `fractions`: 1 ms of its cold start)."""
    if function not in SETTINGS["GEMINI_MODELS"].functions:
        return ()
    from .models import parse_models
    return parse_models(env.str("GEMINI_MODEL"), env.str("GEMINI_MODELS"))


def _origins(env: Environment, production: bool) -> frozenset[str]:
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


def _storage_uri(env: Environment, production: bool) -> str:
    uri = env.str("RATE_LIMIT_STORAGE") or ("firestore://rate_limits" if production else "memory://")
    scheme, separator, rest = uri.strip().partition("://")
    if not separator or scheme.lower() not in _STORAGE_SCHEMES:
        raise ConfigError("RATE_LIMIT_STORAGE: must be memory://, firestore://<collection> or "
                          "redis://host:port")
    return f"{scheme.lower()}://{rest}"


def _base_url(env: Environment, production: bool) -> str | None:
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
