"""Whatever text Gemini sends, the chat answer is valid UTF-8 JSON (issue #8, I5): a lone
surrogate escape in the upstream JSON (which the SDK decodes to an unpaired surrogate) never
turns into a 500.
"""

from __future__ import annotations

import json

import pytest
import requests

# The stand-in's JSON output escapes these; the SDK decodes them to lone surrogates.
UPSTREAM = "lone \ud800 high, lone \udfff low, a real pair \U0001F600 stays"


@pytest.fixture
def chat(functions, sign_in):
    url = functions.url("chat")
    token = sign_in()
    return lambda headers=None: requests.post(
        url, json={"message": "hi"}, timeout=30,
        headers={"Authorization": f"Bearer {token}", **(headers or {})})


def test_json_answer_with_a_lone_surrogate_is_200_and_valid_utf8(chat, standin):
    standin.script({"action": "reply", "text": UPSTREAM})
    response = chat()
    assert response.status_code == 200, response.text
    text = response.content.decode("utf-8")  # strict: raises on anything that is not UTF-8
    reply = json.loads(text)["reply"]
    assert reply == "lone \ufffd high, lone \ufffd low, a real pair \U0001F600 stays"
    reply.encode("utf-8")  # no unpaired surrogate left in the decoded text either


def test_stream_answer_with_a_lone_surrogate_is_valid_utf8(chat, standin):
    standin.script({"action": "reply", "chunks": ["lone \ud800", " high"]})
    response = chat({"Accept": "text/event-stream"})
    assert response.status_code == 200
    text = response.content.decode("utf-8")
    assert "event: done" in text and "event: error" not in text
