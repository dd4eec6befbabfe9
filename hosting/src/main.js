// The chat page: wires the static markup of index.html to auth, the chat API and rendering.
// No inline styles anywhere: state is shown through classes, `hidden` and data-* attributes.

import "./styles.css";
import { fetchMe, normalizeQuota, quotaText, revokeSessions, sendChat, useAppCheck } from "./api.js";
import { startAppCheck } from "./appcheck.js";
import { startAuth } from "./auth.js";
import { loadRuntimeConfig } from "./config.js";
import { DEFAULT_LIMITS, buildRequest, deserialize, exportFileName, serialize, toMarkdown } from "./conversation.js";
import { ApiError, countdownText, describeError } from "./errors.js";
import { ICONS } from "./icons.js";
import { decorateCodeBlocks, highlightCodeBlocks, renderMarkdown } from "./render.js";
import { initThemeToggle } from "./theme.js";

const KEEP_KEY = "jette.keep";
const CONVERSATION_KEY = "jette.conversation";

const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
const ui = {
  signIn: byTestId("sign-in"),
  signInMain: byTestId("sign-in-main"),
  userMenu: byTestId("user-menu"),
  userName: byTestId("user-name"),
  userEmail: byTestId("user-email"),
  avatar: byTestId("user-avatar"),
  avatarFallback: byTestId("user-initial"),
  signOut: byTestId("sign-out"),
  signOutEverywhere: byTestId("sign-out-everywhere"),
  newChat: byTestId("new-chat"),
  exportButton: byTestId("export"),
  settingsButton: byTestId("settings-button"),
  settingsDialog: byTestId("settings-dialog"),
  keepToggle: byTestId("keep-session-toggle"),
  scroller: byTestId("scroller"),
  emptyState: byTestId("empty-state"),
  messages: byTestId("messages"),
  banner: byTestId("error-banner"),
  bannerMessage: byTestId("error-message"),
  bannerDetail: byTestId("error-detail"),
  countdown: byTestId("countdown"),
  bannerSignIn: byTestId("error-sign-in"),
  retry: byTestId("retry"),
  dismiss: byTestId("dismiss-error"),
  composer: byTestId("composer"),
  input: byTestId("composer-input"),
  send: byTestId("send"),
  stop: byTestId("stop"),
  quota: byTestId("quota"),
  charCount: byTestId("char-count"),
};

const state = {
  config: null,
  authApi: null,
  authKnown: false,
  user: null,
  notAllowed: false,
  limits: DEFAULT_LIMITS,
  /** @type {import("./conversation.js").Message[]} */
  messages: [],
  owner: "",
  busy: false,
  controller: null,
  editingId: null,
  blockedUntil: 0,
  countdownTimer: 0,
  quota: null,
  keep: false,
  bannerAction: null,
};

let nextId = 1;
const newId = () => `m${Date.now().toString(36)}-${nextId++}`;
const nodes = new Map(); // message id -> <li>

// ---------------------------------------------------------------- storage (tab only)

function storage() {
  try {
    return globalThis.sessionStorage;
  } catch {
    return null;
  }
}

function persist() {
  const store = storage();
  if (!store) return;
  try {
    if (state.keep && state.messages.length) store.setItem(CONVERSATION_KEY, serialize(state.messages, state.owner));
    else store.removeItem(CONVERSATION_KEY);
  } catch {
    // quota exceeded or storage disabled: the conversation stays in memory only
  }
}

function restore() {
  const store = storage();
  if (!store) return;
  try {
    state.keep = store.getItem(KEEP_KEY) === "1";
    if (!state.keep) {
      store.removeItem(CONVERSATION_KEY);
      return;
    }
    const saved = store.getItem(CONVERSATION_KEY);
    if (saved) {
      const { owner, messages } = deserialize(saved);
      state.owner = owner;
      state.messages = messages;
    }
  } catch {
    state.keep = false;
  }
}

function setKeep(on) {
  state.keep = on;
  const store = storage();
  try {
    if (on) store?.setItem(KEEP_KEY, "1");
    else store?.removeItem(KEEP_KEY);
  } catch {
    // ignore
  }
  persist();
}

// ---------------------------------------------------------------- messages

function element(tag, attrs = {}, text) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  if (text !== undefined) el.textContent = text;
  return el;
}

function iconButton(action, testid, label, icon, text) {
  const button = element("button", { type: "button", class: "btn-ghost btn-small", "data-action": action, "data-testid": testid, "aria-label": label, title: label });
  button.innerHTML = `${ICONS[icon]}<span class="btn-label">${text}</span>`;
  return button;
}

function messageNode(message) {
  const li = element("li", {
    class: `message message-${message.role}`,
    "data-testid": "message",
    "data-role": message.role,
    "data-id": message.id,
    "data-state": message.state || "done",
  });
  const who = element("span", { class: "visually-hidden" }, message.role === "user" ? "You said:" : "Gemini said:");
  const actions = element("div", { class: "message-actions" });
  actions.append(iconButton("copy-message", "copy-message", "Copy message", "copy", "Copy"));
  if (message.role === "user") {
    const bubble = element("div", { class: "bubble" });
    bubble.append(who, element("div", { class: "message-text", "data-testid": "message-text" }, message.text));
    li.append(bubble, actions);
  } else {
    const avatar = element("div", { class: "model-avatar", "aria-hidden": "true" });
    avatar.innerHTML = ICONS.spark;
    const content = element("div", { class: "model-content" });
    const body = element("div", { class: "message-body markdown", "data-testid": "message-text" });
    const note = element("p", { class: "message-note", "data-testid": "message-note", hidden: true });
    content.append(who, body, note, actions);
    li.append(avatar, content);
  }
  nodes.set(message.id, li);
  return li;
}

const NOTES = {
  stopped: "Stopped.",
  error: "This answer is incomplete.",
  SAFETY: "The answer was cut short by Gemini's safety filters.",
  MAX_TOKENS: "The answer reached its length limit.",
  RECITATION: "The answer was cut short (recitation filter).",
};

function paintModel(message) {
  const li = nodes.get(message.id);
  if (!li) return;
  const stick = isNearBottom();
  const body = li.querySelector(".message-body");
  body.innerHTML = renderMarkdown(message.text);
  decorateCodeBlocks(body);
  li.dataset.state = message.state || "done";
  li.setAttribute("aria-busy", message.state === "streaming" ? "true" : "false");
  const note = li.querySelector(".message-note");
  const noteText = NOTES[message.state] || (message.state === "done" ? NOTES[message.finishReason] : "");
  note.textContent = noteText || "";
  note.hidden = !noteText;
  if (message.state !== "streaming") {
    highlightCodeBlocks(body).catch(() => {
      // highlighting is cosmetic: the plain code stays
    });
  }
  if (stick) scrollToBottom();
}

let paintQueued = null;
function schedulePaint(message) {
  if (paintQueued) return;
  paintQueued = requestAnimationFrame(() => {
    paintQueued = null;
    paintModel(message);
  });
}

function flushPaint(message) {
  if (paintQueued) cancelAnimationFrame(paintQueued);
  paintQueued = null;
  paintModel(message);
}

function appendMessage(message) {
  const li = messageNode(message);
  ui.messages.append(li);
  if (message.role === "model") paintModel(message);
  return li;
}

function renderAll() {
  nodes.clear();
  ui.messages.replaceChildren();
  for (const message of state.messages) appendMessage(message);
  state.editingId = null;
  refreshControls();
  scrollToBottom();
}

function removeMessage(message) {
  state.messages = state.messages.filter((m) => m !== message);
  nodes.get(message.id)?.remove();
  nodes.delete(message.id);
}

function isNearBottom() {
  const s = ui.scroller;
  return s.scrollHeight - s.scrollTop - s.clientHeight < 96;
}

function scrollToBottom() {
  ui.scroller.scrollTop = ui.scroller.scrollHeight;
}

// ---------------------------------------------------------------- controls

function countdownActive() {
  return state.blockedUntil > Date.now();
}

function refreshControls() {
  const hasMessages = state.messages.length > 0;
  ui.emptyState.hidden = hasMessages;
  ui.messages.hidden = !hasMessages;
  ui.send.hidden = state.busy;
  ui.stop.hidden = !state.busy;
  ui.composer.classList.toggle("is-busy", state.busy);
  const length = ui.input.value.length;
  const over = length > state.limits.maxMessageChars;
  ui.input.disabled = state.notAllowed;
  ui.input.placeholder = state.notAllowed ? "This account cannot chat here" : "Message Gemini";
  ui.send.disabled = state.busy || state.notAllowed || over || countdownActive() || ui.input.value.trim() === "";
  ui.exportButton.disabled = !hasMessages;
  ui.newChat.disabled = !hasMessages && !state.busy;
  ui.retry.disabled = state.busy || countdownActive() || !state.messages.some((m) => m.role === "user");

  const near = length >= state.limits.maxMessageChars * 0.8;
  ui.charCount.hidden = !near;
  ui.charCount.classList.toggle("is-over", over);
  ui.charCount.textContent = near ? `${length.toLocaleString()} / ${state.limits.maxMessageChars.toLocaleString()}` : "";

  // Regenerate (or Retry) on the last message, Edit on the last user message; one of each at most.
  for (const old of ui.messages.querySelectorAll('[data-action="regenerate"], [data-action="edit"]')) old.remove();
  if (state.busy || !hasMessages || state.editingId) return;
  const last = state.messages[state.messages.length - 1];
  const lastUser = [...state.messages].reverse().find((m) => m.role === "user");
  if (lastUser) {
    const actions = nodes.get(lastUser.id)?.querySelector(".message-actions");
    actions?.append(iconButton("edit", "edit", "Edit and resend", "edit", "Edit"));
    const lastActions = nodes.get(last.id)?.querySelector(".message-actions");
    const label = last.role === "user" ? "Retry" : "Regenerate";
    lastActions?.append(iconButton("regenerate", "regenerate", `${label} the answer`, "regenerate", label));
  }
}

function updateComposerSize() {
  const lines = ui.input.value.split("\n").length;
  ui.input.rows = Math.min(8, Math.max(1, lines));
}

function focusComposer() {
  if (ui.settingsDialog.open || state.editingId) return;
  if (!ui.input.disabled) ui.input.focus();
}

// ---------------------------------------------------------------- banner, countdown, quota

function clearBanner() {
  ui.banner.hidden = true;
  ui.bannerMessage.textContent = "";
  ui.bannerDetail.textContent = "";
  ui.bannerDetail.hidden = true;
  ui.countdown.hidden = true;
  ui.bannerSignIn.hidden = true;
  ui.retry.hidden = true;
  state.bannerAction = null;
  stopCountdown();
}

function showBanner({ code = "unknown", message, detail = "", action = null, retryAfter = null }) {
  clearBanner();
  ui.banner.dataset.code = code;
  ui.bannerMessage.textContent = message;
  ui.bannerDetail.textContent = detail;
  ui.bannerDetail.hidden = !detail;
  state.bannerAction = action;
  if (action === "sign-in" || action === "switch-account") {
    ui.bannerSignIn.hidden = false;
    ui.bannerSignIn.textContent =
      action === "switch-account" ? "Use another account" : state.user ? "Sign in again" : "Sign in with Google";
  }
  if (action === "retry") ui.retry.hidden = false;
  ui.banner.hidden = false;
  if (retryAfter) startCountdown(retryAfter);
  refreshControls();
}

function showError(error) {
  const described = describeError(error, { signedIn: Boolean(state.user) });
  if (described.code === "permission_denied" && state.user) described.action = "switch-account";
  showBanner(described);
}

function stopCountdown() {
  clearInterval(state.countdownTimer);
  state.countdownTimer = 0;
  state.blockedUntil = 0;
}

function startCountdown(seconds) {
  state.blockedUntil = Date.now() + seconds * 1000;
  ui.countdown.hidden = false;
  const tick = () => {
    const left = Math.max(0, Math.ceil((state.blockedUntil - Date.now()) / 1000));
    ui.countdown.textContent = countdownText(left);
    if (left <= 0) {
      clearInterval(state.countdownTimer);
      state.countdownTimer = 0;
      state.blockedUntil = 0;
      refreshControls();
    }
  };
  tick();
  state.countdownTimer = setInterval(tick, 1000);
}

function setQuota(quota) {
  if (!quota) return;
  const merged = { ...quota, tokensLimit: quota.tokensLimit ?? state.quota?.tokensLimit ?? null };
  state.quota = merged;
  const text = quotaText(merged);
  ui.quota.hidden = !text;
  ui.quota.textContent = text || "";
  const parts = [];
  if (merged.requestsLeft !== null) parts.push(`Requests left in the tightest rate-limit window: ${merged.requestsLeft}`);
  if (merged.tokensLeft !== null) parts.push(`Gemini tokens left today: ${merged.tokensLeft.toLocaleString()} (resets at midnight UTC)`);
  ui.quota.title = parts.join("\n");
}

function clearQuota() {
  state.quota = null;
  ui.quota.hidden = true;
  ui.quota.textContent = "";
}

// ---------------------------------------------------------------- chat

async function send(text) {
  const trimmed = text.trim();
  if (!state.config) {
    showError(new ApiError("config"));
    return;
  }
  if (state.busy || !trimmed || state.notAllowed || countdownActive()) return;
  if (trimmed.length > state.limits.maxMessageChars) {
    showBanner({
      code: "invalid_argument",
      message: `Your message is too long (${trimmed.length.toLocaleString()} characters; the limit is ${state.limits.maxMessageChars.toLocaleString()}).`,
    });
    return;
  }
  clearBanner();
  const before = state.messages.slice();
  const user = { id: newId(), role: "user", text: trimmed, state: "done" };
  const model = { id: newId(), role: "model", text: "", state: "streaming" };
  state.messages.push(user, model);
  appendMessage(user);
  appendMessage(model);
  scrollToBottom();

  const controller = new AbortController();
  state.busy = true;
  state.controller = controller;
  refreshControls();
  focusComposer();
  const { body } = buildRequest(before, trimmed, state.limits);
  try {
    const attempt = async (forceRefresh) => {
      let token = null;
      try {
        token = await state.authApi?.token(forceRefresh);
      } catch (error) {
        throw error?.code === "auth/network-request-failed" ? new ApiError("network") : new ApiError("unauthenticated");
      }
      return sendChat({
        chatUrl: state.config.chatUrl,
        token,
        body,
        signal: controller.signal,
        onDelta(delta) {
          model.text += delta;
          schedulePaint(model);
        },
      });
    };
    let result;
    try {
      result = await attempt(false);
    } catch (error) {
      // A 401 comes before any text: refresh the ID token once (clock skew, a token that just
      // expired); a revoked session fails the refresh and ends as "session ended".
      if (!(error?.code === "unauthenticated" && state.user && !model.text)) throw error;
      result = await attempt(true);
    }
    model.state = "done";
    model.finishReason = result.finishReason;
    if (result.quota) setQuota(normalizeQuota(result.quota));
  } catch (error) {
    if (error?.name === "AbortError") {
      model.state = "stopped";
    } else {
      model.state = "error";
      if (error?.code === "permission_denied") setNotAllowed(true);
      showError(error);
    }
  } finally {
    state.busy = false;
    state.controller = null;
    if (model.text) flushPaint(model);
    else removeMessage(model);
    refreshControls();
    persist();
    focusComposer();
  }
}

function stop() {
  state.controller?.abort();
}

function regenerate() {
  if (state.busy) return;
  let index = -1;
  for (let i = state.messages.length - 1; i >= 0; i -= 1) {
    if (state.messages[i].role === "user") {
      index = i;
      break;
    }
  }
  if (index < 0) return;
  const text = state.messages[index].text;
  state.messages = state.messages.slice(0, index);
  renderAll();
  send(text);
}

function startEdit() {
  if (state.busy) return;
  const lastUser = [...state.messages].reverse().find((m) => m.role === "user");
  const li = lastUser && nodes.get(lastUser.id);
  if (!li) return;
  state.editingId = lastUser.id;
  li.classList.add("is-editing");
  const form = element("form", { class: "edit-form", "data-testid": "edit-form" });
  const label = element("label", { class: "visually-hidden", for: "edit-input" }, "Edit your message");
  const area = element("textarea", { id: "edit-input", class: "edit-input", "data-testid": "edit-input", rows: "3" });
  area.value = lastUser.text;
  const row = element("div", { class: "edit-actions" });
  const cancel = element("button", { type: "button", class: "btn-secondary", "data-testid": "edit-cancel" }, "Cancel");
  const save = element("button", { type: "submit", class: "btn-primary", "data-testid": "edit-save" }, "Send");
  row.append(cancel, save);
  form.append(label, area, row);
  li.querySelector(".bubble").hidden = true;
  li.querySelector(".message-actions").hidden = true;
  li.prepend(form);
  refreshControls();
  area.focus();
  area.setSelectionRange(area.value.length, area.value.length);

  const finish = () => {
    form.remove();
    li.classList.remove("is-editing");
    li.querySelector(".bubble").hidden = false;
    li.querySelector(".message-actions").hidden = false;
    state.editingId = null;
  };
  cancel.addEventListener("click", () => {
    finish();
    refreshControls();
    ui.input.focus();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = area.value.trim();
    if (!text) return;
    const index = state.messages.indexOf(lastUser);
    finish();
    state.messages = state.messages.slice(0, index);
    renderAll();
    send(text);
  });
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      cancel.click();
    }
  });
}

function newChat() {
  stop();
  state.messages = [];
  state.owner = state.user?.uid || "";
  clearBanner();
  renderAll();
  persist();
  ui.input.value = "";
  updateComposerSize();
  refreshControls();
  focusComposer();
}

function exportMarkdown() {
  if (!state.messages.length) return;
  const blob = new Blob([toMarkdown(state.messages)], { type: "text/markdown;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const link = element("a", { href: url, download: exportFileName(), class: "visually-hidden" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    flashCopied(button);
  } catch {
    showBanner({ code: "clipboard", message: "Copying failed: the browser did not allow access to the clipboard." });
  }
}

function flashCopied(button) {
  const label = button.querySelector(".btn-label");
  if (!label) return;
  const before = label.textContent;
  label.textContent = "Copied";
  button.classList.add("is-done");
  setTimeout(() => {
    label.textContent = before;
    button.classList.remove("is-done");
  }, 1500);
}

// ---------------------------------------------------------------- auth

function setNotAllowed(on) {
  state.notAllowed = on;
  document.body.dataset.allowed = on ? "false" : "true";
  refreshControls();
}

function showUser(user) {
  const signedIn = Boolean(user);
  document.body.dataset.authState = signedIn ? "signed-in" : "signed-out";
  ui.signIn.hidden = signedIn;
  ui.userMenu.hidden = !signedIn;
  for (const el of document.querySelectorAll(".signed-out-only")) el.hidden = signedIn;
  if (!signedIn) {
    ui.userMenu.open = false;
    ui.avatar.removeAttribute("src");
    return;
  }
  const name = user.displayName || user.email || "Signed in";
  ui.userName.textContent = name;
  ui.userEmail.textContent = user.email || "";
  ui.userMenu.querySelector("summary").setAttribute("aria-label", `Account: ${name}`);
  if (user.photoURL && /^https:\/\//.test(user.photoURL)) {
    ui.avatar.src = user.photoURL;
    ui.avatar.hidden = false;
    ui.avatarFallback.hidden = true;
  } else {
    ui.avatar.hidden = true;
    ui.avatar.removeAttribute("src");
    ui.avatarFallback.hidden = false;
    ui.avatarFallback.textContent = name.trim().charAt(0).toUpperCase();
  }
}

async function loadMe() {
  const user = state.user;
  try {
    const token = await user.getIdToken();
    const me = await fetchMe(token);
    if (state.user !== user) return;
    setNotAllowed(false);
    setQuota(normalizeQuota(me.quota));
    if (!user.displayName && me.name) ui.userName.textContent = me.name;
  } catch (error) {
    if (state.user !== user) return;
    if (error?.code === "permission_denied") {
      setNotAllowed(true);
      showError(error);
    } else if (error?.code === "unauthenticated") {
      showError(error);
    }
    // Anything else (offline, no auth function in this setup): the quota is simply not shown.
  }
}

function onUser(user) {
  const previous = state.user;
  state.user = user;
  if (!state.authKnown) {
    state.authKnown = true;
    document.body.dataset.appState = "ready";
  }
  const owner = user?.uid || "";
  // A conversation never outlives its account: signing out, or another account, clears it.
  if ((previous && previous.uid !== owner) || (state.messages.length && state.owner !== owner)) {
    stop();
    state.messages = [];
    renderAll();
  }
  state.owner = owner;
  persist();
  showUser(user);
  setNotAllowed(false);
  clearQuota();
  if (ui.banner.dataset.code === "unauthenticated" || ui.banner.dataset.code === "permission_denied") clearBanner();
  if (user) loadMe();
  refreshControls();
}

async function signIn() {
  if (!state.authApi) return;
  if (state.notAllowed || state.bannerAction === "switch-account") await state.authApi.signOut();
  await state.authApi.signIn();
}

async function signOutEverywhere() {
  const user = state.user;
  if (!user) return;
  ui.signOutEverywhere.disabled = true;
  try {
    const token = await user.getIdToken();
    await revokeSessions(token);
    await state.authApi.signOut();
  } catch (error) {
    showError(error);
  } finally {
    ui.signOutEverywhere.disabled = false;
  }
}

// ---------------------------------------------------------------- wiring

function wire() {
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.input.value;
    if (ui.send.disabled || !text.trim()) return;
    ui.input.value = "";
    updateComposerSize();
    send(text);
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.composer.requestSubmit();
    }
  });
  ui.input.addEventListener("input", () => {
    updateComposerSize();
    refreshControls();
  });
  ui.stop.addEventListener("click", () => {
    stop();
    ui.input.focus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.busy && !ui.settingsDialog.open) {
      event.preventDefault();
      stop();
    }
  });
  ui.messages.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    if (action === "copy-code") {
      const pre = button.closest(".code-block")?.querySelector("pre");
      if (pre) copyText(pre.textContent, button);
    } else if (action === "copy-message") {
      const id = button.closest("li.message")?.dataset.id;
      const message = state.messages.find((m) => m.id === id);
      if (message) copyText(message.text, button);
    } else if (action === "regenerate") {
      regenerate();
    } else if (action === "edit") {
      startEdit();
    }
  });
  ui.newChat.addEventListener("click", newChat);
  ui.exportButton.addEventListener("click", exportMarkdown);
  ui.retry.addEventListener("click", regenerate);
  ui.dismiss.addEventListener("click", () => {
    clearBanner();
    refreshControls();
    focusComposer();
  });
  ui.signIn.addEventListener("click", signIn);
  ui.signInMain.addEventListener("click", signIn);
  ui.bannerSignIn.addEventListener("click", signIn);
  ui.signOut.addEventListener("click", () => state.authApi?.signOut());
  ui.signOutEverywhere.addEventListener("click", signOutEverywhere);
  ui.settingsButton.addEventListener("click", () => ui.settingsDialog.showModal());
  ui.settingsDialog.addEventListener("close", () => ui.settingsButton.focus());
  ui.keepToggle.addEventListener("change", () => setKeep(ui.keepToggle.checked));
  ui.avatar.addEventListener("error", () => {
    ui.avatar.hidden = true;
    ui.avatarFallback.hidden = false;
    ui.avatarFallback.textContent = (ui.userName.textContent || "?").trim().charAt(0).toUpperCase();
  });
  for (const button of document.querySelectorAll("[data-suggestion]")) {
    button.addEventListener("click", () => {
      ui.input.value = button.dataset.suggestion;
      updateComposerSize();
      refreshControls();
      ui.input.focus();
    });
  }
  // Close the account menu on outside click or Escape.
  document.addEventListener("click", (event) => {
    if (ui.userMenu.open && !ui.userMenu.contains(event.target)) ui.userMenu.open = false;
  });
  ui.userMenu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && ui.userMenu.open) {
      ui.userMenu.open = false;
      ui.userMenu.querySelector("summary").focus();
    }
  });
}

async function main() {
  initThemeToggle(byTestId("theme-toggle"));
  wire();
  restore();
  ui.keepToggle.checked = state.keep;
  renderAll();
  updateComposerSize();
  try {
    state.config = await loadRuntimeConfig();
  } catch (error) {
    console.error("Runtime configuration could not be loaded:", error?.message || error);
    document.body.dataset.appState = "error";
    showError(new ApiError("config"));
    return;
  }
  state.limits = state.config.limits;
  try {
    state.authApi = startAuth(state.config, {
      onUser,
      onError: (message) => showBanner({ code: "sign-in", message }),
    });
    // Only with a site key in config.json: the App Check SDK is then loaded in the background.
    useAppCheck(startAppCheck(state.authApi.app, state.config.appCheckSiteKey));
  } catch (error) {
    console.error("Firebase Auth could not start:", error?.message || error);
    document.body.dataset.appState = "error";
    showError(new ApiError("config"));
  }
  refreshControls();
  focusComposer();
}

main();
