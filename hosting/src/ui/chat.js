// The chat controller: send (streaming into the state), stop, regenerate, edit-and-resend, new
// chat and export, and the toolbar's New chat / Export buttons. It changes `messages` and `busy`;
// the message list, composer and banner render from them. What is sent and how each answer ends
// is recorded through `history` (src/history/session.js): the question and an empty answer when
// sending, the answer once when it ends — never per streamed word.

import { normalizeQuota, sendChat } from "../api.js";
import { buildRequest, exportFileName, toMarkdown } from "../conversation.js";
import { ApiError, tooLongText } from "../errors.js";
import { watch } from "../state.js";
import { NO_BANNER, countdownActive, showBanner, showError } from "./banner.js";
import { focusComposer } from "./composer.js";
import { byTestId, element } from "./dom.js";
import { refreshQuotaLater, setQuota } from "./quota.js";

// Unique across tabs and devices (a time + counter id could collide between two tabs' writes).
const newId = () => globalThis.crypto.randomUUID();

/** The notice when a long conversation does not fit in one request (buildRequest's `dropped`). */
export const trimmedNotice = (dropped) =>
  `This conversation is long: Gemini sees only its latest part. The ${dropped === 1 ? "oldest exchange was" : `oldest ${dropped} exchanges were`} left out of this request.`;

// Errors after which /api/auth is not asked for the quota: nothing was counted, or it would fail.
const NO_QUOTA_REFRESH = new Set(["network", "config", "unauthenticated", "permission_denied"]);

/** @param {ReturnType<import("../history/session.js").createHistory>} history */
export function mountChat(store, history) {
  let controller = null; // the AbortController of the answer being streamed
  const find = (id) => store.get().messages.find((m) => m.id === id);
  /** Change one message (if it is still in the conversation). */
  const update = (id, change) => {
    const { messages } = store.get();
    if (!messages.some((m) => m.id === id)) return;
    store.set({ messages: messages.map((m) => (m.id === id ? { ...m, ...change(m) } : m)) });
  };

  /** Why nothing can be sent now, shown in the banner (true), or false. Changes nothing else. */
  function refused(state, trimmed) {
    if (!state.config) {
      showError(store, new ApiError(state.phase === "error" ? "config" : "starting"));
      return true;
    }
    if (state.busy || !trimmed || countdownActive(state)) return true; // the countdown says until when
    if (state.notAllowed) {
      showError(store, new ApiError("permission_denied"));
      return true;
    }
    const max = state.limits.maxMessageChars;
    if (trimmed.length > max) {
      showBanner(store, { code: "too_long", message: `${tooLongText(trimmed.length, max)}. Shorten it to send it.` });
      return true;
    }
    return false;
  }

  /**
   * Send `text` after the conversation, or after `base` (regenerate / edit: in place of the
   * message being sent again and everything after it). Returns whether it was sent: when it
   * cannot be (not started yet, busy, blocked, not allowed, too long), nothing is cut or
   * cleared, and the banner says why.
   */
  function send(text, base = null) {
    const trimmed = text.trim();
    if (refused(store.get(), trimmed)) return false;
    stream(trimmed, base);
    return true;
  }

  async function stream(trimmed, base) {
    const state = store.get();
    const cutFrom = base ? state.messages[base.length]?.id : null; // the first message cut away
    const before = base || state.messages;
    const user = { id: newId(), role: "user", text: trimmed, state: "done" };
    const model = { id: newId(), role: "model", text: "", state: "streaming" };
    const mine = new AbortController();
    controller = mine;
    store.set({ ...NO_BANNER, messages: [...before, user, model], busy: true, ...(base && { editingId: null }) });
    const saved = history.sent({ before, cutFrom, user, model });
    focusComposer(store);

    const { body, dropped } = buildRequest(before, trimmed, state.limits);
    if (dropped) showBanner(store, { code: "history_trimmed", message: trimmedNotice(dropped) });
    let settled = {};
    let giveBack = false;
    let answered = ""; // the answer's text, also when another conversation is shown meanwhile
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
          onDelta: (delta) => {
            answered += delta;
            update(model.id, (m) => ({ text: m.text + delta }));
          },
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
        // Signed out and the server wants a sign-in: the question goes back into the box, to
        // be sent once signed in (a signed-out conversation would be cleared by the sign-in).
        giveBack = error?.code === "unauthenticated" && !store.get().user && !answered;
        showError(store, error);
      }
      // No `done` with the quota left: the server settles the request once the stream has
      // closed, so ask /api/auth a little later (the next answer's `done` corrects it anyway).
      if (!NO_QUOTA_REFRESH.has(error?.code)) refreshQuotaLater(store);
    } finally {
      controller = null;
      const answer = find(model.id);
      const { messages } = store.get();
      const patch = { busy: false };
      if (answer?.text) patch.messages = messages.map((m) => (m === answer ? { ...m, ...settled } : m));
      else if (answer) patch.messages = messages.filter((m) => m !== answer); // nothing came: no empty answer
      if (giveBack) {
        patch.messages = (patch.messages || messages).filter((m) => m.id !== user.id);
        if (!store.get().draft.trim()) patch.draft = trimmed;
      }
      store.set(patch);
      if (answered) saved.settle({ text: answered, ...settled });
      else saved.discard();
      focusComposer(store);
    }
  }

  function stop() {
    controller?.abort();
  }

  /** Send the last question again, in place of everything after it. */
  function regenerate() {
    const { busy, messages } = store.get();
    if (busy) return false;
    let index = messages.length - 1;
    while (index >= 0 && messages[index].role !== "user") index -= 1;
    return index >= 0 && send(messages[index].text, messages.slice(0, index));
  }

  /** Send `text` in place of message `id` and everything after it; false: not sent (see send). */
  function edit(id, text) {
    const { messages } = store.get();
    const index = messages.findIndex((m) => m.id === id);
    return index >= 0 && send(text, messages.slice(0, index));
  }

  function newChat() {
    stop();
    store.set({ ...NO_BANNER, messages: [], conversationId: null, owner: store.get().user?.uid || "", editingId: null, draft: "" });
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
