"""Attachments never reach a log (issue #10): a PNG and a PDF carrying unique strings, a text
file and a file name that are canaries, sent in answered requests (JSON, SSE, in the history,
failing upstream, cut midway) and in refused ones (type mismatch, too large, bad base64), then
every captured log line is searched for them and for their base64.
"""

from __future__ import annotations

import json
import secrets

import pytest

from tests.integration.chat_calls import Chat, assert_refused, generated
from tests.integration.harness import CANARIES
from tests.media_files import attachment, b64, b64_fragments, pdf, png

PNG_CANARY = "canary-png-text-" + secrets.token_hex(8)
PDF_CANARY = "canary-pdf-text-" + secrets.token_hex(8)
TEXT_CANARY = "canary-text-file-" + secrets.token_hex(8)
NAME_CANARY = "canary-file-name-" + secrets.token_hex(8)
IMAGE = png(8, 8, text={"Comment": PNG_CANARY})
DOCUMENT = pdf(2, PDF_CANARY)
NOTES = f"Meeting notes: {TEXT_CANARY}\n".encode()
SECRETS = [PNG_CANARY, PDF_CANARY, TEXT_CANARY, NAME_CANARY]


@pytest.fixture(scope="module", autouse=True)
def planted():
    """The session-wide scan (conftest) fails the run on any of these in any log."""
    for secret in SECRETS:
        CANARIES.add(secret, *b64_fragments(secret.encode()))
    for data in (IMAGE, DOCUMENT, NOTES):  # whole, standard and as the SDK sends it
        CANARIES.add(b64(data), b64(data).rstrip("=").replace("+", "-").replace("/", "_"))


def files(name: str = NAME_CANARY) -> list[dict]:
    return [attachment(IMAGE, "image/png", name), attachment(DOCUMENT, "application/pdf", name),
            attachment(NOTES, "text/plain", name)]


def with_history(**body) -> dict:
    return {"history": [{"role": "user", "text": "", "attachments": files()},
                        {"role": "model", "text": "Noted."}], **body}


def test_attachments_never_reach_a_log(functions, sign_in, standin, log_dir):
    url = functions.url("chat", SYSTEM_PROMPT="Be brief.", K_REVISION="attachment-privacy")
    chat = Chat(url, sign_in())
    standin.script({"action": "reply", "text": "Fine."}, {"action": "reply", "text": "Fine."},
                   {"action": "reply", "text": "Fine."}, {"action": "error", "status": 400},
                   {"action": "drop", "after_chunks": 1})
    answered = [
        chat.post({"message": "look", "attachments": files()}),
        chat.post({"message": "look", "attachments": files()}, sse=True),
        chat.post(with_history(message="and now?")),
        chat.post({"message": "look", "attachments": files()}),  # Gemini answers 400: logged
        chat.post(with_history(message="one two three four five six", attachments=files()),
                  sse=True),  # cut midway: counted afterwards with countTokens
    ]
    assert [r.status_code for r in answered] == [200, 200, 200, 502, 200]
    assert '"error"' in answered[-1].text.split("\n\n")[-2]
    reached = json.dumps([r["body"] for r in generated(standin, 5)])
    assert NAME_CANARY not in reached  # a name stays in the browser: never sent to Gemini
    assert b64(NOTES).rstrip("=").replace("+", "-").replace("/", "_") in reached  # the bytes do
    standin.reset()

    oversize = png(8, 8, text={"Comment": PNG_CANARY}, size=5 * (1 << 20) + 1)
    spoofed = attachment(IMAGE, "image/jpeg", NAME_CANARY)
    bad_b64 = {**attachment(DOCUMENT, "application/pdf", NAME_CANARY)}
    bad_b64["data"] = bad_b64["data"][:40] + "\n" + bad_b64["data"][40:]
    refused = [
        (chat.post({"message": "x", "attachments": [spoofed]}), 415),
        (chat.post({"message": "x", "attachments": [spoofed]}, sse=True), 415),
        (chat.post({"message": "x", "attachments": [attachment(oversize, "image/png",
                                                               NAME_CANARY)]}), 413),
        (chat.post({"message": "x", "attachments": [bad_b64]}), 400),
        (chat.post(with_history(message="x", attachments=[
            attachment(NOTES, "application/pdf", NAME_CANARY)])), 415),
        (chat.post({"message": "x", "history": [
            {"role": "user", "text": "y", "attachments": [spoofed]}]}), 415),
        (chat.post({"message": "x", "history": [
            {"role": "model", "text": "y", "attachments": files()}]}), 400),
        (chat.post({"message": "", "attachments": files(NAME_CANARY * 20)}), 400),  # too long
        (chat.post({"message": "x", "attachments": files() * 2}), 400),  # too many
        (chat.post({"message": "x", "attachments": [
            {**attachment(NOTES, "text/plain"), NAME_CANARY: TEXT_CANARY}]}), 400),
    ]
    assert [r.status_code for r, _ in refused] == [status for _, status in refused]
    for response, _ in refused:
        assert_refused(response, response.status_code, response.json()["error"]["code"])
        assert not [secret for secret in SECRETS if secret in response.text]
    assert standin.requests() == []

    log = functions.log_of(url).read_text(errors="replace")
    for reason in ("attachment_mismatch", "attachment_size", "attachment_base64",
                   "history_attachments", "attachment_name", "attachments_count"):
        assert f'"{reason}"' in log  # the refusals were logged, by their reason only
    logged = [path.read_text(errors="replace") for path in sorted(log_dir.rglob("*.log"))]
    hits = [value[:24] for value in CANARIES.values for text in logged if value in text]
    assert hits == []
