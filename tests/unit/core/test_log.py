"""core.log: one JSON object per line, trace and caller correlation, content-free tracebacks,
clean events."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import warnings

import pytest
from stage_function import stage

from core import log
from core.log import JsonFormatter, bind_request, reset_request, security_event

TRACE_ID = "0123456789abcdef0123456789abcdef"


FORGED = '{"severity": "CRITICAL", "message": "forged"}'


def test_line_breaks_cannot_forge_a_log_line(captured):
    message = f"hello\r\n{FORGED}\u2028{FORGED}\u2029\x85{FORGED}"
    log.logger.info(message, extra={"fields": {"note": f"x\n{FORGED}\r\n", FORGED: "\u2028"}})
    raw = captured.raw()
    assert raw.count("\n") == 1 and raw.endswith("\n")
    assert len(raw.splitlines()) == 1  # str.splitlines also splits on \u2028, \u2029, \x85
    assert "\r" not in raw
    (entry,) = captured()
    assert entry["severity"] == "INFO"
    assert entry["message"] == message  # escaped, not lost
    assert entry["note"] == f"x\n{FORGED}\r\n"


@pytest.mark.parametrize(("level", "severity"), [
    (logging.DEBUG, "DEBUG"), (logging.INFO, "INFO"), (logging.WARNING, "WARNING"),
    (logging.ERROR, "ERROR"), (logging.CRITICAL, "CRITICAL"),
])
def test_severity_names_are_cloud_logging_names(captured, level, severity):
    log.logger.log(level, "x")
    (entry,) = captured()
    assert entry["severity"] == severity
    assert entry["logger"] == "jette"


def test_fields_are_top_level_keys(captured):
    log.logger.info("request", extra={"fields": {"status": 200, "route": "status"}})
    (entry,) = captured()
    assert entry["status"] == 200 and entry["route"] == "status"


def log_with_trace(headers: dict[str, str], project: str | None = "proj") -> dict:
    token = bind_request(headers, project)
    try:
        stream = io.StringIO()
        record = logging.LogRecord("jette", logging.INFO, __file__, 1, "m", None, None)
        stream.write(JsonFormatter().format(record))
        return json.loads(stream.getvalue())
    finally:
        reset_request(token)


TRACE_KEY = "logging.googleapis.com/trace"


def test_trace_from_cloud_trace_context():
    entry = log_with_trace({"X-Cloud-Trace-Context": f"{TRACE_ID}/123;o=1"})
    assert entry[TRACE_KEY] == f"projects/proj/traces/{TRACE_ID}"


def test_trace_id_is_lowercased():
    entry = log_with_trace({"X-Cloud-Trace-Context": f"{TRACE_ID.upper()}/1"})
    assert entry[TRACE_KEY] == f"projects/proj/traces/{TRACE_ID}"


def test_trace_from_traceparent():
    entry = log_with_trace({"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"})
    assert entry[TRACE_KEY] == f"projects/proj/traces/{TRACE_ID}"


def test_trace_without_project_is_the_bare_id():
    assert log_with_trace({"X-Cloud-Trace-Context": TRACE_ID}, None)[TRACE_KEY] == TRACE_ID


@pytest.mark.parametrize("headers", [
    {"X-Cloud-Trace-Context": "not-a-trace/1"},
    {"X-Cloud-Trace-Context": TRACE_ID[:-1] + "/1"},
    {"X-Cloud-Trace-Context": TRACE_ID + "00/1"},
    {"X-Cloud-Trace-Context": "z" * 32 + "/1"},
    {"X-Cloud-Trace-Context": f"{TRACE_ID}\"}}, {{\"x\": \"/1"},
    {"X-Cloud-Trace-Context": "../../projects/other/traces/" + TRACE_ID},
    {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7"},
    {"traceparent": f"00-{TRACE_ID[:30]}-00f067aa0ba902b7-01"},
    {"traceparent": "garbage"},
    {},
])
def test_malformed_trace_is_ignored(headers):
    assert TRACE_KEY not in log_with_trace(headers)


def test_trace_and_subject_are_unbound_after_reset(captured):
    token = bind_request({"X-Cloud-Trace-Context": f"{TRACE_ID}/1"}, "proj", "ip:abc")
    log.logger.info("inside")
    reset_request(token)
    log.logger.info("after")
    inside, after = captured()
    assert TRACE_KEY in inside and inside["subject"] == "ip:abc"
    assert TRACE_KEY not in after and "subject" not in after
    assert log.subject() is None


def test_every_line_of_a_request_names_its_caller_and_verification_changes_it(captured):
    token = bind_request({}, "proj", "ip:abc")
    try:
        log.logger.info("before sign-in")
        security_event("auth_failure", reason="expired")
        log.set_subject("uid:def")
        assert log.subject() == "uid:def"
        log.logger.warning("after sign-in")
        security_event("limit_refused", subject="uid:explicit")  # a caller's own value wins
    finally:
        reset_request(token)
    assert [line["subject"] for line in captured()] == ["ip:abc", "ip:abc", "uid:def",
                                                        "uid:explicit"]


def test_set_subject_outside_a_request_changes_nothing(captured):
    log.set_subject("uid:stray")
    log.logger.info("no request")
    assert log.subject() is None and "subject" not in captured()[0]


def test_a_copied_context_sees_the_verified_subject(captured):
    # A streamed body runs in a copy of the request's context taken after sign-in.
    import contextvars

    token = bind_request({}, None, "ip:abc")
    try:
        log.set_subject("uid:def")
        copied = contextvars.copy_context()
    finally:
        reset_request(token)
    copied.run(log.logger.info, "in the stream")
    assert captured()[0]["subject"] == "uid:def"


def explode(payload: str) -> None:
    raise ValueError(payload)


def test_exception_logs_frames_and_type_but_not_the_message(captured):
    secret = "user wrote Zq9-private-text"
    try:
        explode(secret)
    except ValueError:
        log.logger.exception("unhandled error")
    (entry,) = captured()
    assert entry["severity"] == "ERROR"
    trace = entry["stack_trace"]
    assert "explode" in trace and "test_log.py" in trace
    assert trace.rstrip().endswith("ValueError")
    assert "Zq9" not in captured.raw()


def test_security_event_cleans_its_fields(captured):
    security_event("origin_rejected", subject="ip:abc", origin="https://" + "o" * 500,
                   body={"message": "Zq9-private"}, items=["Zq9"], count=3, ratio=0.5,
                   flag=True, missing=None)
    (entry,) = captured()
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "origin_rejected" and entry["event"] == "origin_rejected"
    assert entry["origin"] == ("https://" + "o" * 500)[:120]
    assert entry["body"] == "dict" and entry["items"] == "list"
    assert (entry["count"], entry["ratio"], entry["flag"], entry["missing"]) == (3, 0.5, True, None)
    assert "Zq9" not in captured.raw()


def test_security_event_severity(captured):
    security_event("auth_success", logging.INFO, subject="uid:x")
    assert captured()[0]["severity"] == "INFO"


def test_configure_is_idempotent(restore_logging):
    log.configure("INFO")
    log.configure("WARNING")
    root = logging.getLogger()
    assert sum(isinstance(h.formatter, JsonFormatter) for h in root.handlers) == 1
    assert root.level == logging.WARNING
    assert logging.getLogger("httpx").level >= logging.WARNING


def test_configure_quiets_httpx2(restore_logging):
    log.configure("INFO")
    assert logging.getLogger("httpx2").level >= logging.WARNING


def test_py_warnings_record_keeps_category_and_place_but_never_the_text(restore_logging):
    log.configure("INFO")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    warnings_logger = logging.getLogger("py.warnings")
    warnings_logger.addHandler(handler)
    try:
        # What logging.captureWarnings makes of warnings.warn(...): the whole formatted text.
        text = warnings.formatwarning("Zq9 upstream said\nsecond line", UserWarning,
                                      "/srv/venv/lib/python3.11/site-packages/google/genai/_common.py",
                                      707)
        warnings_logger.warning(text)
    finally:
        warnings_logger.removeHandler(handler)
    raw = stream.getvalue()
    assert raw.count("\n") == 1 and "Zq9" not in raw and "second line" not in raw
    entry = json.loads(raw)
    assert entry["message"] == "library warning"
    assert entry["warning"] == "UserWarning"
    assert entry["source"] == "google.genai._common:707"
    assert entry["severity"] == "WARNING"


WARNINGS_PROBE = """
import sys, warnings
sys.path.insert(0, sys.argv[1])
import main  # the staged chat function: its own log.configure, as deployed
from google.genai import types
warnings.warn("line1\\nSECRET-CANARY-1 quoted upstream text", UserWarning)
types.FinishReason("SECRET-CANARY-2\\nfrom upstream")  # google-genai warns, quoting the value
warnings.warn_explicit("SECRET-CANARY-3 %s %(x)s", RuntimeWarning,
                       "/srv/lib/python3.11/site-packages/google/genai/models.py", 42)
print("probe done", flush=True)
"""


def test_library_warnings_are_one_json_line_each_without_their_text(tmp_path):
    source = stage("chat", tmp_path / "chat")
    env = {"APP_ENV": "development", "FIREBASE_PROJECT_ID": "demo-jette", "GEMINI_API_KEY": "x",
           "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", WARNINGS_PROBE, str(source.parent)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "SECRET-CANARY" not in result.stdout + result.stderr
    assert result.stderr == ""  # nothing raw on stderr either
    lines = result.stdout.splitlines()
    assert lines[-1] == "probe done"
    entries = [json.loads(line) for line in lines[:-1]]  # every other line is one JSON object
    found = [(e["warning"], e["source"]) for e in entries if e.get("logger") == "py.warnings"]
    assert found == [("UserWarning", "<string>:6"), ("UserWarning", "google.genai._common:707"),
                     ("RuntimeWarning", "google.genai.models:42")]
    assert all(e["message"] == "library warning" for e in entries if e["logger"] == "py.warnings")
