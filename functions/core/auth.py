"""Firebase ID token verification and the sign-in policy (REQUIRE_AUTH, e-mail allow-lists).

The Auth emulator is honoured only outside production; config refuses to start otherwise.
"""

from __future__ import annotations

import os
import threading
import time

import firebase_admin
from firebase_admin import auth as firebase_auth
from firebase_admin.exceptions import FirebaseError
from flask import Request

from . import log
from .config import Config
from .errors import ApiError
from .http import set_subject, subject_of
from .identity import Identity, anonymous, client_ip, pseudonym

__all__ = ["verify_bearer", "authenticate", "revoke_sessions"]

CLOCK_SKEW_S = 10
_MAX_TOKEN_CHARS = 4096
_app_lock = threading.Lock()
_apps: dict[str, firebase_admin.App] = {}


def verify_bearer(request: Request, config: Config) -> Identity | None:
    """The verified caller of `Authorization: Bearer <ID token>`; None without the header.

    Raises ApiError("unauthenticated") for a malformed, forged, expired or revoked token.
    """
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_CHARS:
        raise _refuse(request, config, "malformed")
    if config.production and os.environ.get("FIREBASE_AUTH_EMULATOR_HOST"):
        # Belt and braces: config refuses this at start-up; never trust unsigned tokens.
        raise _refuse(request, config, "emulator_in_production")
    try:
        claims = firebase_auth.verify_id_token(token, app=_firebase_app(config),
                                               check_revoked=config.check_revoked,
                                               clock_skew_seconds=CLOCK_SKEW_S)
    except firebase_auth.RevokedIdTokenError:
        raise _refuse(request, config, "revoked") from None
    except firebase_auth.ExpiredIdTokenError:
        raise _refuse(request, config, "expired") from None
    except firebase_auth.UserDisabledError:
        raise _refuse(request, config, "disabled") from None
    except firebase_auth.UserNotFoundError:  # deleted since the token was issued
        raise _refuse(request, config, "user_not_found") from None
    except (firebase_auth.InvalidIdTokenError, ValueError):
        raise _refuse(request, config, "invalid") from None
    except (firebase_auth.CertificateFetchError, FirebaseError) as error:
        # Google's side is unreachable: not the user's fault, and not a reason to let them in.
        log.logger.error("sign-in check failed", extra={"fields": {"error_class":
                                                                   type(error).__name__}})
        raise ApiError("unavailable", "Sign-in cannot be checked right now.", retry_after=30,
                       reason="auth_backend") from None
    reason = _time_claims_problem(claims, time.time())
    if reason:
        raise _refuse(request, config, reason)
    firebase_claims = claims.get("firebase") or {}
    identity = Identity(
        subject=pseudonym(config.secret_key, "uid", claims["uid"]),
        uid=claims["uid"],
        email=claims.get("email"),
        email_verified=bool(claims.get("email_verified")),
        name=claims.get("name"),
        picture=claims.get("picture"),
        provider=firebase_claims.get("sign_in_provider"),
    )
    set_subject(request, identity.subject)
    return identity


def authenticate(request: Request, config: Config, *, allow_anonymous: bool | None = None) -> Identity:
    """The caller, enforcing REQUIRE_AUTH and the allow-lists (401 / 403)."""
    identity = verify_bearer(request, config)
    anonymous_ok = (not config.require_auth) if allow_anonymous is None else allow_anonymous
    if identity is None:
        if not anonymous_ok:
            raise _refuse(request, config, "missing")
        ip = client_ip(request.headers, request.remote_addr, config.trusted_proxy_hops)
        return anonymous(config.secret_key, ip)
    if not _allowed(identity, config):
        log.security_event("auth_denied", subject=identity.subject, function=config.function,
                           reason="not_on_allow_list")
        raise ApiError("permission_denied", "Your account is not on this app's allow-list.",
                       reason="allow_list")
    log.security_event("auth_success", 20, subject=identity.subject, function=config.function,
                       provider=identity.provider or "unknown")
    return identity


def revoke_sessions(identity: Identity, config: Config) -> None:
    """Revoke every refresh token of the user: sign out on all devices."""
    firebase_auth.revoke_refresh_tokens(identity.uid, app=_firebase_app(config))
    log.security_event("sessions_revoked", 20, subject=identity.subject, function=config.function)


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


def _allowed(identity: Identity, config: Config) -> bool:
    if not config.allowed_emails and not config.allowed_domains:
        return True
    if not identity.email or not identity.email_verified:
        return False
    email = identity.email.lower()
    domain = email.rpartition("@")[2]
    return email in config.allowed_emails or domain in config.allowed_domains


def _refuse(request: Request, config: Config, reason: str) -> ApiError:
    log.security_event("auth_failure", subject=subject_of(request, config),
                       function=config.function, reason=reason)
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
