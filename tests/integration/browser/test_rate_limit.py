"""Over the rate limit in the browser: the chat function's 429 `rate_limited` with Retry-After
becomes a banner with a live countdown, and the model is not called for the refused message.
The shared chat allows 3 requests a minute per user; this test's own user uses them up.
"""

from __future__ import annotations

import re

from tests.helpers import wait_until
from tests.integration.browser.conftest import RATE_LIMITS

COUNTDOWN = re.compile(r"You can send again in (\d+):([0-5]\d)")
TURNS = [
    ("What's a good name for a grey cat?",
     "How about **Pebble**, *Smokey* or **Earl Grey**? Each one suits a calm, grey cat."),
    ("Shorter, please.", "**Ash.**"),
    ("And one that sounds grand?", "**Sir Reginald Fluffington** — *Reggie* for short."),
]


def countdown_seconds(page) -> int:
    match = COUNTDOWN.fullmatch(page.testid("countdown").inner_text())
    assert match, page.testid("countdown").inner_text()
    return int(match.group(1)) * 60 + int(match.group(2))


def test_rate_limited_banner_counts_down(page, standin):
    assert RATE_LIMITS == f"{len(TURNS)}/minute"
    page.sign_in(name="Jette Example")
    for question, answer in TURNS:
        standin.script({"action": "reply", "text": answer})
        page.ask(question)
    assert page.testid("quota").inner_text().startswith("0 requests")

    page.type_and_enter("One more?")
    banner = page.page.locator('[data-testid="error-banner"][data-code="rate_limited"]')
    banner.wait_for(state="visible")
    assert page.testid("error-message").inner_text() == "You're sending messages too quickly."
    countdown = page.testid("countdown")
    assert countdown.is_visible()
    first = countdown_seconds(page)
    # Retry-After: the rest of a one-minute window that opened at this user's first message.
    assert 30 < first <= 60, first
    # It ticks down in the page (no new request), and sending stays blocked meanwhile.
    later = wait_until(lambda: (s := countdown_seconds(page)) < first and s, timeout=4,
                       what="the countdown decreasing")
    assert 0 < later < first
    assert page.testid("send").is_disabled()
    page.testid("composer-input").fill("Now?")
    assert page.testid("send").is_disabled()

    # The refused message never reached "Google"; it stays on screen, without an answer.
    assert len(standin.requests()) == len(TURNS)
    assert page.users.count() == len(TURNS) + 1 and page.models.count() == len(TURNS)
    page.testid("composer-input").fill("")
    page.page.locator("body").click(position={"x": 5, "y": 400})  # the composer loses focus
    page.screenshot("error-rate-limited.png")

    # The only console errors are Chromium's own line about the 429 response; no CSP violation.
    assert page.csp_violations == [] and page.page_errors == []
    assert all("429" in line for line in page.console_errors), page.console_errors
