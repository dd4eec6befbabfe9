// Attachments kept with the history: their bytes (Blobs) live in the "attachments" store, one
// record per attachment, apart from the messages, which keep only {id, name, mimeType, size};
// so listing and searching conversations never load bytes, and a message whose Blob is gone
// reads back with `dropped: true` (the chip says "not kept on this device").
//
// At most ATTACHMENT_STORE_BYTES of Blobs are kept on this device in all: a write that would pass
// it first deletes the oldest Blobs (by their message's time, across all conversations) until it
// fits; an attachment larger than the whole total is never kept. What a write could not keep is
// counted in a `loss` ({evicted, tooLarge, noSpace}) that the caller turns into one notice.
//
// Store record: {id (the attachment's), conversationId, messageId, time (message createdAt),
// size (bytes of the Blob), blob}; indexes "byConversation", "byMessage", "byAge" [time, size]
// (a key cursor on it gives the total and the oldest first without touching a Blob).

import { HistoryFullError } from "./errors.js";
import { publicMessage, requestAll, upsertMessage } from "./schema.js";

/** Bytes of attachments kept on this device, in all (100 MiB). */
export const ATTACHMENT_STORE_BYTES = 100 * 1024 * 1024;

/** The Blob records to write for message `record` from its input attachments (those with bytes). */
export function blobRecords(record, list = []) {
  return list
    .filter((a) => a.blob && !a.dropped)
    .map((a) => ({ id: a.id, conversationId: record.conversationId, messageId: record.id, time: record.createdAt, size: a.blob.size, blob: a.blob }));
}

/** A write's Blob bookkeeping: whether to keep Blobs, the limit, how many it tried, what it lost. */
const keeper = (keep, limit) => ({ keep, limit, tried: 0, loss: { evicted: 0, tooLarge: 0, noSpace: 0 } });
const lost = (loss) => loss.evicted + loss.tooLarge + loss.noSpace > 0;

/**
 * Run `fn(tx, keeper)` through `write` (db.js's write transaction), where Blobs are stored with
 * storeBlobs(tx, records, keeper) within `limit` bytes in all. When the device is out of space
 * and Blobs were part of the write, it runs once more without them (the text is still saved).
 */
export async function keepingBlobs(write, fn, limit = ATTACHMENT_STORE_BYTES) {
  const first = keeper(true, limit);
  try {
    return await write((tx) => fn(tx, first));
  } catch (error) {
    if (!(error instanceof HistoryFullError) || !first.tried) throw error;
    return write((tx) => fn(tx, keeper(false, limit)));
  }
}

/**
 * Write Blob `records` in transaction `tx` within the keeper's limit: the oldest Blobs go first
 * (stored ones and these alike); one larger than the limit is never kept. With `keeper.keep`
 * false (the retry after the device ran out of space) none is written. Counts into keeper.loss.
 */
export async function storeBlobs(tx, records, keeper) {
  const { keep, limit, loss } = keeper;
  if (!records.length) return;
  if (!keep) {
    loss.noSpace += records.length;
    return;
  }
  const store = tx.objectStore("attachments");
  const incoming = new Map();
  for (const r of records) {
    if (r.size > limit) loss.tooLarge += 1;
    else incoming.set(r.id, r);
  }
  const all = [];
  for (let cursor = await store.index("byAge").openKeyCursor(); cursor; cursor = await cursor.continue()) {
    if (!incoming.has(cursor.primaryKey)) all.push({ id: cursor.primaryKey, time: cursor.key[0], size: cursor.key[1], stored: true });
  }
  for (const r of incoming.values()) all.push({ id: r.id, time: r.time, size: r.size, stored: false });
  all.sort((a, b) => a.time - b.time);
  let total = all.reduce((sum, a) => sum + a.size, 0);
  const evict = [];
  for (const a of all) {
    if (total <= limit) break;
    total -= a.size;
    loss.evicted += 1;
    if (a.stored) evict.push(a.id);
    else incoming.delete(a.id);
  }
  keeper.tried += incoming.size;
  await requestAll(evict, (id) => store.delete(id));
  await requestAll([...incoming.values()], (r) => store.put(r));
}

/** Upsert `input` into `conv` (schema.js) with its Blobs, which replace the message's earlier ones. */
export async function putMessage(tx, conv, input, now, keeper) {
  const record = await upsertMessage(tx, conv, input, now);
  if (input.attachments) {
    await deleteBlobsOf(tx, [record.id]);
    await storeBlobs(tx, blobRecords(record, input.attachments), keeper);
  }
  return record;
}

/** Message records as callers see them, with the Blobs now stored, and what was dropped (if any). */
export async function written(tx, records, { loss }, now) {
  const blobs = await blobsOfMessages(tx, records);
  return { messages: records.map((m) => publicMessage(m, now, blobs)), ...(lost(loss) && { attachmentsDropped: { ...loss } }) };
}

/** Delete the Blobs of messages `messageIds` (truncate, replaced attachments). */
export async function deleteBlobsOf(tx, messageIds) {
  const store = tx.objectStore("attachments");
  const keys = (await requestAll(messageIds, (id) => store.index("byMessage").getAllKeys(id))).flat();
  await requestAll(keys, (key) => store.delete(key));
}

/** Delete conversation `id`'s Blobs; returns their records (the undo snapshot keeps them in memory). */
export async function takeBlobsOf(tx, id) {
  const store = tx.objectStore("attachments");
  const records = await store.index("byConversation").getAll(id);
  await requestAll(records, (r) => store.delete(r.id));
  return records;
}

/** id -> Blob of conversation `id` (Blob handles: no bytes are read). */
export async function blobsOf(tx, id) {
  const records = await tx.objectStore("attachments").index("byConversation").getAll(id);
  return new Map(records.map((r) => [r.id, r.blob]));
}

/** id -> Blob of the attachments of message records `records`, read inside `tx`. */
export async function blobsOfMessages(tx, records) {
  const ids = records.flatMap((m) => (m.attachments || []).map((a) => a.id));
  const found = await requestAll(ids, (id) => tx.objectStore("attachments").get(id));
  return new Map(found.filter(Boolean).map((r) => [r.id, r.blob]));
}

/** The notice for what a write could not keep on this device (`attachmentsDropped`), or null. */
export function attachmentNotice(loss) {
  if (!loss || !lost(loss)) return null;
  const mb = Math.round(ATTACHMENT_STORE_BYTES / (1024 * 1024));
  let message;
  if (loss.noSpace) {
    message = "Storage on this device is full, so attachments weren't kept on this device (the conversation was saved). Delete old conversations to make room.";
  } else if (loss.tooLarge) {
    message = `An attachment larger than ${mb} MB isn't kept on this device (the conversation was saved).`;
  } else {
    message = `Older attachments were removed from this device to stay under ${mb} MB. Their names stay in your conversations, marked “not kept on this device”.`;
  }
  return { code: "attachments_dropped", message };
}
