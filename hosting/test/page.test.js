// @vitest-environment jsdom
// The whole page (index.html + main.js and its src/ui modules) in jsdom, with the network, the
// runtime config and Firebase Auth stood in for: what each control shows follows the state.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("../src/config.js", () => ({ loadRuntimeConfig: vi.fn() }));
vi.mock("../src/auth.js", () => ({ startAuth: vi.fn() }));
vi.mock("../src/api.js", async (importOriginal) => ({
  ...(await importOriginal()),
  sendChat: vi.fn(),
  fetchMe: vi.fn(),
  revokeSessions: vi.fn(),
}));

const BODY = readFileSync(resolve(import.meta.dirname, "../index.html"), "utf8").match(/<body[^>]*>([\s\S]*)<\/body>/)[1];
const LIMITS = { maxMessageChars: 100, maxHistoryMessages: 40, maxRequestBytes: 65536 };
const ME = { quota: { requests: [{ remaining: 3 }], tokens: { remaining: 200_000, dailyLimit: 200_000 } } };

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);
const $$ = (id) => [...document.querySelectorAll(`[data-testid="${id}"]`)];
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const settle = async () => {
  for (let i = 0; i < 5; i += 1) await tick();
};
const user = (uid = "u1", displayName = "Ada Lovelace") => ({
  uid, displayName, email: `${uid}@example.com`, photoURL: null, getIdToken: async () => `token-${uid}`,
});

function type(text) {
  const input = $("composer-input");
  input.value = text;
  input.dispatchEvent(new Event("input", { bubbles: true }));
}
const press = (el, key, init = {}) => el.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init }));
const models = () => [...document.querySelectorAll('[data-testid="message"][data-role="model"]')];

/** A chat answer the test controls: deltas, then resolve/reject; aborting rejects it. */
function pendingAnswer(api) {
  const call = {};
  api.sendChat.mockImplementationOnce((options) => {
    call.options = options;
    return new Promise((resolve, reject) => {
      call.resolve = resolve;
      call.reject = reject;
      options.signal.addEventListener("abort", () => reject(new DOMException("Aborted", "AbortError")));
    });
  });
  return call;
}

let api;
let auth;
let handlers;

async function openPage({ signedIn = user() } = {}) {
  vi.resetModules();
  document.body.innerHTML = BODY; // the page's own, trusted markup
  document.body.dataset.appState = "loading";
  document.body.dataset.authState = "unknown";
  delete document.body.dataset.allowed;
  api = await import("../src/api.js");
  const config = await import("../src/config.js");
  const authModule = await import("../src/auth.js");
  config.loadRuntimeConfig.mockResolvedValue({ firebase: {}, chatUrl: "http://127.0.0.1:1/", authEmulatorUrl: null, appCheckSiteKey: null, limits: LIMITS });
  auth = { app: {}, signIn: vi.fn(), signOut: vi.fn(async () => handlers.onUser(null)), token: vi.fn(async () => "token") };
  authModule.startAuth.mockImplementation((_config, h) => {
    handlers = h;
    return auth;
  });
  api.fetchMe.mockResolvedValue(ME);
  await import("../src/main.js");
  await settle();
  handlers.onUser(signedIn);
  await settle();
}

beforeEach(() => {
  vi.stubGlobal("requestAnimationFrame", (fn) => setTimeout(fn, 0));
  vi.stubGlobal("cancelAnimationFrame", (id) => clearTimeout(id));
  sessionStorage.clear();
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.resetAllMocks();
});

describe("the page", () => {
  it("starts signed out, with Send off until there is something to send", async () => {
    await openPage({ signedIn: null });
    expect(document.body.dataset.appState).toBe("ready");
    expect(document.body.dataset.authState).toBe("signed-out");
    expect(document.body.dataset.allowed).toBe("true");
    expect($("sign-in").hidden).toBe(false);
    expect($("user-menu").hidden).toBe(true);
    expect(document.querySelector(".signed-out-only").hidden).toBe(false);
    expect($("empty-state").hidden).toBe(false);
    expect($("messages").hidden).toBe(true);
    expect($("send").disabled).toBe(true);
    expect($("new-chat").disabled).toBe(true);
    expect($("export").disabled).toBe(true);
    type("   ");
    expect($("send").disabled).toBe(true);
    type("Hello");
    expect($("send").disabled).toBe(false);
  });

  it("shows the account and its quota from /api/auth", async () => {
    await openPage();
    expect(document.body.dataset.authState).toBe("signed-in");
    expect($("user-name").textContent).toBe("Ada Lovelace");
    expect($("user-initial").textContent).toBe("A");
    expect($("sign-in").hidden).toBe(true);
    expect($("quota").hidden).toBe(false);
    expect($("quota").textContent).toBe("3 requests · 200k of 200k tokens left");
  });

  it("counts characters near the limit and refuses Send over it", async () => {
    await openPage();
    type("x".repeat(79));
    expect($("char-count").hidden).toBe(true);
    type("x".repeat(80));
    expect($("char-count").hidden).toBe(false);
    expect($("char-count").textContent).toBe("80 / 100");
    type("x".repeat(101));
    expect($("char-count").classList.contains("is-over")).toBe(true);
    expect($("send").disabled).toBe(true);
    type("one\ntwo\nthree");
    expect($("composer-input").rows).toBe(3);
  });

  it("streams an answer, then offers Regenerate and Edit once each", async () => {
    await openPage();
    const answer = pendingAnswer(api);
    type("Hi there");
    press($("composer-input"), "Enter");
    await settle();
    expect($("composer-input").value).toBe("");
    expect(answer.options.body).toEqual({ message: "Hi there", history: [] });
    expect($("send").hidden).toBe(true);
    expect($("stop").hidden).toBe(false);
    expect($("composer").classList.contains("is-busy")).toBe(true);
    expect($("messages").hidden).toBe(false);
    expect($("empty-state").hidden).toBe(true);
    expect($$("regenerate")).toHaveLength(0);

    answer.options.onDelta("Hello **");
    answer.options.onDelta("world**");
    await settle(); // one frame
    expect(models()[0].dataset.state).toBe("streaming");
    expect(models()[0].querySelector("strong").textContent).toBe("world");

    answer.resolve({ finishReason: "STOP", quota: { requestsLeft: 2, tokensLeft: 190_000 } });
    await settle();
    expect(models()[0].dataset.state).toBe("done");
    expect($("stop").hidden).toBe(true);
    expect($("quota").textContent).toBe("2 requests · 190k of 200k tokens left");
    expect($$("regenerate")).toHaveLength(1);
    expect($$("edit")).toHaveLength(1);
    expect($("regenerate").closest("li").dataset.role).toBe("model");
    expect($("edit").closest("li").dataset.role).toBe("user");
    expect($("new-chat").disabled).toBe(false);
    expect($("export").disabled).toBe(false);
  });

  it("stops on Esc and keeps the partial answer, marked as stopped", async () => {
    await openPage();
    const answer = pendingAnswer(api);
    type("Long one");
    press($("composer-input"), "Enter");
    await settle();
    answer.options.onDelta("Some words");
    press(document.body, "Escape");
    await settle();
    const [model] = models();
    expect(model.dataset.state).toBe("stopped");
    expect(model.querySelector('[data-testid="message-note"]').textContent).toBe("Stopped.");
    expect(model.querySelector('[data-testid="message-text"]').textContent.trim()).toBe("Some words");
    expect($("send").hidden).toBe(false);
  });

  it("removes an answer that failed before any text, and shows why", async () => {
    await openPage();
    const { ApiError } = await import("../src/errors.js");
    api.sendChat.mockRejectedValueOnce(new ApiError("upstream_error"));
    type("Hello");
    press($("composer-input"), "Enter");
    await settle();
    expect(models()).toHaveLength(0);
    expect($$("message")).toHaveLength(1);
    expect($("error-banner").hidden).toBe(false);
    expect($("error-banner").dataset.code).toBe("upstream_error");
    expect($("retry").hidden).toBe(false);
    expect($("retry").disabled).toBe(false);
    expect($("regenerate").textContent).toContain("Retry");
    $("dismiss-error").click();
    expect($("error-banner").hidden).toBe(true);
    expect($("error-banner").dataset.code).toBe("upstream_error"); // as before: kept
  });

  it("counts down a rate limit and blocks Send and Retry until it ends", async () => {
    await openPage();
    const { ApiError } = await import("../src/errors.js");
    api.sendChat.mockRejectedValueOnce(new ApiError("rate_limited", { retryAfter: 1 }));
    type("One more?");
    press($("composer-input"), "Enter");
    await settle();
    expect($("error-banner").dataset.code).toBe("rate_limited");
    expect($("countdown").hidden).toBe(false);
    expect($("countdown").textContent).toBe("You can send again in 0:01");
    type("Now?");
    expect($("send").disabled).toBe(true);
    expect($("retry").disabled).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // one real tick of the countdown
    expect($("countdown").textContent).toBe("You can send again now.");
    expect($("send").disabled).toBe(false);
    expect($("retry").disabled).toBe(false);
    expect($("error-banner").hidden).toBe(false);
  });

  it("edits the last question in place and sends it again without the old answer", async () => {
    await openPage();
    api.sendChat.mockImplementation(async ({ body, onDelta }) => {
      onDelta(`Echo: ${body.message}`);
      return { finishReason: "STOP", quota: null };
    });
    type("First");
    press($("composer-input"), "Enter");
    await settle();
    type("Second");
    press($("composer-input"), "Enter");
    await settle();
    expect($$("edit")).toHaveLength(1);
    $("edit").click();
    const form = $("edit-form");
    expect(form.closest("li").querySelector(".message-text").textContent).toBe("Second");
    expect(document.activeElement).toBe($("edit-input"));
    expect($$("edit")).toHaveLength(0);
    expect($$("regenerate")).toHaveLength(0);

    press($("edit-input"), "Escape");
    expect($("edit-form")).toBeNull();
    expect($$("edit")).toHaveLength(1);

    $("edit").click();
    $("edit-input").value = "Second, better";
    press($("edit-input"), "Enter");
    await settle();
    expect($("edit-form")).toBeNull();
    const texts = $$("message-text").map((el) => el.textContent.trim());
    expect(texts).toEqual(["First", "Echo: First", "Second, better", "Echo: Second, better"]);
    expect(api.sendChat.mock.lastCall[0].body).toEqual({
      message: "Second, better",
      history: [{ role: "user", text: "First" }, { role: "model", text: "Echo: First" }],
    });
  });

  it("fills the message box from a suggestion", async () => {
    await openPage();
    document.querySelector("[data-suggestion]").click();
    expect($("composer-input").value).toMatch(/HTTPS/);
    expect($("send").disabled).toBe(false);
  });

  it("keeps the conversation in the tab only when asked, and only once an answer has ended", async () => {
    await openPage();
    $("keep-session-toggle").checked = true;
    $("keep-session-toggle").dispatchEvent(new Event("change"));
    const answer = pendingAnswer(api);
    type("Remember me");
    press($("composer-input"), "Enter");
    await settle();
    answer.options.onDelta("Partial");
    await settle();
    expect(sessionStorage.getItem("jette.conversation")).toBeNull();
    answer.resolve({ finishReason: "STOP", quota: null });
    await settle();
    expect(JSON.parse(sessionStorage.getItem("jette.conversation"))).toMatchObject({
      owner: "u1",
      messages: [{ role: "user", text: "Remember me" }, { role: "model", text: "Partial", state: "done" }],
    });
    $("new-chat").click();
    expect(sessionStorage.getItem("jette.conversation")).toBeNull();
    expect(sessionStorage.getItem("jette.keep")).toBe("1");
  });

  it("clears the conversation when the account changes", async () => {
    await openPage();
    api.sendChat.mockImplementation(async ({ onDelta }) => {
      onDelta("Hi");
      return { finishReason: "STOP", quota: null };
    });
    type("Hello");
    press($("composer-input"), "Enter");
    await settle();
    expect($$("message")).toHaveLength(2);
    await auth.signOut();
    await settle();
    expect(document.body.dataset.authState).toBe("signed-out");
    expect($$("message")).toHaveLength(0);
    expect($("empty-state").hidden).toBe(false);
    expect($("quota").hidden).toBe(true);
    expect($("user-menu").hidden).toBe(true);
  });

  it("tells an account off the allow-list, and lets it switch", async () => {
    const { ApiError } = await import("../src/errors.js");
    vi.resetModules();
    await openPage({ signedIn: null });
    api.fetchMe.mockRejectedValueOnce(new ApiError("permission_denied"));
    handlers.onUser(user("u2", "Mallory"));
    await settle();
    expect(document.body.dataset.allowed).toBe("false");
    expect($("composer-input").disabled).toBe(true);
    expect($("composer-input").placeholder).toBe("This account cannot chat here");
    expect($("error-banner").dataset.code).toBe("permission_denied");
    expect($("error-sign-in").hidden).toBe(false);
    expect($("error-sign-in").textContent).toBe("Use another account");
    $("error-sign-in").click();
    await settle();
    expect(auth.signOut).toHaveBeenCalled();
    expect(auth.signIn).toHaveBeenCalled();
    expect($("error-banner").hidden).toBe(true); // signed out: the banner about that account went
    expect(document.body.dataset.allowed).toBe("true");
  });
});
