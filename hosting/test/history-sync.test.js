import "fake-indexeddb/auto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { dbNameFor, openHistory } from "../src/history/db.js";
import { connect, isNewer, mergeMessages, parseChange } from "../src/history/sync.js";

const cleanups = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()();
});

/** Resolves with the next `count` notices `onChange` receives. */
function collector(count = 1) {
  const got = [];
  let resolve;
  const done = new Promise((r) => {
    resolve = r;
  });
  return {
    got,
    done,
    onChange(change) {
      got.push(change);
      if (got.length >= count) resolve(got);
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

describe("protocol", () => {
  it("accepts the four notices and nothing else", () => {
    expect(parseChange({ type: "changed", conversationId: "c-1", version: 3 })).toEqual({ v: 1, type: "changed", conversationId: "c-1", version: 3 });
    expect(parseChange({ v: 1, type: "removed", conversationId: "c-1", text: "leak" })).toEqual({ v: 1, type: "removed", conversationId: "c-1" });
    expect(parseChange({ type: "cleared" })).toEqual({ v: 1, type: "cleared" });
    expect(parseChange({ type: "imported" })).toEqual({ v: 1, type: "imported" });
    for (const bad of [null, "changed", { type: "other" }, { v: 2, type: "cleared" }, { type: "changed", conversationId: "c" }, { type: "changed", conversationId: "../x", version: 1 }, { type: "changed", conversationId: "c", version: 0 }, { type: "removed" }]) {
      expect(parseChange(bad)).toBeNull();
    }
  });

  it("re-reads only for a newer version", () => {
    expect(isNewer({ type: "changed", version: 3 }, 2)).toBe(true);
    expect(isNewer({ type: "changed", version: 2 }, 2)).toBe(false);
    expect(isNewer({ type: "changed", version: 1 }, undefined)).toBe(true);
    expect(isNewer({ type: "removed" }, 1)).toBe(false);
  });

  it("merges by id: the store wins, except what this tab is still streaming or writing", () => {
    const stored = [
      { id: "a", text: "q" },
      { id: "b", text: "", state: "streaming" },
      { id: "x", text: "from the other tab" },
    ];
    const local = [
      { id: "a", text: "q" },
      { id: "b", text: "answer so f", state: "streaming" },
      { id: "gone", text: "removed elsewhere", state: "done" },
      { id: "p", text: "append in flight", state: "done" },
    ];
    expect(mergeMessages(stored, local, new Set(["p"])).map((m) => [m.id, m.text])).toEqual([
      ["a", "q"],
      ["b", "answer so f"],
      ["x", "from the other tab"],
      ["p", "append in flight"],
    ]);
  });
});

describe("channel", () => {
  it("delivers a notice to the other connection, not back to the sender", async () => {
    const one = collector();
    const two = collector();
    const tab1 = connect("jette-history-abc", one.onChange);
    const tab2 = connect("jette-history-abc", two.onChange);
    const other = collector();
    const otherUser = connect("jette-history-def", other.onChange);
    cleanups.push(tab1.close, tab2.close, otherUser.close);
    expect(tab1.supported).toBe(true);
    tab1.announce({ type: "changed", conversationId: "c1", version: 2 });
    expect(await two.done).toEqual([{ v: 1, type: "changed", conversationId: "c1", version: 2 }]);
    await tick();
    expect(one.got).toEqual([]);
    expect(other.got).toEqual([]);
    expect(() => tab1.announce({ type: "bogus" })).toThrow(TypeError);
  });

  it("ignores malformed messages posted on the channel", async () => {
    const seen = collector();
    const tab = connect("jette-history-mal", seen.onChange);
    cleanups.push(tab.close);
    const raw = new BroadcastChannel("jette-history-mal:sync");
    cleanups.push(() => raw.close());
    raw.postMessage({ type: "changed", conversationId: "<img>", version: 1 });
    raw.postMessage("hello");
    raw.postMessage({ type: "cleared" });
    expect(await seen.done).toEqual([{ v: 1, type: "cleared" }]);
  });

  it("is a no-op where BroadcastChannel is missing", () => {
    const onChange = vi.fn();
    vi.stubGlobal("BroadcastChannel", undefined);
    cleanups.push(() => vi.unstubAllGlobals());
    const sync = connect("jette-history-x", onChange);
    expect(sync.supported).toBe(false);
    sync.announce({ type: "cleared" });
    sync.close();
    expect(onChange).not.toHaveBeenCalled();
  });
});

describe("two tabs end to end", () => {
  it("a message sent in one tab appears in the other, once", async () => {
    const uid = `sync-${Date.now()}`;
    const tab2Notices = collector(2);
    const name = await dbNameFor(uid);
    const sync1 = connect(name, () => {});
    const sync2 = connect(name, tab2Notices.onChange);
    const tab1 = await openHistory(uid, { onCommit: sync1.announce });
    const tab2 = await openHistory(uid, { onCommit: sync2.announce });
    cleanups.push(sync1.close, sync2.close, () => tab1.close(), () => tab2.close());

    // tab 2 shows the conversation; tab 1 sends a message into it
    const c = await tab2.createConversation({ messages: [{ role: "user", text: "hello", state: "done" }] });
    let shown = await tab2.getConversation(c.id);
    const { message } = await tab1.appendMessage(c.id, { role: "model", text: "", state: "streaming" });
    await tab1.updateMessage(c.id, message.id, { text: "hi from tab 1", state: "done" });

    const notices = await tab2Notices.done;
    for (const change of notices) {
      if (change.conversationId === c.id && isNewer(change, shown.version)) {
        const fresh = await tab2.getConversation(c.id);
        shown = { ...fresh, messages: mergeMessages(fresh.messages, shown.messages) };
      }
    }
    expect(shown.messages.map((m) => [m.role, m.text, m.state])).toEqual([
      ["user", "hello", "done"],
      ["model", "hi from tab 1", "done"],
    ]);
    expect(shown.version).toBe(c.version + 2);
  });
});
