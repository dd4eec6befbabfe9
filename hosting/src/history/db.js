// On-device conversation history (issue #9): IndexedDB through `idb`, loaded lazily.
//
// One database per signed-in user: `jette-history-<first 32 hex of SHA-256(uid)>` — the raw uid
// appears in no database name, key or record. Schema (version 1):
//   conversations  keyPath "id"; index "updatedAt"
//                  {id, title, titled, createdAt, updatedAt, messageCount, preview, nextSeq, version}
//   messages       keyPath "id"; unique index "bySeq" on [conversationId, seq]
//                  {id, conversationId, seq, role, text, state, finishReason?, createdAt, updatedAt}
// Listing reads only the small conversation records (no message bodies); a conversation's
// messages are one range read on "bySeq", in order. Messages are keyed by their own (globally
// unique) id, so a write is an upsert: a retried or repeated write never duplicates, and when two
// tabs write the same message the last writer wins. `seq` is allocated from the conversation's
// `nextSeq` inside the same readwrite transaction, which IndexedDB serializes across tabs.
// `version` grows with every write to a conversation (sync.js announces it to other tabs); a new
// record starts at Date.now() * 1000, so an id deleted and created again never repeats a version.
//
// Streaming rule (cheap writes): append the user message and a model placeholder
// ({role: "model", text: "", state: "streaming"}) when sending, then call updateMessage ONCE when
// the answer settles (done / stopped / error) — never per delta. A placeholder that no tab settled
// (the tab was closed) reads as "stopped" once it is STALE_STREAM_MS old; an empty one can be
// dropped with truncate(conversationId, placeholderId).
//
// Every failed write rejects: HistoryFullError when the browser is out of space, HistoryError
// (not_found | conflict | invalid | closed | unsupported), or the browser's own error. Nothing is
// swallowed, and a failed call changes nothing (one transaction per call, aborted on failure).

import { HistoryError, writeError } from "./errors.js";
import { ID_PATTERN, MAX_TITLE_CHARS, autoTitle, clip, fold, newId, oneLine, previewOf, snippet } from "./text.js";

export const DB_PREFIX = "jette-history-";
export const DB_VERSION = 1;
export const STALE_STREAM_MS = 5 * 60 * 1000;
const ROLES = ["user", "model"];
const STATES = ["streaming", "done", "stopped", "error"];
const SEARCH_BATCH = 50;
/** Folded text kept in memory for search: ~20 MB at most (UTF-16). */
export const SEARCH_CACHE_CHARS = 10_000_000;
const BOTH = ["conversations", "messages"];

/** The database name of a user: never contains the uid itself. */
export async function dbNameFor(uid) {
  if (typeof uid !== "string" || uid === "" || uid.length > 128) {
    throw new HistoryError("invalid", "History is kept only for a signed-in account.");
  }
  const digest = await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(uid));
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${DB_PREFIX}${hex.slice(0, 32)}`;
}

/** Schema migrations, one step per version (called by openDB with the old version). */
export function upgrade(db, oldVersion) {
  if (oldVersion < 1) {
    db.createObjectStore("conversations", { keyPath: "id" }).createIndex("updatedAt", "updatedAt");
    db.createObjectStore("messages", { keyPath: "id" }).createIndex("bySeq", ["conversationId", "seq"], { unique: true });
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

/** A message record as callers see it (the Message shape of conversation.js, plus times). */
export function publicMessage(m, now = Date.now()) {
  const stale = m.state === "streaming" && now - m.updatedAt > STALE_STREAM_MS;
  const out = { id: m.id, role: m.role, text: m.text, state: stale ? "stopped" : m.state, createdAt: m.createdAt, updatedAt: m.updatedAt };
  if (m.finishReason) out.finishReason = m.finishReason;
  return out;
}

const invalid = (what) => new HistoryError("invalid", `Can't save to history: ${what}.`);
const notFound = () => new HistoryError("not_found", "This conversation is no longer in your history (it was deleted, perhaps in another tab).");

function checkId(id, what) {
  if (typeof id !== "string" || !ID_PATTERN.test(id)) throw invalid(`bad ${what} id`);
  return id;
}

function checkPatch(patch) {
  if (!patch || typeof patch !== "object") throw invalid("no message");
  if (patch.text !== undefined && typeof patch.text !== "string") throw invalid("message text must be a string");
  if (patch.state !== undefined && !STATES.includes(patch.state)) throw invalid("unknown message state");
  if (patch.finishReason !== undefined && (typeof patch.finishReason !== "string" || patch.finishReason.length > 64)) throw invalid("bad finishReason");
  return patch;
}

function checkMessage(message) {
  checkPatch(message);
  if (!ROLES.includes(message.role)) throw invalid('role must be "user" or "model"');
  if (typeof message.text !== "string") throw invalid("message text must be a string");
  if (message.id !== undefined) checkId(message.id, "message");
  return message;
}

/**
 * Write `input` (new or, by id, existing) into `conv` inside transaction `tx`; updates the
 * conversation record in memory (count, title, preview), not in the store.
 */
async function upsertMessage(tx, conv, input, now) {
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
  if (!existing) {
    conv.nextSeq += 1;
    conv.messageCount += 1;
  }
  await messages.put(record);
  if (!conv.titled && !conv.title && record.role === "user" && record.text.trim()) conv.title = autoTitle(record.text);
  if (record.seq === conv.nextSeq - 1 && record.text.trim()) conv.preview = previewOf(record.text);
  return record;
}

function touch(conv, { activity = true } = {}) {
  const now = Math.max(Date.now(), conv.updatedAt);
  if (activity) conv.updatedAt = now;
  conv.version += 1;
  return now;
}

/**
 * Open the history of user `uid`.
 * @param {string} uid
 * @param {{onCommit?: (change: object) => void, onClose?: (reason: "upgrade"|"terminated") => void}} [options]
 *   onCommit: called (in a microtask, after the transaction committed) with the change to
 *   announce to other tabs — pass sync.js's `announce`. onClose: this connection was closed
 *   (a newer version opened in another tab, or the browser dropped the database).
 */
export async function openHistory(uid, { onCommit, onClose } = {}) {
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

  /** Run `fn(tx)` in one readwrite transaction over both stores; abort it on any failure. */
  async function write(fn) {
    let tx;
    try {
      tx = live().transaction(BOTH, "readwrite");
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

  /** Run `fn(tx)` in one readonly transaction over both stores. */
  const read = (fn) => fn(live().transaction(BOTH, "readonly"));

  async function changeConversation(id, fn) {
    const { conv, result } = await write(async (tx) => {
      const store = tx.objectStore("conversations");
      const record = await store.get(checkId(id, "conversation"));
      if (!record) throw notFound();
      const value = await fn(tx, record);
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

    /** A conversation with its messages in order, or null. */
    async getConversation(id) {
      const [conv, messages] = await read((tx) =>
        Promise.all([tx.objectStore("conversations").get(id), tx.objectStore("messages").index("bySeq").getAll(messagesOf(id))]),
      );
      if (!conv) return null;
      const now = Date.now();
      return { ...summary(conv), messages: messages.map((m) => publicMessage(m, now)) };
    },

    /** A new conversation (optionally with a title and first messages); returns it with its messages. */
    async createConversation({ id, title, messages = [] } = {}) {
      const conversationId = id === undefined ? newId() : checkId(id, "conversation");
      if (title !== undefined && (typeof title !== "string" || !oneLine(title))) throw invalid("empty title");
      if (!Array.isArray(messages)) throw invalid("messages must be a list");
      messages.forEach(checkMessage);
      const now = Date.now();
      const conv = {
        id: conversationId,
        title: title === undefined ? "" : clip(oneLine(title), MAX_TITLE_CHARS),
        titled: title !== undefined,
        createdAt: now,
        updatedAt: now,
        messageCount: 0,
        preview: "",
        nextSeq: 0,
        version: now * 1000,
      };
      const records = await write(async (tx) => {
        const store = tx.objectStore("conversations");
        if (await store.get(conversationId)) throw new HistoryError("conflict", "Can't save to history: this conversation already exists.");
        const out = [];
        for (const message of messages) out.push(await upsertMessage(tx, conv, message, now));
        await store.put(conv);
        return out;
      });
      announce({ type: "changed", conversationId, version: conv.version });
      return { ...summary(conv), messages: records.map((m) => publicMessage(m, now)) };
    },

    /**
     * Add a message at the end (or, if `message.id` is already in this conversation, update it in
     * place). Returns {message, conversation}.
     */
    async appendMessage(conversationId, message) {
      checkMessage(message);
      return changeConversation(conversationId, async (tx, conv) => {
        const now = touch(conv);
        const record = await upsertMessage(tx, conv, message, now);
        return { message: publicMessage(record, now), conversation: summary(conv) };
      });
    },

    /** Change a stored message's text/state/finishReason (the settle write of a streamed answer). */
    async updateMessage(conversationId, messageId, patch) {
      checkPatch(patch);
      checkId(messageId, "message");
      return changeConversation(conversationId, async (tx, conv) => {
        const existing = await tx.objectStore("messages").get(messageId);
        if (!existing || existing.conversationId !== conv.id) throw new HistoryError("not_found", "This message is no longer in your history.");
        const now = touch(conv);
        const { text, state, finishReason } = patch;
        const record = await upsertMessage(tx, conv, { id: messageId, text, state, finishReason }, now);
        return { message: publicMessage(record, now), conversation: summary(conv) };
      });
    },

    /** Remove message `fromMessageId` and every later one (edit, regenerate, an empty answer). */
    async truncate(conversationId, fromMessageId) {
      checkId(fromMessageId, "message");
      return changeConversation(conversationId, async (tx, conv) => {
        const messages = tx.objectStore("messages");
        const from = await messages.get(fromMessageId);
        if (!from || from.conversationId !== conv.id) throw new HistoryError("not_found", "This message is no longer in your history.");
        const index = messages.index("bySeq");
        const keys = await index.getAllKeys(messagesOf(conv.id, from.seq));
        await requestAll(keys, (key) => messages.delete(key));
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

    /**
     * Delete one conversation. Returns an undo token for restore() (null if it did not exist);
     * the deleted data lives only in that token, in memory.
     */
    async remove(id) {
      const snapshot = await write(async (tx) => {
        const conversations = tx.objectStore("conversations");
        const conv = await conversations.get(id);
        if (!conv) return null;
        const messages = tx.objectStore("messages");
        const bodies = await messages.index("bySeq").getAll(messagesOf(id));
        await requestAll(bodies, (m) => messages.delete(m.id));
        await conversations.delete(id);
        return { conv, messages: bodies };
      });
      if (!snapshot) return null;
      const token = Object.freeze({ conversationId: id, title: snapshot.conv.title });
      undo.set(token, snapshot);
      announce({ type: "removed", conversationId: id });
      return token;
    },

    /** Undo a remove(); returns the conversation summary, or null when the token was used already. */
    async restore(token) {
      const snapshot = undo.get(token);
      if (!snapshot) return null;
      const conv = { ...snapshot.conv };
      await write(async (tx) => {
        const conversations = tx.objectStore("conversations");
        if (await conversations.get(conv.id)) throw new HistoryError("conflict", "This conversation is already back in your history.");
        const messages = tx.objectStore("messages");
        for (const m of snapshot.messages) {
          const taken = await messages.get(m.id);
          await messages.put(taken ? { ...m, id: newId() } : m);
        }
        touch(conv, { activity: false });
        await conversations.put(conv);
      });
      undo.delete(token);
      announce({ type: "changed", conversationId: conv.id, version: conv.version });
      return summary(conv);
    },

    /** Delete every conversation of this user on this device. Returns how many there were. */
    async removeAll() {
      const removed = await write(async (tx) => {
        const n = await tx.objectStore("conversations").count();
        await tx.objectStore("conversations").clear();
        await tx.objectStore("messages").clear();
        return n;
      });
      announce({ type: "cleared" });
      return removed;
    },

    /**
     * Conversations whose title or any message contains `query` (case- and accent-insensitive),
     * newest first, at most `limit`: [{...summary, match: "title"|"text", messageId?, snippet}].
     * At most one pass over the text, read in transactions of 50 conversations, stopping once
     * `limit` are found. The folded text is kept in memory per conversation version (up to
     * SEARCH_CACHE_CHARS), so the next keystroke's search reads no message bodies at all.
     */
    async search(query, { limit = 50 } = {}) {
      const q = fold(oneLine(query ?? ""));
      if (!q) return [];
      const all = await listConversations();
      const ids = new Set(all.map((c) => c.id));
      for (const [id, entry] of searchCache) if (!ids.has(id)) forget(id, entry);
      const found = [];
      for (let i = 0; i < all.length && found.length < limit; i += SEARCH_BATCH) {
        const batch = all.slice(i, i + SEARCH_BATCH);
        const titled = new Set(batch.filter((c) => fold(c.title).includes(q)).map((c) => c.id));
        const missing = batch.filter((c) => !titled.has(c.id) && searchCache.get(c.id)?.version !== c.version);
        const originals = new Map();
        const fresh = new Map();
        if (missing.length) {
          const bodies = await read((tx) => {
            const index = tx.objectStore("messages").index("bySeq");
            return requestAll(missing, (c) => index.getAll(messagesOf(c.id)));
          });
          missing.forEach((c, k) => {
            for (const m of bodies[k]) originals.set(m.id, m.text);
            const entry = { version: c.version, ids: bodies[k].map((m) => m.id), folded: bodies[k].map((m) => fold(m.text)) };
            entry.chars = entry.folded.reduce((n, t) => n + t.length, 0);
            fresh.set(c.id, entry);
            remember(c.id, entry);
          });
        }
        const hits = [];
        for (const c of batch) {
          if (found.length + hits.length >= limit) break;
          if (titled.has(c.id)) {
            hits.push({ ...c, match: "title", snippet: c.title });
            continue;
          }
          const entry = fresh.get(c.id) ?? searchCache.get(c.id);
          const k = entry.folded.findIndex((t) => t.includes(q));
          if (k >= 0) hits.push({ ...c, match: "text", messageId: entry.ids[k] });
        }
        const unread = hits.filter((h) => h.messageId && !originals.has(h.messageId));
        if (unread.length) {
          const texts = await read((tx) => requestAll(unread, (h) => tx.objectStore("messages").get(h.messageId)));
          texts.forEach((m, k) => originals.set(unread[k].messageId, m?.text ?? ""));
        }
        for (const h of hits) if (h.messageId) h.snippet = snippet(originals.get(h.messageId), q);
        found.push(...hits);
      }
      return found;
    },

    /** {usage, quota} in bytes from navigator.storage.estimate(), or null where unavailable. */
    async usage() {
      const storage = globalThis.navigator?.storage;
      if (typeof storage?.estimate !== "function") return null;
      const { usage = 0, quota = 0 } = await storage.estimate();
      return { usage, quota };
    },

    /**
     * Ask for persistent storage once history holds data (call after a write; cheap to repeat).
     * Resolves true/false (granted or not), or null (unavailable, or no data yet: asks later).
     */
    persistOnce() {
      if (persisting) return persisting;
      const storage = globalThis.navigator?.storage;
      if (typeof storage?.persist !== "function") return Promise.resolve(null);
      persisting = (async () => {
        if ((await history.count()) === 0) return null;
        if (typeof storage.persisted === "function" && (await storage.persisted())) return true;
        return storage.persist();
      })();
      persisting.then(
        (result) => {
          if (result === null) persisting = null;
        },
        () => {
          persisting = null;
        },
      );
      return persisting;
    },

    /** Close this connection (sign-out). */
    close() {
      closed = true;
      db.close();
    },

    /** For transfer.js: one readonly / readwrite transaction over both stores (see write()). */
    read,
    write,
    announce,
  };
  const undo = new WeakMap();
  let persisting = null;
  const searchCache = new Map(); // conversation id -> {version, ids, folded, chars}
  let cachedChars = 0;
  function forget(id, entry) {
    searchCache.delete(id);
    cachedChars -= entry.chars;
  }
  function remember(id, entry) {
    const old = searchCache.get(id);
    if (old) forget(id, old);
    if (cachedChars + entry.chars > SEARCH_CACHE_CHARS) return;
    searchCache.set(id, entry);
    cachedChars += entry.chars;
  }
  return history;
}
