"""Production-mode Firebase ID token checks on the staged `auth` (and `chat`) function, in-process.

Tokens are real RS256 JWTs signed by an RSA key made at test time, published under a self-signed
certificate. Only the HTTP GET of Google's x509 certificate list is replaced (the transport call
of firebase-admin's CertificateFetchRequest): google-auth's status check and JSON parsing, its
signature/iat/exp checks and firebase-admin's aud/iss/alg/kid checks all run unchanged.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from core.config import ENV_VARIABLES
from firebase_admin import _token_gen
from stage_function import stage

from tests.id_tokens import (CERT_URL, EMAIL, NAME, PICTURE, PROJECT, UID, CertEndpoint, SigningKey,
                             b64url, emulator_token, encode_jwt, firebase_claims, hs256, id_token,
                             new_signing_key, rs256)

from .inprocess import import_staged


SUBJECT = re.compile(r"^(ip|uid):[0-9a-f]{24}$")
# Every variable the functions read (plus the framework's legacy switches): none is inherited.
APP_VARS = ENV_VARIABLES | {"ENTRY_POINT", "LOG_EXECUTION_ID", "GOOGLE_APPLICATION_CREDENTIALS"}


@dataclass
class Function:
    client: object
    log_stream: io.StringIO

    def whoami(self, authorization: str | None):
        return self.client.get("/api/auth", headers=_auth_header(authorization))

    def log_entries(self) -> list[dict]:
        return [json.loads(line) for line in self.log_stream.getvalue().splitlines()]

    def events(self, name: str) -> list[dict]:
        return [entry for entry in self.log_entries() if entry.get("event") == name]

    def assert_logs_never_contain(self, *values: str | None) -> None:
        text = self.log_stream.getvalue()
        for value in filter(None, values):
            assert value not in text, "a log line leaked a token, e-mail or uid"


def _auth_header(authorization: str | None) -> dict:
    return {} if authorization is None else {"Authorization": authorization}


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("staged")
    return {name: stage(name, root / name) for name in ("auth", "chat")}


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return new_signing_key("kid-" + secrets.token_hex(10))


@pytest.fixture(scope="module")
def other_key(signing_key) -> SigningKey:
    return new_signing_key(signing_key.kid)


@pytest.fixture
def certs(monkeypatch, signing_key) -> CertEndpoint:
    endpoint = CertEndpoint(signing_key)
    monkeypatch.setattr(_token_gen.CertificateFetchRequest, "__call__",
                        lambda self, url, **kw: endpoint(url, **kw))
    return endpoint


@pytest.fixture
def load(monkeypatch, staged, certs, ambient_credentials):
    """load(target, **env) -> Function, imported under a secure production environment."""
    for name in APP_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(48))
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://app.example.web.app")
    monkeypatch.setenv("FIREBASE_PROJECT_ID", PROJECT)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(ambient_credentials))
    # These tests are about tokens: keep the rate-limit counters in memory, not in (real)
    # Firestore, which is unreachable here (tests/integration/test_limits.py covers it).
    monkeypatch.setenv("RATE_LIMIT_STORAGE", "memory://")

    def load_function(target: str = "auth", **env: str) -> Function:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert "FIREBASE_AUTH_EMULATOR_HOST" not in os.environ
        client, stream = import_staged(monkeypatch, target, staged[target])
        return Function(client, stream)

    return load_function


def assert_error(response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code and body["error"]["message"].strip()


def test_valid_token_returns_the_verified_identity(load, signing_key, certs):
    function = load()
    token = id_token(signing_key)
    response = function.whoami(f"Bearer {token}")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body.pop("quota")["tokens"]["remaining"] > 0
    assert body.pop("chat")["models"] == [{"id": "gemini-2.5-flash", "weight": 1}]
    assert body == {"uid": UID, "email": EMAIL, "emailVerified": True, "name": NAME,
                    "picture": PICTURE, "provider": "google.com", "allowed": True}
    assert certs.requested and set(certs.requested) == {("GET", CERT_URL)}
    [success] = function.events("auth_success")
    assert success["subject"].startswith("uid:") and SUBJECT.match(success["subject"])
    function.assert_logs_never_contain(token, token.split(".")[1], EMAIL, UID)


def test_token_issued_within_the_clock_skew_is_accepted(load, signing_key):
    now = int(time.time())
    response = load().whoami(f"Bearer {id_token(signing_key, iat=now + 5, exp=now + 3605)}")
    assert response.status_code == 200
    assert response.get_json()["uid"] == UID


def _tampered(key: SigningKey) -> str:
    header, _, signature = id_token(key).split(".")
    claims = firebase_claims(sub="someone-else", user_id="someone-else")
    forged = b64url(json.dumps(claims).encode())
    return f"{header}.{forged}.{signature}"


def _past() -> dict:
    now = int(time.time())
    return {"iat": now - 7200, "exp": now - 3600, "auth_time": now - 7300}


def _future() -> dict:
    now = int(time.time())
    return {"iat": now + 120, "exp": now + 3720}


NESTING = 1200  # deeper than Python's recursion limit; the token stays under 4096 chars


def _nested_segment_token(where: str, depth: int) -> str:
    """An unsigned JWT whose header or payload nests `depth` JSON arrays (json.loads recurses)."""
    nested = b64url(("[" * depth + "]" * depth).encode())
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(firebase_claims()).encode())
    token = f"{nested}.{payload}." if where == "header" else f"{header}.{nested}."
    assert len(token) < 4096, "the token must reach the parser, not the length check"
    return token


# name -> (Authorization header from (key, other_key), acceptable logged reasons)
REJECTED = {
    "wrong_audience": (lambda k, o: f"Bearer {id_token(k, aud='other-project')}", {"invalid"}),
    "wrong_issuer": (lambda k, o: "Bearer " + id_token(
        k, iss="https://securetoken.google.com/other-project"), {"invalid"}),
    "expired": (lambda k, o: f"Bearer {id_token(k, **_past())}", {"expired"}),
    "issued_in_future": (lambda k, o: f"Bearer {id_token(k, **_future())}",
                         {"invalid", "issued_in_future"}),
    "auth_time_in_future": (lambda k, o: "Bearer " + id_token(
        k, auth_time=int(time.time()) + 120), {"auth_time"}),
    "alg_none_with_kid": (lambda k, o: "Bearer " + encode_jwt(
        {"alg": "none", "kid": k.kid, "typ": "JWT"}, firebase_claims()), {"invalid"}),
    "emulator_unsigned_token": (lambda k, o: f"Bearer {emulator_token()}", {"invalid"}),
    "hs256_with_shared_secret": (lambda k, o: "Bearer " + encode_jwt(
        {"alg": "HS256", "typ": "JWT"}, firebase_claims(), hs256(b"some-shared-secret")),
        {"invalid"}),
    "hs256_keyed_with_public_cert": (lambda k, o: "Bearer " + encode_jwt(
        {"alg": "HS256", "kid": k.kid, "typ": "JWT"}, firebase_claims(),
        hs256(k.cert_pem.encode())), {"invalid"}),
    "unknown_kid": (lambda k, o: "Bearer " + encode_jwt(
        {"alg": "RS256", "kid": "kid-unknown", "typ": "JWT"}, firebase_claims(),
        rs256(k.private)), {"invalid"}),
    "tampered_payload": (lambda k, o: f"Bearer {_tampered(k)}", {"invalid"}),
    "other_key_under_right_kid": (lambda k, o: f"Bearer {id_token(o)}", {"invalid"}),
    "garbage": (lambda k, o: "Bearer not-a-jwt-" + secrets.token_hex(8), {"invalid"}),
    # Parse failures outside firebase-admin's own error types (a 500 before issue #8).
    "deeply_nested_header": (lambda k, o: "Bearer " + _nested_segment_token(
        "header", NESTING), {"invalid"}),
    "deeply_nested_payload": (lambda k, o: "Bearer " + _nested_segment_token(
        "payload", NESTING), {"invalid"}),
    "kid_not_a_string": (lambda k, o: "Bearer " + encode_jwt(
        {"alg": "RS256", "kid": [k.kid], "typ": "JWT"}, firebase_claims(), rs256(k.private)),
        {"invalid"}),
    "legacy_custom_token_shape": (lambda k, o: "Bearer " + encode_jwt(
        {"alg": "HS256", "typ": "JWT"}, {**firebase_claims(), "v": 0, "d": 7}), {"invalid"}),
    "oversized": (lambda k, o: f"Bearer {id_token(k, name='x' * 5000)}", {"malformed"}),
    "empty_bearer": (lambda k, o: "Bearer ", {"malformed"}),
    "basic_scheme": (lambda k, o: "Basic dXNlcjpwYXNzd29yZA==", {"malformed"}),
    "no_header": (lambda k, o: None, {"missing"}),
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_bad_or_missing_token_is_401_with_a_logged_pseudonymous_failure(load, signing_key,
                                                                       other_key, case):
    make_header, reasons = REJECTED[case]
    authorization = make_header(signing_key, other_key)
    function = load()
    response = function.whoami(authorization)
    assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    credential = (authorization or "").partition(" ")[2].strip()
    text = response.get_data(as_text=True)
    assert EMAIL not in text and UID not in text and (not credential or credential not in text)
    [failure] = function.events("auth_failure")
    assert failure["reason"] in reasons
    assert failure["subject"].startswith("ip:") and SUBJECT.match(failure["subject"])
    function.assert_logs_never_contain(credential, *credential.split(".")[:2], EMAIL, UID)


def test_certificate_outage_is_503_not_a_sign_in_failure(load, signing_key, certs):
    certs.status = 500
    response = load().whoami(f"Bearer {id_token(signing_key)}")
    assert_error(response, 503, "unavailable")
    assert int(response.headers["Retry-After"]) > 0


ALLOW_LISTS = [
    ({"ALLOWED_EMAILS": "ok@example.com"}, "someone@example.com", True, 403),
    ({"ALLOWED_EMAILS": "ok@example.com"}, "ok@example.com", False, 403),
    ({"ALLOWED_EMAILS": "ok@example.com"}, "ok@example.com", True, 200),
    ({"ALLOWED_EMAILS": "ok@example.com"}, None, True, 403),
    ({"ALLOWED_DOMAINS": "example.com"}, "anyone@example.com", True, 200),
    ({"ALLOWED_DOMAINS": "example.com"}, "anyone@example.com", False, 403),
    ({"ALLOWED_DOMAINS": "example.com"}, "anyone@example.org", True, 403),
    ({"ALLOWED_DOMAINS": "example.com"}, "anyone@notexample.com", True, 403),
    ({"ALLOWED_DOMAINS": "example.com"}, "anyone@example.com.evil.test", True, 403),
    # email_verified counts only when it is JSON true.
    ({"ALLOWED_EMAILS": "ok@example.com"}, "ok@example.com", "false", 403),
    ({"ALLOWED_EMAILS": "ok@example.com"}, "ok@example.com", "true", 403),
    ({"ALLOWED_DOMAINS": "example.com"}, "anyone@example.com", 1, 403),
    # ASCII e-mails match exactly after lower-casing; a non-ASCII one never matches.
    ({"ALLOWED_EMAILS": "ok@example.com"}, "OK@Example.COM", True, 200),
    ({"ALLOWED_EMAILS": "kate@example.com"}, "\u212aate@example.com", True, 403),  # Kelvin sign
    ({"ALLOWED_DOMAINS": "kelvin.example"}, "anyone@\u212aelvin.example", True, 403),
    ({"ALLOWED_DOMAINS": "example.com"}, "\u0131@example.com", True, 403),  # dotless i
]


@pytest.mark.parametrize("env, email, verified, status", ALLOW_LISTS)
def test_allow_lists_admit_only_verified_listed_accounts(load, signing_key, env, email,
                                                         verified, status):
    function = load(**env)
    token = id_token(signing_key, email=email, verified=verified)
    response = function.whoami(f"Bearer {token}")
    if status == 200:
        assert response.status_code == 200
        assert response.get_json()["email"] == email
        assert response.get_json()["emailVerified"] is True
    else:
        assert_error(response, 403, "permission_denied")
        assert (email or UID) not in response.get_data(as_text=True)
        [denied] = function.events("auth_denied")
        assert denied["subject"].startswith("uid:") and SUBJECT.match(denied["subject"])
    function.assert_logs_never_contain(token, email, UID)


@pytest.mark.parametrize("authorization", ["none", "emulator"])
def test_chat_refuses_unauthenticated_callers_before_calling_gemini(load, authorization):
    # Gemini would be the discard port: a call would fail loudly with 502, not 401.
    function = load("chat", GEMINI_API_KEY="x", GEMINI_BASE_URL="http://127.0.0.1:9")
    header = f"Bearer {emulator_token()}" if authorization == "emulator" else None
    response = function.client.post("/api/chat", json={"message": "hello there"},
                                    headers=_auth_header(header))
    assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    [failure] = function.events("auth_failure")
    assert failure["reason"] == ("invalid" if header else "missing")
    assert SUBJECT.match(failure["subject"])
    function.assert_logs_never_contain(header and header[7:], "hello there", EMAIL, UID)


@pytest.mark.parametrize("claim", ["true", 1, "1", None])
def test_email_verified_counts_only_when_it_is_json_true(load, signing_key, claim):
    body = load().whoami(f"Bearer {id_token(signing_key, verified=claim)}").get_json()
    assert body["email"] == EMAIL and body["emailVerified"] is False


def _provider_token(key: SigningKey, provider: str | None) -> str:
    firebase = {"identities": {}} if provider is None else {"identities": {},
                                                            "sign_in_provider": provider}
    return id_token(key, firebase=firebase)


PROVIDERS = [
    ({}, "anonymous", 403), ({}, "custom", 403), ({}, "password", 403), ({}, "phone", 403),
    ({}, None, 403), ({}, "Google.com", 403), ({}, "google.com.evil", 403),
    ({}, "oidc.x" + "y" * 300, 403),
    ({}, "google.com", 200),
    ({"ALLOWED_SIGN_IN_PROVIDERS": "google.com,password"}, "password", 200),
    ({"ALLOWED_SIGN_IN_PROVIDERS": "password"}, "google.com", 403),
]


@pytest.mark.parametrize("env, provider, status", PROVIDERS)
def test_only_listed_sign_in_providers_are_admitted(load, signing_key, env, provider, status):
    function = load(**env)
    token = _provider_token(signing_key, provider)
    response = function.whoami(f"Bearer {token}")
    if status == 200:
        assert response.status_code == 200 and response.get_json()["provider"] == provider
        assert not function.events("auth_denied")
    else:
        assert_error(response, 403, "permission_denied")
        assert "sign-in method" in response.get_json()["error"]["message"]
        [denied] = function.events("auth_denied")
        assert denied["reason"] == "sign_in_provider" and SUBJECT.match(denied["subject"])
        assert len(denied["provider"]) <= 40
        assert not function.events("auth_success")
    long_tail = provider[40:] if provider and len(provider) > 40 else None
    function.assert_logs_never_contain(token, EMAIL, UID, long_tail)


def test_chat_refuses_an_anonymous_firebase_user_before_calling_gemini(load, signing_key):
    function = load("chat", GEMINI_API_KEY="x", GEMINI_BASE_URL="http://127.0.0.1:9")
    token = _provider_token(signing_key, "anonymous")
    response = function.client.post("/api/chat", json={"message": "hello there"},
                                    headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 403, "permission_denied")
    [denied] = function.events("auth_denied")
    assert (denied["reason"], denied["provider"]) == ("sign_in_provider", "anonymous")
    function.assert_logs_never_contain(token, "hello there", EMAIL, UID)


TOKEN_URL = "https://oauth2.googleapis.com/token"
IDENTITY_TOOLKIT = "https://identitytoolkit.googleapis.com/"


class GoogleApis:
    """Google's token and Identity Toolkit endpoints as firebase-admin's `requests` sees them.

    `outage`: None (answers), "down" (no connection at all), "identity_toolkit_down" (the token
    endpoint answers, Identity Toolkit refuses connections), "identity_toolkit_503", or
    "user_deleted" (the user no longer exists).
    """

    def __init__(self, outage: str | None = None):
        self.outage, self.calls = outage, []

    def send(self, adapter, request, **_):
        import requests

        self.calls.append((request.method, request.url.split("?")[0]))
        toolkit = request.url.startswith(IDENTITY_TOOLKIT)
        if self.outage == "down" or (self.outage == "identity_toolkit_down" and toolkit):
            raise requests.exceptions.ConnectionError("connection refused")
        if request.url.startswith(TOKEN_URL):
            # Short-lived (under google-auth's refresh margin): every call fetches a new one, so
            # no test depends on a token cached by an earlier one.
            return self._answer(request, 200, {"access_token": "ya29.test", "expires_in": 60,
                                               "token_type": "Bearer"})
        if toolkit and self.outage == "identity_toolkit_503":
            return self._answer(request, 503, {"error": {"code": 503, "message": "UNAVAILABLE",
                                                         "status": "UNAVAILABLE"}})
        if toolkit and self.outage == "user_deleted":
            return self._answer(request, 400, {"error": {"code": 400,
                                                         "message": "USER_NOT_FOUND"}})
        if toolkit and request.url.endswith("accounts:update"):
            return self._answer(request, 200, {"localId": UID})
        if toolkit and request.url.endswith("accounts:lookup"):
            return self._answer(request, 200, {"users": [{"localId": UID, "email": EMAIL}]})
        return self._answer(request, 404, {"error": {"code": 404, "message": "NOT_FOUND"}})

    @staticmethod
    def _answer(request, status: int, payload: dict):
        import requests

        response = requests.Response()
        response.status_code, response.request, response.url = status, request, request.url
        response.headers["Content-Type"] = "application/json"
        response._content = json.dumps(payload).encode()
        return response


@pytest.fixture
def google_apis(monkeypatch):
    """Replaces only the network: firebase-admin, google-auth and requests run unchanged."""
    from requests.adapters import HTTPAdapter

    apis = GoogleApis()
    monkeypatch.setattr(HTTPAdapter, "send", lambda adapter, request, **kw: apis.send(
        adapter, request, **kw))
    return apis


def test_revoke_signs_out_everywhere_through_identity_toolkit(load, signing_key, google_apis):
    function = load()
    response = function.client.post("/api/auth/revoke",
                                     headers={"Authorization": f"Bearer {id_token(signing_key)}"})
    assert response.status_code == 204, response.get_data(as_text=True)
    assert any(url.endswith("accounts:update") for _, url in google_apis.calls)
    assert function.events("sessions_revoked")


@pytest.mark.parametrize("outage", ["down", "identity_toolkit_down", "identity_toolkit_503"])
def test_revoke_while_google_is_unreachable_is_503(load, signing_key, google_apis, outage):
    google_apis.outage = outage
    function = load()
    token = id_token(signing_key)
    response = function.client.post("/api/auth/revoke",
                                    headers={"Authorization": f"Bearer {token}"})
    assert_error(response, 503, "unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert google_apis.calls, "the revoke went to the (unreachable) network"
    assert not function.events("sessions_revoked")
    assert not [e for e in function.log_entries() if e.get("severity") == "ERROR"
                and "stack_trace" in e]
    function.assert_logs_never_contain(token, EMAIL, UID)


@pytest.mark.parametrize("outage", ["down", "identity_toolkit_down", "identity_toolkit_503"])
def test_revocation_check_while_google_is_unreachable_is_503(load, signing_key, google_apis,
                                                             outage):
    google_apis.outage = outage
    function = load(CHECK_REVOKED="true")
    token = id_token(signing_key)
    response = function.whoami(f"Bearer {token}")
    assert_error(response, 503, "unavailable")
    assert google_apis.calls
    function.assert_logs_never_contain(token, EMAIL, UID)


def test_revoke_for_a_user_deleted_meanwhile_is_401(load, signing_key, google_apis):
    google_apis.outage = "user_deleted"
    function = load()
    response = function.client.post("/api/auth/revoke",
                                    headers={"Authorization": f"Bearer {id_token(signing_key)}"})
    assert_error(response, 401, "unauthenticated")
    assert [e["reason"] for e in function.events("auth_failure")] == ["user_not_found"]
    assert not function.events("sessions_revoked")
