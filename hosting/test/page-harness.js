// What the page tests (page*.test.js) share: the page's own markup, test-id lookups, and the
// browser pieces jsdom lacks. vi.mock stays in each test file (vitest hoists it per file).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { vi } from "vitest";

/** The <body> of index.html: the page's own, trusted markup. */
export const PAGE_BODY = readFileSync(resolve(import.meta.dirname, "../index.html"), "utf8").match(/<body[^>]*>([\s\S]*)<\/body>/)[1];

export const $ = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);
export const $$ = (id, root = document) => [...root.querySelectorAll(`[data-testid="${id}"]`)];
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Animation frames as timers (undone by vi.unstubAllGlobals). */
export function stubFrames() {
  vi.stubGlobal("requestAnimationFrame", (fn) => setTimeout(fn, 0));
  vi.stubGlobal("cancelAnimationFrame", (id) => clearTimeout(id));
}

/** jsdom has no <dialog> methods: open and close as the browser does (close fires "close"). */
export function stubDialogs() {
  HTMLDialogElement.prototype.showModal = function showModal() {
    this.open = true;
  };
  HTMLDialogElement.prototype.close = function close(value) {
    if (value !== undefined) this.returnValue = value;
    this.open = false;
    this.dispatchEvent(new Event("close"));
  };
}
