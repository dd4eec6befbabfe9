import { describe, expect, it, vi } from "vitest";
import { fetchMe, revokeSessions, sendChat } from "../src/api.js";
import { ApiError } from "../src/errors.js";

const encoder = new TextEncoder();

function sseResponse(chunks, { error } = {}) {
  const body = new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      if (error) controller.error(error);
      else controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

const jsonResponse = (status, body, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

const BODY = { message: "hi", history: [] };
const DONE = 'event: done\ndata: {"finishReason": "STOP", "usage": {"inputTokens": 1, "outputTokens": 2}, "quota": {"requestsLeft": 29, "tokensLeft": 1000}}\n\n';

describe("sendChat", () => {
  it("streams deltas from the chat URL with the bearer token and SSE accept header", async () => {
    const fetchImpl = vi.fn(async () => sseResponse(['event: delta\ndata: {"text": "Hel', 'lo"}\n\nevent: delta\ndata: {"text": " there"}\n\n', DONE]));
    const deltas = [];
    const result = await sendChat({ chatUrl: "https://chat.example/", token: "tok", body: BODY, onDelta: (t) => deltas.push(t), fetchImpl });
    expect(deltas).toEqual(["Hello", " there"]);
    expect(result).toEqual({ finishReason: "STOP", usage: { inputTokens: 1, outputTokens: 2 }, quota: { requestsLeft: 29, tokensLeft: 1000 }, via: "stream" });
    const [url, init] = fetchImpl.mock.calls[0];
    expect(url).toBe("https://chat.example/");
    expect(init.method).toBe("POST");
    expect(init.credentials).toBe("omit");
    expect(init.headers.Authorization).toBe("Bearer tok");
    expect(init.headers.Accept).toBe("text/event-stream");
    expect(JSON.parse(init.body)).toEqual(BODY);
  });

  it("falls back to same-origin /api/chat JSON when the stream request fails at the network level", async () => {
    const fetchImpl = vi
      .fn()
      .mockRejectedValueOnce(new TypeError("Failed to fetch"))
      .mockResolvedValueOnce(jsonResponse(200, { reply: "Hi!", finishReason: "STOP", usage: {}, quota: { requestsLeft: 3, tokensLeft: 9 } }));
    const deltas = [];
    const result = await sendChat({ chatUrl: "https://chat.example/", token: "tok", body: BODY, onDelta: (t) => deltas.push(t), fetchImpl });
    expect(deltas).toEqual(["Hi!"]);
    expect(result.via).toBe("json");
    expect(result.quota).toEqual({ requestsLeft: 3, tokensLeft: 9 });
    const [url, init] = fetchImpl.mock.calls[1];
    expect(url).toBe("/api/chat");
    expect(init.headers.Accept).toBe("application/json");
    expect(init.headers.Authorization).toBe("Bearer tok");
  });

  it("does not fall back on an HTTP error; reads code and Retry-After", async () => {
    const fetchImpl = vi.fn(async () => jsonResponse(429, { error: { code: "rate_limited", message: "Too many requests." } }, { "Retry-After": "42" }));
    const error = await sendChat({ chatUrl: "https://chat.example/", token: "t", body: BODY, onDelta() {}, fetchImpl }).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe("rate_limited");
    expect(error.retryAfter).toBe(42);
    expect(fetchImpl).toHaveBeenCalledTimes(1);
  });

  it("reports a network failure when the fallback fails too", async () => {
    const fetchImpl = vi.fn().mockRejectedValue(new TypeError("Failed to fetch"));
    const error = await sendChat({ chatUrl: "https://chat.example/", token: null, body: BODY, onDelta() {}, fetchImpl }).catch((e) => e);
    expect(error.code).toBe("network");
    expect(fetchImpl).toHaveBeenCalledTimes(2);
    expect(fetchImpl.mock.calls[0][1].headers.Authorization).toBeUndefined();
  });

  it("turns an error event into an ApiError after partial text", async () => {
    const fetchImpl = vi.fn(async () => sseResponse(['event: delta\ndata: {"text": "partial"}\n\n', 'event: error\ndata: {"error": {"code": "timeout", "message": "The model took too long to answer."}}\n\n']));
    const deltas = [];
    const error = await sendChat({ chatUrl: "https://c.example/", token: "t", body: BODY, onDelta: (t) => deltas.push(t), fetchImpl }).catch((e) => e);
    expect(deltas).toEqual(["partial"]);
    expect(error.code).toBe("timeout");
  });

  it("reports a stream cut off without done as interrupted, and never resends", async () => {
    const fetchImpl = vi.fn(async () => sseResponse(['event: delta\ndata: {"text": "a"}\n\n']));
    const error = await sendChat({ chatUrl: "https://c.example/", token: "t", body: BODY, onDelta() {}, fetchImpl }).catch((e) => e);
    expect(error.code).toBe("interrupted");
    const dropping = vi.fn(async () => sseResponse(['event: delta\ndata: {"text": "a"}\n\n'], { error: new TypeError("network") }));
    const error2 = await sendChat({ chatUrl: "https://c.example/", token: "t", body: BODY, onDelta() {}, fetchImpl: dropping }).catch((e) => e);
    expect(error2.code).toBe("interrupted");
    expect(dropping).toHaveBeenCalledTimes(1);
  });

  it("propagates an abort without falling back", async () => {
    const controller = new AbortController();
    controller.abort();
    const fetchImpl = vi.fn().mockRejectedValue(new DOMException("Aborted", "AbortError"));
    const error = await sendChat({ chatUrl: "https://c.example/", token: "t", body: BODY, signal: controller.signal, onDelta() {}, fetchImpl }).catch((e) => e);
    expect(error.name).toBe("AbortError");
    expect(fetchImpl).toHaveBeenCalledTimes(1);
  });

  it("ignores anything after done", async () => {
    const fetchImpl = vi.fn(async () => sseResponse([DONE, 'event: delta\ndata: {"text": "late"}\n\n']));
    const deltas = [];
    const result = await sendChat({ chatUrl: "https://c.example/", token: "t", body: BODY, onDelta: (t) => deltas.push(t), fetchImpl });
    expect(deltas).toEqual([]);
    expect(result.finishReason).toBe("STOP");
  });

  it("accepts a JSON answer from the stream URL", async () => {
    const fetchImpl = vi.fn(async () => jsonResponse(200, { reply: "whole", finishReason: "STOP", usage: {} }));
    const deltas = [];
    const result = await sendChat({ chatUrl: "https://c.example/", token: "t", body: BODY, onDelta: (t) => deltas.push(t), fetchImpl });
    expect(deltas).toEqual(["whole"]);
    expect(result.quota).toBeNull();
  });
});

describe("auth calls", () => {
  it("GET /api/auth with the bearer token", async () => {
    const me = { uid: "u", allowed: true, quota: { requests: [], tokens: {} } };
    const fetchImpl = vi.fn(async () => jsonResponse(200, me));
    expect(await fetchMe("tok", fetchImpl)).toEqual(me);
    expect(fetchImpl.mock.calls[0][0]).toBe("/api/auth");
    expect(fetchImpl.mock.calls[0][1].headers.Authorization).toBe("Bearer tok");
  });

  it("surfaces 403 permission_denied", async () => {
    const fetchImpl = vi.fn(async () => jsonResponse(403, { error: { code: "permission_denied", message: "You do not have access to this app." } }));
    await expect(fetchMe("tok", fetchImpl)).rejects.toMatchObject({ code: "permission_denied" });
  });

  it("POST /api/auth/revoke", async () => {
    const fetchImpl = vi.fn(async () => new Response(null, { status: 204 }));
    await revokeSessions("tok", fetchImpl);
    expect(fetchImpl.mock.calls[0][0]).toBe("/api/auth/revoke");
    expect(fetchImpl.mock.calls[0][1].method).toBe("POST");
  });
});
