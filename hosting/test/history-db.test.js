import "fake-indexeddb/auto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { STALE_STREAM_MS, dbNameFor, openHistory, publicMessage } from "../src/history/db.js";
import { HistoryError, HistoryFullError, writeError } from "../src/history/errors.js";

let n = 0;
const uid = () => `uid-${Date.now().toString(36)}-${n++}-abcdefghijklmnop`;
const opened = [];
async function open(user = uid(), options) {
  const history = await openHistory(user, options);
  opened.push(history);
  return history;
}
const user = (text, extra) => ({ role: "user", text, state: "done", ...extra });
const model = (text, extra) => ({ role: "model", text, state: "done", ...extra });

afterEach(() => {
  while (opened.length) opened.pop().close();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

describe("per-user databases", () => {
  it("names the database after a hash of the uid, never the uid", async () => {
    const id = "AbC123uidOfSomeone";
    const name = await dbNameFor(id);
    expect(name).toMatch(/^jette-history-[0-9a-f]{32}$/);
    expect(name).toBe(await dbNameFor(id));
    expect(name).not.toBe(await dbNameFor(`${id}x`));
    expect(name.toLowerCase()).not.toContain(id.toLowerCase());
    await open(id);
    const names = (await indexedDB.databases()).map((d) => d.name);
    expect(names).toContain(name);
    expect(names.join()).not.toContain(id);
  });

  it("refuses an empty uid", async () => {
    await expect(openHistory("")).rejects.toBeInstanceOf(HistoryError);
  });

  it("two accounts in one browser never see each other's conversations", async () => {
    const a = await open();
    const b = await open();
    const c = await a.createConversation({ messages: [user("secret of A"), model("ok")] });
    expect(await b.listConversations()).toEqual([]);
    expect(await b.getConversation(c.id)).toBeNull();
    expect(await b.search("secret")).toEqual([]);
    expect((await a.search("secret")).map((r) => r.id)).toEqual([c.id]);
    expect(a.name).not.toBe(b.name);
  });
});

describe("conversations", () => {
  it("creates, appends, settles a streamed answer and reads back in order", async () => {
    const h = await open();
    const c = await h.createConversation({ messages: [user("  How do\n I  bake bread?  ")] });
    expect(c.title).toBe("How do I bake bread?");
    expect(c.messageCount).toBe(1);
    const { message: placeholder } = await h.appendMessage(c.id, model("", { state: "streaming" }));
    expect(placeholder.id).toMatch(/^[0-9a-f-]{36}$/);
    const { conversation } = await h.updateMessage(c.id, placeholder.id, { text: "Knead it.", state: "done", finishReason: "STOP" });
    expect(conversation).toMatchObject({ messageCount: 2, preview: "Knead it.", title: "How do I bake bread?" });
    expect(conversation.version).toBeGreaterThan(c.version);
    const back = await h.getConversation(c.id);
    expect(back.messages.map((m) => [m.role, m.text, m.state, m.finishReason])).toEqual([
      ["user", "  How do\n I  bake bread?  ", "done", undefined],
      ["model", "Knead it.", "done", "STOP"],
    ]);
  });

  it("upserts by message id: a repeated append never duplicates", async () => {
    const h = await open();
    const c = await h.createConversation();
    await h.appendMessage(c.id, user("q", { id: "m-1" }));
    await h.appendMessage(c.id, user("q edited", { id: "m-1" }));
    const back = await h.getConversation(c.id);
    expect(back.messages.map((m) => [m.id, m.text])).toEqual([["m-1", "q edited"]]);
    expect(back.messageCount).toBe(1);
  });

  it("refuses a message id of another conversation, bad input and unknown conversations", async () => {
    const h = await open();
    const c1 = await h.createConversation({ messages: [user("a", { id: "shared" })] });
    const c2 = await h.createConversation();
    await expect(h.appendMessage(c2.id, user("b", { id: "shared" }))).rejects.toMatchObject({ code: "conflict" });
    await expect(h.appendMessage(c1.id, { role: "system", text: "x" })).rejects.toMatchObject({ code: "invalid" });
    await expect(h.appendMessage(c1.id, { role: "user", text: 5 })).rejects.toMatchObject({ code: "invalid" });
    await expect(h.appendMessage("nope", user("x"))).rejects.toMatchObject({ code: "not_found" });
    await expect(h.updateMessage(c1.id, "missing", { text: "x" })).rejects.toMatchObject({ code: "not_found" });
    expect((await h.getConversation(c2.id)).messages).toEqual([]);
  });

  it("lists newest activity first, with a limit, without message bodies", async () => {
    const h = await open();
    const now = vi.spyOn(Date, "now");
    now.mockReturnValue(1_000);
    const a = await h.createConversation({ messages: [user("a")] });
    now.mockReturnValue(2_000);
    const b = await h.createConversation({ messages: [user("b")] });
    now.mockReturnValue(3_000);
    const c = await h.createConversation({ messages: [user("c")] });
    now.mockReturnValue(4_000);
    await h.appendMessage(a.id, model("a answered"));
    const list = await h.listConversations();
    expect(list.map((x) => x.id)).toEqual([a.id, c.id, b.id]);
    expect(Object.keys(list[0]).sort()).toEqual(["createdAt", "id", "messageCount", "preview", "title", "updatedAt", "version"]);
    expect((await h.listConversations({ limit: 2 })).map((x) => x.id)).toEqual([a.id, c.id]);
    now.mockReturnValue(5_000);
    await h.rename(b.id, "  Renamed\n  one ");
    const after = await h.listConversations();
    expect(after.map((x) => x.id)).toEqual([a.id, c.id, b.id]); // renaming keeps the order
    expect(after[2].title).toBe("Renamed one");
    await expect(h.rename(b.id, "   ")).rejects.toMatchObject({ code: "invalid" });
  });

  it("keeps a renamed title when messages come and go; an auto title follows the first message", async () => {
    const h = await open();
    const c = await h.createConversation({ messages: [user("first", { id: "u1" }), model("r", { id: "m1" })] });
    await h.truncate(c.id, "u1");
    let back = await h.getConversation(c.id);
    expect(back).toMatchObject({ messageCount: 0, title: "", preview: "" });
    await h.appendMessage(c.id, user("edited first"));
    expect((await h.getConversation(c.id)).title).toBe("edited first");
    await h.rename(c.id, "Mine");
    await h.appendMessage(c.id, model("answer"));
    back = await h.getConversation(c.id);
    expect(back).toMatchObject({ title: "Mine", preview: "answer", messageCount: 2 });
  });

  it("truncates from a message on (edit / regenerate) and recomputes the preview", async () => {
    const h = await open();
    const c = await h.createConversation({
      messages: [user("q1", { id: "a" }), model("a1", { id: "b" }), user("q2", { id: "c" }), model("a2", { id: "d" })],
    });
    const after = await h.truncate(c.id, "c");
    expect(after).toMatchObject({ messageCount: 2, preview: "a1" });
    await h.appendMessage(c.id, user("q2 again", { id: "e" }));
    expect((await h.getConversation(c.id)).messages.map((m) => m.id)).toEqual(["a", "b", "e"]);
  });

  it("reads a streaming placeholder no tab settled as stopped once stale", () => {
    const m = { id: "x", role: "model", text: "part", state: "streaming", createdAt: 0, updatedAt: 1000 };
    expect(publicMessage(m, 1000 + STALE_STREAM_MS - 1).state).toBe("streaming");
    expect(publicMessage(m, 1000 + STALE_STREAM_MS + 1).state).toBe("stopped");
  });
});

describe("delete", () => {
  it("deletes one conversation with undo; the token works once", async () => {
    const h = await open();
    const keep = await h.createConversation({ messages: [user("keep")] });
    const gone = await h.createConversation({ messages: [user("gone", { id: "g1" }), model("bye", { id: "g2" })] });
    const before = await h.getConversation(gone.id);
    const token = await h.remove(gone.id);
    expect(token).toMatchObject({ conversationId: gone.id, title: "gone" });
    expect(await h.getConversation(gone.id)).toBeNull();
    expect((await h.listConversations()).map((c) => c.id)).toEqual([keep.id]);
    expect(await h.search("bye")).toEqual([]);
    const restored = await h.restore(token);
    expect(restored.id).toBe(gone.id);
    const back = await h.getConversation(gone.id);
    expect({ ...back, version: 0 }).toEqual({ ...before, version: 0 });
    expect(await h.restore(token)).toBeNull();
    expect(await h.remove("unknown")).toBeNull();
  });

  it("deletes everything of this user on this device, and only that", async () => {
    const h = await open();
    const other = await open();
    await h.createConversation({ messages: [user("1")] });
    await h.createConversation({ messages: [user("2")] });
    await other.createConversation({ messages: [user("other")] });
    expect(await h.removeAll()).toBe(2);
    expect(await h.listConversations()).toEqual([]);
    expect(await h.search("1")).toEqual([]);
    expect(await other.count()).toBe(1);
  });
});

describe("search", () => {
  it("finds titles and message text, case- and diacritics-insensitive, newest first", async () => {
    const h = await open();
    const now = vi.spyOn(Date, "now");
    now.mockReturnValue(1_000);
    const old = await h.createConversation({ messages: [user("Recipes"), model("A Crème BRÛLÉE needs\ncream and sugar.")] });
    now.mockReturnValue(2_000);
    const titled = await h.createConversation({ messages: [user("creme brulee or flan?"), model("Either.")] });
    now.mockReturnValue(3_000);
    await h.createConversation({ messages: [user("Unrelated"), model("Nothing here")] });
    const hits = await h.search("  CREME   brulee ");
    expect(hits.map((r) => [r.id, r.match])).toEqual([
      [titled.id, "title"],
      [old.id, "text"],
    ]);
    expect(hits[1].snippet).toContain("Crème BRÛLÉE");
    expect(hits[1].messageId).toBeTypeOf("string");
    expect((await h.search("cream and")).map((r) => r.id)).toEqual([old.id]); // across a line break
    expect(await h.search("creme", { limit: 1 })).toHaveLength(1);
    expect(await h.search("   ")).toEqual([]);
    expect(await h.search("zzz")).toEqual([]);
  });

  it("sees writes made after an earlier search, in this tab or another", async () => {
    const id = uid();
    const tab1 = await open(id);
    const tab2 = await open(id);
    const c = await tab1.createConversation({ messages: [user("first")] });
    expect(await tab1.search("pineapple")).toEqual([]); // caches the folded text of version 1
    await tab2.appendMessage(c.id, model("Pineapple on pizza"));
    expect((await tab1.search("pineapple")).map((r) => [r.id, r.snippet])).toEqual([[c.id, "Pineapple on pizza"]]);
    await tab2.truncate(c.id, (await tab2.getConversation(c.id)).messages[1].id);
    expect(await tab1.search("pineapple")).toEqual([]);
    await tab2.remove(c.id);
    expect(await tab1.search("first")).toEqual([]);
    await tab2.createConversation({ id: c.id, messages: [user("same id, new text")] }); // never a reused version
    expect((await tab1.search("new text")).map((r) => r.id)).toEqual([c.id]);
  });
});

describe("two tabs", () => {
  it("concurrent writes from two connections lose and duplicate nothing", async () => {
    const id = uid();
    const tab1 = await open(id);
    const tab2 = await open(id);
    const c = await tab1.createConversation();
    const writes = [];
    for (let i = 0; i < 10; i += 1) {
      writes.push(tab1.appendMessage(c.id, user(`one-${i}`, { id: `one-${i}` })));
      writes.push(tab2.appendMessage(c.id, user(`two-${i}`, { id: `two-${i}` })));
    }
    writes.push(tab2.appendMessage(c.id, user("two-0 again", { id: "two-0" }))); // a retry: same id
    await Promise.all(writes);
    const back = await tab2.getConversation(c.id);
    expect(back.messageCount).toBe(20);
    expect(back.messages).toHaveLength(20);
    expect(new Set(back.messages.map((m) => m.id)).size).toBe(20);
    expect(back.messages.find((m) => m.id === "two-0").text).toBe("two-0 again"); // last writer wins
    expect(back.version).toBe(c.version + 21);
  });

  it("tells onCommit what changed, after the commit", async () => {
    const changes = [];
    const h = await open(uid(), { onCommit: (change) => changes.push(change) });
    const c = await h.createConversation({ messages: [user("x")] });
    await h.appendMessage(c.id, model("y"));
    const token = await h.remove(c.id);
    await h.restore(token);
    await h.removeAll();
    await Promise.resolve();
    const v = c.version;
    expect(changes).toEqual([
      { type: "changed", conversationId: c.id, version: v },
      { type: "changed", conversationId: c.id, version: v + 1 },
      { type: "removed", conversationId: c.id },
      { type: "changed", conversationId: c.id, version: v + 2 },
      { type: "cleared" },
    ]);
  });

  it("closes when another tab opens a newer schema, and says so", async () => {
    const id = uid();
    const onClose = vi.fn();
    const h = await open(id, { onClose });
    await h.createConversation();
    await new Promise((resolve, reject) => {
      const request = indexedDB.open(h.name, 99);
      request.onsuccess = () => {
        request.result.close();
        resolve();
      };
      request.onerror = () => reject(request.error);
    });
    expect(onClose).toHaveBeenCalledWith("upgrade");
    await expect(h.listConversations()).rejects.toMatchObject({ code: "closed" });
  });
});

describe("a full disk", () => {
  it("surfaces QuotaExceededError as HistoryFullError and changes nothing", async () => {
    const h = await open();
    const c = await h.createConversation({ messages: [user("before")] });
    const put = IDBObjectStore.prototype.put;
    vi.spyOn(IDBObjectStore.prototype, "put").mockImplementation(function (value, key) {
      if (this.name === "messages") throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
      return put.call(this, value, key);
    });
    const error = await h.appendMessage(c.id, model("after")).catch((e) => e);
    expect(error).toBeInstanceOf(HistoryFullError);
    expect(error.code).toBe("history_full");
    expect(error.message).toMatch(/full/);
    expect(error.cause.name).toBe("QuotaExceededError");
    await expect(h.createConversation({ messages: [user("new")] })).rejects.toBeInstanceOf(HistoryFullError);
    vi.restoreAllMocks();
    const back = await h.getConversation(c.id);
    expect(back.messages.map((m) => m.text)).toEqual(["before"]);
    expect(back.version).toBe(c.version);
    expect(await h.count()).toBe(1);
  });

  it("maps a transaction aborted for lack of space (AbortError on the request) too", () => {
    const abort = new DOMException("aborted", "AbortError");
    const quota = new DOMException("full", "QuotaExceededError");
    expect(writeError(abort, quota)).toBeInstanceOf(HistoryFullError);
    expect(writeError(abort, null)).toBe(abort);
    const other = new TypeError("x");
    expect(writeError(other)).toBe(other);
  });
});

describe("storage", () => {
  it("asks for persistence once, only when history holds data", async () => {
    const persist = vi.fn(async () => true);
    const persisted = vi.fn(async () => false);
    vi.stubGlobal("navigator", { storage: { persist, persisted, estimate: async () => ({ usage: 1234, quota: 99999 }) } });
    const h = await open();
    expect(await h.persistOnce()).toBeNull();
    expect(persist).not.toHaveBeenCalled();
    await h.createConversation({ messages: [user("x")] });
    expect(await h.persistOnce()).toBe(true);
    expect(await h.persistOnce()).toBe(true);
    expect(persist).toHaveBeenCalledTimes(1);
    expect(await h.usage()).toEqual({ usage: 1234, quota: 99999 });
  });

  it("reports null where the Storage API is missing", async () => {
    vi.stubGlobal("navigator", {});
    const h = await open();
    await h.createConversation({ messages: [user("x")] });
    expect(await h.persistOnce()).toBeNull();
    expect(await h.usage()).toBeNull();
  });
});
