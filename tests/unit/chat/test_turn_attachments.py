"""chat/turn with attachments: on the message and on user turns of the history (never on model
turns), a blank text only next to files, and Gemini's contents with each turn's files before its
text."""

from __future__ import annotations

import pytest

from core.config import load_config
from core.errors import ApiError
from tests.media_files import attachment, pdf, png
from turn import Said, Turn, parse_turn

DEFAULTS = load_config("chat", {"APP_ENV": "development"})


def turn_of(body: dict, config=DEFAULTS) -> Turn:
    return parse_turn(body, config)


def turn_refused(body: dict, config=DEFAULTS) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_turn(body, config)
    return caught.value


IMAGE, DOC = attachment(png(2, 2), "image/png", "a.png"), attachment(pdf(), "application/pdf")


@pytest.mark.parametrize("message", ["", " ", "\n\t"])
def test_a_blank_message_needs_an_attachment(message):
    turn = turn_of({"message": message, "attachments": [IMAGE]})
    assert turn.message == message and [a.mime_type for a in turn.attachments] == ["image/png"]
    assert turn.contents() == [{"role": "user", "parts": [
        {"inline_data": {"mime_type": "image/png", "data": png(2, 2)}}]}]  # no blank text part
    for body in ({"message": message}, {"message": message, "attachments": []}):
        error = turn_refused(body)
        assert (error.status, error.reason) == (400, "blank")


def test_the_attachments_come_before_the_text_in_their_order():
    turn = turn_of({"message": "compare", "attachments": [IMAGE, DOC]})
    assert turn.contents() == [{"role": "user", "parts": [
        {"inline_data": {"mime_type": "image/png", "data": png(2, 2)}},
        {"inline_data": {"mime_type": "application/pdf", "data": pdf()}},
        {"text": "compare"}]}]


def test_user_turns_of_the_history_carry_attachments():
    turn = turn_of({"message": "and this?", "attachments": [DOC], "history": [
        {"role": "user", "text": "", "attachments": [IMAGE]},
        {"role": "model", "text": "A black square."},
        {"role": "user", "text": "ok", "attachments": []}]})
    assert [said.role for said in turn.history] == ["user", "model", "user"]
    assert [len(said.attachments) for said in turn.history] == [1, 0, 0]
    assert [a.mime_type for a in turn.all_attachments()] == ["image/png", "application/pdf"]
    assert turn.contents() == [
        {"role": "user", "parts": [{"inline_data": {"mime_type": "image/png", "data": png(2, 2)}}]},
        {"role": "model", "parts": [{"text": "A black square."}]},
        {"role": "user", "parts": [{"text": "ok"}]},
        {"role": "user", "parts": [{"inline_data": {"mime_type": "application/pdf",
                                                    "data": pdf()}}, {"text": "and this?"}]}]
    assert turn.said()[-1] == Said("user", "and this?", turn.attachments)


@pytest.mark.parametrize("attached", [[], [IMAGE]])
def test_model_turns_carry_no_attachments(attached):
    error = turn_refused({"message": "hi", "history": [
        {"role": "model", "text": "x", "attachments": attached}]})
    assert (error.status, error.reason) == (400, "history_attachments")


def test_a_blank_user_turn_without_attachments_is_refused():
    error = turn_refused({"message": "hi", "history": [{"role": "user", "text": " ",
                                                        "attachments": []}]})
    assert (error.status, error.reason) == (400, "blank")


@pytest.mark.parametrize("history, status, reason, named", [
    ([{"role": "user", "text": "x", "attachments": [attachment(png(), "image/jpeg")]}], 415,
     "attachment_mismatch", "attachment 1 of history item 1"),
    ([{"role": "model", "text": "x"}, {"role": "user", "text": "x", "attachments": [
        IMAGE, {**IMAGE, "data": "a b="}]}], 400, "attachment_base64",
     "attachment 2 of history item 2"),
    ([{"role": "user", "text": "x", "attachments": [IMAGE] * 5}], 400, "attachments_count",
     "History item 1"),
    ([{"role": "user", "text": "x", "attachments": {"name": "a"}}], 400, "field_type",
     "attachments"),
])
def test_history_attachments_are_checked_like_the_message_s(history, status, reason, named):
    error = turn_refused({"message": "hi", "history": history})
    assert (error.status, error.reason) == (status, reason) and named in error.message


def test_the_message_s_attachments_are_checked_before_its_text_and_the_history():
    error = turn_refused({"message": "x" * 9000, "attachments": [attachment(png(), "image/gif")],
                          "history": [{"role": "system", "text": "x"}]})
    assert (error.status, error.reason) == (415, "attachment_type")


def test_attachments_must_be_a_list():
    for value in ({}, "a", None, 1):
        error = turn_refused({"message": "hi", "attachments": value})
        assert (error.status, error.reason) == (400, "field_type")
