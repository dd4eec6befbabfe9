"""core.auth and the request's log context: a refusal before sign-in names the caller by its
address pseudonym, a verified user by its uid pseudonym from then on; core.auth does not need
core.http for it. Only firebase-admin's token check is replaced (Google's side)."""

from __future__ import annotations

import subprocess
import sys
import time

import flask
import pytest

import core.auth as auth_module
from core import log
from core.auth import authenticate
from core.config import load_config
from core.errors import ApiError
from core.identity import pseudonym

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
        context = flask.Flask("probe").test_request_context("/", headers=headers)
        context.push()
        token = log.bind_request(headers, None, ADDRESS)
        made.append((context, token))
        return flask.request

    made: list = []
    yield make
    for context, token in made:
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
