"""Every setting the functions read, declared once: name, type and rule, default, the functions
that read it, where a deployment gets it, and what it does.

core/config.py reads the environment by this table; ENV_VARIABLES, the secret -> function map
(scripts/doctor.py, scripts/manage_secrets.py), README's configuration table and the web app's
limit defaults (both written by scripts/generate.py) come from it; tests check .env.example
and deploy.sh (APP_SETTINGS, secrets_of) against it. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConfigError", "FUNCTIONS", "SETTINGS", "Setting", "required_by", "secrets_of"]

FUNCTIONS = ("chat", "auth", "health")
CHAT_AUTH = ("chat", "auth")
CHAT = ("chat",)
AUTH = ("auth",)

# How each kind is read from its environment variable (blank or unset: the default).
KINDS = {
    "bool": "true or false (the one boolean rule, core.config.parse_bool)",
    "int": "a whole number from `low` to `high`",
    "seconds": "whole seconds from `low` to `high`",
    "choice": "one of `choices`, in any case",
    "text": "any text (its own rule, if any, is in core/config.py and its description)",
    "list": "comma-separated entries, blank ones dropped",
}
# Where a deployment gets each setting.
SOURCES = {
    "deploy.env": "deploy.env, passed to the functions that read it (deploy.sh's APP_SETTINGS)",
    "deploy.sh": "deploy.sh sets it itself, from its flags and checked settings",
    "secret": "Secret Manager, bound only to the functions that read it (deploy.sh's secrets_of)",
    "runtime": "Google's runtime sets it",
    "development": "local development only; scripts/doctor.py flags it on a deployed function",
    "unset": "never set by deploy.sh",
}

DEFAULT_MODEL = "gemini-2.5-flash"
DEFAULT_SYSTEM_PROMPT = ("You are a helpful, concise assistant. Answer in the user's language "
                         "and format code as Markdown code blocks.")
# What a chat attachment may be; ATTACHMENT_TYPES picks a subset.
SUPPORTED_ATTACHMENT_TYPES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif",
                              "application/pdf", "text/plain", "text/markdown", "text/csv")
# A chat request with its attachments (base64): under Gemini's 20 MB inline-data request and
# Cloud Run's 32 MiB request limit, which is also the most MAX_REQUEST_BYTES may be.
DEFAULT_MAX_REQUEST_BYTES = 20 << 20
MAX_REQUEST_BYTES_LIMIT = 32 << 20
APP_CHECK_MODES = ("off", "monitor", "enforce")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# What every rule ignores around a value (ASCII white space only, as deploy.sh's).
ASCII_SPACE = " \t\n\r\v\f"


class ConfigError(RuntimeError):
    """The environment is invalid or insecure; the message names the variable and the rule."""


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str                   # a key of KINDS
    default: object             # the value when unset or blank; None: none
    functions: tuple[str, ...]  # the functions that read it
    doc: str                    # what it does (README's Notes, Markdown)
    source: str = "deploy.env"  # a key of SOURCES
    low: int | None = None      # int and seconds: the range, both ends included
    high: int | None = None
    choices: tuple[str, ...] = ()
    required_by: tuple[str, ...] = ()  # production refuses to start these functions without it
    web: str | None = None      # its name in the web app's limits (GET /api/auth's chat.limits)
    shown: str | None = None    # README's Default, where the value itself says too little

    @property
    def default_text(self) -> str:
        """The default as an environment file writes it ("" for none)."""
        value = self.default
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, tuple):
            return ",".join(value)
        return "" if value is None else str(value)


def _int(name, default, low, high, functions, doc, **more) -> Setting:
    return Setting(name, "int", default, functions, doc, low=low, high=high, **more)


SETTINGS = {entry.name: entry for entry in (
    Setting("APP_ENV", "choice", "production", FUNCTIONS, "`development` only for local scripts",
            "deploy.sh", choices=("production", "development")),
    Setting("GEMINI_API_KEY", "text", None, CHAT, "the Gemini API key. Locally a real key switches "
            "the stack from the Gemini stand-in to Gemini", "secret", required_by=CHAT),
    Setting("SECRET_KEY", "text", None, CHAT_AUTH, "≥ 32 random bytes "
            "(`secrets.token_urlsafe(48)`); refused: placeholders, a short pattern repeated, "
            "keyboard walks and sequences (`qwerty…`, `0123…`), an estimated < 128 bits "
            "(`secret_key_weakness` in `core/secret_key.py` explains the estimate), the same value "
            "as `GEMINI_API_KEY`; HMAC key of the pseudonyms in logs. Development: a fresh one per "
            "process when unset", "secret", required_by=CHAT_AUTH),
    Setting("GEMINI_MODELS", "text", None, CHAT_AUTH, "the models a user may pick, `id:weight` "
            "pairs separated by commas, the first is the default: "
            "`gemini-2.5-flash:1,gemini-2.5-flash-lite:0.34,gemini-2.5-pro:4.2`. Ids as Gemini "
            "writes them (`[a-z0-9][a-z0-9.-]*`, ≤ 100 characters); weights decimals > 0 and "
            "≤ 1000, ≤ 6 decimals; no duplicates, no empty entries, 1–20 models. See "
            "[Models and weights](#models-and-weights)", "deploy.sh", shown="— (`GEMINI_MODEL`)"),
    Setting("GEMINI_MODEL", "text", DEFAULT_MODEL, CHAT_AUTH, "the one model (weight 1) when "
            "`GEMINI_MODELS` is unset. Both set: `GEMINI_MODEL` must be `GEMINI_MODELS`' first "
            "entry, else the functions refuse to start (an existing `GEMINI_MODEL` never silently "
            "stops being the default); `deploy.sh` sends only one of them", "deploy.sh"),
    Setting("GEMINI_BASE_URL", "text", None, CHAT, "points the SDK at the local stand-in; "
            "production: https only, plain http only for a loopback host (`127.0.0.1`, `::1`, "
            "`localhost`)", "development", shown="Google's"),
    Setting("SYSTEM_PROMPT", "text", DEFAULT_SYSTEM_PROMPT, CHAT, "sent as `system_instruction` "
            "only; not a secret", shown="short default"),
    _int("MAX_OUTPUT_TOKENS", 2048, 1, 65536, CHAT, "Gemini's `max_output_tokens` per answer"),
    Setting("GEMINI_TIMEOUT_S", "seconds", 60, CHAT, "the total deadline per answer", low=1,
            high=3600),
    _int("MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES, 1024, MAX_REQUEST_BYTES_LIMIT, CHAT_AUTH,
         "the whole chat request body, attachments (base64) included; auth tells the web app. "
         "With a larger value give chat more memory (`MEMORY_CHAT`, [Attachments](#attachments))",
         web="maxRequestBytes"),
    _int("MAX_MESSAGE_CHARS", 8000, 1, 100_000, CHAT_AUTH, "characters of one message; auth "
         "tells the web app", web="maxMessageChars"),
    _int("MAX_HISTORY_MESSAGES", 40, 0, 500, CHAT, "turns of history sent with a message",
         web="maxHistoryMessages"),
    _int("MAX_INSTRUCTIONS_CHARS", 2000, 0, 20_000, CHAT_AUTH, "characters of custom "
         "instructions per request; 0 turns them off", web="maxInstructionsChars"),
    _int("MAX_ATTACHMENTS", 4, 0, 10, CHAT_AUTH, "attachments per message (0 turns them off); "
         "see [Attachments](#attachments)", web="maxAttachments"),
    _int("MAX_ATTACHMENT_BYTES", 5 << 20, 1, 20 << 20, CHAT_AUTH, "decoded bytes of each "
         "attachment", web="maxAttachmentBytes"),
    Setting("ATTACHMENT_TYPES", "list", SUPPORTED_ATTACHMENT_TYPES, CHAT_AUTH, "the attachment "
            "types allowed, from " + ", ".join(f"`{kind}`" for kind in SUPPORTED_ATTACHMENT_TYPES)
            + " (any case); anything else is refused", web="attachmentTypes",
            shown="all supported"),
    Setting("REQUEST_BODY_TIMEOUT_S", "seconds", 10, CHAT, "a JSON body must keep coming: no byte "
            "for this long, or not complete within it plus its length at 64 KiB/s (`MIN_BODY_RATE` "
            "in `core/body.py`) → `408 request_timeout`, connection closed. (A body any function "
            "answers without reading, a 401 say, is never waited for: connection closed)",
            low=1, high=300),
    Setting("CHAT_ENABLED", "bool", True, CHAT, "`false`: 503 for everyone (incident kill switch)"),
    Setting("REQUIRE_AUTH", "bool", True, CHAT, "`false`: anonymous chat (identity = pseudonymized "
            "IPv4 address, or IPv6 /64)", "deploy.sh"),
    Setting("ALLOWED_EMAILS", "list", None, CHAT_AUTH, "verified e-mails only (`email_verified` "
            "JSON `true`); exact ASCII match after lower-casing; a non-ASCII e-mail never matches",
            shown="empty = any signed-in user"),
    Setting("ALLOWED_DOMAINS", "list", None, CHAT_AUTH, "e-mail domains (a leading `@` is "
            "ignored), by the same rules as `ALLOWED_EMAILS`", shown="empty = any signed-in user"),
    Setting("ALLOWED_SIGN_IN_PROVIDERS", "list", ("google.com",), CHAT_AUTH, "Firebase "
            "`sign_in_provider` values (`password`, `phone`, `anonymous`, `custom`, …); any other "
            "→ 403 `permission_denied`"),
    Setting("CHECK_REVOKED", "bool", False, CHAT_AUTH, "also reject revoked sessions (one Firebase "
            "call per request)"),
    Setting("ALLOWED_ORIGINS", "list", None, FUNCTIONS, "exact origins; `*` refused; https in "
            "production; a list empty after splitting on commas (`\" , \"`) refused in production",
            "deploy.sh", required_by=CHAT_AUTH),
    Setting("FIREBASE_PROJECT_ID", "text", None, CHAT_AUTH, "the project whose ID tokens are "
            "accepted", "deploy.sh", required_by=CHAT_AUTH, shown="`GOOGLE_CLOUD_PROJECT`"),
    Setting("GOOGLE_CLOUD_PROJECT", "text", None, CHAT_AUTH, "the project when "
            "`FIREBASE_PROJECT_ID` is unset", "runtime"),
    Setting("FIREBASE_AUTH_EMULATOR_HOST", "text", None, CHAT_AUTH, "production refuses to start "
            "if it is set to any value but the empty string (spaces too)", "development"),
    Setting("FIRESTORE_EMULATOR_HOST", "text", None, CHAT_AUTH, "production refuses to start if "
            "it is set to any value but the empty string (spaces too)", "development"),
    _int("TRUSTED_PROXY_HOPS", 1, 0, 10, FUNCTIONS, "X-Forwarded-For entries trusted, counted "
         "from the right"),
    Setting("RATE_LIMITS", "text", "30/minute;50/hour;200/day", CHAT_AUTH, "chat's limits in "
            "[limits](https://limits.readthedocs.io) notation, per user (uid) or per anonymous "
            "client IP; auth shows them"),
    Setting("AUTH_RATE_LIMITS", "text", "120/minute;2000/day", AUTH, "the auth function's own "
            "limits"),
    Setting("RATE_LIMIT_STORAGE", "text", None, CHAT_AUTH, "also `redis://host:port` "
            "(Memorystore); `memory://` counts per instance", "deploy.sh",
            shown="production `firestore://rate_limits`, development `memory://`"),
    _int("DAILY_TOKEN_BUDGET", 200_000, 1, 10**12, CHAT_AUTH, "weighted Gemini tokens (tokens × "
         "the model's weight) per user per UTC day; auth shows it"),
    _int("GLOBAL_DAILY_TOKEN_BUDGET", 5_000_000, 1, 10**13, CHAT_AUTH, "hard daily cost cap for "
         "the whole deployment, in weighted tokens"),
    _int("MAX_CONCURRENT_STREAMS_PER_USER", 2, 1, 100, CHAT, "open chat requests per user"),
    Setting("APP_CHECK", "choice", "off", CHAT_AUTH, "`monitor` or `enforce`: check the "
            "`X-Firebase-AppCheck` token (see [App Check](#app-check-optional)); health never does",
            "deploy.sh", choices=APP_CHECK_MODES),
    Setting("LOG_LEVEL", "choice", "INFO", FUNCTIONS, "`DEBUG` refused in production (libraries "
            "log request data)", choices=LOG_LEVELS),
    Setting("GUNICORN_LOG_LEVEL", "text", None, FUNCTIONS, "`debug` refused in production (it "
            "logs headers)", "unset"),
    Setting("DEBUG", "bool", False, FUNCTIONS, "debug mode: must be off in production",
            "development"),
    Setting("FLASK_DEBUG", "bool", False, FUNCTIONS, "debug mode: must be off in production",
            "development"),
)}


def secrets_of(function: str) -> tuple[str, ...]:
    """The Secret Manager secrets `function` reads (bound to it alone at deploy)."""
    return tuple(entry.name for entry in SETTINGS.values()
                 if entry.source == "secret" and function in entry.functions)


def required_by(function: str) -> frozenset[str]:
    """The settings production refuses to start `function` without."""
    return frozenset(entry.name for entry in SETTINGS.values() if function in entry.required_by)
