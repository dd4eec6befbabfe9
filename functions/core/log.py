"""One JSON object per line on stdout, as Cloud Logging reads it, and pseudonymous security events.

Fields are JSON-escaped (CR/LF cannot forge a line); tracebacks keep frames but drop exception text.
Library warnings (the `warnings` module) are logged too, as their category and where they were
raised only: their text can quote upstream content. Every line of a request carries its Cloud
Trace id and its caller's pseudonym (`subject`), bound once per request (`bind_request`).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import traceback

__all__ = ["configure", "bind_request", "reset_request", "set_subject", "subject",
           "security_event", "logger"]

logger = logging.getLogger("jette")
TRACE_KEY = "logging.googleapis.com/trace"


class _Request:
    """What every log line of one request carries. `subject` changes once, when the caller is
    verified; a streamed body's copied context sees the same object."""

    __slots__ = ("trace", "subject")

    def __init__(self, trace: str | None, subject: str | None):
        self.trace, self.subject = trace, subject


_request: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("request", default=None)
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_QUIET_LIBRARIES = ("httpx", "httpx2", "httpcore", "urllib3", "google_genai", "google.auth",
                    "cachecontrol")
_MAX_FIELD_CHARS = 120


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "severity": record.levelname if record.levelname != "WARN" else "WARNING",
            "message": record.getMessage(),
            "logger": record.name,
        }
        entry.update(getattr(record, "fields", None) or {})
        request = _request.get()
        if request is not None:
            if request.subject:
                entry.setdefault("subject", request.subject)
            if request.trace:
                entry[TRACE_KEY] = request.trace
        if record.exc_info and record.exc_info[0] is not None:
            kind, _, tb = record.exc_info
            # The exception's text may quote user data; its type and frames are enough to debug.
            entry["stack_trace"] = "".join(traceback.format_tb(tb)) + kind.__qualname__
        return json.dumps(entry, ensure_ascii=True, default=str)


def configure(level: str = "INFO") -> None:
    """Route all Python logging, library warnings included, to stdout as JSON lines
    (idempotent)."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # warnings.warn(...) -> the "py.warnings" logger, not stderr
    warnings_logger = logging.getLogger("py.warnings")
    if not any(isinstance(f, _WarningWithoutText) for f in warnings_logger.filters):
        warnings_logger.addFilter(_WarningWithoutText())
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


# How warnings.formatwarning starts: "<file>:<line>: <Category>: <text>..."
_WARNING_TEXT = re.compile(r"(?P<file>.+?):(?P<line>[0-9]+): (?P<category>[A-Za-z_][A-Za-z0-9_]*): ")


class _WarningWithoutText(logging.Filter):
    """Rewrites a captured warning (the "py.warnings" record holds the whole formatted text,
    which can quote upstream content) into its category and place: the text never leaves."""

    def filter(self, record: logging.LogRecord) -> bool:
        found = _WARNING_TEXT.match(str(record.msg))
        category, source = "Warning", "unknown"
        if found:
            category = found["category"]
            source = f"{_module_of(found['file'])}:{found['line']}"
        record.msg, record.args, record.exc_info, record.exc_text = "library warning", None, None, None
        record.fields = {"warning": category[:_MAX_FIELD_CHARS], "source": source[:_MAX_FIELD_CHARS]}
        return True


def _module_of(path: str) -> str:
    """.../site-packages/google/genai/_common.py -> google.genai._common; else the file's name."""
    parts = path.replace("\\", "/").split("/")
    if "site-packages" in parts:
        parts = parts[len(parts) - parts[::-1].index("site-packages"):]
    else:
        parts = parts[-1:]
    if parts[-1].endswith(".py"):
        parts[-1] = parts[-1][:-3]
    return ".".join(parts)


def bind_request(headers, project_id: str | None, subject: str | None = None) -> contextvars.Token:
    """Start a request's log context: its Cloud Trace id (if well-formed) and the caller's
    pseudonym as known so far (its client address's). Undo with `reset_request`."""
    return _request.set(_Request(_trace_of(headers, project_id), subject))


def reset_request(token: contextvars.Token) -> None:
    _request.reset(token)


def set_subject(subject: str) -> None:
    """The verified caller's pseudonym, for every later line of this request (no request: no-op)."""
    request = _request.get()
    if request is not None:
        request.subject = subject


def subject() -> str | None:
    """The pseudonym of this request's caller, or None outside a request."""
    request = _request.get()
    return request.subject if request is not None else None


def _trace_of(headers, project_id: str | None) -> str | None:
    trace_id = None
    cloud = headers.get("X-Cloud-Trace-Context", "")
    if cloud:
        trace_id = cloud.split("/", 1)[0].strip().lower()
    else:
        parent = headers.get("traceparent", "").split("-")
        if len(parent) == 4:
            trace_id = parent[1].lower()
    if not trace_id or not _TRACE_ID.match(trace_id):
        return None
    return f"projects/{project_id}/traces/{trace_id}" if project_id else trace_id


def security_event(event: str, severity: int = logging.WARNING, **fields: object) -> None:
    """Log a security event. Callers pass pseudonyms and reason classes only, never content;
    the request's caller (`subject`) is added from the log context unless given."""
    clean = {"event": event}
    for key, value in fields.items():
        if isinstance(value, str):
            value = value[:_MAX_FIELD_CHARS]
        elif not isinstance(value, (int, float, bool, type(None))):
            value = type(value).__name__
        clean[key] = value
    logger.log(severity, event, extra={"fields": clean})
