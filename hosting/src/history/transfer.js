// Export and import of the whole history; Markdown per conversation.
//
// Export document (JSON):
//   {format: "jette-history", version: 1, exportedAt: ISO,
//    conversations: [{id, title, createdAt: ISO, updatedAt: ISO,
//                     messages: [{id, role: "user"|"model", text, state: "done"|"stopped"|"error",
//                                 finishReason?, attachments?: [{name, mimeType, size}],
//                                 createdAt: ISO, updatedAt: ISO}]}]}
// newest conversation first, messages in order. An unsettled answer is exported as "stopped"
// (or left out while it has no text). Attachments are exported as what they were — name, type,
// size — never their bytes (base64 images would make the file huge and land wherever it is
// saved): an imported attachment reads as "not kept on this device". `attachments` is optional
// and only on user messages, so files without any are exactly those of earlier versions.
//
// parseImport is strict: every limit below, exactly these fields (an unknown one, `__proto__`
// included, is refused), the types, sane times, unique ids. A refused file throws ImportError
// with a message for people, and importAll is never reached. The result is built from fresh
// objects, never the parsed input.
//
// Merge policy of importAll (one readwrite transaction: on any failure, e.g. a full disk ->
// HistoryFullError, nothing at all changes):
//   - id not on this device: added as is (a message id already used here gets a fresh id);
//   - id on this device and every imported message is already there (same id, role, text):
//     skipped — the device copy is the same or newer, its title and later messages win;
//   - id on this device with different content: kept both — the import is added as a copy
//     with fresh conversation and message ids.

import { toMarkdown } from "../conversation.js";
import { messagesOf, requestAll } from "./schema.js";
import { ImportError } from "./errors.js";
import { ID_PATTERN, MAX_TITLE_CHARS, autoTitle, fold, newId, previewOf, titleSource } from "./text.js";

export const EXPORT_FORMAT = "jette-history";
export const EXPORT_VERSION = 1;
export const IMPORT_LIMITS = Object.freeze({
  bytes: 20 * 1024 * 1024,
  conversations: 5000,
  messagesPerConversation: 2000,
  messages: 100_000,
  textChars: 200_000,
  titleChars: MAX_TITLE_CHARS,
  attachmentsPerMessage: 16,
  attachmentNameChars: 255,
  attachmentBytes: 2 ** 31,
});
const EARLIEST = Date.UTC(2020, 0, 1);
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;
const FINISH = /^[A-Z_]{1,32}$/;
const MIME_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/i;
const validated = new WeakSet();

const iso = (ms) => new Date(ms).toISOString();

function exportMessage(m) {
  const out = { id: m.id, role: m.role, text: m.text, state: m.state === "streaming" ? "stopped" : m.state };
  if (m.finishReason) out.finishReason = m.finishReason;
  if (m.attachments?.length) out.attachments = m.attachments.map(({ name, mimeType, size }) => ({ name, mimeType, size }));
  out.createdAt = iso(m.createdAt);
  out.updatedAt = iso(m.updatedAt);
  return out;
}

const exportable = (m) => m.state !== "streaming" || m.text !== "";

/** The whole history of `history` (openHistory's result) as the export document. */
export async function exportAll(history, now = new Date()) {
  const [conversations, messages] = await history.read((tx) =>
    Promise.all([tx.objectStore("conversations").index("updatedAt").getAll(), tx.objectStore("messages").index("bySeq").getAll()]),
  );
  const byConversation = new Map();
  for (const m of messages) {
    if (!byConversation.has(m.conversationId)) byConversation.set(m.conversationId, []);
    byConversation.get(m.conversationId).push(m);
  }
  return {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exportedAt: now.toISOString(),
    conversations: conversations.reverse().map((c) => ({
      id: c.id,
      title: c.title,
      createdAt: iso(c.createdAt),
      updatedAt: iso(c.updatedAt),
      messages: (byConversation.get(c.id) || []).filter(exportable).map(exportMessage),
    })),
  };
}

/** One conversation (getConversation's result) as Markdown: {name, text}. */
export function conversationMarkdown(conversation, now = new Date()) {
  const messages = conversation.messages.filter(exportable).map((m) => ({ ...m, state: m.state === "streaming" ? "stopped" : m.state }));
  const slug = fold(conversation.title).replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40).replace(/-$/, "") || "chat";
  const day = new Date(conversation.updatedAt).toISOString().slice(0, 10);
  return { name: `${slug}-${day}.md`, text: toMarkdown(messages, { title: conversation.title || "Conversation with Gemini", date: now }) };
}

/** The export as a file to save: {name: "jette-history-YYYY-MM-DD.json", text}. */
export async function exportFile(history, now = new Date()) {
  const doc = await exportAll(history, now);
  return { name: `jette-history-${now.toISOString().slice(0, 10)}.json`, text: `${JSON.stringify(doc, null, 2)}\n` };
}

/** Conversation `id` of `history` as a Markdown file, {name, text}, or null when it is gone. */
export async function markdownFile(id, history, now = new Date()) {
  const conversation = await history.getConversation(id);
  return conversation && conversationMarkdown(conversation, now);
}

// ---------------------------------------------------------------- import: validation

function refuse(where, what) {
  throw new ImportError(`This file can't be imported${where ? ` (${where})` : ""}: ${what}. Nothing was changed.`);
}

const isPlainObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
const shown = (key) => JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);

function checkFields(value, where, required, optional = []) {
  if (!isPlainObject(value)) refuse(where, "expected an object");
  for (const key of Object.keys(value)) {
    if (!required.includes(key) && !optional.includes(key)) refuse(where, `unknown field ${shown(key)}`);
  }
  for (const key of required) if (!Object.hasOwn(value, key)) refuse(where, `missing field "${key}"`);
}

function checkString(value, where, field, max, { empty = false } = {}) {
  if (typeof value !== "string") refuse(where, `"${field}" must be text`);
  if (value.length > max) refuse(where, `"${field}" is longer than ${max.toLocaleString("en")} characters`);
  if (!empty && value.trim() === "") refuse(where, `"${field}" is empty`);
  return value;
}

function checkTime(value, where, field, latest) {
  if (typeof value !== "string" || !ISO.test(value)) refuse(where, `"${field}" must be a time like 2025-01-31T14:05:00.000Z`);
  const ms = Date.parse(value);
  if (!Number.isFinite(ms) || ms < EARLIEST || ms > latest) refuse(where, `"${field}" is not a plausible time`);
  return ms;
}

function checkId(value, where, field, seen) {
  if (typeof value !== "string" || !ID_PATTERN.test(value)) refuse(where, `"${field}" must be 1–64 letters, digits, "-" or "_"`);
  if (seen.has(value)) refuse(where, `the id ${shown(value)} appears twice`);
  seen.add(value);
  return value;
}

function checkAttachment(a, where) {
  checkFields(a, where, ["name", "mimeType", "size"]);
  const name = checkString(a.name, where, "name", IMPORT_LIMITS.attachmentNameChars);
  if (typeof a.mimeType !== "string" || !MIME_TYPE.test(a.mimeType)) refuse(where, '"mimeType" must be a type like image/png');
  if (!Number.isSafeInteger(a.size) || a.size < 0 || a.size > IMPORT_LIMITS.attachmentBytes) refuse(where, '"size" must be a number of bytes');
  return { name, mimeType: a.mimeType, size: a.size };
}

function checkMessage(m, where, latest, seenMessages) {
  checkFields(m, where, ["id", "role", "text", "state", "createdAt", "updatedAt"], ["finishReason", "attachments"]);
  const out = { id: checkId(m.id, where, "id", seenMessages) };
  if (m.role !== "user" && m.role !== "model") refuse(where, '"role" must be "user" or "model"');
  out.role = m.role;
  out.text = checkString(m.text, where, "text", IMPORT_LIMITS.textChars, { empty: true });
  if (!["done", "stopped", "error"].includes(m.state)) refuse(where, '"state" must be "done", "stopped" or "error"');
  out.state = m.state;
  if (m.finishReason !== undefined) {
    if (typeof m.finishReason !== "string" || !FINISH.test(m.finishReason)) refuse(where, '"finishReason" must be a code like STOP');
    out.finishReason = m.finishReason;
  }
  if (m.attachments !== undefined) {
    if (m.role !== "user") refuse(where, "only the user's messages have attachments");
    if (!Array.isArray(m.attachments) || m.attachments.length > IMPORT_LIMITS.attachmentsPerMessage) {
      refuse(where, `"attachments" must be a list of at most ${IMPORT_LIMITS.attachmentsPerMessage}`);
    }
    out.attachments = m.attachments.map((a, k) => checkAttachment(a, `${where}, attachment ${k + 1}`));
  }
  out.createdAt = checkTime(m.createdAt, where, "createdAt", latest);
  out.updatedAt = checkTime(m.updatedAt, where, "updatedAt", latest);
  if (out.updatedAt < out.createdAt) refuse(where, '"updatedAt" is before "createdAt"');
  return out;
}

function checkConversation(c, n, latest, seen) {
  const where = `conversation ${n}`;
  checkFields(c, where, ["id", "title", "createdAt", "updatedAt", "messages"]);
  const out = { id: checkId(c.id, where, "id", seen.conversations) };
  out.title = checkString(c.title, where, "title", IMPORT_LIMITS.titleChars, { empty: true });
  out.createdAt = checkTime(c.createdAt, where, "createdAt", latest);
  out.updatedAt = checkTime(c.updatedAt, where, "updatedAt", latest);
  if (out.updatedAt < out.createdAt) refuse(where, '"updatedAt" is before "createdAt"');
  if (!Array.isArray(c.messages)) refuse(where, '"messages" must be a list');
  if (c.messages.length > IMPORT_LIMITS.messagesPerConversation) {
    refuse(where, `more than ${IMPORT_LIMITS.messagesPerConversation.toLocaleString("en")} messages`);
  }
  seen.messageCount += c.messages.length;
  if (seen.messageCount > IMPORT_LIMITS.messages) refuse("", `more than ${IMPORT_LIMITS.messages.toLocaleString("en")} messages in all`);
  out.messages = c.messages.map((m, k) => checkMessage(m, `${where}, message ${k + 1}`, latest, seen.messages));
  return out;
}

/**
 * Validate an export file's text. Returns {conversations} (times in ms) for importAll, or
 * throws ImportError with a message to show as is.
 */
export function parseImport(text, now = Date.now()) {
  if (typeof text !== "string") refuse("", "it is not a text file");
  if (text.length > IMPORT_LIMITS.bytes) refuse("", "it is larger than 20 MB");
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    refuse("", "it is not valid JSON (it may be cut off or not a history export)");
  }
  if (!isPlainObject(data) || data.format !== EXPORT_FORMAT) refuse("", "it is not a Jette history export");
  if (data.version !== EXPORT_VERSION) refuse("", `it is export version ${shown(String(data.version))}; this app reads version ${EXPORT_VERSION}`);
  checkFields(data, "", ["format", "version", "exportedAt", "conversations"]);
  const latest = now + 24 * 60 * 60 * 1000;
  checkTime(data.exportedAt, "", "exportedAt", latest);
  if (!Array.isArray(data.conversations)) refuse("", '"conversations" must be a list');
  if (data.conversations.length > IMPORT_LIMITS.conversations) {
    refuse("", `it has more than ${IMPORT_LIMITS.conversations.toLocaleString("en")} conversations`);
  }
  const seen = { conversations: new Set(), messages: new Set(), messageCount: 0 };
  const conversations = data.conversations.map((c, n) => checkConversation(c, n + 1, latest, seen));
  const parsed = Object.freeze({ conversations });
  validated.add(parsed);
  return parsed;
}

/** parseImport of a File/Blob, refusing an oversized one before reading it. */
export async function readImportFile(file) {
  if (!file || typeof file.size !== "number" || typeof file.text !== "function") refuse("", "no file");
  if (file.size > IMPORT_LIMITS.bytes) refuse("", "it is larger than 20 MB");
  return parseImport(await file.text());
}

// ---------------------------------------------------------------- import: writing

function conversationRecord(c, messages, now) {
  const firstUser = messages.find((m) => m.role === "user" && titleSource(m));
  const last = messages.findLast((m) => m.text.trim());
  const title = c.title.trim() ? c.title : firstUser ? autoTitle(titleSource(firstUser)) : "";
  return {
    id: c.id,
    title,
    titled: !firstUser || title !== autoTitle(titleSource(firstUser)),
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    messageCount: messages.length,
    preview: last ? previewOf(last.text) : "",
    nextSeq: messages.length,
    version: now * 1000, // never a version this id had before (see db.js)
  };
}

const sameMessage = (a, b) => a && a.role === b.role && a.text === b.text;

/**
 * Write what parseImport returned into `history` in ONE transaction (see the merge policy at
 * the top). Returns {added, copied, skipped}. Rejects with HistoryFullError when the device is
 * full; then nothing was written.
 */
export async function importAll(history, parsed) {
  if (!validated.has(parsed)) throw new TypeError("importAll takes the result of parseImport");
  const now = Date.now();
  const counts = await history.write(async (tx) => {
    const conversations = tx.objectStore("conversations");
    const messages = tx.objectStore("messages");
    const result = { added: 0, copied: 0, skipped: 0 };
    for (const c of parsed.conversations) {
      let id = c.id;
      let fresh = false;
      if (await conversations.get(id)) {
        const local = new Map((await messages.index("bySeq").getAll(messagesOf(id))).map((m) => [m.id, m]));
        if (c.messages.every((m) => sameMessage(local.get(m.id), m))) {
          result.skipped += 1;
          continue;
        }
        id = newId();
        fresh = true;
        result.copied += 1;
      } else {
        result.added += 1;
      }
      const taken = fresh ? [] : await requestAll(c.messages, (m) => messages.getKey(m.id));
      const records = c.messages.map(({ attachments, ...m }, seq) => {
        const record = { ...m, id: fresh || taken[seq] !== undefined ? newId() : m.id, conversationId: id, seq };
        // Metadata only, under fresh ids: no Blob, so each reads back as "not kept on this device".
        if (attachments?.length) record.attachments = attachments.map((a) => ({ id: newId(), ...a }));
        return record;
      });
      await requestAll(records, (record) => messages.put(record));
      await conversations.put(conversationRecord({ ...c, id }, records, now));
    }
    return result;
  });
  history.announce({ type: "imported" });
  return counts;
}
