"""The Gemini stand-in's HTTP side: the request records, the handler (the Gemini API paths and the
/_standin/* admin paths) and the threaded server. What it answers is built in standin_replies.py;
how it reads a request, in standin_request.py.

Each API call adds a record to GET /_standin/requests: model, method, api_key, body, state
(in_progress, rejected, failed, complete, dropped, client_disconnected), http_status, action,
chunks_sent, prompt_tokens, attachments and billed_tokens (what Gemini bills for the call so far:
its input once it accepted the request, plus the output sent; the final usageMetadata once complete).
"""
from __future__ import annotations

import copy
import json
import math
import os
import re
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from standin_replies import (Reply, UnknownAction, build_reply, error_body, not_found_model, streamed_text,
                             total_tokens)
from standin_request import BadRequest, Measure, measure, validate

PATH_RE = re.compile(r"^/v1beta/models/([^/:]+):(generateContent|streamGenerateContent|countTokens)$")
DEFAULT_MODELS = ("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro")
MODELS_ENV = "GEMINI_STANDIN_MODELS"


def model_ids(spec: str | None) -> list[str]:
    return [m.strip().removeprefix("models/") for m in (spec or "").split(",") if m.strip()]


class State:
    def __init__(self, chunk_delay: float, models=()):
        self.lock = threading.Lock()
        self.queue: list[dict] = []
        self.records: list[dict] = []
        self.chunk_delay = chunk_delay
        self.models = frozenset(DEFAULT_MODELS) | set(models)

    def add(self, **rec) -> dict:
        with self.lock:
            rec = {"id": len(self.records) + 1, **rec}
            self.records.append(rec)
            return rec

    def update(self, rec: dict, **kw) -> None:
        with self.lock:
            rec.update(kw)

    def pop_step(self) -> dict | None:
        with self.lock:
            return self.queue.pop(0) if self.queue else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gemini-standin"
    # TCP_NODELAY, as Google's front ends answer: with Nagle's algorithm the body, written after
    # the headers, waited for the client's delayed ACK (~40 ms added to every answer).
    disable_nagle_algorithm = True
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - never log bodies, keys or query strings
        pass

    @property
    def state(self) -> State:
        return self.server.state

    # ---------- plumbing ----------
    def _json(self, code: int, obj) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _client_gone(self, seconds: float) -> bool:
        """Waits up to `seconds`; True as soon as the client closes its side of the connection."""
        end = time.monotonic() + seconds
        while True:
            try:
                if select.select([self.connection], [], [], max(end - time.monotonic(), 0))[0]:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return True
                    time.sleep(max(end - time.monotonic(), 0))  # stray client bytes: wait it out
            except (OSError, ValueError):
                return True
            if time.monotonic() >= end:
                return False

    def _abort(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _cut(self, rec: dict, step: dict) -> None:
        """hang: waits for the client to leave (or `seconds`); drop: at once. Then closes the connection."""
        gone = step.get("action") == "hang" and self._client_gone(float(step.get("seconds", 30)))
        self.state.update(rec, state="client_disconnected" if gone else "dropped")
        self._abort()

    # ---------- admin ----------
    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/_standin/health":
            return self._json(200, {"status": "ok"})
        if path == "/_standin/requests":
            with self.state.lock:
                recs = copy.deepcopy(self.state.records)
            return self._json(200, recs)
        self._json(404, error_body(404))

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if url.path == "/_standin/reset":
            with self.state.lock:
                self.state.queue.clear()
                self.state.records.clear()
            return self._json(200, {"status": "ok"})
        if url.path == "/_standin/script":
            try:
                steps = json.loads(raw or b"{}")["steps"]
                assert isinstance(steps, list) and all(isinstance(s, dict) and "action" in s for s in steps)
            except Exception:
                return self._json(400, error_body(400, 'body must be {"steps": [{"action": ...}, ...]}'))
            with self.state.lock:
                self.state.queue.extend(steps)
                queued = len(self.state.queue)
            return self._json(200, {"queued": queued})
        m = PATH_RE.match(url.path)
        if not m:
            return self._json(404, error_body(404))
        self._api(m.group(1), m.group(2), parse_qs(url.query), raw)

    # ---------- Gemini API ----------
    def _api(self, model: str, method: str, query: dict, raw: bytes) -> None:
        key = self.headers.get("x-goog-api-key") or (query.get("key") or [None])[0]
        rec = self.state.add(model=model, method=method, api_key=key, body=None, state="in_progress",
                             chunks_sent=0, action=None, http_status=None)
        try:
            body = json.loads(raw)
            self.state.update(rec, body=body)
        except ValueError:
            body = None
        if not key:
            self.state.update(rec, state="rejected", http_status=403)
            return self._json(403, error_body(403))
        if body is not None and model not in self.state.models:
            self.state.update(rec, state="rejected", http_status=404)
            return self._json(404, error_body(404, not_found_model(model, method)))
        try:
            if body is None:
                raise BadRequest("Invalid JSON payload received.")
            body = validate(body, count_tokens=method == "countTokens")
            counted = measure(body)
        except BadRequest as e:
            self.state.update(rec, state="rejected", http_status=400)
            return self._json(400, error_body(400, str(e)))
        self.state.update(rec, prompt_tokens=counted.tokens, attachments=[
            {"mimeType": m.mime, "bytes": m.size, "tokens": m.tokens, "detail": m.detail}
            for m in counted.media])
        if method == "countTokens":
            self.state.update(rec, state="complete", http_status=200, action="count_tokens")
            return self._json(200, {"totalTokens": counted.tokens, "promptTokensDetails": counted.details})
        step = self.state.pop_step() or {"action": "echo"}
        self.state.update(rec, action=step.get("action"))
        try:
            self._generate(rec, body, counted, step, stream=method == "streamGenerateContent")
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
            self.state.update(rec, state="client_disconnected")

    def _generate(self, rec: dict, body: dict, counted: Measure, step: dict, stream: bool) -> None:
        action = step.get("action")
        if action == "error":  # an error status is never billed
            code = int(step.get("status", 500))
            self.state.update(rec, state="failed", http_status=code)
            return self._json(code, error_body(code, step.get("message"), step.get("retry_delay")))
        # What Gemini bills for this call: its input once it accepted the request, plus the
        # output it has produced (sent) so far; the final usageMetadata once it completes.
        self.state.update(rec, billed_tokens=counted.tokens)
        if action == "hang" and int(step.get("after_chunks", 0)) == 0 or action == "drop" and not stream:
            return self._cut(rec, step)
        try:
            reply = build_reply(step, body, counted, rec["model"])
        except UnknownAction:
            self.state.update(rec, state="failed", http_status=500)
            return self._json(500, error_body(500, f"stand-in: unknown scripted action {action!r}"))
        if not stream:
            self.state.update(rec, http_status=200)
            self._json(200, reply.whole)
            return self.state.update(rec, state="complete", billed_tokens=total_tokens(reply.whole, counted.tokens))
        self._stream(rec, reply, counted, step)

    def _stream(self, rec: dict, reply: Reply, counted: Measure, step: dict) -> None:
        cut = step.get("action") in ("hang", "drop")
        limit = int(step.get("after_chunks", 0)) if cut else len(reply.chunks)
        delay = float(step.get("chunk_delay", self.state.chunk_delay))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Disposition", "attachment")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.state.update(rec, http_status=200)
        sent = ""
        for i, chunk in enumerate(reply.chunks[:limit]):
            if i and self._client_gone(delay):
                self.state.update(rec, state="client_disconnected")
                return self._abort()
            event = b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n"
            sent += streamed_text(chunk)
            self.state.update(rec, billed_tokens=counted.tokens + math.ceil(len(sent) / 4))
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.state.update(rec, chunks_sent=i + 1)
        if cut:
            return self._cut(rec, step)
        self.wfile.write(b"0\r\n\r\n")
        self.state.update(rec, state="complete", billed_tokens=total_tokens(reply.chunks[-1], counted.tokens))


class StandinServer(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, chunk_delay: float = 0.05, models=()):
        super().__init__(addr, Handler)
        self.state = State(chunk_delay, [*model_ids(os.environ.get(MODELS_ENV)), *models])

    def handle_error(self, request, client_address) -> None:
        # Default prints a traceback to stderr; stay silent (privacy: never echo request data).
        pass
