"""The one error envelope every function answers with, and its code -> status table.

    ApiError(code, message)  -> {"error": {"code", "message"}} + status + headers of the SPEC
    any other exception       -> "internal" 500 (traceback logged server-side only)
"""

from __future__ import annotations

import json
import re

from flask import Response

__all__ = ["ApiError", "STATUS", "error_response", "json_response"]

STATUS = {
    "invalid_argument": 400,
    "unauthenticated": 401,
    "permission_denied": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "request_timeout": 408,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "blocked": 422,
    "rate_limited": 429,
    "quota_exceeded": 429,
    "internal": 500,
    "upstream_error": 502,
    "unavailable": 503,
    "timeout": 504,
}

DEFAULT_MESSAGES = {
    "invalid_argument": "The request is not valid.",
    "unauthenticated": "Sign in to continue.",
    "permission_denied": "You do not have access to this app.",
    "not_found": "There is nothing here.",
    "method_not_allowed": "This method is not allowed here.",
    "request_timeout": "The request body did not arrive in time.",
    "payload_too_large": "The request is too large.",
    "unsupported_media_type": "Send the request as application/json.",
    "blocked": "The answer was blocked by the model's safety filters.",
    "rate_limited": "Too many requests; please wait a moment.",
    "quota_exceeded": "Your quota is used up for today.",
    "internal": "Something went wrong on our side.",
    "upstream_error": "The model service failed; please try again.",
    "unavailable": "The service is busy or paused; please try again later.",
    "timeout": "The model took too long to answer.",
}

_RETRY_AFTER_CODES = {"rate_limited", "quota_exceeded", "unavailable"}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class ApiError(Exception):
    """An error the client may see. `reason` is a short machine class for logs, never content."""

    def __init__(self, code: str, message: str | None = None, *, retry_after: int | None = None,
                 allow: tuple[str, ...] = (), reason: str | None = None):
        if code not in STATUS:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(code)
        self.code = code
        self.status = STATUS[code]
        self.message = message or DEFAULT_MESSAGES[code]
        self.retry_after = retry_after
        self.allow = allow
        self.reason = reason or code

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.code == "unauthenticated":
            headers["WWW-Authenticate"] = "Bearer"
        if self.code == "method_not_allowed":
            headers["Allow"] = ", ".join(self.allow)
        if self.code in _RETRY_AFTER_CODES:
            headers["Retry-After"] = str(max(1, int(self.retry_after or 30)))
        return headers


def json_response(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(payload, ensure_ascii=False)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        # An unpaired surrogate (upstream text can hold one) has no UTF-8 form: U+FFFD, as a
        # browser would show it, keeps the body valid UTF-8 and strict JSON parsers happy.
        data = _LONE_SURROGATE.sub("\ufffd", text).encode("utf-8")
    return Response(data, status=status, headers=headers, mimetype="application/json")


def error_response(error: ApiError) -> Response:
    return json_response(error.body(), error.status, error.headers())
