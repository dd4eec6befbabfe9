// Delete with undo (db.js's remove and restore): remove() takes a conversation, its messages
// and its Blobs out of the database in one transaction and keeps them only in the token it
// returns, in memory (a WeakMap: a token let go is data gone); restore() puts them back once.

import { storeBlobs, takeBlobsOf } from "./attachments.js";
import { HistoryError } from "./errors.js";
import { messagesOf, requestAll, summary, touch } from "./schema.js";
import { newId } from "./text.js";

/**
 * remove(id) and restore(token), over db.js's transactions.
 * @param {{write: Function, writeKeeping: Function, announce: (change: object) => void}} db
 *   write / writeKeeping: one readwrite transaction (the second one storing Blobs); announce: tell
 *   other tabs after the commit
 */
export function createUndo({ write, writeKeeping, announce }) {
  const undo = new WeakMap();
  return {
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
        const blobs = await takeBlobsOf(tx, id);
        await conversations.delete(id);
        return { conv, messages: bodies, blobs };
      });
      if (!snapshot) return null;
      const token = Object.freeze({ conversationId: id, title: snapshot.conv.title });
      undo.set(token, snapshot);
      announce({ type: "removed", conversationId: id });
      return token;
    },

    /**
     * Undo a remove(); returns the conversation summary, or null when the token was used already.
     * Its Blobs come back within the total like any others (the oldest may stay out).
     */
    async restore(token) {
      const snapshot = undo.get(token);
      if (!snapshot) return null;
      let conv;
      await writeKeeping(async (tx, keeper) => {
        conv = { ...snapshot.conv };
        const conversations = tx.objectStore("conversations");
        if (await conversations.get(conv.id)) throw new HistoryError("conflict", "This conversation is already back in your history.");
        const messages = tx.objectStore("messages");
        const ids = new Map();
        for (const m of snapshot.messages) {
          const taken = await messages.get(m.id);
          ids.set(m.id, taken ? newId() : m.id);
          await messages.put({ ...m, id: ids.get(m.id) });
        }
        await storeBlobs(tx, snapshot.blobs.map((b) => ({ ...b, messageId: ids.get(b.messageId) })), keeper);
        touch(conv, { activity: false });
        await conversations.put(conv);
      });
      undo.delete(token);
      announce({ type: "changed", conversationId: conv.id, version: conv.version });
      return summary(conv);
    },
  };
}
