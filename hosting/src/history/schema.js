// The history database's schema and record helpers (see db.js for the API): database names,
// migrations, key ranges, the records callers see, input checks, and the message upsert that
// every write of a message goes through. Used by db.js, attachments.js, search.js, transfer.js.

import { HistoryError, writeError } from "./errors.js";
import { ID_PATTERN, autoTitle, newId, previewOf, titleSource } from "./text.js";

export const DB_PREFIX = "jette-history-";
export const DB_VERSION = 2;
export const STALE_STREAM_MS = 5 * 60 * 1000;
export const STORES = ["conversations", "messages", "attachments"];
/** At most this many attachments on one message (a sanity bound; the server allows fewer). */
export const MAX_ATTACHMENTS_PER_MESSAGE = 64;
const ROLES = ["user", "model"];
const STATES = ["streaming", "done", "stopped", "error"];

/** The database name of a user: never contains the uid itself. */
export async function dbNameFor(uid) {
  if (typeof uid !== "string" || uid === "" || uid.length > 128) {
    throw new HistoryError("invalid", "History is kept only for a signed-in account.");
  }
  const digest = await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(uid));
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${DB_PREFIX}${hex.slice(0, 32)}`;
}

/**
 * Schema migrations, one step per version (called by openDB with the old version). Version 2
 * adds the attachments' Blob store (attachments.js); messages of version 1 have no attachments
 * and stay as they are.
 */
export function upgrade(db, oldVersion) {
  if (oldVersion < 1) {
    db.createObjectStore("conversations", { keyPath: "id" }).createIndex("updatedAt", "updatedAt");
    db.createObjectStore("messages", { keyPath: "id" }).createIndex("bySeq", ["conversationId", "seq"], { unique: true });
  }
  if (oldVersion < 2) {
    const blobs = db.createObjectStore("attachments", { keyPath: "id" });
    blobs.createIndex("byConversation", "conversationId");
    blobs.createIndex("byMessage", "messageId");
    blobs.createIndex("byAge", ["time", "size"]);
  }
}

/**
 * Issue `request(item)` for every item within one transaction and await them all. A request
 * that throws synchronously (it aborts the transaction) leaves no unobserved promise behind.
 */
export function requestAll(items, request) {
  const pending = [];
  try {
    for (const item of items) pending.push(request(item));
  } catch (error) {
    for (const p of pending) p.catch(() => {});
    throw error;
  }
  return Promise.all(pending);
}

/** Key range of one conversation's messages on the "bySeq" index (from `seq` on). */
export const messagesOf = (conversationId, fromSeq = -Infinity) => IDBKeyRange.bound([conversationId, fromSeq], [conversationId, Infinity]);

/** A new conversation record (`title` undefined: titled automatically, from its first message). */
export const newConversation = (id, title, now) => ({
  id,
  title: title ?? "",
  titled: title !== undefined,
  createdAt: now,
  updatedAt: now,
  messageCount: 0,
  preview: "",
  nextSeq: 0,
  version: now * 1000, // never a version this id had before: see db.js
});

/** A conversation record as callers see it. */
export const summary = (c) => ({
  id: c.id,
  title: c.title,
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
  messageCount: c.messageCount,
  preview: c.preview,
  version: c.version,
});

/** What a message record keeps of an attachment (never the bytes). */
export const metaOf = (a) => ({ id: a.id, name: a.name, mimeType: a.mimeType, size: a.size });

/**
 * A message record as callers see it (the Message shape of conversation.js, plus times); its
 * attachments with their Blob from `blobs` (id -> Blob), or `dropped: true` where it is gone.
 */
export function publicMessage(m, now = Date.now(), blobs = new Map()) {
  const stale = m.state === "streaming" && now - m.updatedAt > STALE_STREAM_MS;
  const out = { id: m.id, role: m.role, text: m.text, state: stale ? "stopped" : m.state, createdAt: m.createdAt, updatedAt: m.updatedAt };
  if (m.finishReason) out.finishReason = m.finishReason;
  if (m.attachments?.length) {
    out.attachments = m.attachments.map((a) => (blobs.has(a.id) ? { ...metaOf(a), blob: blobs.get(a.id) } : { ...metaOf(a), dropped: true }));
  }
  return out;
}

export const invalid = (what) => new HistoryError("invalid", `Can't save to history: ${what}.`);
export const notFound = () => new HistoryError("not_found", "This conversation is no longer in your history (it was deleted, perhaps in another tab).");
export const messageNotFound = () => new HistoryError("not_found", "This message is no longer in your history.");

export function checkId(id, what) {
  if (typeof id !== "string" || !ID_PATTERN.test(id)) throw invalid(`bad ${what} id`);
  return id;
}

export function checkPatch(patch) {
  if (!patch || typeof patch !== "object") throw invalid("no message");
  if (patch.text !== undefined && typeof patch.text !== "string") throw invalid("message text must be a string");
  if (patch.state !== undefined && !STATES.includes(patch.state)) throw invalid("unknown message state");
  if (patch.finishReason !== undefined && (typeof patch.finishReason !== "string" || patch.finishReason.length > 64)) throw invalid("bad finishReason");
  return patch;
}

/** A Blob (or File) of this realm or another (tests): duck-typed. */
const isBlob = (value) => value !== null && typeof value === "object" && typeof value.size === "number" && typeof value.slice === "function";
const shortText = (value, max) => typeof value === "string" && value !== "" && value.length <= max;

/** A message's `attachments` (conversation.js's Attachment: {id, name, mimeType, size, blob?, dropped?}). */
export function checkAttachments(list, role) {
  if (list === undefined) return;
  if (!Array.isArray(list) || list.length > MAX_ATTACHMENTS_PER_MESSAGE) throw invalid("attachments must be a short list");
  if (list.length && role !== "user") throw invalid("only your own messages have attachments");
  const ids = new Set();
  for (const a of list) {
    if (!a || typeof a !== "object" || typeof a.id !== "string" || !ID_PATTERN.test(a.id) || ids.has(a.id)) throw invalid("bad attachment id");
    ids.add(a.id);
    if (!shortText(a.name, 255) || !shortText(a.mimeType, 255)) throw invalid("an attachment needs a name and a type");
    if (!Number.isSafeInteger(a.size) || a.size < 0) throw invalid("bad attachment size");
    if (a.blob !== undefined && !isBlob(a.blob)) throw invalid("attachment bytes must be a Blob");
  }
}

export function checkMessage(message) {
  checkPatch(message);
  if (!ROLES.includes(message.role)) throw invalid('role must be "user" or "model"');
  if (typeof message.text !== "string") throw invalid("message text must be a string");
  if (message.id !== undefined) checkId(message.id, "message");
  checkAttachments(message.attachments, message.role);
  return message;
}

/**
 * Write `input` (new or, by id, existing) into `conv` inside transaction `tx`; updates the
 * conversation record in memory (count, title, preview), not in the store. The record keeps
 * the attachments' metadata (input.attachments, else the existing ones); their Blobs are the
 * caller's (attachments.js).
 */
export async function upsertMessage(tx, conv, input, now) {
  const messages = tx.objectStore("messages");
  const id = input.id ?? newId();
  const existing = input.id === undefined ? undefined : await messages.get(id);
  if (existing && existing.conversationId !== conv.id) throw new HistoryError("conflict", "Can't save to history: a message with this id belongs to another conversation.");
  const record = {
    id,
    conversationId: conv.id,
    seq: existing ? existing.seq : conv.nextSeq,
    role: input.role ?? existing.role,
    text: input.text ?? existing.text,
    state: input.state ?? existing?.state ?? "done",
    createdAt: existing?.createdAt ?? now,
    updatedAt: now,
  };
  const finishReason = input.finishReason ?? existing?.finishReason;
  if (finishReason) record.finishReason = finishReason;
  const attachments = input.attachments ? input.attachments.map(metaOf) : existing?.attachments;
  if (attachments?.length) record.attachments = attachments;
  if (!existing) {
    conv.nextSeq += 1;
    conv.messageCount += 1;
  }
  await messages.put(record);
  if (!conv.titled && !conv.title && record.role === "user" && titleSource(record)) conv.title = autoTitle(titleSource(record));
  if (record.seq === conv.nextSeq - 1 && record.text.trim()) conv.preview = previewOf(record.text);
  return record;
}

/** A write to `conv`: bumps its version (and, for activity, its updatedAt); returns the time. */
export function touch(conv, { activity = true } = {}) {
  const now = Math.max(Date.now(), conv.updatedAt);
  if (activity) conv.updatedAt = now;
  conv.version += 1;
  return now;
}

/**
 * Run `fn(tx)` in the readwrite transaction `begin()` opens and wait for its commit; on any
 * failure abort it (nothing of it stays) and throw writeError's error (HistoryFullError when
 * the browser is out of space).
 */
export async function inWriteTransaction(begin, fn) {
  let tx;
  try {
    tx = begin();
    const result = await fn(tx);
    await tx.done;
    return result;
  } catch (error) {
    let txError = null;
    if (tx) {
      tx.done.catch(() => {});
      try {
        txError = tx.error;
      } catch {
        txError = null;
      }
      try {
        tx.abort();
      } catch {
        // already finished
      }
    }
    throw writeError(error, txError);
  }
}
