"""Chat attachments (issue #10) over real functions-framework processes and the Gemini stand-in:
every rule answers its status in the error envelope before Gemini is called and before any
quota is used; valid files reach Gemini as inline data, before the text, byte for byte, from the
message and from the user turns of the history.
"""

from __future__ import annotations

import json
import math
import secrets

import pytest

from tests.integration.chat_calls import Chat, answer_of, assert_refused, generated, parts_of
from tests.media_files import attachment, avif, b64, heic, jpeg, pdf, png, webp

SYSTEM = "Be brief."
SETTINGS = {"SYSTEM_PROMPT": SYSTEM}
MIB = 1 << 20
BUDGET = 200_000  # DAILY_TOKEN_BUDGET's default
PNG, PDF, TEXT = png(3, 2), pdf(), "Grüße, 世界\n".encode()
GOOD = attachment(PNG, "image/png", "q3.png")


@pytest.fixture
def chat(functions, sign_in) -> Chat:
    return Chat(functions.url("chat", **SETTINGS), sign_in())


def assert_untouched(chat: Chat, standin) -> None:
    """Nothing reached Gemini, and the user's next message is their first counted request."""
    assert standin.requests() == []
    answer = chat.answer({"message": "after"})
    [record] = generated(standin, 1)
    assert answer.quota == {"requestsLeft": 29, "tokensLeft": BUDGET - record["billed_tokens"]}


def body_with(*items, message: str = "look", **extra) -> dict:
    return {"message": message, "attachments": list(items), **extra}


def spoiled(**changes) -> dict:
    return {**GOOD, **changes}


def history_with(*items, role: str = "user", text: str = "before") -> dict:
    return {"message": "now", "history": [{"role": role, "text": text, "attachments": list(items)},
                                          {"role": "model", "text": "seen"}]}


REFUSALS = [  # (body, status, code, words of the message)
    ({"message": "look", "attachments": GOOD}, 400, "invalid_argument", "must be a list"),
    (body_with("q3.png"), 400, "invalid_argument", "must be an object"),
    (body_with({"name": "a", "mimeType": "image/png"}), 400, "invalid_argument", "data"),
    (body_with(spoiled(size=42)), 400, "invalid_argument", "Unknown field 'size'"),
    (body_with(spoiled(data=None)), 400, "invalid_argument", "must be a string"),
    (body_with(spoiled(name="")), 400, "invalid_argument", "1 to 255 characters"),
    (body_with(spoiled(name="n" * 256)), 400, "invalid_argument", "1 to 255 characters"),
    (body_with(*[GOOD] * 5), 400, "invalid_argument", "at most 4 attachments"),
    (body_with(spoiled(mimeType="image/gif")), 415, "unsupported_media_type", "accepted: image/png"),
    (body_with(spoiled(mimeType="IMAGE/PNG")), 415, "unsupported_media_type", "does not accept"),
    (body_with(attachment(PNG, "image/jpeg")), 415, "unsupported_media_type", "not image/jpeg"),
    (body_with(attachment(jpeg(), "image/webp")), 415, "unsupported_media_type", "not image/webp"),
    (body_with(attachment(PDF, "image/png")), 415, "unsupported_media_type", "not image/png"),
    (body_with(attachment(PDF, "text/plain")), 415, "unsupported_media_type", "not text/plain"),
    (body_with(attachment(TEXT, "application/pdf")), 415, "unsupported_media_type", "not application/pdf"),
    (body_with(attachment(b"a\x00b", "text/csv")), 415, "unsupported_media_type", "not text/csv"),
    (body_with(attachment(avif(), "image/heif")), 415, "unsupported_media_type", "not image/heif"),
    (body_with(spoiled(data=" " + GOOD["data"])), 400, "invalid_argument", "standard base64"),
    (body_with(spoiled(data=b64(PNG + b"\x00")[:-2])), 400, "invalid_argument", "base64"),
    (body_with(spoiled(data=b64(b"\xfb\xff\xbf" + PNG).replace("+", "-").replace("/", "_"))),
     400, "invalid_argument", "standard base64"),
    (body_with(spoiled(data="é" + GOOD["data"][1:])), 400, "invalid_argument", "standard base64"),
    (body_with(spoiled(data="data:image/png;base64," + GOOD["data"])), 400, "invalid_argument",
     "base64"),
    (body_with(spoiled(data="")), 400, "invalid_argument", "is empty"),
    ({"message": " "}, 400, "invalid_argument", "blank"),
    (body_with(message="\n\t "), 400, "invalid_argument", "blank"),
    (history_with(GOOD, role="model"), 400, "invalid_argument", "Only user turns"),
    (history_with(role="model"), 400, "invalid_argument", "Only user turns"),
    (history_with(text=" "), 400, "invalid_argument", "blank"),
    (history_with(attachment(PNG, "image/webp")), 415, "unsupported_media_type",
     "attachment 1 of history item 1 is not image/webp"),
    (history_with(GOOD, spoiled(data="AA=A")), 400, "invalid_argument", "history item 1"),
    (history_with(*[GOOD] * 5), 400, "invalid_argument", "History item 1 may carry at most 4"),
]


@pytest.mark.parametrize("body, status, code, words", REFUSALS)
def test_each_rule_refuses_before_gemini_and_before_any_quota(chat, standin, body, status, code,
                                                               words):
    assert words in assert_refused(chat.post(body), status, code)
    assert_untouched(chat, standin)


@pytest.mark.parametrize("body, status, code, words", [r for r in REFUSALS if r[1] == 415])
def test_a_refused_stream_request_gets_the_json_envelope(chat, standin, body, status, code,
                                                         words):
    assert words in assert_refused(chat.post(body, sse=True), status, code)
    assert standin.requests() == []


def test_a_file_of_exactly_the_limit_passes_and_one_byte_more_is_413(chat, standin):
    limit = 5 * MIB  # MAX_ATTACHMENT_BYTES' default
    exact = png(10, 10, size=limit)
    response = chat.post(body_with(attachment(exact, "image/png"), message="big"))
    assert answer_of(response).reply == "Echo: big [1 attachment: image/png 10x10]"
    [record] = generated(standin, 1)
    assert record["attachments"] == [{"mimeType": "image/png", "bytes": limit, "tokens": 258,
                                      "detail": "10x10"}]
    standin.reset()
    over = chat.post(body_with(attachment(png(10, 10, size=limit + 1), "image/png")))
    assert assert_refused(over, 413, "payload_too_large") == \
        "Attachment 1 of the message is larger than 5 MiB."
    assert standin.requests() == []
    assert chat.answer({"message": "after"}).quota["requestsLeft"] == 28  # only the 200s count


@pytest.mark.parametrize("where", ["message", "history"])
def test_a_request_over_max_request_bytes_is_413(chat, standin, where):
    files = [attachment(png(10, 10, size=4 * MIB), "image/png")] * 4  # each under 5 MiB
    body = body_with(*files) if where == "message" else history_with(*files)
    raw = json.dumps(body).encode()
    assert len(raw) > 20 * MIB  # MAX_REQUEST_BYTES' default: the base64 makes 16 MiB 21.3 MiB
    assert_refused(chat.post(raw), 413, "payload_too_large")
    assert_untouched(chat, standin)


def test_max_request_bytes_counts_the_whole_body(functions, sign_in, standin):
    chat = Chat(functions.url("chat", **SETTINGS, MAX_REQUEST_BYTES="65536"), sign_in())
    file = attachment(png(10, 10, size=30_000), "image/png")  # 40 KB of base64 each
    assert chat.answer(body_with(file)).reply.startswith("Echo: look [1 attachment")
    standin.reset()
    assert_refused(chat.post(body_with(file, file)), 413, "payload_too_large")
    assert standin.requests() == []


def test_attachment_types_and_max_attachments_are_the_operator_s(functions, sign_in, standin):
    url = functions.url("chat", **SETTINGS, MAX_ATTACHMENTS="1",
                        ATTACHMENT_TYPES="image/png,text/plain")
    chat = Chat(url, sign_in())
    message = assert_refused(chat.post(body_with(attachment(PDF, "application/pdf"))), 415,
                             "unsupported_media_type")
    assert message.endswith("accepted: image/png, text/plain.")
    assert "at most 1 attachments" in assert_refused(chat.post(body_with(GOOD, GOOD)), 400,
                                                     "invalid_argument")
    assert_untouched(chat, standin)


def test_attachments_turned_off(functions, sign_in, standin):
    chat = Chat(functions.url("chat", **SETTINGS, MAX_ATTACHMENTS="0"), sign_in())
    message = assert_refused(chat.post(body_with(GOOD)), 400, "invalid_argument")
    assert message == "Attachments are turned off on this server."
    assert_refused(chat.post(history_with(GOOD)), 400, "invalid_argument")
    assert chat.answer(body_with()).reply == "Echo: look"  # an empty list is no attachment
    assert chat.answer({"message": "after"}).quota["requestsLeft"] == 28


# --- what reaches Gemini -------------------------------------------------------------------------

def unique_pdf(pages: int = 1) -> bytes:
    """A PDF no other test sent: chat remembers a PDF's token count per instance."""
    return pdf(pages, "unique " + secrets.token_hex(8))


def system_chars(*texts: str) -> int:
    """The stand-in's text tokens: ceil(chars / 4) of the system prompt and every text."""
    return math.ceil((len(SYSTEM) + sum(map(len, texts))) / 4)


@pytest.mark.parametrize("sse", [False, True], ids=["json", "sse"])
def test_png_pdf_and_text_reach_gemini_in_order_before_the_text(chat, standin, sse):
    document = unique_pdf()
    files = [attachment(PNG, "image/png", "q3.png"),
             attachment(document, "application/pdf", "r.pdf"),
             attachment(TEXT, "text/plain", "notes.txt")]
    answer = chat.answer(body_with(*files, message="compare"), sse=sse)
    chars = len(TEXT.decode())
    assert answer.reply == ("Echo: compare [3 attachments: image/png 3x2, application/pdf 1 page, "
                            f"text/plain {chars} chars]")
    [record] = generated(standin, 1)
    count, generate = standin.requests()  # the PDF is counted (countTokens) before admission
    assert (count["method"], generate["id"]) == ("countTokens", record["id"])
    assert record["method"] == ("streamGenerateContent" if sse else "generateContent")
    [content] = record["body"]["contents"]
    assert content["role"] == "user"
    assert parts_of(content) == [("image/png", PNG), ("application/pdf", document),
                                 ("text/plain", TEXT), ("text", "compare")]
    assert record["attachments"] == [
        {"mimeType": "image/png", "bytes": len(PNG), "tokens": 258, "detail": "3x2"},
        {"mimeType": "application/pdf", "bytes": len(document), "tokens": 258,
         "detail": "1 page"},
        {"mimeType": "text/plain", "bytes": len(TEXT), "tokens": 0, "detail": f"{chars} chars"}]
    sent = json.dumps(record["body"])
    assert not [name for name in ("q3.png", "r.pdf", "notes.txt") if name in sent]  # names stay
    assert answer.usage["inputTokens"] == record["prompt_tokens"] == 2 * 258 + system_chars(
        "compare", TEXT.decode())
    assert answer.quota == {"requestsLeft": 29, "tokensLeft": BUDGET - record["billed_tokens"]}


@pytest.mark.parametrize("sse", [False, True], ids=["json", "sse"])
def test_history_attachments_are_sent_with_their_turns(chat, standin, sse):
    body = {"message": "and this one?", "attachments": [attachment(TEXT, "text/markdown")],
            "history": [{"role": "user", "text": "", "attachments": [
                            attachment(PNG, "image/png"), attachment(webp(800, 600, "VP8X"),
                                                                     "image/webp")]},
                        {"role": "model", "text": "Two pictures."},
                        {"role": "user", "text": "Thanks", "attachments": []},
                        {"role": "model", "text": "You are welcome."}]}
    answer = chat.answer(body, sse=sse)
    chars = len(TEXT.decode())
    assert answer.reply == f"Echo: and this one? [1 attachment: text/markdown {chars} chars]"
    [record] = generated(standin, 1)
    assert [parts_of(content) for content in record["body"]["contents"]] == [
        [("image/png", PNG), ("image/webp", webp(800, 600, "VP8X"))],  # a blank text is left out
        [("text", "Two pictures.")], [("text", "Thanks")], [("text", "You are welcome.")],
        [("text/markdown", TEXT), ("text", "and this one?")]]
    assert [(a["mimeType"], a["tokens"]) for a in record["attachments"]] == [
        ("image/png", 258), ("image/webp", 2 * 258), ("text/markdown", 0)]


@pytest.mark.parametrize("sse", [False, True], ids=["json", "sse"])
def test_a_blank_message_with_attachments_is_answered(chat, standin, sse):
    answer = chat.answer(body_with(attachment(heic(640, 480), "image/heic"),
                                   attachment(jpeg(100, 50), "image/jpeg"), message="  "), sse=sse)
    assert answer.reply == "Echo: [2 attachments: image/heic 640x480, image/jpeg 100x50]"
    [record] = generated(standin, 1)
    assert parts_of(record["body"]["contents"][0]) == [("image/heic", heic(640, 480)),
                                                       ("image/jpeg", jpeg(100, 50))]
