// The composer: the message box (its text is `draft` in the state), its height, the character
// count (and why Send is off when the text is too long), Send and Stop, Enter / Shift+Enter /
// Esc, and the suggestions of the empty page that fill it. The text survives a redirect
// sign-in: kept in sessionStorage for that one round trip (keepDraftForRedirect), then removed.
// Files come in by the attach button, a drop on the page or a paste (`pending` in the state);
// only these listeners are in the first load: checking, chips and encoding are
// src/attachments/index.js, imported on first use.

import "../attachments.css";
import { limitOf } from "../conversation.js";
import { tooLongText } from "../errors.js";
import { watch } from "../state.js";
import { countdownActive, showBanner } from "./banner.js";
import { byTestId } from "./dom.js";

const input = () => byTestId("composer-input");
const DRAFT_KEY = "jette.draftForSignIn";
const count = (n) => n.toLocaleString("en");

function tabStorage() {
  try {
    return globalThis.sessionStorage;
  } catch {
    return null;
  }
}

/** Just before leaving for a redirect sign-in: keep the message box's text for the way back. */
export function keepDraftForRedirect(store) {
  const { draft } = store.get();
  try {
    if (draft.trim()) tabStorage()?.setItem(DRAFT_KEY, draft);
  } catch {
    // storage full or disabled: the text is lost with the page, as before
  }
}

/** The kept text, once (it is removed); null when there is none. */
export function forgetKeptDraft() {
  try {
    const kept = tabStorage()?.getItem(DRAFT_KEY) ?? null;
    tabStorage()?.removeItem(DRAFT_KEY);
    return kept;
  } catch {
    return null;
  }
}

/** Focus the message box, unless a dialog or an edit has the focus, or it cannot be used. */
export function focusComposer(store) {
  if (byTestId("settings-dialog").open || store.get().editingId) return;
  if (!input().disabled) input().focus();
}

export function canSend(state) {
  const { draft, limits } = state;
  return !(state.busy || state.notAllowed || draft.length > limits.maxMessageChars ||
    countdownActive(state) || (draft.trim() === "" && !state.pending?.length));
}

// For the file picker: extensions of the types some systems do not name (.md, .csv, HEIC…).
const EXTENSIONS = {
  "text/plain": ".txt", "text/markdown": ".md,.markdown", "text/csv": ".csv", "image/heic": ".heic", "image/heif": ".heif",
};

/** The file picker, a drop anywhere on the page and a paste into the box: files to attach. */
function mountAttaching(store, ui) {
  let loaded = null;
  const attach = (files) => {
    if (!files.length) return;
    loaded ||= import("../attachments/index.js").then(
      (module) => {
        module.mountChips(store, { list: ui.chips, input: ui.input });
        return module;
      },
      (error) => {
        loaded = null; // e.g. offline after a new version was deployed: tried again next time
        throw error;
      },
    );
    loaded.then(
      (module) => module.addFiles(store, files),
      () => showBanner(store, { code: "attachment", message: "Files can't be attached right now: part of the app could not be loaded. Reload the page and try again." }),
    );
  };
  watch(store, ["limits"], ({ limits }) => {
    const types = limitOf(limits, "attachmentTypes");
    ui.attach.hidden = limitOf(limits, "maxAttachments") === 0;
    ui.file.accept = [...types, ...types.map((t) => EXTENSIONS[t]).filter(Boolean)].join(",");
  });
  ui.attach.addEventListener("click", () => ui.file.click());
  ui.file.addEventListener("change", () => {
    const files = [...ui.file.files];
    ui.file.value = ""; // the same file can be picked again
    attach(files);
  });
  ui.input.addEventListener("paste", (event) => {
    const files = [...(event.clipboardData?.files || [])];
    if (!files.length) return;
    // A screenshot comes as a file only; copied text that also carries a file pastes as text too.
    if (!event.clipboardData.types.includes("text/plain")) event.preventDefault();
    attach(files);
  });
  const carriesFiles = (event) => event.dataTransfer?.types.includes("Files");
  const dragging = (on) => ui.form.classList.toggle("is-dragging", on);
  document.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault(); // a drop here attaches, instead of opening the file in the tab
    event.dataTransfer.dropEffect = "copy";
    dragging(true);
  });
  document.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) dragging(false); // left the window
  });
  document.addEventListener("drop", (event) => {
    dragging(false);
    if (!carriesFiles(event)) return;
    event.preventDefault();
    attach([...event.dataTransfer.files]);
  });
}

/** @param {{send: (text: string) => boolean, stop: () => void}} chat */
export function mountComposer(store, chat) {
  const ui = {
    form: byTestId("composer"),
    input: input(),
    send: byTestId("send"),
    stop: byTestId("stop"),
    charCount: byTestId("char-count"),
    charAlert: byTestId("char-alert"),
    dialog: byTestId("settings-dialog"),
    attach: byTestId("attach"),
    file: byTestId("attach-input"),
    chips: byTestId("attachment-chips"),
  };
  const kept = forgetKeptDraft(); // back from a redirect sign-in
  if (kept || ui.input.value) store.set({ draft: kept || ui.input.value }); // else restored by the browser

  watch(store, ["draft"], ({ draft }) => {
    if (ui.input.value !== draft) ui.input.value = draft;
    ui.input.rows = Math.min(8, Math.max(1, draft.split("\n").length));
  });

  watch(store, ["busy", "notAllowed", "draft", "limits", "blockedUntil", "pending"], (state) => {
    const { busy, notAllowed, draft, limits } = state;
    ui.send.hidden = busy;
    ui.stop.hidden = !busy;
    ui.form.classList.toggle("is-busy", busy);
    ui.input.disabled = notAllowed;
    ui.attach.disabled = notAllowed;
    ui.input.placeholder = notAllowed ? "This account cannot chat here" : "Message Gemini";
    ui.send.disabled = !canSend(state);

    const { length } = draft;
    const max = limits.maxMessageChars;
    const near = length >= max * 0.8;
    const over = length > max;
    ui.charCount.hidden = !near;
    ui.charCount.classList.toggle("is-over", over);
    ui.charCount.textContent = over ? tooLongText(length, max) : near ? `${count(length)} / ${count(max)}` : "";
    if (over) ui.input.setAttribute("aria-invalid", "true");
    else ui.input.removeAttribute("aria-invalid");
    // Said once when the text goes over the limit (the count itself is not read at each key).
    const alert = over ? `Too long: the limit is ${count(max)} characters.` : "";
    if (ui.charAlert.textContent !== alert) ui.charAlert.textContent = alert;
  });

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.input.value;
    if (!canSend({ ...store.get(), draft: text })) return;
    if (chat.send(text)) store.set({ draft: "" }); // not sent (e.g. still starting): the text stays
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.form.requestSubmit();
    }
  });
  ui.input.addEventListener("input", () => store.set({ draft: ui.input.value }));
  ui.stop.addEventListener("click", () => {
    chat.stop();
    ui.input.focus();
  });
  document.addEventListener("keydown", (event) => {
    // Esc belongs to an open dialog (settings, sign out, delete all) or the drawer first.
    const taken = event.defaultPrevented || document.querySelector("dialog[open]");
    if (event.key === "Escape" && store.get().busy && !taken) {
      event.preventDefault();
      chat.stop();
    }
  });
  mountAttaching(store, ui);
  for (const button of document.querySelectorAll("[data-suggestion]")) {
    button.addEventListener("click", () => {
      store.set({ draft: button.dataset.suggestion });
      ui.input.focus();
    });
  }
}
