"""Abuse and cost limits across instances: three chat processes sharing the real Firestore
emulator (and a real redis-server) count one user's 30/minute exactly; budgets, stream caps,
spoofed X-Forwarded-For, an outage of the store, and what the store holds.
"""

from __future__ import annotations

import concurrent.futures
import json
import time

import pytest
import requests

from tests.helpers import wait_until
from tests.integration.harness import CANARIES, claims_of

# One user, many simultaneous requests: only the rate limit may refuse here.
LIMITS_30 = {"RATE_LIMITS": "30/minute", "MAX_CONCURRENT_STREAMS_PER_USER": "100"}


def chat_json(url: str, token: str | None, message: str = "hi", **headers):
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(url, json={"message": message}, headers={**auth, **headers}, timeout=30)


def storm(urls: list[str], token: str, clients: int) -> list[requests.Response]:
    """`clients` simultaneous requests of one user, spread over the instances."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(chat_json, urls[i % len(urls)], token) for i in range(clients)]
        return [f.result() for f in futures]


def assert_exactly_30(responses, standin):
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 30 + [429] * (len(responses) - 30)
    for refused in (r for r in responses if r.status_code == 429):
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    calls = [r for r in standin.requests() if r["method"] != "countTokens"]
    assert len(calls) == 30


def test_firestore_counts_exactly_across_three_instances(functions, firestore, sign_in, standin):
    settings = {**LIMITS_30, **firestore.settings}
    urls = [functions.url("chat", K_REVISION=f"chat-{i}", **settings) for i in range(3)]
    assert_exactly_30(storm(urls, sign_in(), clients=45), standin)


def test_redis_counts_exactly_across_three_instances(functions, redis_server, sign_in, standin):
    settings = {**LIMITS_30, "RATE_LIMIT_STORAGE": redis_server.url}
    urls = [functions.url("chat", K_REVISION=f"chat-{i}", **settings) for i in range(3)]
    assert_exactly_30(storm(urls, sign_in(), clients=45), standin)


def test_users_do_not_share_a_limit(functions, sign_in, standin):
    url = functions.url("chat", RATE_LIMITS="2/minute")
    alice, bob = sign_in(), sign_in()
    assert [chat_json(url, alice).status_code for _ in range(3)] == [200, 200, 429]
    assert [chat_json(url, bob).status_code for _ in range(2)] == [200, 200]


def test_rotating_x_forwarded_for_does_not_escape_the_limit(functions, standin):
    url = functions.url("chat", RATE_LIMITS="3/minute", REQUIRE_AUTH="false")
    # Google's front end appends the address it saw; everything left of it is the client's.
    spoofed = [chat_json(url, None, **{"X-Forwarded-For": f"10.0.0.{i}, 198.51.100.20"})
               for i in range(5)]
    assert [r.status_code for r in spoofed] == [200, 200, 200, 429, 429]
    other = chat_json(url, None, **{"X-Forwarded-For": "10.0.0.1, 198.51.100.21"})
    assert other.status_code == 200


def test_token_budgets_charge_usage_and_show_what_is_left(functions, firestore, sign_in,
                                                          standin):
    settings = {**firestore.settings, "DAILY_TOKEN_BUDGET": "100"}
    chat, auth = functions.url("chat", **settings), functions.url("auth", **settings)
    token = sign_in()
    usage = {"promptTokenCount": 20, "candidatesTokenCount": 40, "totalTokenCount": 60}
    standin.script({"action": "reply", "text": "one", "usage": usage},
                   {"action": "reply", "text": "two", "usage": usage})

    def tokens_left():
        me = requests.get(auth, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        return me.json()["quota"]["tokens"]["remaining"]

    assert tokens_left() == 100
    first = chat_json(chat, token)
    assert first.status_code == 200 and first.json()["quota"]["tokensLeft"] == 40
    assert tokens_left() == 40
    assert chat_json(chat, token).status_code == 200  # 40 left: allowed, then charged 60
    assert tokens_left() == 0
    refused = chat_json(chat, token)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "quota_exceeded"
    midnight = (int(time.time()) // 86400 + 1) * 86400
    assert abs(int(refused.headers["Retry-After"]) - (midnight - time.time())) < 5
    assert len(standin.requests()) == 2  # the refused request never reached the model


def test_global_budget_stops_every_user(functions, firestore, sign_in, standin):
    url = functions.url("chat", GLOBAL_DAILY_TOKEN_BUDGET="50", **firestore.settings)
    standin.script({"action": "reply", "text": "big", "usage": {
        "promptTokenCount": 10, "candidatesTokenCount": 50, "totalTokenCount": 60}})
    assert chat_json(url, sign_in()).status_code == 200
    other = chat_json(url, sign_in())
    assert other.status_code == 429
    assert other.json()["error"]["code"] == "quota_exceeded"
    assert "app's daily quota" in other.json()["error"]["message"]


def test_concurrent_stream_cap_and_slot_release(functions, sign_in, standin):
    url = functions.url("chat", MAX_CONCURRENT_STREAMS_PER_USER="2")
    token = sign_in()
    slow = {"action": "reply", "chunks": [f"w{i} " for i in range(30)], "chunk_delay": 0.2}
    standin.script(slow, slow, {"action": "reply", "text": "after"})
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    open_streams = [requests.post(url, json={"message": "hi"}, headers=headers, stream=True,
                                  timeout=30) for _ in range(2)]
    assert [s.status_code for s in open_streams] == [200, 200]
    third = chat_json(url, token)
    assert third.status_code == 429 and third.json()["error"]["code"] == "rate_limited"
    open_streams[0].close()  # Stop pressed: the slot is freed once the server notices
    wait_until(lambda: chat_json(url, token).status_code == 200, 5,
               "the freed slot to admit a new answer", interval=0.2)
    open_streams[1].close()


def test_store_outage_refuses_chat_with_503_never_500_nor_a_fresh_budget(functions, firestore,
                                                                        sign_in, standin):
    url = functions.url("chat", RATE_LIMITS="4/minute", K_REVISION="outage",
                        **firestore.settings)
    token = sign_in()
    assert chat_json(url, token).status_code == 200
    firestore.emulator.pause()
    try:
        refused = [chat_json(url, token) for _ in range(3)]
    finally:
        firestore.emulator.resume()
    for response in refused:  # no instance-local budget: the cap holds through the outage
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "unavailable"
        assert 1 <= int(response.headers["Retry-After"]) <= 30
    assert len([r for r in standin.requests() if r["method"] != "countTokens"]) == 1
    lines = functions.log_of(url).read_text().splitlines()
    downs = [line for line in lines if "limit_store_down" in line and '"ERROR"' in line]
    assert len(downs) == 1 and json.loads(downs[0])["severity"] == "ERROR"


def test_store_holds_only_pseudonyms(functions, firestore, sign_in, standin):
    email = "stored.person@example.com"
    token = sign_in(email)
    url = functions.url("chat", **firestore.settings)
    assert chat_json(url, token).status_code == 200
    anonymous = functions.url("chat", REQUIRE_AUTH="false", **firestore.settings)
    assert chat_json(anonymous, None, **{"X-Forwarded-For": "198.51.100.99"}).status_code == 200
    stored = firestore.dump()
    assert stored, "nothing was stored: the check below would prove nothing"
    text = json.dumps(stored, default=str)
    uid = claims_of(token)["user_id"]
    for raw in (email, uid, "198.51.100.99"):
        assert raw not in text
    assert "uid:" in text and "ip:" in text
    CANARIES.add(uid)


@pytest.fixture(autouse=True)
def _fresh_store(request):
    if "firestore" in request.fixturenames:
        request.getfixturevalue("firestore").emulator.reset()
