// On-device conversation history (issue #9): IndexedDB through `idb`, loaded lazily.
//
// One database per signed-in user: `jette-history-<first 32 hex of SHA-256(uid)>` — the raw uid
// appears in no database name, key or record. Schema (version 2; version 1 had no attachments):
//   conversations  keyPath "id"; index "updatedAt"
//                  {id, title, titled, createdAt, updatedAt, messageCount, preview, nextSeq, version}
//   messages       keyPath "id"; unique index "bySeq" on [conversationId, seq]
//                  {id, conversationId, seq, role, text, state, finishReason?, createdAt, updatedAt,
//                   attachments?: [{id, name, mimeType, size}]}
//   attachments    keyPath "id" (the attachment's): the Blobs, ATTACHMENT_STORE_BYTES in all
//                  (attachments.js)
// Listing reads only the small conversation records (no message bodies); a conversation's
// messages are one range read on "bySeq", in order, and its Blobs one read on "byConversation"
// (an attachment whose Blob is gone reads back with `dropped: true`). Messages are keyed by
// their own (globally unique) id, so a write is an upsert: a retried or repeated write never
// duplicates, and when two tabs write the same message the last writer wins. `seq` is allocated
// from the conversation's `nextSeq` inside the same readwrite transaction, which IndexedDB
// serializes across tabs.
// `version` grows with every write to a conversation (sync.js announces it to other tabs); a new
// record starts at Date.now() * 1000, so an id deleted and created again never repeats a version.
//
// Streaming rule (cheap writes): append the user message and a model placeholder
// ({role: "model", text: "", state: "streaming"}) when sending, then call updateMessage ONCE when
// the answer settles (done / stopped / error) — never per delta. A placeholder that no tab settled
// (the tab was closed) reads as "stopped" once it is STALE_STREAM_MS old; an empty one can be
// dropped with truncate(conversationId, placeholderId).
//
// Attachments degrade rather than fail: a write whose Blobs do not fit on the device is done
// again without them (the text is saved); a result says what was dropped (`attachmentsDropped`).
//
// Every failed write rejects: HistoryFullError when the browser is out of space, HistoryError
// (not_found | conflict | invalid | closed | unsupported), or the browser's own error. Nothing is
// swallowed, and a failed call changes nothing (one transaction per call, aborted on failure).
//
// Alongside: schema.js (names, migrations, records, checks, the upsert, the write transaction),
// attachments.js (the Blobs and their total), search.js (history.search), storage.js (usage,
// persistOnce), undo.js (remove / restore); session.js uses all of this.

import { ATTACHMENT_STORE_BYTES, blobsOf, blobsOfMessages, deleteBlobsOf, keepingBlobs, putMessage, written } from "./attachments.js";
import { HistoryError, writeError } from "./errors.js";
import { DB_VERSION, STORES, checkId, checkMessage, checkPatch, dbNameFor, invalid, messageNotFound, messagesOf, newConversation, notFound } from "./schema.js";
import { inWriteTransaction, publicMessage, requestAll, summary, touch, upgrade, upsertMessage } from "./schema.js";
import { createSearch } from "./search.js";
import { createPersistOnce, storageUsage } from "./storage.js";
import { MAX_TITLE_CHARS, clip, newId, oneLine, previewOf } from "./text.js";
import { createUndo } from "./undo.js";

export { DB_PREFIX, DB_VERSION, STALE_STREAM_MS, dbNameFor, messagesOf, publicMessage, requestAll, summary, upgrade } from "./schema.js";
export { ATTACHMENT_STORE_BYTES } from "./attachments.js";
export { SEARCH_CACHE_CHARS } from "./search.js";

/**
 * Open the history of user `uid`.
 * @param {string} uid
 * @param {{onCommit?: (change: object) => void, onClose?: (reason: "upgrade"|"terminated") => void,
 *          attachmentBytes?: number}} [options]
 *   onCommit: called (in a microtask, after the transaction committed) with the change to
 *   announce to other tabs — pass sync.js's `announce`. onClose: this connection was closed
 *   (a newer version opened in another tab, or the browser dropped the database).
 *   attachmentBytes: the total kept for attachments (ATTACHMENT_STORE_BYTES; smaller in tests).
 */
export async function openHistory(uid, { onCommit, onClose, attachmentBytes = ATTACHMENT_STORE_BYTES } = {}) {
  if (typeof indexedDB === "undefined") {
    throw new HistoryError("unsupported", "This browser can't keep history on this device (IndexedDB is unavailable).");
  }
  const name = await dbNameFor(uid);
  const { openDB } = await import("idb");
  let closed = false;
  let db;
  try {
    db = await openDB(name, DB_VERSION, {
      upgrade,
      blocking() {
        closed = true;
        db?.close();
        onClose?.("upgrade");
      },
      terminated() {
        closed = true;
        onClose?.("terminated");
      },
    });
  } catch (error) {
    const mapped = writeError(error);
    if (mapped !== error) throw mapped;
    throw new HistoryError("unsupported", "This browser can't keep history on this device (IndexedDB could not be opened).", { cause: error });
  }

  const live = () => {
    if (closed) throw new HistoryError("closed", "History was updated in another tab. Reload this page to keep using it.");
    return db;
  };
  const announce = (change) => {
    if (onCommit) queueMicrotask(() => onCommit(change));
  };

  /** Run `fn(tx)` in one readwrite transaction over all stores; abort it on any failure. */
  const write = (fn) => inWriteTransaction(() => live().transaction(STORES, "readwrite"), fn);

  /** Run `fn(tx)` in one readonly transaction over all stores. */
  const read = (fn) => fn(live().transaction(STORES, "readonly"));

  /** write() for a write that may store Blobs (attachments.js): `fn(tx, keeper)`. */
  const writeKeeping = (fn) => keepingBlobs(write, fn, attachmentBytes);

  async function changeConversation(id, fn) {
    const { conv, result } = await writeKeeping(async (tx, keeper) => {
      const store = tx.objectStore("conversations");
      const record = await store.get(checkId(id, "conversation"));
      if (!record) throw notFound();
      const value = await fn(tx, record, keeper);
      await store.put(record);
      return { conv: record, result: value };
    });
    announce({ type: "changed", conversationId: conv.id, version: conv.version });
    return result;
  }

  async function listConversations({ limit } = {}) {
    const index = live().transaction("conversations").store.index("updatedAt");
    if (!limit) return (await index.getAll()).reverse().map(summary);
    const out = [];
    for (let cursor = await index.openCursor(null, "prev"); cursor && out.length < limit; cursor = await cursor.continue()) {
      out.push(summary(cursor.value));
    }
    return out;
  }

  const history = {
    name,
    /** Conversations, newest activity first (no message bodies). */
    listConversations,

    /** Number of conversations. */
    count: async () => live().count("conversations"),

    /** A conversation with its messages in order (attachments with their Blobs), or null. */
    async getConversation(id) {
      const [conv, messages, blobs] = await read((tx) =>
        Promise.all([tx.objectStore("conversations").get(id), tx.objectStore("messages").index("bySeq").getAll(messagesOf(id)), blobsOf(tx, id)]),
      );
      if (!conv) return null;
      const now = Date.now();
      return { ...summary(conv), messages: messages.map((m) => publicMessage(m, now, blobs)) };
    },

    /** A new conversation (optionally with a title and first messages); returns it with its messages. */
    async createConversation({ id, title, messages = [] } = {}) {
      const conversationId = id === undefined ? newId() : checkId(id, "conversation");
      if (title !== undefined && (typeof title !== "string" || !oneLine(title))) throw invalid("empty title");
      if (!Array.isArray(messages)) throw invalid("messages must be a list");
      messages.forEach(checkMessage);
      const now = Date.now();
      const { conv, result } = await writeKeeping(async (tx, keeper) => {
        const store = tx.objectStore("conversations");
        if (await store.get(conversationId)) throw new HistoryError("conflict", "Can't save to history: this conversation already exists.");
        const conv = newConversation(conversationId, title === undefined ? undefined : clip(oneLine(title), MAX_TITLE_CHARS), now);
        const records = [];
        for (const message of messages) records.push(await putMessage(tx, conv, message, now, keeper));
        await store.put(conv);
        return { conv, result: await written(tx, records, keeper, now) };
      });
      announce({ type: "changed", conversationId, version: conv.version });
      return { ...summary(conv), ...result };
    },

    /**
     * Add a message at the end (or, if `message.id` is already in this conversation, update it in
     * place; its attachments, when given, replace the earlier ones). Returns {message,
     * conversation, attachmentsDropped?}.
     */
    async appendMessage(conversationId, message) {
      checkMessage(message);
      return changeConversation(conversationId, async (tx, conv, keeper) => {
        const now = touch(conv);
        const record = await putMessage(tx, conv, message, now, keeper);
        const { messages: [shown], ...rest } = await written(tx, [record], keeper, now);
        return { message: shown, conversation: summary(conv), ...rest };
      });
    },

    /** Change a stored message's text/state/finishReason (the settle write of a streamed answer). */
    async updateMessage(conversationId, messageId, patch) {
      checkPatch(patch);
      checkId(messageId, "message");
      return changeConversation(conversationId, async (tx, conv) => {
        const existing = await tx.objectStore("messages").get(messageId);
        if (!existing || existing.conversationId !== conv.id) throw messageNotFound();
        const now = touch(conv);
        const { text, state, finishReason } = patch;
        const record = await upsertMessage(tx, conv, { id: messageId, text, state, finishReason }, now);
        return { message: publicMessage(record, now, await blobsOfMessages(tx, [record])), conversation: summary(conv) };
      });
    },

    /** Remove message `fromMessageId` and every later one (edit, regenerate, an empty answer). */
    async truncate(conversationId, fromMessageId) {
      checkId(fromMessageId, "message");
      return changeConversation(conversationId, async (tx, conv) => {
        const messages = tx.objectStore("messages");
        const from = await messages.get(fromMessageId);
        if (!from || from.conversationId !== conv.id) throw messageNotFound();
        const index = messages.index("bySeq");
        const keys = await index.getAllKeys(messagesOf(conv.id, from.seq));
        await requestAll(keys, (key) => messages.delete(key));
        await deleteBlobsOf(tx, keys);
        conv.messageCount -= keys.length;
        let cursor = await index.openCursor(messagesOf(conv.id), "prev");
        while (cursor && !cursor.value.text.trim()) cursor = await cursor.continue();
        conv.preview = cursor ? previewOf(cursor.value.text) : "";
        if (!conv.titled && conv.messageCount === 0) conv.title = "";
        touch(conv);
        return summary(conv);
      });
    },

    /** Set a title chosen by the user (one line, at most 200 characters). Keeps the list order. */
    async rename(id, title) {
      if (typeof title !== "string" || !oneLine(title)) throw invalid("empty title");
      return changeConversation(id, async (_tx, conv) => {
        conv.title = clip(oneLine(title), MAX_TITLE_CHARS);
        conv.titled = true;
        touch(conv, { activity: false });
        return summary(conv);
      });
    },

    /** remove(id) -> an undo token, and restore(token): delete with undo (undo.js). */
    ...createUndo({ write, writeKeeping, announce }),

    /** Delete every conversation of this user on this device. Returns how many there were. */
    async removeAll() {
      const removed = await write(async (tx) => {
        const n = await tx.objectStore("conversations").count();
        await tx.objectStore("conversations").clear();
        await tx.objectStore("messages").clear();
        await tx.objectStore("attachments").clear();
        return n;
      });
      announce({ type: "cleared" });
      return removed;
    },

    /** {usage, quota} in bytes (navigator.storage.estimate()), or null where unavailable. */
    usage: storageUsage,

    /** Close this connection (sign-out). */
    close() {
      closed = true;
      db.close();
    },

    /** Delete all of it (removeAll), close, and delete the database itself (sign-out, when asked). */
    async destroy() {
      await history.removeAll();
      history.close();
      try {
        indexedDB.deleteDatabase(name); // completes once other tabs closed theirs (they do, on "blocking")
      } catch {
        // the database is empty already
      }
    },

    /** For transfer.js: one readonly / readwrite transaction over all stores (see write()). */
    read,
    write,
    announce,
  };
  /** search(query, {limit}) — title and text, newest first (search.js). */
  history.search = createSearch(history);
  /** persistOnce() — ask for persistent storage once history holds data (storage.js). */
  history.persistOnce = createPersistOnce(history.count);
  return history;
}
