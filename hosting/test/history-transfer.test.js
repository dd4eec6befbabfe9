import "fake-indexeddb/auto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { openHistory } from "../src/history/db.js";
import { HistoryFullError, ImportError } from "../src/history/errors.js";
import { IMPORT_LIMITS, conversationMarkdown, exportAll, importAll, parseImport, readImportFile } from "../src/history/transfer.js";

let n = 0;
const opened = [];
async function open() {
  const history = await openHistory(`transfer-${Date.now().toString(36)}-${n++}`);
  opened.push(history);
  return history;
}
const user = (text, extra) => ({ role: "user", text, state: "done", ...extra });
const model = (text, extra) => ({ role: "model", text, state: "done", ...extra });
const T = "2025-03-01T10:00:00.000Z";
const msg = (id, role = "user", text = "hi", extra = {}) => ({ id, role, text, state: "done", createdAt: T, updatedAt: T, ...extra });
const conv = (id, messages = [msg(`${id}-m1`)], extra = {}) => ({ id, title: `Title ${id}`, createdAt: T, updatedAt: T, messages, ...extra });
const doc = (conversations = [conv("c1")], extra = {}) => ({ format: "jette-history", version: 1, exportedAt: T, conversations, ...extra });
const text = (value) => JSON.stringify(value);

afterEach(() => {
  while (opened.length) opened.pop().close();
  vi.restoreAllMocks();
});

async function seeded() {
  const h = await open();
  const a = await h.createConversation({ messages: [user("Hello"), model("Hi! **bold**", { finishReason: "STOP" })] });
  await h.createConversation({ messages: [user("Ünïcödé ✓ 🎉"), model("partial", { state: "stopped" }), user("again"), model("", { state: "error" })] });
  await h.rename(a.id, "Greetings");
  await h.createConversation({ messages: [user("streaming"), model("", { state: "streaming" })] });
  return h;
}

describe("export -> import", () => {
  it("round-trips every conversation exactly", async () => {
    const source = await seeded();
    const exported = await exportAll(source, new Date(T));
    expect(exported).toMatchObject({ format: "jette-history", version: 1, exportedAt: T });
    expect(exported.conversations).toHaveLength(3);
    expect(exported.conversations[0].messages.map((m) => m.text)).toEqual(["streaming"]); // empty placeholder left out

    const target = await open();
    const result = await importAll(target, parseImport(JSON.stringify(exported)));
    expect(result).toEqual({ added: 3, copied: 0, skipped: 0 });
    const again = await exportAll(target, new Date(T));
    expect(again).toEqual(exported);
    const strip = ({ version, ...rest }) => rest; // eslint-disable-line no-unused-vars
    const [listA, listB] = [await source.listConversations(), await target.listConversations()];
    expect(listB.map((c) => c.title)).toEqual(listA.map((c) => c.title));
    const greetings = listA.find((c) => c.title === "Greetings").id;
    const [ca, cb] = [await source.getConversation(greetings), await target.getConversation(greetings)];
    expect(strip(cb)).toEqual(strip(ca));
  });

  it("merge policy: same content skipped, different content kept as a copy, new added", async () => {
    const h = await open();
    const first = await importAll(h, parseImport(text(doc([conv("c1"), conv("c2")]))));
    expect(first).toEqual({ added: 2, copied: 0, skipped: 0 });
    await h.appendMessage("c1", model("newer on device"));
    const changed = conv("c2", [msg("c2-m1", "user", "different text")]);
    const second = await importAll(h, parseImport(text(doc([conv("c1"), changed, conv("c3")]))));
    expect(second).toEqual({ added: 1, copied: 1, skipped: 1 });
    const list = await h.listConversations();
    expect(list).toHaveLength(4);
    expect((await h.getConversation("c1")).messages.map((m) => m.text)).toEqual(["hi", "newer on device"]);
    expect((await h.getConversation("c2")).messages.map((m) => m.text)).toEqual(["hi"]);
    const copy = list.find((c) => c.id !== "c2" && c.title === "Title c2");
    const copied = await h.getConversation(copy.id);
    expect(copied.messages.map((m) => m.text)).toEqual(["different text"]);
    expect(copied.messages[0].id).not.toBe("c2-m1");
  });

  it("gives a fresh id to an imported message whose id is already used on the device", async () => {
    const h = await open();
    await h.createConversation({ id: "local", messages: [user("mine", { id: "taken" })] });
    await importAll(h, parseImport(text(doc([conv("imp", [msg("taken", "user", "theirs")])]))));
    expect((await h.getConversation("local")).messages.map((m) => [m.id, m.text])).toEqual([["taken", "mine"]]);
    const imported = await h.getConversation("imp");
    expect(imported.messages[0].text).toBe("theirs");
    expect(imported.messages[0].id).not.toBe("taken");
  });

  it("writes in one transaction: a full disk mid-import changes nothing", async () => {
    const h = await seeded();
    const before = await exportAll(h, new Date(T));
    const parsed = parseImport(text(doc([conv("x1"), conv("x2"), conv("x3")])));
    const put = IDBObjectStore.prototype.put;
    let calls = 0;
    vi.spyOn(IDBObjectStore.prototype, "put").mockImplementation(function (value, key) {
      calls += 1;
      if (calls === 4) throw new DOMException("full", "QuotaExceededError");
      return put.call(this, value, key);
    });
    await expect(importAll(h, parsed)).rejects.toBeInstanceOf(HistoryFullError);
    vi.restoreAllMocks();
    expect(await exportAll(h, new Date(T))).toEqual(before);
  });

  it("takes only what parseImport returned", async () => {
    const h = await open();
    await expect(importAll(h, { conversations: [] })).rejects.toThrow(TypeError);
  });
});

describe("hostile imports", () => {
  const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
  const many = doc(Array.from({ length: 10_000 }, (_, i) => ({ id: `c${i}`, title: "", createdAt: T, updatedAt: T, messages: [] })));
  const huge = "x".repeat(IMPORT_LIMITS.textChars + 1);
  const cases = [
    ["not a string", null, /not a text file/],
    ["empty", "", /not valid JSON/],
    ["truncated JSON", text(doc()).slice(0, -5), /not valid JSON/],
    ["nested depth (top level)", deep, /not valid JSON|not a Jette history export/],
    ["nested depth (in a message)", text(doc([conv("c1", ["DEEP"])])).replace('"DEEP"', deep), /conversation 1, message 1\): expected an object/],
    ["over 20 MB", " ".repeat(IMPORT_LIMITS.bytes + 1), /larger than 20 MB/],
    ["a JSON array", "[]", /not a Jette history export/],
    ["wrong format", text(doc(undefined, { format: "other" })), /not a Jette history export/],
    ["wrong version", text(doc(undefined, { version: 2 })), /export version "2"/],
    ["version as string", text(doc(undefined, { version: "1" })), /export version "1"/],
    ["10k conversations", text(many), /more than 5,000 conversations/],
    ["too many messages", text(doc([conv("c1", Array.from({ length: 2001 }, (_, i) => msg(`m${i}`)))])), /more than 2,000 messages/],
    ["huge text", text(doc([conv("c1", [msg("m1", "user", huge)])])), /"text" is longer than 200,000 characters/],
    ["huge title", text(doc([conv("c1", undefined, { title: "t".repeat(201) })])), /"title" is longer than 200/],
    ["__proto__ at the top", text(doc()).replace('{"format"', '{"__proto__":{"polluted":true},"format"'), /unknown field "__proto__"/],
    ["__proto__ in a message", text(doc([conv("c1", [{ ...msg("m1") }])])).replace('{"id":"m1"', '{"__proto__":{"role":"user"},"id":"m1"'), /message 1\): unknown field "__proto__"/],
    ["constructor key", text(doc([conv("c1", undefined, { constructor: { prototype: { x: 1 } } })])), /conversation 1\): unknown field "constructor"/],
    ["extra field", text(doc([conv("c1", [msg("m1", "user", "hi", { extra: 1 })])])), /unknown field "extra"/],
    ["missing field", text(doc([{ id: "c1", title: "", createdAt: T, updatedAt: T }])), /missing field "messages"/],
    ["bad role", text(doc([conv("c1", [msg("m1", "system")])])), /"role" must be "user" or "model"/],
    ["bad state", text(doc([conv("c1", [msg("m1", "user", "hi", { state: "streaming" })])])), /"state" must be/],
    ["non-string text", text(doc([conv("c1", [msg("m1", "user", 42)])])), /"text" must be text/],
    ["object text", text(doc([conv("c1", [msg("m1", "user", { toString: "x" })])])), /"text" must be text/],
    ["duplicate conversation ids", text(doc([conv("c1"), conv("c1", [msg("other")])])), /conversation 2\): the id "c1" appears twice/],
    ["duplicate message ids", text(doc([conv("c1"), conv("c2", [msg("c1-m1")])])), /the id "c1-m1" appears twice/],
    ["bad id characters", text(doc([conv("../../etc")])), /"id" must be 1–64 letters/],
    ["overlong id", text(doc([conv("a".repeat(65))])), /"id" must be 1–64/],
    ["numeric time", text(doc([conv("c1", undefined, { createdAt: 1740823200000 })])), /"createdAt" must be a time/],
    ["time in the future", text(doc([conv("c1", undefined, { updatedAt: "2999-01-01T00:00:00.000Z" })])), /"updatedAt" is not a plausible time/],
    ["time before 2020", text(doc([conv("c1", undefined, { createdAt: "1970-01-01T00:00:00.000Z" })])), /not a plausible time/],
    ["invalid date", text(doc([conv("c1", undefined, { createdAt: "2025-13-45T99:99:99.000Z" })])), /not a plausible time/],
    ["updated before created", text(doc([conv("c1", undefined, { createdAt: "2025-03-02T00:00:00.000Z" })])), /"updatedAt" is before "createdAt"/],
    ["conversations not a list", text(doc({ 0: conv("c1") })), /"conversations" must be a list/],
    ["messages not a list", text(doc([conv("c1", "hi")])), /"messages" must be a list/],
    ["bad finishReason", text(doc([conv("c1", [msg("m1", "model", "x", { finishReason: "<script>" })])])), /"finishReason"/],
    ["null conversation", text(doc([null])), /conversation 1\): expected an object/],
  ];

  let h;
  let before;
  beforeEach(async () => {
    h = await seeded();
    before = await exportAll(h, new Date(T));
  });

  it.each(cases)("refuses %s with a clear message and changes nothing", async (_name, input, message) => {
    let error;
    try {
      await importAll(h, parseImport(input, Date.parse("2025-06-01T00:00:00Z")));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ImportError);
    expect(error.message).toMatch(/^This file can't be imported/);
    expect(error.message).toMatch(/Nothing was changed\.$/);
    expect(error.message).toMatch(message);
    expect(error.message.length).toBeLessThan(200);
    expect({}.polluted).toBeUndefined();
    expect(Object.prototype.x).toBeUndefined();
    expect(await exportAll(h, new Date(T))).toEqual(before);
  });

  it("accepts the limits themselves", () => {
    const parsed = parseImport(text(doc([conv("c1", [msg("m1", "user", "x".repeat(IMPORT_LIMITS.textChars))], { title: "t".repeat(200) })])), Date.parse("2025-06-01T00:00:00Z"));
    expect(parsed.conversations[0].messages[0].text).toHaveLength(IMPORT_LIMITS.textChars);
    expect(Object.isFrozen(parsed)).toBe(true);
  });

  it("refuses an oversized file before reading it", async () => {
    const file = { size: IMPORT_LIMITS.bytes + 1, text: vi.fn() };
    await expect(readImportFile(file)).rejects.toThrow(/larger than 20 MB/);
    expect(file.text).not.toHaveBeenCalled();
    const ok = await readImportFile(new Blob([text(doc())]));
    expect(ok.conversations).toHaveLength(1);
  });
});

describe("Markdown per conversation", () => {
  it("uses the title and conversation.js's format", async () => {
    const h = await open();
    const c = await h.createConversation({ messages: [user("Crème brûlée?"), model("**Yes**"), user("more"), model("cut", { state: "streaming" })] });
    const { name, text: md } = conversationMarkdown(await h.getConversation(c.id), new Date(T));
    expect(name).toMatch(/^creme-brulee-\d{4}-\d{2}-\d{2}\.md$/);
    expect(md).toBe(
      "# Crème brûlée?\n\n_Exported 2025-03-01 10:00 UTC_\n\n## You\n\nCrème brûlée?\n\n## Gemini\n\n**Yes**\n\n## You\n\nmore\n\n## Gemini\n\ncut\n\n_(stopped before the end)_\n",
    );
  });
});
