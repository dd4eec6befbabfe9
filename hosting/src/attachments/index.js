// Attaching files, loaded on first use (the attach button, a drop, a paste — see ui/composer.js):
// the browser's checks before anything is sent (type, size, count, content, what fits in one
// request), reading the bytes into memory, the chips of the pending attachments (`pending` in
// the state), and base64 for the wire. The server's checks (functions/chat/attachments.py)
// still decide; these only say it sooner and more clearly.

import { encodedData, humanSize, limitOf, messageBytes, rememberEncoding, requestBudget } from "../conversation.js";
import { watch } from "../state.js";
import { showBanner } from "../ui/banner.js";
import { element } from "../ui/dom.js";
import { label, revokeAll, thumbnail } from "./view.js";

const BY_EXTENSION = {
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", webp: "image/webp", heic: "image/heic",
  heif: "image/heif", pdf: "application/pdf", txt: "text/plain", md: "text/markdown",
  markdown: "text/markdown", csv: "text/csv",
};
// Types that say nothing (or, for .csv on Windows and .md on some systems, the wrong thing).
const GENERIC = new Set(["", "application/octet-stream", "application/vnd.ms-excel", "text/x-markdown"]);
const NAMES = {
  "image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP", "image/heic": "HEIC", "image/heif": "HEIF",
  "application/pdf": "PDF", "text/plain": ".txt", "text/markdown": ".md", "text/csv": ".csv",
};
const CONTENT = {
  "image/png": "a PNG image", "image/jpeg": "a JPEG image", "image/webp": "a WebP image",
  "image/heic": "a HEIC image", "image/heif": "a HEIF image", "application/pdf": "a PDF",
  "text/plain": "UTF-8 text", "text/markdown": "UTF-8 text", "text/csv": "UTF-8 text",
};
const MAX_NAME = 255; // characters (the server's rule)

/** The file's type: as the browser says, or from its extension when that says nothing. */
export function fileType(file) {
  const declared = (file.type || "").split(";")[0].trim().toLowerCase();
  if (!GENERIC.has(declared)) return declared;
  const extension = /\.([a-z0-9]+)$/i.exec(file.name || "")?.[1].toLowerCase();
  return BY_EXTENSION[extension] || declared || "unknown";
}

/** A name the server takes: no control characters, 1–255 characters (the extension kept). */
export function wireName(name, type) {
  const clean = String(name || "").replace(/[\u0000-\u001f\u007f]/g, "").trim();
  const chars = Array.from(clean || `attachment.${NAMES[type]?.replace(".", "").toLowerCase() || "bin"}`);
  if (chars.length <= MAX_NAME) return chars.join("");
  const dot = clean.lastIndexOf(".");
  const extension = dot > 0 ? Array.from(clean.slice(dot)).slice(0, 16) : [];
  return [...chars.slice(0, MAX_NAME - extension.length - 1), "…", ...extension].join("");
}

const quoted = (name) => (name ? `“${name.length > 60 ? `${name.slice(0, 57)}…` : name}”` : "A file");
const allowedList = (types) => types.map((t) => NAMES[t] || t).join(", ");
/** About how many bytes of files fit in one request (base64 makes 3 bytes 4). */
const aboutFits = (limits) => humanSize(Math.floor((requestBudget(limits) * 3) / 4));

// ISO-BMFF brands as the server reads them: HEVC-coded HEIF (HEIC), generic HEIF, and AVIF,
// which shares `mif1` and is refused.
const HEIC_BRANDS = new Set(["heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"]);
const HEIF_BRANDS = new Set(["mif1", "msf1", "heif"]);
const AVIF_BRANDS = new Set(["avif", "avis"]);
const TEXT_TYPES = ["text/plain", "text/markdown", "text/csv"];

/** The major and compatible brands of a leading `ftyp` box, or null. */
function ftypBrands(bytes) {
  const ascii = (from) => String.fromCharCode(...bytes.subarray(from, from + 4));
  if (bytes.length < 16 || ascii(4) !== "ftyp") return null;
  const size = ((bytes[0] << 24) >>> 0) + (bytes[1] << 16) + (bytes[2] << 8) + bytes[3];
  if (size < 16 || size > Math.min(bytes.length, 4096) || size % 4) return null;
  const brands = [ascii(8)];
  for (let i = 16; i < size; i += 4) brands.push(ascii(i));
  return brands;
}

/** Every type these bytes really are, by the server's rules (functions/chat/attachments.py). */
export function contentTypes(bytes) {
  const at = (offset, ...sig) => sig.every((byte, i) => bytes[offset + i] === byte);
  const types = [];
  const brands = ftypBrands(bytes);
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) types.push("image/png");
  else if (at(0, 0xff, 0xd8, 0xff)) types.push("image/jpeg");
  else if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) types.push("image/webp");
  else if (brands && !brands.some((b) => AVIF_BRANDS.has(b)) && brands.some((b) => HEIC_BRANDS.has(b))) types.push("image/heic", "image/heif");
  else if (brands && !brands.some((b) => AVIF_BRANDS.has(b)) && brands.some((b) => HEIF_BRANDS.has(b))) types.push("image/heif");
  else {
    const start = bytes.subarray(0, 1024);
    for (let i = 0; i + 5 <= start.length; i += 1) {
      if (at(i, 0x25, 0x50, 0x44, 0x46, 0x2d)) {
        types.push("application/pdf"); // %PDF-
        break;
      }
    }
  }
  if (!bytes.includes(0)) {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      types.push(...TEXT_TYPES); // text is judged on its own: a note may quote "%PDF-"
    } catch {
      // not UTF-8
    }
  }
  return types;
}

/** What the bytes are, for a file declared `declared`: that type when the bytes are of it,
 * else what they are instead (an image first), or null: none of ours. */
export function contentType(bytes, declared) {
  const types = contentTypes(bytes);
  if (types.includes(declared)) return declared;
  return types.find((type) => type.startsWith("image/")) ?? types[0] ?? null;
}

/** Check one file against the limits, before reading it: its problem, or null. */
function sizeOrTypeProblem(file, type, limits) {
  const types = limitOf(limits, "attachmentTypes");
  const max = limitOf(limits, "maxAttachmentBytes");
  if (!types.includes(type)) return `${quoted(file.name)} can't be attached: this type of file isn't accepted. Allowed: ${allowedList(types)}.`;
  if (file.size > max) return `${quoted(file.name)} is too large (${humanSize(file.size)}): the limit is ${humanSize(max)} per file.`;
  if (file.size === 0) return `${quoted(file.name)} is empty.`;
  return null;
}

/** Read and check one file: {attachment} or {problem}. */
async function readFile(file, type, limits) {
  let bytes;
  try {
    bytes = new Uint8Array(await file.arrayBuffer()); // in memory now: the file may change on disk
  } catch {
    return { problem: `${quoted(file.name)} could not be read.` };
  }
  let mimeType = type;
  const real = CONTENT[type] ? contentType(bytes, type) : type; // a type added later: the server checks it
  if (real !== type) {
    // An image under the wrong image extension is sent as what it is.
    const isImage = real?.startsWith("image/") && type.startsWith("image/");
    if (!isImage || !limitOf(limits, "attachmentTypes").includes(real)) {
      return { problem: `${quoted(file.name)} can't be attached: its content is not ${CONTENT[type]}.` };
    }
    mimeType = real;
  }
  const attachment = {
    id: globalThis.crypto.randomUUID(),
    name: wireName(file.name, mimeType),
    mimeType,
    size: bytes.length,
    blob: new Blob([bytes], { type: mimeType }),
  };
  return { attachment };
}

/**
 * Add `files` to the pending attachments after checking them; each refused one is said in the
 * banner (the first as its message, the others as its detail). Resolves once done.
 * @param {FileList|File[]} files
 */
export async function addFiles(store, files) {
  const { limits } = store.get();
  const max = limitOf(limits, "maxAttachments");
  if (max === 0) {
    showBanner(store, { code: "attachment", message: "Attachments are turned off here." });
    return;
  }
  const problems = [];
  const checks = [...files].map((file) => {
    const type = fileType(file);
    const problem = sizeOrTypeProblem(file, type, limits);
    if (problem) problems.push(problem);
    return problem ? null : readFile(file, type, limits);
  });
  const read = await Promise.all(checks.filter(Boolean));
  // Counted against what is pending now: another drop may have landed meanwhile.
  const pending = [...(store.get().pending || [])];
  let over = 0;
  for (const { attachment, problem } of read) {
    if (problem) problems.push(problem);
    else if (pending.length >= max) over += 1;
    else if (messageBytes("", [...pending, attachment]) > requestBudget(store.get().limits)) {
      problems.push(`${quoted(attachment.name)} doesn't fit in one message: together, its files can be at most about ${aboutFits(store.get().limits)}.`);
    } else pending.push(attachment);
  }
  if (over) problems.push(`A message can carry at most ${max} file${max === 1 ? "" : "s"}: ${over === 1 ? "one was" : `${over} were`} not attached.`);
  if (pending.length !== (store.get().pending || []).length) store.set({ pending });
  if (problems.length) showBanner(store, { code: "attachment", message: problems[0], detail: problems.slice(1).join(" ") });
}

/**
 * Why a message's own `attachments` cannot be sent with `text` under `limits` (they may have
 * changed since they were attached; a re-sent message's bytes may be gone), or "".
 */
export function sendProblem(attachments, text, limits, options = {}) {
  const kept = attachments.filter((a) => a.blob);
  if (!text && !kept.length) return "The files of this message are no longer kept on this device, so it can't be sent again. Write a message or attach them again.";
  const max = limitOf(limits, "maxAttachments");
  if (kept.length > max) {
    return max ? `A message can carry at most ${max} file${max === 1 ? "" : "s"}. Remove ${kept.length - max} to send it.` : "Attachments are turned off here. Remove them to send the message.";
  }
  const perFile = limitOf(limits, "maxAttachmentBytes");
  const big = kept.find((a) => a.size > perFile);
  if (big) return `${quoted(big.name)} is too large (${humanSize(big.size)}): the limit is ${humanSize(perFile)} per file. Remove it to send the message.`;
  if (messageBytes(text, kept, options) > requestBudget(limits)) {
    const total = kept.reduce((sum, a) => sum + a.size, 0);
    return `These files are too large to send together (${humanSize(total)}; one message can carry about ${aboutFits(limits)}). Remove one to send the message.`;
  }
  return "";
}

/** Said when a re-sent message goes without the files whose bytes are gone. */
export const goneNotice = (gone) =>
  `${gone === 1 ? "One file of this message is" : `${gone} files of this message are`} no longer kept on this device: sent without ${gone === 1 ? "it" : "them"}.`;

/** Standard base64 with padding of `bytes`. */
export function toBase64(bytes) {
  if (typeof bytes.toBase64 === "function") return bytes.toBase64();
  let out = "";
  const CHUNK = 3 * 16384; // a multiple of 3: the pieces join without padding in between
  for (let i = 0; i < bytes.length; i += CHUNK) {
    out += btoa(String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK)));
  }
  return out;
}

/** The base64 of each Blob, made once per Blob (cached in conversation.js for buildRequest). */
export async function encode(blobs) {
  for (const blob of blobs) {
    if (encodedData(blob) !== undefined) continue;
    rememberEncoding(blob, toBase64(new Uint8Array(await blob.arrayBuffer())));
  }
}

/**
 * Encode what a request needs: the message's own attachments (a failure rejects with an
 * AttachmentReadError) and the
 * history's (one that cannot be read is left out, as bytes no longer kept would be). Returns the
 * message's attachments in wire form.
 */
export async function encodeForRequest(own, historyBlobs) {
  try {
    await encode(own.map((a) => a.blob));
  } catch {
    const error = new Error("A file of this message could not be read.");
    error.name = "AttachmentReadError";
    throw error;
  }
  for (const blob of historyBlobs) await encode([blob]).catch(() => {});
  return own.map((a) => ({ name: a.name, mimeType: a.mimeType, data: encodedData(a.blob) }));
}

/**
 * The chips of the pending attachments in `list` (above the message box), each with its Remove
 * button; `input` (the message box) gets the focus when the last one is removed.
 */
export function mountChips(store, { list, input }) {
  const chips = new Map(); // attachment id -> {li, urls}

  watch(store, ["pending"], ({ pending = [] }) => {
    const wanted = new Set(pending.map((a) => a.id));
    for (const [id, chip] of chips) {
      if (wanted.has(id)) continue;
      chip.li.remove();
      revokeAll(chip.urls);
      chips.delete(id);
    }
    for (const attachment of pending) {
      let chip = chips.get(attachment.id);
      if (!chip) {
        chip = chipNode(attachment);
        chips.set(attachment.id, chip);
      }
      list.append(chip.li); // in the order of `pending`
    }
    list.hidden = pending.length === 0;
  });

  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-attachment]");
    if (!button) return;
    const { pending = [] } = store.get();
    const next = button.closest("li").nextElementSibling?.querySelector("button[data-attachment]");
    store.set({ pending: pending.filter((a) => a.id !== button.dataset.attachment) });
    (next || input).focus(); // the keyboard stays in the list, or goes back to the box
  });
}

/** One pending attachment's chip: {li, urls (its blob: URL, revoked when it goes)}. */
function chipNode(attachment) {
  const urls = [];
  const li = element("li", { class: "attachment-chip", "data-testid": "attachment-chip", "data-id": attachment.id });
  li.append(thumbnail(attachment, urls, { alt: "", class: "attachment-thumb", "data-testid": "attachment-thumb" }), label(attachment));
  const remove = element("button", {
    type: "button",
    class: "attachment-remove",
    "data-testid": "attachment-remove",
    "data-attachment": attachment.id,
    "aria-label": `Remove ${attachment.name}`,
    title: "Remove",
  });
  remove.innerHTML =
    '<svg aria-hidden="true" focusable="false" viewBox="0 0 24 24" width="16" height="16"><path fill="currentColor" d="M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z"/></svg>';
  li.append(remove);
  return { li, urls };
}
