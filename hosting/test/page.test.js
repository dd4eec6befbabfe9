// @vitest-environment jsdom
// The whole page (index.html + main.js and its src/ui modules) in jsdom, with the network, the
// runtime config and Firebase Auth stood in for: what each control shows follows the state.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PAGE_BODY as BODY, $, $$, stubFrames } from "./page-harness.js";

vi.mock("../src/config.js", () => ({ loadRuntimeConfig: vi.fn() }));
vi.mock("../src/auth.js", () => ({ startAuth: vi.fn() }));
vi.mock("../src/api.js", async (importOriginal) => ({
  ...(await importOriginal()),
  sendChat: vi.fn(),
  fetchMe: vi.fn(),
  revokeSessions: vi.fn(),
}));

const LIMITS = { maxMessageChars: 100, maxHistoryMessages: 40, maxRequestBytes: 65536 };
const ME = { quota: { requests: [{ limit: "3 per 1 minute", remaining: 3, resetSeconds: 60 }], tokens: { remaining: 200_000, dailyLimit: 200_000 } } };

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

/** The page, started (`configLoaded: false`: the runtime config never arrives) and signed in as `signedIn`. */
async function openPage({ signedIn = user(), configLoaded = true } = {}) {
  vi.resetModules();
  document.body.innerHTML = BODY; // the page's own, trusted markup
  document.body.dataset.appState = "loading";
  document.body.dataset.authState = "unknown";
  delete document.body.dataset.allowed;
  api = await import("../src/api.js");
  const config = await import("../src/config.js");
  const authModule = await import("../src/auth.js");
  if (configLoaded) config.loadRuntimeConfig.mockResolvedValue({ firebase: {}, chatUrl: "http://127.0.0.1:1/", authEmulatorUrl: null, appCheckSiteKey: null, limits: LIMITS });
  else config.loadRuntimeConfig.mockReturnValue(new Promise(() => {}));
  auth = { app: {}, signIn: vi.fn(), signOut: vi.fn(async () => handlers.onUser(null)), token: vi.fn(async () => "token") };
  authModule.startAuth.mockImplementation((_config, h) => {
    handlers = h;
    return auth;
  });
  api.fetchMe.mockResolvedValue(ME);
  await import("../src/main.js");
  await settle();
  if (!configLoaded) return;
  handlers.onUser(signedIn);
  await settle();
}

beforeEach(() => {
  stubFrames();
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
    expect($$("sign-in")).toHaveLength(1); // one Sign-in button, in the toolbar
    expect($("sign-in-main")).toBeNull();
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
    expect($("quota").textContent).toBe("3 requests left this minute · 200k of 200k tokens left today");
    expect($("quota").title).toBe("Requests left this minute (the tightest of your rate limits): 3\nGemini tokens left today: 200,000 (resets at midnight UTC)");
  });

  it("counts characters near the limit and refuses Send over it", async () => {
    await openPage();
    type("x".repeat(79));
    expect($("char-count").hidden).toBe(true);
    type("x".repeat(80));
    expect($("char-count").hidden).toBe(false);
    expect($("char-count").textContent).toBe("80 / 100");
    expect($("char-alert").textContent).toBe("");
    type("x".repeat(101));
    expect($("char-count").classList.contains("is-over")).toBe(true);
    expect($("send").disabled).toBe(true);
    // Says why Send is off, with the limit; said once to screen readers (role=status).
    expect($("char-count").textContent).toBe("Too long: 101 of 100 characters");
    expect($("composer-input").getAttribute("aria-invalid")).toBe("true");
    expect($("char-alert").getAttribute("role")).toBe("status");
    expect($("char-alert").textContent).toBe("Too long: the limit is 100 characters.");
    press($("composer-input"), "Enter");
    expect(api.sendChat).not.toHaveBeenCalled();
    expect($("composer-input").value).toHaveLength(101);
    type("x".repeat(100));
    expect($("char-count").textContent).toBe("100 / 100");
    expect($("composer-input").hasAttribute("aria-invalid")).toBe(false);
    expect($("char-alert").textContent).toBe("");
    expect($("send").disabled).toBe(false);
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
    expect($("quota").textContent).toBe("2 requests left this minute · 190k of 200k tokens left today");
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

  it("leaves Esc to an open dialog while an answer streams", async () => {
    await openPage();
    const answer = pendingAnswer(api);
    type("Long one");
    press($("composer-input"), "Enter");
    await settle();
    answer.options.onDelta("Some words");
    const dialog = $("sign-out-dialog");
    dialog.setAttribute("open", "");
    press(dialog, "Escape");
    await settle();
    expect(models()[0].dataset.state).toBe("streaming");
    dialog.removeAttribute("open");
    press(document.body, "Escape");
    await settle();
    expect(models()[0].dataset.state).toBe("stopped");
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
    expect($$("edit")).toHaveLength(2); // one per question
    const lastEdit = () => $$("edit")[1];
    lastEdit().click();
    const form = $("edit-form");
    expect(form.closest("li").querySelector(".message-text").textContent).toBe("Second");
    expect(document.activeElement).toBe($("edit-input"));
    expect($$("edit")).toHaveLength(0);
    expect($$("regenerate")).toHaveLength(0);

    press($("edit-input"), "Escape");
    expect($("edit-form")).toBeNull();
    expect($$("edit")).toHaveLength(2);

    lastEdit().click();
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

describe("fixes found by trying the app (issue #9)", () => {
  const echo = () =>
    api.sendChat.mockImplementation(async ({ body, onDelta }) => {
      onDelta(`Echo: ${body.message}`);
      return { finishReason: "STOP", quota: null };
    });
  async function ask(text) {
    type(text);
    press($("composer-input"), "Enter");
    await settle();
  }
  const texts = () => $$("message-text").map((el) => el.textContent.trim());

  it("edits any earlier question: the conversation continues from it", async () => {
    await openPage();
    echo();
    await ask("First");
    await ask("Second");
    await ask("Third");
    expect($$("edit")).toHaveLength(3);
    expect($$("regenerate")).toHaveLength(1);
    $$("edit")[0].click();
    expect($("edit-input").value).toBe("First");
    $("edit-input").value = "First, edited";
    $("edit-save").click();
    await settle();
    expect($("edit-form")).toBeNull();
    expect(texts()).toEqual(["First, edited", "Echo: First, edited"]);
    expect(api.sendChat.mock.lastCall[0].body).toEqual({ message: "First, edited", history: [] });
  });

  it("names the quota's window, keeps it through a done quota, and refreshes it after Stop", async () => {
    const { QUOTA_REFRESH_DELAY_MS } = await import("../src/ui/quota.js");
    await openPage();
    expect($("quota").textContent).toBe("3 requests left this minute · 200k of 200k tokens left today");
    const answer = pendingAnswer(api);
    await ask("Long one");
    answer.options.onDelta("Some words");
    api.fetchMe.mockResolvedValue({
      quota: { requests: [{ limit: "3 per 1 minute", remaining: 2, resetSeconds: 50 }], tokens: { remaining: 199_500, dailyLimit: 200_000 } },
    });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    press(document.body, "Escape"); // the stream ends without `done`: no quota in it
    await vi.advanceTimersByTimeAsync(QUOTA_REFRESH_DELAY_MS - 100);
    expect(models()[0].dataset.state).toBe("stopped");
    expect(api.fetchMe).toHaveBeenCalledTimes(1); // at sign-in only: the server settles first
    expect($("quota").textContent).toBe("3 requests left this minute · 200k of 200k tokens left today");
    await vi.advanceTimersByTimeAsync(200);
    vi.useRealTimers();
    await settle();
    expect(api.fetchMe).toHaveBeenCalledTimes(2);
    expect($("quota").textContent).toBe("2 requests left this minute · 199k of 200k tokens left today");
  });

  it("does not cut the conversation when Regenerate or Edit cannot send (countdown)", async () => {
    await openPage();
    const { ApiError } = await import("../src/errors.js");
    echo();
    await ask("First");
    api.sendChat.mockRejectedValueOnce(new ApiError("rate_limited", { retryAfter: 30 }));
    await ask("Second");
    expect($("countdown").hidden).toBe(false);
    expect(texts()).toEqual(["First", "Echo: First", "Second"]);
    const calls = api.sendChat.mock.calls.length;
    $("regenerate").click(); // "Retry" on the unanswered question
    await settle();
    expect(texts()).toEqual(["First", "Echo: First", "Second"]);
    $$("edit")[0].click();
    $("edit-input").value = "First, again";
    $("edit-save").click();
    await settle();
    expect($("edit-form")).not.toBeNull(); // kept open: nothing was sent
    expect(texts()).toEqual(["First", "Echo: First", "Second"]);
    expect(api.sendChat.mock.calls.length).toBe(calls);
    expect($("error-banner").dataset.code).toBe("rate_limited"); // still says until when
  });

  it("does not cut the conversation when Regenerate cannot send (not allowed)", async () => {
    await openPage();
    const { ApiError } = await import("../src/errors.js");
    echo();
    await ask("First");
    api.sendChat.mockRejectedValueOnce(new ApiError("permission_denied"));
    await ask("Second");
    expect(document.body.dataset.allowed).toBe("false");
    const calls = api.sendChat.mock.calls.length;
    $("regenerate").click();
    await settle();
    expect(texts()).toEqual(["First", "Echo: First", "Second"]);
    expect(api.sendChat.mock.calls.length).toBe(calls);
    expect($("error-banner").dataset.code).toBe("permission_denied");
  });

  it("does not cut the conversation when an edit is too long, and says why", async () => {
    await openPage();
    echo();
    await ask("First");
    $$("edit")[0].click();
    $("edit-input").value = "y".repeat(101);
    $("edit-save").click();
    await settle();
    expect(texts()).toEqual(["First", "Echo: First"]);
    expect($("edit-form")).not.toBeNull();
    expect($("error-banner").dataset.code).toBe("too_long");
    expect($("error-message").textContent).toBe("Too long: 101 of 100 characters. Shorten it to send it.");
  });

  it("does not cut the conversation when an edit is saved while an answer streams", async () => {
    await openPage();
    echo();
    await ask("First");
    $$("edit")[0].click();
    const answer = pendingAnswer(api);
    type("Meanwhile");
    $("composer").requestSubmit(); // sent from the message box while the edit form is open
    await settle();
    expect($("edit-save").disabled).toBe(true);
    $("edit-input").value = "First, edited";
    press($("edit-input"), "Enter");
    await settle();
    expect($("edit-form")).not.toBeNull();
    expect(texts()).toEqual(["First", "Echo: First", "Meanwhile", ""]);
    answer.options.onDelta("Done meanwhile");
    answer.resolve({ finishReason: "STOP", quota: null });
    await settle();
    expect($("edit-save").disabled).toBe(false);
    $("edit-save").click();
    await settle();
    expect(texts()).toEqual(["First, edited", "Echo: First, edited"]);
  });

  it("keeps the typed text when it is submitted before the runtime config has loaded", async () => {
    await openPage({ configLoaded: false });
    type("Typed early");
    press($("composer-input"), "Enter");
    await settle();
    expect($("composer-input").value).toBe("Typed early");
    expect($$("message")).toHaveLength(0);
    expect(api.sendChat).not.toHaveBeenCalled();
    expect($("error-banner").dataset.code).toBe("starting");
    expect($("error-message").textContent).toBe("The app is still starting. Try again in a moment.");
  });

  it("puts a message sent while signed out back in the box, for after the sign-in", async () => {
    await openPage({ signedIn: null });
    const { ApiError } = await import("../src/errors.js");
    api.sendChat.mockRejectedValueOnce(new ApiError("unauthenticated"));
    await ask("Hello before signing in");
    expect($("composer-input").value).toBe("Hello before signing in");
    expect($$("message")).toHaveLength(0);
    expect($("error-banner").dataset.code).toBe("unauthenticated");
    expect($("error-message").textContent).toBe("Sign in with Google to chat.");
    handlers.onUser(user());
    await settle();
    expect($("composer-input").value).toBe("Hello before signing in");
    expect($("error-banner").hidden).toBe(true);
  });

  it("carries the message box's text through a redirect sign-in, once", async () => {
    await openPage({ signedIn: null });
    auth.signIn.mockImplementation(({ beforeRedirect }) => {
      beforeRedirect(); // the page then leaves for Google: this promise never settles
      return new Promise(() => {});
    });
    type("Typed before the redirect");
    $("sign-in").click();
    await settle();
    expect(sessionStorage.getItem("jette.draftForSignIn")).toBe("Typed before the redirect");
    await openPage(); // back from Google, signed in
    expect($("composer-input").value).toBe("Typed before the redirect");
    expect(sessionStorage.getItem("jette.draftForSignIn")).toBeNull();
  });

  it("keeps nothing in the tab when the sign-in does not leave the page", async () => {
    await openPage({ signedIn: null });
    auth.signIn.mockImplementation(async () => handlers.onUser(user())); // a popup
    type("Typed before a popup sign-in");
    $("sign-in").click();
    await settle();
    expect($("composer-input").value).toBe("Typed before a popup sign-in");
    expect(sessionStorage.getItem("jette.draftForSignIn")).toBeNull();
  });

  it("shows every sign-in failure", async () => {
    await openPage({ signedIn: null });
    auth.signIn.mockRejectedValueOnce(Object.assign(new Error("offline"), { code: "auth/network-request-failed" }));
    vi.spyOn(console, "warn").mockImplementation(() => {});
    $("sign-in").click();
    await settle();
    expect($("error-banner").hidden).toBe(false);
    expect($("error-banner").dataset.code).toBe("sign-in");
    expect($("error-message").textContent).toBe("Couldn't reach Google sign-in. Check your connection and try again.");
  });

  it("says the app is starting when Sign in is clicked before Firebase Auth has started", async () => {
    await openPage({ configLoaded: false });
    document.body.dataset.authState = "signed-out";
    $("sign-in").hidden = false;
    $("sign-in").click();
    await settle();
    expect($("error-banner").dataset.code).toBe("starting");
  });
});
