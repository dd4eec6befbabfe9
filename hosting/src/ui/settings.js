// Settings: the dialog and its option "Keep history on this device" (`historyOn`; on by default,
// remembered in localStorage only when turned off), the line saying where history lives, and
// how much of this browser's storage the site uses (navigator.storage.estimate(), read each time
// the dialog opens). Off, the app keeps the conversation in memory only (src/history/session.js
// closes the database); what was saved before stays until it is turned on and deleted.
// Then the custom instructions: this account's, on this device (src/preferences.js), sent with
// every message; counted against the server's maxInstructionsChars, hidden when that is 0.

import { tooLongText } from "../errors.js";
import { charCount, maxInstructions } from "../preferences.js";
import { watch } from "../state.js";
import { byTestId } from "./dom.js";

const HISTORY_KEY = "jette.history";

/** The saved choice: true unless history was turned off on this device. */
export function readHistorySetting() {
  try {
    return globalThis.localStorage?.getItem(HISTORY_KEY) !== "off";
  } catch {
    return true;
  }
}

function saveHistorySetting(on) {
  try {
    if (on) globalThis.localStorage?.removeItem(HISTORY_KEY);
    else globalThis.localStorage?.setItem(HISTORY_KEY, "off");
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

/** 1234567 -> "1.2 MB" */
export function formatBytes(bytes) {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} bytes` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The usage line: how much this site stores, and whether the browser may clear it. */
export async function usageText(storage = globalThis.navigator?.storage) {
  if (typeof storage?.estimate !== "function") return "This browser doesn't tell how much storage this site uses.";
  const { usage = 0, quota = 0 } = await storage.estimate();
  let persisted = false;
  try {
    persisted = typeof storage.persisted === "function" && (await storage.persisted());
  } catch {
    persisted = false;
  }
  const of = quota ? ` (it allows up to ${formatBytes(quota)})` : "";
  const keep = persisted ? "The browser keeps it until you delete it." : "The browser may clear it if the device runs low on space.";
  return `This site uses ${formatBytes(usage)} of this browser's storage${of}. ${keep}`;
}

/** The line under the instructions: "120 / 2,000", or why they are not sent. */
export function instructionsCountText(text, max) {
  const length = charCount(text.trim());
  if (length > max) return `${tooLongText(length, max)}: they are not sent until you shorten them.`;
  return `${length.toLocaleString("en")} / ${max.toLocaleString("en")}`;
}

/** @param {{setInstructions: (text: string) => void}} preferences  src/preferences.js */
export function mountSettings(store, preferences) {
  const button = byTestId("settings-button");
  const dialog = byTestId("settings-dialog");
  const toggle = byTestId("history-setting");
  const usage = byTestId("storage-usage");
  const instructions = {
    field: byTestId("instructions-field"),
    input: byTestId("instructions-input"),
    count: byTestId("instructions-count"),
    off: byTestId("instructions-off"),
  };

  watch(store, ["historyOn"], ({ historyOn }) => {
    toggle.checked = historyOn;
  });
  watch(store, ["preferences", "limits"], ({ preferences: { key, instructions: text }, limits }) => {
    const max = maxInstructions(limits);
    instructions.field.hidden = max === 0;
    instructions.off.hidden = max !== 0;
    if (instructions.input.value !== text) instructions.input.value = text;
    instructions.input.disabled = !key; // until this account's are read: typing then would be lost
    const over = charCount(text.trim()) > max;
    instructions.count.textContent = instructionsCountText(text, max);
    instructions.count.classList.toggle("is-over", over);
    if (over) instructions.input.setAttribute("aria-invalid", "true");
    else instructions.input.removeAttribute("aria-invalid");
  });

  async function showUsage() {
    usage.textContent = "Checking storage…";
    try {
      usage.textContent = await usageText();
    } catch {
      usage.textContent = "This browser didn't tell how much storage this site uses.";
    }
  }

  button.addEventListener("click", () => {
    dialog.showModal();
    showUsage();
  });
  dialog.addEventListener("close", () => button.focus());
  toggle.addEventListener("change", () => {
    saveHistorySetting(toggle.checked);
    store.set({ historyOn: toggle.checked });
  });
  instructions.input.addEventListener("input", () => preferences.setInstructions(instructions.input.value));
}
