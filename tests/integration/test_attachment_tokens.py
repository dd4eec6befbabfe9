"""What attachments cost (issue #10), over real processes and the Gemini stand-in: the reservation
counts images by Gemini's tile rule and text files by their bytes before Gemini is called (and
weights them with the model), PDF and HEIF are counted once per instance with countTokens, and
the charge afterwards is Gemini's usageMetadata, weighted.
"""

from __future__ import annotations

import math
import secrets

import pytest
import requests

from tests.integration.chat_calls import SSE, Chat, answer_of, assert_refused, generated
from tests.media_files import attachment, heic, pdf, png

SYSTEM = "Be brief."  # 9 bytes
MAX_OUTPUT = 100
MODELS = "gemini-2.5-flash:1,gemini-2.5-flash-lite:0.5,gemini-2.5-pro:30"
WEIGHTS = {"gemini-2.5-flash": 1, "gemini-2.5-flash-lite": 0.5, "gemini-2.5-pro": 30}
BIG, SMALL = png(4000, 4000), png(100, 100)  # 6 x 6 tiles, and one small image
BIG_TOKENS, SMALL_TOKENS = 36 * 258, 258
MESSAGE = "Describe this."


def reservation(message: str, image_tokens: int, model: str = "gemini-2.5-flash") -> int:
    """billing.reservation written out: every text byte and 8 per turn (the system prompt, the
    message), the longest answer, each image's published tokens and 8 per part; × the weight."""
    raw = len(SYSTEM) + 8 + len(message.encode()) + 8 + MAX_OUTPUT + image_tokens + 8
    return math.ceil(raw * WEIGHTS[model])


BUDGET = reservation(MESSAGE, BIG_TOKENS)
SETTINGS = {"SYSTEM_PROMPT": SYSTEM, "MAX_OUTPUT_TOKENS": str(MAX_OUTPUT), "GEMINI_MODELS": MODELS}


def image_body(image: bytes, message: str = MESSAGE, model: str | None = None) -> dict:
    return {"message": message, "attachments": [attachment(image, "image/png")],
            **({"model": model} if model else {})}


@pytest.fixture
def budgeted(functions, sign_in):
    """new_user() -> a Chat of a chat process whose daily budget is one big image's reservation."""
    url = functions.url("chat", **SETTINGS, DAILY_TOKEN_BUDGET=str(BUDGET))
    return lambda: Chat(url, sign_in())


@pytest.mark.parametrize("image, message, model, admitted", [
    (BIG, MESSAGE, None, False),  # its reservation is the whole budget
    (BIG, MESSAGE[:-1], None, True),  # one byte less: one token of the budget is still free
    (SMALL, MESSAGE, None, True),
    (BIG, MESSAGE, "gemini-2.5-flash-lite", True),  # half the weight
    (SMALL, MESSAGE, "gemini-2.5-pro", False),  # 30 × a small one is more than the budget
], ids=["big", "big-1", "small", "big-light", "small-heavy"])
def test_an_image_s_reservation_holds_the_budget_before_gemini_is_called(
        budgeted, standin, image, message, model, admitted):
    tokens = BIG_TOKENS if image is BIG else SMALL_TOKENS
    assert (reservation(message, tokens, model or "gemini-2.5-flash") >= BUDGET) is not admitted
    chat = budgeted()
    standin.script({"action": "reply", "chunks": [f"w{i} " for i in range(40)],
                    "chunk_delay": 0.25})
    with chat.post(image_body(image, message, model), sse=True, stream=True) as held:
        assert held.status_code == 200
        next(held.iter_content(16))  # answering: its reservation is held until it ends
        assert len(generated(standin)) == 1
        second = chat.post({"message": "next"})
        if admitted:
            assert answer_of(second).reply == "Echo: next"
            assert len(generated(standin)) == 2
        else:
            assert_refused(second, 429, "quota_exceeded")
            assert int(second.headers["Retry-After"]) >= 1
            assert len(generated(standin)) == 1  # refused before Gemini was called


def test_a_big_image_is_admitted_while_the_budget_had_room_then_charged_as_gemini_counts(
        budgeted, standin):
    chat = budgeted()
    answer = chat.answer(image_body(BIG))
    [record] = generated(standin, 1)
    assert record["prompt_tokens"] == BIG_TOKENS + math.ceil((len(SYSTEM) + len(MESSAGE)) / 4)
    assert answer.usage["inputTokens"] == record["prompt_tokens"]
    assert answer.quota["tokensLeft"] == BUDGET - record["billed_tokens"]
    assert chat.answer(image_body(BIG)).quota["tokensLeft"] == 0  # had room: admitted, overspent
    assert_refused(chat.post({"message": "one more"}), 429, "quota_exceeded")
    assert len(generated(standin)) == 2


@pytest.mark.parametrize("sse", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-2.5-flash-lite"])
def test_tokens_left_is_gemini_s_usage_times_the_weight(functions, sign_in, standin, model, sse):
    chat = Chat(functions.url("chat", **SETTINGS), sign_in())
    document, notes = pdf(3, secrets.token_hex(8)), "ünïcode notes\n" * 20
    body = {"message": "Summarize.", "model": model, "attachments": [
        attachment(BIG, "image/png"), attachment(document, "application/pdf"),
        attachment(notes.encode(), "text/markdown")]}
    answer = answer_of(chat.post(body, sse))
    [record] = generated(standin, 1)
    text_chars = len(SYSTEM) + len("Summarize.") + len(notes)
    assert record["prompt_tokens"] == BIG_TOKENS + 3 * 258 + math.ceil(text_chars / 4)
    assert answer.usage["inputTokens"] == record["prompt_tokens"]
    charged = math.ceil(record["billed_tokens"] * WEIGHTS[model])
    assert answer.quota == {"requestsLeft": 29, "tokensLeft": 200_000 - charged}


def counts(standin) -> list[str]:
    return [r["model"] for r in standin.requests() if r["method"] == "countTokens"]


def test_a_pdf_is_counted_once_per_instance_and_model(functions, sign_in, standin):
    chat = Chat(functions.url("chat", **SETTINGS), sign_in())
    document = attachment(pdf(2, secrets.token_hex(8)), "application/pdf")
    assert chat.answer({"message": "read", "attachments": [document]}).reply == \
        "Echo: read [1 attachment: application/pdf 2 pages]"
    assert counts(standin) == ["gemini-2.5-flash"]
    [record] = standin.requests()[1:]
    assert record["method"] == "generateContent"
    standin.reset()
    follow_up = {"message": "and then?", "history": [
        {"role": "user", "text": "read", "attachments": [document]},
        {"role": "model", "text": "Read."}]}
    chat.answer(follow_up)  # the same PDF again, in the history: remembered
    assert counts(standin) == [] and len(generated(standin)) == 1
    chat.answer({**follow_up, "attachments": [document, document]})  # three times in one request
    assert counts(standin) == []
    chat.answer({**follow_up, "model": "gemini-2.5-flash-lite"})  # another model counts anew
    assert counts(standin) == ["gemini-2.5-flash-lite"]


def test_a_new_pdf_sent_twice_in_one_request_is_counted_once(functions, sign_in, standin):
    chat = Chat(functions.url("chat", **SETTINGS), sign_in())
    document = attachment(pdf(1, secrets.token_hex(8)), "application/pdf")
    chat.answer({"message": "again", "attachments": [document], "history": [
        {"role": "user", "text": "", "attachments": [document]}, {"role": "model", "text": "ok"}]})
    assert counts(standin) == ["gemini-2.5-flash"]


def test_heic_is_counted_by_gemini_and_images_with_a_rule_are_not(functions, sign_in, standin):
    chat = Chat(functions.url("chat", **SETTINGS), sign_in())
    image = heic(800 + secrets.randbelow(737), 700)  # unique bytes (not remembered yet); 2 tiles wide
    chat.answer({"message": "what", "attachments": [attachment(image, "image/heic"),
                                                    attachment(BIG, "image/png")]})
    [count] = [r for r in standin.requests() if r["method"] == "countTokens"]
    assert [a["mimeType"] for a in count["attachments"]] == ["image/heic"]
    assert count["prompt_tokens"] == 2 * 258  # the stand-in reads its ispe box: 2 x 1 tiles


def test_a_refused_pdf_is_never_counted(functions, sign_in, standin):
    chat = Chat(functions.url("chat", **SETTINGS), sign_in())
    document = pdf(1, secrets.token_hex(8))
    refused = [chat.post({"message": "x", "attachments": [attachment(document, "image/png")]}),
               chat.post({"message": "x", "attachments": [attachment(document, "application/pdf")],
                          "history": [{"role": "model", "text": "x", "attachments": []}]}),
               chat.post({"message": "x", "attachments": [attachment(document, "application/pdf")],
                          "model": "gemini-1.0-pro"})]
    assert [r.status_code for r in refused] == [415, 400, 400]
    assert standin.requests() == []


def test_an_sse_refusal_over_budget_is_json(budgeted, standin):
    chat = budgeted()
    chat.answer(image_body(BIG))
    chat.answer(image_body(BIG))
    response = requests.post(chat.url, json=image_body(SMALL), timeout=30,
                             headers={"Authorization": f"Bearer {chat.token}", **SSE})
    assert_refused(response, 429, "quota_exceeded")


@pytest.mark.parametrize("settings, before", [
    ({"RATE_LIMITS": "1/minute"}, 1),  # the one request of the minute was answered
    ({"DAILY_TOKEN_BUDGET": "5"}, 1),  # its charge (7 tokens) used the day's budget up
    ({"MAX_CONCURRENT_STREAMS_PER_USER": "1"}, 0),  # one answer is streaming meanwhile
], ids=["rate", "budget", "streams"])
def test_a_refused_user_s_new_pdfs_are_never_counted(functions, sign_in, standin, settings, before):
    chat = Chat(functions.url("chat", **SETTINGS, **settings), sign_in())
    if before:
        chat.answer({"message": "hello"})  # answered (answer_of checks the 200)
    held = None
    if "MAX_CONCURRENT_STREAMS_PER_USER" in settings:
        standin.script({"action": "reply", "chunks": ["slow"] * 3, "chunk_delay": 3})
        held = chat.post({"message": "stream"}, sse=True, stream=True)
        next(held.iter_content(1))
    standin.reset()
    try:
        statuses = [chat.post({"message": "x", "attachments": [
            attachment(pdf(1, secrets.token_hex(8)), "application/pdf")]}).status_code
            for _ in range(3)]
    finally:
        if held is not None:
            held.close()
    assert statuses == [429] * 3
    assert counts(standin) == [] and generated(standin) == []
