// Tabs of one user stay consistent: after each committed write a tab posts a notice on a
// BroadcastChannel named `<dbName>:sync`; the other tabs re-read what changed from IndexedDB,
// which stays the only source of truth. Notices carry ids and versions, never content (no text,
// no attachment, no Blob: another tab reads those from IndexedDB), so a lost, repeated or
// reordered notice costs at most one extra read, never data.
//
// Protocol v1 (anything else on the channel is ignored):
//   {v: 1, type: "changed", conversationId, version}  re-read that conversation if `version` is
//                                                     newer than the one shown; refresh the list
//   {v: 1, type: "removed", conversationId}           drop it from the list (close it if open)
//   {v: 1, type: "cleared"}                           everything was deleted on this device
//   {v: 1, type: "imported"}                          many conversations changed: refresh the list
// Writes never conflict into loss or duplicates (see db.js): messages are upserted by their
// unique id (last writer wins per message) and `seq` is allocated inside the transaction.
// Where BroadcastChannel is missing, connect() returns a no-op (each tab still sees its own
// writes, and the others catch up on their next read).

import { ID_PATTERN } from "./text.js";

export const SYNC_PROTOCOL = 1;
const TYPES = ["changed", "removed", "cleared", "imported"];

/** A well-formed notice (a fresh object with known fields only), or null. */
export function parseChange(data) {
  if (!data || typeof data !== "object" || !TYPES.includes(data.type)) return null;
  if (data.v !== undefined && data.v !== SYNC_PROTOCOL) return null;
  const change = { v: SYNC_PROTOCOL, type: data.type };
  if (data.type === "changed" || data.type === "removed") {
    if (typeof data.conversationId !== "string" || !ID_PATTERN.test(data.conversationId)) return null;
    change.conversationId = data.conversationId;
  }
  if (data.type === "changed") {
    if (!Number.isSafeInteger(data.version) || data.version < 1) return null;
    change.version = data.version;
  }
  return change;
}

/**
 * Listen to the other tabs of the same user database.
 * @param {string} dbName  history.name
 * @param {(change: object) => void} onChange  called with each valid notice from another tab
 * @returns {{announce: (change: object) => void, close: () => void, supported: boolean}}
 *   announce: post a notice (pass it as openHistory's onCommit); invalid notices throw TypeError
 */
export function connect(dbName, onChange, { BroadcastChannel: Channel = globalThis.BroadcastChannel } = {}) {
  if (typeof Channel !== "function") return { announce() {}, close() {}, supported: false };
  let channel = new Channel(`${dbName}:sync`);
  channel.onmessage = (event) => {
    const change = parseChange(event.data);
    if (change) onChange(change);
  };
  return {
    supported: true,
    announce(data) {
      const change = parseChange(data);
      if (!change) throw new TypeError("not a history change notice");
      channel?.postMessage(change);
    },
    close() {
      channel?.close();
      channel = null;
    },
  };
}

/** True when `change` asks to re-read a conversation shown at `shownVersion`. */
export const isNewer = (change, shownVersion) => change.type === "changed" && change.version > (shownVersion ?? 0);

/**
 * The messages to show after re-reading a conversation that this tab may still be writing:
 * the stored order and content, except that a message this tab is still streaming keeps its
 * in-memory text (it is ahead of the store), and local messages not stored yet — streaming, or
 * in `pendingIds` (their write is in flight) — stay at the end. Keyed by id: nothing is lost or
 * shown twice; a local message that is neither is gone from the store (another tab removed it).
 * @param {{id: string}[]} stored  from getConversation
 * @param {{id: string, state?: string}[]} local  what this tab shows
 * @param {Set<string>} [pendingIds]  ids whose append has not resolved yet
 */
export function mergeMessages(stored, local, pendingIds = new Set()) {
  const localById = new Map(local.map((m) => [m.id, m]));
  const storedIds = new Set(stored.map((m) => m.id));
  const merged = stored.map((m) => (localById.get(m.id)?.state === "streaming" ? localById.get(m.id) : m));
  for (const m of local) if (!storedIds.has(m.id) && (m.state === "streaming" || pendingIds.has(m.id))) merged.push(m);
  return merged;
}

/**
 * A message as stored: known fields only; an unsettled one that is not the new answer is
 * "stopped". Attachments keep their Blob (db.js stores it apart) unless it was dropped already.
 */
export function storedForm(m, streaming = null) {
  const out = { id: m.id, role: m.role, text: m.text, state: m.state === "streaming" && m !== streaming ? "stopped" : m.state || "done" };
  if (m.finishReason) out.finishReason = m.finishReason;
  if (m.attachments?.length) {
    out.attachments = m.attachments.map(({ id, name, mimeType, size, blob }) => ({ id, name, mimeType, size, ...(blob && { blob }) }));
  }
  return out;
}

const attachmentIds = (m) => (m.attachments || []).map((a) => a.id).join();

/**
 * `merged` with the objects already on screen where nothing changed (no repaint). Same
 * attachments means the same ids: the screen's copy keeps Blobs it still holds in memory.
 */
export function keepShown(merged, shown) {
  const byId = new Map(shown.map((m) => [m.id, m]));
  return merged.map((m) => {
    const s = byId.get(m.id);
    const same = s && s.role === m.role && s.text === m.text && s.state === m.state && s.finishReason === m.finishReason;
    return same && attachmentIds(s) === attachmentIds(m) ? s : m;
  });
}
