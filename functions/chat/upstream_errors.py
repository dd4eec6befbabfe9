"""What a failed call to Gemini means, read from tables: the error our client gets, whether the
call may be tried again, and whether Gemini may have run (and billed) it though no answer came.

    refused with a status      429 -> 503 unavailable (Gemini's quota is ours, not the user's
                               fault), retried; 5xx -> 502, retried; others -> 502
    never reached Gemini       connection refused, connect timeout: retried
    cut off after it was sent  other timeouts -> 504, dropped connections -> 502: never
                               retried, charged as if Gemini ran them
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from google.genai import errors as genai_errors

from core import log
from core.errors import ApiError

QUOTA_RETRY_AFTER_S = 30


@dataclass(frozen=True)
class Failure:
    code: str  # our error code
    reason: str  # its class in the logs
    retry: bool  # safe to try again: Gemini refused it, or it never reached Gemini
    may_have_run: bool  # Gemini may have run it, and billed it, although no answer was seen
    message: str | None = None  # None: the code's default


_REFUSED = Failure("upstream_error", "upstream_status", retry=False, may_have_run=False)
_SERVER_ERROR = Failure("upstream_error", "upstream_status", retry=True, may_have_run=False)
_BY_STATUS = {429: Failure("unavailable", "upstream_quota", retry=True, may_have_run=False,
                           message="The model is busy right now; please try again soon.")}

# Transport failures by exception class: the first listed class along the exception's MRO
# decides, so the most specific entry wins (httpx's ConnectTimeout is a TimeoutException).
# google-genai may use httpx or its fork httpx2: their classes are matched by module and name.
_TRANSPORT_MODULES = frozenset({"httpx", "httpx2", "builtins"})
_BY_CLASS = {
    "ConnectError": Failure("upstream_error", "connection", retry=True, may_have_run=False),
    "ConnectTimeout": Failure("timeout", "deadline", retry=True, may_have_run=False),
    "TimeoutException": Failure("timeout", "deadline", retry=False, may_have_run=True),
    "TimeoutError": Failure("timeout", "deadline", retry=False, may_have_run=True),  # builtins
}
_CUT_OFF = Failure("upstream_error", "connection", retry=False, may_have_run=True)


def classify(error: BaseException) -> Failure:
    """What `error`, raised by a call to Gemini, means (see the module's tables)."""
    status = status_of(error)
    if status is not None:
        return _BY_STATUS.get(status) or (_SERVER_ERROR if status >= 500 else _REFUSED)
    for cls in type(error).__mro__:
        if cls.__module__.partition(".")[0] in _TRANSPORT_MODULES and cls.__name__ in _BY_CLASS:
            return _BY_CLASS[cls.__name__]
    return _CUT_OFF


def status_of(error: BaseException) -> int | None:
    """The HTTP status Gemini refused the call with, or None if it did not answer."""
    return error.code if isinstance(error, genai_errors.APIError) else None


def upstream_failure(error: BaseException, mid_stream: bool = False) -> ApiError:
    """Our ApiError for a failed call to Gemini, logged as its class and status, never its text."""
    failure, status = classify(error), status_of(error)
    retry_after = None
    if failure.code == "unavailable":  # an honest Retry-After: Gemini's own, else ours
        retry_after = _retry_delay(error) or QUOTA_RETRY_AFTER_S
    result = ApiError(failure.code, failure.message, retry_after=retry_after,
                      reason=failure.reason)
    log.security_event("upstream_error", logging.ERROR, status=status or 0, reason=result.reason,
                       error_class=type(error).__name__, mid_stream=mid_stream)
    return result


def _retry_delay(error: BaseException) -> int | None:
    """Gemini's RetryInfo delay in whole seconds, if its error details carry one."""
    details = getattr(error, "details", None)
    body = details.get("error", details) if isinstance(details, dict) else {}
    for item in body.get("details", []) if isinstance(body, dict) else []:
        match = re.fullmatch(r"(\d+)(?:\.\d+)?s", str(item.get("retryDelay", "")))
        if match:
            return max(1, int(match.group(1)))
    return None
