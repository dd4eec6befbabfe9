// Attachments in the on-device history: Blobs kept apart from the messages, the total for
// attachments (oldest dropped first), deletion, the schema upgrade from version 1, a full
// device, export / import (metadata only), cross-tab forms, and the session's notice.
import "fake-indexeddb/auto";
import { openDB } from "idb";
import { afterEach, describe, expect, it, vi } from "vitest";
import { attachmentNotice } from "../src/history/attachments.js";
import { ATTACHMENT_STORE_BYTES, DB_VERSION, dbNameFor, openHistory } from "../src/history/db.js";
import { HistoryFullError, ImportError } from "../src/history/errors.js";
import { createHistory } from "../src/history/session.js";
import { keepShown, storedForm } from "../src/history/sync.js";
import { exportAll, importAll, parseImport } from "../src/history/transfer.js";
import { createStore } from "../src/state.js";

let n = 0;
const uid = () => `att-${Date.now().toString(36)}-${n++}-abcdefghijklmnop`;
const opened = [];
async function open(user = uid(), options = {}) {
  const history = await openHistory(user, { attachmentBytes: 1000, ...options });
  opened.push(history);
  return history;
}
const file = (id, bytes, type = "image/png") => {
  const blob = new Blob([new Uint8Array(bytes).fill(7)], { type });
  return { id, name: `${id}.png`, mimeType: type, size: blob.size, blob };
};
const user = (text, extra) => ({ role: "user", text, state: "done", ...extra });
const model = (text, extra) => ({ role: "model", text, state: "done", ...extra });
const blobCount = (h) => h.read((tx) => tx.objectStore("attachments").count());
const attachmentsOf = async (h, id) => (await h.getConversation(id)).messages.flatMap((m) => m.attachments || []);
const strip = ({ blob, ...rest }) => ({ ...rest, blob: blob ? blob.size : null });

afterEach(() => {
  while (opened.length) opened.pop().close();
  vi.restoreAllMocks();
});

describe("keeping attachments", () => {
  it("keeps each Blob apart from its message and restores it with the conversation", async () => {
    const h = await open();
    const photo = file("a-1", 300);
    const c = await h.createConversation({ messages: [user("", { attachments: [photo] }), model("A photo of sevens.")] });
    expect(c.title).toBe("a-1.png"); // a message with files only is titled by their names
    expect(c.messages[0].attachments).toEqual([{ id: "a-1", name: "a-1.png", mimeType: "image/png", size: 300, blob: expect.anything() }]);
    const { message } = await h.appendMessage(c.id, user("and this one?", { attachments: [file("a-2", 10, "application/pdf")] }));
    expect(message.attachments.map(strip)).toEqual([{ id: "a-2", name: "a-2.png", mimeType: "application/pdf", size: 10, blob: 10 }]);

    const back = await h.getConversation(c.id);
    expect(back.messages.map((m) => (m.attachments || []).map(strip))).toEqual([
      [{ id: "a-1", name: "a-1.png", mimeType: "image/png", size: 300, blob: 300 }],
      [],
      [{ id: "a-2", name: "a-2.png", mimeType: "application/pdf", size: 10, blob: 10 }],
    ]);
    const blob = back.messages[0].attachments[0].blob;
    expect(blob.type).toBe("image/png");
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(new Uint8Array(300).fill(7));

    // The message records hold the metadata only; the bytes are in the attachments store.
    const records = await h.read((tx) => tx.objectStore("messages").getAll());
    expect(records.find((m) => m.attachments?.[0]?.id === "a-1").attachments).toEqual([{ id: "a-1", name: "a-1.png", mimeType: "image/png", size: 300 }]);
    expect(await blobCount(h)).toBe(2);
    expect(Object.keys((await h.listConversations())[0])).not.toContain("attachments");
  });

  it("refuses malformed attachments, and attachments on Gemini's messages", async () => {
    const h = await open();
    const c = await h.createConversation();
    const bad = [
      user("x", { attachments: [{ ...file("a", 1), id: "../x" }] }),
      user("x", { attachments: [{ ...file("a", 1), name: "" }] }),
      user("x", { attachments: [{ ...file("a", 1), size: -1 }] }),
      user("x", { attachments: [{ ...file("a", 1), blob: "bytes" }] }),
      user("x", { attachments: [file("a", 1), file("a", 2)] }),
      user("x", { attachments: "a.png" }),
      model("x", { attachments: [file("a", 1)] }),
    ];
    for (const message of bad) await expect(h.appendMessage(c.id, message)).rejects.toMatchObject({ code: "invalid" });
    expect(await blobCount(h)).toBe(0);
  });

  it("never reads the attachments store to list or search", async () => {
    const h = await open();
    await h.createConversation({ messages: [user("the cat photo", { attachments: [file("cat", 50)] }), model("A cat.")] });
    const stores = [];
    const objectStore = IDBTransaction.prototype.objectStore;
    vi.spyOn(IDBTransaction.prototype, "objectStore").mockImplementation(function (name) {
      stores.push(name);
      return objectStore.call(this, name);
    });
    expect(await h.listConversations()).toHaveLength(1);
    expect((await h.search("cat photo")).map((r) => r.match)).toEqual(["title"]);
    expect((await h.search("a cat")).map((r) => r.match)).toEqual(["text"]);
    expect(stores.length).toBeGreaterThan(0);
    expect(stores).not.toContain("attachments");
  });

  it("restores a message written again without attachments with the ones it had", async () => {
    const h = await open();
    const c = await h.createConversation({ messages: [user("q", { id: "u1", attachments: [file("keep", 5)] })] });
    await h.appendMessage(c.id, user("q edited", { id: "u1" }));
    expect((await attachmentsOf(h, c.id)).map(strip)).toEqual([{ id: "keep", name: "keep.png", mimeType: "image/png", size: 5, blob: 5 }]);
    await h.appendMessage(c.id, user("q edited", { id: "u1", attachments: [file("other", 6)] })); // given: they replace
    expect((await attachmentsOf(h, c.id)).map((a) => a.id)).toEqual(["other"]);
    expect(await blobCount(h)).toBe(1);
  });
});

describe("the total kept for attachments", () => {
  it("is 100 MiB", () => {
    expect(ATTACHMENT_STORE_BYTES).toBe(100 * 1024 * 1024);
  });

  it("drops the oldest Blobs first, across conversations, keeping their name and size", async () => {
    const h = await open(); // 1000 bytes in all
    const now = vi.spyOn(Date, "now");
    now.mockReturnValue(Date.UTC(2025, 0, 1, 10));
    const a = await h.createConversation({ messages: [user("first", { attachments: [file("oldest", 400)] })] });
    now.mockReturnValue(Date.UTC(2025, 0, 1, 11));
    const b = await h.createConversation({ messages: [user("second", { attachments: [file("middle", 400)] })] });
    now.mockReturnValue(Date.UTC(2025, 0, 1, 12));
    const added = await h.appendMessage(a.id, user("third", { attachments: [file("newest", 400)] }));
    expect(added.attachmentsDropped).toEqual({ evicted: 1, tooLarge: 0, noSpace: 0 });
    expect(added.message.attachments[0].blob).toBeDefined();
    expect(await attachmentsOf(h, a.id)).toEqual([
      { id: "oldest", name: "oldest.png", mimeType: "image/png", size: 400, dropped: true },
      { id: "newest", name: "newest.png", mimeType: "image/png", size: 400, blob: expect.anything() },
    ]);
    expect((await attachmentsOf(h, b.id)).map(strip)).toEqual([{ id: "middle", name: "middle.png", mimeType: "image/png", size: 400, blob: 400 }]);

    // Two more at once: the older stored ones make room, the new ones stay.
    now.mockReturnValue(Date.UTC(2025, 0, 1, 13));
    const two = await h.appendMessage(b.id, user("two", { attachments: [file("n1", 300), file("n2", 300)] }));
    expect(two.attachmentsDropped).toEqual({ evicted: 1, tooLarge: 0, noSpace: 0 });
    expect((await attachmentsOf(h, b.id)).map((x) => [x.id, Boolean(x.dropped)])).toEqual([
      ["middle", true],
      ["n1", false],
      ["n2", false],
    ]);
    expect(await blobCount(h)).toBe(3); // newest, n1, n2: 1000 bytes
  });

  it("never keeps an attachment larger than the total, and drops nothing for it", async () => {
    const h = await open();
    const c = await h.createConversation({ messages: [user("small", { attachments: [file("small", 600)] })] });
    const { message, attachmentsDropped } = await h.appendMessage(c.id, user("huge", { attachments: [file("huge", 1001)] }));
    expect(attachmentsDropped).toEqual({ evicted: 0, tooLarge: 1, noSpace: 0 });
    expect(message.attachments).toEqual([{ id: "huge", name: "huge.png", mimeType: "image/png", size: 1001, dropped: true }]);
    expect((await attachmentsOf(h, c.id)).map((x) => [x.id, Boolean(x.dropped)])).toEqual([
      ["small", false],
      ["huge", true],
    ]);
  });

  it("has one notice for what could not be kept", () => {
    expect(attachmentNotice(undefined)).toBeNull();
    expect(attachmentNotice({ evicted: 0, tooLarge: 0, noSpace: 0 })).toBeNull();
    expect(attachmentNotice({ evicted: 2, tooLarge: 0, noSpace: 0 })).toEqual({
      code: "attachments_dropped",
      message: "Older attachments were removed from this device to stay under 100 MB. Their names stay in your conversations, marked “not kept on this device”.",
    });
    expect(attachmentNotice({ evicted: 0, tooLarge: 1, noSpace: 0 }).message).toMatch(/larger than 100 MB isn't kept on this device/);
    expect(attachmentNotice({ evicted: 1, tooLarge: 0, noSpace: 1 }).message).toMatch(/^Storage on this device is full, so attachments weren't kept/);
  });
});

describe("deleting", () => {
  it("deletes a conversation's Blobs with it; Undo brings them back", async () => {
    const h = await open();
    const keep = await h.createConversation({ messages: [user("keep", { attachments: [file("k", 10)] })] });
    const gone = await h.createConversation({ messages: [user("gone", { attachments: [file("g1", 10), file("g2", 20)] }), model("ok")] });
    const token = await h.remove(gone.id);
    expect(await blobCount(h)).toBe(1);
    await h.restore(token);
    expect((await attachmentsOf(h, gone.id)).map(strip)).toEqual([
      { id: "g1", name: "g1.png", mimeType: "image/png", size: 10, blob: 10 },
      { id: "g2", name: "g2.png", mimeType: "image/png", size: 20, blob: 20 },
    ]);
    expect(await blobCount(h)).toBe(3);
    expect((await attachmentsOf(h, keep.id)).map((a) => a.id)).toEqual(["k"]);
  });

  it("deletes the Blobs of cut messages (edit, regenerate) and of everything (delete all, sign-out)", async () => {
    const h = await open();
    const c = await h.createConversation({
      messages: [user("q1", { attachments: [file("one", 10)] }), model("a1"), user("q2", { id: "q2", attachments: [file("two", 10)] }), model("a2")],
    });
    await h.createConversation({ messages: [user("other", { attachments: [file("three", 10)] })] });
    await h.truncate(c.id, "q2");
    expect((await attachmentsOf(h, c.id)).map((a) => a.id)).toEqual(["one"]);
    expect(await blobCount(h)).toBe(2);
    await h.removeAll();
    expect(await blobCount(h)).toBe(0);

    const wiped = await open();
    await wiped.createConversation({ messages: [user("x", { attachments: [file("x", 10)] })] });
    opened.pop();
    await wiped.destroy(); // sign-out, asked to delete: emptied (Blobs too), then the database deleted
    await vi.waitFor(async () => expect((await indexedDB.databases()).map((d) => d.name)).not.toContain(wiped.name));
  });
});

describe("a full device", () => {
  const quotaOn = (storeName) => {
    const put = IDBObjectStore.prototype.put;
    vi.spyOn(IDBObjectStore.prototype, "put").mockImplementation(function (value, key) {
      if (this.name === storeName) throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
      return put.call(this, value, key);
    });
  };

  it("saves the text without the attachments, and says they were dropped", async () => {
    const h = await open();
    const c = await h.createConversation({ messages: [user("before", { attachments: [file("before", 10)] })] });
    quotaOn("attachments");
    const appended = await h.appendMessage(c.id, user("with a file", { attachments: [file("big", 500), file("big2", 5)] }));
    expect(appended.attachmentsDropped).toEqual({ evicted: 0, tooLarge: 0, noSpace: 2 });
    const created = await h.createConversation({ messages: [user("new", { attachments: [file("new", 5)] }), model("ok")] });
    expect(created.attachmentsDropped).toEqual({ evicted: 0, tooLarge: 0, noSpace: 1 });
    vi.restoreAllMocks();
    const back = await h.getConversation(c.id);
    expect(back.messages.map((m) => m.text)).toEqual(["before", "with a file"]);
    expect(back.messages[1].attachments).toEqual([
      { id: "big", name: "big.png", mimeType: "image/png", size: 500, dropped: true },
      { id: "big2", name: "big2.png", mimeType: "image/png", size: 5, dropped: true },
    ]);
    expect(back.messages[0].attachments[0].blob).toBeDefined(); // what was kept stays
    expect((await h.getConversation(created.id)).messages[0].attachments[0].dropped).toBe(true);
  });

  it("still fails, changing nothing, when even the text does not fit", async () => {
    const h = await open();
    const c = await h.createConversation({ messages: [user("before")] });
    quotaOn("messages");
    await expect(h.appendMessage(c.id, user("x", { attachments: [file("x", 5)] }))).rejects.toBeInstanceOf(HistoryFullError);
    vi.restoreAllMocks();
    expect((await h.getConversation(c.id)).messages.map((m) => m.text)).toEqual(["before"]);
    expect(await blobCount(h)).toBe(0);
  });
});

describe("the schema", () => {
  it("upgrades a version 1 database, keeping its conversations", async () => {
    const id = uid();
    const name = await dbNameFor(id);
    const v1 = await openDB(name, 1, {
      upgrade(db) {
        db.createObjectStore("conversations", { keyPath: "id" }).createIndex("updatedAt", "updatedAt");
        db.createObjectStore("messages", { keyPath: "id" }).createIndex("bySeq", ["conversationId", "seq"], { unique: true });
      },
    });
    const t = Date.UTC(2025, 0, 1);
    await v1.put("conversations", { id: "c1", title: "Old one", titled: false, createdAt: t, updatedAt: t, messageCount: 2, preview: "Old answer", nextSeq: 2, version: t * 1000 });
    await v1.put("messages", { id: "m1", conversationId: "c1", seq: 0, role: "user", text: "Old question", state: "done", createdAt: t, updatedAt: t });
    await v1.put("messages", { id: "m2", conversationId: "c1", seq: 1, role: "model", text: "Old answer", state: "done", finishReason: "STOP", createdAt: t, updatedAt: t });
    v1.close();

    const h = await open(id);
    expect(DB_VERSION).toBe(2);
    expect((await indexedDB.databases()).find((d) => d.name === name).version).toBe(2);
    expect((await h.listConversations()).map((c) => [c.id, c.title, c.messageCount])).toEqual([["c1", "Old one", 2]]);
    const back = await h.getConversation("c1");
    expect(back.messages.map((m) => [m.id, m.role, m.text, m.state, m.attachments])).toEqual([
      ["m1", "user", "Old question", "done", undefined],
      ["m2", "model", "Old answer", "done", undefined],
    ]);
    expect((await h.search("old question")).map((r) => r.id)).toEqual(["c1"]);
    await h.appendMessage("c1", user("now with a file", { attachments: [file("f", 10)] }));
    expect((await attachmentsOf(h, "c1")).map((a) => a.id)).toEqual(["f"]);
  });
});

describe("export and import", () => {
  const T = "2025-03-01T10:00:00.000Z";
  const msg = (id, extra = {}) => ({ id, role: "user", text: "look", state: "done", createdAt: T, updatedAt: T, ...extra });
  const doc = (messages) => JSON.stringify({ format: "jette-history", version: 1, exportedAt: T, conversations: [{ id: "c1", title: "", createdAt: T, updatedAt: T, messages }] });

  it("exports what the attachments were, never their bytes; an import reads them as not kept here", async () => {
    const h = await open();
    await h.createConversation({ messages: [user("", { attachments: [file("pic", 300), file("doc", 20, "application/pdf")] }), model("Two files.")] });
    const exported = await exportAll(h, new Date(T));
    const [question, answer] = exported.conversations[0].messages;
    expect(question.attachments).toEqual([
      { name: "pic.png", mimeType: "image/png", size: 300 },
      { name: "doc.png", mimeType: "application/pdf", size: 20 },
    ]);
    expect(answer).not.toHaveProperty("attachments");
    expect(JSON.stringify(exported)).not.toMatch(/blob|data/i);

    const other = await open();
    const counts = await importAll(other, parseImport(JSON.stringify(exported)));
    expect(counts).toEqual({ added: 1, copied: 0, skipped: 0 });
    const [c] = await other.listConversations();
    expect(c.title).toBe("pic.png, doc.png");
    const imported = await attachmentsOf(other, c.id);
    expect(imported.map(({ id, ...rest }) => rest)).toEqual([
      { name: "pic.png", mimeType: "image/png", size: 300, dropped: true },
      { name: "doc.png", mimeType: "application/pdf", size: 20, dropped: true },
    ]);
    expect(imported.every((a) => /^[0-9a-f-]{36}$/.test(a.id))).toBe(true);
    expect(await blobCount(other)).toBe(0);
    // Exported again: the same metadata.
    expect((await exportAll(other, new Date(T))).conversations[0].messages[0].attachments).toEqual(question.attachments);
  });

  it("refuses attachments that are not exactly name, type and size of a user message", () => {
    const a = { name: "a.png", mimeType: "image/png", size: 3 };
    expect(parseImport(doc([msg("m1", { attachments: [a] })])).conversations[0].messages[0].attachments).toEqual([a]);
    const refused = [
      [msg("m1", { attachments: [{ ...a, data: "AAAA" }] }), /unknown field "data"/],
      [msg("m1", { attachments: [{ ...a, id: "x" }] }), /unknown field "id"/],
      [msg("m1", { attachments: [{ name: "a.png", size: 3 }] }), /missing field "mimeType"/],
      [msg("m1", { attachments: [{ ...a, name: "" }] }), /"name" is empty/],
      [msg("m1", { attachments: [{ ...a, name: "x".repeat(256) }] }), /"name" is longer than 255/],
      [msg("m1", { attachments: [{ ...a, mimeType: "image" }] }), /"mimeType" must be a type/],
      [msg("m1", { attachments: [{ ...a, size: -1 }] }), /"size" must be a number of bytes/],
      [msg("m1", { attachments: [{ ...a, size: "3" }] }), /"size" must be a number of bytes/],
      [msg("m1", { attachments: a }), /"attachments" must be a list/],
      [msg("m1", { attachments: Array(17).fill(a) }), /at most 16/],
      [msg("m1", { role: "model", attachments: [a] }), /only the user's messages have attachments/],
      [msg("m1", { attachments: [JSON.parse('{"__proto__": {}, "name": "a", "mimeType": "a/b", "size": 1}')] }), /unknown field "__proto__"/],
    ];
    for (const [message, why] of refused) {
      let error;
      try {
        parseImport(doc([message]));
      } catch (e) {
        error = e;
      }
      expect(error, String(why)).toBeInstanceOf(ImportError);
      expect(error.message).toMatch(why);
      expect(error.message).toMatch(/conversation 1, message 1/);
    }
  });
});

describe("between tabs", () => {
  it("stores a message's attachments with their Blobs, never a dropped one's", () => {
    const blob = new Blob(["x"]);
    const m = { id: "u", role: "user", text: "", state: "done", attachments: [{ id: "a", name: "a.png", mimeType: "image/png", size: 1, blob }, { id: "b", name: "b.png", mimeType: "image/png", size: 9, dropped: true }] };
    expect(storedForm(m)).toEqual({
      id: "u",
      role: "user",
      text: "",
      state: "done",
      attachments: [
        { id: "a", name: "a.png", mimeType: "image/png", size: 1, blob },
        { id: "b", name: "b.png", mimeType: "image/png", size: 9 },
      ],
    });
    expect(storedForm({ id: "m", role: "model", text: "hi", state: "done" })).not.toHaveProperty("attachments");
  });

  it("keeps the shown message (and the Blob it holds) when a re-read brings the same attachments", () => {
    const shown = { id: "u", role: "user", text: "q", state: "done", attachments: [{ id: "a", name: "a.png", mimeType: "image/png", size: 1, blob: new Blob(["x"]) }] };
    const stored = { ...shown, attachments: [{ id: "a", name: "a.png", mimeType: "image/png", size: 1, dropped: true }] };
    expect(keepShown([stored], [shown])[0]).toBe(shown);
    const changed = { ...shown, attachments: [{ id: "b", name: "b.png", mimeType: "image/png", size: 1, dropped: true }] };
    expect(keepShown([changed], [shown])[0]).toBe(changed);
  });
});

describe("the session", () => {
  it("records attachments with a message, says when older ones were dropped, and opens them again", async () => {
    const notify = vi.fn();
    const store = createStore({ user: null, historyOn: true, messages: [], conversationId: null, historyStatus: "off", conversations: null });
    const history = createHistory(store, { notify });
    const until = async (check, what) => {
      await vi.waitFor(() => {
        if (!check()) throw new Error(`${what}: not yet`);
      }, { timeout: 5000, interval: 10 });
    };
    store.set({ user: { uid: uid() } });
    await until(() => store.get().historyStatus === "ready", "history ready");

    const big = (id) => {
      const blob = new Blob([new Uint8Array(60 * 1024 * 1024)], { type: "application/pdf" });
      return { id, name: `${id}.pdf`, mimeType: "application/pdf", size: blob.size, blob };
    };
    const exchange = async (text, attachment) => {
      store.set({ conversationId: null, messages: [] });
      const u = { id: crypto.randomUUID(), role: "user", text, state: "done", attachments: [attachment] };
      const m = { id: crypto.randomUUID(), role: "model", text: "", state: "streaming" };
      store.set({ messages: [u, m] });
      const handle = history.sent({ before: [], user: u, model: m });
      const id = store.get().conversationId;
      handle.settle({ text: "Read it.", state: "done" });
      await until(() => store.get().conversations?.find((c) => c.id === id)?.messageCount === 2, "saved");
      return id;
    };
    const first = await exchange("the first 60 MiB", big("first"));
    expect(notify).not.toHaveBeenCalled();
    await exchange("the second 60 MiB", big("second"));
    await until(() => notify.mock.calls.length, "notice");
    expect(notify).toHaveBeenCalledExactlyOnceWith({ code: "attachments_dropped", message: expect.stringMatching(/^Older attachments were removed from this device to stay under 100 MB\./) });

    store.set({ conversationId: null, messages: [] });
    expect(await history.open(first)).toBe(true);
    expect(store.get().messages[0].attachments).toEqual([{ id: "first", name: "first.pdf", mimeType: "application/pdf", size: 60 * 1024 * 1024, dropped: true }]);
    store.set({ user: null });
  });
});
