import { describe, expect, it } from "vitest";
import { answeredTurns, buildRequest, exportFileName, toMarkdown } from "../src/conversation.js";

let id = 0;
const msg = (role, text, state = "done") => ({ id: `t${id++}`, role, text, state });

describe("history", () => {
  it("keeps answered turns only, so roles alternate", () => {
    const messages = [msg("user", "q1"), msg("model", "a1"), msg("user", "q2 failed"), msg("user", "q3"), msg("model", "a3"), msg("user", "q4"), msg("model", "")];
    expect(answeredTurns(messages).flat()).toEqual([
      { role: "user", text: "q1" },
      { role: "model", text: "a1" },
      { role: "user", text: "q3" },
      { role: "model", text: "a3" },
    ]);
  });

  it("builds the contract's request body with nothing but message and history", () => {
    const { body } = buildRequest([msg("user", "hi"), msg("model", "hello")], "next");
    expect(Object.keys(body)).toEqual(["message", "history"]);
    expect(body.history.every((h) => Object.keys(h).join() === "role,text")).toBe(true);
    expect(body).toEqual({ message: "next", history: [{ role: "user", text: "hi" }, { role: "model", text: "hello" }] });
  });

  it("drops the oldest turns beyond MAX_HISTORY_MESSAGES", () => {
    const messages = [];
    for (let i = 0; i < 30; i += 1) messages.push(msg("user", `q${i}`), msg("model", `a${i}`));
    const { body, dropped } = buildRequest(messages, "x", { maxMessageChars: 8000, maxHistoryMessages: 40, maxRequestBytes: 65536 });
    expect(body.history).toHaveLength(40);
    expect(body.history[0]).toEqual({ role: "user", text: "q10" });
    expect(dropped).toBe(10);
  });

  it("drops the oldest turns to fit MAX_REQUEST_BYTES (UTF-8)", () => {
    const big = "é".repeat(5000); // 10,000 bytes
    const messages = [];
    for (let i = 0; i < 6; i += 1) messages.push(msg("user", `q${i}`), msg("model", big));
    const { body } = buildRequest(messages, "x", { maxMessageChars: 8000, maxHistoryMessages: 40, maxRequestBytes: 32768 });
    expect(new TextEncoder().encode(JSON.stringify(body)).length).toBeLessThanOrEqual(32768);
    expect(body.history.at(-1)).toEqual({ role: "model", text: big });
    expect(body.history.length).toBe(6);
  });
});

describe("export", () => {
  it("writes Markdown with speakers", () => {
    const md = toMarkdown([msg("user", "What is 2+2?"), msg("model", "**4**"), msg("user", "Why?"), msg("model", "Because", "stopped")], {
      date: new Date("2025-02-03T04:05:06Z"),
    });
    expect(md).toBe(
      "# Conversation with Gemini\n\n_Exported 2025-02-03 04:05 UTC_\n\n## You\n\nWhat is 2+2?\n\n## Gemini\n\n**4**\n\n## You\n\nWhy?\n\n## Gemini\n\nBecause\n\n_(stopped before the end)_\n",
    );
  });

  it("names the file after the date", () => {
    expect(exportFileName(new Date(2025, 0, 31, 14, 5))).toBe("chat-2025-01-31-1405.md");
  });
});
