// Search across one user's history: titles and message text, case- and accent-insensitive
// (text.js's fold). Part of the history object (db.js: history.search).
//
// At most one pass over the text, read in transactions of SEARCH_BATCH conversations, stopping
// once `limit` are found. The folded text is kept in memory per conversation version (up to
// SEARCH_CACHE_CHARS), so the next keystroke's search reads no message bodies at all.

import { messagesOf, requestAll } from "./schema.js";
import { fold, oneLine, snippet } from "./text.js";

const SEARCH_BATCH = 50;
/** Folded text kept in memory for search: ~20 MB at most (UTF-16). */
export const SEARCH_CACHE_CHARS = 10_000_000;

/**
 * The search function of one open history.
 * @param {{listConversations: () => Promise<object[]>, read: (fn: (tx) => any) => any}} history
 * @returns {(query: string, options?: {limit?: number}) => Promise<object[]>}
 *   conversations whose title or any message contains `query`, newest first, at most `limit`:
 *   [{...summary, match: "title"|"text", messageId?, snippet}]
 */
export function createSearch({ listConversations, read }) {
  const cache = new Map(); // conversation id -> {version, ids, folded, chars}
  let cachedChars = 0;
  function forget(id, entry) {
    cache.delete(id);
    cachedChars -= entry.chars;
  }
  function remember(id, entry) {
    const old = cache.get(id);
    if (old) forget(id, old);
    if (cachedChars + entry.chars > SEARCH_CACHE_CHARS) return;
    cache.set(id, entry);
    cachedChars += entry.chars;
  }

  /** Read (and cache) the folded text of `missing` conversations: id -> entry. */
  async function readBodies(missing, originals) {
    const fresh = new Map();
    if (!missing.length) return fresh;
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
    return fresh;
  }

  return async function search(query, { limit = 50 } = {}) {
    const q = fold(oneLine(query ?? ""));
    if (!q) return [];
    const all = await listConversations();
    const ids = new Set(all.map((c) => c.id));
    for (const [id, entry] of cache) if (!ids.has(id)) forget(id, entry);
    const found = [];
    for (let i = 0; i < all.length && found.length < limit; i += SEARCH_BATCH) {
      const batch = all.slice(i, i + SEARCH_BATCH);
      const titled = new Set(batch.filter((c) => fold(c.title).includes(q)).map((c) => c.id));
      const missing = batch.filter((c) => !titled.has(c.id) && cache.get(c.id)?.version !== c.version);
      const originals = new Map();
      const fresh = await readBodies(missing, originals);
      const hits = [];
      for (const c of batch) {
        if (found.length + hits.length >= limit) break;
        if (titled.has(c.id)) {
          hits.push({ ...c, match: "title", snippet: c.title });
          continue;
        }
        const entry = fresh.get(c.id) ?? cache.get(c.id);
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
  };
}
