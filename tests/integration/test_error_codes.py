"""Every error code of openapi.yaml, produced by its real cause against running functions:
status, JSON envelope, extra headers, security headers — and never library text.
"""

from __future__ import annotations

import pytest
import requests

from tests.integration.harness import APP_ORIGIN
from tests.spec import PREFLIGHT_ALLOW_HEADERS, SECURITY_HEADERS


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    message = body["error"]["message"]
    assert message.endswith((".", "!", "?")) and len(message) < 160
    for leak in ("Traceback", "File \"", "google", "httpx", "firebase_admin", "Error:"):
        assert leak not in message
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value
    assert "X-XSS-Protection" not in response.headers
    return body


@pytest.fixture
def chat_url(functions):
    return functions.url("chat")


@pytest.fixture
def bearer(sign_in):
    return {"Authorization": f"Bearer {sign_in()}"}


def test_invalid_argument(chat_url, bearer):
    response = requests.post(chat_url, data=b'{"message": NaN}', timeout=10,
                             headers={**bearer, "Content-Type": "application/json"})
    assert_error(response, 400, "invalid_argument")


def test_unauthenticated_has_www_authenticate(chat_url):
    response = requests.post(chat_url, json={"message": "hi"}, timeout=10)
    assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_permission_denied_for_foreign_origin(chat_url, bearer):
    response = requests.post(chat_url, json={"message": "hi"}, timeout=10,
                             headers={**bearer, "Origin": "https://evil.example"})
    assert_error(response, 403, "permission_denied")
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]


def test_permission_denied_for_user_off_the_allow_list(functions, sign_in):
    url = functions.url("chat", ALLOWED_EMAILS="boss@example.com")
    token = sign_in("intruder@example.com")
    response = requests.post(url, json={"message": "hi"}, timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 403, "permission_denied")


def test_not_found(chat_url):
    assert_error(requests.get(f"{chat_url}/nope", timeout=10), 404, "not_found")


def test_method_not_allowed_lists_allow(chat_url):
    response = requests.get(chat_url, timeout=10)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST, OPTIONS"


def test_payload_too_large(chat_url, bearer):
    over = 20 * 1024 * 1024 + 1  # MAX_REQUEST_BYTES' default, and a byte more
    response = requests.post(chat_url, data=b"{" + b" " * (over - 2) + b"}", timeout=10,
                             headers={**bearer, "Content-Type": "application/json"})
    assert_error(response, 413, "payload_too_large")


def test_unsupported_media_type(chat_url, bearer):
    response = requests.post(chat_url, data="message=hi", timeout=10,
                             headers={**bearer, "Content-Type": "application/x-www-form-urlencoded"})
    assert_error(response, 415, "unsupported_media_type")


def test_blocked_prompt(chat_url, bearer, standin):
    standin.script({"action": "block", "reason": "SAFETY"})
    response = requests.post(chat_url, json={"message": "hi"}, headers=bearer, timeout=10)
    assert_error(response, 422, "blocked")


def test_blocked_stream_before_any_text_is_plain_json(chat_url, bearer, standin):
    standin.script({"action": "safety_stop", "chunks": []})
    response = requests.post(chat_url, json={"message": "hi"}, timeout=10,
                             headers={**bearer, "Accept": "text/event-stream"})
    assert_error(response, 422, "blocked")


def test_upstream_error_after_retries(chat_url, bearer, standin):
    standin.script(*[{"action": "error", "status": 500}] * 3)
    response = requests.post(chat_url, json={"message": "hi"}, headers=bearer, timeout=20)
    assert_error(response, 502, "upstream_error")
    assert len(standin.requests()) == 3


def test_upstream_without_candidates_is_upstream_error(chat_url, bearer, standin):
    standin.script({"action": "empty"})
    response = requests.post(chat_url, json={"message": "hi"}, headers=bearer, timeout=10)
    assert_error(response, 502, "upstream_error")


def test_upstream_quota_is_unavailable_with_retry_after(chat_url, bearer, standin):
    standin.script(*[{"action": "error", "status": 429, "retry_delay": "17s"}] * 3)
    response = requests.post(chat_url, json={"message": "hi"}, headers=bearer, timeout=20)
    assert_error(response, 503, "unavailable")
    assert response.headers["Retry-After"] == "17"


def test_kill_switch_is_unavailable_for_everyone(functions, bearer, standin):
    url = functions.url("chat", CHAT_ENABLED="false")
    response = requests.post(url, json={"message": "hi"}, headers=bearer, timeout=10)
    assert_error(response, 503, "unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert standin.requests() == []


def test_timeout_when_upstream_hangs(functions, bearer, standin):
    url = functions.url("chat", GEMINI_TIMEOUT_S="2")
    standin.script({"action": "hang", "seconds": 8})
    response = requests.post(url, json={"message": "hi"}, headers=bearer, timeout=20)
    assert_error(response, 504, "timeout")


def test_timeout_mid_stream_is_an_error_event(functions, bearer, standin):
    url = functions.url("chat", GEMINI_TIMEOUT_S="2")
    standin.script({"action": "hang", "seconds": 8, "after_chunks": 1})
    response = requests.post(url, json={"message": "hi"}, timeout=20,
                             headers={**bearer, "Accept": "text/event-stream"})
    assert response.status_code == 200
    assert response.text.rstrip().endswith('"code": "timeout", "message": "The model took too long to answer."}}')


def test_preflight_from_allowed_origin(chat_url):
    response = requests.options(chat_url, timeout=10, headers={
        "Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert response.headers["Access-Control-Allow-Headers"] == PREFLIGHT_ALLOW_HEADERS
    assert response.headers["Access-Control-Max-Age"] == "600"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value
