// The composer: the message box (its text is `draft` in the state), its height, the character
// count, Send and Stop, Enter / Shift+Enter / Esc, and the suggestions of the empty page that
// fill it.

import { watch } from "../state.js";
import { countdownActive } from "./banner.js";
import { byTestId } from "./dom.js";

const input = () => byTestId("composer-input");

/** Focus the message box, unless a dialog or an edit has the focus, or it cannot be used. */
export function focusComposer(store) {
  if (byTestId("settings-dialog").open || store.get().editingId) return;
  if (!input().disabled) input().focus();
}

export function canSend(state) {
  const { draft, limits } = state;
  return !(state.busy || state.notAllowed || draft.length > limits.maxMessageChars ||
    countdownActive(state) || draft.trim() === "");
}

/** @param {{send: (text: string) => void, stop: () => void}} chat */
export function mountComposer(store, chat) {
  const ui = {
    form: byTestId("composer"),
    input: input(),
    send: byTestId("send"),
    stop: byTestId("stop"),
    charCount: byTestId("char-count"),
    dialog: byTestId("settings-dialog"),
  };
  if (ui.input.value) store.set({ draft: ui.input.value }); // restored by the browser

  watch(store, ["draft"], ({ draft }) => {
    if (ui.input.value !== draft) ui.input.value = draft;
    ui.input.rows = Math.min(8, Math.max(1, draft.split("\n").length));
  });

  watch(store, ["busy", "notAllowed", "draft", "limits", "blockedUntil"], (state) => {
    const { busy, notAllowed, draft, limits } = state;
    ui.send.hidden = busy;
    ui.stop.hidden = !busy;
    ui.form.classList.toggle("is-busy", busy);
    ui.input.disabled = notAllowed;
    ui.input.placeholder = notAllowed ? "This account cannot chat here" : "Message Gemini";
    ui.send.disabled = !canSend(state);

    const { length } = draft;
    const near = length >= limits.maxMessageChars * 0.8;
    ui.charCount.hidden = !near;
    ui.charCount.classList.toggle("is-over", length > limits.maxMessageChars);
    ui.charCount.textContent = near ? `${length.toLocaleString()} / ${limits.maxMessageChars.toLocaleString()}` : "";
  });

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.input.value;
    if (!canSend({ ...store.get(), draft: text })) return;
    store.set({ draft: "" });
    chat.send(text);
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
    if (event.key === "Escape" && store.get().busy && !ui.dialog.open) {
      event.preventDefault();
      chat.stop();
    }
  });
  for (const button of document.querySelectorAll("[data-suggestion]")) {
    button.addEventListener("click", () => {
      store.set({ draft: button.dataset.suggestion });
      ui.input.focus();
    });
  }
}
