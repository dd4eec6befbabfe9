// The composer: the message box (its text is `draft` in the state), its height, the character
// count (and why Send is off when the text is too long), Send and Stop, Enter / Shift+Enter /
// Esc, and the suggestions of the empty page that fill it. The text survives a redirect
// sign-in: kept in sessionStorage for that one round trip (keepDraftForRedirect), then removed.

import { tooLongText } from "../errors.js";
import { watch } from "../state.js";
import { countdownActive } from "./banner.js";
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
    countdownActive(state) || draft.trim() === "");
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
  };
  const kept = forgetKeptDraft(); // back from a redirect sign-in
  if (kept || ui.input.value) store.set({ draft: kept || ui.input.value }); // else restored by the browser

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
  for (const button of document.querySelectorAll("[data-suggestion]")) {
    button.addEventListener("click", () => {
      store.set({ draft: button.dataset.suggestion });
      ui.input.focus();
    });
  }
}
