"""The model picker and custom instructions end to end (issue #10): the model picked under the
message box is the one "Gemini" (the stand-in) is called with, it is remembered per account on
this device (a reload keeps it, another account sees the default), and the custom instructions
set in Settings reach Gemini's system instruction, after the operator's prompt. Each test signs
in users of its own, sends at most 3 messages (the stack's rate limit) and ends with no console
error, page error or CSP violation.
"""

from __future__ import annotations

import secrets

from tests.integration.harness import CANARIES

PICKED = ("() => { const el = document.querySelector('[data-testid=\"model-picker\"]');"
          " return !el.closest('.model-field').hidden && !el.disabled && el.value; }")


def generated(standin) -> list[dict]:
    """The stand-in's generate calls, oldest first (not the token counts)."""
    return [record for record in standin.requests() if record["method"] != "countTokens"]


def picked(tab, model: str) -> None:
    """Wait until the picker is shown, usable, and shows `model`."""
    tab.page.wait_for_function(f"(model) => ({PICKED})() === model", arg=model)


def test_the_model_picked_is_called_and_remembered_per_account(page, standin):
    email = f"browser.models.{secrets.token_hex(4)}@example.com"
    page.sign_in(name="Ada Lovelace", email=email)
    picker = page.testid("model-picker")
    picked(page, "gemini-2.5-flash")
    assert [text.strip() for text in picker.locator("option").all_text_contents()] == [
        "gemini-2.5-flash (default)", "gemini-2.5-flash-lite · 0.3× cost",
        "gemini-2.5-pro · 8× cost"]
    assert page.page.get_by_label("Model", exact=True).get_attribute("data-testid") == \
        "model-picker"

    picker.select_option("gemini-2.5-flash-lite")
    assert page.ask("Hello, cheaply") == "Echo: Hello, cheaply"
    assert [record["model"] for record in generated(standin)] == ["gemini-2.5-flash-lite"]

    page.reload()  # kept on this device
    picked(page, "gemini-2.5-flash-lite")
    assert page.ask("Still cheap?") == "Echo: Still cheap?"
    assert generated(standin)[-1]["model"] == "gemini-2.5-flash-lite"

    page.sign_out()
    page.sign_in(name="Grace Hopper")  # another account on this browser: the server's default
    picked(page, "gemini-2.5-flash")
    assert page.ask("Which model am I?") == "Echo: Which model am I?"
    assert generated(standin)[-1]["model"] == "gemini-2.5-flash"
    # Kept under a hash of each account: no e-mail (nor uid) in localStorage's keys.
    keys = page.page.evaluate("() => Object.keys(localStorage)")
    assert len([key for key in keys if key.startswith("jette.prefs.")]) == 1
    assert email.split("@")[0] not in "".join(keys)
    page.assert_clean()


def test_custom_instructions_reach_the_system_instruction(page, standin):
    # A canary: the whole run's logs are scanned for it (tests/integration/conftest.py).
    instructions = f"Answer like a pirate, {secrets.token_hex(6)}."
    CANARIES.add(instructions)
    page.sign_in()
    page.testid("settings-button").click()
    box = page.testid("instructions-input")
    box.fill(f"  {instructions}\n")
    assert page.testid("instructions-count").inner_text() == f"{len(instructions)} / 2,000"
    assert "every message" in page.page.locator("#instructions-note").inner_text()
    page.testid("settings-close").click()

    assert page.ask("Hello there") == "Echo: Hello there"
    [record] = generated(standin)
    assert record["model"] == "gemini-2.5-flash"
    system = record["body"]["systemInstruction"]["parts"][0]["text"]
    assert system.endswith(f"<user_preferences>\n{instructions}\n</user_preferences>")
    assert not system.startswith("The user's preferences")  # after the operator's prompt

    page.reload()  # kept on this device: sent again without opening Settings
    page.page.wait_for_function(
        "(text) => document.querySelector('[data-testid=\"instructions-input\"]').value"
        ".includes(text)", arg=instructions)
    assert page.ask("Again?") == "Echo: Again?"
    assert instructions in generated(standin)[-1]["body"]["systemInstruction"]["parts"][0]["text"]
    page.assert_clean()
