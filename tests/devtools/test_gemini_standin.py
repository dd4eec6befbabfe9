"""Tests for devtools/gemini_standin.py, driven by the real google-genai SDK (and raw requests)."""
from __future__ import annotations

import asyncio
import base64
import json
import math
import signal
import struct
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import gemini_standin as standin  # devtools/ (pytest pythonpath)
import httpx2
import pytest
import requests
from google import genai
from google.genai import errors, types

from tests.helpers import wait_until

base_url, serve = standin.base_url, standin.serve

MODEL = "gemini-2.5-flash"
KEY = "test-key-123"


@pytest.fixture(scope="module")
def server():
    srv, thread = serve("127.0.0.1", 0, chunk_delay=0.01)
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture
def url(server):
    u = base_url(server)
    requests.post(u + "/_standin/reset").raise_for_status()
    return u


def make_client(url: str, **http) -> genai.Client:
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=url, api_version="v1beta", **http))


@pytest.fixture
def client(url):
    return make_client(url)


def script(url, *steps):
    requests.post(url + "/_standin/script", json={"steps": list(steps)}).raise_for_status()


def records(url):
    return requests.get(url + "/_standin/requests").json()


def wait_state(url, rec_id, want, timeout=3.0):
    """The stand-in's record of request `rec_id` (from 1) once its state is `want`."""
    def reached():
        rec = records(url)[rec_id - 1]
        return rec if rec["state"] == want else None

    return wait_until(reached, timeout, f"request {rec_id} to be {want}", interval=0.02)


def api(url, method="generateContent", body=None, key=KEY, raw=None):
    headers = {"x-goog-api-key": key} if key else {}
    return requests.post(f"{url}/v1beta/models/{MODEL}:{method}", headers=headers,
                         data=raw if raw is not None else json.dumps(body))


# ---------------------------------------------------------------- default echo


def test_health_and_default_non_stream(client, url):
    assert requests.get(url + "/_standin/health").json() == {"status": "ok"}
    r = client.models.generate_content(model=MODEL, contents="hello there friend how are you")
    assert r.text == "Echo: hello there friend how are you"
    cand = r.candidates[0]
    assert cand.content.role == "model" and cand.index == 0
    assert cand.finish_reason == types.FinishReason.STOP
    assert {s.category.name for s in cand.safety_ratings} == {
        "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_DANGEROUS_CONTENT",
        "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_SEXUALLY_EXPLICIT"}
    assert all(s.probability.name == "NEGLIGIBLE" for s in cand.safety_ratings)
    u = r.usage_metadata
    assert u.prompt_token_count == math.ceil(len("hello there friend how are you") / 4)
    assert u.candidates_token_count == math.ceil(len(r.text) / 4)
    assert u.total_token_count == u.prompt_token_count + u.candidates_token_count
    assert r.model_version == MODEL and r.response_id
    [rec] = records(url)
    assert rec["method"] == "generateContent" and rec["state"] == "complete" and rec["action"] == "echo"
    assert rec["api_key"] == KEY and rec["model"] == MODEL


def test_default_stream_arrives_in_several_chunks(client, url):
    text = "one two three four five six seven eight"
    chunks = list(client.models.generate_content_stream(model=MODEL, contents=text))
    assert [c.text for c in chunks] == ["Echo: one two ", "three four five ", "six seven eight"]
    assert [c.candidates[0].finish_reason for c in chunks] == [None, None, types.FinishReason.STOP]
    last = chunks[-1].usage_metadata
    assert last.candidates_token_count == math.ceil(len("Echo: " + text) / 4)
    assert last.total_token_count == last.prompt_token_count + last.candidates_token_count
    [rec] = records(url)
    assert rec["method"] == "streamGenerateContent" and rec["chunks_sent"] == 3 and rec["state"] == "complete"


def test_count_tokens_does_not_consume_script(client, url):
    script(url, {"action": "reply", "text": "scripted"})
    assert client.models.count_tokens(model=MODEL, contents="abcdefghi").total_tokens == 3
    assert client.models.generate_content(model=MODEL, contents="x").text == "scripted"
    assert [r["method"] for r in records(url)] == ["countTokens", "generateContent"]


def test_system_instruction_and_generation_config_recorded_as_sdk_sends(client, url):
    cfg = types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=64, temperature=0.5)
    chat = client.chats.create(model=MODEL, config=cfg)
    chat.send_message("first")
    assert chat.send_message("second").text == "Echo: second"
    first, second = (r["body"] for r in records(url))
    assert first == {
        "contents": [{"parts": [{"text": "first"}], "role": "user"}],
        "systemInstruction": {"parts": [{"text": "Be brief."}], "role": "user"},
        "generationConfig": {"temperature": 0.5, "maxOutputTokens": 64},
    }
    assert [c["role"] for c in second["contents"]] == ["user", "model", "user"]
    assert second["contents"][1]["parts"][0]["text"] == "Echo: first"


# ---------------------------------------------------------------- validation / auth


def test_system_role_is_rejected_and_sdk_raises_client_error(client, url):
    script(url, {"action": "reply", "text": "kept"})
    bad = [types.Content(role="system", parts=[types.Part(text="x")])]
    with pytest.raises(errors.ClientError) as ei:
        client.models.generate_content(model=MODEL, contents=bad)
    assert ei.value.code == 400 and ei.value.status == "INVALID_ARGUMENT"
    assert records(url)[0]["state"] == "rejected"
    assert client.models.generate_content(model=MODEL, contents="x").text == "kept"  # step not consumed


def test_missing_key_403_and_query_key_accepted(url):
    r = api(url, body={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}, key=None)
    assert r.status_code == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED"
    r = requests.post(f"{url}/v1beta/models/{MODEL}:generateContent?key=qkey",
                      json={"contents": [{"parts": [{"text": "hi"}]}]})
    assert r.status_code == 200 and r.json()["candidates"][0]["content"]["parts"][0]["text"] == "Echo: hi"
    assert [(x["state"], x["api_key"]) for x in records(url)] == [("rejected", None), ("complete", "qkey")]


OK_CONTENTS = [{"role": "user", "parts": [{"text": "hi"}]}]
BAD_INLINE_PARTS = [
    {"inlineData": {"mimeType": "image/png", "data": "not base64!"}},
    {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}},           # impossible length
    {"inlineData": {"mimeType": "image/png", "data": "iV+_Rw%%"}},
    {"inlineData": {"mimeType": "image/png", "data": 12}},
    {"inlineData": {"mimeType": "image/png", "data": ""}},
    {"inlineData": {"mimeType": "image/png"}},
    {"inlineData": {"data": "iVBORw=="}},
    {"inlineData": {"mimeType": "", "data": "iVBORw=="}},
    {"inlineData": {"mimeType": "application/zip", "data": "UEs="}},
    {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
    {"inlineData": {"mimeType": "image/png", "data": "iVBORw==", "bogus": 1}},
    {"inlineData": "iVBORw=="},
    {"text": "both", "inlineData": {"mimeType": "image/png", "data": "iVBORw=="}},
]


@pytest.mark.parametrize("raw", [
    "{not json",
    json.dumps({"contents": OK_CONTENTS, "bogusField": 1}),
    json.dumps({}),
    json.dumps({"contents": []}),
    json.dumps({"contents": [{"role": "user", "parts": []}]}),
    json.dumps({"contents": [{"role": "user"}]}),
    json.dumps({"contents": [{"role": "user", "parts": [{"inlineData": {}}]}]}),
    json.dumps({"contents": [{"role": "user", "parts": [{"text": 5}]}]}),
    json.dumps({"contents": OK_CONTENTS, "systemInstruction": "be nice"}),
    json.dumps({"contents": OK_CONTENTS, "systemInstruction": {"parts": []}}),
    json.dumps({"contents": OK_CONTENTS, "systemInstruction": {"parts": [{"text": "x"}], "extra": 1}}),
    *(json.dumps({"contents": [{"role": "user", "parts": [part]}]}) for part in BAD_INLINE_PARTS),
    json.dumps({"contents": OK_CONTENTS, "systemInstruction": {"parts": [
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw=="}}]}}),  # system_instruction: text only
])
def test_invalid_requests_get_google_400(url, raw):
    for method in ("generateContent", "streamGenerateContent?alt=sse"):
        r = api(url, method, raw=raw)
        assert r.status_code == 400, raw
        err = r.json()["error"]
        assert err["code"] == 400 and err["status"] == "INVALID_ARGUMENT" and err["message"]


def test_snake_case_fields_accepted(url):
    body = {"contents": OK_CONTENTS, "system_instruction": {"parts": [{"text": "s"}]},
            "generation_config": {"max_output_tokens": 5}}
    assert api(url, body=body).status_code == 200


# ---------------------------------------------------------------- scripted failures


def test_429_with_retry_delay_not_retried_by_default(client, url):
    script(url, {"action": "error", "status": 429, "retry_delay": "7s"})
    with pytest.raises(errors.ClientError) as ei:
        client.models.generate_content(model=MODEL, contents="x")
    e = ei.value
    assert e.code == 429 and e.status == "RESOURCE_EXHAUSTED"
    retry = [d for d in e.details["error"]["details"] if d["@type"].endswith("google.rpc.RetryInfo")]
    assert retry[0]["retryDelay"] == "7s"
    assert len(records(url)) == 1  # SDK default: no retries


def test_500_and_503_are_server_errors(client, url):
    script(url, {"action": "error", "status": 500}, {"action": "error", "status": 503})
    with pytest.raises(errors.ServerError) as ei:
        client.models.generate_content(model=MODEL, contents="x")
    assert ei.value.code == 500 and ei.value.status == "INTERNAL"
    with pytest.raises(errors.ServerError) as ei:
        list(client.models.generate_content_stream(model=MODEL, contents="x"))
    assert ei.value.code == 503 and ei.value.status == "UNAVAILABLE"
    assert [r["state"] for r in records(url)] == ["failed", "failed"]


def test_sdk_retry_options_consume_steps_fifo(url):
    c = make_client(url, retry_options=types.HttpRetryOptions(attempts=3, initial_delay=0.01, max_delay=0.02))
    script(url, {"action": "error", "status": 503}, {"action": "error", "status": 429},
           {"action": "reply", "text": "third time lucky"})
    assert c.models.generate_content(model=MODEL, contents="x").text == "third time lucky"
    assert [r["action"] for r in records(url)] == ["error", "error", "reply"]


def test_scripted_reply_chunks_usage_and_finish_reason(client, url):
    usage = {"promptTokenCount": 11, "candidatesTokenCount": 22, "totalTokenCount": 33}
    script(url, {"action": "reply", "chunks": ["Hel", "lo"], "finishReason": "MAX_TOKENS", "usage": usage},
           {"action": "reply", "text": "whole answer", "usage": usage})
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="x"))
    assert [c.text for c in chunks] == ["Hel", "lo"]
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert chunks[-1].usage_metadata.total_token_count == 33
    r = client.models.generate_content(model=MODEL, contents="x")
    assert r.text == "whole answer" and r.usage_metadata.candidates_token_count == 22


def test_block_safety_stop_and_empty(client, url):
    script(url, {"action": "block", "reason": "SAFETY"},
           {"action": "safety_stop", "chunks": ["partial ", "text"]},
           {"action": "empty"}, {"action": "block"})
    r = client.models.generate_content(model=MODEL, contents="x")
    assert r.prompt_feedback.block_reason == types.BlockedReason.SAFETY and not r.candidates and r.text is None
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="x"))
    assert [c.text for c in chunks[:-1]] == ["partial ", "text"]
    last = chunks[-1].candidates[0]
    assert last.finish_reason == types.FinishReason.SAFETY and last.content is None
    assert any(s.probability.name == "HIGH" and s.blocked for s in last.safety_ratings)
    r = client.models.generate_content(model=MODEL, contents="x")
    assert not r.candidates and r.prompt_feedback is None and r.text is None
    [only] = list(client.models.generate_content_stream(model=MODEL, contents="x"))
    assert only.prompt_feedback.block_reason == types.BlockedReason.SAFETY


def test_drop_mid_stream_and_before_response(client, url):
    script(url, {"action": "drop", "after_chunks": 1}, {"action": "drop"})
    got = []
    with pytest.raises(httpx2.RemoteProtocolError, match="incomplete chunked read"):
        for c in client.models.generate_content_stream(model=MODEL, contents="a b c d e f g h i"):
            got.append(c.text)
    assert got == ["Echo: a b "]
    with pytest.raises(httpx2.RemoteProtocolError, match="without sending a response"):
        client.models.generate_content(model=MODEL, contents="x")
    assert [(r["state"], r["chunks_sent"]) for r in records(url)] == [("dropped", 1), ("dropped", 0)]


def test_hang_past_client_timeout_raises_read_timeout(url):
    c = make_client(url, timeout=300)  # milliseconds
    script(url, {"action": "hang", "seconds": 5}, {"action": "hang", "seconds": 5, "after_chunks": 1},
           {"action": "hang", "seconds": 5})
    t0 = time.monotonic()
    with pytest.raises(httpx2.ReadTimeout):
        c.models.generate_content(model=MODEL, contents="x")
    assert time.monotonic() - t0 < 2
    got = []
    with pytest.raises(httpx2.ReadTimeout):
        for ch in c.models.generate_content_stream(model=MODEL, contents="a b c d e f"):
            got.append(ch.text)
    assert got == ["Echo: a b "]
    plain = make_client(url)  # per-call timeout via GenerateContentConfig.http_options
    with pytest.raises(httpx2.TimeoutException):
        plain.models.generate_content(model=MODEL, contents="x", config=types.GenerateContentConfig(
            http_options=types.HttpOptions(timeout=300)))
    assert not issubclass(httpx2.ReadTimeout, errors.APIError)
    for i in (1, 2, 3):  # the SDK closes the socket on timeout; the stand-in notices
        wait_state(url, i, "client_disconnected")


def test_timeout_is_per_read_not_total(url):
    c = make_client(url, timeout=400)
    script(url, {"action": "reply", "chunks": ["a"] * 5, "chunk_delay": 0.2})
    t0 = time.monotonic()
    assert len(list(c.models.generate_content_stream(model=MODEL, contents="x"))) == 5
    assert time.monotonic() - t0 > 0.7  # longer than 400 ms in total, still fine


def test_first_chunk_arrives_while_in_progress_and_close_disconnects(client, url):
    script(url, {"action": "reply", "chunks": [f"w{i} " for i in range(40)], "chunk_delay": 0.1})
    it = client.models.generate_content_stream(model=MODEL, contents="x")
    first = next(it)
    assert first.text == "w0 "
    assert records(url)[0]["state"] == "in_progress"
    it.close()
    assert wait_state(url, 1, "client_disconnected", timeout=2)["chunks_sent"] < 5


def test_breaking_out_of_loop_also_disconnects(client, url):
    script(url, {"action": "reply", "chunks": [f"w{i} " for i in range(40)], "chunk_delay": 0.1})
    for _ in client.models.generate_content_stream(model=MODEL, contents="x"):
        break  # generator loses its last reference -> closed by refcounting
    wait_state(url, 1, "client_disconnected", timeout=2)


def test_async_task_cancel_disconnects(client, url):
    # Note (google-genai 3.6.1): for client.aio streams, aclose()/break on the iterator does NOT close the
    # HTTP connection; cancelling the consuming task (or client.aio.aclose()) does.
    script(url, {"action": "reply", "chunks": [f"w{i} " for i in range(40)], "chunk_delay": 0.1})
    got = []

    async def consume():
        async for chunk in await client.aio.models.generate_content_stream(model=MODEL, contents="x"):
            got.append(chunk.text)

    async def main():
        task = asyncio.create_task(consume())
        while not got:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert got
    wait_state(url, 1, "client_disconnected", timeout=2)


def test_forty_concurrent_requests(url):
    def one(i):
        path = "streamGenerateContent?alt=sse" if i % 2 else "generateContent"
        r = api(url, path, {"contents": [{"role": "user", "parts": [{"text": f"msg {i}"}]}]})
        return r.status_code, r.text

    with ThreadPoolExecutor(40) as ex:
        results = list(ex.map(one, range(40)))
    assert all(code == 200 for code, _ in results)
    for i, (_, text) in enumerate(results):
        assert f"msg {i}" in text
    recs = records(url)
    assert len(recs) == 40 and all(r["state"] == "complete" for r in recs)


def test_raw_sse_wire_format(url):
    r = api(url, "streamGenerateContent?alt=sse", {"contents": OK_CONTENTS})
    assert r.headers["Content-Type"] == "text/event-stream"
    events = [e for e in r.text.split("\r\n\r\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert json.loads(events[-1][6:])["candidates"][0]["finishReason"] == "STOP"


# ---------------------------------------------------------------- inline data, models, token counting
# Images and PDFs are built here, header-true and tiny (no binary fixtures).


def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = (b"\x00" + b"\x00" * math.ceil(width / 8)) * height  # 1-bit greyscale, filter 0
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def jpeg(width: int, height: int) -> bytes:
    def seg(marker: int, data: bytes) -> bytes:
        return bytes([0xFF, marker]) + struct.pack(">H", len(data) + 2) + data
    return (b"\xff\xd8" + seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
            + seg(0xDB, bytes(65)) + seg(0xC4, bytes(29))  # DQT, DHT (0xC4 is no SOF) come first
            + seg(0xC0, struct.pack(">BHHB3B", 8, height, width, 1, 1, 0x11, 0)) + b"\xff\xd9")


def webp(width: int, height: int, kind: str) -> bytes:
    if kind == "VP8L":
        payload = b"\x2f" + struct.pack("<I", (width - 1) | (height - 1) << 14)
    elif kind == "VP8X":
        payload = bytes(4) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    else:  # lossy "VP8 ": frame tag, start code, 14-bit width and height
        payload = b"\x00\x00\x00\x9d\x01\x2a" + struct.pack("<HH", width, height)
    body = b"WEBP" + kind.ljust(4).encode() + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pdf(pages: int) -> bytes:
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>"]
    compact, spaced = "<</Type/Page/Parent 2 0 R>>", "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"
    objs += [compact if i % 2 else spaced for i in range(pages)]
    text = "%PDF-1.4\n" + "".join(f"{n} 0 obj\n{o}\nendobj\n" for n, o in enumerate(objs, 1))
    return (text + "trailer\n<< /Root 1 0 R >>\n%%EOF\n").encode()


def part(data: bytes, mime: str) -> types.Part:
    return types.Part.from_bytes(data=data, mime_type=mime)


def test_inline_data_request_shape_as_the_sdk_sends_it(client, url):
    image = png(1, 1)
    r = client.models.generate_content(model=MODEL, contents=[part(image, "image/png"), "what is this"])
    [rec] = records(url)
    # google-genai 3.6.1: camelCase "inlineData", snake_case "mime_type" inside, URL-safe base64.
    assert rec["body"]["contents"] == [{"parts": [
        {"inlineData": {"data": base64.urlsafe_b64encode(image).decode(), "mime_type": "image/png"}},
        {"text": "what is this"}], "role": "user"}]
    assert r.text == "Echo: what is this [1 attachment: image/png 1x1]"
    assert r.usage_metadata.prompt_token_count == 258 + 3
    assert {d.modality.name: d.token_count for d in r.usage_metadata.prompt_tokens_details} == {
        "TEXT": 3, "IMAGE": 258}
    assert rec["attachments"] == [
        {"mimeType": "image/png", "bytes": len(image), "tokens": 258, "detail": "1x1"}]
    assert rec["prompt_tokens"] == 261 and rec["billed_tokens"] == r.usage_metadata.total_token_count


@pytest.mark.parametrize("data, mime, media_tokens", [
    (png(1, 1), "image/png", 258),
    (png(384, 384), "image/png", 258),
    (png(385, 10), "image/png", 258),            # larger than 384: one 768x768 tile
    (png(1000, 1000), "image/png", 4 * 258),     # 2 x 2 tiles
    (png(1537, 700), "image/png", 3 * 258),      # 3 x 1 tiles
    (jpeg(800, 600), "image/jpeg", 2 * 258),
    (jpeg(200, 100), "image/jpeg", 258),
    (webp(300, 200, "VP8L"), "image/webp", 258),
    (webp(2000, 100, "VP8X"), "image/webp", 3 * 258),
    (webp(769, 769, "VP8"), "image/webp", 4 * 258),
    (png(1000, 1000), "image/jpeg", 4 * 258),    # read from the bytes, whatever the declared type
    (b"not an image at all", "image/png", 258),  # unreadable: one image
    (b"ftypheic", "image/heic", 258),
    (pdf(3), "application/pdf", 3 * 258),
    (pdf(1), "application/pdf", 258),
    (b"%PDF-1.4 no page objects", "application/pdf", 258),  # unreadable: one page
    ("héllo wörld!".encode(), "text/plain", 0),  # 12 chars, counted with the prompt text
])
def test_inline_data_counted_alike_everywhere(client, url, data, mime, media_tokens):
    contents = [part(data, mime), "abcd"]
    text_chars = 4 + (12 if mime == "text/plain" else 0)
    want = media_tokens + math.ceil(text_chars / 4)
    assert client.models.count_tokens(model=MODEL, contents=contents).total_tokens == want
    r = client.models.generate_content(model=MODEL, contents=contents)
    assert r.usage_metadata.prompt_token_count == want
    last = list(client.models.generate_content_stream(model=MODEL, contents=contents))[-1]
    assert last.usage_metadata.prompt_token_count == want
    counted, plain, streamed = records(url)
    assert counted["prompt_tokens"] == plain["prompt_tokens"] == streamed["prompt_tokens"] == want
    assert plain["billed_tokens"] == r.usage_metadata.total_token_count
    assert streamed["billed_tokens"] == last.usage_metadata.total_token_count
    assert r.usage_metadata.total_token_count == want + r.usage_metadata.candidates_token_count


def test_echo_lists_attachments_and_counts_sum(client, url):
    contents = [part(png(1000, 1000), "image/png"), part(pdf(3), "application/pdf"), "compare"]
    r = client.models.generate_content(model=MODEL, contents=contents)
    assert r.text == "Echo: compare [2 attachments: image/png 1000x1000, application/pdf 3 pages]"
    assert r.usage_metadata.prompt_token_count == 1032 + 774 + 2
    assert {d.modality.name: d.token_count for d in r.usage_metadata.prompt_tokens_details} == {
        "TEXT": 2, "IMAGE": 1032, "DOCUMENT": 774}
    only_image = [part(jpeg(800, 600), "image/jpeg")]
    chunks = list(client.models.generate_content_stream(model=MODEL, contents=only_image))
    assert "".join(c.text for c in chunks) == "Echo: [1 attachment: image/jpeg 800x600]"
    assert client.models.generate_content(model=MODEL, contents="plain").text == "Echo: plain"


def test_history_with_images_and_raw_base64_spellings(url):
    image = png(500, 10)  # 1 tile
    std = base64.b64encode(image).decode()
    bare = base64.urlsafe_b64encode(image).decode().rstrip("=")
    first = {"inline_data": {"mimeType": "image/png", "data": std}}
    again = {"inlineData": {"mime_type": "IMAGE/PNG", "data": bare, "displayName": "x.png"}}
    body = {"contents": [{"role": "user", "parts": [first]}, {"role": "model", "parts": [{"text": "ok"}]},
                         {"role": "user", "parts": [again]}]}
    r = api(url, body=body)
    assert r.status_code == 200, r.text
    assert r.json()["usageMetadata"]["promptTokenCount"] == 2 * 258 + 1
    assert api(url, "countTokens", body).json()["totalTokens"] == 2 * 258 + 1


@pytest.mark.parametrize("bad", [
    part(b"", "image/png"),                                  # empty data
    types.Part(inline_data=types.Blob(data=b"abc")),         # no mime type
    part(b"PK\x03\x04", "application/zip"),                 # unsupported mime type
])
def test_malformed_inline_data_is_client_error_400(client, url, bad):
    for call in (lambda: client.models.generate_content(model=MODEL, contents=[bad, "x"]),
                 lambda: list(client.models.generate_content_stream(model=MODEL, contents=[bad, "x"])),
                 lambda: client.models.count_tokens(model=MODEL, contents=[bad, "x"])):
        with pytest.raises(errors.ClientError) as ei:
            call()
        assert ei.value.code == 400 and ei.value.status == "INVALID_ARGUMENT"
    assert [r["state"] for r in records(url)] == ["rejected"] * 3


def test_unknown_model_is_404_not_found(client, url):
    with pytest.raises(errors.ClientError) as ei:
        client.models.generate_content(model="gemini-ultra", contents="x")
    assert ei.value.code == 404 and ei.value.status == "NOT_FOUND"
    assert ei.value.message.startswith("models/gemini-ultra is not found for API version v1beta, "
                                       "or is not supported for generateContent.")
    with pytest.raises(errors.ClientError) as ei:
        list(client.models.generate_content_stream(model="gemini-1.0-pro", contents="x"))
    assert ei.value.code == 404
    with pytest.raises(errors.ClientError) as ei:
        client.models.count_tokens(model="models/nope", contents="x")
    assert ei.value.code == 404 and "models/nope is not found" in ei.value.message
    for model in standin.DEFAULT_MODELS:
        assert client.models.generate_content(model=model, contents="x").model_version == model
    recs = records(url)
    assert [(r["model"], r["state"], r["http_status"]) for r in recs[:3]] == [
        ("gemini-ultra", "rejected", 404), ("gemini-1.0-pro", "rejected", 404), ("nope", "rejected", 404)]
    assert [r["model"] for r in recs[3:]] == list(standin.DEFAULT_MODELS)


def test_models_added_by_argument_and_environment(monkeypatch):
    monkeypatch.setenv(standin.MODELS_ENV, "gemini-env-1, models/gemini-env-2")
    srv, thread = serve("127.0.0.1", 0, chunk_delay=0, models=["gemini-arg"])
    try:
        c = make_client(base_url(srv))
        for model in ("gemini-env-1", "gemini-env-2", "gemini-arg", MODEL):
            assert c.models.generate_content(model=model, contents="x").text == "Echo: x"
        with pytest.raises(errors.ClientError):
            c.models.generate_content(model="gemini-other", contents="x")
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


# ---------------------------------------------------------------- CLI and privacy


def test_cli_prints_one_line_stays_quiet_and_exits_on_sigterm():
    canary = "CANARY-7f3a9-secret"
    proc = subprocess.Popen([sys.executable, standin.__file__, "--port", "0", "--chunk-delay", "0",
                             "--models", "gemini-cli-extra"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("gemini-standin listening on http://127.0.0.1:")
        u = line.rsplit(" ", 1)[1]
        c = genai.Client(api_key=canary + "-key", http_options=types.HttpOptions(base_url=u, api_version="v1beta"))
        assert canary in c.models.generate_content(model=MODEL, contents=canary).text
        assert c.models.generate_content(model="gemini-cli-extra", contents="x").text == "Echo: x"
        script(u, {"action": "drop", "after_chunks": 1}, {"action": "error", "status": 500})
        with pytest.raises(httpx2.RemoteProtocolError):
            list(c.models.generate_content_stream(model=MODEL, contents=f"{canary} a b c d e"))
        with pytest.raises(errors.ServerError):
            c.models.generate_content(model=MODEL, contents=canary)
        api(u, raw="{" + canary, key=canary)
        requests.post(f"{u}/v1beta/models/m:generateContent?key={canary}", data="{}")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert canary not in out + err
    assert out.strip() == ""  # nothing beyond the single listening line
