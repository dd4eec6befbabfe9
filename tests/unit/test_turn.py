"""chat/turn: the request schema of the SPEC; the client never picks model, prompt or limits."""

from __future__ import annotations

import pytest

from core.config import load_config
from core.errors import ApiError
from turn import Turn, parse_turn

CONFIG = load_config("chat", {"APP_ENV": "development", "MAX_HISTORY_MESSAGES": "3",
                              "MAX_MESSAGE_CHARS": "10"})


def refused(body: dict) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_turn(body, CONFIG)
    assert (caught.value.status, caught.value.code) == (400, "invalid_argument")
    return caught.value


def item(role: str = "user", text: str = "hi") -> dict:
    return {"role": role, "text": text}


def test_message_only():
    assert parse_turn({"message": "Hello"}, CONFIG) == Turn("Hello", ())


def test_history_is_kept_in_order():
    turn = parse_turn({"message": "3rd", "history": [item("user", "1st"), item("model", "2nd")]},
                      CONFIG)
    assert turn.history == (("user", "1st"), ("model", "2nd"))


def test_contents_is_history_then_the_new_message():
    turn = Turn("now", (("user", "q"), ("model", "a")))
    assert turn.contents() == [
        {"role": "user", "parts": [{"text": "q"}]},
        {"role": "model", "parts": [{"text": "a"}]},
        {"role": "user", "parts": [{"text": "now"}]},
    ]


@pytest.mark.parametrize("field", ["model", "system_instruction", "systemInstruction",
                                   "temperature", "generationConfig", "safetySettings", "tools"])
def test_client_chosen_settings_are_refused(field):
    message = refused({"message": "hi", field: "x"}).message
    assert f"'{field}'" in message


def test_unknown_field_inside_a_history_item_is_refused():
    assert "'parts'" in refused({"message": "hi", "history": [{**item(), "parts": []}]}).message


@pytest.mark.parametrize("role", ["system", "System", "USER", "assistant", "function", "tool", ""])
def test_other_roles_are_refused(role):
    assert "'user' or 'model'" in refused({"message": "hi", "history": [item(role)]}).message


def test_history_length_limit():
    assert len(parse_turn({"message": "hi", "history": [item()] * 3}, CONFIG).history) == 3
    assert "at most 3" in refused({"message": "hi", "history": [item()] * 4}).message


@pytest.mark.parametrize("message", ["", " ", "\n\t  "])
def test_blank_message_is_refused(message):
    assert "blank" in refused({"message": message}).message


def test_blank_history_text_is_refused():
    assert "blank" in refused({"message": "hi", "history": [item(text="  ")]}).message


def test_message_length_is_counted_in_characters():
    assert parse_turn({"message": "é" * 10}, CONFIG).message == "é" * 10
    assert "at most 10" in refused({"message": "x" * 11}).message
    assert "at most 10" in refused({"message": "hi", "history": [item(text="y" * 11)]}).message


def test_refusal_never_quotes_the_message():
    assert "Zq9" not in refused({"message": "Zq9" * 5}).message


@pytest.mark.parametrize("body", [
    {}, {"history": []}, {"message": None}, {"message": 42}, {"message": ["hi"]},
    {"message": True}, {"message": "hi", "history": None}, {"message": "hi", "history": {}},
    {"message": "hi", "history": ["text"]}, {"message": "hi", "history": [["user", "x"]]},
    {"message": "hi", "history": [{"role": "user"}]}, {"message": "hi", "history": [{"text": "x"}]},
    {"message": "hi", "history": [{"role": "user", "text": 5}]},
    {"message": "hi", "history": [{"role": True, "text": "x"}]},
])
def test_malformed_shapes_are_400(body):
    refused(body)
