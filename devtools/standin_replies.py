"""What the Gemini stand-in answers: one builder per scripted action, and Gemini's error bodies.

A test queues steps with POST /_standin/script {"steps": [{"action": ..., ...}, ...]}; each
generateContent / streamGenerateContent call takes the next step, or echoes when none is queued.
  echo         "Echo: " + the last user turn's text, its attachments listed after it (the default);
  reply        `text` (else the echo), split into 3-word chunks, or the given `chunks`;
               `finishReason` (default STOP); `usage` replaces the final usageMetadata;
  hang         like reply, but after `after_chunks` chunks (default 0) holds the connection until
               the client leaves or `seconds` (default 30) pass, then closes it (non-streamed:
               only with after_chunks 0; otherwise the whole reply is sent);
  drop         like reply, but closes the connection after `after_chunks` chunks (non-streamed: at once);
  safety_stop  the `chunks`, then a candidate with finishReason SAFETY and no text;
  block        promptFeedback.blockReason `reason` (default SAFETY), no candidate;
  empty        no candidate, only usageMetadata;
  error        HTTP `status` (default 500) with Gemini's error body: `message`, and `retry_delay`
               (e.g. "7s") as a RetryInfo detail. An error is never billed.
Any step may set `chunk_delay`: seconds between streamed chunks (else the server's --chunk-delay).
"""
from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass

from standin_request import Measure, attachments, texts

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


def error_body(code: int, message: str | None = None, retry_delay: str | None = None) -> dict:
    status, default = ERRORS.get(code, ("UNKNOWN", "Unknown error."))
    err = {"code": code, "message": message or default, "status": status}
    if retry_delay:
        err["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}]
    return {"error": err}


def not_found_model(model: str, method: str) -> str:
    return (f"models/{model} is not found for API version v1beta, or is not supported for {method}. "
            "Call ListModels to see the list of available models and their supported methods.")


def echo_text(content: dict) -> str:
    """ "Echo: " + the text; attachments, if any, are listed after it."""
    text, media = texts(content), attachments(content)
    if not media:
        return "Echo: " + text
    seen = ", ".join(f"{m.mime} {m.detail}" for m in media)
    return f"Echo: {text}{' ' if text else ''}[{len(media)} attachment{'s' * (len(media) != 1)}: {seen}]"


def split_words(text: str, per: int = 3) -> list[str]:
    words = re.findall(r"\s*\S+\s*", text) or [text]
    return ["".join(words[i:i + per]) for i in range(0, len(words), per)]


def total_tokens(response: dict, prompt: int) -> int:
    return int(response.get("usageMetadata", {}).get("totalTokenCount", prompt))


def streamed_text(chunk: dict) -> str:
    return "".join(texts(c.get("content", {})) for c in chunk.get("candidates", []))


@dataclass
class Reply:
    whole: dict          # the generateContent answer
    chunks: list[dict]   # the streamGenerateContent events, in order


class UnknownAction(Exception):
    pass


class _Bodies:
    """Response bodies for one call: one model version and response id, its prompt count."""

    def __init__(self, model: str, counted: Measure, step: dict):
        self.base = {"modelVersion": model, "responseId": uuid.uuid4().hex[:22]}
        self.counted, self.step = counted, step

    def usage(self, reply: str = "", final: bool = True) -> dict:
        ptok, details = self.counted.tokens, {"promptTokensDetails": self.counted.details}
        if not final:
            return {"promptTokenCount": ptok, "totalTokenCount": ptok} | details
        if self.step.get("usage"):
            return self.step["usage"]
        ctok = math.ceil(len(reply) / 4)
        return {"promptTokenCount": ptok, "candidatesTokenCount": ctok,
                "totalTokenCount": ptok + ctok} | details

    @staticmethod
    def ratings(high: str | None = None) -> list:
        return [{"category": c, "probability": "HIGH", "blocked": True} if c == high
                else {"category": c, "probability": "NEGLIGIBLE"} for c in HARM]

    def cand(self, text: str | None, finish: str | None, rats: list | None = None) -> dict:
        c = {} if text is None else {"content": {"role": "model", "parts": [{"text": text}]}}
        c |= {"finishReason": finish} if finish else {}
        return c | {"index": 0, "safetyRatings": rats or self.ratings()}

    def response(self, **fields) -> dict:
        return self.base | fields


def _text(b: _Bodies, step: dict, body: dict) -> Reply:  # echo, reply, hang, drop
    users = [c for c in body["contents"] if c.get("role", "user") == "user"]
    text = step.get("text") if "text" in step else echo_text(users[-1] if users else {})
    pieces = list(step.get("chunks") or split_words(text))
    full, finish, last = "".join(pieces), step.get("finishReason", "STOP"), len(pieces) - 1
    chunks = [b.response(candidates=[b.cand(p, finish if i == last else None)],
                         usageMetadata=b.usage(full, i == last)) for i, p in enumerate(pieces)]
    return Reply(b.response(candidates=[b.cand(full, finish)], usageMetadata=b.usage(full)), chunks)


def _safety_stop(b: _Bodies, step: dict, body: dict) -> Reply:
    pieces = list(step.get("chunks") or [])
    stop = b.cand(None, "SAFETY", b.ratings(HARM[1]))
    whole = b.response(candidates=[stop], usageMetadata=b.usage("".join(pieces)))
    return Reply(whole, [b.response(candidates=[b.cand(p, None)], usageMetadata=b.usage(final=False))
                         for p in pieces] + [whole])


def _block(b: _Bodies, step: dict, body: dict) -> Reply:
    feedback = {"blockReason": step.get("reason", "SAFETY"), "safetyRatings": b.ratings(HARM[1])}
    whole = b.response(promptFeedback=feedback, usageMetadata=b.usage(final=False))
    return Reply(whole, [whole])


def _empty(b: _Bodies, step: dict, body: dict) -> Reply:
    whole = b.response(usageMetadata=b.usage(final=False))
    return Reply(whole, [whole])


ACTIONS = {"echo": _text, "reply": _text, "hang": _text, "drop": _text,
           "safety_stop": _safety_stop, "block": _block, "empty": _empty}


def build_reply(step: dict, body: dict, counted: Measure, model: str) -> Reply:
    """The answer a (validated) request gets for `step`; UnknownAction for an action not in ACTIONS
    (`error` is answered by the server before any reply is built)."""
    build = ACTIONS.get(step.get("action"))
    if build is None:
        raise UnknownAction(step.get("action"))
    return build(_Bodies(model, counted, step), step, body)
