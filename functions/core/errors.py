"""The one error envelope every function answers with, and the one table of its codes.

    Code                     -> each code's HTTP status, default message and extra header
    ApiError(code, message)  -> {"error": {"code", "message"}} + the code's status and header
    any other exception      -> "internal" 500 (traceback logged server-side only)

The web app's copy of the table (hosting/src/generated/contract.js) is written from `Code` by
scripts/generate.py; tests/unit/test_generated.py fails when it is stale.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum

from flask import Response

__all__ = ["ApiError", "Code", "DEFAULT_MESSAGES", "STATUS", "error_response", "json_response"]


class Code(StrEnum):
    """An error code (the member's value is the code on the wire) with its HTTP `status`, its
    default `message` and the `header` every answer with it carries (None: no extra header)."""

    status: int
    message: str
    header: str | None

    def __new__(cls, code: str, status: int, message: str, header: str | None = None):
        member = str.__new__(cls, code)
        member._value_ = code
        member.status, member.message, member.header = status, message, header
        return member

    INVALID_ARGUMENT = "invalid_argument", 400, "The request is not valid."
    UNAUTHENTICATED = "unauthenticated", 401, "Sign in to continue.", "WWW-Authenticate"
    PERMISSION_DENIED = "permission_denied", 403, "You do not have access to this app."
    NOT_FOUND = "not_found", 404, "There is nothing here."
    METHOD_NOT_ALLOWED = "method_not_allowed", 405, "This method is not allowed here.", "Allow"
    REQUEST_TIMEOUT = "request_timeout", 408, "The request body did not arrive in time."
    PAYLOAD_TOO_LARGE = "payload_too_large", 413, "The request is too large."
    UNSUPPORTED_MEDIA_TYPE = ("unsupported_media_type", 415,
                              "Send the request as application/json.")
    BLOCKED = "blocked", 422, "The answer was blocked by the model's safety filters."
    RATE_LIMITED = ("rate_limited", 429, "Too many requests; please wait a moment.",
                    "Retry-After")
    QUOTA_EXCEEDED = "quota_exceeded", 429, "Your quota is used up for today.", "Retry-After"
    INTERNAL = "internal", 500, "Something went wrong on our side."
    UPSTREAM_ERROR = "upstream_error", 502, "The model service failed; please try again."
    UNAVAILABLE = ("unavailable", 503, "The service is busy or paused; please try again later.",
                   "Retry-After")
    TIMEOUT = "timeout", 504, "The model took too long to answer."


# Views of the table by code string (for callers that want a plain mapping).
STATUS = {code.value: code.status for code in Code}
DEFAULT_MESSAGES = {code.value: code.message for code in Code}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class ApiError(Exception):
    """An error the client may see. `reason` is a short machine class for logs, never content."""

    def __init__(self, code: str, message: str | None = None, *, retry_after: int | None = None,
                 allow: tuple[str, ...] = (), reason: str | None = None):
        if code not in STATUS:
            raise ValueError(f"unknown error code {code!r}")
        entry = Code(code)
        super().__init__(entry.value)
        self.code = entry.value
        self.status = entry.status
        self.message = message or entry.message
        self.retry_after = retry_after
        self.allow = allow
        self.reason = reason or entry.value

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}

    def headers(self) -> dict[str, str]:
        header = Code(self.code).header
        if header == "WWW-Authenticate":
            return {header: "Bearer"}
        if header == "Allow":
            return {header: ", ".join(self.allow)}
        if header == "Retry-After":
            return {header: str(max(1, int(self.retry_after or 30)))}
        return {}


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
