import "fake-indexeddb/auto";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, buildRequest } from "../src/conversation.js";
import { openHistory } from "../src/history/db.js";

// Continuing an old conversation: what comes back from IndexedDB goes through conversation.js's
// buildRequest, which keeps the newest answered turns within MAX_HISTORY_MESSAGES and
// MAX_REQUEST_BYTES and reports how many it left out (`dropped`, in turns) for the UI to say so.

let history;
afterEach(() => history?.close());

const bytes = (value) => new TextEncoder().encode(JSON.stringify(value)).length;

async function stored(messages) {
  history = await openHistory(`trim-${Date.now()}-${Math.random()}`);
  const c = await history.createConversation({ messages });
  return (await history.getConversation(c.id)).messages;
}

describe("continuing a stored conversation", () => {
  it("sends at most MAX_HISTORY_MESSAGES, newest turns, and says how many were left out", async () => {
    const messages = [];
    for (let i = 0; i < 30; i += 1) messages.push({ role: "user", text: `q${i}` }, { role: "model", text: `a${i}`, state: "done", finishReason: "STOP" });
    const { body, dropped } = buildRequest(await stored(messages), "next", DEFAULT_LIMITS);
    expect(body.history).toHaveLength(40);
    expect(body.history[0]).toEqual({ role: "user", text: "q10" });
    expect(body.history.at(-1)).toEqual({ role: "model", text: "a29" });
    expect(body.history.every((h) => Object.keys(h).join() === "role,text")).toBe(true); // no ids, times, seq
    expect(dropped).toBe(10);
  });

  it("fits MAX_REQUEST_BYTES with long stored answers", async () => {
    const long = "ü".repeat(6000); // 12,000 bytes
    const messages = [];
    for (let i = 0; i < 12; i += 1) messages.push({ role: "user", text: `q${i}` }, { role: "model", text: long });
    const limits = { ...DEFAULT_LIMITS, maxRequestBytes: 65536 };
    const { body, dropped } = buildRequest(await stored(messages), "next", limits);
    expect(bytes(body)).toBeLessThanOrEqual(limits.maxRequestBytes);
    expect(body.history.length / 2 + dropped).toBe(12);
    expect(dropped).toBeGreaterThan(0);
    expect(body.history.at(-2)).toEqual({ role: "user", text: "q11" });
  });

  it("leaves out failed and unfinished turns without counting them as dropped", async () => {
    const messages = [
      { role: "user", text: "q1" },
      { role: "model", text: "a1" },
      { role: "user", text: "failed" },
      { role: "model", text: "", state: "error" },
      { role: "user", text: "q2" },
      { role: "model", text: "partial", state: "stopped" },
      { role: "user", text: "q3" },
      { role: "model", text: "", state: "streaming" },
    ];
    const { body, dropped } = buildRequest(await stored(messages), "next");
    expect(body.history).toEqual([
      { role: "user", text: "q1" },
      { role: "model", text: "a1" },
      { role: "user", text: "q2" },
      { role: "model", text: "partial" },
    ]);
    expect(dropped).toBe(0);
  });
});
