"""A streamed answer's `request` log line is written when its stream ends, with how it ended:
`done` -> 200, an `error` event -> that error's status, the client gone -> 499 client_closed.
Real functions-framework chat against the Gemini stand-in; each request is found in the log by
its own Cloud Trace id."""

from __future__ import annotations

import json
import secrets

import pytest
import requests

from tests.helpers import wait_until

SSE = {"Accept": "text/event-stream"}


@pytest.fixture
def chat(functions, sign_in):
    url = functions.url("chat")
    token = sign_in()

    def post(body, trace: str, stream: bool = False):
        headers = {"Authorization": f"Bearer {token}", "X-Cloud-Trace-Context": f"{trace}/1",
                   **SSE}
        return requests.post(url, json=body, headers=headers, stream=stream, timeout=30)

    def request_line(trace: str, timeout: float = 10) -> dict:
        """The request line of the request traced `trace`, once the function has written it."""
        def written() -> dict | None:
            for raw in functions.log_of(url).read_text(errors="replace").splitlines():
                try:
                    entry = json.loads(raw)
                except ValueError:  # a line still being written
                    continue
                if (entry.get("message") == "request"
                        and entry.get("logging.googleapis.com/trace", "").endswith(trace)):
                    return entry
            return None

        return wait_until(written, timeout, f"the request line of {trace}")

    post.request_line = request_line
    return post


def new_trace() -> str:
    return secrets.token_hex(16)


def test_an_answer_streamed_to_done_is_logged_200_with_its_whole_duration(chat, standin):
    standin.script({"action": "reply", "chunks": ["a", "b", "c"], "chunk_delay": 0.2})
    trace = new_trace()
    assert chat({"message": "hi"}, trace).text.count("event: done") == 1
    line = chat.request_line(trace)
    assert (line["status"], line["stream"], line["route"]) == (200, "complete", "answer")
    assert line["latency_ms"] >= line["first_byte_ms"] + 300  # the stream, not its first byte
    assert line["subject"].startswith("uid:")


def test_an_answer_that_fails_midway_is_logged_with_the_error_s_status(chat, standin):
    standin.script({"action": "drop", "after_chunks": 2})
    trace = new_trace()
    response = chat({"message": "one two three four five six"}, trace)
    assert response.status_code == 200 and "event: error" in response.text  # 200 on the wire
    line = chat.request_line(trace)
    assert (line["status"], line["stream"]) == (502, "complete")  # upstream_error


def test_an_answer_the_client_left_is_logged_client_closed(chat, standin):
    standin.script({"action": "reply", "chunks": [f"w{i} " for i in range(40)],
                    "chunk_delay": 0.1})
    trace = new_trace()
    response = chat({"message": "hi"}, trace, stream=True)
    assert next(response.iter_lines(decode_unicode=True)) == "event: delta"
    response.close()  # Stop pressed
    line = chat.request_line(trace)
    assert (line["status"], line["stream"]) == (499, "client_closed")
    assert line["first_byte_ms"] is not None
