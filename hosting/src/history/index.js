// The history's lazy entry point: session.js imports this (its own chunk, with idb) only when
// someone signs in with history on. transfer.js (export / import) is a chunk of its own too.

export { attachmentNotice } from "./attachments.js";
export { openHistory } from "./db.js";
export { connect, isNewer, keepShown, mergeMessages, storedForm } from "./sync.js";
