"""The budget guarantee, end to end (issue #8): total charged >= what Gemini billed, and a budget
is overspent by at most one answer's reservation, however many clients race or drop their
streams. Chat processes share memory:// (one process), redis-server or the Firestore emulator
(three processes); the Gemini stand-in says what Gemini billed.
"""

from __future__ import annotations

import concurrent.futures
import json
import secrets
import threading
import time

import pytest
import redis
import requests

from tests.helpers import wait_until

BIG = "100000000"


class Store:
    """One shared store for one test: settings for the chat processes, and its global counter."""

    def __init__(self, kind: str, settings: dict, instances: int, read_global):
        self.kind, self.settings, self.instances = kind, settings, instances
        self._read_global = read_global

    def charged(self) -> int | None:
        """The deployment's budget counter for today (None: memory:// cannot be read)."""
        return self._read_global() if self._read_global else None


@pytest.fixture(params=["memory", "redis", "firestore"])
def store(request) -> Store:
    if request.param == "memory":
        return Store("memory", {"RATE_LIMIT_STORAGE": "memory://"}, 1, None)
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        db = 1 + secrets.randbelow(14)
        client = redis.Redis(host="127.0.0.1", port=server.port, db=db)
        client.flushdb()
        request.addfinalizer(client.flushdb)
        return Store("redis", {"RATE_LIMIT_STORAGE": f"{server.url}/{db}"}, 3, lambda: sum(
            int(client.get(key) or 0) for key in client.keys("LIMITS:budget/global/*")))
    firestore = request.getfixturevalue("firestore")
    collection = f"budgets_{secrets.token_hex(4)}"

    def read_global() -> int:
        from google.cloud import firestore as firestore_client

        with pytest.MonkeyPatch.context() as env:
            env.setenv("FIRESTORE_EMULATOR_HOST", firestore.emulator.host)
            client = firestore_client.Client(project="demo-jette")
            return sum(int(snap.to_dict()["count"]) for snap in
                       client.collection(collection).stream() if snap.id.startswith("budget|global"))

    settings = {**firestore.settings, "RATE_LIMIT_STORAGE": f"firestore://{collection}"}
    return Store("firestore", settings, 3, read_global)


def chat_urls(functions, store: Store, **settings: str) -> list[str]:
    label = secrets.token_hex(3)
    return [functions.url("chat", K_REVISION=f"budget-{label}-{i}", RATE_LIMITS="100000/minute",
                          MAX_CONCURRENT_STREAMS_PER_USER="100", **store.settings, **settings)
            for i in range(store.instances)]


def billed(standin, calls: int) -> int:
    """What Gemini billed, once `calls` generate calls have reached it and all of them ended."""
    def ended() -> list[dict] | None:
        records = [r for r in standin.requests() if r["method"] != "countTokens"]
        done = len(records) >= calls and all(r["state"] != "in_progress" for r in records)
        return records if done else None

    records = wait_until(ended, 20, f"{calls} generate call(s) to end", interval=0.1)
    return sum(r.get("billed_tokens", 0) for r in records)


def ended_requests(functions, urls: list[str]) -> int:
    """How many requests the chat processes have ended: each writes its `request` log line
    after its bill has settled (a stream's when the stream closes, the client gone or not)."""
    count = 0
    for url in urls:
        for raw in functions.log_of(url).read_text(errors="replace").splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:  # a line still being written, or not ours
                continue
            count += isinstance(entry, dict) and entry.get("message") == "request"
    return count


def settled_charge(store: Store, functions, urls: list[str], requests_sent: int) -> int | None:
    """The global counter once all `requests_sent` requests to `urls` have ended, so every
    settlement has landed (None: memory:// cannot be read)."""
    wait_until(lambda: ended_requests(functions, urls) >= requests_sent, 20,
               f"{requests_sent} requests to end and settle", interval=0.1)
    return store.charged()


def assert_refused_for_the_budget(responses: list[requests.Response]) -> None:
    """429 quota_exceeded; or, where this loaded machine made the store answer slower than its
    deadline, 503 unavailable (chat never counts a budget in one instance's memory)."""
    for response in responses:
        code = response.json()["error"]["code"]
        assert (response.status_code, code) in {(429, "quota_exceeded"), (503, "unavailable")}
    assert sum(r.status_code == 429 for r in responses) >= len(responses) // 2


def reservation(message: str, max_output: int) -> int:
    """What billing.reservation gives for one message without history (the default prompt)."""
    from core.config import DEFAULT_SYSTEM_PROMPT

    return len(DEFAULT_SYSTEM_PROMPT.encode()) + len(message.encode()) + 16 + max_output


def post_waiting_out_503(url: str, token: str, message: str) -> requests.Response:
    """POST `message`; where this loaded machine made the store slower than its deadline (503),
    again once the instance's incident window has passed."""
    for _ in range(3):
        response = requests.post(url, json={"message": message}, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 503:
            break
        time.sleep(int(response.headers["Retry-After"]))
    return response


def warm_up(urls: list[str], sign_in, standin) -> int:
    """One answer per instance first, as a deployment's instances have served before the rush:
    each has its store client and connection (building them 20 times at once on a loaded
    machine passed the store's 1.5 s deadline: all 503). Each costs 1 token; returns them."""
    standin.script(*[{"action": "reply", "chunks": ["Hi"], "usage": {
        "promptTokenCount": 1, "candidatesTokenCount": 0, "totalTokenCount": 1}}] * len(urls))
    token = sign_in()
    for url in urls:
        response = post_waiting_out_503(url, token, "hi")
        assert response.status_code == 200, response.text
    billed(standin, len(urls))
    standin.reset()
    return len(urls)


def test_sixty_users_racing_for_a_40_token_global_budget(functions, store, sign_in, standin):
    urls = chat_urls(functions, store, GLOBAL_DAILY_TOKEN_BUDGET="40", DAILY_TOKEN_BUDGET=BIG)
    warmed = warm_up(urls, sign_in, standin)
    sent = ended_requests(functions, urls) + 61  # the warm-up's, the 60 racing and one after
    tokens = [sign_in() for _ in range(60)]
    barrier = threading.Barrier(60)
    message = "Hello there, how are you today?"

    def one(number: int) -> requests.Response:
        barrier.wait()
        return requests.post(urls[number % len(urls)], json={"message": message}, timeout=60,
                             headers={"Authorization": f"Bearer {tokens[number]}"})

    with concurrent.futures.ThreadPoolExecutor(60) as pool:
        responses = list(pool.map(one, range(60)))
    answered = [r.status_code for r in responses].count(200)  # was 59-60 before reservations
    # Firestore reads the budget's shards as they were at each request's commit: as with one
    # counter, the first to commit is answered. Redis and memory:// read them a moment later:
    # racing requests can all see each other's reservations and all be refused (never the
    # reverse); the refusals give them back, and the room is the next request's.
    assert answered == 1 if store.kind == "firestore" else answered <= 1
    assert_refused_for_the_budget([r for r in responses if r.status_code != 200])
    after = post_waiting_out_503(urls[0], sign_in(), message)
    assert answered + (after.status_code == 200) == 1
    gemini = billed(standin, 1)
    assert 0 < gemini <= 40 - warmed + reservation(message, 2048)
    charged = settled_charge(store, functions, urls, sent)
    assert charged is None or charged == warmed + gemini  # complete answers are charged exactly


def test_dropped_streams_cannot_get_past_a_40_token_budget(functions, store, sign_in, standin):
    urls = chat_urls(functions, store, DAILY_TOKEN_BUDGET="40", GLOBAL_DAILY_TOKEN_BUDGET=BIG,
                     MAX_MESSAGE_CHARS="100000", MAX_REQUEST_BYTES="1048576")
    token = sign_in()
    prompt = "word " * 12_000  # 60,000 characters, ~15,000 tokens
    standin.script(*[{"action": "reply", "chunks": [f"w{i} " for i in range(20)],
                      "chunk_delay": 0.2}] * 14)
    statuses = []
    for number in range(14):
        with requests.post(urls[number % len(urls)], json={"message": prompt}, stream=True,
                           timeout=30, headers={"Authorization": f"Bearer {token}",
                                                "Accept": "text/event-stream"}) as response:
            statuses.append(response.status_code)
            if response.status_code == 200:
                next(response.iter_content(32))  # the first delta, then hang up
    assert statuses[0] == 200 and 200 not in statuses[1:]  # was 7-8 of 14 before
    assert set(statuses[1:]) <= {429, 503}
    gemini = billed(standin, 1)
    assert gemini >= 15_000  # the whole prompt was billed, though the client left at once
    charged = settled_charge(store, functions, urls, len(statuses))
    assert charged is None or gemini <= charged <= gemini + 20  # exact: input + output so far


def test_many_clients_racing_and_dropping_never_undercharge(functions, store, sign_in,
                                                            standin):
    max_output = 200
    message = "Tell me a story about budgets."
    one_answer = reservation(message, max_output)
    budget = 3 * one_answer
    urls = chat_urls(functions, store, GLOBAL_DAILY_TOKEN_BUDGET=str(budget),
                     DAILY_TOKEN_BUDGET=BIG, MAX_OUTPUT_TOKENS=str(max_output))
    tokens = [sign_in() for _ in range(12)]
    clients = 36
    standin.script(*[{"action": "reply", "chunks": [f"part{i} " for i in range(12)],
                      "chunk_delay": 0.1}] * clients)
    barrier = threading.Barrier(clients)

    def one(number: int) -> int:
        barrier.wait()
        with requests.post(urls[number % len(urls)], json={"message": message}, stream=True,
                           timeout=60, headers={"Authorization": f"Bearer {tokens[number % 12]}",
                                                "Accept": "text/event-stream"}) as response:
            if response.status_code == 200:
                chunks = response.iter_content(64)
                next(chunks)
                if number % 2 == 0:  # every other client reads the whole answer
                    for _ in chunks:
                        pass
            return response.status_code

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(one, range(clients)))
    admitted = statuses.count(200)
    assert admitted >= 1 and set(statuses) <= {200, 429, 503}
    gemini = billed(standin, admitted)
    assert gemini <= budget + one_answer  # overspent by at most one answer's reservation
    charged = settled_charge(store, functions, urls, clients)
    if charged is not None:
        assert charged >= gemini  # never less than Gemini billed
        assert charged <= budget + one_answer
