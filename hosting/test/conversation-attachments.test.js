// buildRequest with attachments: the message's own (already in wire form), the history's (their
// base64 from conversation.js's cache), the byte budget (oldest history attachments left out
// first, then the oldest turns) and the bytes counted without re-serializing the base64.
import { describe, expect, it } from "vitest";
import {
  DEFAULT_LIMITS,
  answeredTurns,
  buildRequest,
  encodedData,
  historyBlobs,
  humanSize,
  messageBytes,
  rememberEncoding,
  toMarkdown,
} from "../src/conversation.js";

const bytes = (value) => new TextEncoder().encode(JSON.stringify(value)).length;
let n = 0;
const msg = (role, text, extra = {}) => ({ id: `m${n++}`, role, text, state: "done", ...extra });

/** An attachment of `size` bytes whose base64 is in the cache (as chat.js leaves it). */
function file(name, size, { mimeType = "image/png", encoded = true } = {}) {
  const blob = new Blob([new Uint8Array(size)], { type: mimeType });
  if (encoded) rememberEncoding(blob, Buffer.alloc(size).toString("base64"));
  return { id: `a${n++}`, name, mimeType, size, blob };
}
const wire = (a) => ({ name: a.name, mimeType: a.mimeType, data: encodedData(a.blob) });

describe("answered turns with attachments", () => {
  it("sends a question's attachments with it, as wire objects", () => {
    const photo = file("cat.png", 30);
    const turns = answeredTurns([msg("user", "What is this?", { attachments: [photo] }), msg("model", "A cat.")]);
    expect(turns.flat()).toEqual([
      { role: "user", text: "What is this?", attachments: [{ name: "cat.png", mimeType: "image/png", data: Buffer.alloc(30).toString("base64") }] },
      { role: "model", text: "A cat." },
    ]);
  });

  it("counts a question with blank text when it has an attachment", () => {
    const photo = file("cat.png", 3);
    const turns = answeredTurns([msg("user", "", { attachments: [photo] }), msg("model", "A cat.")]);
    expect(turns).toHaveLength(1);
    expect(turns[0][0]).toEqual({ role: "user", text: "", attachments: [wire(photo)] });
  });

  it("does not send bytes no longer on this device; a blank question left with none is left out", () => {
    const gone = { id: "g", name: "old.pdf", mimeType: "application/pdf", size: 900, dropped: true };
    const kept = file("new.png", 6);
    const turns = answeredTurns([
      msg("user", "", { attachments: [gone] }), msg("model", "A PDF."),
      msg("user", "and these?", { attachments: [gone, kept] }), msg("model", "An image."),
    ]);
    expect(turns.flat()).toEqual([
      { role: "user", text: "and these?", attachments: [wire(kept)] },
      { role: "model", text: "An image." },
    ]);
  });

  it("lists the Blobs to encode: only those the newest MAX_HISTORY_MESSAGES may carry", () => {
    const old = file("old.png", 3, { encoded: false });
    const recent = file("recent.png", 3, { encoded: false });
    const messages = [
      msg("user", "1", { attachments: [old] }), msg("model", "a"),
      msg("user", "2"), msg("model", "b"),
      msg("user", "3", { attachments: [recent, { id: "x", name: "gone", mimeType: "image/png", size: 1, dropped: true }] }), msg("model", "c"),
    ];
    expect(historyBlobs(messages, { ...DEFAULT_LIMITS, maxHistoryMessages: 4 })).toEqual([recent.blob]);
    expect(historyBlobs(messages)).toEqual([recent.blob, old.blob]); // newest first
    // Not encoded yet: not sent (chat.js encodes historyBlobs() first).
    expect(answeredTurns(messages).flat().some((item) => item.attachments)).toBe(false);
  });

  it("lists only the Blobs that can fit beside the message: older ones are never read", () => {
    const old = file("old.png", 3000, { encoded: false });
    const mid = file("mid.png", 3000, { encoded: false });
    const recent = file("recent.png", 3000, { encoded: false });
    const messages = [
      msg("user", "1", { attachments: [old, mid] }), msg("model", "a"),
      msg("user", "2", { attachments: [recent] }), msg("model", "b"),
    ];
    const limits = { ...DEFAULT_LIMITS, maxRequestBytes: 512 + 9000 };
    expect(historyBlobs(messages, limits)).toEqual([recent.blob, mid.blob]);
    expect(historyBlobs(messages, limits, 4500)).toEqual([recent.blob]);
  });
});

describe("buildRequest with attachments", () => {
  it("puts the message's attachments, model and instructions after message and history", () => {
    const own = [{ name: "notes.md", mimeType: "text/markdown", data: "aGk=" }];
    const { body, dropped, droppedAttachments, fits } = buildRequest([], "", DEFAULT_LIMITS, { model: "gemini-2.5-pro", instructions: "Be brief.", attachments: own });
    expect(body).toEqual({ message: "", history: [], model: "gemini-2.5-pro", instructions: "Be brief.", attachments: own });
    expect(Object.keys(body)).toEqual(["message", "history", "model", "instructions", "attachments"]);
    expect({ dropped, droppedAttachments, fits }).toEqual({ dropped: 0, droppedAttachments: 0, fits: true });
  });

  it("leaves out empty extras", () => {
    const { body } = buildRequest([], "hi", DEFAULT_LIMITS, { attachments: [] });
    expect(Object.keys(body)).toEqual(["message", "history"]);
  });

  it("counts the bytes of a request exactly (messageBytes, before encoding)", () => {
    const files = [file("é ünïcode \"quoted\".png", 1000), file("b.pdf", 4, { mimeType: "application/pdf" })];
    const extra = { model: "m", instructions: "ß" };
    const { body } = buildRequest([], "text ✓", DEFAULT_LIMITS, { ...extra, attachments: files.map(wire) });
    expect(messageBytes("text ✓", files, extra)).toBe(bytes(body));
  });

  it("fits MAX_REQUEST_BYTES: the oldest history attachments go first, then the oldest turns", () => {
    const a = file("a.png", 3000);
    const b = file("b.png", 3000);
    const c = file("c.png", 3000);
    const messages = [
      msg("user", "first", { attachments: [a, b] }), msg("model", "one"),
      msg("user", "second", { attachments: [c] }), msg("model", "two"),
    ];
    const own = [wire(file("own.png", 3000))];
    const limits = { ...DEFAULT_LIMITS, maxRequestBytes: 512 + 4000 * 3 + 600 }; // room for 3 of the 4 files
    const { body, dropped, droppedAttachments, fits } = buildRequest(messages, "third", limits, { attachments: own });
    expect(fits).toBe(true);
    expect(dropped).toBe(0);
    expect(droppedAttachments).toBe(1);
    expect(body.history).toEqual([
      { role: "user", text: "first", attachments: [wire(b)] },
      { role: "model", text: "one" },
      { role: "user", text: "second", attachments: [wire(c)] },
      { role: "model", text: "two" },
    ]);
    expect(bytes(body)).toBeLessThanOrEqual(limits.maxRequestBytes - 512);

    // Tighter: every history attachment goes before any turn does.
    const tight = { ...DEFAULT_LIMITS, maxRequestBytes: 512 + 4000 + 400 };
    const result = buildRequest(messages, "third", tight, { attachments: own });
    expect(result.droppedAttachments).toBe(3);
    expect(result.dropped).toBe(0);
    expect(result.body.history.map((h) => h.text)).toEqual(["first", "one", "second", "two"]);
    expect(result.body.history.some((h) => h.attachments)).toBe(false);
    expect(bytes(result.body)).toBeLessThanOrEqual(tight.maxRequestBytes - 512);
  });

  it("then leaves out turns, and a blank question whose files were left out goes with its answer", () => {
    const photo = file("photo.png", 3000);
    const messages = [
      msg("user", "", { attachments: [photo] }), msg("model", "A photo of a cat."),
      msg("user", "q2"), msg("model", "x".repeat(200)),
    ];
    const limits = { ...DEFAULT_LIMITS, maxRequestBytes: 512 + 1000 };
    const { body, dropped, droppedAttachments } = buildRequest(messages, "next", limits);
    expect(droppedAttachments).toBe(1);
    expect(dropped).toBe(1);
    expect(body.history).toEqual([{ role: "user", text: "q2" }, { role: "model", text: "x".repeat(200) }]);
  });

  it("counts the history's files left unencoded (beyond what fits) as left out", () => {
    const old = file("old.png", 3000, { encoded: false });
    const recent = file("recent.png", 30);
    const messages = [
      msg("user", "", { attachments: [old] }), msg("model", "An old photo."),
      msg("user", "and this", { attachments: [recent] }), msg("model", "A new one."),
    ];
    const { body, dropped, droppedAttachments } = buildRequest(messages, "next");
    expect({ dropped, droppedAttachments }).toEqual({ dropped: 1, droppedAttachments: 1 });
    expect(body.history).toEqual([{ role: "user", text: "and this", attachments: [wire(recent)] }, { role: "model", text: "A new one." }]);
  });

  it("says when the message alone does not fit (fits: false)", () => {
    const own = [wire(file("huge.png", 70_000))];
    const { fits, body } = buildRequest([msg("user", "q"), msg("model", "a")], "", { ...DEFAULT_LIMITS, maxRequestBytes: 65536 }, { attachments: own });
    expect(fits).toBe(false);
    expect(body.history).toEqual([]);
  });
});

describe("Markdown export with attachments", () => {
  it("lists a question's files by name and size", () => {
    const md = toMarkdown([
      msg("user", "", { attachments: [file("cat.png", 2048), { id: "d", name: "old.pdf", mimeType: "application/pdf", size: 5 * 1024 * 1024, dropped: true }] }),
      msg("model", "A cat."),
    ], { date: new Date("2025-02-03T04:05:06Z") });
    expect(md).toContain("## You\n\n_Attached: cat.png (2 KB), old.pdf (5 MB)_\n\n## Gemini\n\nA cat.\n");
  });

  it("writes sizes as people read them", () => {
    expect([0, 820, 1024, 14_600, 1024 * 1024 - 1, 4.25 * 1024 * 1024, 20 * 1024 * 1024].map(humanSize))
      .toEqual(["0 B", "820 B", "1 KB", "14 KB", "1 MB", "4.3 MB", "20 MB"]);
  });
});
