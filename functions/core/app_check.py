"""Firebase App Check for the chat and auth functions: APP_CHECK = off | monitor | enforce.

off      nothing is read or checked, and firebase_admin.app_check is never imported.
monitor  a missing or invalid `X-Firebase-AppCheck` token is logged (security event
         `app_check_failed`) and the request is served.
enforce  the same event, then 401 unauthenticated; 503 if Google's keys cannot be fetched.

App Check attests the app, not the user: it runs before, never instead of, the ID-token check.
The token itself is never logged.
"""

from __future__ import annotations

from flask import Request

from . import log
from .config import Config
from .errors import ApiError

__all__ = ["HEADER", "verify_app"]

HEADER = "X-Firebase-AppCheck"
_MAX_TOKEN_CHARS = 4096  # real tokens are ~1 KB; longer ones are not parsed at all


def verify_app(request: Request, config: Config) -> None:
    """Check the request's App Check token per config.app_check; raise ApiError in enforce mode."""
    if config.app_check == "off":
        return
    reason = _problem(request.headers.get(HEADER), config)
    if reason is None:
        return
    log.security_event("app_check_failed", function=config.function, mode=config.app_check,
                       reason=reason)
    if config.app_check != "enforce":
        return
    if reason == "unavailable":
        # Google's side (or our setup) failed: not the caller's fault, and no reason to let it in.
        raise ApiError("unavailable", "This app cannot be verified right now.", retry_after=30,
                       reason="app_check_backend")
    raise ApiError("unauthenticated", "This app could not be verified.",
                   reason=f"app_check_{reason}")


def _problem(token: str | None, config: Config) -> str | None:
    """None for a valid token, else the reason class: missing, invalid, expired or unavailable."""
    token = (token or "").strip()
    if not token:
        return "missing"
    if len(token) > _MAX_TOKEN_CHARS:
        return "invalid"
    if not config.project_id:  # the token's audience is projects/<project id>
        return _unavailable("no_project_id")
    # Imported here, not at module level: with APP_CHECK=off this costs nothing at cold start.
    import jwt
    from firebase_admin import app_check
    from firebase_admin.exceptions import FirebaseError
    from google.auth.exceptions import GoogleAuthError

    from .auth import firebase_app

    try:
        app_check.verify_token(token, app=firebase_app(config))
    except ValueError as error:  # firebase-admin wraps every check of the token itself
        return "expired" if isinstance(error.__cause__, jwt.ExpiredSignatureError) else "invalid"
    except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError, FirebaseError, GoogleAuthError,
            OSError) as error:
        # Google's JWKS unreachable or unusable, or no credentials for the service.
        return _unavailable(type(error).__name__)
    except jwt.PyJWKClientError:  # no published key has the token's kid
        return "invalid"
    except (AttributeError, TypeError):  # a signed token lacking claims firebase-admin reads
        return "invalid"
    return None


def _unavailable(error_class: str) -> str:
    log.logger.error("app check unavailable", extra={"fields": {"error_class": error_class}})
    return "unavailable"
