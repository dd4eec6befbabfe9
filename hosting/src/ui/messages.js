// The conversation on screen: one <li> per message, kept in step with `messages` by id; model
// answers painted as sanitized Markdown (once per animation frame while streaming); a
// question's attachments (thumbnails: blob: URLs, revoked when the message leaves the page);
// the empty page when there is nothing; Copy, Edit (any question) and Regenerate / Retry; the
// edit form (`editingId`).

import "../attachments.css";
import { ICONS } from "../icons.js";
import { decorateCodeBlocks, highlightCodeBlocks, renderMarkdown } from "../render.js";
import { watch } from "../state.js";
import { showBanner } from "./banner.js";
import { byTestId, element } from "./dom.js";

const NOTES = {
  stopped: "Stopped.",
  error: "This answer is incomplete.",
  SAFETY: "The answer was cut short by Gemini's safety filters.",
  MAX_TOKENS: "The answer reached its length limit.",
  RECITATION: "The answer was cut short (recitation filter).",
};

function iconButton(action, testid, label, icon, text) {
  const button = element("button", { type: "button", class: "btn-ghost btn-small", "data-action": action, "data-testid": testid, "aria-label": label, title: label });
  button.innerHTML = `${ICONS[icon]}<span class="btn-label">${text}</span>`; // trusted constants only
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
  return li;
}

/** @param {{regenerate: () => void, edit: (id: string, text: string) => void}} chat */
export function mountMessages(store, chat) {
  const list = byTestId("messages");
  const scroller = byTestId("scroller");
  const emptyState = byTestId("empty-state");
  const composerInput = byTestId("composer-input");
  const nodes = new Map(); // message id -> <li>
  const urls = new Map(); // message id -> the blob: URLs of its thumbnails (revoked when it goes)
  let view = null; // src/attachments/view.js, imported for the first message with attachments
  let shown = new Map(); // message id -> the message object last put on screen

  const isNearBottom = () => scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 96;
  const scrollToBottom = () => {
    scroller.scrollTop = scroller.scrollHeight;
  };

  function paint(message) {
    const li = nodes.get(message.id);
    if (!li) return;
    const stick = isNearBottom();
    const body = li.querySelector(".message-body");
    body.innerHTML = renderMarkdown(message.text); // sanitized (render.js)
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

  // While an answer streams, paint it at most once per frame; a settled answer is painted now.
  let frame = 0;
  function schedulePaint(id) {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      const message = store.get().messages.find((m) => m.id === id);
      if (message) paint(message);
    });
  }
  function paintNow(message) {
    cancelAnimationFrame(frame);
    frame = 0;
    paint(message);
  }

  watch(store, ["messages"], ({ messages }) => {
    emptyState.hidden = messages.length > 0;
    list.hidden = messages.length === 0;
    const wanted = new Set(messages.map((m) => m.id));
    for (const [id, li] of nodes) {
      if (wanted.has(id)) continue;
      li.remove();
      nodes.delete(id);
      for (const url of urls.get(id) || []) URL.revokeObjectURL(url);
      urls.delete(id);
    }
    let added = 0;
    let cursor = list.firstElementChild;
    for (const message of messages) {
      let li = nodes.get(message.id);
      if (li === cursor) cursor = cursor.nextElementSibling;
      else if (li) list.insertBefore(li, cursor);
      if (li && message.role === "model" && shown.get(message.id) !== message) {
        if (message.state === "streaming") schedulePaint(message.id);
        else paintNow(message);
      }
      if (li && message.role === "user" && shown.get(message.id)?.attachments !== message.attachments) {
        paintAttachments(li, message); // e.g. its bytes are no longer kept (history)
      }
      if (li) continue;
      li = messageNode(message);
      nodes.set(message.id, li);
      if (message.attachments?.length) paintAttachments(li, message);
      list.insertBefore(li, cursor);
      added += 1;
      if (message.role === "model") paint(message);
    }
    shown = new Map(messages.map((m) => [m.id, m]));
    if (added || !messages.length) scrollToBottom();
  });

  /** A question's attachments, above its text (thumbnails load like any image: soon after). */
  async function paintAttachments(li, message) {
    view ||= import("../attachments/view.js").catch((error) => {
      view = null; // tried again for the next message
      throw error;
    });
    let messageAttachments;
    try {
      ({ messageAttachments } = await view);
    } catch {
      return; // e.g. offline after a new version was deployed: the text is shown, the files not
    }
    // Still on screen with these attachments? (It may have gone, or changed, meanwhile.)
    if (nodes.get(message.id) !== li || store.get().messages.find((m) => m.id === message.id)?.attachments !== message.attachments) return;
    for (const url of urls.get(message.id) || []) URL.revokeObjectURL(url);
    li.querySelector(".message-attachments")?.remove();
    urls.delete(message.id);
    if (!message.attachments?.length) return;
    const { list, urls: made } = messageAttachments(message.attachments);
    li.querySelector(".message-text").before(list);
    urls.set(message.id, made);
  }

  // The edit form, in place of the message being edited.
  let editing = null; // {id, li, form, save}
  function closeEdit() {
    if (!editing) return;
    editing.form.remove();
    editing.li.classList.remove("is-editing");
    editing.li.querySelector(".bubble").hidden = false;
    editing.li.querySelector(".message-actions").hidden = false;
    editing = null;
  }
  watch(store, ["editingId", "messages"], ({ editingId, messages }) => {
    const message = editingId && messages.find((m) => m.id === editingId);
    const li = message && nodes.get(message.id);
    if (editing && editing.li === li) return;
    closeEdit();
    if (li) openEdit(message, li);
  });
  function openEdit(message, li) {
    li.classList.add("is-editing");
    const form = element("form", { class: "edit-form", "data-testid": "edit-form" });
    const label = element("label", { class: "visually-hidden", for: "edit-input" }, "Edit your message");
    const area = element("textarea", { id: "edit-input", class: "edit-input", "data-testid": "edit-input", rows: "3" });
    area.value = message.text;
    const files = message.attachments?.length || 0;
    const kept = files && element("p", { class: "edit-attachments", "data-testid": "edit-attachments" },
      `Sent again with its ${files === 1 ? "attachment" : `${files} attachments`}.`);
    const row = element("div", { class: "edit-actions" });
    const cancel = element("button", { type: "button", class: "btn-secondary", "data-testid": "edit-cancel" }, "Cancel");
    const save = element("button", { type: "submit", class: "btn-primary", "data-testid": "edit-save" }, "Send");
    save.disabled = store.get().busy; // sent once the answer streaming now has ended
    row.append(cancel, save);
    form.append(label, area);
    if (kept) form.append(kept);
    form.append(row);
    li.querySelector(".bubble").hidden = true;
    li.querySelector(".message-actions").hidden = true;
    li.prepend(form);
    editing = { id: message.id, li, form, save };
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);

    cancel.addEventListener("click", () => {
      store.set({ editingId: null });
      composerInput.focus();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = area.value.trim();
      // Sent: the form closes (chat clears editingId). Not sent (an answer streaming, a
      // countdown, too long…): the form and the conversation stay as they are. Blank text
      // goes only with attachments.
      if (text || files) chat.edit(message.id, text);
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

  watch(store, ["busy", "editingId"], ({ busy }) => {
    if (editing) editing.save.disabled = busy;
  });

  // Edit on every question (the conversation then continues from it), Regenerate (or Retry) on
  // the last message; none while an answer streams or a message is being edited.
  let placed = "";
  watch(store, ["messages", "busy", "editingId"], ({ messages, busy, editingId }) => {
    const last = messages[messages.length - 1];
    const questions = messages.filter((m) => m.role === "user");
    const where = !busy && !editingId && questions.length ? `${questions.map((m) => m.id)} ${last.id} ${last.role}` : "";
    if (where === placed) return;
    placed = where;
    for (const old of list.querySelectorAll('[data-action="regenerate"], [data-action="edit"]')) old.remove();
    if (!where) return;
    for (const question of questions) {
      const label = question === questions[questions.length - 1] ? "Edit and resend" : "Edit and resend (what follows it is replaced)";
      nodes.get(question.id)?.querySelector(".message-actions")?.append(iconButton("edit", "edit", label, "edit", "Edit"));
    }
    const label = last.role === "user" ? "Retry" : "Regenerate";
    nodes.get(last.id)?.querySelector(".message-actions")?.append(iconButton("regenerate", "regenerate", `${label} the answer`, "regenerate", label));
  });

  function startEdit(id) {
    const { busy, messages } = store.get();
    if (busy) return;
    const question = messages.find((m) => m.id === id && m.role === "user");
    if (question && nodes.has(question.id)) store.set({ editingId: question.id });
  }

  async function copyText(text, button) {
    try {
      await navigator.clipboard.writeText(text);
      flashCopied(button);
    } catch {
      showBanner(store, { code: "clipboard", message: "Copying failed: the browser did not allow access to the clipboard." });
    }
  }

  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    if (action === "copy-code") {
      const pre = button.closest(".code-block")?.querySelector("pre");
      if (pre) copyText(pre.textContent, button);
    } else if (action === "copy-message") {
      const id = button.closest("li.message")?.dataset.id;
      const message = store.get().messages.find((m) => m.id === id);
      if (message) copyText(message.text, button);
    } else if (action === "regenerate") {
      chat.regenerate();
    } else if (action === "edit") {
      startEdit(button.closest("li.message")?.dataset.id);
    }
  });
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
