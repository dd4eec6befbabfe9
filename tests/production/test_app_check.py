"""Production-mode App Check (APP_CHECK = off | monitor | enforce) on the staged chat and auth
functions, in-process, with real RS256 App Check tokens.

App Check tokens are signed by an RSA key made at test time; its JWKS is served by a real HTTP
server on 127.0.0.1, and firebase-admin's JWKS URL (`_AppCheckService._JWKS_URL`) points there:
PyJWKClient's fetch and cache, firebase-admin's header/aud/iss checks and PyJWT's signature and
time checks all run unchanged. ID tokens are the real RS256 ones of id_tokens.py. Each test uses
its own project id, hence a fresh firebase-admin app and App Check service (no JWKS cached by an
earlier test).
"""

from __future__ import annotations

import io
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from core.config import ENV_VARIABLES
import gemini_standin  # devtools/ (pytest pythonpath), flat like the tools import each other
from cryptography.hazmat.primitives.asymmetric import rsa
from firebase_admin import _token_gen, app_check
from jwt.algorithms import RSAAlgorithm
from stage_function import stage

from tests.id_tokens import CertEndpoint, encode_jwt, hs256, id_token, new_signing_key, rs256

from .inprocess import import_staged

APP_VARS = ENV_VARIABLES | {"ENTRY_POINT", "LOG_EXECUTION_ID", "GOOGLE_APPLICATION_CREDENTIALS"}
PROJECT_NUMBER = "123456789012"
APP_ID = f"1:{PROJECT_NUMBER}:web:0123456789abcdef"
ISSUER = f"https://firebaseappcheck.googleapis.com/{PROJECT_NUMBER}"
HEADER = "X-Firebase-AppCheck"
SUBJECT = re.compile(r"^ip:[0-9a-f]{24}$")
MESSAGE = "hello app check " + secrets.token_hex(4)


# ------------------------------------------------------------------ keys, tokens, JWKS server

@dataclass(frozen=True)
class AppCheckKey:
    kid: str
    private: rsa.RSAPrivateKey

    def jwk(self) -> dict:
        jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}


def new_key(kid: str | None = None) -> AppCheckKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return AppCheckKey(kid or "ac-" + secrets.token_hex(6), private)


def app_check_claims(project: str, **overrides) -> dict:
    """The claims of a reCAPTCHA Enterprise App Check token, as Firebase issues them."""
    now = int(time.time())
    claims = {"sub": APP_ID, "aud": [f"projects/{PROJECT_NUMBER}", f"projects/{project}"],
              "provider": "recaptcha_enterprise", "iss": ISSUER, "iat": now - 10,
              "exp": now + 3600, "jti": secrets.token_urlsafe(16)}
    claims.update(overrides)
    return claims


def app_check_token(key: AppCheckKey, project: str, header: dict | None = None, sign=None,
                    **overrides) -> str:
    header = header or {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
    return encode_jwt(header, app_check_claims(project, **overrides), sign or rs256(key.private))


class JwksServer:
    """What https://firebaseappcheck.googleapis.com/v1/jwks answers, on 127.0.0.1."""

    def __init__(self, key: AppCheckKey):
        self.keys, self.status, self.requests = [key.jwk()], 200, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.requests += 1
                ok = self.path == "/v1/jwks" and outer.status == 200
                body = json.dumps({"keys": outer.keys} if ok else {"error": "unavailable"})
                self.send_response(outer.status if self.path == "/v1/jwks" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/jwks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        self.running = True

    def stop(self) -> None:
        """Google unreachable: the port refuses connections from now on."""
        if self.running:
            self.running = False
            self.server.shutdown()
            self.server.server_close()


# ------------------------------------------------------------------ fixtures

@dataclass
class Function:
    client: object
    log_stream: io.StringIO
    project: str

    def events(self, name: str) -> list[dict]:
        return [entry for entry in map(json.loads, self.log_stream.getvalue().splitlines())
                if entry.get("event") == name]

    def assert_logs_never_contain(self, *values: str | None) -> None:
        text = self.log_stream.getvalue()
        for value in filter(None, values):
            assert value not in text, "a log line leaked a token or the message"


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("staged")
    return {name: stage(name, root / name) for name in ("auth", "chat", "health")}


@pytest.fixture(scope="module")
def id_key():
    return new_signing_key("kid-" + secrets.token_hex(10))


@pytest.fixture(scope="module")
def key() -> AppCheckKey:
    return new_key()


@pytest.fixture(scope="module")
def standin():
    server, _ = gemini_standin.serve(chunk_delay=0)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def project() -> str:
    # A project of its own per test: a fresh firebase-admin app, so a fresh App Check service.
    return "prod-ac-" + secrets.token_hex(5)


@pytest.fixture
def jwks(monkeypatch, key):
    server = JwksServer(key)
    monkeypatch.setattr(app_check._AppCheckService, "_JWKS_URL", server.url)
    yield server
    server.stop()


@pytest.fixture
def load(monkeypatch, staged, id_key, project, jwks, standin, ambient_credentials):
    """load(target, **env) -> Function, imported under a secure production environment."""
    certs = CertEndpoint(id_key)
    monkeypatch.setattr(_token_gen.CertificateFetchRequest, "__call__",
                        lambda self, url, **kw: certs(url, **kw))
    for name in APP_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(48))
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://app.example.web.app")
    monkeypatch.setenv("FIREBASE_PROJECT_ID", project)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(ambient_credentials))
    monkeypatch.setenv("RATE_LIMIT_STORAGE", "memory://")
    monkeypatch.setenv("GEMINI_API_KEY", "test-gemini-key")
    monkeypatch.setenv("GEMINI_BASE_URL", gemini_standin.base_url(standin))

    def load_function(target: str, **env: str) -> Function:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        client, stream = import_staged(monkeypatch, target, staged[target])
        return Function(client, stream, project)

    load_function.certs = certs
    return load_function


def bearer(id_key, project: str) -> str:
    return "Bearer " + id_token(id_key, aud=project, iss=f"https://securetoken.google.com/{project}")


def call(function: Function, target: str, authorization: str | None, app_token: str | None):
    headers = {} if authorization is None else {"Authorization": authorization}
    if app_token is not None:
        headers[HEADER] = app_token
    if target == "chat":
        return function.client.post("/api/chat", json={"message": MESSAGE}, headers=headers)
    return function.client.get("/api/auth", headers=headers)


def assert_served(response, target: str) -> None:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body["reply"], str) if target == "chat" else body["allowed"] is True


def assert_error(response, status: int, code: str, message: str | None = None) -> None:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    if message:
        assert body["error"]["message"] == message


# name -> (token from (key, project), logged reason)
BAD_TOKENS = {
    "missing": (lambda k, p: None, "missing"),
    "empty": (lambda k, p: "", "missing"),
    "garbage": (lambda k, p: "not-a-jwt-" + secrets.token_hex(8), "invalid"),
    "expired": (lambda k, p: app_check_token(k, p, iat=int(time.time()) - 7200,
                                             exp=int(time.time()) - 3600), "expired"),
    "issued_in_future": (lambda k, p: app_check_token(k, p, iat=int(time.time()) + 600),
                         "invalid"),
    "wrong_audience": (lambda k, p: app_check_token(
        k, p, aud=[f"projects/{PROJECT_NUMBER}", "projects/other-project"]), "invalid"),
    "audience_not_a_list": (lambda k, p: app_check_token(k, p, aud=f"projects/{p}"), "invalid"),
    "wrong_issuer": (lambda k, p: app_check_token(k, p, iss="https://evil.example/123"),
                     "invalid"),
    "id_token_issuer": (lambda k, p: app_check_token(
        k, p, iss=f"https://securetoken.google.com/{p}"), "invalid"),
    "no_subject": (lambda k, p: app_check_token(k, p, sub=None), "invalid"),
    "unknown_kid": (lambda k, p: app_check_token(
        k, p, header={"alg": "RS256", "kid": "ac-unknown", "typ": "JWT"}), "invalid"),
    "other_key_same_kid": (lambda k, p: app_check_token(
        k, p, sign=rs256(new_key(k.kid).private)), "invalid"),
    "alg_none": (lambda k, p: encode_jwt({"alg": "none", "kid": k.kid, "typ": "JWT"},
                                         app_check_claims(p)), "invalid"),
    "hs256_keyed_with_public_jwk": (lambda k, p: app_check_token(
        k, p, header={"alg": "HS256", "kid": k.kid, "typ": "JWT"},
        sign=hs256(json.dumps(k.jwk()).encode())), "invalid"),
    "wrong_typ": (lambda k, p: app_check_token(
        k, p, header={"alg": "RS256", "kid": k.kid, "typ": "at+jwt"}), "invalid"),
    "oversized": (lambda k, p: app_check_token(k, p, pad="x" * 5000), "invalid"),
}


# Both functions share core.app_check: every case on auth, a representative few on chat.
CASES = ([("auth", case) for case in BAD_TOKENS]
         + [("chat", case) for case in ("missing", "garbage", "expired", "wrong_audience",
                                        "wrong_issuer", "other_key_same_kid")])


def leaked_parts(token: str | None) -> list[str]:
    return [token, *token.split(".")[:2]] if token else []


# ------------------------------------------------------------------ tests

@pytest.mark.parametrize("target", ["auth", "chat"])
@pytest.mark.parametrize("app_token", ["garbage", None])
def test_off_ignores_the_header(load, id_key, jwks, target, app_token):
    function = load(target)  # APP_CHECK unset: off
    token = "not-a-jwt-" + secrets.token_hex(8) if app_token else None
    assert_served(call(function, target, bearer(id_key, function.project), token), target)
    assert function.events("app_check_failed") == []
    assert jwks.requests == 0


@pytest.mark.parametrize("target", ["auth", "chat"])
@pytest.mark.parametrize("mode", ["monitor", "enforce"])
def test_valid_token_is_served(load, id_key, key, jwks, standin, target, mode):
    function = load(target, APP_CHECK=mode)
    calls = len(standin.state.records)
    tokens = [app_check_token(key, function.project) for _ in range(2)]
    for token in tokens:
        assert_served(call(function, target, bearer(id_key, function.project), token), target)
    assert function.events("app_check_failed") == []
    assert jwks.requests == 1  # the JWKS is cached (firebase-admin: for 6 hours)
    assert len(standin.state.records) == calls + (2 if target == "chat" else 0)
    function.assert_logs_never_contain(*leaked_parts(tokens[0]), MESSAGE)


@pytest.mark.parametrize("target, case", CASES)
def test_monitor_logs_a_bad_token_and_serves(load, id_key, key, jwks, target, case):
    make_token, reason = BAD_TOKENS[case]
    function = load(target, APP_CHECK="monitor")
    token = make_token(key, function.project)
    assert_served(call(function, target, bearer(id_key, function.project), token), target)
    [event] = function.events("app_check_failed")
    assert event["reason"] == reason and event["mode"] == "monitor"
    assert event["function"] == target and SUBJECT.match(event["subject"])
    assert event["severity"] == "WARNING"
    function.assert_logs_never_contain(*leaked_parts(token), MESSAGE)


@pytest.mark.parametrize("target, case", CASES)
def test_enforce_refuses_a_bad_token_before_anything_else(load, id_key, key, jwks, standin,
                                                          target, case):
    make_token, reason = BAD_TOKENS[case]
    function = load(target, APP_CHECK="enforce")
    calls = len(standin.state.records)
    token = make_token(key, function.project)
    response = call(function, target, bearer(id_key, function.project), token)
    assert_error(response, 401, "unauthenticated", "This app could not be verified.")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert len(standin.state.records) == calls  # Gemini never called
    assert load.certs.requested == []  # the ID token was not even looked at
    assert function.events("auth_success") == [] and function.events("auth_failure") == []
    [event] = function.events("app_check_failed")
    assert event["reason"] == reason and event["mode"] == "enforce"
    assert event["function"] == target and SUBJECT.match(event["subject"])
    text = response.get_data(as_text=True)
    assert all(part not in text for part in leaked_parts(token))
    function.assert_logs_never_contain(*leaked_parts(token), MESSAGE)


def test_enforce_covers_revoke_too(load, id_key, jwks):
    function = load("auth", APP_CHECK="enforce")
    response = function.client.post("/api/auth/revoke",
                                     headers={"Authorization": bearer(id_key, function.project)})
    assert_error(response, 401, "unauthenticated", "This app could not be verified.")
    [event] = function.events("app_check_failed")
    assert event["reason"] == "missing"


@pytest.mark.parametrize("target", ["auth", "chat"])
@pytest.mark.parametrize("outage", ["connection_refused", "http_500"])
def test_jwks_outage_is_503_in_enforce_and_served_in_monitor(load, id_key, key, jwks, standin,
                                                             target, outage):
    if outage == "connection_refused":
        jwks.stop()
    else:
        jwks.status = 500
    enforce = load(target, APP_CHECK="enforce")
    token = app_check_token(key, enforce.project)
    calls = len(standin.state.records)
    response = call(enforce, target, bearer(id_key, enforce.project), token)
    assert_error(response, 503, "unavailable")
    assert int(response.headers["Retry-After"]) > 0
    assert len(standin.state.records) == calls
    [event] = enforce.events("app_check_failed")
    assert event["reason"] == "unavailable" and event["mode"] == "enforce"
    enforce.assert_logs_never_contain(*leaked_parts(token))

    monitor = load(target, APP_CHECK="monitor")
    assert_served(call(monitor, target, bearer(id_key, monitor.project), token), target)
    [event] = monitor.events("app_check_failed")
    assert event["reason"] == "unavailable" and event["mode"] == "monitor"
    monitor.assert_logs_never_contain(*leaked_parts(token), MESSAGE)


def test_keys_cached_before_an_outage_still_verify(load, id_key, key, jwks):
    function = load("auth", APP_CHECK="enforce")
    assert_served(call(function, "auth", bearer(id_key, function.project),
                       app_check_token(key, function.project)), "auth")
    jwks.stop()
    assert_served(call(function, "auth", bearer(id_key, function.project),
                       app_check_token(key, function.project)), "auth")


def test_a_verified_app_is_not_a_signed_in_user(load, key, jwks):
    function = load("auth", APP_CHECK="enforce")
    response = call(function, "auth", None, app_check_token(key, function.project))
    assert_error(response, 401, "unauthenticated")
    assert response.get_json()["error"]["message"] != "This app could not be verified."
    assert function.events("app_check_failed") == []
    [failure] = function.events("auth_failure")
    assert failure["reason"] == "missing"


@pytest.mark.parametrize("target", ["auth", "chat"])
def test_cors_preflight_needs_no_app_check_token(load, jwks, target):
    # Browsers never send custom headers on a preflight; it must pass to allow the real call.
    function = load(target, APP_CHECK="enforce")
    response = function.client.open(
        "/api/chat" if target == "chat" else "/api/auth", method="OPTIONS",
        headers={"Origin": "https://app.example.web.app",
                 "Access-Control-Request-Method": "POST" if target == "chat" else "GET",
                 "Access-Control-Request-Headers": "authorization, x-firebase-appcheck"})
    assert response.status_code == 204
    assert HEADER in response.headers["Access-Control-Allow-Headers"]
    assert function.events("app_check_failed") == []


@pytest.mark.parametrize("app_token", [None, "garbage"])
def test_health_never_checks_app_check(load, jwks, app_token):
    function = load("health", APP_CHECK="enforce")
    headers = {HEADER: "not-a-jwt-" + secrets.token_hex(8)} if app_token else {}
    response = function.client.get("/api/health", headers=headers)
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert function.events("app_check_failed") == []
    assert jwks.requests == 0
