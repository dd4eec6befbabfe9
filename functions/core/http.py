"""Every request enters through an Endpoint: CORS allow-list, routes, methods, errors, headers,
the request's log context (trace id, caller's pseudonym) and its one `request` log line.

A function declares its routes; `Endpoint.handle` is what its functions-framework target calls.
"""

from __future__ import annotations

import contextvars
import logging
import time
from dataclasses import dataclass
from typing import Callable

import flask
from flask import Request, Response
from werkzeug.exceptions import HTTPException

from . import body, log
from .config import Config
from .errors import ApiError, error_response
from .identity import anonymous, client_ip

__all__ = ["Endpoint", "SECURITY_HEADERS", "CLIENT_CLOSED"]

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
_PREFLIGHT_HEADERS = "Authorization, Content-Type, X-Firebase-AppCheck"
# The logged status of a stream the client left before its end (nginx's "client closed request").
CLIENT_CLOSED = 499
# Refusals worth a security event; the rest (404, 405, upstream) are logged where they happen.
_REFUSAL_EVENTS = {"invalid_argument": "validation_failed", "payload_too_large": "validation_failed",
                   "unsupported_media_type": "validation_failed",
                   "request_timeout": "validation_failed"}
# The method is client text: logged as itself only when it is one of these.
_LOGGED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_FRAMEWORK_CODES = {404: "not_found", 405: "method_not_allowed", 408: "request_timeout",
                    413: "payload_too_large", 415: "unsupported_media_type"}

Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class _Route:
    name: str
    methods: tuple[str, ...]
    handler: Handler


class Endpoint:
    def __init__(self, config: Config):
        self.config = config
        self._routes: dict[str, _Route] = {}
        if flask.has_app_context():  # functions-framework imports the function inside its app
            _guard_framework_responses(flask.current_app)

    def route(self, *paths: str, methods: tuple[str, ...]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for path in paths:
                self._routes[path] = _Route(handler.__name__, methods, handler)
            return handler
        return register

    def handle(self, request: Request) -> Response:
        started = time.monotonic()
        # Until core.auth verifies a user, the caller is its client address: the pseudonym an
        # anonymous caller's limits count by (IPv6: its /64), computed once here.
        ip = client_ip(request.headers, request.remote_addr, self.config.trusted_proxy_hops)
        token = log.bind_request(request.headers, self.config.project_id,
                                 anonymous(self.config.secret_key, ip).subject)
        try:
            return self._answer(request, started)
        finally:
            log.reset_request(token)

    def _answer(self, request: Request, started: float) -> Response:
        origin = request.headers.get("Origin")
        cors = origin is not None and origin in self.config.allowed_origins
        route = self._routes.get(request.path)
        request.environ[body.TIMEOUT_KEY] = self.config.request_body_timeout_s
        try:
            response = self._dispatch(request, origin, cors, route)
        except ApiError as error:
            self._log_refusal(error)
            response = error_response(error)
        except Exception:
            log.logger.exception("unhandled error", extra={"fields": {"route": _name(route)}})
            response = error_response(ApiError("internal"))
        preflight = request.method == "OPTIONS" and route is not None and "OPTIONS" in route.methods
        self._decorate(response, origin if cors else None, preflight and route.methods)
        body.abandon_unread(request)  # answered before its body was read: never wait for it
        line = {"function": self.config.function, "route": _name(route),
                "method": request.method if request.method in _LOGGED_METHODS else "OTHER"}
        if response.is_streamed:
            # Produced after we return: logged when it ends, in this request's log context.
            response.response = _LoggedStream(contextvars.copy_context(), response, line,
                                              started)
        else:
            _log_request(line, response.status_code, started)
        return response

    def _dispatch(self, request: Request, origin: str | None, cors: bool,
                  route: _Route | None) -> Response:
        if origin is not None and not cors:
            # The origin is client-controlled text: log its kind, never its value.
            log.security_event("origin_rejected", function=self.config.function,
                               origin_kind=_origin_kind(origin))
            raise ApiError("permission_denied", "This origin is not allowed.", reason="origin")
        if route is None:
            raise ApiError("not_found")
        if request.method == "OPTIONS" and "OPTIONS" in route.methods:
            return Response(status=204)
        if request.method not in route.methods:
            raise ApiError("method_not_allowed", allow=route.methods)
        return route.handler(request)

    @staticmethod
    def _decorate(response: Response, cors_origin: str | None, preflight_methods) -> None:
        response.headers.update(SECURITY_HEADERS)
        response.headers.pop("X-XSS-Protection", None)
        response.vary.add("Origin")
        if cors_origin is None:
            return
        response.headers["Access-Control-Allow-Origin"] = cors_origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
        if preflight_methods:
            response.headers["Access-Control-Allow-Methods"] = ", ".join(preflight_methods)
            response.headers["Access-Control-Allow-Headers"] = _PREFLIGHT_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"

    def _log_refusal(self, error: ApiError) -> None:
        event = _REFUSAL_EVENTS.get(error.code)
        if event:
            log.security_event(event, logging.INFO, function=self.config.function,
                               reason=error.reason)


def _log_request(line: dict, status: int, started: float, **stream: object) -> None:
    log.logger.info("request", extra={"fields": {
        **line, "status": status, "latency_ms": _ms_since(started), **stream}})


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _guard_framework_responses(app: flask.Flask) -> None:
    """Responses the framework makes itself (/robots.txt, /favicon.ico, its crash handler)
    get our envelope and headers too, and never an exception's text."""
    def refuse(code: str) -> Response:
        body.abandon_unread(flask.request)  # functions-framework would read it, with no deadline
        return error_response(ApiError(code))

    app.register_error_handler(404, lambda _: refuse("not_found"))
    app.register_error_handler(500, lambda _: refuse("internal"))
    # Anything else werkzeug refuses before our code runs (a Host it cannot parse, say): the
    # same envelope, by its status.
    app.register_error_handler(HTTPException, lambda error: refuse(_FRAMEWORK_CODES.get(
        error.code, "internal" if (error.code or 500) >= 500 else "invalid_argument")))

    @app.after_request
    def secure(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


class _LoggedStream:
    """A streamed body, iterated inside its request's log context, whose `request` line is
    written when the server closes it, with how the stream ended (`stream`):

        complete       every chunk was sent. The status is the body's `final_status` if it
                       has one (chat's SSE: 200 after `done`, the error's after `error`),
                       else the response's.
        client_closed  closed before its end: the client left. Status CLIENT_CLOSED (499).
        failed         the body raised (the server logs it): status 500.

    `latency_ms` is then the whole stream and `first_byte_ms` the wait for its first chunk.
    close() passes through (a generator wrapper would skip its cleanup if closed before the
    first chunk).
    """

    def __init__(self, context: contextvars.Context, response: Response, line: dict,
                 started: float):
        self._context, self._body = context, response.response
        self._chunks = iter(self._body)
        self._line, self._started, self._status = line, started, response.status_code
        self._first_byte_ms: int | None = None
        self._end: tuple[str, int] | None = None
        self._logged = False

    def __iter__(self):
        return self

    def __next__(self):
        try:
            chunk = self._context.run(next, self._chunks)
        except StopIteration:
            self._end = self._end or ("complete", getattr(self._body, "final_status", None)
                                      or self._status)
            raise
        except BaseException:
            self._end = self._end or ("failed", 500)
            raise
        if self._first_byte_ms is None:
            self._first_byte_ms = _ms_since(self._started)
        return chunk

    def close(self) -> None:
        try:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                self._context.run(close)
        finally:
            if not self._logged:
                self._logged = True
                end, status = self._end or ("client_closed", CLIENT_CLOSED)
                self._context.run(_log_request, self._line, status, self._started,
                                  stream=end, first_byte_ms=self._first_byte_ms)


def _origin_kind(origin: str) -> str:
    if origin == "null":
        return "null"
    scheme = origin.partition("://")[0].lower()
    return scheme if scheme in ("http", "https") else "other"


def _name(route: _Route | None) -> str:
    return route.name if route else "none"
