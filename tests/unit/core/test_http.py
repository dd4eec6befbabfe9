"""core.http.Endpoint as functions-framework serves it: headers, CORS allow-list, preflights."""

from __future__ import annotations

import pytest

from tests.spec import PREFLIGHT_ALLOW_HEADERS as PREFLIGHT_HEADERS
from tests.spec import SECURITY_HEADERS as SPEC_HEADERS

ORIGIN = "https://app.example"
DEV = {"APP_ENV": "development", "ALLOWED_ORIGINS": ORIGIN, "FIREBASE_PROJECT_ID": "demo-test"}


@pytest.fixture(scope="module")
def health(staged_client):
    return staged_client("health", **DEV)


@pytest.fixture(scope="module")
def auth(staged_client):
    return staged_client("auth", **DEV)


def assert_security_headers(response):
    for name, value in SPEC_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert response.headers.get("X-XSS-Protection") in (None, "0")
    assert response.headers.get("Access-Control-Allow-Origin") != "*"
    assert "Access-Control-Allow-Credentials" not in response.headers


def assert_no_cors(response):
    assert not [name for name in response.headers.keys() if name.startswith("Access-Control-")]


def assert_cors_for(response, origin):
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "Origin" in response.vary
    assert response.headers["Access-Control-Expose-Headers"] == "Retry-After"


def preflight(client, path, origin=ORIGIN, method="GET"):
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                         "Access-Control-Request-Headers": "authorization"})


def error_code(response):
    assert response.mimetype == "application/json"
    return response.get_json()["error"]["code"]


# --- health: the whole body, headers on every status ---------------------------------------------

@pytest.mark.parametrize("path", ["/api/health", "/"])
def test_health_answers_ok_and_nothing_more(health, path):
    response = health.get(path)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert_security_headers(response)


def test_health_head(health):
    response = health.head("/api/health")
    assert response.status_code == 200
    assert_security_headers(response)


def test_unknown_path_is_json_404_with_headers(health):
    response = health.get("/api/nope")
    assert (response.status_code, error_code(response)) == (404, "not_found")
    assert_security_headers(response)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_wrong_method_is_405_with_allow(health, method):
    response = health.open("/api/health", method=method)
    assert (response.status_code, error_code(response)) == (405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, HEAD"
    assert_security_headers(response)


def test_allowed_origin_is_echoed(health):
    response = health.get("/api/health", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert_cors_for(response, ORIGIN)
    assert_security_headers(response)


def test_allowed_origin_also_on_errors_so_the_browser_can_read_them(health):
    response = health.post("/api/health", headers={"Origin": ORIGIN})
    assert response.status_code == 405
    assert_cors_for(response, ORIGIN)


def test_no_origin_is_handled_normally_without_cors(health):
    response = health.get("/api/health")
    assert response.status_code == 200
    assert_no_cors(response)


BAD_ORIGINS = ["https://evil.example", "null", "https://app.example.evil.com",
               "https://app.example:443", "http://app.example", "https://APP.example",
               "https://app.example/", "https://sub.app.example", "*", ""]


@pytest.mark.parametrize("origin", BAD_ORIGINS)
def test_disallowed_origin_is_403_without_cors_headers(health, origin):
    response = health.get("/api/health", headers={"Origin": origin})
    assert (response.status_code, error_code(response)) == (403, "permission_denied")
    assert_no_cors(response)
    assert_security_headers(response)


def test_disallowed_origin_is_refused_before_routing(health):
    response = health.get("/api/nope", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403


# --- auth: preflights and a handler that runs (or not) --------------------------------------------

@pytest.mark.parametrize(("path", "methods"), [
    ("/api/auth", "GET, OPTIONS"), ("/", "GET, OPTIONS"),
    ("/api/auth/revoke", "POST, OPTIONS"), ("/revoke", "POST, OPTIONS"),
])
def test_preflight_from_allowed_origin(auth, path, methods):
    response = preflight(auth, path)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert_cors_for(response, ORIGIN)
    assert response.headers["Access-Control-Allow-Methods"] == methods
    assert response.headers["Access-Control-Allow-Headers"] == PREFLIGHT_HEADERS
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert_security_headers(response)


@pytest.mark.parametrize("origin", BAD_ORIGINS)
def test_preflight_from_disallowed_origin_is_403_without_cors(auth, origin):
    response = preflight(auth, "/api/auth", origin=origin)
    assert (response.status_code, error_code(response)) == (403, "permission_denied")
    assert_no_cors(response)
    assert_security_headers(response)


def test_preflight_on_unknown_path_is_404(auth):
    response = preflight(auth, "/api/auth/nope")
    assert response.status_code == 404
    assert "Access-Control-Allow-Methods" not in response.headers
    assert_security_headers(response)


def test_simple_request_gets_no_preflight_headers(auth):
    response = auth.get("/api/auth", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Methods" not in response.headers
    assert "Access-Control-Max-Age" not in response.headers


def test_whoami_without_token_is_401_bearer(auth):
    response = auth.get("/api/auth", headers={"Origin": ORIGIN})
    assert (response.status_code, error_code(response)) == (401, "unauthenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert_cors_for(response, ORIGIN)
    assert_security_headers(response)


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc",
                                    "Bearer " + "a" * 5000])
def test_malformed_authorization_is_401_without_verifying(auth, header):
    response = auth.get("/api/auth", headers={"Authorization": header})
    assert (response.status_code, error_code(response)) == (401, "unauthenticated")


def test_disallowed_origin_never_reaches_the_handler(auth):
    # Without the origin check the handler would answer 401 (no token); it must be 403.
    response = auth.post("/api/auth/revoke", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403


def test_revoke_needs_post(auth):
    response = auth.get("/api/auth/revoke")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST, OPTIONS"


def test_error_bodies_never_carry_internals(auth, health):
    for response in (auth.get("/api/auth", headers={"Authorization": "Bearer abc.def.ghi"}),
                     health.get("/x"), health.delete("/api/health")):
        text = response.get_data(as_text=True)
        assert "Traceback" not in text and "/core/" not in text and ".py" not in text
        assert "abc.def.ghi" not in text


# --- framework routes outside Endpoint ----------------------------------------------------------

@pytest.mark.parametrize("path", ["/favicon.ico", "/robots.txt"])
def test_framework_404_routes_carry_the_security_headers(health, path):
    # functions-framework answers these two paths itself, before the function is called.
    response = health.get(path)
    assert response.status_code == 404
    assert_security_headers(response)


def test_unknown_exception_is_a_generic_500_logged_with_frames_only(captured):
    import flask
    from core.config import load_config
    from core.http import Endpoint

    endpoint = Endpoint(load_config("health", {"APP_ENV": "development"}))
    private = "private detail " + "canary-7f3e"  # runtime data, as a user message would be

    @endpoint.route("/", methods=("GET",))
    def explode(request):
        raise RuntimeError(private)

    with flask.Flask("probe").test_request_context("/"):
        response = endpoint.handle(flask.request)
    assert response.status_code == 500
    assert response.get_json() == {"error": {"code": "internal",
                                             "message": "Something went wrong on our side."}}
    assert response.headers["Cache-Control"] == "no-store"
    [failure] = [e for e in captured() if e["message"] == "unhandled error"]
    assert failure["severity"] == "ERROR"
    assert "in explode" in failure["stack_trace"]
    assert failure["stack_trace"].endswith("RuntimeError")
    assert "canary-7f3e" not in captured.raw()


def test_stream_body_logs_keep_the_request_trace(captured):
    import flask
    from core import log
    from core.config import load_config
    from core.http import Endpoint

    endpoint = Endpoint(load_config("health", {"APP_ENV": "development"}))

    @endpoint.route("/", methods=("GET",))
    def stream(request):
        def body():
            log.logger.warning("inside the stream")
            yield b"x"
        return flask.Response(body())

    trace = "0123456789abcdef0123456789abcdef"
    with flask.Flask("probe").test_request_context(
            "/", headers={"X-Cloud-Trace-Context": f"{trace}/1;o=1"}):
        response = endpoint.handle(flask.request)
    assert b"".join(response.response) == b"x"  # consumed after handle() returned
    [inside] = [e for e in captured() if e["message"] == "inside the stream"]
    assert inside["logging.googleapis.com/trace"] == trace


# --- what is logged of a request, and the 408 ---------------------------------------------------

@pytest.mark.parametrize(("method", "logged"), [
    ("GET", "GET"), ("HEAD", "HEAD"), ("POST", "POST"), ("PUT", "PUT"), ("PATCH", "PATCH"),
    ("DELETE", "DELETE"), ("OPTIONS", "OPTIONS"), ("PROPFIND", "OTHER"), ("M-SEARCH", "OTHER"),
    ("TRACE", "OTHER"), ("Zq9METHOD", "OTHER"), ("X" * 200, "OTHER"),
])
def test_logged_method_comes_from_a_fixed_set(health, captured, method, logged):
    health.open("/api/health", method=method)
    [line] = [e for e in captured() if e["message"] == "request"]
    assert line["method"] == logged
    assert "Zq9" not in captured.raw()


def endpoint_with(handler, **env):
    from core.config import load_config
    from core.http import Endpoint

    endpoint = Endpoint(load_config("chat", {"APP_ENV": "development", **env}))
    endpoint.route("/", methods=("POST",))(handler)
    return endpoint


def test_request_timeout_is_a_408_with_headers_and_a_validation_event(captured):
    import flask
    from core.errors import ApiError

    def slow(request):
        raise ApiError("request_timeout", reason="body_idle")

    with flask.Flask("probe").test_request_context("/", method="POST"):
        response = endpoint_with(slow).handle(flask.request)
    assert response.status_code == 408
    assert response.get_json() == {"error": {"code": "request_timeout",
                                             "message": "The request body did not arrive in time."}}
    assert_security_headers(response)
    [event] = [e for e in captured() if e.get("event") == "validation_failed"]
    assert event["reason"] == "body_idle" and event["subject"].startswith("ip:")


def test_body_timeout_reaches_read_json(captured):
    import flask
    from core.body import TIMEOUT_KEY

    seen = []

    def handler(request):
        seen.append(request.environ.get(TIMEOUT_KEY))
        return flask.Response(status=204)

    with flask.Flask("probe").test_request_context("/", method="POST"):
        endpoint_with(handler, REQUEST_BODY_TIMEOUT_S="7").handle(flask.request)
    assert seen == [7.0]


def test_answer_before_the_body_never_waits_for_it(captured):
    # A handler refusing before it reads the body (401 without a token): nobody reads the
    # body after the answer either (functions-framework would, with no deadline), and the
    # connection closes (under gunicorn its socket is shut for reading).
    import socket
    import threading
    import time

    import flask
    from core.errors import ApiError
    from gunicorn.http.body import Body, LengthReader
    from gunicorn.http.unreader import SocketUnreader

    def refuse(request):
        raise ApiError("unauthenticated")

    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    bound = threading.Timer(2, client.shutdown, (socket.SHUT_WR,))  # if it did wait: not forever
    bound.start()
    with client, server:
        client.sendall(b'{"message":')  # of 1000 announced bytes
        environ = {"wsgi.input": Body(LengthReader(SocketUnreader(server), 1000)),
                   "gunicorn.socket": server, "wsgi.input_terminated": True}
        with flask.Flask("probe").test_request_context(
                "/", method="POST", content_type="application/json", content_length=1000,
                environ_overrides=environ):
            response = endpoint_with(refuse).handle(flask.request)
            assert response.status_code == 401
            started = time.monotonic()
            assert flask.request.get_data() == b""  # what functions-framework calls next
            assert time.monotonic() - started < 0.1
        server.settimeout(1)
        assert server.recv(100) == b'{"message":'
        assert server.recv(100) == b""  # end of data at once: reading is shut
    bound.cancel()


# --- the `request` line of a streamed answer is written when its stream ends -------------------

class Body:
    """A streamed body that may say how it ended (`final_status`), as chat's SSE does."""

    def __init__(self, chunks, final_status=None, error=None):
        self._chunks, self._final, self._error = list(chunks), final_status, error
        self.final_status = None
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self):
        if self._chunks:
            return self._chunks.pop(0)
        if self._error is not None:
            raise self._error
        self.final_status = self._final
        raise StopIteration

    def close(self):
        self.closed = True


def streamed(captured, body, consume):
    """Serve `body` as a streamed answer, let `consume` act as the server, return the log lines
    named `request` (with the subject the request had)."""
    import flask

    def handler(request):
        return flask.Response(body, mimetype="text/event-stream")

    with flask.Flask("probe").test_request_context("/", method="POST"):
        response = endpoint_with(handler).handle(flask.request)
    assert response.status_code == 200
    assert [e for e in captured() if e["message"] == "request"] == []  # not at the first byte
    consume(response.response)
    return [e for e in captured() if e["message"] == "request"]


def read_all_then_close(iterable):
    list(iterable)
    iterable.close()


@pytest.mark.parametrize("final_status, logged", [(200, 200), (504, 504), (None, 200)],
                         ids=["done", "error_event", "no_final_status"])
def test_a_stream_read_to_its_end_is_logged_with_its_final_status(captured, final_status,
                                                                  logged):
    body = Body([b"a", b"b"], final_status=final_status)
    [line] = streamed(captured, body, read_all_then_close)
    assert (line["status"], line["stream"], line["route"]) == (logged, "complete", "handler")
    assert body.closed
    assert line["subject"].startswith("ip:")  # the request's log context, after it returned
    assert 0 <= line["first_byte_ms"] <= line["latency_ms"]


def test_a_stream_the_client_left_is_logged_client_closed(captured):
    from core.http import CLIENT_CLOSED

    def leave_after_one(iterable):
        next(iterable)
        iterable.close()
        iterable.close()  # a second close logs nothing more

    [line] = streamed(captured, Body([b"a", b"b"], final_status=200), leave_after_one)
    assert (line["status"], line["stream"]) == (CLIENT_CLOSED, "client_closed")
    assert CLIENT_CLOSED == 499  # nginx's "client closed request", as log tools know it


def test_a_stream_closed_before_its_first_chunk_has_no_first_byte(captured):
    [line] = streamed(captured, Body([b"a"], final_status=200), lambda iterable: iterable.close())
    assert (line["status"], line["first_byte_ms"]) == (499, None)


def test_a_stream_that_raises_is_logged_failed(captured):
    def server(iterable):
        next(iterable)
        with pytest.raises(RuntimeError):
            next(iterable)
        iterable.close()

    [line] = streamed(captured, Body([b"a"], error=RuntimeError("boom")), server)
    assert (line["status"], line["stream"]) == (500, "failed")


def test_a_plain_answer_is_logged_at_once_without_stream_fields(captured):
    import flask

    with flask.Flask("probe").test_request_context("/", method="POST"):
        endpoint_with(lambda request: flask.Response(status=204)).handle(flask.request)
    [line] = [e for e in captured() if e["message"] == "request"]
    assert line["status"] == 204 and "stream" not in line and "first_byte_ms" not in line
