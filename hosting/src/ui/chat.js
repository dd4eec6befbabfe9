// The chat controller: send (streaming into the state), stop, regenerate, edit-and-resend, new
// chat and export, and the toolbar's New chat / Export buttons. It changes `messages` and `busy`;
// the message list, composer and banner render from them.

import { normalizeQuota, sendChat } from "../api.js";
import { buildRequest, exportFileName, toMarkdown } from "../conversation.js";
import { ApiError } from "../errors.js";
import { watch } from "../state.js";
import { NO_BANNER, countdownActive, showBanner, showError } from "./banner.js";
import { focusComposer } from "./composer.js";
import { byTestId, element } from "./dom.js";
import { setQuota } from "./quota.js";

let nextId = 1;
const newId = () => `m${Date.now().toString(36)}-${nextId++}`;

export function mountChat(store) {
  let controller = null; // the AbortController of the answer being streamed
  const find = (id) => store.get().messages.find((m) => m.id === id);
  /** Change one message (if it is still in the conversation). */
  const update = (id, change) => {
    const { messages } = store.get();
    if (!messages.some((m) => m.id === id)) return;
    store.set({ messages: messages.map((m) => (m.id === id ? { ...m, ...change(m) } : m)) });
  };

  /**
   * Send `text` after the conversation, or after `base` (regenerate / edit: the conversation
   * cut before the message being sent again; the cut stands even when nothing is sent).
   */
  async function send(text, base = null) {
    const state = store.get();
    const trimmed = text.trim();
    const cut = () => base && store.set({ messages: base, editingId: null });
    if (!state.config) {
      cut();
      showError(store, new ApiError("config"));
      return;
    }
    if (state.busy || !trimmed || state.notAllowed || countdownActive(state)) {
      cut();
      return;
    }
    const max = state.limits.maxMessageChars;
    if (trimmed.length > max) {
      cut();
      showBanner(store, {
        code: "invalid_argument",
        message: `Your message is too long (${trimmed.length.toLocaleString()} characters; the limit is ${max.toLocaleString()}).`,
      });
      return;
    }
    const before = base || state.messages;
    const user = { id: newId(), role: "user", text: trimmed, state: "done" };
    const model = { id: newId(), role: "model", text: "", state: "streaming" };
    const mine = new AbortController();
    controller = mine;
    store.set({ ...NO_BANNER, messages: [...before, user, model], busy: true, ...(base && { editingId: null }) });
    focusComposer(store);

    const { body } = buildRequest(before, trimmed, state.limits);
    let settled = {};
    try {
      const attempt = async (forceRefresh) => {
        let token = null;
        try {
          token = await store.get().auth?.token(forceRefresh);
        } catch (error) {
          throw error?.code === "auth/network-request-failed" ? new ApiError("network") : new ApiError("unauthenticated");
        }
        return sendChat({
          chatUrl: state.config.chatUrl,
          token,
          body,
          signal: mine.signal,
          onDelta: (delta) => update(model.id, (m) => ({ text: m.text + delta })),
        });
      };
      let result;
      try {
        result = await attempt(false);
      } catch (error) {
        // A 401 comes before any text: refresh the ID token once (clock skew, a token that just
        // expired); a revoked session fails the refresh and ends as "session ended".
        if (!(error?.code === "unauthenticated" && store.get().user && !find(model.id)?.text)) throw error;
        result = await attempt(true);
      }
      settled = { state: "done", finishReason: result.finishReason };
      if (result.quota) setQuota(store, normalizeQuota(result.quota));
    } catch (error) {
      if (error?.name === "AbortError") {
        settled = { state: "stopped" };
      } else {
        settled = { state: "error" };
        if (error?.code === "permission_denied") store.set({ notAllowed: true });
        showError(store, error);
      }
    } finally {
      controller = null;
      const answer = find(model.id);
      const { messages } = store.get();
      const patch = { busy: false };
      if (answer?.text) patch.messages = messages.map((m) => (m === answer ? { ...m, ...settled } : m));
      else if (answer) patch.messages = messages.filter((m) => m !== answer); // nothing came: no empty answer
      store.set(patch);
      focusComposer(store);
    }
  }

  function stop() {
    controller?.abort();
  }

  /** Send the last question again, in place of everything after it. */
  function regenerate() {
    const { busy, messages } = store.get();
    if (busy) return;
    let index = messages.length - 1;
    while (index >= 0 && messages[index].role !== "user") index -= 1;
    if (index >= 0) send(messages[index].text, messages.slice(0, index));
  }

  /** Send `text` in place of message `id` and everything after it. */
  function edit(id, text) {
    const { messages } = store.get();
    const index = messages.findIndex((m) => m.id === id);
    if (index >= 0) send(text, messages.slice(0, index));
  }

  function newChat() {
    stop();
    store.set({ ...NO_BANNER, messages: [], owner: store.get().user?.uid || "", editingId: null, draft: "" });
    focusComposer(store);
  }

  function exportMarkdown() {
    const { messages } = store.get();
    if (!messages.length) return;
    const blob = new Blob([toMarkdown(messages)], { type: "text/markdown;charset=utf-8" });
    const url = URL.createObjectURL(blob);
    const link = element("a", { href: url, download: exportFileName(), class: "visually-hidden" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  const newChatButton = byTestId("new-chat");
  const exportButton = byTestId("export");
  watch(store, ["messages", "busy"], ({ messages, busy }) => {
    exportButton.disabled = !messages.length;
    newChatButton.disabled = !messages.length && !busy;
  });
  newChatButton.addEventListener("click", newChat);
  exportButton.addEventListener("click", exportMarkdown);

  return { send, stop, regenerate, edit, newChat };
}
