"""Fuzz every endpoint of chat, auth and health as deployed (functions-framework processes, raw
HTTP): random JSON, chat bodies, content types, header values, paths, methods, malformed HTTP.
Every reply: no 5xx, openapi.yaml's error envelope and headers, no traceback or canary; then
the logs.
"""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from tests.integration.fuzz_attachments import MAX_ATTACHMENT_BYTES
from tests.integration.fuzz_http import (ALLOWED_ORIGINS, check_any_reply, check_reply, exchange,
                                         request_bytes)
from tests.integration.fuzz_inputs import (JSON, KNOWN_PATHS, MAX_BYTES, METHODS, ROUTES, VALID,
                                           attachment_bodies, auth_kind, chat_bodies,
                                           chat_statuses, dump,
                                           header_bytes, header_sets, header_texts, hosts,
                                           json_bodies, made_up_methods, malformed,
                                           mutated_requests, nested, odd_paths)
from tests.integration.harness import APP_ORIGIN, CANARIES, claims_of
from tests.media_files import attachment, png
from tests.spec import PREFLIGHT_ALLOW_HEADERS

GENEROUS = {"RATE_LIMITS": "100000/minute", "AUTH_RATE_LIMITS": "100000/minute",
            "DAILY_TOKEN_BUDGET": str(10**12), "GLOBAL_DAILY_TOKEN_BUDGET": str(10**13),
            "MAX_CONCURRENT_STREAMS_PER_USER": "100"}


def fuzz(examples: int):
    """A fixed number of examples (predictable time) and no example database in the tree."""
    return settings(max_examples=examples, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


class Stack:
    """The fuzzed processes (their own K_REVISION: their own logs) and one signed-in user."""

    def __init__(self, functions, sign_in):
        self.functions = functions
        # MAX_REQUEST_BYTES: the contract's 64 KiB of old, which the body sizes fuzz around; small
        # attachments, so that a too-large one fits in such a body.
        self.chat = functions.url("chat", K_REVISION="fuzz", MAX_REQUEST_BYTES=str(MAX_BYTES),
                                  MAX_ATTACHMENT_BYTES=str(MAX_ATTACHMENT_BYTES), **GENEROUS)
        self.chat_default = functions.url("chat", K_REVISION="fuzz-default")
        self.auth = functions.url("auth", K_REVISION="fuzz", **GENEROUS)
        self.health = functions.url("health", K_REVISION="fuzz")
        self.url = {"chat": self.chat, "auth": self.auth, "health": self.health}
        self.token = sign_in(name="Fuzz Person")
        claims = claims_of(self.token)
        self.own = (claims["user_id"], claims["email"])  # what GET /api/auth may answer

    def send(self, url: str, method: str, target, headers: list, body: bytes = b""):
        """One request; VALID in `headers` becomes the user's token."""
        headers = [(name, f"Bearer {self.token}" if value is VALID else value)
                   for name, value in headers]
        raw = request_bytes(method, target, headers, body)
        with contextlib.suppress(InvalidArgument):  # outside a hypothesis test: no notes
            note(f"request: {raw[:600]!r}")
        return exchange(url, raw, method)

    def own_for(self, function: str) -> tuple:
        return self.own if function == "auth" else ()


@pytest.fixture(scope="module")
def stack(functions, sign_in, standin_server) -> Stack:
    standin_server.reset()  # no scripted failure left by another test: the stand-in echoes
    return Stack(functions, sign_in)


def refused_origin(reply, origin) -> bool:
    """A disallowed Origin is refused first (403) by every route; True if it was."""
    if origin is not None and origin not in ALLOWED_ORIGINS:
        assert reply.status == 403, reply.status
        return True
    return False


def assert_chat_answer(reply, message: str, attachments: int = 0) -> None:
    """A 200 from chat: the stand-in's echo of `message` (and of how many files the message
    carried: a blank text with files is left out), as JSON or as a finished stream."""
    kind = reply.header("Content-Type") or ""
    if kind.startswith("text/event-stream"):
        events = [block.partition("\n")[0] for block in reply.body.decode().split("\n\n") if block]
        assert events and events[-1] == "event: done", events[-3:]
    else:
        assert kind.startswith("application/json"), kind
        echo = json.loads(reply.body)["reply"]
        if not attachments:
            assert echo == "Echo: " + message
            return
        text = message if message.strip() else ""
        files = f"[{attachments} attachment{'s' * (attachments != 1)}: "
        assert echo.startswith(f"Echo: {text}{' ' * bool(text)}{files}") and echo.endswith("]"), \
            echo


# ---- paths and methods, every function -----------------------------------------------------

@fuzz(600)
@given(function=st.sampled_from(sorted(ROUTES)), method=st.sampled_from(METHODS) | made_up_methods,
       path=st.sampled_from(KNOWN_PATHS) | odd_paths, query=st.sampled_from(["", "?x=1", "?"]),
       headers=header_sets(content_type=False), body=st.sampled_from([b"", b"{}", b"x" * 100]))
@example(function="chat", method="OPTIONS", path="/api/chat", query="",
         headers=([("Origin", APP_ORIGIN), ("Access-Control-Request-Method", "POST")], APP_ORIGIN),
         body=b"")
def test_any_method_on_any_path(stack, function, method, path, query, headers, body):
    headers, origin = headers
    reply = stack.send(stack.url[function], method, path + query, headers, body)
    check_reply(reply, method, origin, may_contain=stack.own_for(function))
    if path not in KNOWN_PATHS or refused_origin(reply, origin):
        return
    methods = ROUTES[function].get(path)
    if methods is None:
        assert reply.status == 404, reply.status
    elif method == "OPTIONS" and "OPTIONS" in methods:
        assert reply.status == 204 and reply.body == b""
        if origin is not None:  # a preflight from an allowed origin
            assert reply.header("Access-Control-Allow-Methods") == ", ".join(methods)
            assert reply.header("Access-Control-Allow-Headers") == PREFLIGHT_ALLOW_HEADERS
            assert reply.header("Access-Control-Max-Age") == "600"
    elif method not in methods:
        assert reply.status == 405 and reply.header("Allow") == ", ".join(methods)
    else:
        assert reply.status not in (404, 405)


@fuzz(150)
@given(function=st.sampled_from(sorted(ROUTES)), host=hosts)
@example(function="health", host="..")
def test_host_header_values(stack, function, host):
    path, methods = sorted(ROUTES[function].items())[0]
    reply = stack.send(stack.url[function], methods[0], path, [("Host", host)])
    check_reply(reply, methods[0], may_contain=stack.own_for(function))
    if not werkzeug_accepts_host(host):  # HTTP: an invalid Host is a 400 (in our envelope)
        assert reply.status == 400 and json.loads(reply.body)["error"]["code"] == "invalid_argument"
        return
    # Otherwise the Host plays no part in the contract: the same answer as a plain request's.
    assert reply.status == {"chat": 401, "auth": 401, "health": 200}[function], reply.status


def werkzeug_accepts_host(host: str) -> bool:
    """The server's own rule (werkzeug routes by Host and refuses one it cannot parse)."""
    from werkzeug.exceptions import BadHost
    from werkzeug.routing import Map
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder().get_environ()
    environ["HTTP_HOST"] = host.decode("latin-1") if isinstance(host, bytes) else host
    try:
        Map().bind_to_environ(environ)
    except BadHost:
        return False
    return True


# ---- request bodies: random JSON and chat-shaped ---------------------------------------------

def check_chat_body(stack, body: bytes) -> None:
    reply = stack.send(stack.chat, "POST", "/", [("Authorization", VALID), JSON], body)
    check_reply(reply, "POST")
    expected = chat_statuses(body)
    assert reply.status in expected, (reply.status, sorted(expected), reply.body[:300])
    if expected == {200}:
        sent = json.loads(body)
        assert_chat_answer(reply, sent["message"], len(sent.get("attachments", [])))


@fuzz(550)
@given(body=json_bodies)
@example(body=nested(33, "list"))
@example(body=b'{"message": "' + b"[" * 40000 + b'"}')
@example(body=b'{"message": "\\ud800"}')
def test_random_json_bodies(stack, body):
    check_chat_body(stack, body)


@fuzz(400)
@given(body=chat_bodies, ascii_only=st.booleans())
def test_chat_shaped_bodies(stack, body, ascii_only):
    check_chat_body(stack, dump(body, ascii_only))


@fuzz(250)
@given(body=attachment_bodies, ascii_only=st.booleans())
@example(body={"message": " ", "attachments": [attachment(png(2, 2), "image/png")]},
         ascii_only=True)
def test_attachment_bodies(stack, body, ascii_only):
    check_chat_body(stack, dump(body, ascii_only))


JSON_TYPES = ["application/json", "Application/JSON", "APPLICATION/JSON"]
OTHER_TYPES = ["text/plain", "multipart/form-data", "application/x-www-form-urlencoded",
               "application/json-patch+json", "application/vnd.api+json", "text/json",
               "application/jsonx", "*/*", "json", "application/", "application/json/x"]
GOOD_PARAMS = ["", "; charset=utf-8", "; charset=UTF-8", ';charset="utf-8"', "; boundary=x"]
BAD_PARAMS = ["; charset=latin-1", "; charset=utf-16", "; charset=utf8x"]
ODD_PARAMS = ["; charset=utf-8; charset=latin-1", ";", "; =", "; charset", ";;;", '; charset=""']
TYPED_BODIES = [b'{"message": "typed"}', b"message=hi",
                b'--x\r\nContent-Disposition: form-data; name="message"\r\n\r\nhi\r\n--x--\r\n']


@fuzz(200)
@given(base=st.sampled_from(JSON_TYPES + OTHER_TYPES),
       params=st.sampled_from(GOOD_PARAMS + BAD_PARAMS + ODD_PARAMS),
       junk=st.none() | header_texts | header_bytes(), body=st.sampled_from(TYPED_BODIES))
def test_content_types(stack, base, params, junk, body):
    content_type = base + params if junk is None else junk
    headers = [("Authorization", VALID)] + [("Content-Type", content_type)] * bool(content_type)
    reply = stack.send(stack.chat, "POST", "/api/chat", headers, body)
    check_reply(reply, "POST")
    if junk is not None or params in ODD_PARAMS:
        return
    if base in JSON_TYPES and params in GOOD_PARAMS:
        assert reply.status == (200 if body.startswith(b"{") else 400), reply.status
    else:
        assert reply.status == 415, reply.status


# ---- header values on chat and auth ----------------------------------------------------------

@fuzz(400)
@given(headers=header_sets())
@example(headers=([("Authorization", VALID), ("Accept", "text/event-stream"), JSON], None))
@example(headers=([("Authorization", VALID), ("Origin", APP_ORIGIN), JSON], APP_ORIGIN))
def test_chat_header_values(stack, headers):
    headers, origin = headers
    reply = stack.send(stack.chat, "POST", "/", headers, b'{"message": "hi fuzz"}')
    check_reply(reply, "POST", origin)
    if refused_origin(reply, origin):
        return
    kind = auth_kind(headers)
    if kind == "missing":
        assert reply.status == 401, reply.status
    elif kind == "valid":
        assert reply.status == 200, reply.body[:300]
    if reply.status == 200:
        assert_chat_answer(reply, "hi fuzz")


@fuzz(300)
@given(path=st.sampled_from(sorted(ROUTES["auth"])),
       method=st.sampled_from(["GET", "POST", "OPTIONS", "HEAD"]),
       headers=header_sets(content_type=False))
@example(path="/api/auth", method="GET", headers=([("Authorization", VALID)], None))
def test_auth_header_values(stack, path, method, headers):
    headers, origin = headers
    reply = stack.send(stack.auth, method, path, headers)
    check_reply(reply, method, origin, may_contain=stack.own)
    if refused_origin(reply, origin):
        return
    kind = auth_kind(headers)
    if method not in ROUTES["auth"][path]:
        assert reply.status == 405
    elif method == "OPTIONS":
        assert reply.status == 204
    elif kind == "missing":
        assert reply.status == 401
    elif kind == "valid":
        assert reply.status == (200 if method == "GET" else 204), reply.body[:300]
        if method == "GET":
            me = json.loads(reply.body)
            assert (me["uid"], me["email"]) == stack.own and me["allowed"] is True


# ---- the default settings: real limits (30/minute), so refusals are 429s too -----------------

@pytest.fixture(scope="module")
def used_up_since(stack) -> float:
    """When this user's minute of the default-settings chat process began (the window opens
    with its first request), once the user has used it up."""
    statuses = []
    window_opened = time.monotonic()
    while 429 not in statuses and len(statuses) < 100:
        reply = stack.send(stack.chat_default, "POST", "/api/chat",
                           [("Authorization", VALID), JSON], b'{"message": "hello"}')
        check_reply(reply, "POST")
        statuses.append(reply.status)
    assert set(statuses[:-1]) == {200} and statuses[-1] == 429, statuses
    return window_opened


@fuzz(120)
@given(body=json_bodies | st.builds(dump, chat_bodies, st.booleans()), headers=header_sets())
@example(body=b'{"message": "hello"}', headers=([("Authorization", VALID), JSON], None))
def test_default_settings_slice(stack, used_up_since, body, headers):
    # JSON answers only: the stand-in streams a long echo at 20 chunks a second.
    headers, origin = [h for h in headers[0] if h[0] != "Accept"], headers[1]
    reply = stack.send(stack.chat_default, "POST", "/api/chat", headers, body)
    check_reply(reply, "POST", origin)
    if time.monotonic() - used_up_since < 50:  # within the minute: valid requests get a 429
        assert reply.status != 200
    if not refused_origin(reply, origin) and reply.status == 429:
        assert 1 <= int(reply.header("Retry-After")) <= 86400


# ---- malformed HTTP: a fixed table, then random byte edits of good requests ------------------

@pytest.mark.parametrize("function", sorted(ROUTES))
def test_malformed_http(stack, function):
    failures = []
    for method, raw in malformed(function, stack.token):
        reply = exchange(stack.url[function], raw, method, timeout=10, half_close=True)
        try:
            check_any_reply(reply, raw, method, stack.own_for(function))
        except AssertionError as failure:
            failures.append(f"{raw[:200]!r}\n    -> {failure}")
    assert not failures, f"{len(failures)} malformed requests:\n" + "\n".join(failures)


@fuzz(400)
@given(request=mutated_requests())
def test_mutated_requests(stack, request):
    function, raw = request
    raw = raw.replace(b"Bearer VALID", b"Bearer " + stack.token.encode())
    note(f"request: {raw[:400]!r}")
    method = raw.lstrip(b"\r\n").split(b" ", 1)[0].decode("latin-1")
    reply = exchange(stack.url[function], raw, method, timeout=10, half_close=True)
    check_any_reply(reply, raw, method, stack.own_for(function))


# ---- the logs of every fuzzed process --------------------------------------------------------

def test_logs_are_json_lines_without_secrets(stack):
    urls = (stack.chat, stack.chat_default, stack.auth, stack.health)
    for url in urls:  # at least one line each, even when this test runs alone
        check_reply(exchange(url, request_bytes("GET", "/nope", []), "GET"), "GET")
    time.sleep(0.3)  # let anything logged after the last response land
    problems = []
    for url in urls:
        path = stack.functions.log_of(url)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            where = f"{path.name}:{number}"
            try:
                entry = json.loads(line)
            except ValueError:
                problems.append(f"{where}: not JSON: {line[:160]!r}")
                continue
            if not isinstance(entry, dict):
                problems.append(f"{where}: not a JSON object")
            elif entry.get("severity") in ("ERROR", "CRITICAL") or "stack_trace" in entry:
                problems.append(f"{where}: {entry.get('severity')} {entry.get('message')!r}")
            problems += [f"{where}: canary {value[:12]}…" for value in CANARIES.values
                         if value in line]
    assert not problems, f"{len(problems)} log problems:\n" + "\n".join(problems[:20])
