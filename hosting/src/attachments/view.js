// An attachment on screen: a thumbnail (PNG, JPEG, WebP with their bytes here) or a chip with
// a file icon, name and size; "not kept on this device" when the bytes are gone. Thumbnails use
// blob: URLs made here: whoever shows them revokes them (revokeAll) when they leave the page.

import { humanSize } from "../conversation.js";
import { element } from "../ui/dom.js";

/** Images the browser can show as a thumbnail (HEIC / HEIF: Chromium cannot). */
const PREVIEWABLE = new Set(["image/png", "image/jpeg", "image/webp"]);

// Trusted constant (presentation attributes only).
const FILE_ICON =
  '<svg aria-hidden="true" focusable="false" viewBox="0 0 24 24" width="20" height="20"><path fill="currentColor" d="M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8l-6-6zm2 16H8v-2h8v2zm0-4H8v-2h8v2zm-3-5V3.5L18.5 9H13z"/></svg>';

/** Can `attachment` be shown as an image here? */
export const showsAsImage = (attachment) => Boolean(attachment.blob) && PREVIEWABLE.has(attachment.mimeType);

export function fileIcon() {
  const icon = element("span", { class: "attachment-icon", "data-testid": "attachment-icon" });
  icon.innerHTML = FILE_ICON;
  return icon;
}

/**
 * An <img> of the attachment's bytes (its URL goes into `urls`), or the file icon if it cannot
 * be shown; an image the browser cannot decode becomes the icon too.
 */
export function thumbnail(attachment, urls, attrs = {}) {
  if (!showsAsImage(attachment)) return fileIcon();
  const url = URL.createObjectURL(attachment.blob);
  urls.push(url);
  const img = element("img", { src: url, decoding: "async", ...attrs });
  img.addEventListener("error", () => img.replaceWith(fileIcon()), { once: true });
  return img;
}

/** The name and size (or that the bytes are gone) as text. */
export function label(attachment) {
  const text = element("span", { class: "attachment-label" });
  text.append(element("span", { class: "attachment-name" }, attachment.name));
  const size = element("span", { class: "attachment-size" });
  // " — " is read out and copied; on screen the size is on a line of its own.
  size.append(element("span", { class: "visually-hidden" }, " — "), attachment.blob ? humanSize(attachment.size) : "not kept on this device");
  text.append(size);
  return text;
}

/**
 * A sent message's attachments: images as thumbnails, other files (and images whose bytes are
 * gone) as chips. Returns the list and the blob: URLs it made.
 * @param {import("../conversation.js").Attachment[]} attachments
 */
export function messageAttachments(attachments) {
  const urls = [];
  const list = element("ul", { class: "message-attachments", "data-testid": "message-attachments", "aria-label": "Attachments" });
  for (const attachment of attachments) {
    const image = showsAsImage(attachment);
    const item = element("li", {
      class: image ? "message-attachment is-image" : "attachment-chip",
      "data-testid": "message-attachment",
      "data-kind": image ? "image" : attachment.blob ? "file" : "dropped",
      title: `${attachment.name} (${attachment.blob ? humanSize(attachment.size) : "not kept on this device"})`,
    });
    if (image) item.append(thumbnail(attachment, urls, { alt: attachment.name, "data-testid": "message-image" }));
    else item.append(fileIcon(), label(attachment));
    list.append(item);
  }
  return { list, urls };
}

export function revokeAll(urls) {
  for (const url of urls) URL.revokeObjectURL(url);
}
