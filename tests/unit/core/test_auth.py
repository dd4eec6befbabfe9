"""core.auth: verify_bearer and authenticate with the real firebase-admin on real RS256 ID tokens
(signed by a key made at test time; only the download of Google's certificate list is replaced),
and the request's log context: a refusal before sign-in names the caller by its address
pseudonym, a verified user by its uid pseudonym from then on; core.auth does not need core.http
for it. The log-context tests replace firebase-admin's token check (Google's side) instead.
Verified tokens are remembered: not verified again until they expire, per project and mode, by
an HMAC of the token only, never a refused one, and never with CHECK_REVOKED."""

from __future__ import annotations

import dataclasses
import json
import secrets
import subprocess
import sys
import time

import flask
import pytest
from firebase_admin import _token_gen
from firebase_admin import auth as firebase_auth

import core.auth as auth_module
from core import log
from core.auth import CLOCK_SKEW_S, authenticate, verify_bearer
from core.config import load_config
from core.errors import ApiError
from core.identity import anonymous, pseudonym
from tests.id_tokens import (CERT_URL, EMAIL, NAME, PICTURE, PROJECT, UID, CertEndpoint, b64url,
                             emulator_token, id_token, new_signing_key)

CONFIG = load_config("chat", {"APP_ENV": "development", "FIREBASE_PROJECT_ID": "demo-test"})
ADDRESS = "ip:000000000000000000000000"  # what core.http bound for the request


def claims(uid: str = "u-1", provider: str = "google.com") -> dict:
    now = time.time()
    return {"uid": uid, "exp": now + 600, "iat": now - 1, "auth_time": now - 1,
            "firebase": {"sign_in_provider": provider}}


@pytest.fixture
def request_context():
    """A request whose log context core.http bound: its address pseudonym so far."""
    def make(headers: dict):
        context = flask.Flask("probe").test_request_context(
            "/", headers=headers, environ_base={"REMOTE_ADDR": "203.0.113.9"})
        context.push()
        token = log.bind_request(headers, None, ADDRESS)
        made.append((context, token))
        return flask.request

    made: list = []
    yield make
    for context, token in reversed(made):
        log.reset_request(token)
        context.pop()


def test_a_verified_user_names_every_later_log_line(captured, request_context, monkeypatch):
    monkeypatch.setattr(auth_module.firebase_auth, "verify_id_token",
                        lambda token, **_: claims())
    request = request_context({"Authorization": "Bearer t"})
    identity = authenticate(request, CONFIG)
    log.logger.info("later")
    uid = pseudonym(CONFIG.secret_key, "uid", "u-1")
    assert identity.subject == log.subject() == uid
    assert [(line["message"], line["subject"]) for line in captured()] == [
        ("auth_success", uid), ("later", uid)]


def test_a_refused_token_is_logged_with_the_address_pseudonym(captured, request_context):
    request = request_context({"Authorization": "Basic abc"})
    with pytest.raises(ApiError) as refused:
        authenticate(request, CONFIG)
    assert refused.value.reason == "malformed"
    [line] = captured()
    assert (line["event"], line["subject"]) == ("auth_failure", ADDRESS)
    assert log.subject() == ADDRESS


def test_a_user_denied_by_the_allow_list_is_logged_by_uid(captured, request_context,
                                                         monkeypatch):
    config = load_config("chat", {"APP_ENV": "development", "ALLOWED_EMAILS": "a@example.com"})
    monkeypatch.setattr(auth_module.firebase_auth, "verify_id_token",
                        lambda token, **_: claims("u-2"))
    with pytest.raises(ApiError):
        authenticate(request_context({"Authorization": "Bearer t"}), config)
    [line] = captured()
    assert line["event"] == "auth_denied"
    assert line["subject"] == pseudonym(config.secret_key, "uid", "u-2")


def test_core_auth_does_not_import_core_http():
    probe = "import sys, core.auth; print('core.http' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=auth_module.__file__.rsplit("/core/", 1)[0], timeout=60,
                            check=True)
    assert result.stdout.strip() == "False"


# --- verify_bearer and authenticate on real ID tokens ------------------------------------------

SIGNED = load_config("auth", {"APP_ENV": "development", "FIREBASE_PROJECT_ID": PROJECT})
KEY = new_signing_key("kid-" + secrets.token_hex(10))
OTHER_KEY = new_signing_key(KEY.kid)  # another key under the same kid: a forgery


@pytest.fixture
def google(monkeypatch, tmp_path) -> CertEndpoint:
    """Google as firebase-admin sees it: the certificate list (only its HTTP GET is replaced),
    and the Application Default Credentials every Cloud Function has (never used to verify)."""
    endpoint = CertEndpoint(KEY)
    monkeypatch.setattr(_token_gen.CertificateFetchRequest, "__call__",
                        lambda self, url, **kw: endpoint(url, **kw))
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    adc = tmp_path / "application_default_credentials.json"
    adc.write_text(json.dumps({"type": "authorized_user", "client_id": "c", "client_secret": "s",
                               "refresh_token": "r"}))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    return endpoint


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_google_id_token_is_the_verified_identity(google, request_context, captured):
    token = id_token(KEY)
    identity = verify_bearer(request_context(bearer(token)), SIGNED)
    assert (identity.uid, identity.email, identity.email_verified, identity.name,
            identity.picture, identity.provider) == (UID, EMAIL, True, NAME, PICTURE, "google.com")
    assert identity.subject == pseudonym(SIGNED.secret_key, "uid", UID) == log.subject()
    assert google.requested == [("GET", CERT_URL)]
    assert captured() == []  # verifying logs nothing; authenticate logs the outcome
    assert authenticate(request_context(bearer(token)), SIGNED) == identity
    assert [line["event"] for line in captured()] == ["auth_success"]
    assert token.split(".")[1] not in captured.raw() and EMAIL not in captured.raw()


def test_without_a_header_there_is_no_identity_and_sign_in_is_required(google, request_context):
    assert verify_bearer(request_context({}), SIGNED) is None
    with pytest.raises(ApiError) as refused:
        authenticate(request_context({}), SIGNED)
    assert (refused.value.status, refused.value.reason) == (401, "missing")
    caller = authenticate(request_context({}), SIGNED, allow_anonymous=True)
    assert caller == anonymous(SIGNED.secret_key, "203.0.113.9")  # the caller's address
    assert google.requested == []


def _now() -> int:
    return int(time.time())


# name -> (Authorization header, the reason logged and raised)
REFUSED = {
    "basic_scheme": (lambda: "Basic dXNlcjpwYXNzd29yZA==", "malformed"),
    "empty_bearer": (lambda: "Bearer  ", "malformed"),
    "oversized": (lambda: f"Bearer {id_token(KEY, name='x' * 5000)}", "malformed"),
    "expired": (lambda: f"Bearer {id_token(KEY, iat=_now() - 7200, exp=_now() - 3600)}",
                "expired"),
    "expired_beyond_the_skew": (lambda: f"Bearer {id_token(KEY, exp=_now() - 30)}", "expired"),
    "auth_time_in_future": (lambda: f"Bearer {id_token(KEY, auth_time=_now() + 120)}",
                            "auth_time"),
    "issued_in_future": (lambda: f"Bearer {id_token(KEY, iat=_now() + 120)}", "invalid"),
    "other_key_under_the_kid": (lambda: f"Bearer {id_token(OTHER_KEY)}", "invalid"),
    "wrong_audience": (lambda: f"Bearer {id_token(KEY, aud='other-project')}", "invalid"),
    "emulator_unsigned": (lambda: f"Bearer {emulator_token()}", "invalid"),
    "garbage": (lambda: "Bearer not-a-jwt", "invalid"),
    "deeply_nested_payload": (lambda: "Bearer " + ".".join(
        [b64url(b'{"alg": "RS256", "kid": "k"}'), b64url(b"[" * 1200 + b"]" * 1200), ""]),
        "invalid"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_a_bad_token_is_401_with_its_reason_logged_by_address(google, request_context, captured,
                                                             case):
    make_header, reason = REFUSED[case]
    header = make_header()
    with pytest.raises(ApiError) as refused:
        authenticate(request_context({"Authorization": header}), SIGNED)
    assert (refused.value.status, refused.value.code, refused.value.reason) == (
        401, "unauthenticated", reason)
    failure = [line for line in captured() if line.get("event") == "auth_failure"]
    assert [(line["reason"], line["subject"]) for line in failure] == [(reason, ADDRESS)]
    token = header.partition(" ")[2].strip()
    assert not token or all(part not in captured.raw() for part in token.split(".") if part)


def test_expiry_within_the_clock_skew_is_accepted(google, request_context):
    token = id_token(KEY, iat=_now() - 3600, exp=_now() - 3)
    assert verify_bearer(request_context(bearer(token)), SIGNED).uid == UID


def test_google_unreachable_is_503_not_a_sign_in_failure(google, request_context, captured):
    google.status = 500
    with pytest.raises(ApiError) as refused:
        verify_bearer(request_context(bearer(id_token(KEY))), SIGNED)
    assert (refused.value.status, refused.value.reason) == (503, "auth_backend")
    assert refused.value.retry_after == 30
    assert [line["event"] for line in captured()] == ["auth_backend_unavailable"]


POLICY = [  # (settings, claims, (status, reason) of the refusal or None)
    ({}, {}, None),
    ({}, {"firebase": {"sign_in_provider": "anonymous"}}, (403, "sign_in_provider")),
    ({"ALLOWED_SIGN_IN_PROVIDERS": "google.com,password"},
     {"firebase": {"sign_in_provider": "password"}}, None),
    ({"ALLOWED_EMAILS": "ok@example.com"}, {"email": "OK@example.com"}, None),
    ({"ALLOWED_EMAILS": "ok@example.com"}, {"email": "ok@example.com", "verified": False},
     (403, "allow_list")),
    ({"ALLOWED_EMAILS": "ok@example.com"}, {"email": "ok@example.com", "verified": "true"},
     (403, "allow_list")),
    ({"ALLOWED_DOMAINS": "example.com"}, {"email": "a@example.com.evil.test"},
     (403, "allow_list")),
    ({"ALLOWED_EMAILS": "kate@example.com"}, {"email": "\u212aate@example.com"},
     (403, "allow_list")),
]


@pytest.mark.parametrize("settings, claims, refusal", POLICY)
def test_authenticate_applies_the_sign_in_policy(google, request_context, settings, claims,
                                                 refusal):
    config = load_config("auth", {"APP_ENV": "development", "FIREBASE_PROJECT_ID": PROJECT,
                                  **settings})
    if "email" in claims:
        claims = {**claims, "firebase": {"sign_in_provider": "google.com"}}
    token = id_token(KEY, **claims)
    request = request_context(bearer(token))
    if refusal is None:
        assert authenticate(request, config).uid == UID
        return
    with pytest.raises(ApiError) as refused:
        authenticate(request, config)
    assert (refused.value.status, refused.value.reason) == refusal


# --- verified tokens remembered until they expire (core.auth._VerifiedTokens) -----------------

@pytest.fixture(autouse=True)
def no_token_remembered(monkeypatch):
    """Every test starts with an empty cache of verified tokens."""
    monkeypatch.setattr(auth_module, "_VERIFIED",
                        auth_module._VerifiedTokens(auth_module.VERIFIED_TOKENS_KEPT))


@pytest.fixture
def verifications(monkeypatch) -> list[dict]:
    """The calls of firebase-admin's verify_id_token, which still runs."""
    calls: list[dict] = []
    real = auth_module.firebase_auth.verify_id_token

    def counted(token, **options):
        calls.append(options)
        return real(token, **options)

    monkeypatch.setattr(auth_module.firebase_auth, "verify_id_token", counted)
    return calls


def remembered() -> list:
    return list(auth_module._VERIFIED._entries.items())


def test_a_token_verified_once_is_not_verified_again_while_valid(google, request_context,
                                                                 verifications, captured):
    token = id_token(KEY)
    first = verify_bearer(request_context(bearer(token)), SIGNED)
    again = authenticate(request_context(bearer(token)), SIGNED)
    assert again == first and again.uid == UID
    assert log.subject() == first.subject  # a remembered user still names the request's lines
    assert len(verifications) == 1 and google.requested == [("GET", CERT_URL)]
    assert [line["event"] for line in captured()] == ["auth_success"]


def test_an_entry_ends_with_its_token_and_is_then_verified_afresh(google, request_context,
                                                                  verifications, monkeypatch):
    issued = time.time()
    token = id_token(KEY, exp=int(issued) + 60)
    verify_bearer(request_context(bearer(token)), SIGNED)
    monkeypatch.setattr(auth_module.time, "time", lambda: issued + 55)
    verify_bearer(request_context(bearer(token)), SIGNED)
    assert len(verifications) == 1
    # Past exp (and the clock skew firebase-admin allows as well): firebase-admin is asked
    # again, and the token is refused as it would be without the cache.
    monkeypatch.setattr(auth_module.time, "time", lambda: issued + 61 + CLOCK_SKEW_S)
    with pytest.raises(ApiError) as refused:
        verify_bearer(request_context(bearer(token)), SIGNED)
    assert refused.value.reason == "expired"
    assert len(verifications) == 2 and remembered() == []


def test_at_most_the_set_number_of_tokens_is_kept_least_recently_used_first_out(
        google, request_context, verifications, monkeypatch):
    monkeypatch.setattr(auth_module, "_VERIFIED", auth_module._VerifiedTokens(2))
    a, b, c = (id_token(KEY, sub=f"user-{n}", user_id=f"user-{n}") for n in range(3))
    for token in (a, b, a, c, a, b):  # c pushes out b, the least recently used; then b a
        verify_bearer(request_context(bearer(token)), SIGNED)
    assert len(verifications) == 4  # a, b, c, and b again
    assert len(remembered()) == 2


def test_the_token_is_no_key_or_value_of_the_cache(google, request_context):
    token = id_token(KEY)
    identity = verify_bearer(request_context(bearer(token)), SIGNED)
    [(key, (kept, times))] = remembered()
    assert kept == identity
    stored = repr((key, dataclasses.asdict(kept), times))
    assert all(part not in stored for part in token.split(".") if part)
    assert token.encode() not in key and key[0] == PROJECT  # an HMAC, per project


def test_an_entry_serves_only_its_project(google, request_context, verifications):
    token = id_token(KEY)
    verify_bearer(request_context(bearer(token)), SIGNED)
    other = dataclasses.replace(SIGNED, project_id="other-project")  # same SECRET_KEY
    with pytest.raises(ApiError) as refused:
        verify_bearer(request_context(bearer(token)), other)
    assert refused.value.reason == "invalid"  # the token's audience is the first project
    assert len(verifications) == 2


def test_a_token_accepted_by_the_emulator_is_not_accepted_without_it(google, request_context,
                                                                     monkeypatch):
    token = emulator_token()  # unsigned: only the emulator accepts it
    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")
    assert verify_bearer(request_context(bearer(token)), SIGNED).uid == UID
    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST")
    with pytest.raises(ApiError) as refused:
        verify_bearer(request_context(bearer(token)), SIGNED)
    assert refused.value.reason == "invalid"


@pytest.mark.parametrize("token_of", [lambda: id_token(OTHER_KEY), lambda: "not-a-jwt"])
def test_a_refused_token_is_never_kept(google, request_context, verifications, token_of):
    token = token_of()
    for _ in range(2):
        with pytest.raises(ApiError):
            verify_bearer(request_context(bearer(token)), SIGNED)
    assert len(verifications) == 2 and remembered() == []


@pytest.mark.parametrize("error, reason", [
    (firebase_auth.RevokedIdTokenError("revoked"), "revoked"),
    (firebase_auth.UserDisabledError("disabled"), "disabled")])
def test_a_revoked_or_disabled_session_is_never_kept(request_context, monkeypatch, error,
                                                     reason):
    asked = []

    def refuse(token, **options):
        asked.append(options)
        raise error

    monkeypatch.setattr(auth_module.firebase_auth, "verify_id_token", refuse)
    for _ in range(2):
        with pytest.raises(ApiError) as refused:
            verify_bearer(request_context(bearer("t")), CONFIG)
        assert refused.value.reason == reason
    assert len(asked) == 2 and remembered() == []


def test_with_check_revoked_every_request_asks_google(request_context, monkeypatch):
    config = dataclasses.replace(CONFIG, check_revoked=True)
    asked = []
    monkeypatch.setattr(auth_module.firebase_auth, "verify_id_token",
                        lambda token, **options: asked.append(options) or claims())
    for _ in range(3):
        assert verify_bearer(request_context(bearer("t")), config).uid == "u-1"
    assert [options["check_revoked"] for options in asked] == [True, True, True]
    assert remembered() == []
