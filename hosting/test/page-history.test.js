// @vitest-environment jsdom
// The history on the page (index.html + main.js, ui/history.js, history/session.js) in jsdom with
// fake-indexeddb: the list, open / rename / delete with undo / delete all / search, export and
// import, the setting, the sign-out question, another tab's writes, and the trimming notice.
// The network, the runtime config and Firebase Auth are stood in for as in page.test.js.
import "fake-indexeddb/auto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PAGE_BODY as BODY, $, $$, sleep, stubFrames, stubDialogs } from "./page-harness.js";
import { openHistory } from "../src/history/db.js";
import { connect } from "../src/history/sync.js";

vi.mock("../src/config.js", () => ({ loadRuntimeConfig: vi.fn() }));
vi.mock("../src/auth.js", () => ({ startAuth: vi.fn() }));
vi.mock("../src/api.js", async (importOriginal) => ({
  ...(await importOriginal()),
  sendChat: vi.fn(),
  fetchMe: vi.fn(),
  revokeSessions: vi.fn(),
}));

const LIMITS = { maxMessageChars: 1000, maxHistoryMessages: 40, maxRequestBytes: 65536 };

const titles = () => $$("history-title").map((el) => el.textContent);
const texts = () => $$("message-text").map((el) => el.textContent.trim());
const settleFor = sleep;
async function until(check, what = "condition", timeout = 3000) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`${what}: not reached`);
    await sleep(10);
  }
}

let n = 0;
const newUid = () => `page-history-${Date.now().toString(36)}-${n++}`;
const person = (uid) => ({ uid, displayName: "Ada", email: `${uid}@example.com`, photoURL: null, getIdToken: async () => `token-${uid}` });

let api;
let auth;
let handlers;
const opened = [];

/** Load the page (a fresh module graph = a reload), signed in as `uid` (or signed out). */
async function openPage(uid, { history = true } = {}) {
  vi.resetModules();
  document.body.innerHTML = BODY; // the page's own, trusted markup
  api = await import("../src/api.js");
  const config = await import("../src/config.js");
  const authModule = await import("../src/auth.js");
  config.loadRuntimeConfig.mockResolvedValue({ firebase: {}, chatUrl: "http://127.0.0.1:1/", authEmulatorUrl: null, appCheckSiteKey: null, limits: LIMITS });
  auth = { app: {}, signIn: vi.fn(), signOut: vi.fn(async () => handlers.onUser(null)), token: vi.fn(async () => "token") };
  authModule.startAuth.mockImplementation((_config, h) => {
    handlers = h;
    return auth;
  });
  api.fetchMe.mockResolvedValue({ quota: null });
  api.sendChat.mockImplementation(async ({ body, onDelta }) => {
    onDelta(`Echo: ${body.message}`);
    return { finishReason: "STOP", quota: null };
  });
  await import("../src/main.js");
  await sleep(0);
  handlers.onUser(uid ? person(uid) : null);
  if (!uid || !history) return settleFor(50);
  await until(() => !$("history").hidden && document.body.dataset.authState === "signed-in" && $("history-empty").textContent !== "Loading your conversations…", "history shown");
}

async function send(text) {
  const before = $$("message").length;
  const input = $("composer-input");
  input.value = text;
  input.dispatchEvent(new Event("input", { bubbles: true }));
  input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
  await until(() => $$("message").length === before + 2 && $$("message").at(-1).dataset.state !== "streaming", "answer");
}

/** The history of `uid` as another tab would open it (announcing its writes). */
async function otherTab(uid) {
  let sync;
  const history = await openHistory(uid, { onCommit: (change) => sync.announce(change) });
  sync = connect(history.name, () => {});
  opened.push(() => {
    sync.close();
    history.close();
  });
  return history;
}

function turns(count) {
  const messages = [];
  for (let i = 0; i < count; i += 1) messages.push({ role: "user", text: `question ${i}` }, { role: "model", text: `answer ${i}` });
  return messages;
}

beforeEach(() => {
  stubFrames();
  stubDialogs();
  sessionStorage.clear();
  localStorage.clear();
});
afterEach(() => {
  handlers?.onUser(null); // closes the page's database
  while (opened.length) opened.pop()();
  vi.unstubAllGlobals();
  vi.resetAllMocks();
});

describe("history on the page", () => {
  it("lists conversations newest first, titled by their first message, and keeps them over a reload", async () => {
    const uid = newUid();
    await openPage(uid);
    expect($("history-empty").textContent).toMatch(/No conversations yet/);
    expect($("history-where").textContent).toMatch(/in this browser, on this device only/);
    await send("  How do I   bake bread?  ");
    await until(() => titles().length === 1, "listed");
    expect(titles()).toEqual(["How do I bake bread?"]);
    expect($("history-open").getAttribute("aria-current")).toBe("true");
    $("history-new-chat").click();
    await send("Second topic");
    await until(() => titles().length === 2, "two listed");
    expect(titles()).toEqual(["Second topic", "How do I bake bread?"]);
    expect($$("history-detail")[0].textContent).toBe("Echo: Second topic");

    await openPage(uid); // reload: the list, and the conversation this tab had open
    await until(() => titles().length === 2 && texts().length === 2, "restored");
    expect(titles()).toEqual(["Second topic", "How do I bake bread?"]);
    expect(texts()).toEqual(["Second topic", "Echo: Second topic"]);

    $$("history-open")[1].click();
    await until(() => texts()[0] === "How do I   bake bread?", "opened");
    await send("And rye?");
    expect(api.sendChat.mock.lastCall[0].body.history).toEqual([
      { role: "user", text: "How do I   bake bread?" },
      { role: "model", text: "Echo: How do I   bake bread?" },
    ]);
    await until(() => titles()[0] === "How do I bake bread?", "moved to the top");
  });

  it("writes a streamed answer once, when it ends — not per word", async () => {
    const uid = newUid();
    await openPage(uid);
    let call;
    api.sendChat.mockImplementationOnce((options) => new Promise((resolve) => {
      call = { options, resolve };
    }));
    const input = $("composer-input");
    input.value = "Stream, please";
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    await until(() => call, "sent");
    const tab = await otherTab(uid);
    const [conversation] = await until(async () => {
      const list = await tab.listConversations();
      return list.length && list;
    }, "stored");
    for (const word of ["One ", "two ", "three."]) call.options.onDelta(word);
    await sleep(30);
    let stored = await tab.getConversation(conversation.id);
    expect(stored.messages.map((m) => [m.role, m.text, m.state])).toEqual([["user", "Stream, please", "done"], ["model", "", "streaming"]]);
    expect(stored.messages.every((m) => /^[0-9a-f-]{36}$/.test(m.id))).toBe(true);
    call.resolve({ finishReason: "STOP", quota: null });
    await until(async () => (await tab.getConversation(conversation.id)).messages[1].state === "done", "settled");
    stored = await tab.getConversation(conversation.id);
    expect(stored.messages[1]).toMatchObject({ text: "One two three.", state: "done", finishReason: "STOP" });
  });

  it("keeps each account's conversations apart", async () => {
    const a = newUid();
    const b = newUid();
    await openPage(a);
    await send("Secret of A");
    await until(() => titles().length === 1, "listed");
    handlers.onUser(person(b));
    await until(() => $("history-empty").textContent.startsWith("No conversations yet"), "B's empty list");
    expect(titles()).toEqual([]);
    expect($$("message")).toHaveLength(0);
    handlers.onUser(person(a));
    await until(() => titles().length === 1, "A's list again");
    expect(titles()).toEqual(["Secret of A"]);
  });

  it("shows titles and snippets as text, renames (Enter saves, Esc cancels) and searches titles and text", async () => {
    const uid = newUid();
    const tab = await otherTab(uid);
    await tab.createConversation({ messages: [{ role: "user", text: '<img src=x onerror="alert(1)"> hello' }, { role: "model", text: "A **ripe** banana is `yellow`." }] });
    await sleep(5); // a later updatedAt: listed first
    await tab.createConversation({ messages: [{ role: "user", text: "Apples" }, { role: "model", text: "Red or green." }] });
    await openPage(uid);
    await until(() => titles().length === 2, "listed");
    expect(titles()[1]).toBe('<img src=x onerror="alert(1)"> hello');
    expect($("history-list").querySelector("img")).toBeNull();

    const [first] = $$("history-item");
    first.querySelector('[data-action="rename"]').click();
    const input = $("rename-input");
    expect(document.activeElement).toBe(input);
    expect(input.value).toBe("Apples");
    input.value = "Fruit, mostly";
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true, cancelable: true }));
    expect($("rename-input")).toBeNull();
    await sleep(20);
    expect(titles()[0]).toBe("Apples");
    first.querySelector(".history-open").dispatchEvent(new KeyboardEvent("keydown", { key: "F2", bubbles: true, cancelable: true }));
    $("rename-input").value = "Fruit, mostly";
    $("rename-form").requestSubmit();
    await until(() => titles()[0] === "Fruit, mostly", "renamed");
    expect(document.activeElement).toBe(first.querySelector(".history-open"));

    const search = $("history-search");
    search.value = "BANÁNA";
    search.dispatchEvent(new Event("input"));
    await until(() => titles().length === 1, "one match");
    expect($("history-detail").textContent).toContain("A ripe banana is yellow.");
    search.value = "nothing like this";
    search.dispatchEvent(new Event("input"));
    await until(() => !$("history-empty").hidden && titles().length === 0, "no match");
    expect($("history-empty").textContent).toBe("No conversation matches “nothing like this”.");
    search.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true, cancelable: true }));
    await until(() => titles().length === 2, "search cleared");
    expect(search.value).toBe("");
  });

  it("deletes one with Undo (the open one leaves the screen), and all after asking", async () => {
    const uid = newUid();
    await openPage(uid);
    await send("Keep me");
    // Its answer is stored (the write after the stream ends): only then is "Delete me" newer.
    const tab = await otherTab(uid);
    await until(async () => {
      const [stored] = await tab.listConversations();
      const conversation = stored && (await tab.getConversation(stored.id));
      return conversation?.messages.some((m) => m.role === "model" && m.text === "Echo: Keep me");
    }, "answer stored");
    $("history-new-chat").click();
    await send("Delete me");
    await until(() => titles().length === 2, "listed");
    expect(titles()[0]).toBe("Delete me");
    $$("history-delete")[0].click();
    await until(() => titles().length === 1, "deleted");
    expect($$("message")).toHaveLength(0); // it was on screen
    expect($("history-message").textContent).toBe("Deleted “Delete me”.");
    expect($("history-undo").hidden).toBe(false);
    $("history-undo").click();
    await until(() => titles().length === 2, "restored");
    expect($("history-undo").hidden).toBe(true);
    await until(() => texts().includes("Delete me"), "shown again");

    $("history-delete-all").click();
    expect($("delete-all-dialog").open).toBe(true);
    $("delete-all-dialog").close("cancel");
    await sleep(20);
    expect(titles()).toHaveLength(2);
    $("history-delete-all").click();
    $("delete-all-dialog").close("confirm");
    await until(() => titles().length === 0, "all deleted");
    expect($("history-message").textContent).toBe("Deleted 2 conversations from this device.");
    expect($$("message")).toHaveLength(0);
  });

  it("exports JSON and Markdown, refuses a hostile import without changing anything, and imports an export", async () => {
    const uid = newUid();
    await openPage(uid);
    await send("Export me");
    await until(() => titles().length === 1, "listed");
    const saved = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function click() {
      saved.push({ name: this.download, href: this.href });
    });
    const blobs = new Map();
    vi.spyOn(URL, "createObjectURL").mockImplementation((blob) => {
      const url = `blob:test/${blobs.size}`;
      blobs.set(url, blob);
      return url;
    });
    $("history-export").click();
    await until(() => saved.length === 1, "downloaded");
    expect(saved[0].name).toMatch(/^jette-history-\d{4}-\d{2}-\d{2}\.json$/);
    const exported = await blobs.get(saved[0].href).text();
    expect(JSON.parse(exported).conversations[0].messages.map((m) => m.text)).toEqual(["Export me", "Echo: Export me"]);
    $("history-markdown").click();
    await until(() => saved.length === 2, "markdown");
    expect(saved[1].name).toMatch(/^export-me-\d{4}-\d{2}-\d{2}\.md$/);
    expect(await blobs.get(saved[1].href).text()).toContain("## You\n\nExport me");

    const importing = (name, text) => {
      const input = $("history-import-file");
      Object.defineProperty(input, "files", { configurable: true, value: [new File([text], name, { type: "application/json" })] });
      input.dispatchEvent(new Event("change"));
    };
    const hostile = JSON.parse(exported);
    hostile.conversations[0].messages[0].__proto__ = { polluted: true }; // an own key after parse
    const hostileText = JSON.stringify(hostile).replace('"messages":[{', '"messages":[{"__proto__":{"polluted":true},');
    importing("evil.json", hostileText);
    await until(() => $("history-message").dataset.kind === "error", "refused");
    expect($("history-message").textContent).toMatch(/^This file can't be imported \(conversation 1, message 1\): unknown field "__proto__"\. Nothing was changed\.$/);
    expect({}.polluted).toBeUndefined();
    importing("broken.json", exported.slice(0, 100));
    await until(() => /not valid JSON/.test($("history-message").textContent), "refused again");
    expect(titles()).toEqual(["Export me"]);

    $("history-delete-all").click();
    $("delete-all-dialog").close("confirm");
    await until(() => titles().length === 0, "emptied");
    importing("export.json", exported);
    await until(() => titles().length === 1, "imported");
    expect($("history-message").textContent).toBe("Imported 1 conversation.");
    expect($("history-message").dataset.kind).toBe("info");
    importing("export.json", exported);
    await until(() => /Nothing new/.test($("history-message").textContent), "nothing new");
    expect(titles()).toEqual(["Export me"]);
  });

  it("asks once for persistent storage after the first save, and says so when the device is full", async () => {
    const storage = {
      persist: vi.fn(async () => true),
      persisted: vi.fn(async () => false),
      estimate: vi.fn(async () => ({ usage: 2_345_678, quota: 1_000_000_000 })),
    };
    Object.defineProperty(navigator, "storage", { configurable: true, value: storage });
    try {
      const uid = newUid();
      await openPage(uid);
      expect(storage.persist).not.toHaveBeenCalled(); // nothing stored yet
      await send("Save me");
      await until(() => titles().length === 1, "listed");
      await send("And me");
      await sleep(30);
      expect(storage.persist).toHaveBeenCalledTimes(1);
      $("settings-button").click();
      await until(() => /^This site uses/.test($("storage-usage").textContent), "usage");
      expect($("storage-usage").textContent).toBe("This site uses 2.3 MB of this browser's storage (it allows up to 1.0 GB). The browser may clear it if the device runs low on space.");
      $("settings-dialog").close();

      const full = vi.spyOn(IDBObjectStore.prototype, "put").mockImplementation(() => {
        throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
      });
      await send("No room for me");
      await until(() => $("error-banner").dataset.code === "history_full", "told");
      expect($("error-message").textContent).toBe("Storage on this device is full, so this wasn't saved to your history. Delete or export old conversations to make room.");
      expect(texts().slice(-2)).toEqual(["No room for me", "Echo: No room for me"]); // the chat goes on
      full.mockRestore();
      const tab = await otherTab(uid);
      const [stored] = await tab.listConversations();
      expect(stored.messageCount).toBe(4); // the failed write left nothing half-written
    } finally {
      delete navigator.storage;
    }
  });

  it("says when a long stored conversation is trimmed to fit a request", async () => {
    const uid = newUid();
    const tab = await otherTab(uid);
    await tab.createConversation({ messages: turns(25) });
    await openPage(uid);
    await until(() => titles().length === 1, "listed");
    $("history-open").click();
    await until(() => texts().length === 50, "opened");
    await send("One more");
    const { history } = api.sendChat.mock.lastCall[0].body;
    expect(history).toHaveLength(40);
    expect(history[0]).toEqual({ role: "user", text: "question 5" });
    expect($("error-banner").hidden).toBe(false);
    expect($("error-banner").dataset.code).toBe("history_trimmed");
    expect($("error-message").textContent).toBe("This conversation is long: Gemini sees only its latest part. The oldest 5 exchanges were left out of this request.");
  });

  it("shows another tab's messages in the open conversation, once each", async () => {
    const uid = newUid();
    await openPage(uid);
    await send("Hello from this tab");
    await until(() => titles().length === 1, "listed");
    const tab = await otherTab(uid);
    const [conversation] = await tab.listConversations();
    await tab.appendMessage(conversation.id, { role: "user", text: "Hello from the other tab" });
    const { message: placeholder } = await tab.appendMessage(conversation.id, { role: "model", text: "", state: "streaming" });
    await until(() => $$("message").length === 4, "the other tab's question and its answer to come");
    expect($$("message").at(-1).dataset.state).toBe("streaming");
    await tab.updateMessage(conversation.id, placeholder.id, { text: "Hi, other tab", state: "done" });
    await until(() => texts()[3] === "Hi, other tab", "the other tab's answer, once it ended");
    expect(texts()).toEqual(["Hello from this tab", "Echo: Hello from this tab", "Hello from the other tab", "Hi, other tab"]);
    await send("Back here");
    await sleep(50);
    const stored = await tab.getConversation(conversation.id);
    expect(stored.messages.map((m) => m.text)).toEqual([...texts()]);
    expect(new Set(stored.messages.map((m) => m.id)).size).toBe(6);
    await tab.remove(conversation.id);
    await until(() => texts().length === 0, "deleted in the other tab");
    expect($("error-message").textContent).toBe("This conversation was deleted in another tab.");
  });

  it("turned off in Settings, keeps the conversation in memory only", async () => {
    const uid = newUid();
    await openPage(uid);
    expect($("history-setting").checked).toBe(true);
    $("settings-button").click();
    await until(() => /This site uses|doesn't tell/.test($("storage-usage").textContent), "usage");
    $("history-setting").checked = false;
    $("history-setting").dispatchEvent(new Event("change"));
    expect(localStorage.getItem("jette.history")).toBe("off");
    await until(() => $("history").hidden && $("history-toggle").hidden, "no list");
    await send("Memory only");
    await openPage(uid, { history: false }); // reload
    expect($("history-setting").checked).toBe(false);
    expect($("history").hidden).toBe(true);
    expect($$("message")).toHaveLength(0);
    $("history-setting").checked = true;
    $("history-setting").dispatchEvent(new Event("change"));
    await until(() => !$("history").hidden && /No conversations yet/.test($("history-empty").textContent), "back on, empty");
    expect(localStorage.getItem("jette.history")).toBeNull();
  });

  it("asks on sign-out whether to delete this device's conversations", async () => {
    const uid = newUid();
    await openPage(uid);
    await send("Stay");
    await until(() => titles().length === 1, "listed");
    $("sign-out").click();
    expect($("sign-out-dialog").open).toBe(true);
    expect($("sign-out-delete").checked).toBe(false);
    $("sign-out-dialog").close("cancel");
    expect(auth.signOut).not.toHaveBeenCalled();
    $("sign-out").click();
    $("sign-out-dialog").close("confirm");
    await until(() => document.body.dataset.authState === "signed-out", "signed out");
    handlers.onUser(person(uid));
    await until(() => titles().length === 1, "kept");

    $("sign-out").click();
    $("sign-out-delete").checked = true;
    $("sign-out-dialog").close("confirm");
    await until(() => document.body.dataset.authState === "signed-out", "signed out again");
    handlers.onUser(person(uid));
    await until(() => /No conversations yet/.test($("history-empty").textContent), "deleted");
    expect(titles()).toEqual([]);
  });

  it("is a drawer on narrow screens: the toggle opens it, Esc closes it and gives the focus back", async () => {
    await openPage(newUid());
    const toggle = $("history-toggle");
    expect(toggle.hidden).toBe(false);
    expect(toggle.getAttribute("aria-expanded")).toBe("false");
    toggle.click();
    expect($("history").classList.contains("is-open")).toBe(true);
    expect(toggle.getAttribute("aria-expanded")).toBe("true");
    expect($("history-scrim").hidden).toBe(false);
    expect(document.querySelector(".main").inert).toBe(true);
    expect(document.activeElement).toBe($("history-search"));
    $("history-search").dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true, cancelable: true }));
    expect($("history").classList.contains("is-open")).toBe(false);
    expect($("history-scrim").hidden).toBe(true);
    expect(document.querySelector(".main").inert).toBe(false);
    expect(document.activeElement).toBe(toggle);
  });
});
