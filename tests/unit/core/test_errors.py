"""core.errors: openapi.yaml's code -> status table, its extra headers, and the one envelope."""

from __future__ import annotations

import json

import pytest

from core.errors import ApiError, error_response, json_response

# The table of openapi.yaml, written out here on purpose (not imported from the code under test).
SPEC_STATUS = {
    "invalid_argument": 400, "unauthenticated": 401, "permission_denied": 403,
    "not_found": 404, "method_not_allowed": 405, "request_timeout": 408,
    "payload_too_large": 413,
    "unsupported_media_type": 415, "blocked": 422, "rate_limited": 429, "quota_exceeded": 429,
    "internal": 500, "upstream_error": 502, "unavailable": 503, "timeout": 504,
}
EXTRA_HEADERS = ("WWW-Authenticate", "Allow", "Retry-After")
RETRY_CODES = ("rate_limited", "quota_exceeded", "unavailable")


@pytest.mark.parametrize(("code", "status"), sorted(SPEC_STATUS.items()))
def test_code_maps_to_its_spec_status(code, status):
    error = ApiError(code)
    assert error.status == status
    response = error_response(error)
    assert response.status_code == status
    assert response.mimetype == "application/json"


@pytest.mark.parametrize("code", sorted(SPEC_STATUS))
def test_envelope_is_exactly_code_and_message(code):
    body = json.loads(error_response(ApiError(code)).get_data())
    assert list(body) == ["error"]
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    message = body["error"]["message"]
    assert isinstance(message, str) and message.strip() and message.endswith(".")


def test_explicit_message_replaces_the_default():
    body = json.loads(error_response(ApiError("invalid_argument", "Field x is bad.")).get_data())
    assert body == {"error": {"code": "invalid_argument", "message": "Field x is bad."}}


def test_unauthenticated_carries_www_authenticate_bearer():
    headers = error_response(ApiError("unauthenticated")).headers
    assert headers["WWW-Authenticate"] == "Bearer"
    assert "Allow" not in headers and "Retry-After" not in headers


def test_method_not_allowed_carries_allow():
    headers = error_response(ApiError("method_not_allowed", allow=("GET", "HEAD"))).headers
    assert headers["Allow"] == "GET, HEAD"
    assert "WWW-Authenticate" not in headers and "Retry-After" not in headers


@pytest.mark.parametrize("code", RETRY_CODES)
def test_retry_after_has_a_default(code):
    headers = error_response(ApiError(code)).headers
    assert int(headers["Retry-After"]) >= 1
    assert "WWW-Authenticate" not in headers and "Allow" not in headers


@pytest.mark.parametrize("code", RETRY_CODES)
def test_retry_after_explicit_value(code):
    assert error_response(ApiError(code, retry_after=7)).headers["Retry-After"] == "7"


def test_retry_after_is_a_positive_whole_number_of_seconds():
    assert ApiError("rate_limited", retry_after=2.9).headers()["Retry-After"] == "2"
    assert ApiError("rate_limited", retry_after=-5).headers()["Retry-After"] == "1"


@pytest.mark.parametrize("code", sorted(set(SPEC_STATUS) - {"unauthenticated",
                                                            "method_not_allowed", *RETRY_CODES}))
def test_no_extra_headers_elsewhere(code):
    error = ApiError(code, retry_after=9, allow=("GET",))
    assert error.headers() == {}
    headers = error_response(error).headers
    assert not any(name in headers for name in EXTRA_HEADERS)


@pytest.mark.parametrize("code", ["teapot", "", "INVALID_ARGUMENT", "bad_request"])
def test_unknown_code_raises(code):
    with pytest.raises(ValueError):
        ApiError(code)


def test_reason_defaults_to_the_code_and_is_not_in_the_body():
    assert ApiError("blocked").reason == "blocked"
    error = ApiError("blocked", reason="prompt_blocked")
    assert "prompt_blocked" not in error_response(error).get_data(as_text=True)


def test_json_response_keeps_unicode_and_status():
    response = json_response({"reply": "Grüße ✓"}, 201, {"X-Test": "1"})
    assert response.status_code == 201
    assert response.headers["X-Test"] == "1"
    assert json.loads(response.get_data()) == {"reply": "Grüße ✓"}


def test_json_response_with_a_lone_surrogate_is_valid_utf8():
    # Upstream text (a Gemini reply) can hold an unpaired surrogate; the body must still be
    # UTF-8 and the answer not a 500. It becomes U+FFFD, as a browser would show it anyway.
    response = json_response({"reply": "a\ud800b\udfffc 😀"})
    assert response.status_code == 200
    text = response.get_data().decode("utf-8")  # strict
    assert json.loads(text) == {"reply": "a\ufffdb\ufffdc 😀"}
    assert "😀" in text  # still UTF-8, not ASCII escapes
