// @vitest-environment jsdom
// The preferences kept on this device: their keys (never the uid), what is read back from
// anything stored, storage that refuses, what a chat request carries, and following the account.
import { createHash } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  NO_PREFERENCES, charCount, forgetPreferences, maxInstructions, preferencesKey, readPreferences,
  requestOptions, savePreferences, trackPreferences,
} from "../src/preferences.js";
import { createStore } from "../src/state.js";

const MODELS = [{ id: "gemini-2.5-flash", weight: 1 }, { id: "gemini-2.5-flash-lite", weight: 0.3 }, { id: "gemini-2.5-pro", weight: 8 }];
const CHAT = { models: MODELS, limits: {} };
const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const settled = async (store, check) => {
  for (let i = 0; i < 20 && !check(store.get()); i += 1) await tick();
  return store.get();
};

beforeEach(() => localStorage.clear());
afterEach(() => vi.restoreAllMocks());

describe("keys", () => {
  it("names an account by a hash of its uid, and the signed-out person apart", async () => {
    const key = await preferencesKey("uid-of-ada");
    expect(key).toBe(`jette.prefs.${sha256("uid-of-ada").slice(0, 32)}`);
    expect(key).not.toContain("uid-of-ada");
    expect(await preferencesKey("uid-of-grace")).not.toBe(key);
    expect(await preferencesKey(null)).toBe("jette.prefs.anonymous");
    expect(await preferencesKey("")).toBe("jette.prefs.anonymous");
  });
});

describe("what is kept", () => {
  it("reads back what was saved, and removes the entry when nothing is left to keep", () => {
    savePreferences("k", { model: "gemini-2.5-pro", instructions: "Be brief." });
    expect(JSON.parse(localStorage.getItem("k"))).toEqual({ v: 1, model: "gemini-2.5-pro", instructions: "Be brief." });
    expect(readPreferences("k")).toEqual({ model: "gemini-2.5-pro", instructions: "Be brief." });
    savePreferences("k", { model: null, instructions: "" });
    expect(localStorage.getItem("k")).toBeNull();
    expect(readPreferences("k")).toEqual({ model: null, instructions: "" });
  });

  it.each([
    ["not JSON", "{model"],
    ["a JSON string", '"gemini-2.5-pro"'],
    ["null", "null"],
    ["wrong types", '{"model": 7, "instructions": ["x"]}'],
    ["an empty model", '{"model": ""}'],
    ["a model id too long to be one", JSON.stringify({ model: "m".repeat(101) })],
  ])("reads defaults from %s", (_what, raw) => {
    localStorage.setItem("k", raw);
    expect(readPreferences("k")).toEqual({ model: null, instructions: "" });
  });

  it("keeps them in the page when the browser refuses to store them", () => {
    vi.spyOn(Storage.prototype, "setItem").mockImplementation(() => {
      throw new DOMException("full", "QuotaExceededError");
    });
    savePreferences("k", { model: "gemini-2.5-pro", instructions: "" });
    expect(localStorage.getItem("k")).toBeNull();
    expect(readPreferences("k").model).toBe("gemini-2.5-pro");
    forgetPreferences("k");
    expect(readPreferences("k").model).toBeNull();
  });

  it("reads defaults when storage is disabled altogether", () => {
    vi.spyOn(Storage.prototype, "getItem").mockImplementation(() => {
      throw new DOMException("denied", "SecurityError");
    });
    vi.spyOn(Storage.prototype, "removeItem").mockImplementation(() => {
      throw new DOMException("denied", "SecurityError");
    });
    expect(readPreferences("k")).toEqual({ model: null, instructions: "" });
    expect(() => forgetPreferences("k")).not.toThrow();
  });
});

describe("requestOptions", () => {
  const state = (preferences, { chat = CHAT, limits = { maxInstructionsChars: 20 } } = {}) => ({
    preferences: { key: "k", model: null, instructions: "", ...preferences }, chat, limits,
  });

  it("sends nothing extra by default", () => {
    expect(requestOptions(state({}))).toEqual({});
    expect(requestOptions({ preferences: NO_PREFERENCES, chat: null, limits: {} })).toEqual({});
  });

  it("sends the remembered model only while the server offers it", () => {
    expect(requestOptions(state({ model: "gemini-2.5-flash-lite" }))).toEqual({ model: "gemini-2.5-flash-lite" });
    expect(requestOptions(state({ model: "gemini-1.0-gone" }))).toEqual({});
    expect(requestOptions(state({ model: "gemini-2.5-pro" }, { chat: null }))).toEqual({});
  });

  it("sends the instructions trimmed, unless blank or over the server's limit", () => {
    expect(requestOptions(state({ instructions: "  Be brief.\n" }))).toEqual({ instructions: "Be brief." });
    expect(requestOptions(state({ instructions: " \n\t " }))).toEqual({});
    expect(requestOptions(state({ instructions: "x".repeat(20) }))).toEqual({ instructions: "x".repeat(20) });
    expect(requestOptions(state({ instructions: "x".repeat(21) }))).toEqual({});
    // Counted as the server counts: code points (an emoji is one, not two UTF-16 units).
    expect(requestOptions(state({ instructions: "🙂".repeat(20) }))).toEqual({ instructions: "🙂".repeat(20) });
  });

  it("never sends instructions when the server turned them off", () => {
    expect(requestOptions(state({ instructions: "Be brief." }, { limits: { maxInstructionsChars: 0 } }))).toEqual({});
  });

  it("takes the server's default limit until it has told its own", () => {
    expect(maxInstructions({})).toBe(2000);
    expect(maxInstructions({ maxInstructionsChars: 0 })).toBe(0);
    expect(requestOptions(state({ instructions: "x".repeat(2000) }, { limits: {} })).instructions).toHaveLength(2000);
    expect(requestOptions(state({ instructions: "x".repeat(2001) }, { limits: {} }))).toEqual({});
    expect(charCount("a🙂b")).toBe(3);
  });
});

describe("trackPreferences", () => {
  const person = (uid) => ({ uid });
  function setup() {
    const store = createStore({ user: null, preferences: NO_PREFERENCES });
    return { store, preferences: trackPreferences(store) };
  }

  it("follows the account: each has its own, saved under its own key", async () => {
    const { store, preferences } = setup();
    await settled(store, (s) => s.preferences.key === "jette.prefs.anonymous");
    preferences.setInstructions("Signed out, be brief.");
    store.set({ user: person("ada") });
    const ada = await preferencesKey("ada");
    let state = await settled(store, (s) => s.preferences.key === ada);
    expect(state.preferences).toEqual({ key: ada, model: null, instructions: "" });
    preferences.setModel("gemini-2.5-pro");
    preferences.setInstructions("Answer in French.");
    expect(readPreferences(ada)).toEqual({ model: "gemini-2.5-pro", instructions: "Answer in French." });

    store.set({ user: person("grace") });
    await Promise.resolve(); // the switch starts right after the change's notification
    expect(store.get().preferences).toEqual(NO_PREFERENCES); // never Ada's meanwhile
    const grace = await preferencesKey("grace");
    state = await settled(store, (s) => s.preferences.key === grace);
    expect(state.preferences).toEqual({ key: grace, model: null, instructions: "" });

    store.set({ user: person("ada") });
    state = await settled(store, (s) => s.preferences.key === ada);
    expect(state.preferences).toEqual({ key: ada, model: "gemini-2.5-pro", instructions: "Answer in French." });
    store.set({ user: null });
    state = await settled(store, (s) => s.preferences.key === "jette.prefs.anonymous");
    expect(state.preferences.instructions).toBe("Signed out, be brief.");
  });

  it("keeps only the last account's when they change quickly", async () => {
    const { store } = setup();
    const grace = await preferencesKey("grace");
    savePreferences(grace, { model: "gemini-2.5-flash-lite" });
    // Ada's key is worked out last: her preferences must not land on Grace's screen.
    const digest = globalThis.crypto.subtle.digest.bind(globalThis.crypto.subtle);
    let releaseAda;
    const adaLate = new Promise((resolve) => {
      releaseAda = resolve;
    });
    vi.spyOn(globalThis.crypto.subtle, "digest").mockImplementation(async (algorithm, data) => {
      if (new TextDecoder().decode(data) === "ada") await adaLate;
      return digest(algorithm, data);
    });
    store.set({ user: person("ada") });
    store.set({ user: person("grace") });
    const state = await settled(store, (s) => s.preferences.key === grace);
    releaseAda();
    for (let i = 0; i < 5; i += 1) await tick();
    expect(store.get().preferences).toBe(state.preferences);
    expect(state.preferences.model).toBe("gemini-2.5-flash-lite");
  });

  it("forgets the account's preferences on this device", async () => {
    const { store, preferences } = setup();
    store.set({ user: person("ada") });
    const ada = await preferencesKey("ada");
    await settled(store, (s) => s.preferences.key === ada);
    preferences.setModel("gemini-2.5-pro");
    preferences.forget();
    expect(localStorage.getItem(ada)).toBeNull();
    expect(store.get().preferences).toEqual({ key: ada, model: null, instructions: "" });
  });

  it("follows a change made in another tab", async () => {
    const { store } = setup();
    store.set({ user: person("ada") });
    const ada = await preferencesKey("ada");
    await settled(store, (s) => s.preferences.key === ada);
    localStorage.setItem(ada, JSON.stringify({ v: 1, model: "gemini-2.5-flash-lite" }));
    window.dispatchEvent(new StorageEvent("storage", { key: "jette.prefs.someone-else" }));
    expect(store.get().preferences.model).toBeNull();
    window.dispatchEvent(new StorageEvent("storage", { key: ada }));
    expect(store.get().preferences.model).toBe("gemini-2.5-flash-lite");
  });
});
