"""The quota line agrees with what chat enforces (issue #9): after one message the line shows
chat's `done` numbers, and signing in afresh — the line then comes from GET /api/auth — shows
the very same, because chat and auth share one store (the browser stack's redis-server). It
says which window the requests count (the tightest of RATE_LIMITS), and a stopped answer —
whose stream has no `done` — still updates it (from GET /api/auth once the server settled).
"""

from __future__ import annotations

import re
import secrets

from tests.helpers import wait_until
from tests.integration.browser.conftest import RATE_LIMITS

CHARGED = 12_345  # what "Gemini" bills for the one answer: visible in the line (200k -> 187k)
TOKENS_LEFT = re.compile(r"Gemini tokens left today: ([\d,]+)")


def quota_line(tab) -> tuple[str, str]:
    """The line and its tooltip (the tooltip has the exact token count)."""
    quota = tab.testid("quota")
    return quota.inner_text(), quota.get_attribute("title") or ""


def tokens_left(tab) -> int:
    return int(TOKENS_LEFT.search(quota_line(tab)[1]).group(1).replace(",", ""))


def test_quota_line_after_a_message_is_what_auth_shows(new_tab, standin):
    assert RATE_LIMITS.endswith("/minute")
    email = f"quota.{secrets.token_hex(4)}@example.com"
    first = new_tab()
    first.open()
    first.sign_in(name="Quota Person", email=email)
    limit = int(RATE_LIMITS.split("/")[0])
    assert quota_line(first)[0] == f"{limit} requests left this minute · 200k of 200k tokens left today"
    standin.script({"action": "reply", "text": "Counted.",
                    "usage": {"promptTokenCount": 45, "candidatesTokenCount": CHARGED - 45,
                              "totalTokenCount": CHARGED}})
    assert first.ask("Count this one") == "Counted."
    after_chat = quota_line(first)  # from chat's `done` event
    assert after_chat[0] == f"{limit - 1} requests left this minute · 187k of 200k tokens left today"
    assert f"Gemini tokens left today: {200_000 - CHARGED:,}" in after_chat[1]

    again = new_tab()  # the same person signs in elsewhere: the line comes from GET /api/auth
    again.open()
    again.sign_in(name="Quota Person", email=email)
    assert quota_line(again) == after_chat
    first.assert_clean()
    again.assert_clean()


def test_a_stopped_answer_updates_the_quota_line(new_tab, standin):
    email = f"stopper.{secrets.token_hex(4)}@example.com"
    tab = new_tab()
    tab.open()
    tab.sign_in(name="Stop Person", email=email)
    limit = int(RATE_LIMITS.split("/")[0])
    assert quota_line(tab)[0] == f"{limit} requests left this minute · 200k of 200k tokens left today"
    standin.script({"action": "reply", "chunks": [f"word{i} " for i in range(30)],
                    "chunk_delay": 0.3})
    tab.type_and_enter("A long answer, please")
    wait_until(lambda: tab.text_of(tab.last_model()).count("word") >= 2, what="partial text")
    tab.testid("stop").click()
    tab.wait_answer(1, state="stopped")

    # No `done` came; the line still counts the request and what the partial answer cost.
    wait_until(lambda: quota_line(tab)[0] == f"{limit - 1} requests left this minute · 199k of "
               "200k tokens left today", timeout=8, what="the quota line after Stop")
    left = tokens_left(tab)
    assert 199_000 < left < 200_000, left
    # What the server settled: the same numbers as a fresh sign-in elsewhere.
    again = new_tab()
    again.open()
    again.sign_in(name="Stop Person", email=email)
    assert quota_line(again) == quota_line(tab)
    tab.assert_clean()
    again.assert_clean()
