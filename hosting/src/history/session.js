// The signed-in user's history as the page uses it. This file and queue.js are in the first load
// and small; the database code (index.js: db.js, sync.js, search.js, idb) is imported only once
// someone is signed in with history on, and transfer.js only for an export or import.
//
// State it writes: `historyStatus` ("off" | "loading" | "ready" | "unavailable"), `historyError`
// (why unavailable), `conversations` (the list, newest first, or null), `conversationId` (the
// conversation on screen, once it is in history; null for a new or memory-only chat). It also
// replaces `messages` when a conversation is opened, or changed / deleted in another tab.
//
// chat.js records through sent() (the question and an empty answer placeholder, or a new
// conversation), then settle() once when the answer ends, or discard() when nothing came — never
// per streamed word. A user message's attachments are stored with it, Blobs and all; when some
// could not be kept on this device (the total for attachments, or a full device) one notice says
// so, and the page keeps the bytes it holds until it is closed. Every database call of a
// session runs in one queue (queue.js), in order: a reload after another tab's change runs after
// this tab's own pending writes, so it never brings back what this tab just removed, nor an
// answer this tab just finished.
//
// sessionStorage keeps one thing: the id of this tab's open conversation (no content), so a
// reload shows it again.

import { closeWhenIdle, noop, task, unavailable } from "./queue.js";

const OPEN_KEY = "jette.open";
const NOOP_HANDLE = Object.freeze({ settle() {}, discard() {} });

/** This tab's open conversation id: read (no argument), or write (`null` forgets it). */
function openId(...id) {
  try {
    const tab = globalThis.sessionStorage;
    if (!id.length) return tab?.getItem(OPEN_KEY) || null;
    if (id[0]) tab?.setItem(OPEN_KEY, id[0]);
    else tab?.removeItem(OPEN_KEY);
  } catch {
    // storage disabled: a reload starts with a new chat
  }
  return null;
}

/**
 * @param {{get, set, subscribe}} store
 * @param {{stop?: () => void, notify?: (notice: {code: string, message: string}) => void}} hooks
 *   stop: stop a streaming answer (chat.stop); notify: show a notice (the banner)
 */
export function createHistory(store, { stop = noop, notify = noop } = {}) {
  let session = null;
  let wanted = null;
  let reopen = openId();
  let shownId = store.get().conversationId ?? null;

  store.subscribe((state) => {
    const uid = (state.historyOn && state.user?.uid) || null;
    if (uid !== wanted) {
      wanted = uid;
      queueMicrotask(reconcile); // never set() from inside another set()'s notification
    }
    if (state.conversationId !== shownId) {
      shownId = state.conversationId;
      openId(shownId);
    }
  });

  function reconcile() {
    if ((session?.uid ?? null) === wanted) return;
    if (session) end(session);
    session = null;
    store.set({ historyStatus: wanted ? "loading" : "off", historyError: null, conversations: null, conversationId: null });
    if (wanted) session = start(wanted);
  }

  function start(uid) {
    const s = { uid, history: null, sync: null, lib: null, closed: false, shut: false, wiped: false, handles: 0, outstanding: 0, pendingIds: new Set(), readVersion: 0 };
    s.ready = (async () => {
      const lib = await import("./index.js");
      const history = await lib.openHistory(uid, {
        onCommit: (change) => s.sync?.announce(change),
        onClose: () => lost(s),
      });
      if (s.closed) {
        history.close();
        return;
      }
      Object.assign(s, { lib, history, sync: lib.connect(history.name, (change) => remote(s, change)) });
    })().catch((error) => {
      if (session === s) store.set({ historyStatus: "unavailable", historyError: error?.message || String(error) });
    });
    s.queue = s.ready;
    s.ready.then(() => {
      if (!s.history || session !== s) return;
      store.set({ historyStatus: "ready" });
      refresh(s);
      const id = reopen;
      reopen = null;
      const state = store.get();
      if (id && !state.conversationId && !state.messages.length) open(id, { quiet: true });
    });
    return s;
  }

  /** The connection was closed under us (another tab deleted or upgraded the database). */
  function lost(s) {
    s.shut = true;
    if (session !== s || s.wiped) return;
    store.set({ historyStatus: "unavailable", historyError: "History was changed in another tab. Reload this page to keep using it." });
  }

  function end(s) {
    s.closed = true;
    closeWhenIdle(s);
  }

  /** A write of the conversation: its failure is told (never silent), except when moot. */
  function record(s, fn) {
    return task(store, s, fn, true).catch((error) => {
      if (error?.code === "unavailable" || error?.code === "not_found" || s.wiped) return;
      if (error?.code === "history_full") notify({ code: "history_full", message: error.message });
      else notify({ code: "history_error", message: `This wasn't saved to your history on this device: ${error?.message || error}` });
    });
  }

  /** Re-read the list (coalesced: at most one read in flight, one more queued). */
  function refresh(s) {
    if (s.listing) {
      s.relist = true;
      return;
    }
    s.listing = task(store, s, (h) => h.listConversations())
      .then((list) => {
        if (session === s && !s.closed) store.set({ conversations: list });
      }, noop)
      .finally(() => {
        s.listing = null;
        if (s.relist) {
          s.relist = false;
          refresh(s);
        }
      });
  }

  /** Another tab changed this user's history (sync.js notice). */
  function remote(s, change) {
    if (s.closed || session !== s) return;
    refresh(s);
    const { conversationId, messages } = store.get();
    if (!conversationId) return;
    if (change.type === "changed" && change.conversationId === conversationId) {
      if (s.lib.isNewer(change, s.readVersion)) reload(s, conversationId);
    } else if (change.type === "cleared" || (change.type === "removed" && change.conversationId === conversationId)) {
      stop();
      store.set({ messages: [], conversationId: null, editingId: null });
      if (messages.length) notify({ code: "history_removed", message: "This conversation was deleted in another tab." });
    }
  }

  /** Show the stored version of the open conversation, keeping what this tab has not written yet. */
  function reload(s, id) {
    if (s.reloading) return;
    s.reloading = true;
    task(store, s, async (h) => {
      s.reloading = false;
      if (s.outstanding > 0) return reload(s, id); // this tab's own writes first
      const stored = await h.getConversation(id);
      const state = store.get();
      if (!stored || session !== s || state.conversationId !== id) return;
      s.readVersion = stored.version;
      // Streaming here means this tab's own answer; another tab's placeholder is re-read.
      const own = state.messages.filter((m) => m.state !== "streaming" || s.pendingIds.has(m.id));
      const merged = s.lib.mergeMessages(stored.messages, own, s.pendingIds);
      store.set({ messages: s.lib.keepShown(merged, state.messages) });
    }).catch(() => {
      s.reloading = false;
    });
  }

  /**
   * chat.js sent `user` after `before` (a cut conversation when `cutFrom`, the id of the first
   * message removed, is set), with `model` the empty answer placeholder. Returns the answer's
   * handle: settle({text, state, finishReason}) once it ends, or discard() when nothing came.
   */
  function sent({ before, cutFrom = null, user, model }) {
    const s = session;
    if (!s || s.closed || store.get().historyStatus === "unavailable") return NOOP_HANDLE;
    let id = store.get().conversationId;
    const fresh = !id;
    if (fresh) {
      id = globalThis.crypto.randomUUID();
      store.set({ conversationId: id });
      s.readVersion = 0;
    }
    for (const m of [user, model]) s.pendingIds.add(m.id);
    s.handles += 1;
    record(s, async (h) => {
      let saved;
      if (fresh) {
        saved = await h.createConversation({ id, messages: [...before, user, model].map((m) => s.lib.storedForm(m, model)) });
      } else {
        if (cutFrom) await h.truncate(id, cutFrom).catch((e) => e?.code === "not_found" || Promise.reject(e));
        saved = await h.appendMessage(id, s.lib.storedForm(user));
        await h.appendMessage(id, s.lib.storedForm(model, model));
      }
      const notice = s.lib.attachmentNotice(saved.attachmentsDropped);
      if (notice) notify(notice);
      h.persistOnce().catch(noop); // once history holds data, after this user action
    }).then(() => {
      s.pendingIds.delete(user.id);
      refresh(s);
    });
    let finished = false;
    const finish = (fn) => {
      if (finished) return;
      finished = true;
      record(s, fn).then(() => {
        s.pendingIds.delete(model.id);
        s.handles -= 1;
        closeWhenIdle(s);
        if (!s.closed) refresh(s);
      });
    };
    return {
      settle: ({ text, state, finishReason }) => finish((h) => h.updateMessage(id, model.id, { text, state, ...(finishReason && { finishReason }) })),
      discard: () => finish((h) => h.truncate(id, model.id)),
    };
  }

  /** chat.js cut the open conversation before message `fromId` (edit / regenerate, nothing sent). */
  function cut(fromId) {
    const s = session;
    const id = store.get().conversationId;
    if (s && !s.closed && id && fromId) record(s, (h) => h.truncate(id, fromId)).then(() => refresh(s));
  }

  /** Show conversation `id` (the caller stops a streaming answer first). Resolves true if shown. */
  async function open(id, { quiet = false } = {}) {
    const s = session;
    if (!s) return false;
    let stored = null;
    try {
      stored = await task(store, s, (h) => h.getConversation(id));
    } catch (error) {
      if (!quiet) notify({ code: "history_error", message: error?.message || String(error) });
      return false;
    }
    if (session !== s) return false;
    if (!stored) {
      if (!quiet) notify({ code: "history_removed", message: "This conversation is no longer in your history (it was deleted, perhaps in another tab)." });
      refresh(s);
      return false;
    }
    s.readVersion = stored.version;
    store.set({ conversationId: id, messages: stored.messages, owner: s.uid, editingId: null });
    return true;
  }

  /** Run a user's action on the history (rename, delete, …): rejects with a message to show. */
  function act(fn, write = true) {
    const s = session;
    if (!s || s.closed) return Promise.reject(unavailable(store.get().historyError));
    return task(store, s, fn, write).finally(() => write && refresh(s));
  }

  const transfer = () => import("./transfer.js");

  return {
    sent,
    cut,
    open,
    rename: (id, title) => act((h) => h.rename(id, title)),
    /** Delete one conversation; resolves to the undo token (for restore), or null. */
    remove: (id) => act((h) => h.remove(id)),
    restore: (token) => act((h) => h.restore(token)),
    removeAll: () => act((h) => h.removeAll()),
    search: (query, options) => act((h) => h.search(query, options), false),
    /** The whole history as the JSON export, {name, text}; one conversation as Markdown (or null). */
    exportJson: async () => act((await transfer()).exportFile, false),
    exportMarkdown: async (id) => act((await transfer()).markdownFile.bind(null, id), false),
    /** Validate and import an export file: {added, copied, skipped}; ImportError when refused. */
    async importFile(file) {
      const { importAll, readImportFile } = await transfer();
      const parsed = await readImportFile(file); // before the queue: a refused file touches nothing
      const counts = await act((h) => importAll(h, parsed));
      act((h) => h.persistOnce(), false).catch(noop);
      return counts;
    },
    /** Delete this user's conversations on this device (sign-out); rejects if that failed. */
    async deleteDevice() {
      const s = session;
      if (!s) return;
      await s.ready;
      if (!s.history) throw unavailable(store.get().historyError);
      stop();
      await task(store, s, (h) => h.destroy(), true);
      Object.assign(s, { wiped: true, closed: true, shut: true }); // a stopped answer's settle, still to come, is not written
      s.sync.close();
      if (session === s) store.set({ conversations: [], conversationId: null });
    },
  };
}
