"""On-device history end to end (issue #9): the list survives a reload, each account sees only
its own, Delete all, the setting that turns it off, the sign-out question, and the notice when
a long stored conversation is trimmed to fit a request. Each test signs in a user of its own,
sends at most 3 messages (the stack's rate limit) and ends with no console error, page error or
CSP violation.
"""

from __future__ import annotations

import secrets

from tests.integration.browser.history_data import ago, conversation, export_bytes

MESSAGE_TEXTS = "() => [...document.querySelectorAll('[data-testid=\"message-text\"]')]" \
    ".map((el) => el.textContent.trim())"
HISTORY_DBS = "async () => (await indexedDB.databases()).map((d) => d.name)" \
    ".filter((name) => name.startsWith('jette-history-'))"


def texts(tab) -> list[str]:
    return tab.page.evaluate(MESSAGE_TEXTS)


def test_history_survives_a_reload(page, standin):
    page.sign_in()
    assert page.wait_history(0) == []
    assert page.testid("history-where").is_visible()
    assert "on this device only" in page.testid("history-where").inner_text()
    assert page.ask("What is a haiku?") == "Echo: What is a haiku?"
    assert page.wait_history(1) == ["What is a haiku?"]

    page.reload()
    assert page.wait_history(1) == ["What is a haiku?"]
    # The conversation this tab had open is on screen again, and continues where it was.
    page.page.wait_for_function(f"() => ({MESSAGE_TEXTS})().length === 2")
    assert texts(page) == ["What is a haiku?", "Echo: What is a haiku?"]
    assert page.ask("And a limerick?") == "Echo: And a limerick?"
    assert page.wait_history(1) == ["What is a haiku?"]
    history = standin.requests()[-1]["body"]["contents"]
    assert [c["parts"][0]["text"] for c in history] == \
        ["What is a haiku?", "Echo: What is a haiku?", "And a limerick?"]
    # Only an id in sessionStorage, never the text; the text is in IndexedDB.
    stored = page.page.evaluate("() => JSON.stringify([sessionStorage, localStorage])")
    assert "haiku" not in stored and "limerick" not in stored
    page.assert_clean()


def test_each_account_sees_only_its_own_history(page, standin):
    email_a = f"browser.a.{secrets.token_hex(4)}@example.com"
    page.sign_in(name="Ada A", email=email_a)
    assert page.ask("A's secret plan") == "Echo: A's secret plan"
    assert page.wait_history(1) == ["A's secret plan"]
    page.sign_out(delete_history=False)
    assert page.testid("history").is_hidden()

    page.sign_in(name="Bob B")
    assert page.wait_history(0) == []
    assert page.page.locator('[data-testid="message"]').count() == 0
    page.testid("history-search").fill("secret")
    page.page.wait_for_function(
        "() => /No conversation matches/.test(document.querySelector("
        "'[data-testid=\"history-empty\"]').textContent)")
    assert page.history_titles() == []
    page.sign_out(delete_history=False)

    page.sign_in(name="Ada A", email=email_a)
    page.testid("history-search").fill("")
    assert page.wait_history(1) == ["A's secret plan"]
    # Two databases, named by a hash: neither uid nor e-mail appears in them.
    names = page.page.evaluate(HISTORY_DBS)
    assert len(names) == 2
    assert all(email_a.split("@")[0] not in name for name in names)
    page.assert_clean()


def test_delete_all_on_this_device(page, standin):
    page.sign_in()
    page.ask("First topic")
    page.testid("history-new-chat").click()
    page.ask("Second topic")
    assert page.wait_history(2) == ["Second topic", "First topic"]

    page.testid("history-delete-all").click()
    page.testid("delete-all-dialog").wait_for(state="visible")
    page.testid("delete-all-cancel").click()
    assert page.wait_history(2) == ["Second topic", "First topic"]

    page.testid("history-delete-all").click()
    page.testid("delete-all-confirm").click()
    assert page.wait_history(0) == []
    assert page.testid("history-message").inner_text() == \
        "Deleted 2 conversations from this device."
    assert page.page.locator('[data-testid="message"]').count() == 0  # the open one went too
    page.reload()
    assert page.wait_history(0) == []
    assert page.testid("empty-state").is_visible()
    page.assert_clean()


def test_delete_one_with_undo(page, standin):
    page.sign_in()
    page.ask("Keep this one")
    page.testid("history-new-chat").click()
    page.ask("Delete this one")
    assert page.wait_history(2) == ["Delete this one", "Keep this one"]
    item = page.testid("history-item").filter(has_text="Delete this one")
    item.hover()
    item.locator('[data-testid="history-delete"]').click()
    assert page.wait_history(1) == ["Keep this one"]
    assert page.testid("history-message").inner_text() == "Deleted “Delete this one”."
    undo = page.testid("history-undo")
    assert undo.is_visible()
    assert page.page.evaluate("() => document.activeElement.dataset.testid") == "history-undo"
    page.page.keyboard.press("Enter")  # Undo, from the keyboard
    assert page.wait_history(2) == ["Delete this one", "Keep this one"]
    page.page.wait_for_function(f"() => ({MESSAGE_TEXTS})().length === 2")
    assert texts(page)[0] == "Delete this one"  # it was open: it is shown again
    page.assert_clean()


def test_history_off_keeps_memory_only(page, standin):
    page.sign_in()
    page.wait_history(0)
    page.testid("settings-button").click()
    usage = page.testid("storage-usage")
    page.page.wait_for_function(
        "() => /This site uses/.test(document.querySelector("
        "'[data-testid=\"storage-usage\"]').textContent)")
    assert "of this browser's storage" in usage.inner_text()
    toggle = page.testid("history-setting")
    assert toggle.is_checked()
    assert "never on our servers" in page.testid("history-setting-line").inner_text()
    toggle.uncheck()
    page.testid("settings-close").click()
    page.testid("history").wait_for(state="hidden")
    assert page.testid("history-toggle").is_hidden()

    assert page.ask("Remember nothing") == "Echo: Remember nothing"
    page.reload()
    assert page.page.locator('[data-testid="message"]').count() == 0
    assert page.testid("history").is_hidden()
    page.testid("settings-button").click()
    assert not page.testid("history-setting").is_checked()  # the choice is remembered
    page.testid("history-setting").check()
    page.testid("settings-close").click()
    assert page.wait_history(0) == []  # nothing was written while it was off
    page.assert_clean()


def test_sign_out_can_delete_this_devices_history(page, standin):
    email = f"browser.out.{secrets.token_hex(4)}@example.com"
    page.sign_in(name="Sam Out", email=email)
    page.ask("Forget me on this device")
    assert page.wait_history(1) == ["Forget me on this device"]
    assert len(page.page.evaluate(HISTORY_DBS)) == 1

    page.testid("user-menu").locator("summary").click()
    page.testid("sign-out").click()
    page.testid("sign-out-dialog").wait_for(state="visible")
    assert page.testid("sign-out-dialog").inner_text().count("Also delete this device's conversations") == 1
    page.testid("sign-out-cancel").click()  # changed their mind: still signed in
    assert page.body_attr("auth-state") == "signed-in"

    page.sign_out(delete_history=True)
    page.page.wait_for_function(f"async () => (await ({HISTORY_DBS})()).length === 0")
    page.sign_in(name="Sam Out", email=email)
    assert page.wait_history(0) == []
    page.assert_clean()


def test_a_long_stored_conversation_is_trimmed_with_a_notice(page, standin):
    page.sign_in()
    page.wait_history(0)
    turns = [(f"Question {k}", f"Answer {k}") for k in range(25)]  # 50 messages > 40
    status = page.import_history(export_bytes([conversation("A long talk", turns, ago(hours=1))]))
    assert status == "Imported 1 conversation."
    assert page.wait_history(1) == ["A long talk"]
    page.testid("history-open").click()
    page.page.wait_for_function(f"() => ({MESSAGE_TEXTS})().length === 50")

    assert page.ask("One more question") == "Echo: One more question"
    banner = page.testid("error-banner")
    assert banner.get_attribute("data-code") == "history_trimmed"
    assert page.testid("error-message").inner_text() == (
        "This conversation is long: Gemini sees only its latest part. "
        "The oldest 5 exchanges were left out of this request.")
    contents = standin.requests()[-1]["body"]["contents"]
    assert len(contents) == 41  # MAX_HISTORY_MESSAGES (40) + the new message
    assert contents[0]["parts"][0]["text"] == "Question 5"
    assert contents[-1]["parts"][0]["text"] == "One more question"
    page.assert_clean()
