"""The chat page end to end: sign-in, progressive streaming, stop, regenerate, sign-out. Each test
is a happy path and ends with no console error, page error or CSP violation.
"""

from __future__ import annotations

import time

import pytest

from tests.helpers import wait_until

STREAMED = [f"Part {i} of a streamed answer" + ("." if i == 9 else ",") + " " for i in range(10)]
STREAMED_TEXT = "".join(STREAMED).strip()


def answers(standin) -> list[dict]:
    """The stand-in's generate calls (a stopped answer is then counted with countTokens)."""
    return [record for record in standin.requests() if record["method"] != "countTokens"]


def upstream_state(standin) -> str | None:
    records = answers(standin)
    return records[-1]["state"] if records else None


def test_sign_in_shows_name_and_quota(page):
    assert page.testid("sign-in").is_visible()
    page.sign_in(name="Grace Hopper")
    assert page.body_attr("auth-state") == "signed-in"
    assert page.body_attr("allowed") == "true"
    assert page.testid("user-name").inner_text() == "Grace Hopper"
    assert page.testid("user-initial").inner_text() == "G"
    assert page.testid("sign-in").is_hidden()
    # /api/auth through the Hosting proxy: a fresh user has every request of the window left.
    assert page.testid("quota").inner_text() == \
        "3 requests left this minute · 200k of 200k tokens left today"
    page.assert_clean()


def test_a_person_signs_in_with_the_emulators_google_account(page):
    # What a developer clicks offline: the button asks which fake Google account to use.
    page.page.once("dialog", lambda dialog: dialog.accept("linus@example.com"))
    page.testid("sign-in").click()
    page.page.wait_for_selector('body[data-auth-state="signed-in"]')
    assert page.testid("user-name").inner_text() == "linus"
    page.assert_clean()


def test_answer_renders_progressively(page, standin, web):
    page.sign_in()
    standin.script({"action": "reply", "chunks": STREAMED, "chunk_delay": 0.3})
    page.type_and_enter("Tell me something, slowly")
    assert page.users.last.locator('[data-testid="message-text"]').inner_text() == \
        "Tell me something, slowly"

    samples = []
    wait_until(lambda: upstream_state(standin), what="the request reaching the stand-in")
    while upstream_state(standin) == "in_progress":
        samples.append(page.text_of(page.last_model()))
        time.sleep(0.1)
    final = page.wait_answer(1)

    assert final == STREAMED_TEXT
    partial = {s for s in samples if s and s != final and final.startswith(s)}
    assert len(partial) >= 2, f"expected the answer to grow on screen; samples: {samples}"
    assert all(final.startswith(s) for s in samples), samples
    # The stream ended with `done`: quota updated from it, no note, composer ready.
    assert page.testid("quota").inner_text().startswith("2 requests")
    assert page.last_model().locator('[data-testid="message-note"]').is_hidden()
    # Streamed from the chat function's own URL, not the buffered same-origin /api/chat.
    assert [u for u in page.requests if u.startswith(web.urls["chat"])]
    assert not [u for u in page.requests if "/api/chat" in u]
    # Nothing of it in the tab's session or local storage (history is in IndexedDB: test_history*.py).
    stored = page.page.evaluate("() => JSON.stringify([sessionStorage, localStorage])")
    assert "slowly" not in stored and "streamed answer" not in stored
    page.assert_clean()


@pytest.mark.parametrize("how", ["stop-button", "escape-key"])
def test_stop_mid_stream(page, standin, how):
    page.sign_in()
    chunks = [f"word{i} " for i in range(30)]
    standin.script({"action": "reply", "chunks": chunks, "chunk_delay": 0.3})
    page.type_and_enter("A long answer, please")
    stop = page.testid("stop")
    stop.wait_for(state="visible")
    assert page.testid("send").is_hidden()
    # Some text on screen, then stop.
    wait_until(lambda: page.text_of(page.last_model()).count("word") >= 2, what="partial text")
    if how == "stop-button":
        stop.click()
    else:
        page.page.keyboard.press("Escape")

    # The browser's abort reaches "Google": the chat function closed its upstream call.
    wait_until(lambda: upstream_state(standin) == "client_disconnected", timeout=5,
               what="stand-in sees the client disconnect")
    record = answers(standin)[-1]
    assert record["chunks_sent"] < len(chunks)

    stopped = page.last_model()
    assert stopped.get_attribute("data-state") == "stopped"
    note = stopped.locator('[data-testid="message-note"]')
    assert note.is_visible() and note.inner_text() == "Stopped."
    partial = page.text_of(stopped)
    full = "".join(chunks).strip()
    assert partial and partial != full and full.startswith(partial)
    assert page.testid("error-banner").is_hidden()

    # The composer works again: stop gone, send back, and the next message is answered.
    assert stop.is_hidden()
    assert page.testid("composer-input").is_enabled()
    standin.script({"action": "reply", "text": "Back again."})
    assert page.ask("Still there?") == "Back again."
    assert page.text_of(page.models.first) == partial  # the stopped answer stays as it was
    page.assert_clean()


def test_regenerate_replaces_the_last_answer(page, standin):
    page.sign_in()
    standin.script({"action": "reply", "text": "The first answer."},
                   {"action": "reply", "text": "A **better** second answer."})
    assert page.ask("Give me a fun fact") == "The first answer."
    page.testid("regenerate").click()
    wait_until(lambda: len(standin.requests()) == 2, what="a second upstream call")
    assert page.wait_answer(1) == "A better second answer."

    first, second = standin.requests()
    assert second["state"] == "complete"
    # The same question again, and not the answer being replaced.
    user_turn = {"role": "user", "parts": [{"text": "Give me a fun fact"}]}
    assert second["body"]["contents"][-1] == user_turn
    assert second["body"]["contents"] == first["body"]["contents"] == [user_turn]
    assert page.users.count() == 1 and page.models.count() == 1
    assert page.last_model().locator("strong").inner_text() == "better"
    page.assert_clean()


def test_sign_out_clears_the_conversation(page, standin):
    page.sign_in(name="Alan Turing")
    assert page.ask("Hello!") == "Echo: Hello!"
    assert page.testid("messages").is_visible()

    page.testid("user-menu").locator("summary").click()
    page.testid("sign-out").click()
    # History is on: it asks whether to delete this device's conversations too (kept here).
    page.testid("sign-out-dialog").wait_for(state="visible")
    assert not page.testid("sign-out-delete").is_checked()
    page.testid("sign-out-confirm").click()
    page.page.locator('body[data-auth-state="signed-out"]').wait_for(state="attached")

    assert page.testid("sign-in").is_visible()
    assert page.testid("user-menu").is_hidden()
    assert page.testid("quota").is_hidden()
    assert page.testid("messages").is_hidden()
    assert page.page.locator('[data-testid="message"]').count() == 0
    assert page.testid("empty-state").is_visible()
    # Nothing of the conversation is left in the tab's storage either.
    stored = page.page.evaluate("() => JSON.stringify(Object.assign({}, sessionStorage))")
    assert "Hello!" not in stored
    page.assert_clean()
