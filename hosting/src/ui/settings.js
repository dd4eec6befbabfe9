// Settings: the dialog and its one option, "keep this conversation in this tab". With it on,
// the conversation (`messages`, `owner`) is written to sessionStorage whenever it settles and
// read back at startup; off, it lives in memory only. (On-device history will replace this.)

import { deserialize, serialize } from "../conversation.js";
import { watch } from "../state.js";
import { byTestId } from "./dom.js";

const KEEP_KEY = "jette.keep";
const CONVERSATION_KEY = "jette.conversation";

function storage() {
  try {
    return globalThis.sessionStorage;
  } catch {
    return null;
  }
}

/** What this tab kept: {keep, owner, messages} (nothing unless "keep" is on). */
export function restoreConversation() {
  const restored = { keep: false, owner: "", messages: [] };
  const store = storage();
  if (!store) return restored;
  try {
    restored.keep = store.getItem(KEEP_KEY) === "1";
    if (!restored.keep) {
      store.removeItem(CONVERSATION_KEY);
      return restored;
    }
    const saved = store.getItem(CONVERSATION_KEY);
    if (saved) Object.assign(restored, deserialize(saved));
  } catch {
    restored.keep = false;
  }
  return restored;
}

function persist({ keep, messages, owner }) {
  const store = storage();
  if (!store) return;
  try {
    if (keep && messages.length) store.setItem(CONVERSATION_KEY, serialize(messages, owner));
    else store.removeItem(CONVERSATION_KEY);
  } catch {
    // quota exceeded or storage disabled: the conversation stays in memory only
  }
}

const streaming = (messages) => messages.some((m) => m.state === "streaming");

export function mountSettings(store) {
  const button = byTestId("settings-button");
  const dialog = byTestId("settings-dialog");
  const toggle = byTestId("keep-session-toggle");

  watch(store, ["keep"], ({ keep }) => {
    toggle.checked = keep;
  });
  // Written when the toggle or the account changes, and when the conversation changes with no
  // answer streaming (a new chat, an answer that ended), not on every streamed word.
  let last = store.get();
  store.subscribe((state) => {
    const changed = state.keep !== last.keep || state.owner !== last.owner ||
      (state.messages !== last.messages && !streaming(state.messages));
    last = state;
    if (changed) persist(state);
  });

  button.addEventListener("click", () => dialog.showModal());
  dialog.addEventListener("close", () => button.focus());
  toggle.addEventListener("change", () => {
    const keep = toggle.checked;
    try {
      if (keep) storage()?.setItem(KEEP_KEY, "1");
      else storage()?.removeItem(KEEP_KEY);
    } catch {
      // storage disabled: the choice lasts for this page only
    }
    store.set({ keep });
  });
}
