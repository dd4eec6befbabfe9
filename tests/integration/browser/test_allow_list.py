"""A signed-in Google user who is not on the app's allow-list sees why, and cannot chat."""

from __future__ import annotations

import pytest
from procs import free_port, start_web  # devtools/ (pytest pythonpath)

from tests.integration.browser.app import Tab
from tests.integration.browser.conftest import DESKTOP


@pytest.fixture(scope="module")
def guarded_web(functions, auth_emulator, log_dir):
    """A second web app whose functions admit only boss@example.com."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    only_boss = {"ALLOWED_ORIGINS": origin, "ALLOWED_EMAILS": "boss@example.com"}
    urls = {"chat": functions.url("chat", **only_boss), "auth": functions.url("auth", **only_boss),
            "health": functions.url("health", ALLOWED_ORIGINS=origin),
            "auth-emulator": f"http://{auth_emulator.host}"}
    process = start_web(port, urls, log_dir / "web-guarded.log")
    yield origin
    process.stop()


def test_user_off_the_allow_list_is_told_and_cannot_send(browser, guarded_web, standin):
    tab = Tab(browser, guarded_web, viewport=DESKTOP)
    try:
        tab.open()
        tab.sign_in(name="Mallory", email="mallory@example.com", wait_quota=False)
        tab.page.locator('body[data-allowed="false"]').wait_for(state="attached")
        banner = tab.testid("error-banner")
        banner.wait_for(state="visible")
        assert banner.get_attribute("data-code") == "permission_denied"
        assert tab.testid("error-message").inner_text().startswith(
            "This Google account is not allowed to use this app.")
        assert tab.testid("send").is_disabled() or tab.testid("composer-input").is_disabled()
        assert standin.requests() == []  # nothing reached the model
    finally:
        tab.close()
