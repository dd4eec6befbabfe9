// The history list (its own chunk: main.js imports it once someone is signed in with history on):
// the sidebar on wide screens, a drawer on narrow ones (`drawerOpen`); New chat, search across
// titles and text, and per conversation Open, Rename, Markdown and Delete (with Undo). Titles and
// snippets are the user's text: set with textContent only. Export all, Import and Delete all
// are in ui/history-tools.js. The data comes from the state (`conversations`, `conversationId`,
// `historyStatus`), written by src/history/session.js; actions go through `history`.
//
// Keyboard: every control is a button; ↑/↓/Home/End move between conversations, Enter opens,
// F2 renames, Delete deletes; Esc clears the search, then closes the drawer.

import { ICONS } from "../icons.js";
import { watch } from "../state.js";
import { clearBanner } from "./banner.js";
import { focusComposer } from "./composer.js";
import { byTestId, element } from "./dom.js";
import { mountHistoryTools } from "./history-tools.js";

const NARROW = "(max-width: 860px)";
const SEARCH_DELAY_MS = 150;
const svg = (path) => `<svg aria-hidden="true" focusable="false" viewBox="0 0 24 24" width="16" height="16"><path fill="currentColor" d="${path}"/></svg>`;
const ACTION_ICONS = {
  rename: ICONS.edit,
  markdown: svg("M5 20h14v-2H5v2zm14-11h-4V3H9v6H5l7 7 7-7z"),
  delete: svg("M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6v12zM19 4h-3.5l-1-1h-5l-1 1H5v2h14V4z"),
};
const ACTION_LABELS = { rename: "Rename", markdown: "Export as Markdown", delete: "Delete" };
export const titleOf = (c) => c.title || "New chat";
/** A preview or snippet without the Markdown marks that read as noise in one line (**, `, # …). */
export const plainLine = (text) => text.replace(/\*\*|__|`+/g, "").replace(/^(…?)(#{1,6}|>)\s+/, "$1");

function itemNode(id) {
  const li = element("li", { class: "history-item", "data-id": id, "data-testid": "history-item" });
  const open = element("button", { type: "button", class: "history-open", "data-action": "open", "data-testid": "history-open" });
  open.append(element("span", { class: "history-title", "data-testid": "history-title" }), element("span", { class: "history-detail", "data-testid": "history-detail" }));
  const actions = element("div", { class: "history-actions" });
  for (const action of Object.keys(ACTION_ICONS)) {
    const button = element("button", { type: "button", class: "btn-icon history-action", "data-action": action, "data-testid": `history-${action}`, title: ACTION_LABELS[action] });
    button.innerHTML = ACTION_ICONS[action]; // trusted constants only
    actions.append(button);
  }
  li.append(open, actions);
  return li;
}

function fill(li, c, current) {
  const title = titleOf(c);
  li.querySelector(".history-title").textContent = title;
  li.querySelector(".history-detail").textContent = plainLine(c.snippet ?? c.preview ?? "");
  const open = li.querySelector(".history-open");
  if (current) open.setAttribute("aria-current", "true");
  else open.removeAttribute("aria-current");
  li.classList.toggle("is-current", current);
  for (const button of li.querySelectorAll(".history-action")) {
    button.setAttribute("aria-label", `${ACTION_LABELS[button.dataset.action]}: ${title}`);
  }
}

/** @param {{newChat: () => void, stop: () => void}} chat  @param history  src/history/session.js */
export function mountHistory(store, chat, history) {
  const ui = {
    sidebar: byTestId("history"),
    toggle: byTestId("history-toggle"),
    close: byTestId("history-close"),
    scrim: byTestId("history-scrim"),
    newChat: byTestId("history-new-chat"),
    search: byTestId("history-search"),
    empty: byTestId("history-empty"),
    list: byTestId("history-list"),
  };
  const outside = [document.querySelector(".topbar"), document.querySelector(".main")];
  const nodes = new Map(); // conversation id -> <li>
  let query = "";
  let results = null; // search results while there is a query
  let timer = 0; // the search to come
  let searched = 0; // the latest search: older answers are dropped
  const tools = mountHistoryTools(store, chat, history);

  // The sidebar / drawer.
  watch(store, ["historyStatus", "drawerOpen"], ({ historyStatus, drawerOpen }) => {
    const on = historyStatus !== "off";
    const open = on && drawerOpen;
    ui.sidebar.hidden = !on;
    ui.toggle.hidden = !on;
    ui.sidebar.classList.toggle("is-open", open);
    ui.scrim.hidden = !open;
    ui.toggle.setAttribute("aria-expanded", String(open));
    for (const el of outside) if (el) el.inert = open; // the drawer is modal while it covers the page
  });
  function closeDrawer(returnFocus) {
    if (!store.get().drawerOpen) return;
    store.set({ drawerOpen: false });
    if (returnFocus) ui.toggle.focus();
  }
  ui.toggle.addEventListener("click", () => {
    const drawerOpen = !store.get().drawerOpen;
    store.set({ drawerOpen });
    if (drawerOpen) ui.search.focus();
  });
  ui.close.addEventListener("click", () => closeDrawer(true));
  ui.scrim.addEventListener("click", () => closeDrawer(true));
  globalThis.matchMedia?.(NARROW).addEventListener?.("change", (event) => {
    if (!event.matches) closeDrawer(false);
  });

  // The list: the conversations, or the search results.
  function render(state = store.get()) {
    const { historyStatus, historyError, conversations, conversationId } = state;
    const items = results ?? conversations ?? [];
    let note = "";
    if (historyStatus === "unavailable") note = historyError || "History isn't available in this browser.";
    else if (!conversations) note = "Loading your conversations…";
    else if (results && !results.length) note = `No conversation matches “${query.trim()}”.`;
    else if (!conversations.length) note = "No conversations yet. The ones you have are listed here.";
    ui.empty.textContent = note;
    ui.empty.hidden = !note;
    ui.list.classList.toggle("is-search", Boolean(results));
    const wanted = new Set(items.map((c) => c.id));
    for (const [id, li] of nodes) {
      if (wanted.has(id)) continue;
      li.remove();
      nodes.delete(id);
    }
    let cursor = ui.list.firstElementChild;
    for (const c of items) {
      let li = nodes.get(c.id);
      if (!li) {
        li = itemNode(c.id);
        nodes.set(c.id, li);
      }
      fill(li, c, c.id === conversationId);
      if (li === cursor) cursor = cursor.nextElementSibling;
      else ui.list.insertBefore(li, cursor);
    }
  }
  // Another account, or history turned off and on: nothing of the last one's search or status.
  watch(store, ["historyStatus"], ({ historyStatus }) => {
    if (historyStatus !== "loading" && historyStatus !== "off") return;
    clearTimeout(timer);
    searched += 1;
    query = "";
    results = null;
    ui.search.value = "";
    tools.reset();
  });
  watch(store, ["conversations", "conversationId", "historyStatus", "historyError"], (state) => {
    render(state);
    if (results) scheduleSearch(); // the list changed: so may the matches
  });

  // Search (as you type, a little after the last key).
  function scheduleSearch() {
    clearTimeout(timer);
    timer = setTimeout(runSearch, SEARCH_DELAY_MS);
  }
  async function runSearch() {
    const q = query;
    const mine = ++searched;
    try {
      const found = await history.search(q, { limit: 100 });
      if (mine !== searched || q !== query || !q.trim()) return;
      results = found;
    } catch (error) {
      if (mine !== searched) return;
      results = [];
      tools.say(error?.message || String(error), true);
    }
    render();
  }
  ui.search.addEventListener("input", () => {
    query = ui.search.value;
    if (query.trim()) return scheduleSearch();
    clearTimeout(timer);
    searched += 1;
    results = null;
    render();
  });

  // Per conversation.
  async function open(id) {
    const state = store.get();
    closeDrawer(false);
    if (state.conversationId !== id) {
      if (state.busy) chat.stop();
      if (state.banner?.code === "history_trimmed") clearBanner(store);
      if (!(await history.open(id))) return;
    }
    focusComposer(store);
  }

  function rename(li) {
    if (li.querySelector(".rename-form")) return;
    const id = li.dataset.id;
    const button = li.querySelector(".history-open");
    const before = (store.get().conversations || []).find((c) => c.id === id)?.title || "";
    const form = element("form", { class: "rename-form", "data-testid": "rename-form" });
    const input = element("input", { type: "text", class: "rename-input", "data-testid": "rename-input", "aria-label": "Name of this conversation", maxlength: "200", autocomplete: "off" });
    input.value = before;
    form.append(input);
    button.hidden = true;
    li.classList.add("is-renaming");
    li.prepend(form);
    input.focus();
    input.select();
    let done = false;
    const finish = async (save, refocus) => {
      if (done) return;
      done = true;
      const title = input.value.trim();
      form.remove();
      button.hidden = false;
      li.classList.remove("is-renaming");
      if (refocus) button.focus();
      if (!save || !title || title === before) return;
      try {
        await history.rename(id, title);
      } catch (error) {
        tools.say(error?.message || String(error), true);
      }
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      finish(true, true);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      event.stopPropagation();
      finish(false, true);
    });
    input.addEventListener("blur", () => finish(true, false));
  }

  ui.list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    const li = button?.closest("li.history-item");
    if (!li) return;
    const { action } = button.dataset;
    if (action === "open") open(li.dataset.id);
    else if (action === "rename") rename(li);
    else if (action === "markdown") tools.exportMarkdown(li.dataset.id);
    else if (action === "delete") tools.remove(li.dataset.id, li);
  });
  ui.list.addEventListener("keydown", (event) => {
    const li = event.target.closest("li.history-item");
    if (!li || event.target.closest(".rename-form")) return;
    const buttons = [...ui.list.querySelectorAll(".history-open")];
    const at = buttons.indexOf(li.querySelector(".history-open"));
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (to !== undefined) {
      event.preventDefault();
      buttons[Math.max(0, Math.min(buttons.length - 1, to))]?.focus();
    } else if (event.key === "F2") {
      event.preventDefault();
      rename(li);
    } else if (event.key === "Delete") {
      event.preventDefault();
      tools.remove(li.dataset.id, li);
    }
  });
  ui.search.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      ui.list.querySelector(".history-open")?.focus();
    }
  });
  ui.sidebar.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented) return;
    if (event.target === ui.search && ui.search.value) {
      ui.search.value = "";
      ui.search.dispatchEvent(new Event("input"));
    } else if (store.get().drawerOpen) {
      closeDrawer(true);
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation(); // not the composer's "Esc stops the answer"
  });
  // Esc outside the drawer (e.g. nothing focused) closes it too, before the composer's "Esc stops".
  document.addEventListener(
    "keydown",
    (event) => {
      if (event.key !== "Escape" || !store.get().drawerOpen || ui.sidebar.contains(event.target)) return;
      event.preventDefault();
      event.stopPropagation();
      closeDrawer(true);
    },
    true,
  );
  ui.newChat.addEventListener("click", () => {
    closeDrawer(false);
    chat.newChat();
  });

  return { open, render };
}
