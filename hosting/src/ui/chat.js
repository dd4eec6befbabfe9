// The chat controller: send (streaming into the state), stop, regenerate, edit-and-resend, new
// chat and export, and the toolbar's New chat / Export buttons. It changes `messages`, `busy`
// and `pending` (the attachments go with the message); the message list, composer and banner
// render from them. What is sent and how each answer ends is recorded through `history`
// (src/history/session.js): the question and an empty answer when sending, the answer once
// when it ends — never per streamed word.

import { sendChat } from "../api.js";
import { buildRequest, exportFileName, historyBlobs, messageBytes, toMarkdown } from "../conversation.js";
import { ApiError, tooLongText } from "../errors.js";
import { requestOptions } from "../preferences.js";
import { normalizeQuota } from "../quota.js";
import { watch } from "../state.js";
import { NO_BANNER, countdownActive, showBanner, showError } from "./banner.js";
import { focusComposer } from "./composer.js";
import { byTestId, element } from "./dom.js";
import { refreshQuotaLater, setQuota } from "./quota.js";

// Unique across tabs and devices (a time + counter id could collide between two tabs' writes).
const newId = () => globalThis.crypto.randomUUID();

/**
 * The notice when a long conversation does not fit in one request (buildRequest's `dropped`
 * exchanges and `droppedAttachments`).
 */
export function trimmedNotice(dropped, droppedAttachments = 0) {
  const parts = [];
  if (dropped) parts.push(dropped === 1 ? "oldest exchange" : `oldest ${dropped} exchanges`);
  if (droppedAttachments) {
    const n = droppedAttachments;
    parts.push(dropped ? `${n} attachment${n === 1 ? "" : "s"}` : n === 1 ? "oldest attachment" : `oldest ${n} attachments`);
  }
  const were = dropped + droppedAttachments === 1 ? "was" : "were";
  return `This conversation is long: Gemini sees only its latest part. The ${parts.join(" and ")} ${were} left out of this request.`;
}

// Errors after which /api/auth is not asked for the quota: nothing was counted, or it would fail.
const NO_QUOTA_REFRESH = new Set(["network", "config", "unauthenticated", "permission_denied"]);

/** @param {ReturnType<import("../history/session.js").createHistory>} history */
export function mountChat(store, history) {
  let controller = null; // the AbortController of the answer being streamed
  const find = (id) => store.get().messages.find((m) => m.id === id);
  // src/attachments/index.js (its checks and base64), loaded as soon as attachments are about:
  // pending ones (then the composer has loaded it already), or in the conversation on screen.
  let files = null;
  const loadFiles = () => import("../attachments/index.js").then((module) => (files = module));
  watch(store, ["messages", "pending"], ({ messages, pending }) => {
    if (!files && (pending.length || messages.some((m) => m.attachments?.length))) loadFiles().catch(() => {});
  });
  /** Change one message (if it is still in the conversation). */
  const update = (id, change) => {
    const { messages } = store.get();
    if (!messages.some((m) => m.id === id)) return;
    store.set({ messages: messages.map((m) => (m.id === id ? { ...m, ...change(m) } : m)) });
  };

  /** Why nothing can be sent now, shown in the banner (true), or false. Changes nothing else. */
  function refused(state, trimmed, attachments) {
    if (!state.config) {
      showError(store, new ApiError(state.phase === "error" ? "config" : "starting"));
      return true;
    }
    if (state.busy || (!trimmed && !attachments.length) || countdownActive(state)) return true; // the countdown says until when
    if (state.notAllowed) {
      showError(store, new ApiError("permission_denied"));
      return true;
    }
    const max = state.limits.maxMessageChars;
    if (trimmed.length > max) {
      showBanner(store, { code: "too_long", message: `${tooLongText(trimmed.length, max)}. Shorten it to send it.` });
      return true;
    }
    if (!attachments.length) return false;
    const problem = files
      ? files.sendProblem(attachments, trimmed, state.limits, requestOptions(state))
      : "The app is still getting ready to send files. Try again in a moment."; // loadFiles: just started
    if (problem) showBanner(store, { code: "attachment", message: problem });
    return Boolean(problem);
  }

  /**
   * Send `text` after the conversation, with the pending attachments; or after `base`
   * (regenerate / edit: in place of the message being sent again and everything after it) with
   * `attachments`, that message's. Returns whether it was sent: when it cannot be (not started
   * yet, busy, blocked, not allowed, too long, files that do not fit), nothing is cut or cleared,
   * and the banner says why.
   */
  function send(text, base = null, attachments = base ? [] : store.get().pending) {
    const trimmed = text.trim();
    if (refused(store.get(), trimmed, attachments)) return false;
    stream(trimmed, base, attachments);
    return true;
  }

  async function stream(trimmed, base, attachments) {
    const state = store.get();
    const cutFrom = base ? state.messages[base.length]?.id : null; // the first message cut away
    const before = base || state.messages;
    const user = { id: newId(), role: "user", text: trimmed, state: "done", ...(attachments.length && { attachments }) };
    const model = { id: newId(), role: "model", text: "", state: "streaming" };
    const mine = new AbortController();
    controller = mine;
    store.set({ ...NO_BANNER, messages: [...before, user, model], busy: true, ...(base ? { editingId: null } : { pending: [] }) });
    const saved = history.sent({ before, cutFrom, user, model });
    focusComposer(store);

    const own = attachments.filter((a) => a.blob); // bytes no longer on this device are not sent
    let settled = {};
    let giveBack = false;
    let answered = ""; // the answer's text, also when another conversation is shown meanwhile
    try {
      const options = requestOptions(state);
      // The history's files that can fit beside this message (older ones are never read).
      const toEncode = historyBlobs(before, state.limits, messageBytes(trimmed, own, options));
      let attachmentsSent = [];
      if (attachments.length || toEncode.length) {
        const { encodeForRequest, goneNotice } = files || (await loadFiles());
        attachmentsSent = await encodeForRequest(own, toEncode);
        if (own.length < attachments.length) showBanner(store, { code: "attachment", message: goneNotice(attachments.length - own.length) });
      }
      const { body, dropped, droppedAttachments } = buildRequest(before, trimmed, state.limits, { ...options, attachments: attachmentsSent });
      if (dropped || droppedAttachments) showBanner(store, { code: "history_trimmed", message: trimmedNotice(dropped, droppedAttachments) });
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
      } else if (error?.name === "AttachmentReadError") {
        settled = { state: "error" }; // nothing was sent
        showBanner(store, { code: "attachment", message: "A file of this message could not be read, so nothing was sent. Attach it again and send." });
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
      if (!NO_QUOTA_REFRESH.has(error?.code) && error?.name !== "AttachmentReadError") refreshQuotaLater(store);
    } finally {
      controller = null;
      const answer = find(model.id);
      const { messages } = store.get();
      const patch = { busy: false };
      if (answer?.text) patch.messages = messages.map((m) => (m === answer ? { ...m, ...settled } : m));
      else if (answer) patch.messages = messages.filter((m) => m !== answer); // nothing came: no empty answer
      if (giveBack) {
        patch.messages = (patch.messages || messages).filter((m) => m.id !== user.id);
        const { draft, pending } = store.get();
        if (!draft.trim() && !(own.length && pending.length)) Object.assign(patch, { draft: trimmed, ...(own.length && { pending: own }) });
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
    return index >= 0 && send(messages[index].text, messages.slice(0, index), messages[index].attachments || []);
  }

  /** Send `text` in place of message `id` and everything after it; false: not sent (see send). */
  function edit(id, text) {
    const { messages } = store.get();
    const index = messages.findIndex((m) => m.id === id);
    return index >= 0 && send(text, messages.slice(0, index), messages[index].attachments || []);
  }

  function newChat() {
    stop();
    store.set({ ...NO_BANNER, messages: [], conversationId: null, owner: store.get().user?.uid || "", editingId: null, draft: "", pending: [] });
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
