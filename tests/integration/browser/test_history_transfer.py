"""Export and import of the on-device history through the page: Export all (JSON) and Markdown
per conversation as real downloads, a round trip through Import (the file chooser), and hostile
files: a malformed one is refused with a clear message and changes nothing; a well-formed one
full of markup is imported as text only.
"""

from __future__ import annotations

import json

from tests.integration.browser.history_data import ago, conversation, export_bytes

REFUSED = "This file can't be imported"


def test_export_and_import_round_trip(page, standin, tmp_path):
    page.sign_in()
    page.ask("Plan a picnic")
    page.testid("history-new-chat").click()
    page.ask("Pack a suitcase")
    assert page.wait_history(2) == ["Pack a suitcase", "Plan a picnic"]

    with page.page.expect_download() as download:
        page.testid("history-export").click()
    exported = tmp_path / download.value.suggested_filename
    download.value.save_as(exported)
    assert exported.name.startswith("jette-history-") and exported.suffix == ".json"
    document = json.loads(exported.read_text())
    assert document["format"] == "jette-history" and document["version"] == 1
    assert [c["title"] for c in document["conversations"]] == ["Pack a suitcase", "Plan a picnic"]
    assert [m["text"] for m in document["conversations"][1]["messages"]] == \
        ["Plan a picnic", "Echo: Plan a picnic"]

    item = page.testid("history-item").filter(has_text="Plan a picnic")
    item.hover()
    with page.page.expect_download() as markdown:
        item.locator('[data-testid="history-markdown"]').click()
    assert markdown.value.suggested_filename.startswith("plan-a-picnic-")
    text = (tmp_path / "picnic.md")
    markdown.value.save_as(text)
    assert "## You\n\nPlan a picnic\n\n## Gemini\n\nEcho: Plan a picnic" in text.read_text()

    page.testid("history-delete-all").click()
    page.testid("delete-all-confirm").click()
    assert page.wait_history(0) == []

    with page.page.expect_file_chooser() as chooser:
        page.testid("history-import").click()
    chooser.value.set_files(str(exported))
    page.page.wait_for_function(
        "() => /^Imported/.test(document.querySelector('[data-testid=\"history-message\"]')"
        ".textContent)")
    assert page.testid("history-message").inner_text() == "Imported 2 conversations."
    assert page.wait_history(2) == ["Pack a suitcase", "Plan a picnic"]
    page.testid("history-item").filter(has_text="Plan a picnic") \
        .locator('[data-testid="history-open"]').click()
    page.page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"message\"]').length === 2")
    assert page.text_of(page.last_model()) == "Echo: Plan a picnic"

    # Importing the same file again adds nothing.
    status = page.import_history(exported.read_bytes(), exported.name)
    assert status == "Nothing new to import: all 2 conversations in this file are already here."
    assert page.wait_history(2) == ["Pack a suitcase", "Plan a picnic"]
    page.assert_clean()


def test_a_hostile_import_is_refused_and_changes_nothing(page, standin):
    page.sign_in()
    page.ask("My only conversation")
    assert page.wait_history(1) == ["My only conversation"]
    valid = json.loads(export_bytes([conversation("Fine", [("q", "a")], ago(minutes=5))]))

    cut_off = json.dumps(valid)[:120].encode()
    proto = json.dumps(valid).replace('"messages": [{', '"messages": [{"__proto__": {"admin": true}, ', 1)
    assert "__proto__" in proto
    system_role = json.loads(json.dumps(valid))
    system_role["conversations"][0]["messages"][0]["role"] = "system"
    not_ours = {"conversations": []}
    cases = [
        (cut_off, "it is not valid JSON"),
        (proto.encode(), 'unknown field "__proto__"'),
        (json.dumps(system_role).encode(), '"role" must be "user" or "model"'),
        (json.dumps(not_ours).encode(), "it is not a Jette history export"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "it is not valid JSON"),
    ]
    for data, reason in cases:
        status = page.import_history(data, "evil.json")
        assert status.startswith(REFUSED), status
        assert reason in status, status
        assert status.endswith("Nothing was changed."), status
        assert page.testid("history-message").get_attribute("data-kind") == "error"
        assert page.history_titles() == ["My only conversation"]
    assert page.page.evaluate("() => ({}).admin") is None

    # Well-formed but full of markup: imported, and shown as text only.
    markup = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    status = page.import_history(export_bytes([conversation(markup, [(markup, markup)],
                                                            ago(minutes=1))]))
    assert status == "Imported 1 conversation."
    titles = page.wait_history(2)
    assert markup in titles
    page.testid("history-search").fill("onerror")
    page.page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"history-item\"]').length === 1")
    assert page.testid("history-list").locator("img, script").count() == 0
    page.testid("history-open").click()
    page.page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=\"message\"]').length === 2")
    assert page.page.locator('.messages img[src="x"], .messages script').count() == 0
    assert page.page.evaluate("() => window.__pwned") is None
    page.assert_clean()
