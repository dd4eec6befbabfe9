"""Editing an earlier question (issue #9): any user message can be edited; the conversation
then continues from it — the later turns are gone and the edited question gets a new answer.
"""

from __future__ import annotations

import pytest
from procs import free_port, start_web  # devtools/ (pytest pythonpath)

from tests.helpers import wait_until
from tests.integration.browser.app import Tab
from tests.integration.browser.conftest import DESKTOP

QUESTIONS = ["First question", "Second question", "Third question"]


@pytest.fixture(scope="module")
def roomy_web(web, functions, auth_emulator, log_dir):
    """The app with chat and auth allowing more than the shared stack's 3 requests a minute:
    three turns and an edit are four."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    roomy = {"ALLOWED_ORIGINS": origin, "RATE_LIMITS": "10/minute"}
    urls = {**web.urls, "chat": functions.url("chat", **roomy),
            "auth": functions.url("auth", **roomy)}
    process = start_web(port, urls, log_dir / "web-roomy.log")
    yield origin
    process.stop()


def texts(tab, locator) -> list[str]:
    return [tab.text_of(locator.nth(i)) for i in range(locator.count())]


def test_edit_the_first_of_three_turns(browser, roomy_web, standin):
    tab = Tab(browser, roomy_web, viewport=DESKTOP)
    try:
        tab.open()
        tab.sign_in()
        for question in QUESTIONS:
            tab.ask(question)
        assert texts(tab, tab.models) == [f"Echo: {q}" for q in QUESTIONS]
        # Every question can be edited; Regenerate only on the last answer.
        assert tab.users.locator('[data-testid="edit"]').count() == 3
        assert tab.testid("regenerate").count() == 1

        tab.users.first.locator('[data-testid="edit"]').click()
        edit = tab.testid("edit-input")
        assert edit.input_value() == "First question"
        edit.fill("First question, edited")
        before = len(standin.requests())
        tab.testid("edit-save").click()
        wait_until(lambda: len(standin.requests()) == before + 1,
                   what="the edited question sent")
        tab.wait_answer(1)
        assert texts(tab, tab.users) == ["First question, edited"]
        assert texts(tab, tab.models) == ["Echo: First question, edited"]
        # Sent without the turns that came after it.
        assert standin.requests()[-1]["body"]["contents"] == [
            {"role": "user", "parts": [{"text": "First question, edited"}]}]
        tab.assert_clean()
    finally:
        tab.close()
