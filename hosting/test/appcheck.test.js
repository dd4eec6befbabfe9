import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

// The SDK is mocked at the module boundary: what appcheck.js imports dynamically is this.
const sdk = vi.hoisted(() => ({
  initializeAppCheck: null,
  ReCaptchaEnterpriseProvider: null,
  getToken: null,
}));
vi.mock("firebase/app-check", () => ({
  initializeAppCheck: (...args) => sdk.initializeAppCheck(...args),
  ReCaptchaEnterpriseProvider: function ReCaptchaEnterpriseProvider(siteKey) {
    sdk.ReCaptchaEnterpriseProvider(siteKey);
    this.siteKey = siteKey;
  },
  getToken: (...args) => sdk.getToken(...args),
}));

const { fetchMe, revokeSessions, sendChat, useAppCheck } = await import("../src/api.js");
const { APP_CHECK_HEADER, startAppCheck } = await import("../src/appcheck.js");
const { checkSiteKey, parseRuntimeConfig } = await import("../src/config.js");

const SITE_KEY = "6LcAbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-";
const APP = { name: "[DEFAULT]" };
const INSTANCE = { app: APP };
const BODY = { message: "hi", history: [] };
const DONE = 'event: done\ndata: {"finishReason": "STOP"}\n\n';

const sseResponse = () =>
  new Response(DONE, { status: 200, headers: { "Content-Type": "text/event-stream" } });
const jsonResponse = (body) =>
  new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });

beforeEach(() => {
  sdk.initializeAppCheck = vi.fn(() => INSTANCE);
  sdk.ReCaptchaEnterpriseProvider = vi.fn();
  sdk.getToken = vi.fn(async () => ({ token: "app-check-token" }));
  vi.spyOn(console, "warn").mockImplementation(() => {});
});

afterEach(() => {
  useAppCheck(null);
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("startAppCheck", () => {
  it("loads nothing and returns null without a site key", () => {
    const load = vi.fn();
    for (const key of [null, undefined, ""]) expect(startAppCheck(APP, key, { load })).toBeNull();
    expect(load).not.toHaveBeenCalled();
  });

  it("initializes App Check once with reCAPTCHA Enterprise and auto-refresh, then gets cached tokens", async () => {
    const token = startAppCheck(APP, SITE_KEY);
    expect(await token()).toBe("app-check-token");
    expect(await token()).toBe("app-check-token");
    expect(sdk.initializeAppCheck).toHaveBeenCalledTimes(1);
    const [app, options] = sdk.initializeAppCheck.mock.calls[0];
    expect(app).toBe(APP);
    expect(options.isTokenAutoRefreshEnabled).toBe(true);
    expect(options.provider.siteKey).toBe(SITE_KEY);
    expect(sdk.ReCaptchaEnterpriseProvider).toHaveBeenCalledWith(SITE_KEY);
    expect(sdk.getToken.mock.calls).toEqual([[INSTANCE, false], [INSTANCE, false]]);
  });

  it("resolves to null when the SDK fails to start or to give a token", async () => {
    sdk.getToken = vi.fn(async () => {
      throw Object.assign(new Error("throttled"), { code: "appCheck/throttled" });
    });
    expect(await startAppCheck(APP, SITE_KEY)()).toBeNull();
    expect(await startAppCheck(APP, SITE_KEY, { load: async () => { throw new Error("chunk failed"); } })()).toBeNull();
    sdk.initializeAppCheck = vi.fn(() => {
      throw new Error("already initialized");
    });
    expect(await startAppCheck(APP, SITE_KEY)()).toBeNull();
  });

  it("does not wait forever when reCAPTCHA never loads, and only briefly after that", async () => {
    vi.useFakeTimers();
    let release;
    sdk.getToken = vi.fn(() => new Promise((resolve) => { release = resolve; }));
    const token = startAppCheck(APP, SITE_KEY, { firstWaitMs: 6000, stalledWaitMs: 500 });

    const first = token();
    await vi.advanceTimersByTimeAsync(5999);
    let settled = false;
    first.then(() => { settled = true; });
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await first).toBeNull();

    const second = token();
    await vi.advanceTimersByTimeAsync(500);
    expect(await second).toBeNull();

    release({ token: "late-token" }); // reCAPTCHA finally answered: the normal wait again
    sdk.getToken = vi.fn(async () => ({ token: "fresh-token" }));
    await vi.advanceTimersByTimeAsync(0);
    expect(await token()).toBe("fresh-token");
  });
});

describe("App Check header on calls to our functions", () => {
  it("is sent on the chat stream, its JSON fallback, /api/auth and revoke", async () => {
    const getToken = vi.fn(async () => "ac-1");
    useAppCheck(getToken);
    const fetchImpl = vi
      .fn()
      .mockRejectedValueOnce(new TypeError("Failed to fetch"))
      .mockResolvedValueOnce(jsonResponse({ reply: "ok" }))
      .mockResolvedValueOnce(sseResponse())
      .mockResolvedValueOnce(jsonResponse({ uid: "u" }))
      .mockResolvedValueOnce(new Response(null, { status: 204 }));
    await sendChat({ chatUrl: "https://chat.example/", token: "id", body: BODY, onDelta() {}, fetchImpl });
    await sendChat({ chatUrl: "https://chat.example/", token: "id", body: BODY, onDelta() {}, fetchImpl });
    await fetchMe("id", fetchImpl);
    await revokeSessions("id", fetchImpl);

    const calls = fetchImpl.mock.calls.map(([url, init]) => [url, init.headers[APP_CHECK_HEADER], init.headers.Authorization]);
    expect(calls).toEqual([
      ["https://chat.example/", "ac-1", "Bearer id"],
      ["/api/chat", "ac-1", "Bearer id"],
      ["https://chat.example/", "ac-1", "Bearer id"],
      ["/api/auth", "ac-1", "Bearer id"],
      ["/api/auth/revoke", "ac-1", "Bearer id"],
    ]);
    expect(getToken).toHaveBeenCalledTimes(4); // one token per call; the fallback reuses it
  });

  it("is left out when no token can be had; the request still goes", async () => {
    for (const getToken of [async () => null, async () => "", async () => { throw new Error("x"); }]) {
      useAppCheck(getToken);
      const fetchImpl = vi.fn(async () => sseResponse());
      await sendChat({ chatUrl: "https://chat.example/", token: "id", body: BODY, onDelta() {}, fetchImpl });
      const meFetch = vi.fn(async () => jsonResponse({ uid: "u" }));
      await fetchMe("id", meFetch);
      for (const [, init] of [...fetchImpl.mock.calls, ...meFetch.mock.calls]) {
        expect(Object.keys(init.headers)).not.toContain(APP_CHECK_HEADER);
        expect(init.headers.Authorization).toBe("Bearer id");
      }
    }
  });

  it("is never sent with App Check off (no site key: nothing started)", async () => {
    useAppCheck(startAppCheck(APP, parseRuntimeConfig({ apiKey: "k", projectId: "p" }, {}).appCheckSiteKey));
    const fetchImpl = vi.fn(async () => sseResponse());
    await sendChat({ chatUrl: "https://chat.example/", token: "id", body: BODY, onDelta() {}, fetchImpl });
    expect(Object.keys(fetchImpl.mock.calls[0][1].headers)).not.toContain(APP_CHECK_HEADER);
    expect(sdk.initializeAppCheck).not.toHaveBeenCalled();
  });
});

describe("config.json appCheckSiteKey", () => {
  const init = { apiKey: "k", projectId: "p" };

  it("is null when absent or empty", () => {
    expect(parseRuntimeConfig(init, {}).appCheckSiteKey).toBeNull();
    expect(parseRuntimeConfig(init, { appCheckSiteKey: "" }).appCheckSiteKey).toBeNull();
  });

  it("is the site key when set", () => {
    expect(parseRuntimeConfig(init, { appCheckSiteKey: SITE_KEY }).appCheckSiteKey).toBe(SITE_KEY);
  });

  it("refuses something that is not a site key", () => {
    for (const bad of ["short", "has spaces in it and more text", "<script>alert(1)</script>xxxxxxxx", 42, {}]) {
      expect(() => checkSiteKey(bad)).toThrow(/appCheckSiteKey/);
    }
  });
});
