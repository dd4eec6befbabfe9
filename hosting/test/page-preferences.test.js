// @vitest-environment jsdom
// The model picker and the custom instructions on the page (index.html + main.js, with
// ui/model-picker.js, ui/settings.js and src/preferences.js), from /api/auth's chat block to the
// chat request; kept per account on this device. Network, runtime config and Firebase Auth are
// stood in for as in page.test.js; fake-indexeddb lets the history (and the sign-out question) run.
import "fake-indexeddb/auto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { PAGE_BODY as BODY, $, sleep, stubFrames, stubDialogs } from "./page-harness.js";
import { formatRatio, modelLabel, pickedModel } from "../src/ui/model-picker.js";
import { instructionsCountText } from "../src/ui/settings.js";

vi.mock("../src/config.js", () => ({ loadRuntimeConfig: vi.fn() }));
vi.mock("../src/auth.js", () => ({ startAuth: vi.fn() }));
vi.mock("../src/api.js", async (importOriginal) => ({
  ...(await importOriginal()),
  sendChat: vi.fn(),
  fetchMe: vi.fn(),
  revokeSessions: vi.fn(),
}));

const LIMITS = { maxMessageChars: 100, maxHistoryMessages: 40, maxRequestBytes: 65536 };
const MODELS = [{ id: "gemini-2.5-flash", weight: 1 }, { id: "gemini-2.5-flash-lite", weight: 0.3 }, { id: "gemini-2.5-pro", weight: 8 }];
const me = ({ models = MODELS, limits = {} } = {}) => ({
  quota: null,
  chat: { models, limits: { maxMessageChars: 100, maxInstructionsChars: 40, ...limits } },
});

async function until(check, what = "condition", timeout = 3000) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`${what}: not reached`);
    await sleep(10);
  }
}
let n = 0;
const newUid = () => `page-preferences-${Date.now().toString(36)}-${n++}`;
const person = (uid) => ({ uid, displayName: "Ada", email: `${uid}@example.com`, photoURL: null, getIdToken: async () => `token-${uid}` });
const picker = () => $("model-picker");
const pickerShown = () => !picker().closest(".model-field").hidden;
const optionTexts = () => [...picker().options].map((o) => o.textContent);

let api;
let auth;
let handlers;

/** Load the page (a fresh module graph = a reload); signed in as `uid` once /api/auth answered `answer`. */
async function openPage(uid, answer = me()) {
  vi.resetModules();
  document.body.innerHTML = BODY; // the page's own, trusted markup
  api = await import("../src/api.js");
  const config = await import("../src/config.js");
  const authModule = await import("../src/auth.js");
  config.loadRuntimeConfig.mockResolvedValue({ firebase: {}, chatUrl: "http://127.0.0.1:1/", authEmulatorUrl: null, appCheckSiteKey: null, limits: LIMITS });
  auth = { app: {}, signIn: vi.fn(), signOut: vi.fn(async () => handlers.onUser(null)), token: vi.fn(async () => "token") };
  authModule.startAuth.mockImplementation((_config, h) => {
    handlers = h;
    return auth;
  });
  api.fetchMe.mockResolvedValue(answer);
  api.sendChat.mockImplementation(async ({ body, onDelta }) => {
    onDelta(`Echo: ${body.message}`);
    return { finishReason: "STOP", quota: null };
  });
  await import("../src/main.js");
  await sleep(0);
  handlers.onUser(uid ? person(uid) : null);
  await until(() => document.body.dataset.authState === (uid ? "signed-in" : "signed-out"), "signed in");
  if (uid) await until(() => api.fetchMe.mock.calls.length && !$("history").hidden && $("history-empty").textContent !== "Loading your conversations…", "/api/auth and history");
  await until(() => !$("instructions-input").disabled, "the account's preferences read");
}

/** Send `text` and wait for its answer; the request body. */
async function send(text) {
  const calls = api.sendChat.mock.calls.length;
  const input = $("composer-input");
  input.value = text;
  input.dispatchEvent(new Event("input", { bubbles: true }));
  input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
  await until(() => api.sendChat.mock.calls.length > calls && document.querySelectorAll('[data-role="model"][data-state="done"]').length, "answer");
  return api.sendChat.mock.lastCall[0].body;
}

function pick(id) {
  picker().value = id;
  picker().dispatchEvent(new Event("change", { bubbles: true }));
}

function typeInstructions(text) {
  const input = $("instructions-input");
  input.value = text;
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

beforeEach(() => {
  stubFrames();
  stubDialogs();
  localStorage.clear();
  sessionStorage.clear();
});
afterEach(() => {
  handlers?.onUser(null); // closes the page's database
  vi.unstubAllGlobals();
  vi.resetAllMocks();
});

describe("the model picker's text", () => {
  it("names each model with its cost against the default's", () => {
    expect(MODELS.map((m) => modelLabel(m, MODELS[0]))).toEqual([
      "gemini-2.5-flash (default)", "gemini-2.5-flash-lite · 0.3× cost", "gemini-2.5-pro · 8× cost",
    ]);
    expect(modelLabel({ id: "b", weight: 1.5 }, { id: "a", weight: 4.5 })).toBe("b · 0.33× cost");
    expect([0.34, 4.2, 12.5, 1, 0.001, 1000].map(formatRatio)).toEqual(["0.34", "4.2", "13", "1", "<0.01", "1000"]);
  });

  it("shows the remembered model while it is offered, else the default", () => {
    const chat = { models: MODELS, limits: {} };
    expect(pickedModel({ chat, preferences: { model: "gemini-2.5-pro" } })).toBe("gemini-2.5-pro");
    expect(pickedModel({ chat, preferences: { model: "gemini-1.0-gone" } })).toBe("gemini-2.5-flash");
    expect(pickedModel({ chat: null, preferences: { model: "gemini-2.5-pro" } })).toBeNull();
  });
});

describe("the model picker", () => {
  it("appears once /api/auth offers a choice, with an accessible name", async () => {
    await openPage(null);
    expect(pickerShown()).toBe(false); // signed out: /api/auth is not asked
    handlers.onUser(person(newUid()));
    await until(pickerShown, "the picker");
    expect(optionTexts()).toEqual(["gemini-2.5-flash (default)", "gemini-2.5-flash-lite · 0.3× cost", "gemini-2.5-pro · 8× cost"]);
    expect(picker().value).toBe("gemini-2.5-flash");
    expect(picker().labels[0].textContent).toBe("Model");
    expect(document.getElementById(picker().getAttribute("aria-describedby")).textContent).toMatch(/daily token budget/);
  });

  it("stays hidden with one model, and sends none", async () => {
    await openPage(newUid(), me({ models: [MODELS[0]] }));
    expect(pickerShown()).toBe(false);
    expect(await send("Hi")).not.toHaveProperty("model");
  });

  it("sends the model picked, is off while an answer streams, and remembers it per account", async () => {
    const ada = newUid();
    await openPage(ada);
    expect(await send("Default, please")).not.toHaveProperty("model");
    pick("gemini-2.5-flash-lite");
    let answer;
    api.sendChat.mockImplementationOnce((options) => new Promise((done) => {
      answer = () => {
        options.onDelta("Slow");
        done({ finishReason: "STOP", quota: null });
      };
    }));
    const input = $("composer-input");
    input.value = "Cheap, please";
    input.dispatchEvent(new Event("input", { bubbles: true }));
    $("composer").requestSubmit();
    await until(() => answer, "the request");
    expect(api.sendChat.mock.lastCall[0].body.model).toBe("gemini-2.5-flash-lite");
    expect(picker().disabled).toBe(true);
    answer();
    await until(() => !picker().disabled, "the picker back on");

    await openPage(ada); // a reload
    expect(picker().value).toBe("gemini-2.5-flash-lite");
    expect((await send("Still cheap?")).model).toBe("gemini-2.5-flash-lite");

    await openPage(newUid()); // someone else on this browser
    expect(picker().value).toBe("gemini-2.5-flash");
    expect(await send("Mine?")).not.toHaveProperty("model");
    expect(Object.keys(localStorage).filter((key) => key.startsWith("jette.prefs."))).toHaveLength(1);
    expect(Object.keys(localStorage).join()).not.toContain(ada);
  });

  it("shows and sends the default when the remembered model is no longer offered", async () => {
    const ada = newUid();
    await openPage(ada);
    pick("gemini-2.5-pro");
    await openPage(ada, me({ models: [MODELS[0], MODELS[1]] }));
    expect(picker().value).toBe("gemini-2.5-flash");
    expect(await send("Which?")).not.toHaveProperty("model");
  });

  it("takes /api/auth's limits over config.json's", async () => {
    await openPage(newUid(), me({ limits: { maxMessageChars: 50 } }));
    const input = $("composer-input");
    input.value = "x".repeat(45);
    input.dispatchEvent(new Event("input", { bubbles: true }));
    expect($("char-count").textContent).toBe("45 / 50");
  });
});

describe("custom instructions", () => {
  it("are counted, kept per account on this device and sent trimmed with every message", async () => {
    const ada = newUid();
    await openPage(ada);
    $("settings-button").click();
    expect($("instructions-input").labels[0].textContent).toBe("Custom instructions");
    expect(document.getElementById("instructions-note").textContent).toMatch(/every message.*only in this browser, on this device/s);
    expect($("instructions-count").textContent).toBe("0 / 40");
    typeInstructions("  Answer in French.\n");
    expect($("instructions-count").textContent).toBe("17 / 40");
    $("settings-dialog").close();
    expect((await send("Hello")).instructions).toBe("Answer in French.");
    expect((await send("Again")).instructions).toBe("Answer in French.");

    await openPage(ada); // a reload
    expect($("instructions-input").value).toBe("  Answer in French.\n");
    await openPage(newUid());
    expect($("instructions-input").value).toBe("");
    expect(await send("Bonjour?")).not.toHaveProperty("instructions");
  });

  it("say when they are too long, and are not sent then", async () => {
    await openPage(newUid());
    typeInstructions("y".repeat(41));
    expect($("instructions-count").textContent).toBe("Too long: 41 of 40 characters: they are not sent until you shorten them.");
    expect($("instructions-count").classList.contains("is-over")).toBe(true);
    expect($("instructions-input").getAttribute("aria-invalid")).toBe("true");
    expect(await send("Hi")).not.toHaveProperty("instructions");
    typeInstructions("y".repeat(40));
    expect($("instructions-input").hasAttribute("aria-invalid")).toBe(false);
    expect((await send("Hi")).instructions).toBe("y".repeat(40));
    expect(instructionsCountText("é🙂 ", 2000)).toBe("2 / 2,000");
  });

  it("are hidden, with a note, and never sent when the server turned them off", async () => {
    const ada = newUid();
    await openPage(ada);
    typeInstructions("Be brief.");
    await openPage(ada, me({ limits: { maxInstructionsChars: 0 } }));
    expect($("instructions-field").hidden).toBe(true);
    expect($("instructions-off").hidden).toBe(false);
    expect($("instructions-off").textContent).toBe("Custom instructions are turned off on this server.");
    expect(await send("Hi")).not.toHaveProperty("instructions");
  });

  it("go with this device's conversations when signing out deletes them", async () => {
    const ada = newUid();
    await openPage(ada);
    pick("gemini-2.5-pro");
    typeInstructions("Be brief.");
    await send("Something to delete");
    await until(() => document.querySelectorAll('[data-testid="history-item"]').length === 1, "saved");
    expect(Object.keys(localStorage).filter((key) => key.startsWith("jette.prefs."))).toHaveLength(1);
    $("sign-out").click();
    expect($("sign-out-dialog").open).toBe(true);
    $("sign-out-delete").checked = true;
    $("sign-out-dialog").close("confirm");
    await until(() => document.body.dataset.authState === "signed-out", "signed out");
    expect(Object.keys(localStorage).filter((key) => key.startsWith("jette.prefs."))).toEqual([]);
    await openPage(ada);
    expect(picker().value).toBe("gemini-2.5-flash");
    expect($("instructions-input").value).toBe("");
  });

  it("stay when signing out keeps the conversations", async () => {
    const ada = newUid();
    await openPage(ada);
    typeInstructions("Be brief.");
    await send("Something to keep");
    await until(() => document.querySelectorAll('[data-testid="history-item"]').length === 1, "saved");
    $("sign-out").click();
    $("sign-out-dialog").close("confirm");
    await until(() => document.body.dataset.authState === "signed-out", "signed out");
    await openPage(ada);
    expect($("instructions-input").value).toBe("Be brief.");
  });
});
