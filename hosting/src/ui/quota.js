// The quota line under the composer ("3 requests left this minute · 200k of 200k tokens left
// today"), with the details in its tooltip. State: `quota` ({requestsLeft, tokensLeft,
// tokensLimit, windows, window} | null): `windows` are the request windows /api/auth listed,
// `window` the label of the tightest ("this minute", "this hour", "today").

import { fetchMe } from "../api.js";
import { normalizeQuota, quotaText, tightestWindow, windowsAfterRequest } from "../quota.js";
import { watch } from "../state.js";
import { byTestId } from "./dom.js";

/** How long after a stopped or failed answer /api/auth is asked: the server settles it then. */
export const QUOTA_REFRESH_DELAY_MS = 1500;

/**
 * A quota from /api/auth (with its windows) or a chat answer's `done` (one more request: the
 * windows /api/auth gave count it); an answer's quota keeps the known daily limit.
 */
export function setQuota(store, quota) {
  if (!quota) return;
  const known = store.get().quota;
  const tokensLimit = quota.tokensLimit ?? known?.tokensLimit ?? null;
  const windows = quota.windows || (known?.windows ? windowsAfterRequest(known.windows, quota.requestsLeft) : null);
  const window = tightestWindow(windows)?.label ?? null;
  store.set({ quota: { ...quota, tokensLimit, windows, window } });
}

/**
 * After an answer that ended without a `done` (stopped, failed midway): the request was counted
 * when it was admitted, and what it cost is settled once its stream has closed, so ask
 * /api/auth a little later. Skipped if another answer is streaming by then (its `done` will
 * do) or the account changed; on failure the line keeps what it showed.
 */
export function refreshQuotaLater(store, delay = QUOTA_REFRESH_DELAY_MS) {
  const { user } = store.get();
  if (!user) return;
  const current = () => store.get().user === user && !store.get().busy;
  setTimeout(async () => {
    if (!current()) return;
    try {
      const me = await fetchMe(await user.getIdToken());
      if (current()) setQuota(store, normalizeQuota(me.quota));
    } catch {
      // offline, rate-limited: the next answer's quota will do
    }
  }, delay);
}

export function mountQuota(store) {
  const line = byTestId("quota");
  watch(store, ["quota"], ({ quota }) => {
    const text = quotaText(quota);
    line.hidden = !text;
    line.textContent = text || "";
    if (!quota) return; // the tooltip of the last quota stays, as the line is hidden
    const parts = [];
    if (quota.requestsLeft !== null) {
      const window = quota.window ? ` ${quota.window}` : "";
      parts.push(`Requests left${window} (the tightest of your rate limits): ${quota.requestsLeft}`);
    }
    if (quota.tokensLeft !== null) parts.push(`Gemini tokens left today: ${quota.tokensLeft.toLocaleString("en")} (resets at midnight UTC)`);
    line.title = parts.join("\n");
  });
}
