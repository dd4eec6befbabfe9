"""Tests for devtools/auth_emulator.py: the real firebase-tools Auth emulator, checked by the real
firebase-admin SDK exactly as the auth and chat functions use it."""
from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time

import auth_emulator as emulator_module  # devtools/ (pytest pythonpath)
import firebase_admin
import procs
import pytest
from firebase_admin import auth
from procs import free_port

PROJECT_ID = "demo-jette"


def decode_segment(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


@pytest.fixture(scope="module")
def emulator():
    with emulator_module.start_auth_emulator(free_port(), PROJECT_ID) as running:
        yield running


@pytest.fixture(scope="module")
def admin_app(emulator):
    """A named firebase-admin app pointed at the emulator; the env var is restored afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FIREBASE_AUTH_EMULATOR_HOST", emulator.host)
        app = firebase_admin.initialize_app(options={"projectId": PROJECT_ID},
                                            name="test-auth-emulator")
        yield app
        firebase_admin.delete_app(app)


def sign_in(emulator, sub: str, **claims) -> dict:
    claims.setdefault("email", f"{sub}@example.com")
    return emulator_module.sign_in_with_google(emulator.host, sub=sub, **claims)


def test_google_token_verifies_with_firebase_admin(emulator, admin_app):
    session = sign_in(emulator, "google-ann", email="Ann@Example.com", name="Ann Example",
                      picture="https://example.com/ann.png")
    claims = auth.verify_id_token(session["idToken"], app=admin_app)
    assert claims["uid"] == claims["sub"] == session["localId"]
    assert claims["firebase"]["sign_in_provider"] == "google.com"
    assert claims["firebase"]["identities"]["google.com"] == ["google-ann"]
    assert claims["email"] == "ann@example.com"  # the emulator lower-cases emails, as Firebase does
    assert claims["email_verified"] is True
    assert claims["name"] == "Ann Example"
    assert claims["picture"] == "https://example.com/ann.png"
    assert claims["aud"] == PROJECT_ID
    assert claims["iss"] == f"https://securetoken.google.com/{PROJECT_ID}"


def test_same_google_sub_signs_in_to_same_user(emulator, admin_app):
    first = sign_in(emulator, "google-same")
    second = sign_in(emulator, "google-same")
    assert first["isNewUser"] is True
    assert second.get("isNewUser", False) is False
    assert first["localId"] == second["localId"]


def test_unverified_email_is_reported(emulator, admin_app):
    session = sign_in(emulator, "google-unverified", email_verified=False)
    claims = auth.verify_id_token(session["idToken"], app=admin_app)
    assert claims["email_verified"] is False


def test_email_verified_is_fixed_when_the_user_is_created(emulator, admin_app):
    sign_in(emulator, "google-sticky", email="sticky@example.com", email_verified=True)
    again = sign_in(emulator, "google-sticky", email="sticky@example.com", email_verified=False)
    assert auth.verify_id_token(again["idToken"], app=admin_app)["email_verified"] is True


def test_second_google_account_with_same_email_is_refused(emulator):
    sign_in(emulator, "google-first", email="taken@example.com")
    with pytest.raises(emulator_module.FirebaseEmulatorError, match="another user has this email"):
        sign_in(emulator, "google-second", email="taken@example.com", email_verified=False)


def test_emulator_tokens_are_unsigned(emulator):
    header, payload, signature = sign_in(emulator, "google-unsigned")["idToken"].split(".")
    assert decode_segment(header) == {"alg": "none", "typ": "JWT"}
    assert signature == ""
    assert decode_segment(payload)["aud"] == PROJECT_ID


def test_revoked_token_is_rejected(emulator, admin_app):
    session = sign_in(emulator, "google-revoked")
    issued_at = decode_segment(session["idToken"].split(".")[1])["iat"]
    # Revocation is stored in whole seconds and only rejects tokens issued *before* that second.
    time.sleep(max(0.0, issued_at + 1 - time.time()))
    auth.revoke_refresh_tokens(session["localId"], app=admin_app)
    with pytest.raises(auth.RevokedIdTokenError):
        auth.verify_id_token(session["idToken"], app=admin_app, check_revoked=True)
    # Signing in again after the revocation yields a token that passes the check.
    fresh = sign_in(emulator, "google-revoked")
    claims = auth.verify_id_token(fresh["idToken"], app=admin_app, check_revoked=True)
    assert claims["uid"] == session["localId"]


def test_revocation_in_the_same_second_does_not_reject(emulator, admin_app):
    session = sign_in(emulator, "google-same-second")
    auth.revoke_refresh_tokens(session["localId"], app=admin_app)
    issued_at = decode_segment(session["idToken"].split(".")[1])["iat"]
    valid_after_ms = auth.get_user(session["localId"], app=admin_app).tokens_valid_after_timestamp
    if valid_after_ms == issued_at * 1000:  # sign-in and revoke fell in the same second
        auth.verify_id_token(session["idToken"], app=admin_app, check_revoked=True)
    else:
        with pytest.raises(auth.RevokedIdTokenError):
            auth.verify_id_token(session["idToken"], app=admin_app, check_revoked=True)


def test_refresh_returns_a_new_valid_token(emulator, admin_app):
    session = sign_in(emulator, "google-refresh", name="Refresh Me")
    refreshed = emulator_module.refresh(emulator.host, session["refreshToken"])
    assert refreshed["user_id"] == session["localId"]
    claims = auth.verify_id_token(refreshed["id_token"], app=admin_app)
    assert claims["firebase"]["sign_in_provider"] == "google.com"
    assert claims["name"] == "Refresh Me"


def test_anonymous_sign_in(emulator, admin_app):
    session = emulator_module.sign_in_anonymously(emulator.host)
    claims = auth.verify_id_token(session["idToken"], app=admin_app)
    assert claims["firebase"]["sign_in_provider"] == "anonymous"
    assert "email" not in claims


def test_clear_accounts_deletes_users(emulator, admin_app):
    session = sign_in(emulator, "google-cleared")
    emulator_module.clear_accounts(emulator.host, PROJECT_ID)
    with pytest.raises(auth.UserNotFoundError):
        auth.get_user(session["localId"], app=admin_app)


def test_rest_errors_are_raised(emulator):
    with pytest.raises(emulator_module.FirebaseEmulatorError, match="INVALID_REFRESH_TOKEN"):
        emulator_module.refresh(emulator.host, "not-a-refresh-token")


def test_refuses_a_port_already_in_use(emulator):
    port = int(emulator.host.rsplit(":", 1)[1])
    with pytest.raises(emulator_module.FirebaseEmulatorError, match="already in use"):
        emulator_module.start_auth_emulator(port)


def test_command_line_runs_until_ctrl_c_and_leaves_no_process():
    port = free_port()
    cli = subprocess.Popen([sys.executable, emulator_module.__file__, str(port)],
                           stdout=subprocess.PIPE, text=True, start_new_session=True)
    started_groups: set[int] = set()
    try:
        assert cli.stdout.readline().strip() == f"auth-emulator ready on 127.0.0.1:{port}"
        children = [pid for pid, ppid, _, _ in procs.live_processes() if ppid == cli.pid]
        started_groups.update(os.getpgid(pid) for pid in children)
        assert len(children) == 1
        emulator_group = os.getpgid(children[0])
        assert emulator_group == children[0]  # the emulator leads its own process group
        cli.send_signal(signal.SIGINT)  # Ctrl-C
        assert cli.wait(timeout=30) == 0
        assert procs.group_members(emulator_group) == []
        assert not procs.listening(port)
    finally:
        # The emulator leads a group of its own: a failed run must not leave it behind.
        started_groups.update(group for _, ppid, group, _ in procs.live_processes()
                              if ppid == cli.pid)
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
        for group in started_groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                pass
