"""The quota line agrees with what chat enforces (issue #9): after one message the line shows
chat's `done` numbers, and signing in afresh — the line then comes from GET /api/auth — shows
the very same, because chat and auth share one store (the browser stack's redis-server).
"""

from __future__ import annotations

import secrets

from tests.integration.browser.conftest import RATE_LIMITS

CHARGED = 12_345  # what "Gemini" bills for the one answer: visible in the line (200k -> 187k)


def quota_line(tab) -> tuple[str, str]:
    """The line and its tooltip (the tooltip has the exact token count)."""
    quota = tab.testid("quota")
    return quota.inner_text(), quota.get_attribute("title") or ""


def test_quota_line_after_a_message_is_what_auth_shows(new_tab, standin):
    email = f"quota.{secrets.token_hex(4)}@example.com"
    first = new_tab()
    first.open()
    first.sign_in(name="Quota Person", email=email)
    standin.script({"action": "reply", "text": "Counted.",
                    "usage": {"promptTokenCount": 45, "candidatesTokenCount": CHARGED - 45,
                              "totalTokenCount": CHARGED}})
    assert first.ask("Count this one") == "Counted."
    after_chat = quota_line(first)  # from chat's `done` event
    limit = int(RATE_LIMITS.split("/")[0])
    assert after_chat[0] == f"{limit - 1} requests · 187k of 200k tokens left"
    assert f"Gemini tokens left today: {200_000 - CHARGED:,}" in after_chat[1]

    again = new_tab()  # the same person signs in elsewhere: the line comes from GET /api/auth
    again.open()
    again.sign_in(name="Quota Person", email=email)
    assert quota_line(again) == after_chat
    first.assert_clean()
    again.assert_clean()
