"""The message box (issue #9, "Fixes found by trying the app"): a long unbroken string never
widens the page on a phone, a message written before signing in survives the sign-in, and a
message over MAX_MESSAGE_CHARS says why Send is off.
"""

from __future__ import annotations

import secrets

from tests.integration.harness import CANARIES

PHONE = {"width": 360, "height": 740}
LONG_URL = ("https://example.com/a/very/long/path/that/never/breaks/" + "x" * 40
            + "?utm_source=issue9&id=" + "0123456789" * 3)
MAX_MESSAGE_CHARS = 8000  # the default: the browser stack's config.json sets no limits


def sign_in_with_the_button(tab, name: str = "early") -> str:
    """What a person clicks: the one Sign-in button (the emulator asks for an e-mail)."""
    email = f"{name}.{secrets.token_hex(4)}@example.com"
    CANARIES.add(email)
    tab.page.once("dialog", lambda dialog: dialog.accept(email))
    tab.testid("sign-in").click()
    tab.page.locator('body[data-auth-state="signed-in"]').wait_for(state="attached")
    return email


def assert_fits_the_phone(tab, when: str) -> None:
    width = tab.page.evaluate("() => document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"{when}: the page scrolls sideways ({width}px wide)"
    send = tab.page.evaluate("""() => {
        const r = document.querySelector('[data-testid="send"]').getBoundingClientRect();
        return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
    }""")
    assert send["left"] >= 0 and send["right"] <= PHONE["width"], f"{when}: Send is off-screen: {send}"
    assert send["top"] >= 0 and send["bottom"] <= PHONE["height"], f"{when}: Send is off-screen: {send}"


def test_a_long_url_never_widens_the_page_on_a_phone(new_tab, standin):
    tab = new_tab(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    tab.open()
    tab.sign_in()
    assert len(LONG_URL) > 40
    box = tab.testid("composer-input")
    box.press_sequentially(LONG_URL)  # typed
    assert box.input_value() == LONG_URL
    assert_fits_the_phone(tab, "typed")
    assert tab.testid("send").is_enabled()
    box.fill("")
    box.fill(LONG_URL)  # pasted
    assert_fits_the_phone(tab, "pasted")

    box.press("Enter")  # sent: the URL is now in the message list, twice (question and echo)
    assert tab.wait_answer(1) == f"Echo: {LONG_URL}"
    assert tab.text_of(tab.users.last) == LONG_URL
    assert_fits_the_phone(tab, "in the conversation")
    tab.assert_clean()


def test_a_message_typed_before_signing_in_stays_in_the_box(page):
    box = page.testid("composer-input")
    box.fill("A question I typed before signing in")
    sign_in_with_the_button(page)
    page.testid("quota").wait_for(state="visible")
    assert box.input_value() == "A question I typed before signing in"
    page.assert_clean()


def test_a_message_sent_before_signing_in_is_back_in_the_box_after_it(page, standin):
    page.type_and_enter("Hello, before I signed in")
    banner = page.page.locator('[data-testid="error-banner"][data-code="unauthenticated"]')
    banner.wait_for(state="visible")
    assert page.testid("error-message").inner_text() == "Sign in with Google to chat."
    box = page.testid("composer-input")
    assert box.input_value() == "Hello, before I signed in"  # not lost in a dead conversation
    assert page.users.count() == 0

    sign_in_with_the_button(page)
    page.testid("quota").wait_for(state="visible")
    assert box.input_value() == "Hello, before I signed in"
    assert banner.is_hidden()
    assert standin.requests() == []  # the refused message never reached "Google"
    # Sending it now works.
    box.press("Enter")
    assert page.wait_answer(1) == "Echo: Hello, before I signed in"
    # The only console error is Chromium's line about the 401; no CSP violation, no page error.
    assert page.csp_violations == [] and page.page_errors == []
    assert all("401" in line for line in page.console_errors), page.console_errors


def test_a_message_over_the_limit_says_why_send_is_off(page, standin):
    page.sign_in()
    box = page.testid("composer-input")
    box.fill("x" * (MAX_MESSAGE_CHARS + 123))
    count = page.testid("char-count")
    assert count.is_visible()
    assert count.inner_text() == "Too long: 8,123 of 8,000 characters"
    assert page.testid("send").is_disabled()
    assert box.get_attribute("aria-invalid") == "true"
    alert = page.testid("char-alert")
    assert alert.get_attribute("role") == "status"
    assert alert.text_content() == "Too long: the limit is 8,000 characters."
    box.press("Enter")
    assert page.users.count() == 0 and standin.requests() == []

    box.fill("x" * MAX_MESSAGE_CHARS)
    assert count.inner_text() == "8,000 / 8,000"
    assert page.testid("send").is_enabled()
    assert box.get_attribute("aria-invalid") is None
    assert alert.text_content() == ""
    page.assert_clean()
