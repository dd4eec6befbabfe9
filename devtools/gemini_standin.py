"""Local stand-in for the Gemini REST API (generateContent, streamGenerateContent, countTokens).
Lets the real google-genai SDK run unchanged in tests; failures are scripted via /_standin/*.

Parts: {"text": ...} or inline data. google-genai 3.6.1 sends Part.from_bytes(...) as
{"inlineData": {"data": "<URL-safe base64>", "mime_type": "image/png"}} (camelCase key, snake_case
inside: the SDK dumps its Blob model as is); Gemini's JSON parser takes either spelling of each field
and standard or URL-safe base64, padded or not, so does the stand-in. Accepted inline MIME types:
images (png, jpeg, webp, heic, heif), application/pdf and the plain-text document types (TEXT_MIME).
Audio and video are not modelled (400). systemInstruction stays text-only, as Gemini documents.

Models: DEFAULT_MODELS plus `--models a,b` / $GEMINI_STANDIN_MODELS (comma-separated); any other
model gets Gemini's 404 NOT_FOUND.

Token counting: see standin_media.py (Gemini's published rules for images and PDFs).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import re
import select
import signal
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from standin_media import IMAGE_MIME, PDF_MIME, TEXT_MIME, Media, b64decode, measure_media

ALLOWED_FIELDS = {"contents", "systemInstruction", "generationConfig", "safetySettings",
                  "tools", "toolConfig", "cachedContent"}
HARM = ["HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_DANGEROUS_CONTENT",
        "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_SEXUALLY_EXPLICIT"]
ERRORS = {
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    403: ("PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established "
          "identity). Please use API Key or other form of API consumer identity to call this API."),
    404: ("NOT_FOUND", "Requested entity was not found."),
    429: ("RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing "
          "details."),
    500: ("INTERNAL", "An internal error has occurred. Please retry or report in "
          "https://developers.generativeai.google/guide/troubleshooting"),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
}
PATH_RE = re.compile(r"^/v1beta/models/([^/:]+):(generateContent|streamGenerateContent|countTokens)$")
DEFAULT_MODELS = ("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro")
MODELS_ENV = "GEMINI_STANDIN_MODELS"
class BadRequest(Exception):
    pass


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


def error_body(code: int, message: str | None = None, retry_delay: str | None = None) -> dict:
    status, default = ERRORS.get(code, ("UNKNOWN", "Unknown error."))
    err = {"code": code, "message": message or default, "status": status}
    if retry_delay:
        err["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}]
    return {"error": err}


# ---------- inline data: decoding and measuring (headers only; bounded, dependency-free) ----------
def inline_media(blob, where: str) -> Media:
    """Validates an inlineData Blob like Gemini (either field spelling) and measures it."""
    where = f"{where}.inline_data"
    field = where.removeprefix("GenerateContentRequest.")  # how Gemini names a field in JSON errors
    if not isinstance(blob, dict):
        raise BadRequest(f"Invalid value at '{field}': must be an object (Blob).")
    for key in blob:
        if _camel(key) not in ("mimeType", "data", "displayName"):
            raise BadRequest(f'Invalid JSON payload received. Unknown name "{key}" at \'{field}\': '
                             "Cannot find field.")
    mime = blob.get("mimeType", blob.get("mime_type"))
    data = blob.get("data")
    if data is not None and not isinstance(data, str):
        raise BadRequest(f"Invalid value at '{field}.data' (TYPE_BYTES), must be a base64 string.")
    raw = b64decode(data) if data is not None else b""
    if raw is None:
        raise BadRequest(f"Invalid value at '{field}.data' (TYPE_BYTES), Base64 decoding failed.")
    if not isinstance(mime, str) or not mime.strip():
        raise BadRequest(f"* {where}.mime_type: mime_type must be specified.")
    if not raw:
        raise BadRequest(f"* {where}.data: data must not be empty.")
    norm = mime.split(";")[0].strip().lower()
    if norm.startswith(("audio/", "video/")):
        raise BadRequest(f"Unsupported MIME type: {mime} (the stand-in does not model audio or video)")
    if norm not in IMAGE_MIME | TEXT_MIME and norm != PDF_MIME:
        raise BadRequest(f"Unsupported MIME type: {mime}")
    return measure_media(norm, raw)


def part_media(part: dict, where: str) -> Media | None:
    """None for a text part; the measured attachment for an inline-data part."""
    fields = [k for k in ("text", "inlineData", "inline_data") if k in part]
    if len(fields) > 1:
        raise BadRequest(f"Invalid JSON payload received. Oneof field 'data' is already set. "
                         f"Cannot set '{_camel(fields[1])}'")
    if fields == ["text"] and isinstance(part["text"], str):
        return None
    if fields and fields[0] != "text":
        return inline_media(part[fields[0]], where)
    raise BadRequest(f"* {where}: this stand-in supports parts with a string 'text' or with 'inlineData'.")


def _check_parts(parts, where: str, text_only: bool = False) -> None:
    if not isinstance(parts, list) or not parts:
        raise BadRequest(f"* {where}.parts: contents.parts must not be empty.")
    for i, part in enumerate(parts):
        if not isinstance(part, dict):
            raise BadRequest(f"* {where}.parts[{i}]: must be an object (Part).")
        if text_only and not isinstance(part.get("text"), str):
            raise BadRequest(f"* {where}.parts[{i}]: system_instruction supports text parts only.")
        part_media(part, f"{where}.parts[{i}]")


def validate(body, count_tokens: bool = False) -> dict:
    """Returns the body with camelCase top-level keys, or raises BadRequest like Gemini would."""
    if not isinstance(body, dict):
        raise BadRequest("Invalid JSON payload received. Expected an object.")
    norm = {}
    for key, value in body.items():
        ck = _camel(key)
        if ck not in ALLOWED_FIELDS and not (count_tokens and ck == "generateContentRequest"):
            raise BadRequest(f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.')
        norm[ck] = value
    if count_tokens and "generateContentRequest" in norm:
        gcr = norm["generateContentRequest"]
        return validate({k: v for k, v in gcr.items() if k != "model"} if isinstance(gcr, dict) else None)
    contents = norm.get("contents")
    if not isinstance(contents, list) or not contents:
        raise BadRequest("* GenerateContentRequest.contents: contents is not specified")
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            raise BadRequest(f"* GenerateContentRequest.contents[{i}]: must be an object")
        if content.get("role", "user") not in ("user", "model"):
            raise BadRequest("Please use a valid role: user, model.")
        _check_parts(content.get("parts"), f"GenerateContentRequest.contents[{i}]")
    si = norm.get("systemInstruction")
    if si is not None:
        if not isinstance(si, dict) or set(si) - {"parts", "role"} or not isinstance(si.get("role", ""), str):
            raise BadRequest("* GenerateContentRequest.system_instruction: malformed Content")
        _check_parts(si.get("parts"), "GenerateContentRequest.system_instruction", text_only=True)
    for key in ("generationConfig", "toolConfig"):
        if key in norm and not isinstance(norm[key], dict):
            raise BadRequest(f"* GenerateContentRequest.{key}: must be an object")
    return norm


def _texts(content: dict) -> str:
    return "".join(p.get("text", "") for p in content.get("parts", []))


def _attachments(content: dict) -> list[Media]:
    return [m for i, p in enumerate(content.get("parts", [])) if (m := part_media(p, f"parts[{i}]"))]


@dataclass
class Measure:
    tokens: int          # promptTokenCount / countTokens totalTokens
    details: list        # promptTokensDetails: [{"modality": ..., "tokenCount": ...}]
    media: list          # every attachment in the request, in order


def measure(body: dict) -> Measure:
    """The one prompt count (rules in the module docstring) for a validated body."""
    si = body.get("systemInstruction")
    contents = list(body["contents"]) + ([si] if si else [])
    chars = sum(len(_texts(c)) for c in contents)
    media = [m for c in contents for m in _attachments(c)]
    by = {"TEXT": math.ceil((chars + sum(m.chars for m in media)) / 4), "IMAGE": 0, "DOCUMENT": 0}
    for m in media:
        by[m.modality] += m.tokens
    details = [{"modality": k, "tokenCount": v} for k, v in by.items() if v or k == "TEXT"]
    return Measure(sum(by.values()), details, media)


def prompt_tokens(body: dict) -> int:
    return measure(body).tokens


def echo_text(content: dict) -> str:
    """ "Echo: " + the text; attachments, if any, are listed after it."""
    text, media = _texts(content), _attachments(content)
    if not media:
        return "Echo: " + text
    seen = ", ".join(f"{m.mime} {m.detail}" for m in media)
    return f"Echo: {text}{' ' if text else ''}[{len(media)} attachment{'s' * (len(media) != 1)}: {seen}]"


def split_words(text: str, per: int = 3) -> list[str]:
    words = re.findall(r"\s*\S+\s*", text) or [text]
    return ["".join(words[i:i + per]) for i in range(0, len(words), per)]


def _model_ids(spec: str | None) -> list[str]:
    return [m.strip().removeprefix("models/") for m in (spec or "").split(",") if m.strip()]


def not_found_model(model: str, method: str) -> str:
    return (f"models/{model} is not found for API version v1beta, or is not supported for {method}. "
            "Call ListModels to see the list of available models and their supported methods.")


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
        delay = float(step.get("chunk_delay", self.state.chunk_delay))
        ptok = counted.tokens
        base = {"modelVersion": rec["model"], "responseId": uuid.uuid4().hex[:22]}

        def usage(reply: str = "", final: bool = True) -> dict:
            details = {"promptTokensDetails": counted.details}
            if not final:
                return {"promptTokenCount": ptok, "totalTokenCount": ptok} | details
            if step.get("usage"):
                return step["usage"]
            ctok = math.ceil(len(reply) / 4)
            return {"promptTokenCount": ptok, "candidatesTokenCount": ctok,
                    "totalTokenCount": ptok + ctok} | details

        def ratings(high: str | None = None) -> list:
            return [{"category": c, "probability": "HIGH", "blocked": True} if c == high
                    else {"category": c, "probability": "NEGLIGIBLE"} for c in HARM]

        def cand(text: str | None, finish: str | None, rats: list | None = None) -> dict:
            c = {} if text is None else {"content": {"role": "model", "parts": [{"text": text}]}}
            c |= {"finishReason": finish} if finish else {}
            return c | {"index": 0, "safetyRatings": rats or ratings()}

        if action == "error":  # an error status is never billed
            code = int(step.get("status", 500))
            self.state.update(rec, state="failed", http_status=code)
            return self._json(code, error_body(code, step.get("message"), step.get("retry_delay")))
        # What Gemini bills for this call: its input once it accepted the request, plus the
        # output it has produced (sent) so far; the final usageMetadata once it completes.
        self.state.update(rec, billed_tokens=ptok)
        if action == "hang" and int(step.get("after_chunks", 0)) == 0 or action == "drop" and not stream:
            gone = action == "hang" and self._client_gone(float(step.get("seconds", 30)))
            self.state.update(rec, state="client_disconnected" if gone else "dropped")
            return self._abort()

        # Build the list of response chunks (stream) and the single response (non-stream).
        if action in ("echo", "reply", "hang", "drop"):
            users = [c for c in body["contents"] if c.get("role", "user") == "user"]
            last_user = users[-1] if users else {}
            text = step.get("text") if "text" in step else echo_text(last_user)
            pieces = list(step.get("chunks") or split_words(text))
            full = "".join(pieces)
            finish = step.get("finishReason", "STOP")
            chunks = [base | {"candidates": [cand(p, finish if i == len(pieces) - 1 else None)],
                              "usageMetadata": usage(full, i == len(pieces) - 1)}
                      for i, p in enumerate(pieces)]
            whole = base | {"candidates": [cand(full, finish)], "usageMetadata": usage(full)}
        elif action == "safety_stop":
            pieces = list(step.get("chunks") or [])
            full = "".join(pieces)
            stop = cand(None, "SAFETY", ratings(HARM[1]))
            whole = base | {"candidates": [stop], "usageMetadata": usage(full)}
            chunks = [base | {"candidates": [cand(p, None)], "usageMetadata": usage(final=False)}
                      for p in pieces] + [whole]
        elif action == "block":
            feedback = {"blockReason": step.get("reason", "SAFETY"), "safetyRatings": ratings(HARM[1])}
            chunks = [whole := base | {"promptFeedback": feedback, "usageMetadata": usage(final=False)}]
        elif action == "empty":
            chunks = [whole := base | {"usageMetadata": usage(final=False)}]
        else:
            self.state.update(rec, state="failed", http_status=500)
            return self._json(500, error_body(500, f"stand-in: unknown scripted action {action!r}"))

        if not stream:
            self.state.update(rec, http_status=200)
            self._json(200, whole)
            return self.state.update(rec, state="complete", billed_tokens=_total(whole, ptok))

        limit = int(step.get("after_chunks", 0)) if action in ("hang", "drop") else len(chunks)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Disposition", "attachment")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.state.update(rec, http_status=200)
        sent = ""
        for i, chunk in enumerate(chunks[:limit]):
            if i and self._client_gone(delay):
                self.state.update(rec, state="client_disconnected")
                return self._abort()
            event = b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n"
            sent += "".join(_texts(c.get("content", {})) for c in chunk.get("candidates", []))
            self.state.update(rec, billed_tokens=ptok + math.ceil(len(sent) / 4))
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.state.update(rec, chunks_sent=i + 1)
        if action in ("hang", "drop"):
            gone = action == "hang" and self._client_gone(float(step.get("seconds", 30)))
            self.state.update(rec, state="client_disconnected" if gone else "dropped")
            return self._abort()
        self.wfile.write(b"0\r\n\r\n")
        self.state.update(rec, state="complete", billed_tokens=_total(chunks[-1], ptok))


def _total(response: dict, prompt: int) -> int:
    return int(response.get("usageMetadata", {}).get("totalTokenCount", prompt))


class StandinServer(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, chunk_delay: float = 0.05, models=()):
        super().__init__(addr, Handler)
        self.state = State(chunk_delay, [*_model_ids(os.environ.get(MODELS_ENV)), *models])

    def handle_error(self, request, client_address) -> None:
        # Default prints a traceback to stderr; stay silent (privacy: never echo request data).
        pass


def serve(host: str = "127.0.0.1", port: int = 0, chunk_delay: float = 0.05, models=()):
    """Starts the stand-in in a background thread; returns (server, thread). Stop with server.shutdown().
    `models`: model ids known besides DEFAULT_MODELS and $GEMINI_STANDIN_MODELS."""
    server = StandinServer((host, port), chunk_delay, models)
    thread = threading.Thread(target=server.serve_forever, name="gemini-standin", daemon=True)
    thread.start()
    return server, thread


def base_url(server: StandinServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8090)
    ap.add_argument("--chunk-delay", type=float, default=0.05)
    ap.add_argument("--models", default="", help=f"comma-separated model ids known besides "
                    f"{', '.join(DEFAULT_MODELS)} (also ${MODELS_ENV})")
    args = ap.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server, _ = serve(args.host, args.port, args.chunk_delay, _model_ids(args.models))
    print(f"gemini-standin listening on {base_url(server)}", flush=True)
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
