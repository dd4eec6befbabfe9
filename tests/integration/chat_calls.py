"""Calling the running chat function as the web app does (JSON or SSE) and reading what reached
the Gemini stand-in: the helpers of the attachment tests.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import requests

from tests.helpers import wait_until

SSE = {"Accept": "text/event-stream"}


def events(raw: str) -> list[tuple[str, dict]]:
    blocks = [block.split("\n") for block in raw.split("\n\n") if block.strip()]
    return [(lines[0][len("event: "):], json.loads(lines[1][len("data: "):])) for lines in blocks]


@dataclass
class Answer:
    """A 200 from chat, JSON or SSE alike: the reply text and the closing usage and quota."""

    reply: str
    usage: dict
    quota: dict


def answer_of(response: requests.Response) -> Answer:
    assert response.status_code == 200, response.text[:300]
    if response.headers["Content-Type"].startswith("text/event-stream"):
        received = events(response.text)
        name, done = received[-1]
        assert name == "done", received[-1]
        reply = "".join(data["text"] for name, data in received if name == "delta")
        return Answer(reply, done["usage"], done["quota"])
    body = response.json()
    return Answer(body["reply"], body["usage"], body["quota"])


def assert_refused(response: requests.Response, status: int, code: str) -> str:
    """The error envelope (openapi.yaml) with this status and code; returns the message."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"] and sorted(body["error"]) == ["code", "message"], body
    assert body["error"]["code"] == code, body
    return body["error"]["message"]


class Chat:
    """One signed-in user of one chat process."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token

    def post(self, body: dict | bytes, sse: bool = False, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **(SSE if sse else {})}
        if isinstance(body, bytes):
            headers["Content-Type"] = "application/json"
            return requests.post(self.url, data=body, headers=headers, timeout=60, **kwargs)
        return requests.post(self.url, json=body, headers=headers, timeout=60, **kwargs)

    def answer(self, body: dict, sse: bool = False) -> Answer:
        return answer_of(self.post(body, sse))


def generated(standin, calls: int | None = None) -> list[dict]:
    """What reached the stand-in's generate methods (countTokens left out), once `calls` of them
    have ended: the stand-in writes its final billed_tokens just after its answer."""
    def records() -> list[dict]:
        return [r for r in standin.requests() if r["method"] != "countTokens"]

    if calls is None:
        return records()

    def ended() -> list[dict] | None:
        now = records()
        done = len(now) >= calls and all(r["state"] != "in_progress" for r in now)
        return now if done else None

    return wait_until(ended, 10, f"{calls} generate call(s) to end", interval=0.02)


def inline(part: dict) -> tuple[str, bytes] | None:
    """(MIME type, bytes) of an inline-data part as the SDK sent it; None for a text part."""
    blob = part.get("inlineData") or part.get("inline_data")
    if blob is None:
        return None
    data = blob["data"]
    mime = blob.get("mimeType", blob.get("mime_type"))
    return mime, base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def parts_of(content: dict) -> list:
    """A content's parts as ("text", text) or (MIME type, bytes), in order."""
    return [inline(part) or ("text", part["text"]) for part in content["parts"]]
