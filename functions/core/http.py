"""Every request enters through an Endpoint: CORS allow-list, routes, methods, errors, headers.

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
from .identity import client_ip, client_key, pseudonym

__all__ = ["Endpoint", "SECURITY_HEADERS", "set_subject", "subject_of"]

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
_PREFLIGHT_HEADERS = "Authorization, Content-Type, X-Firebase-AppCheck"
_SUBJECT_KEY = "jette.subject"
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
        token = log.bind_trace(request.headers, self.config.project_id)
        origin = request.headers.get("Origin")
        cors = origin is not None and origin in self.config.allowed_origins
        route = self._routes.get(request.path)
        request.environ[body.TIMEOUT_KEY] = self.config.request_body_timeout_s
        try:
            response = self._dispatch(request, origin, cors, route)
        except ApiError as error:
            self._log_refusal(request, error)
            response = error_response(error)
        except Exception:
            log.logger.exception("unhandled error", extra={"fields": {"route": _name(route)}})
            response = error_response(ApiError("internal"))
        preflight = request.method == "OPTIONS" and route is not None and "OPTIONS" in route.methods
        self._decorate(response, origin if cors else None, preflight and route.methods)
        body.abandon_unread(request)  # answered before its body was read: never wait for it
        method = request.method if request.method in _LOGGED_METHODS else "OTHER"
        log.logger.info("request", extra={"fields": {
            "function": self.config.function, "route": _name(route), "method": method,
            "status": response.status_code, "latency_ms": round((time.monotonic() - started) * 1000),
        }})
        if response.is_streamed:
            # The body is produced after we return: keep this request's log context for it.
            response.response = _InContext(contextvars.copy_context(), response.response)
        log.reset_trace(token)
        return response

    def _dispatch(self, request: Request, origin: str | None, cors: bool,
                  route: _Route | None) -> Response:
        if origin is not None and not cors:
            # The origin is client-controlled text: log its kind, never its value.
            log.security_event("origin_rejected", subject=subject_of(request, self.config),
                               function=self.config.function, origin_kind=_origin_kind(origin))
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

    def _log_refusal(self, request: Request, error: ApiError) -> None:
        event = _REFUSAL_EVENTS.get(error.code)
        if event:
            log.security_event(event, logging.INFO, subject=subject_of(request, self.config),
                               function=self.config.function, reason=error.reason)


def subject_of(request: Request, config: Config) -> str:
    """The caller's pseudonym for logs: its uid once verified, otherwise its client IP."""
    subject = request.environ.get(_SUBJECT_KEY)
    if subject is None:  # the same pseudonym as the anonymous caller's limits (IPv6: its /64)
        ip = client_ip(request.headers, request.remote_addr, config.trusted_proxy_hops)
        subject = pseudonym(config.secret_key, "ip", client_key(ip))
    return subject


def set_subject(request: Request, subject: str) -> None:
    """Remember the verified caller's pseudonym for every later log line of this request."""
    request.environ[_SUBJECT_KEY] = subject


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


class _InContext:
    """Iterates a streamed body inside the request's log context; close() passes through
    (a generator wrapper would skip its cleanup if closed before the first chunk)."""

    def __init__(self, context: contextvars.Context, body):
        self._context = context
        self._chunks = iter(body)

    def __iter__(self):
        return self

    def __next__(self):
        return self._context.run(next, self._chunks)

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            self._context.run(close)


def _origin_kind(origin: str) -> str:
    if origin == "null":
        return "null"
    scheme = origin.partition("://")[0].lower()
    return scheme if scheme in ("http", "https") else "other"


def _name(route: _Route | None) -> str:
    return route.name if route else "none"
