"""Attachments in the on-device history, in Chromium's own IndexedDB: a sent file comes back
after a reload (and goes to Gemini again as history), its bytes live in the database's
"attachments" store only and leave with their conversation; past the 100 MiB total the oldest
files are dropped, with one notice, and show as "not kept on this device". Each test signs in a
user of its own, sends at most 2 messages and ends with no console error, page error or CSP
violation.
"""

from __future__ import annotations

import base64

from tests.media_files import png

PICTURE = png(2, 2, size=1500)

# The database's raw content (the app's schema version 2), read with IndexedDB itself.
STORES = """async () => {
  const [{ name }] = (await indexedDB.databases()).filter((d) => d.name.startsWith('jette-history-'));
  const db = await new Promise((ok, ko) => { const r = indexedDB.open(name); r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
  const all = (store) => new Promise((ok) => { const r = db.transaction(store).objectStore(store).getAll(); r.onsuccess = () => ok(r.result); });
  const [messages, blobs] = [await all('messages'), await all('attachments')];
  db.close();
  return {
    messages: messages.sort((a, b) => a.seq - b.seq).map((m) => ({ text: m.text, attachments: m.attachments || null })),
    blobs: blobs.map((b) => ({ size: b.size, type: b.blob.type, blobSize: b.blob.size })),
  };
}"""

# A conversation written straight into the database (as the app writes it), an hour old, with
# one file of 100 MiB - 1 KiB: the next file sent passes the total.
SEED = """async () => {
  const [{ name }] = (await indexedDB.databases()).filter((d) => d.name.startsWith('jette-history-'));
  const db = await new Promise((ok, ko) => { const r = indexedDB.open(name); r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
  const t = Date.now() - 3600 * 1000;
  const size = 100 * 1024 * 1024 - 1024;
  const tx = db.transaction(['conversations', 'messages', 'attachments'], 'readwrite');
  tx.objectStore('conversations').put({ id: 'seeded', title: 'The big scan', titled: false, createdAt: t, updatedAt: t,
    messageCount: 2, preview: 'A big scan.', nextSeq: 2, version: t * 1000 });
  tx.objectStore('messages').put({ id: 'seeded-q', conversationId: 'seeded', seq: 0, role: 'user', text: 'The big scan',
    state: 'done', createdAt: t, updatedAt: t, attachments: [{ id: 'scan', name: 'scan.pdf', mimeType: 'application/pdf', size }] });
  tx.objectStore('messages').put({ id: 'seeded-a', conversationId: 'seeded', seq: 1, role: 'model', text: 'A big scan.',
    state: 'done', createdAt: t, updatedAt: t });
  tx.objectStore('attachments').put({ id: 'scan', conversationId: 'seeded', messageId: 'seeded-q', time: t, size,
    blob: new Blob([new Uint8Array(size)], { type: 'application/pdf' }) });
  await new Promise((ok, ko) => { tx.oncomplete = ok; tx.onerror = () => ko(tx.error); });
  db.close();
}"""


def attach(tab, name: str, mime_type: str, data: bytes) -> None:
    tab.testid("attach-input").set_input_files(
        files=[{"name": name, "mimeType": mime_type, "buffer": data}])
    tab.testid("attachment-chips").wait_for(state="visible")


def test_a_sent_file_comes_back_after_a_reload_and_leaves_with_its_conversation(page, standin):
    page.sign_in()
    assert page.wait_history(0) == []
    attach(page, "dot.png", "image/png", PICTURE)
    assert page.ask("What is in this picture?").startswith("Echo: What is in this picture?")
    assert page.wait_history(1) == ["What is in this picture?"]

    page.reload()
    assert page.wait_history(1) == ["What is in this picture?"]
    # The conversation is on screen again, the picture drawn from the Blob kept in IndexedDB.
    image = page.testid("message-image")
    image.wait_for(state="visible")
    page.page.wait_for_function(
        "() => document.querySelector('[data-testid=\"message-image\"]').naturalWidth === 2")
    stored = page.page.evaluate(STORES)
    assert stored["blobs"] == [{"size": len(PICTURE), "type": "image/png", "blobSize": len(PICTURE)}]
    assert stored["messages"][0] == {"text": "What is in this picture?", "attachments": [
        {"id": stored["messages"][0]["attachments"][0]["id"], "name": "dot.png",
         "mimeType": "image/png", "size": len(PICTURE)}]}

    # Continuing after the reload sends the stored picture as history, byte for byte.
    page.ask("And its colour?")
    contents = standin.requests()[-1]["body"]["contents"]
    inline = [part["inlineData"] for part in contents[0]["parts"] if "inlineData" in part]
    # The SDK's wire spelling: "mime_type", URL-safe base64.
    assert [(p.get("mime_type"), base64.urlsafe_b64decode(p["data"] + "=" * (-len(p["data"]) % 4)))
            for p in inline] == [("image/png", PICTURE)]

    # Deleted: its Blob goes with it (kept in memory for Undo, which brings it back).
    page.testid("history-delete").first.click()
    assert page.wait_history(0) == []
    assert page.page.evaluate(STORES) == {"messages": [], "blobs": []}
    page.testid("history-undo").click()
    assert page.wait_history(1) == ["What is in this picture?"]
    assert len(page.page.evaluate(STORES)["blobs"]) == 1
    page.testid("history-open").first.click()
    page.page.wait_for_function(
        "() => document.querySelector('[data-testid=\"message-image\"]')?.naturalWidth === 2")
    page.assert_clean()


def test_past_the_total_the_oldest_file_is_dropped_with_a_notice(page, standin):
    page.sign_in()
    assert page.wait_history(0) == []
    page.page.evaluate(SEED)
    page.reload()
    assert page.wait_history(1) == ["The big scan"]

    attach(page, "dot.png", "image/png", PICTURE)
    assert page.ask("A small one").startswith("Echo: A small one")
    banner = page.testid("error-banner")
    banner.wait_for(state="visible")
    assert banner.get_attribute("data-code") == "attachments_dropped"
    assert "Older attachments were removed from this device to stay under 100 MB" in \
        page.testid("error-message").inner_text()
    stored = page.page.evaluate(STORES)
    assert stored["blobs"] == [{"size": len(PICTURE), "type": "image/png", "blobSize": len(PICTURE)}]

    # The old conversation keeps the file's name, shown as no longer kept here.
    page.page.locator('[data-testid="history-item"][data-id="seeded"] [data-testid="history-open"]').click()
    chip = page.page.locator('[data-testid="message-attachment"][data-kind="dropped"]')
    chip.wait_for(state="visible")
    assert "scan.pdf" in chip.inner_text() and "not kept on this device" in chip.inner_text()
    page.assert_clean()
