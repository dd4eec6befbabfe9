import { describe, expect, it, vi } from "vitest";
import { loadRuntimeConfig, parseRuntimeConfig } from "../src/config.js";

const INIT = { apiKey: "k", authDomain: "p.firebaseapp.com", projectId: "p", appId: "1:2:web:3", databaseURL: "x", extra: 1 };

describe("runtime config", () => {
  it("keeps only web-config fields and reads config.json", () => {
    const config = parseRuntimeConfig(INIT, { chatUrl: "https://chat-abc.a.run.app" });
    expect(config.firebase).toEqual({ apiKey: "k", authDomain: "p.firebaseapp.com", projectId: "p", appId: "1:2:web:3" });
    expect(config.chatUrl).toBe("https://chat-abc.a.run.app/");
    expect(config.authEmulatorUrl).toBeNull();
    expect(config.limits).toEqual({ maxMessageChars: 8000, maxHistoryMessages: 40, maxRequestBytes: 20 * 1024 * 1024 });
  });

  it("accepts the development emulator and local http URLs", () => {
    const config = parseRuntimeConfig(INIT, { chatUrl: "http://127.0.0.1:8081/", authEmulatorUrl: "http://127.0.0.1:9099" });
    expect(config.authEmulatorUrl).toBe("http://127.0.0.1:9099");
    expect(config.chatUrl).toBe("http://127.0.0.1:8081/");
  });

  it("refuses plain http to a remote host and non-URLs", () => {
    expect(() => parseRuntimeConfig(INIT, { chatUrl: "http://chat.example.com/" })).toThrow(/https/);
    expect(() => parseRuntimeConfig(INIT, { chatUrl: "javascript:alert(1)" })).toThrow();
    expect(() => parseRuntimeConfig(INIT, { chatUrl: "/relative" })).toThrow(/absolute/);
    expect(() => parseRuntimeConfig({}, {})).toThrow(/apiKey/);
  });

  it("falls back to /api/chat without chatUrl; honours authDomain and limits overrides", () => {
    const config = parseRuntimeConfig(INIT, { authDomain: "chat.example.com", limits: { maxMessageChars: 4000, maxHistoryMessages: "x" } });
    expect(config.chatUrl).toBe("/api/chat");
    expect(config.firebase.authDomain).toBe("chat.example.com");
    expect(config.limits.maxMessageChars).toBe(4000);
    expect(config.limits.maxHistoryMessages).toBe(40);
  });

  it("fetches both documents without caching", async () => {
    const fetchImpl = vi.fn(async (url) => new Response(JSON.stringify(url.includes("firebase") ? INIT : { chatUrl: "https://c.example/" })));
    const config = await loadRuntimeConfig(fetchImpl);
    expect(fetchImpl.mock.calls.map((c) => c[0]).sort()).toEqual(["/__/firebase/init.json", "/config.json"]);
    expect(fetchImpl.mock.calls[0][1].cache).toBe("no-store");
    expect(config.chatUrl).toBe("https://c.example/");
    const failing = vi.fn(async () => new Response("nope", { status: 404 }));
    await expect(loadRuntimeConfig(failing)).rejects.toThrow(/404/);
  });
});
