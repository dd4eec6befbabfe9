// GET /api/auth's `chat` block as the page takes it (api.js normalizeChat): the models in the
// server's order, the limits it knows, and nothing of what is malformed.
import { describe, expect, it } from "vitest";
import { normalizeChat } from "../src/api.js";

const TYPES = ["image/png", "image/jpeg", "image/webp", "image/heic", "image/heif", "application/pdf", "text/plain", "text/markdown", "text/csv"];
const SERVER = {
  models: [{ id: "gemini-2.5-flash", weight: 1 }, { id: "gemini-2.5-flash-lite", weight: 0.3 }, { id: "gemini-2.5-pro", weight: 8 }],
  limits: {
    maxAttachments: 4, maxAttachmentBytes: 5242880, attachmentTypes: TYPES, maxMessageChars: 8000,
    maxInstructionsChars: 2000, maxRequestBytes: 20971520,
  },
};

describe("normalizeChat", () => {
  it("takes the server's answer as it is", () => {
    expect(normalizeChat(SERVER)).toEqual(SERVER);
    expect(normalizeChat(SERVER).limits.attachmentTypes).not.toBe(TYPES); // a copy
  });

  it("keeps zero where it turns a feature off, and nowhere else", () => {
    const zero = { maxAttachments: 0, maxInstructionsChars: 0, maxAttachmentBytes: 0, maxMessageChars: 0, maxRequestBytes: 0 };
    expect(normalizeChat({ models: [], limits: zero })).toEqual({ models: [], limits: { maxAttachments: 0, maxInstructionsChars: 0 } });
  });

  it("leaves out malformed models and duplicates, keeping the order", () => {
    const models = [
      { id: "gemini-2.5-flash", weight: 1 },
      { id: "gemini-2.5-flash", weight: 2 },
      { id: "Gemini-Pro", weight: 1 },
      { id: "", weight: 1 },
      { id: "m".repeat(101), weight: 1 },
      { id: "gemini-2.5-pro", weight: 0 },
      { id: "gemini-2.5-pro", weight: "8" },
      { id: "gemini-2.5-pro", weight: Number.POSITIVE_INFINITY },
      { id: 42, weight: 1 },
      null,
      "gemini-2.5-pro",
      { id: "gemini-2.5-flash-lite", weight: 0.3 },
    ];
    expect(normalizeChat({ models }).models).toEqual([{ id: "gemini-2.5-flash", weight: 1 }, { id: "gemini-2.5-flash-lite", weight: 0.3 }]);
  });

  it("leaves out limits that are not whole numbers, unknown keys, and types that are not strings", () => {
    const limits = {
      maxMessageChars: 1.5, maxRequestBytes: "65536", maxAttachments: -1, maxAttachmentBytes: Number.NaN,
      maxInstructionsChars: 2 ** 60, unknown: 5, __proto__: { maxHistoryMessages: 3 },
      attachmentTypes: ["image/png", 7, "", null, "application/pdf"],
    };
    expect(normalizeChat({ models: SERVER.models, limits }).limits).toEqual({ attachmentTypes: ["image/png", "application/pdf"] });
    expect(normalizeChat({ models: SERVER.models, limits: { attachmentTypes: "image/png" } }).limits).toEqual({});
  });

  it.each([undefined, null, "chat", 7, [], {}, { models: "x", limits: [] }])("says nothing for %j", (chat) => {
    expect(normalizeChat(chat)).toBeNull();
  });
});
