"""Slow request bodies (issue #8, M2) against real functions-framework processes: connections
that declare a body and then trickle it (or go silent) must not hold the worker threads.

Each process under test runs with THREADS worker threads and REQUEST_BODY_TIMEOUT_S=1, and gets
more tricklers than it has threads; a legitimate request started while they trickle must still
be answered within 2 s, and every trickler must get its answer and lose its connection.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

from tests.integration.harness import CANARIES
from tests.spec import SECURITY_HEADERS

TIMEOUT_S = 1  # REQUEST_BODY_TIMEOUT_S of the processes under test
TRICKLERS = 12
DECLARED = 1000  # the Content-Length every trickler announces
MIN_BODY_RATE = 64 * 1024  # bytes/s, written out from the design (core.body.MIN_BODY_RATE)
LEGIT_WITHIN_S = 2.0
WATCH_S = 7.0  # how long a trickler waits for its answer and the close, at most


class Trickler(threading.Thread):
    """One raw connection: request head and the first bytes of a body, then either silence
    (`every=None`) or one more byte every `every` seconds; never the whole body. Records when
    the answer came and when the server closed the connection."""

    def __init__(self, url: str, path: str = "/", method: str = "POST", first: bytes = b"",
                 every: float | None = None, chunked: bool = False,
                 headers: dict[str, str] | None = None):
        super().__init__(daemon=True)
        self.address = (urlsplit(url).hostname, urlsplit(url).port)
        framing = ("Transfer-Encoding: chunked" if chunked else f"Content-Length: {DECLARED}")
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self.head = (f"{method} {path} HTTP/1.1\r\nHost: {self.address[0]}\r\n"
                     f"Content-Type: application/json\r\n{extra}{framing}\r\n\r\n").encode()
        self.first = first if not chunked else b"%x\r\n%s\r\n" % (len(first), first)
        self.every = every
        self.chunked = chunked
        self.raw = b""
        self.started = self.answered = self.closed = None

    def run(self) -> None:
        with socket.create_connection(self.address, timeout=5) as sock:
            self.started = time.monotonic()
            sock.sendall(self.head + self.first)
            sock.settimeout(self.every or 0.1)
            while time.monotonic() - self.started < WATCH_S:
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    if self.every and self.closed is None:
                        try:
                            sock.send(b"1\r\n \r\n" if self.chunked else b" ")
                        except OSError:  # the server closed: a reset on our send
                            self._closed()
                    continue
                except OSError:  # reset after the server closed
                    self._closed()
                    break
                if not data:
                    self._closed()
                    break
                self.raw += data
                if self.answered is None and b"\r\n\r\n" in self.raw:
                    self.answered = time.monotonic()

    def _closed(self) -> None:
        if self.closed is None:
            self.closed = time.monotonic()

    @property
    def status(self) -> int | None:
        if not self.raw:
            return None
        return int(self.raw.split(b"\r\n", 1)[0].split()[1])

    @property
    def headers(self) -> dict[str, str]:
        head = self.raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
        return {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in head)}

    @property
    def body(self) -> bytes:
        rest = self.raw.split(b"\r\n\r\n", 1)[1]
        return rest[:int(self.headers.get("content-length", len(rest)))]

    def one_answer(self) -> bool:
        """Exactly one response on the connection: nothing (a second one) after its body."""
        head, _, rest = self.raw.partition(b"\r\n\r\n")
        return len(rest) == int(self.headers["content-length"])

    def answer_after(self) -> float | None:
        return None if self.answered is None else self.answered - self.started

    def closed_after_answer(self) -> float | None:
        if self.answered is None or self.closed is None:
            return None
        return self.closed - self.answered


def run_tricklers(tricklers: list[Trickler], legit) -> tuple[object, float]:
    """Start the tricklers, then (while they trickle) the legitimate request; return its
    result and how long it took. Waits for every trickler to finish watching."""
    for trickler in tricklers:
        trickler.start()
    time.sleep(0.3)  # they all sent their heads and first bytes: they are trickling now
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        try:
            result = pool.submit(legit).result()
        except requests.RequestException as error:  # a timeout: reported by the caller
            result = error
    took = time.monotonic() - started
    for trickler in tricklers:
        trickler.join(WATCH_S + 5)
    return result, took


def mixed(url: str, count: int = TRICKLERS, **kwargs) -> list[Trickler]:
    """Half go silent after their first bytes (the idle deadline), half send a byte every
    0.25 s, under the idle timeout (the total cap)."""
    return [Trickler(url, every=None if i % 2 else 0.25, **kwargs) for i in range(count)]


def describe(tricklers: list[Trickler]) -> str:
    return "; ".join(f"status={t.status} answer={t.answer_after()} close={t.closed_after_answer()}"
                     for t in tricklers)


# --- unauthenticated tricklers: answered at once, connection closed, no thread held -----------

@pytest.fixture
def bearer(sign_in):
    return {"Authorization": f"Bearer {sign_in()}"}


def legit_chat(url, headers):
    return lambda: requests.post(url, json={"message": "hi"}, headers=headers,
                                 timeout=LEGIT_WITHIN_S + 3)


CASES = {
    # function, trickler method and path, status a trickler gets, the legitimate request
    "chat": ("POST", "/", 401, lambda url, bearer: legit_chat(url, bearer)),
    "auth": ("POST", "/api/auth/revoke", 401,
             lambda url, bearer: lambda: requests.get(f"{url}/api/auth", headers=bearer,
                                                      timeout=LEGIT_WITHIN_S + 3)),
    # health takes no body at all: a GET that announces one is answered without reading it
    "health": ("GET", "/api/health", 200,
               lambda url, bearer: lambda: requests.get(f"{url}/api/health",
                                                        timeout=LEGIT_WITHIN_S + 3)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_tricklers_without_a_token_hold_no_thread(functions, standin, bearer, name):
    method, path, status, legit = CASES[name]
    url = functions.url(name, THREADS="4", REQUEST_BODY_TIMEOUT_S=str(TIMEOUT_S))
    tricklers = mixed(url, method=method, path=path, first=b'{"message":')
    response, took = run_tricklers(tricklers, legit(url, bearer))
    print(f"{name}: legitimate request {took:.2f}s; tricklers: {describe(tricklers)}")
    assert not isinstance(response, Exception), f"{response!r} after {took:.2f}s"
    assert response.status_code == 200
    assert took < LEGIT_WITHIN_S
    for trickler in tricklers:
        assert trickler.status == status, describe(tricklers)
        assert trickler.one_answer()
        assert trickler.answer_after() < TIMEOUT_S, describe(tricklers)
        # The rest of the body is never waited for: the server closes the connection.
        assert trickler.closed_after_answer() is not None, describe(tricklers)
        assert trickler.closed_after_answer() < 1.0, describe(tricklers)
        for header, value in SECURITY_HEADERS.items():
            assert trickler.headers.get(header.lower()) == value


# --- tricklers that reach the body read: 408 within the cap, then closed --------------------

def assert_408(trickler: Trickler) -> None:
    assert trickler.status == 408
    assert trickler.one_answer()
    assert trickler.headers["content-type"].startswith("application/json")
    assert json.loads(trickler.body) == {"error": {
        "code": "request_timeout", "message": "The request body did not arrive in time."}}
    for header, value in SECURITY_HEADERS.items():
        assert trickler.headers.get(header.lower()) == value


def request_lines(log_path, status: int) -> list[dict]:
    lines = []
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("message") == "request" and entry.get("status") == status:
                lines.append(entry)
    return lines


def test_tricklers_reaching_the_body_read_get_408_and_free_their_thread(functions, standin):
    # Anonymous chat reads the body of anyone. 8 threads for 12 tricklers: each holds a thread
    # for at most its cap, so the legitimate request waits for one round of them at most.
    url = functions.url("chat", REQUIRE_AUTH="false", THREADS="8",
                        REQUEST_BODY_TIMEOUT_S=str(TIMEOUT_S))
    canary = "canary-trickled-" + secrets.token_hex(8)
    CANARIES.add(canary)
    tricklers = mixed(url, first=b'{"message": "' + canary.encode())
    response, took = run_tricklers(tricklers, legit_chat(url, {}))
    print(f"anonymous chat: legitimate request {took:.2f}s; tricklers: {describe(tricklers)}")
    assert not isinstance(response, Exception), f"{response!r} after {took:.2f}s"
    assert response.status_code == 200
    assert took < LEGIT_WITHIN_S
    cap = TIMEOUT_S + DECLARED / MIN_BODY_RATE
    for trickler in tricklers:
        assert_408(trickler)
        assert trickler.answer_after() < 2 * cap + 1.0, describe(tricklers)  # two rounds at most
        assert trickler.closed_after_answer() is not None, describe(tricklers)
        assert trickler.closed_after_answer() < 1.0, describe(tricklers)
    # Server side, from the moment a thread took it: 408 within the cap, never later.
    log = functions.log_of(url)
    timed_out = request_lines(log, 408)
    assert len(timed_out) == TRICKLERS
    assert all(entry["latency_ms"] < cap * 1000 + 500 for entry in timed_out), timed_out
    events = [json.loads(line) for line in log.read_text().splitlines()
              if line.startswith("{") and '"validation_failed"' in line]
    reasons = sorted(e["reason"] for e in events if e.get("reason", "").startswith("body_"))
    assert reasons == ["body_idle"] * 6 + ["body_total"] * 6
    assert canary not in log.read_text()


def test_chunked_trickler_gets_408_within_its_cap(functions, standin):
    url = functions.url("chat", REQUIRE_AUTH="false", THREADS="8", MAX_REQUEST_BYTES="65536",
                        REQUEST_BODY_TIMEOUT_S=str(TIMEOUT_S))
    tricklers = [Trickler(url, first=b'{"message":', chunked=True, every=every)
                 for every in (None, 0.25)]
    response, took = run_tricklers(tricklers, legit_chat(url, {}))
    assert not isinstance(response, Exception) and response.status_code == 200
    cap = TIMEOUT_S + 65536 / MIN_BODY_RATE  # no Content-Length: MAX_REQUEST_BYTES counts
    for trickler in tricklers:
        assert_408(trickler)
        assert trickler.answer_after() < cap + 0.5, describe(tricklers)
        assert trickler.closed_after_answer() is not None, describe(tricklers)


def test_honest_upload_slower_than_the_idle_timeout_is_not_cut(functions, standin):
    # 60 kB in pieces 0.15 s apart: 1.35 s in all, longer than REQUEST_BODY_TIMEOUT_S, but
    # never idle that long and within its cap (1 s + 60 kB / 64 KiB/s).
    url = functions.url("chat", REQUIRE_AUTH="false", THREADS="8",
                        REQUEST_BODY_TIMEOUT_S=str(TIMEOUT_S))
    body = b'{"message": "hi"' + b" " * 59_983 + b"}"
    assert len(body) == 60_000
    address = (urlsplit(url).hostname, urlsplit(url).port)
    head = (f"POST / HTTP/1.1\r\nHost: {address[0]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    started = time.monotonic()
    raw = b""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(head)
        for index in range(0, len(body), 6000):
            if index:
                time.sleep(0.15)
            sock.sendall(body[index:index + 6000])
        while data := sock.recv(65536):
            raw += data
    assert time.monotonic() - started > TIMEOUT_S
    head, _, answer = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), raw[:300]
    assert json.loads(answer)["reply"]
