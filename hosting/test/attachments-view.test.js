// @vitest-environment jsdom
// An attachment on screen (src/attachments/view.js): thumbnails only for images the browser can
// show and whose bytes are here; chips for the rest; "not kept on this device" when the bytes
// are gone; an image that cannot be decoded becomes a file icon.
import { afterEach, describe, expect, it, vi } from "vitest";
import { messageAttachments, revokeAll } from "../src/attachments/view.js";

const blob = (type) => new Blob([new Uint8Array([1, 2, 3])], { type });
const item = (name, mimeType, extra = { blob: blob(mimeType) }) => ({ id: name, name, mimeType, size: 3, ...extra });

afterEach(() => vi.restoreAllMocks());

describe("a message's attachments", () => {
  it("shows PNG, JPEG and WebP as thumbnails; HEIC, PDF and text as chips; gone bytes said", () => {
    let n = 0;
    vi.spyOn(URL, "createObjectURL").mockImplementation(() => `blob:x/${(n += 1)}`);
    const { list, urls } = messageAttachments([
      item("a.png", "image/png"), item("b.jpg", "image/jpeg"), item("c.webp", "image/webp"),
      item("d.heic", "image/heic"), item("e.pdf", "application/pdf"), item("f.md", "text/markdown"),
      item("g.png", "image/png", { dropped: true }),
    ]);
    const shown = [...list.children].map((li) => [li.dataset.kind, li.querySelector("img")?.getAttribute("src") || li.textContent]);
    expect(shown).toEqual([
      ["image", "blob:x/1"], ["image", "blob:x/2"], ["image", "blob:x/3"],
      ["file", "d.heic — 3 B"], ["file", "e.pdf — 3 B"], ["file", "f.md — 3 B"],
      ["dropped", "g.png — not kept on this device"],
    ]);
    expect(urls).toEqual(["blob:x/1", "blob:x/2", "blob:x/3"]);
    expect(list.querySelector("img").alt).toBe("a.png");
    expect(list.getAttribute("aria-label")).toBe("Attachments");
  });

  it("puts a file icon in place of an image the browser cannot decode", () => {
    vi.spyOn(URL, "createObjectURL").mockReturnValue("blob:x/broken");
    const { list } = messageAttachments([item("broken.png", "image/png")]);
    list.querySelector("img").dispatchEvent(new Event("error"));
    expect(list.querySelector("img")).toBeNull();
    expect(list.querySelector('[data-testid="attachment-icon"]')).not.toBeNull();
  });

  it("revokes the URLs it made", () => {
    const revoke = vi.spyOn(URL, "revokeObjectURL").mockImplementation(() => {});
    revokeAll(["blob:x/1", "blob:x/2"]);
    expect(revoke.mock.calls).toEqual([["blob:x/1"], ["blob:x/2"]]);
  });
});
