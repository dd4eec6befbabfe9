// The conversation as data: what is sent as history (with attachments, within the limits), and
// the Markdown export. Pure, but for one cache: the base64 of each attachment's Blob, made by
// src/attachments/index.js before a request is built, and read here.

/**
 * @typedef {{id: string, name: string, mimeType: string, size: number, blob?: Blob, dropped?: true}} Attachment
 *   `blob` absent and `dropped: true`: the bytes are no longer kept on this device (name and size stay).
 * @typedef {{id: string, role: "user"|"model", text: string,
 *            state?: "streaming"|"done"|"stopped"|"error", finishReason?: string,
 *            attachments?: Attachment[]}} Message  (attachments: on user messages only)
 * @typedef {{name: string, mimeType: string, data: string}} WireAttachment  (data: standard base64)
 */

import { DEFAULT_LIMITS } from "./generated/contract.js";

// Until the server says otherwise (config.json, then GET /api/auth's chat.limits): its defaults,
// as scripts/generate.py writes them from functions/core/settings.py.
export { DEFAULT_LIMITS };

/** A limit from the state, or its default when the server has not said it yet. */
export const limitOf = (limits, key) => limits?.[key] ?? DEFAULT_LIMITS[key];

const encodings = new WeakMap(); // Blob -> its base64 (a long conversation is encoded once)

/** The base64 of `blob`, if src/attachments/index.js has made it; else undefined. */
export const encodedData = (blob) => (blob ? encodings.get(blob) : undefined);

export function rememberEncoding(blob, data) {
  encodings.set(blob, data);
}

/** The length of the padded base64 of `size` bytes. */
export const base64Length = (size) => 4 * Math.ceil(size / 3);

/** Bytes as people read them: "820 B", "14 KB", "4.2 MB" (1 KB = 1024 bytes, as the limits). */
export function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const [value, unit] = bytes < 1023.5 * 1024 ? [bytes / 1024, "KB"] : [bytes / (1024 * 1024), "MB"];
  const shown = value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
  return `${shown.toLocaleString("en")} ${unit}`;
}

const encoder = new TextEncoder();
const byteLength = (value) => encoder.encode(JSON.stringify(value)).length;

/** The JSON bytes of a list (`[a,b]`), `each` giving an item's bytes. */
const listBytes = (items, each) => 2 + items.reduce((sum, item) => sum + each(item), 0) + Math.max(0, items.length - 1);

/** An attachment's JSON bytes: wire form (its base64 `data`) or not yet encoded (its `size`). */
const attachmentBytes = (a) =>
  byteLength({ name: a.name, mimeType: a.mimeType, data: "" }) + (a.data !== undefined ? a.data.length : base64Length(a.size));

/** The JSON bytes of a body or history item; attachments are counted, never re-serialized. */
function jsonBytes(value) {
  if (!value.attachments) return byteLength(value);
  return byteLength({ ...value, attachments: [] }) - 2 + listBytes(value.attachments, attachmentBytes);
}

/** What a request may weigh, with headroom for JSON escaping differences. */
export const requestBudget = (limits) => limits.maxRequestBytes - 512;

function head(text, { model, instructions, attachments } = {}) {
  const body = { message: text, history: [] };
  if (model) body.model = model;
  if (instructions) body.instructions = instructions;
  if (attachments?.length) body.attachments = attachments;
  return body;
}

/**
 * The bytes of a request carrying `text`, `extra` ({model?, instructions?}) and `attachments`
 * (Attachment objects, not yet encoded) and no history: over requestBudget(limits), the
 * message cannot be sent at all.
 */
export function messageBytes(text, attachments = [], extra = {}) {
  return jsonBytes(head(text, { ...extra, attachments }));
}

/**
 * The answered [user, model] message pairs of `messages`, with the user message's attachments
 * whose bytes are here. A user message counts with text or with such an attachment; a turn that
 * failed or was answered with nothing is left out, so roles alternate user/model.
 */
function answeredPairs(messages) {
  const pairs = [];
  for (let i = 0; i < messages.length - 1; i += 1) {
    const user = messages[i];
    const model = messages[i + 1];
    if (user.role !== "user" || model.role !== "model" || model.text.trim() === "") continue;
    const attachments = (user.attachments || []).filter((a) => !a.dropped && a.blob);
    if (user.text.trim() === "" && !attachments.length) continue;
    pairs.push([user, model, attachments]);
    i += 1;
  }
  return pairs;
}

const isEncoded = (a) => encodedData(a.blob) !== undefined;
const wireForm = (a) => ({ name: a.name, mimeType: a.mimeType, data: encodedData(a.blob) });
const userItem = (user, attachments) =>
  attachments.length ? { role: "user", text: user.text, attachments: attachments.map(wireForm) } : { role: "user", text: user.text };

/**
 * The answered turns of `messages` as chat request history items; a user item carries those of
 * its attachments whose bytes are here and encoded (bytes no longer on this device are simply
 * not sent; a blank question with no such attachment is left out).
 * @param {Message[]} messages
 */
export function answeredTurns(messages) {
  return answeredPairs(messages)
    .map(([user, model, attachments]) => [user, model, attachments.filter(isEncoded)])
    .filter(([user, , attachments]) => user.text.trim() !== "" || attachments.length)
    .map(([user, model, attachments]) => [userItem(user, attachments), { role: "model", text: model.text }]);
}

const newestTurns = (pairs, limits) => pairs.slice(Math.max(0, pairs.length - Math.floor(limits.maxHistoryMessages / 2)));

/**
 * The Blobs buildRequest may send as history after `messages`, to encode first: newest first,
 * as many as can fit beside `reserve` bytes (the message itself, messageBytes()) — older ones
 * would be left out anyway, so they are never read.
 */
export function historyBlobs(messages, limits = DEFAULT_LIMITS, reserve = 0) {
  const blobs = [];
  let room = requestBudget(limits) - reserve;
  for (const [, , attachments] of newestTurns(answeredPairs(messages), limits).reverse()) {
    for (const a of [...attachments].reverse()) {
      room -= attachmentBytes(a) + 1;
      if (room < 0) return blobs;
      blobs.push(a.blob);
    }
  }
  return blobs;
}

/**
 * The chat request body for sending `text` after `messages`: the newest answered turns that fit
 * within MAX_HISTORY_MESSAGES and MAX_REQUEST_BYTES. To fit, the oldest history attachments go
 * first (those not encoded — see historyBlobs — are left out from the start), then the oldest
 * turns (a blank question left with no attachment goes with its turn).
 * `extra`: {model?, instructions?, attachments?: WireAttachment[]} (the message's own).
 * Returns {body, dropped (turns left out), droppedAttachments (history attachments left out),
 * fits (false: the message alone is over the budget; the body is then not to be sent)}.
 * @param {Message[]} messages  the conversation before this message
 * @param {string} text
 */
export function buildRequest(messages, text, limits = DEFAULT_LIMITS, extra = {}) {
  const pairs = answeredPairs(messages);
  const newest = newestTurns(pairs, limits);
  let dropped = pairs.length - newest.length;
  let droppedAttachments = 0;
  let kept = [];
  for (const [user, model, attachments] of newest) {
    const encoded = attachments.filter(isEncoded);
    droppedAttachments += attachments.length - encoded.length;
    if (user.text.trim() === "" && !encoded.length) dropped += 1;
    else kept.push([userItem(user, encoded), { role: "model", text: model.text }]);
  }
  const body = head(text, extra);
  const budget = requestBudget(limits);
  const fixed = jsonBytes(body) - 2; // without the history's []
  const sizes = new Map();
  const sizeOf = (item) => {
    if (!sizes.has(item)) sizes.set(item, jsonBytes(item));
    return sizes.get(item);
  };
  const total = () => fixed + listBytes(kept.flat(), sizeOf);
  while (kept.length > 0 && total() > budget) {
    const at = kept.findIndex(([user]) => user.attachments);
    if (at < 0) {
      kept = kept.slice(1);
      dropped += 1;
      continue;
    }
    const [user, model] = kept[at];
    const [, ...rest] = user.attachments;
    droppedAttachments += 1;
    const lighter = rest.length ? { ...user, attachments: rest } : { role: "user", text: user.text };
    if (lighter.text.trim() || rest.length) {
      kept = kept.map((turn, i) => (i === at ? [lighter, model] : turn));
    } else {
      kept = kept.filter((_, i) => i !== at);
      dropped += 1;
    }
  }
  body.history = kept.flat();
  return { body, dropped, droppedAttachments, fits: fixed + 2 <= budget };
}

/** The conversation as a Markdown document. */
export function toMarkdown(messages, { title = "Conversation with Gemini", date = new Date() } = {}) {
  const lines = [`# ${title}`, "", `_Exported ${date.toISOString().replace("T", " ").slice(0, 16)} UTC_`, ""];
  for (const message of messages) {
    if (!message.text.trim() && message.role === "model") continue;
    lines.push(message.role === "user" ? "## You" : "## Gemini", "");
    if (message.text.trim()) lines.push(message.text.trim(), "");
    if (message.attachments?.length) {
      const files = message.attachments.map((a) => `${a.name} (${humanSize(a.size)})`).join(", ");
      lines.push(`_Attached: ${files}_`, "");
    }
    if (message.state === "stopped") lines.push("_(stopped before the end)_", "");
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

/** A file name for the export, e.g. `chat-2025-01-31-1405.md`. */
export function exportFileName(date = new Date()) {
  const pad = (n) => String(n).padStart(2, "0");
  return `chat-${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}.md`;
}
