"""One JSON object per line on stdout, as Cloud Logging reads it, and pseudonymous security events.

Fields are JSON-escaped (CR/LF cannot forge a line); tracebacks keep frames but drop exception text.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import traceback

__all__ = ["configure", "bind_trace", "reset_trace", "security_event", "logger"]

logger = logging.getLogger("jette")
_trace: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace", default=None)
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_QUIET_LIBRARIES = ("httpx", "httpcore", "urllib3", "google_genai", "google.auth", "cachecontrol")
_MAX_FIELD_CHARS = 120


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "severity": record.levelname if record.levelname != "WARN" else "WARNING",
            "message": record.getMessage(),
            "logger": record.name,
        }
        entry.update(getattr(record, "fields", None) or {})
        trace = _trace.get()
        if trace:
            entry["logging.googleapis.com/trace"] = trace
        if record.exc_info and record.exc_info[0] is not None:
            kind, _, tb = record.exc_info
            # The exception's text may quote user data; its type and frames are enough to debug.
            entry["stack_trace"] = "".join(traceback.format_tb(tb)) + kind.__qualname__
        return json.dumps(entry, ensure_ascii=True, default=str)


def configure(level: str = "INFO") -> None:
    """Route all Python logging to stdout as JSON lines (idempotent)."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def bind_trace(headers, project_id: str | None) -> contextvars.Token:
    """Attach the request's Cloud Trace id (if well-formed) to every log line of this request."""
    trace_id = None
    cloud = headers.get("X-Cloud-Trace-Context", "")
    if cloud:
        trace_id = cloud.split("/", 1)[0].strip().lower()
    else:
        parent = headers.get("traceparent", "").split("-")
        if len(parent) == 4:
            trace_id = parent[1].lower()
    value = None
    if trace_id and _TRACE_ID.match(trace_id):
        value = f"projects/{project_id}/traces/{trace_id}" if project_id else trace_id
    return _trace.set(value)


def reset_trace(token: contextvars.Token) -> None:
    _trace.reset(token)


def security_event(event: str, severity: int = logging.WARNING, **fields: object) -> None:
    """Log a security event. Callers pass pseudonyms and reason classes only, never content."""
    clean = {"event": event}
    for key, value in fields.items():
        if isinstance(value, str):
            value = value[:_MAX_FIELD_CHARS]
        elif not isinstance(value, (int, float, bool, type(None))):
            value = type(value).__name__
        clean[key] = value
    logger.log(severity, event, extra={"fields": clean})
