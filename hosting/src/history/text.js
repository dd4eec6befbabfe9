// Text helpers of the history: titles, previews, search folding and snippets. Pure.

export const TITLE_CHARS = 80;
export const PREVIEW_CHARS = 140;
export const MAX_TITLE_CHARS = 200;
/** Ids of conversations and messages: UUIDs (chat.js, newId) and older `m…-n` ids both fit. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A fresh random id (UUID v4). Ids must be unique across tabs: never a per-tab counter alone. */
export const newId = () => globalThis.crypto.randomUUID();

/** Whitespace runs -> one space, trimmed. */
export const oneLine = (text) => String(text).replace(/\s+/g, " ").trim();

/** At most `max` characters (never splitting a surrogate pair), with "…" when cut. */
export function clip(text, max) {
  if (text.length <= max) return text;
  let end = max - 1;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${text.slice(0, end).trimEnd()}…`;
}

/** The automatic title: the first message, trimmed to one line. */
export const autoTitle = (text) => clip(oneLine(text), TITLE_CHARS);

/** What a user message gives a title: its text, or the names of its attachments when it has none. */
export const titleSource = (m) => (m.text.trim() ? m.text : (m.attachments || []).map((a) => a.name).join(", "));

/** The list preview: the latest message with text, one line. */
export const previewOf = (text) => clip(oneLine(text), PREVIEW_CHARS);

const NON_ASCII = /[^\x00-\x7f]/;
const DIACRITICS = /[\u0300-\u036f]+/g; // combining diacritical marks (Latin, Greek, Cyrillic accents)
const SPACES = /\s{2,}|[^\S ]/g; // only what is not already a single space

/**
 * Search form of a text: lower case, accents removed (é -> e, ü -> u; NFD only for non-ASCII
 * text, so plain text costs one toLowerCase; marks of other scripts, e.g. Devanagari vowel
 * signs, are kept), whitespace runs -> one space.
 */
export function fold(text) {
  let s = String(text).toLowerCase();
  if (NON_ASCII.test(s)) s = s.normalize("NFD").replace(DIACRITICS, "");
  return s.replace(SPACES, " ");
}

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * A one-line excerpt of `text` around the first match of the folded query `q` (falls back to
 * the start of the text). Runs on the few matched messages only.
 */
export function snippet(text, q, { before = 40, length = PREVIEW_CHARS } = {}) {
  const nfd = String(text).normalize("NFD");
  const pattern = Array.from(q, (c) => (c === " " ? "\\s+" : `${escapeRegExp(c)}[\\u0300-\\u036f]*`)).join("");
  let match = null;
  try {
    match = new RegExp(pattern, "iu").exec(nfd);
  } catch {
    match = null;
  }
  if (!match) return previewOf(text);
  const start = Math.max(0, match.index - before);
  let excerpt = oneLine(nfd.slice(start, start + length + before).replace(/^[\u0300-\u036f]+/, ""));
  excerpt = clip(excerpt, length);
  return `${start > 0 ? "…" : ""}${excerpt}`.normalize("NFC");
}
