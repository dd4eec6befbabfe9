// The user's preferences for chat, kept on this device only (localStorage): the model picked
// and the custom instructions. One entry per account, `jette.prefs.<first 32 hex of SHA-256(uid)>`
// (no uid in any key, as for the history), `jette.prefs.anonymous` when signed out; so another
// account on this browser neither sees nor sends them. requestOptions() turns them into the chat
// request's `model` / `instructions`.
//
// State it writes: `preferences` = {key, model, instructions} of whoever is signed in (`key` is
// null while it is being worked out: nothing is saved then).

import { DEFAULT_LIMITS } from "./generated/contract.js";
import { watch } from "./state.js";

const PREFIX = "jette.prefs.";
const ANONYMOUS = `${PREFIX}anonymous`;
// The server's default MAX_INSTRUCTIONS_CHARS, until /api/auth has told this one's.
const DEFAULT_MAX_INSTRUCTIONS = DEFAULT_LIMITS.maxInstructionsChars;
export const NO_PREFERENCES = Object.freeze({ key: null, model: null, instructions: "" });

// Entries localStorage refused (disabled, full): kept for this page only, and read first.
const kept = new Map();

/** The storage key of an account's preferences (`uid` null or "": signed out). */
export async function preferencesKey(uid) {
  if (!uid) return ANONYMOUS;
  const digest = await globalThis.crypto.subtle.digest("SHA-256", new TextEncoder().encode(uid));
  return PREFIX + Array.from(new Uint8Array(digest).slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** {model, instructions} saved under `key`; defaults for nothing saved or anything unreadable. */
export function readPreferences(key) {
  let raw = kept.get(key) ?? null;
  if (raw === null) {
    try {
      raw = globalThis.localStorage?.getItem(key) ?? null;
    } catch {
      raw = null;
    }
  }
  let saved = null;
  try {
    saved = JSON.parse(raw);
  } catch {
    saved = null;
  }
  const model = saved?.model;
  const instructions = saved?.instructions;
  return {
    model: typeof model === "string" && model.length > 0 && model.length <= 100 ? model : null,
    instructions: typeof instructions === "string" ? instructions : "",
  };
}

/** Save {model, instructions} under `key` (nothing to keep: the entry is removed). */
export function savePreferences(key, { model = null, instructions = "" }) {
  if (!model && !instructions) {
    forgetPreferences(key);
    return;
  }
  const raw = JSON.stringify({ v: 1, ...(model && { model }), ...(instructions && { instructions }) });
  try {
    globalThis.localStorage.setItem(key, raw);
    kept.delete(key);
  } catch {
    kept.set(key, raw); // the choice lasts for this page only
  }
}

export function forgetPreferences(key) {
  kept.delete(key);
  try {
    globalThis.localStorage?.removeItem(key);
  } catch {
    // storage disabled: nothing was saved there
  }
}

/** Characters as the server counts them (code points, not UTF-16 units). */
export const charCount = (text) => [...text].length;

/** The longest custom instructions the server takes; 0: it takes none. */
export function maxInstructions(limits) {
  const max = limits?.maxInstructionsChars;
  return Number.isInteger(max) && max >= 0 ? max : DEFAULT_MAX_INSTRUCTIONS;
}

/**
 * The chat request's options from the preferences: `model` only when the server offers the one
 * remembered (otherwise its default is used), `instructions` (trimmed) only when not blank and
 * within the server's limit (0: turned off there).
 * @returns {{model?: string, instructions?: string}}
 */
export function requestOptions(state) {
  const { preferences, chat, limits } = state;
  const options = {};
  const model = preferences?.model;
  if (model && chat?.models?.some((m) => m.id === model)) options.model = model;
  const instructions = (preferences?.instructions || "").trim();
  if (instructions && charCount(instructions) <= maxInstructions(limits)) options.instructions = instructions;
  return options;
}

/**
 * Keep `preferences` in step with whoever is signed in (and with other tabs), and change them.
 * @returns {{setModel(id: string): void, setInstructions(text: string): void, forget(): void}}
 */
export function trackPreferences(store) {
  let loads = 0;
  let uid;

  async function load(nextUid) {
    const ticket = ++loads;
    store.set({ preferences: NO_PREFERENCES }); // never the previous account's meanwhile
    const key = await preferencesKey(nextUid);
    if (ticket === loads) store.set({ preferences: { key, ...readPreferences(key) } });
  }

  watch(store, ["user"], ({ user }) => {
    const next = user?.uid || null;
    if (next === uid) return;
    uid = next;
    queueMicrotask(() => load(next)); // never set() from inside another set()'s notification
  });

  // Changed in another tab of this browser: follow it.
  globalThis.addEventListener?.("storage", (event) => {
    const { key } = store.get().preferences;
    if (key && (event.key === key || event.key === null)) store.set({ preferences: { key, ...readPreferences(key) } });
  });

  function change(patch) {
    const current = store.get().preferences;
    const next = { ...current, ...patch };
    store.set({ preferences: next });
    if (next.key) savePreferences(next.key, next);
  }

  return {
    setModel: (id) => change({ model: id || null }),
    setInstructions: (text) => change({ instructions: text }),
    /** Delete this account's preferences on this device (with its conversations, at sign-out). */
    forget() {
      const { key } = store.get().preferences;
      if (!key) return;
      forgetPreferences(key);
      store.set({ preferences: { key, model: null, instructions: "" } });
    },
  };
}
