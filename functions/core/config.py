"""Typed configuration, read once from the environment when a function module loads.

Production is the default; an insecure production config raises ConfigError naming the rule.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit

__all__ = ["Config", "ConfigError", "ENV_VARIABLES", "load_config"]

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
    "MAX_CONCURRENT_STREAMS_PER_USER", *_DEBUG_FLAGS,
})
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
DEFAULT_MODEL = "gemini-2.5-flash"
DEFAULT_RATE_LIMITS = "30/minute;50/hour;200/day"
DEFAULT_AUTH_RATE_LIMITS = "120/minute;2000/day"
_STORAGE_SCHEMES = ("memory", "firestore", "redis", "rediss")
DEFAULT_SYSTEM_PROMPT = ("You are a helpful, concise assistant. Answer in the user's language "
                         "and format code as Markdown code blocks.")


class ConfigError(RuntimeError):
    """The environment is invalid or insecure; the message names the variable and the rule."""


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
    gemini_model: str
    gemini_base_url: str | None
    system_prompt: str = field(repr=False)
    max_request_bytes: int
    max_message_chars: int
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

    @property
    def production(self) -> bool:
        return self.app_env == "production"


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
        _check_secret_key(secret)

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
        gemini_model=env.str("GEMINI_MODEL") or DEFAULT_MODEL,
        gemini_base_url=_base_url(env),
        system_prompt=env.str("SYSTEM_PROMPT") or DEFAULT_SYSTEM_PROMPT,
        max_request_bytes=env.int("MAX_REQUEST_BYTES", 65536, 1024, 1 << 20),
        max_message_chars=env.int("MAX_MESSAGE_CHARS", 8000, 1, 100_000),
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
    )


def _refuse_insecure_production(env: _Env, needs: set[str]) -> None:
    if env.str("FIREBASE_AUTH_EMULATOR_HOST") is not None:
        raise ConfigError("FIREBASE_AUTH_EMULATOR_HOST: must not be set in production "
                          "(firebase-admin then accepts unsigned ID tokens)")
    if env.str("FIRESTORE_EMULATOR_HOST") is not None:
        raise ConfigError("FIRESTORE_EMULATOR_HOST: must not be set in production "
                          "(rate limits and budgets would be counted in a local emulator)")
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


def _check_secret_key(secret: str) -> None:
    lowered = secret.strip().lower()
    if lowered in _PLACEHOLDER_KEYS or any(word in lowered for word in _PLACEHOLDER_WORDS):
        raise ConfigError("SECRET_KEY: a known placeholder is refused; generate one with "
                          "python -c 'import secrets; print(secrets.token_urlsafe(48))'")
    if len(secret.encode()) < 32 or len(set(secret)) < 10:
        raise ConfigError("SECRET_KEY: must be at least 32 bytes of random data; generate one "
                          "with python -c 'import secrets; print(secrets.token_urlsafe(48))'")


def _origins(env: _Env, production: bool) -> frozenset[str]:
    origins = env.list("ALLOWED_ORIGINS")
    for origin in origins:
        if origin == "*":
            raise ConfigError("ALLOWED_ORIGINS: '*' is refused; list exact origins")
        parts = urlsplit(origin)
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


def _base_url(env: _Env) -> str | None:
    url = env.str("GEMINI_BASE_URL")
    if url is not None and urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError("GEMINI_BASE_URL: must be an http(s) URL")
    return url


class _Env:
    """Typed reads of environment variables; errors name the variable, never its value."""

    def __init__(self, source: Mapping[str, str]):
        self._source = source

    def str(self, name: str) -> str | None:
        value = self._source.get(name)
        return value if value is not None and value.strip() != "" else None

    def list(self, name: str) -> list[str]:
        return [item.strip() for item in (self.str(name) or "").split(",") if item.strip()]

    def bool(self, name: str, default: bool) -> bool:
        raw = self._source.get(name)
        if raw is None:
            return default
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ConfigError(f"{name}: must be true or false")

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
