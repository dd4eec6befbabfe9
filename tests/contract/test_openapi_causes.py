"""The answers generated requests cannot reach, each from its real cause, held to openapi.yaml:
CORS, 404 and 405, a body too large, too slow or of another type, the rate limits, and every
way Gemini (the stand-in) can fail, before the stream began and after."""

from __future__ import annotations

import pytest
import requests

from tests.contract.conftest import GENEROUS
from tests.contract.openapi_spec import SPEC, conforms, conforms_to, event_names, function_of
from tests.integration.fuzz_http import exchange, request_bytes
from tests.integration.harness import APP_ORIGIN

CHAT = "/api/chat"
SSE = {"Accept": "text/event-stream"}
HI = {"message": "hi"}


@pytest.fixture(scope="module")
def tight(functions):
    """A chat process that gives up soon: 2 requests a minute, 2 s for Gemini, 1 s for a body."""
    return functions.url("chat", K_REVISION="contract-tight", RATE_LIMITS="2/minute",
                         GEMINI_TIMEOUT_S="2", REQUEST_BODY_TIMEOUT_S="1")


def chat(url: str, token: str, body: dict = HI, **headers: str) -> requests.Response:
    response = requests.post(url, json=body, timeout=30,
                             headers={"Authorization": f"Bearer {token}", **headers})
    conforms(CHAT, "POST", response)
    return response


def test_cors_as_the_spec_says(deployed):
    url = deployed.url["chat"]
    allowed = chat(url, deployed.token, Origin=APP_ORIGIN)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert chat(url, deployed.token, Origin="https://evil.example").status_code == 403
    for path in ("/api/chat", "/api/auth", "/api/auth/revoke"):
        preflight = requests.options(deployed.url[function_of(path)] + path, timeout=10, headers={
            "Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST"})
        conforms(path, "OPTIONS", preflight)
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Max-Age"] == "600"


def test_unknown_paths_and_methods_as_the_spec_says(deployed):
    for function, url in deployed.url.items():
        missing = requests.get(url + "/api/nothing", timeout=10)
        conforms_to("NotFound", missing.status_code, missing.headers, missing.content)
    for path, item in SPEC["paths"].items():
        for method in ("PUT", "OPTIONS"):
            if method.lower() not in item:  # health has no preflight
                refused = requests.request(method, deployed.url[function_of(path)] + path,
                                           timeout=10)
                conforms_to("MethodNotAllowed", refused.status_code, refused.headers,
                            refused.content)


def test_bodies_too_large_or_of_another_type(deployed):
    url, bearer = deployed.url["chat"], deployed.bearer
    too_large = requests.post(url, data=b"{" + b" " * (20 << 20) + b"}", timeout=30,
                              headers={**bearer, "Content-Type": "application/json"})
    conforms(CHAT, "POST", too_large)
    assert too_large.status_code == 413
    form = requests.post(url, data="message=hi", timeout=10, headers={
        **bearer, "Content-Type": "application/x-www-form-urlencoded"})
    conforms(CHAT, "POST", form)
    assert form.status_code == 415


def test_a_body_too_slow(tight, sign_in):
    head = request_bytes("POST", "/", [("Authorization", f"Bearer {sign_in()}"),
                                       ("Content-Type", "application/json"),
                                       ("Content-Length", "100")], b'{"message": ')
    reply = exchange(tight, head, "POST", timeout=10)  # then nothing: the server gives up
    conforms_to("RequestTimeout", reply.status, reply.headers, reply.body)


def test_rate_limited(tight, sign_in):
    token = sign_in()
    statuses = [chat(tight, token).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_quota_exceeded(functions, sign_in):
    url = functions.url("chat", K_REVISION="contract", **{**GENEROUS, "DAILY_TOKEN_BUDGET": "1"})
    token = sign_in()
    answers = [chat(url, token) for _ in range(2)]  # the first one spends the day's budget
    assert answers[0].status_code == 200
    assert answers[1].json()["error"]["code"] == "quota_exceeded"


@pytest.mark.parametrize("steps, status, accept", [
    ([{"action": "block", "reason": "SAFETY"}], 422, {}),
    ([{"action": "safety_stop", "chunks": []}], 422, SSE),
    ([{"action": "error", "status": 500}] * 3, 502, {}),
    ([{"action": "empty"}], 502, SSE),
    ([{"action": "error", "status": 429, "retry_delay": "17s"}] * 3, 503, {}),
], ids=["blocked", "blocked-before-the-stream", "upstream-error", "empty", "gemini-quota"])
def test_gemini_failures_before_the_answer(deployed, standin, steps, status, accept):
    standin.script(*steps)
    assert chat(deployed.url["chat"], deployed.token, **accept).status_code == status


@pytest.mark.parametrize("step, ending", [
    ({"action": "drop", "after_chunks": 2}, "error"),
    ({"action": "safety_stop", "chunks": ["Part one", " part two"]}, "done"),
], ids=["dropped", "cut-by-safety"])
def test_gemini_failures_in_the_stream(deployed, standin, step, ending):
    standin.script(step)
    response = chat(deployed.url["chat"], deployed.token, {"message": "one two three four"}, **SSE)
    assert response.status_code == 200 and event_names(response.text)[-1] == ending


def test_gemini_too_slow(tight, sign_in, standin):
    token = sign_in()
    standin.script({"action": "hang", "seconds": 8})
    assert chat(tight, token).status_code == 504
    standin.script({"action": "hang", "seconds": 8, "after_chunks": 1})
    stream = chat(tight, token, {"message": "one two three"}, **SSE)
    assert event_names(stream.text)[-1] == "error" and '"timeout"' in stream.text
