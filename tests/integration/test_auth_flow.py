"""Sign-in against the real Firebase Auth emulator: who am I, refusals, allow-lists, revoke,
and anonymous chat when REQUIRE_AUTH=false.
"""

from __future__ import annotations

import base64
import json
import time

import requests

from tests.integration.harness import claims_of


def unsigned_token(claims: dict) -> str:
    """A token shaped like the emulator's (alg none), with claims of our choosing."""
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def whoami(url: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, timeout=10)


def test_whoami_with_emulator_google_token(functions, sign_in):
    token = sign_in("ada@example.com", name="Ada Lovelace")
    response = whoami(functions.url("auth"), token)
    assert response.status_code == 200
    body = response.json()
    quota = body.pop("quota")
    assert set(body.pop("chat")) == {"models", "limits"}  # issue #10: test_models.py
    assert quota["tokens"] == {"dailyLimit": 200000, "remaining": 200000,
                               "resetSeconds": quota["tokens"]["resetSeconds"]}
    assert [r["limit"] for r in quota["requests"]] == ["30 per 1 minute", "50 per 1 hour",
                                                       "200 per 1 day"]
    assert body == {"uid": claims_of(token)["user_id"], "email": "ada@example.com",
                    "emailVerified": True, "name": "Ada Lovelace", "picture": None,
                    "provider": "google.com", "allowed": True}


def test_hosting_path_answers_like_root(functions, sign_in):
    url = functions.url("auth")
    assert whoami(f"{url}/api/auth", sign_in()).status_code == 200


def test_missing_garbage_and_expired_tokens_are_401(functions, sign_in):
    url = functions.url("auth")
    claims = claims_of(sign_in())
    expired = unsigned_token({**claims, "iat": claims["iat"] - 7200, "exp": claims["iat"] - 3600})
    future = unsigned_token({**claims, "auth_time": int(time.time()) + 3600})
    for token in (None, "garbage", "a.b.c", expired, future):
        response = whoami(url, token)
        assert response.status_code == 401, token
        assert response.json()["error"]["code"] == "unauthenticated"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_other_project_token_is_401(functions, sign_in):
    claims = claims_of(sign_in())
    forged = unsigned_token({**claims, "aud": "someone-else",
                             "iss": "https://securetoken.google.com/someone-else"})
    assert whoami(functions.url("auth"), forged).status_code == 401


def test_allow_lists(functions, sign_in):
    by_email = functions.url("auth", ALLOWED_EMAILS="grace@example.com,Hopper@Example.com")
    by_domain = functions.url("auth", ALLOWED_DOMAINS="corp.example")
    assert whoami(by_email, sign_in("grace@example.com")).status_code == 200
    assert whoami(by_email, sign_in("mallory@example.com")).status_code == 403
    # The address matches but Google has not verified it: not good enough.
    assert whoami(by_email, sign_in("hopper@example.com", verified=False)).status_code == 403
    assert whoami(by_domain, sign_in("alan@corp.example")).status_code == 200
    assert whoami(by_domain, sign_in("alan@corp.example.evil")).status_code == 403
    denied = whoami(by_domain, sign_in("eve@example.com"))
    assert denied.json()["error"]["code"] == "permission_denied"


def test_revoke_signs_out_everywhere(functions, sign_in):
    checking = functions.url("auth", CHECK_REVOKED="true")
    token = sign_in()
    assert whoami(checking, token).status_code == 200
    time.sleep(1.1)  # revocation compares whole seconds with the token's iat
    revoke = requests.post(f"{functions.url('auth')}/revoke",
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert revoke.status_code == 204 and revoke.content == b""
    refused = whoami(checking, token)
    assert refused.status_code == 401
    assert "sign in again" in refused.json()["error"]["message"]


def test_revoke_needs_post_and_a_token(functions):
    url = f"{functions.url('auth')}/revoke"
    assert requests.get(url, timeout=10).status_code == 405
    assert requests.post(url, timeout=10).status_code == 401


def test_anonymous_chat_when_sign_in_is_optional(functions, standin, log_dir):
    url = functions.url("chat", REQUIRE_AUTH="false")
    response = requests.post(url, json={"message": "hello anonymous"}, timeout=10,
                             headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.7"})
    assert response.status_code == 200
    assert response.json()["reply"] == "Echo: hello anonymous"
    # whoami still needs a real sign-in
    assert whoami(functions.url("auth", REQUIRE_AUTH="false"), None).status_code == 401


def test_required_sign_in_is_the_default(functions, standin):
    response = requests.post(functions.url("chat"), json={"message": "hi"}, timeout=10)
    assert response.status_code == 401
    assert standin.requests() == []


def test_deleted_user_is_401_when_sessions_are_checked(functions, sign_in, auth_emulator):
    checking = functions.url("auth", CHECK_REVOKED="true")
    token = sign_in()
    requests.post(f"http://{auth_emulator.host}/identitytoolkit.googleapis.com/v1/"
                  "accounts:delete?key=fake-api-key", json={"idToken": token},
                  timeout=10).raise_for_status()
    response = whoami(checking, token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_unreachable_auth_backend_is_503_not_500(functions, sign_in):
    # Session checks need Firebase Auth; here it points at a closed port.
    broken = functions.url("auth", CHECK_REVOKED="true", FIREBASE_AUTH_EMULATOR_HOST="127.0.0.1:9")
    response = whoami(broken, sign_in())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert int(response.headers["Retry-After"]) > 0
