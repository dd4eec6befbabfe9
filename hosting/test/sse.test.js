import { describe, expect, it } from "vitest";
import { createSSEParser, readSSE } from "../src/sse.js";

const encoder = new TextEncoder();

function parseChunks(chunks) {
  const events = [];
  const parser = createSSEParser((event) => events.push(event));
  for (const chunk of chunks) parser.push(chunk);
  parser.end();
  return events;
}

function splitEveryByte(text) {
  const bytes = encoder.encode(text);
  return [...bytes].map((b) => Uint8Array.of(b));
}

// What functions/chat/sse.py writes: json.dumps(..., ensure_ascii=True).
const serverEvent = (name, data) => `event: ${name}\ndata: ${JSON.stringify(data).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}\n\n`;

const STREAM =
  serverEvent("delta", { text: "Hello, " }) +
  serverEvent("delta", { text: "wörld 🌍\n\ndata: not an event" }) +
  serverEvent("done", { finishReason: "STOP", usage: { inputTokens: 3, outputTokens: 5 }, quota: { requestsLeft: 29, tokensLeft: 199992 } });

const EXPECTED = [
  { type: "delta", data: { text: "Hello, " } },
  { type: "delta", data: { text: "wörld 🌍\n\ndata: not an event" } },
  { type: "done", data: { finishReason: "STOP", usage: { inputTokens: 3, outputTokens: 5 }, quota: { requestsLeft: 29, tokensLeft: 199992 } } },
];

const decoded = (events) => events.map((e) => ({ type: e.type, data: JSON.parse(e.data) }));

describe("SSE parser", () => {
  it("parses the chat stream in one chunk", () => {
    expect(decoded(parseChunks([STREAM]))).toEqual(EXPECTED);
  });

  it("parses the same stream split at every byte (LF)", () => {
    expect(decoded(parseChunks(splitEveryByte(STREAM)))).toEqual(EXPECTED);
  });

  it("parses the stream with CRLF line ends, split at every byte", () => {
    const crlf = STREAM.replace(/\n/g, "\r\n");
    expect(decoded(parseChunks([crlf]))).toEqual(EXPECTED);
    expect(decoded(parseChunks(splitEveryByte(crlf)))).toEqual(EXPECTED);
  });

  it("parses bare CR line ends, including a CR at a chunk end followed by LF", () => {
    const cr = STREAM.replace(/\n/g, "\r");
    expect(decoded(parseChunks(splitEveryByte(cr)))).toEqual(EXPECTED);
    expect(parseChunks(["data: a\r", "\n\r", "\ndata: b\r\n\r\n"]).map((e) => e.data)).toEqual(["a", "b"]);
  });

  it("parses at every possible two-way split", () => {
    for (let i = 0; i <= STREAM.length; i += 1) {
      expect(decoded(parseChunks([STREAM.slice(0, i), STREAM.slice(i)]))).toEqual(EXPECTED);
    }
  });

  it("keeps a JSON text containing an encoded \\n\\ndata: inside one event", () => {
    const wire = `event: delta\ndata: ${JSON.stringify({ text: "a\n\ndata: {\"forged\": true}\n\nevent: done" })}\n\n`;
    expect(wire.split("\n").length).toBe(4); // the newlines are escaped on the wire
    const events = parseChunks(splitEveryByte(wire));
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0].data)).toEqual({ text: "a\n\ndata: {\"forged\": true}\n\nevent: done" });
  });

  it("joins multi-line data with \\n and strips one leading space only", () => {
    const events = parseChunks(["data:first\ndata:  second\ndata\n\n"]);
    expect(events).toEqual([{ type: "message", data: "first\n second\n", id: "" }]);
  });

  it("ignores comments, unknown fields and retry; dispatches nothing for comment-only blocks", () => {
    const events = parseChunks([": keep-alive\n\n:another\nretry: 1000\nfoo: bar\nevent: delta\n: mid\ndata: x\n\n"]);
    expect(events).toEqual([{ type: "delta", data: "x", id: "" }]);
  });

  it("resets the event type after an event without data", () => {
    const events = parseChunks(["event: ping\n\ndata: y\n\n"]);
    expect(events).toEqual([{ type: "message", data: "y", id: "" }]);
  });

  it("tracks the last event id", () => {
    const events = parseChunks(["id: 7\ndata: a\n\ndata: b\n\n"]);
    expect(events.map((e) => e.id)).toEqual(["7", "7"]);
  });

  it("drops an event that was not terminated by a blank line", () => {
    expect(parseChunks(["data: complete\n\ndata: cut off"]).map((e) => e.data)).toEqual(["complete"]);
  });

  it("strips a leading byte-order mark", () => {
    const bytes = [0xef, 0xbb, 0xbf, ...encoder.encode("data: z\n\n")];
    expect(parseChunks(bytes.map((b) => Uint8Array.of(b))).map((e) => e.data)).toEqual(["z"]);
  });

  it("decodes multi-byte UTF-8 split across chunks", () => {
    const events = parseChunks(splitEveryByte("data: ünïcødé ✓ 🎉\n\n"));
    expect(events[0].data).toBe("ünïcødé ✓ 🎉");
  });
});

describe("readSSE", () => {
  function streamOf(chunks) {
    return new ReadableStream({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
        controller.close();
      },
    });
  }

  it("reads a body stream to the end", async () => {
    const events = [];
    await readSSE(streamOf([STREAM.slice(0, 10), STREAM.slice(10, 50), STREAM.slice(50)]), (e) => {
      events.push(e);
    });
    expect(decoded(events)).toEqual(EXPECTED);
  });

  it("stops reading when the callback returns false", async () => {
    const events = [];
    await readSSE(streamOf([STREAM]), (e) => {
      events.push(e);
      return false;
    });
    expect(events).toHaveLength(1);
  });

  it("rejects when the stream errors midway", async () => {
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(encoder.encode("data: a\n\n"));
        controller.error(new TypeError("network error"));
      },
    });
    await expect(readSSE(body, () => {})).rejects.toThrow(TypeError);
  });
});
