"""The log filters of the alerts (scripts/deploy/alerts.txt, the log-based metrics of `./deploy.sh
monitoring`) against what the code really logs: each event is produced by the code that logs it
in production, its JSON line is turned into the entry Cloud Logging stores, and exactly the
filters meant for it match. A renamed event or field breaks this test, not the alert."""

from __future__ import annotations

import operator
import pathlib
import re

import flask
import pytest
from google.genai import errors as genai_errors
from upstream_errors import upstream_failure

from core import log
from core.auth import authenticate
from core.config import load_config
from core.errors import ApiError
from core.http import Endpoint
from core.quota import Quota

ALERTS = pathlib.Path(__file__).resolve().parents[3] / "scripts" / "deploy" / "alerts.txt"
FILTERS = {row[0]: row[5] for row in (line.split("|", 5) for line in ALERTS.read_text()
                                      .splitlines() if line and not line.startswith("#"))}
DEV = {"APP_ENV": "development", "FIREBASE_PROJECT_ID": "demo-test"}

# The subset of the Logging query language the filters may use: terms joined by AND, each
# FIELD="text", FIELD=("text" OR "text") or FIELD >= number (any other term fails the test).
TERM = re.compile(r'(?P<field>[a-zA-Z_][\w.]*)(?P<op>>=|<=|=|>|<)'
                  r'(?P<value>"[^"]*"|\("[^"]*"(?: OR "[^"]*")*\)|-?[0-9]+)')
COMPARE = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


def matches(query: str, entry: dict) -> bool:
    for term in query.split(" AND "):
        found = TERM.fullmatch(term)
        assert found, f"a term this test cannot read: {term!r}"
        value = entry
        for key in found["field"].split("."):
            value = value.get(key) if isinstance(value, dict) else None
        wanted, op = found["value"], found["op"]
        if wanted.startswith(("(", '"')):
            assert op == "=", f"only = compares text: {term!r}"
            if value not in re.findall(r'"([^"]*)"', wanted):
                return False
        elif not (isinstance(value, (int, float)) and COMPARE.get(op, operator.eq)(
                value, int(wanted))):
            return False
    return True


def stored(line: dict, service: str) -> dict:
    """A JSON line of a function's stdout as Cloud Logging stores it: on Cloud Run (functions
    included) `severity` and the logging.googleapis.com/* keys become the entry's own fields and
    the rest is its jsonPayload (cloud.google.com/logging/docs/structured-logging); the resource
    is the function's revision, named after the function."""
    payload = {key: value for key, value in line.items()
               if key != "severity" and not key.startswith("logging.googleapis.com/")}
    return {"resource": {"type": "cloud_run_revision", "labels": {"service_name": service}},
            "severity": line["severity"], "jsonPayload": payload}


@pytest.fixture
def request_of():
    """A request of `path` with its log context bound, as core.http binds it."""
    contexts = []

    def make(path="/", **headers):
        context = flask.Flask("probe").test_request_context(path, headers=headers)
        context.push()
        contexts.append((context, log.bind_request(headers, None, "ip:0000")))
        return flask.request

    yield make
    for context, token in reversed(contexts):
        log.reset_request(token)
        context.pop()


def _limit_refused(request_of):
    quota = Quota(load_config("chat", {**DEV, "RATE_LIMITS": "1/minute"}))
    quota.settle_chat(quota.admit_chat("uid:a", 0), 0)
    with pytest.raises(ApiError):
        quota.admit_chat("uid:a", 0)


def _auth_failure(request_of):
    with pytest.raises(ApiError):
        authenticate(request_of(), load_config("auth", DEV), allow_anonymous=False)


def _limit_store_down(request_of):
    class Down:
        def incr_many(self, ops):
            raise ConnectionError("refused")

        add_many = incr_many

    quota = Quota(load_config("chat", DEV))
    quota._store = Down()
    with pytest.raises(ApiError):
        quota.admit_chat("uid:a", 100)


def _upstream_error(request_of):
    upstream_failure(genai_errors.ServerError(503, {"error": {"code": 503}}))


def _endpoint(request_of, fail: bool, **headers):
    endpoint = Endpoint(load_config("health", {**DEV, "ALLOWED_ORIGINS": "https://app.example"}))

    @endpoint.route("/x", methods=("GET",))
    def answer(request):
        if fail:
            raise RuntimeError("a bug")
        return flask.Response("ok")

    endpoint.handle(request_of("/x", **headers))


# What each piece of code logs, the function that runs it, and the alerts it must count.
CASES = {
    "a refusal by a rate limit": (_limit_refused, "chat", {"jette_limit_refused"}),
    "a request without an ID token": (_auth_failure, "auth", {"jette_auth_failure"}),
    "the rate-limit store down": (_limit_store_down, "chat", {"jette_limit_store_down"}),
    "Gemini overloaded": (_upstream_error, "chat", {"jette_upstream_error"}),
    "a bug: 500": (lambda r: _endpoint(r, fail=True), "health", {"jette_5xx"}),
    "an answer: 200": (lambda r: _endpoint(r, fail=False), "health", set()),
    "a foreign origin: 403": (lambda r: _endpoint(r, fail=False, Origin="https://evil.example"),
                              "health", set()),
}


@pytest.mark.parametrize("case", list(CASES))
def test_exactly_the_alerts_meant_for_an_event_count_it(captured, request_of, case):
    produce, service, expected = CASES[case]
    produce(request_of)
    lines = captured()
    assert lines, "the code logged nothing: the check below would prove nothing"
    counted = {metric for line in lines for metric, query in FILTERS.items()
               if matches(query, stored(line, service))}
    assert counted == expected, lines


def test_every_alert_is_exercised_and_only_our_functions_are_counted(captured, request_of):
    assert set(FILTERS) == set().union(*(expected for _, _, expected in CASES.values()))
    _upstream_error(request_of)
    [line] = captured()
    assert [m for m, q in FILTERS.items() if matches(q, stored(line, "chat"))]
    assert not [m for m, q in FILTERS.items() if matches(q, stored(line, "another-service"))]


def test_the_reader_of_filters_refuses_what_it_does_not_know():
    with pytest.raises(AssertionError, match="a term this test cannot read"):
        matches('jsonPayload.event:"limit"', {})
    assert not matches('jsonPayload.status>=500', {"jsonPayload": {"status": "500"}})
    assert matches('a.b=("x" OR "y") AND c>=2', {"a": {"b": "y"}, "c": 2})
