"""Attachments end to end: a screenshot pasted into the message box becomes a chip with its
thumbnail and reaches Gemini (the stand-in) as one image/png of its exact size, and the sent
message shows the image (a blob: URL the CSP lets load); a file of a type not allowed, picked
with the attach button, is refused in the browser and nothing is sent; a chip removed before
sending is not sent; chips with long names fit a phone. File names are canaries: never in any
log.
"""

from __future__ import annotations

import secrets
import struct
import zlib

from tests.helpers import wait_until
from tests.integration.browser.test_composer import PHONE, assert_fits_the_phone
from tests.integration.harness import CANARIES

# Resolves once every <img> matched has loaded and has pixels (naturalWidth > 0): a thumbnail
# the CSP blocked or the browser could not decode never gets there.
IMAGES_LOADED = """(selector) => {
    const images = [...document.querySelectorAll(selector)];
    return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0
        && img.src.startsWith("blob:"));
}"""

# Pastes files (built in the page from the bytes given) into the message box, as a screenshot
# arrives: a ClipboardEvent whose DataTransfer holds files only.
PASTE = """([files]) => {
    const data = new DataTransfer();
    for (const {name, type, bytes} of files) data.items.add(new File([new Uint8Array(bytes)], name, {type}));
    const event = new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true});
    document.querySelector('[data-testid="composer-input"]').dispatchEvent(event);
}"""


def png(width: int, height: int) -> bytes:
    """A real PNG (8-bit RGB, a gradient), small enough for any request limit."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"".join(bytes((x * 30 % 256, y * 30 % 256, 160)) for x in range(width))
                    for y in range(height))  # filter byte 0, then RGB pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def secret_name(stem: str, extension: str) -> str:
    name = f"{stem}-{secrets.token_hex(4)}.{extension}"
    CANARIES.add(name)
    return name


def paste(tab, *files: tuple[str, str, bytes]) -> None:
    tab.page.evaluate(PASTE, [[{"name": n, "type": t, "bytes": list(b)} for n, t, b in files]])


def generate_calls(standin) -> list[dict]:
    return [record for record in standin.requests() if record["method"] != "countTokens"]


def test_a_pasted_screenshot_is_sent_and_shown(page, standin):
    page.sign_in()
    image = png(12, 8)
    name = secret_name("screenshot", "png")
    paste(page, (name, "image/png", image))

    chip = page.testid("attachment-chip")
    chip.wait_for(state="visible")
    assert chip.count() == 1
    assert name in chip.inner_text()
    page.page.wait_for_function(IMAGES_LOADED, arg='[data-testid="attachment-thumb"]')
    assert page.page.get_by_role("button", name=f"Remove {name}").is_visible()
    assert page.testid("send").is_enabled()  # a blank message may go with its file

    page.testid("composer-input").press("Enter")
    answer = page.wait_answer(1)
    assert answer == "Echo: [1 attachment: image/png 12x8]"
    [call] = generate_calls(standin)
    assert call["attachments"] == [{"mimeType": "image/png", "bytes": len(image),
                                    "tokens": call["attachments"][0]["tokens"],
                                    "detail": "12x8"}]
    assert call["attachments"][0]["tokens"] > 0

    # The chips are gone; the question shows the image, loaded from a blob: URL under the CSP.
    assert page.testid("attachment-chip").count() == 0
    question = page.users.last
    question.locator('[data-testid="message-image"]').wait_for(state="visible")
    page.page.wait_for_function(IMAGES_LOADED, arg='[data-testid="message-image"]')
    assert question.locator('[data-testid="message-image"]').get_attribute("alt") == name

    # The next question carries the image along in its history.
    assert page.ask("And its colours?") == "Echo: And its colours?"
    assert [(a["mimeType"], a["bytes"]) for a in generate_calls(standin)[-1]["attachments"]] == \
        [("image/png", len(image))]
    page.assert_clean()


def test_a_file_of_a_type_not_allowed_is_refused_in_the_browser(page, standin):
    page.sign_in()
    name = secret_name("archive", "zip")
    with page.page.expect_file_chooser() as chooser:
        page.testid("attach").click()
    chooser.value.set_files(files=[{"name": name, "mimeType": "application/zip",
                                    "buffer": b"PK\x03\x04" + b"\x00" * 40}])

    banner = page.testid("error-banner")
    banner.wait_for(state="visible")
    assert banner.get_attribute("data-code") == "attachment"
    assert page.testid("error-message").inner_text() == (
        f"“{name}” can't be attached: this type of file isn't accepted. "
        "Allowed: PNG, JPEG, WebP, HEIC, HEIF, PDF, .txt, .md, .csv.")
    assert page.testid("attachment-chip").count() == 0
    assert page.testid("send").is_disabled()
    page.testid("composer-input").press("Enter")
    assert page.users.count() == 0
    assert generate_calls(standin) == []
    page.assert_clean()


def test_a_chip_removed_before_sending_is_not_sent(page, standin):
    page.sign_in()
    kept, removed = secret_name("kept", "png"), secret_name("removed", "md")
    image = png(4, 4)
    paste(page, (removed, "", b"# Notes\n"), (kept, "image/png", image))  # .md: typed by its name
    chips = page.testid("attachment-chip")
    wait_until(lambda: chips.count() == 2, what="two chips")

    page.page.get_by_role("button", name=f"Remove {removed}").click()
    wait_until(lambda: chips.count() == 1, what="one chip left")
    assert kept in chips.inner_text()
    page.testid("composer-input").fill("What is in this picture?")
    page.testid("composer-input").press("Enter")
    assert page.wait_answer(1) == "Echo: What is in this picture? [1 attachment: image/png 4x4]"
    [call] = generate_calls(standin)
    assert [(a["mimeType"], a["bytes"]) for a in call["attachments"]] == [("image/png", len(image))]
    page.assert_clean()


def test_chips_with_long_names_fit_a_phone(new_tab, standin):
    tab = new_tab(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    tab.open()
    tab.sign_in()
    long_image = secret_name("a-screenshot-with-a-very-long-name-" + "x" * 60, "png")
    long_notes = secret_name("meeting-notes-" + "y" * 80, "md")
    paste(tab, (long_image, "image/png", png(1200, 40)), (long_notes, "text/markdown", b"# Notes\n"))
    wait_until(lambda: tab.testid("attachment-chip").count() == 2, what="two chips")
    assert_fits_the_phone(tab, "with two chips")
    tab.testid("composer-input").press("Enter")
    tab.wait_answer(1)
    assert_fits_the_phone(tab, "in the conversation")
    tab.assert_clean()
