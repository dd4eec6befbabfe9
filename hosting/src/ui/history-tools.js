// The history list's tools (part of its lazy chunk, see ui/history.js): the status line (what
// an action did, or why it failed), Delete with Undo, Delete all (after a dialog), Export all
// (JSON), Markdown per conversation, and Import (a JSON export, validated strictly by
// src/history/transfer.js: a refused file changes nothing and its reason is shown here).

import { byTestId, element } from "./dom.js";

const UNDO_MS = 10_000;
const plural = (n, one, many = `${one}s`) => `${n.toLocaleString("en")} ${n === 1 ? one : many}`;

/** What an import did, in words. */
export function importSummary({ added, copied, skipped }) {
  if (!added && !copied) return `Nothing new to import: ${skipped === 1 ? "the conversation in this file is" : `all ${plural(skipped, "conversation")} in this file are`} already here.`;
  let text = `Imported ${plural(added + copied, "conversation")}.`;
  if (copied) text += ` ${plural(copied, "was", "were")} already here with different messages, so ${copied === 1 ? "it was" : "they were"} added as ${copied === 1 ? "a copy" : "copies"}.`;
  if (skipped) text += ` ${plural(skipped, "conversation")} ${skipped === 1 ? "was" : "were"} already here.`;
  return text;
}

/** Save `text` as a file named `name` (a download the user asked for). */
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = element("a", { href: url, download: name, class: "visually-hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function mountHistoryTools(store, chat, history) {
  const ui = {
    search: byTestId("history-search"),
    message: byTestId("history-message"),
    undo: byTestId("history-undo"),
    exportAll: byTestId("history-export"),
    importButton: byTestId("history-import"),
    importFile: byTestId("history-import-file"),
    deleteAll: byTestId("history-delete-all"),
    deleteDialog: byTestId("delete-all-dialog"),
  };

  /** Show what happened (role=status, so it is read out). */
  function say(text, error = false) {
    ui.message.textContent = text;
    ui.message.dataset.kind = error ? "error" : "info";
  }
  const failed = (error) => say(error?.message || String(error), true);

  /** The conversation on screen is gone from history: show a new chat. */
  function leave(id) {
    if (id && store.get().conversationId !== id) return;
    chat.stop();
    store.set({ messages: [], conversationId: null, editingId: null });
  }

  // Delete one, with Undo for a while.
  let undo = null; // {token, wasOpen, timer}
  function dropUndo() {
    if (!undo) return;
    clearTimeout(undo.timer);
    undo = null;
    if (document.activeElement === ui.undo) ui.search.focus();
    ui.undo.hidden = true;
  }
  async function remove(id, li) {
    const wasOpen = store.get().conversationId === id;
    try {
      const token = await history.remove(id);
      if (!token) return;
      if (wasOpen) leave(id);
      dropUndo();
      const title = token.title || "New chat";
      say(`Deleted “${title}”.`);
      undo = { token, wasOpen, timer: setTimeout(dropUndo, UNDO_MS) };
      ui.undo.setAttribute("aria-label", `Undo deleting “${title}”`);
      ui.undo.hidden = false;
      if (li?.contains(document.activeElement) || document.activeElement === document.body) ui.undo.focus();
    } catch (error) {
      failed(error);
    }
  }
  ui.undo.addEventListener("click", async () => {
    const { token, wasOpen } = undo || {};
    dropUndo();
    if (!token) return;
    try {
      const restored = await history.restore(token);
      if (!restored) return;
      say(`Restored “${restored.title || "New chat"}”.`);
      if (wasOpen && !store.get().messages.length) await history.open(restored.id);
    } catch (error) {
      failed(error);
    }
  });

  // Delete all, after the dialog.
  ui.deleteAll.addEventListener("click", () => {
    ui.deleteDialog.returnValue = "";
    ui.deleteDialog.showModal();
  });
  ui.deleteDialog.addEventListener("close", async () => {
    ui.deleteAll.focus();
    if (ui.deleteDialog.returnValue !== "confirm") return;
    try {
      leave(store.get().conversationId);
      dropUndo();
      const n = await history.removeAll();
      say(`Deleted ${plural(n, "conversation")} from this device.`);
    } catch (error) {
      failed(error);
    }
  });

  // Export and import.
  ui.exportAll.addEventListener("click", async () => {
    try {
      const { name, text } = await history.exportJson();
      download(name, text, "application/json");
      say(`Exported ${plural(store.get().conversations?.length ?? 0, "conversation")} to ${name}.`);
    } catch (error) {
      failed(error);
    }
  });
  async function exportMarkdown(id) {
    try {
      const file = await history.exportMarkdown(id);
      if (!file) return say("This conversation is no longer in your history.", true);
      download(file.name, file.text, "text/markdown;charset=utf-8");
      say(`Saved ${file.name}.`);
    } catch (error) {
      failed(error);
    }
  }
  ui.importButton.addEventListener("click", () => {
    ui.importFile.value = "";
    ui.importFile.click();
  });
  ui.importFile.addEventListener("change", async () => {
    const [file] = ui.importFile.files;
    if (!file) return;
    say(`Importing ${file.name}…`);
    ui.importButton.disabled = true;
    try {
      say(importSummary(await history.importFile(file)));
    } catch (error) {
      failed(error);
    } finally {
      ui.importButton.disabled = false;
      ui.importFile.value = "";
    }
  });

  /** Forget the last status and Undo (another account, or history off). */
  function reset() {
    dropUndo();
    ui.message.textContent = "";
    delete ui.message.dataset.kind;
  }

  return { say, remove, exportMarkdown, reset };
}
