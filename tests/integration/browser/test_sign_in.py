"""Signing in (issue #9): one Sign-in button, and a sign-in that fails always says why — here
the Auth emulator is unreachable (config.json names a closed port), which used to throw an
uncaught error and show nothing.
"""

from __future__ import annotations

import re

import pytest
from procs import free_port, start_web  # devtools/ (pytest pythonpath)

from tests.integration.browser.app import Tab
from tests.integration.browser.conftest import DESKTOP

SIGN_IN = re.compile(r"sign in", re.IGNORECASE)


@pytest.fixture(scope="module")
def web_without_emulator(web, log_dir):
    """The same app and functions, but config.json's authEmulatorUrl is a closed port."""
    port = free_port()
    closed = free_port()
    urls = {**web.urls, "auth-emulator": f"http://127.0.0.1:{closed}"}
    process = start_web(port, urls, log_dir / "web-without-emulator.log")
    yield f"http://127.0.0.1:{port}", closed
    process.stop()


@pytest.mark.parametrize("viewport", [DESKTOP, {"width": 360, "height": 740}])
def test_one_sign_in_button(new_tab, viewport):
    tab = new_tab(viewport=viewport)
    tab.open()
    buttons = tab.page.get_by_role("button", name=SIGN_IN)
    visible = [buttons.nth(i) for i in range(buttons.count()) if buttons.nth(i).is_visible()]
    assert len(visible) == 1, [b.inner_text() for b in visible]
    assert visible[0].get_attribute("data-testid") == "sign-in"
    assert tab.page.locator('[data-testid="sign-in-main"]').count() == 0
    tab.assert_clean()


def test_sign_in_with_the_emulator_unreachable_says_so(browser, web_without_emulator):
    origin, closed = web_without_emulator
    tab = Tab(browser, origin, viewport=DESKTOP)
    try:
        tab.open()
        box = tab.testid("composer-input")
        box.fill("Kept while sign-in fails")
        tab.page.once("dialog", lambda dialog: dialog.accept("nobody@example.com"))
        tab.testid("sign-in").click()
        banner = tab.page.locator('[data-testid="error-banner"][data-code="sign-in"]')
        banner.wait_for(state="visible")
        message = tab.testid("error-message").inner_text()
        assert message == (f"Couldn't reach the Firebase Auth emulator at http://127.0.0.1:{closed}."
                           " Start it (./scripts/dev.sh) and try again."), message
        assert tab.body_attr("auth-state") == "signed-out"
        assert tab.testid("sign-in").is_visible() and tab.testid("sign-in").is_enabled()
        assert box.input_value() == "Kept while sign-in fails"
        # No uncaught error; the only console errors are Chromium's lines about the refused
        # connection to the closed port.
        assert tab.page_errors == [], tab.page_errors
        assert tab.csp_violations == []
        assert all("ERR_CONNECTION_REFUSED" in line for line in tab.console_errors), \
            tab.console_errors
    finally:
        tab.close()
