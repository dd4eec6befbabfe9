"""Firebase ID token verification and the sign-in policy (REQUIRE_AUTH, sign-in providers,
e-mail allow-lists).

The Auth emulator is honoured only outside production; config refuses to start otherwise.
A verified token is remembered until it expires (_VerifiedTokens), except with CHECK_REVOKED.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict

import firebase_admin
import google.auth.exceptions
import requests
from firebase_admin import auth as firebase_auth
from firebase_admin.exceptions import FirebaseError
from flask import Request

from . import log
from .config import Config
from .errors import ApiError
from .identity import Identity, anonymous, client_ip, pseudonym

__all__ = ["verify_bearer", "authenticate", "revoke_sessions"]

CLOCK_SKEW_S = 10
VERIFIED_TOKENS_KEPT = 4096  # verified ID tokens remembered per instance (_VerifiedTokens)
_MAX_TOKEN_CHARS = 4096
# Google (certificates, Identity Toolkit, the service account's access token) cannot be reached.
_BACKEND_ERRORS = (FirebaseError, google.auth.exceptions.GoogleAuthError,
                   requests.RequestException)
# Firebase's own sign_in_provider values, logged as they are; anything else is logged as a class.
_KNOWN_PROVIDERS = frozenset({
    "google.com", "password", "phone", "anonymous", "custom", "emailLink", "apple.com",
    "facebook.com", "github.com", "twitter.com", "microsoft.com", "yahoo.com",
    "playgames.google.com", "gc.apple.com"})
_app_lock = threading.Lock()
_apps: dict[str, firebase_admin.App] = {}


def verify_bearer(request: Request, config: Config) -> Identity | None:
    """The verified caller of `Authorization: Bearer <ID token>`; None without the header.

    Raises ApiError("unauthenticated") for a malformed, forged, expired or revoked token.
    A token verified before is taken from `_VERIFIED` while it is valid (not with CHECK_REVOKED).
    """
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_CHARS:
        raise _refuse(config, "malformed")
    emulated = bool(os.environ.get("FIREBASE_AUTH_EMULATOR_HOST"))
    if config.production and emulated:
        # Belt and braces: config refuses this at start-up; never trust unsigned tokens.
        raise _refuse(config, "emulator_in_production")
    key = None if config.check_revoked else _VERIFIED.key(token, config, emulated)
    identity = _VERIFIED.get(key, time.time()) if key else None
    if identity is None:
        claims = _verified_claims(token, config)
        reason = _time_claims_problem(claims, time.time())
        if reason:
            raise _refuse(config, reason)
        identity = _identity(claims, config)
        if key:
            _VERIFIED.put(key, identity, claims)
    log.set_subject(identity.subject)  # every later log line of this request names the user
    return identity


def authenticate(request: Request, config: Config, *, allow_anonymous: bool | None = None) -> Identity:
    """The caller, enforcing REQUIRE_AUTH and the allow-lists (401 / 403)."""
    identity = verify_bearer(request, config)
    anonymous_ok = (not config.require_auth) if allow_anonymous is None else allow_anonymous
    if identity is None:
        if not anonymous_ok:
            raise _refuse(config, "missing")
        ip = client_ip(request.headers, request.remote_addr, config.trusted_proxy_hops)
        return anonymous(config.secret_key, ip)
    if identity.provider not in config.allowed_sign_in_providers:
        # Anonymous or custom-token users would otherwise each be a fresh budget.
        log.security_event("auth_denied", function=config.function, reason="sign_in_provider",
                           provider=_provider_class(identity.provider))
        raise ApiError("permission_denied", "This sign-in method is not allowed for this app.",
                       reason="sign_in_provider")
    if not _allowed(identity, config):
        log.security_event("auth_denied", function=config.function, reason="not_on_allow_list")
        raise ApiError("permission_denied", "Your account is not on this app's allow-list.",
                       reason="allow_list")
    log.security_event("auth_success", 20, function=config.function,
                       provider=identity.provider or "unknown")
    return identity


def revoke_sessions(identity: Identity, config: Config) -> None:
    """Revoke every refresh token of the user: sign out on all devices.

    Raises ApiError("unavailable") (503) when Google cannot be reached: nothing was revoked.
    """
    try:
        firebase_auth.revoke_refresh_tokens(identity.uid, app=_firebase_app(config))
    except firebase_auth.UserNotFoundError:  # deleted since the token was issued
        log.security_event("auth_failure", function=config.function, reason="user_not_found")
        raise ApiError("unauthenticated", "Sign in to continue.",
                       reason="user_not_found") from None
    except _BACKEND_ERRORS as error:
        raise _backend_unavailable(error, "Signing out everywhere is not possible right now; "
                                          "please try again.") from None
    log.security_event("sessions_revoked", 20, function=config.function)


def _time_claims_problem(claims: dict, now: float) -> str | None:
    """firebase-admin checks exp/iat only for signed tokens; we check them always, plus auth_time."""
    def number(name):
        value = claims.get(name)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    exp, iat, auth_time = number("exp"), number("iat"), number("auth_time")
    if exp is None or exp <= now - CLOCK_SKEW_S:
        return "expired"
    if iat is None or iat > now + CLOCK_SKEW_S:
        return "issued_in_future"
    if auth_time is None or auth_time > now + CLOCK_SKEW_S:
        return "auth_time"
    return None


def _verified_claims(token: str, config: Config) -> dict:
    """The token's claims as firebase-admin verified them (signature, aud, iss and, with
    CHECK_REVOKED, Google's revocation list), or the refusal."""
    try:
        return firebase_auth.verify_id_token(token, app=_firebase_app(config),
                                             check_revoked=config.check_revoked,
                                             clock_skew_seconds=CLOCK_SKEW_S)
    except firebase_auth.RevokedIdTokenError:
        raise _refuse(config, "revoked") from None
    except firebase_auth.ExpiredIdTokenError:
        raise _refuse(config, "expired") from None
    except firebase_auth.UserDisabledError:
        raise _refuse(config, "disabled") from None
    except firebase_auth.UserNotFoundError:  # deleted since the token was issued
        raise _refuse(config, "user_not_found") from None
    except (firebase_auth.InvalidIdTokenError, ValueError):
        raise _refuse(config, "invalid") from None
    except _BACKEND_ERRORS as error:
        # Google's side is unreachable: not the user's fault, and not a reason to let them in.
        raise _backend_unavailable(error, "Sign-in cannot be checked right now.") from None
    except ApiError:
        raise
    except Exception as error:  # noqa: BLE001 - e.g. RecursionError on deeply nested JSON
        # Whatever else a malformed token makes the parsers raise is the token's fault: 401,
        # never a 500. Log the class only: the exception's text may quote the token.
        log.logger.warning("ID token could not be parsed", extra={"fields": {
            "event": "token_parse_error", "error_class": type(error).__name__}})
        raise _refuse(config, "invalid") from None


def _identity(claims: dict, config: Config) -> Identity:
    firebase_claims = claims.get("firebase")
    firebase_claims = firebase_claims if isinstance(firebase_claims, dict) else {}
    return Identity(
        subject=pseudonym(config.secret_key, "uid", claims["uid"]),
        uid=claims["uid"],
        email=_text(claims.get("email")),
        email_verified=claims.get("email_verified") is True,  # JSON true, not "false" or 1
        name=claims.get("name"),
        picture=claims.get("picture"),
        provider=_text(firebase_claims.get("sign_in_provider")),
    )


class _VerifiedTokens:
    """ID tokens verified before, until they expire: a signed-in chat sends the same token with
    every message for up to an hour, and verifying it costs Google's certificate list (through
    requests' HTTP cache), their parsing and an RSA check each time (~0.4 ms of CPU).

    An entry is keyed by the project, the verification mode (Google's keys or the emulator's
    unsigned tokens) and an HMAC-SHA256 of the token under SECRET_KEY, never by the token: the
    token is no key or value here. It holds the Identity (whose pseudonym is of that SECRET_KEY)
    and the token's time claims, checked again on every hit: an entry ends when its token
    expires and never extends it. At most `size` entries, the least recently used leave first.
    Only tokens that passed every check are put; with CHECK_REVOKED no entry is ever used, so
    each request asks Google.
    """

    def __init__(self, size: int):
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, tuple[Identity, dict]] = OrderedDict()

    @staticmethod
    def key(token: str, config: Config, emulated: bool) -> tuple:
        digest = hmac.new(config.secret_key, token.encode(), hashlib.sha256).digest()
        return config.project_id, emulated, digest

    def get(self, key: tuple, now: float) -> Identity | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if _time_claims_problem(entry[1], now):
                del self._entries[key]  # expired: verified afresh, and refused there
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: tuple, identity: Identity, claims: dict) -> None:
        times = {name: claims.get(name) for name in ("exp", "iat", "auth_time")}
        with self._lock:
            self._entries[key] = (identity, times)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


_VERIFIED = _VerifiedTokens(VERIFIED_TOKENS_KEPT)


def _allowed(identity: Identity, config: Config) -> bool:
    """Empty lists admit any signed-in user; otherwise a verified ASCII e-mail must match exactly
    (after ASCII lower-casing) or end in exactly `@<listed domain>`. A non-ASCII e-mail never
    matches: Unicode lower-casing folds look-alikes (the Kelvin sign U+212A) into ASCII."""
    if not config.allowed_emails and not config.allowed_domains:
        return True
    if not identity.email or not identity.email_verified or not identity.email.isascii():
        return False
    email = identity.email.lower()
    local, at, domain = email.rpartition("@")
    if not local or not at:
        return False
    return email in config.allowed_emails or domain in config.allowed_domains


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _provider_class(provider: str | None) -> str:
    """A bounded value for logs: Firebase's own provider ids, else only their kind."""
    if provider is None:
        return "none"
    if provider in _KNOWN_PROVIDERS:
        return provider
    kind = provider.partition(".")[0]
    return kind if kind in ("oidc", "saml") else "other"


def _backend_unavailable(error: Exception, message: str) -> ApiError:
    log.logger.error("Firebase Auth unavailable", extra={"fields": {
        "event": "auth_backend_unavailable", "error_class": type(error).__name__}})
    return ApiError("unavailable", message, retry_after=30, reason="auth_backend")


def _refuse(config: Config, reason: str) -> ApiError:
    log.security_event("auth_failure", function=config.function, reason=reason)
    message = ("Your session has expired; sign in again." if reason in ("expired", "revoked")
               else "Sign in to continue.")
    return ApiError("unauthenticated", message, reason=reason)


def _firebase_app(config: Config) -> firebase_admin.App:
    """One firebase-admin app per project, created on first use (credentials: ADC, loaded lazily)."""
    key = config.project_id or "default-project"
    with _app_lock:
        if key not in _apps:
            options = {"projectId": config.project_id} if config.project_id else {}
            _apps[key] = firebase_admin.initialize_app(options=options, name=f"jette-{key}")
        return _apps[key]


def firebase_app(config: Config) -> firebase_admin.App:
    """The firebase-admin app of the function's project, shared by every Firebase check
    (ID tokens here, App Check tokens in core.app_check)."""
    return _firebase_app(config)
