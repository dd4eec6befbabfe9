// The quota line under the composer ("3 requests · 200k of 200k tokens left"), with the details
// in its tooltip. State: `quota` ({requestsLeft, tokensLeft, tokensLimit} | null).

import { quotaText } from "../api.js";
import { watch } from "../state.js";
import { byTestId } from "./dom.js";

/** A quota from /api/auth or a chat answer; an answer's quota keeps the known daily limit. */
export function setQuota(store, quota) {
  if (!quota) return;
  const tokensLimit = quota.tokensLimit ?? store.get().quota?.tokensLimit ?? null;
  store.set({ quota: { ...quota, tokensLimit } });
}

export function mountQuota(store) {
  const line = byTestId("quota");
  watch(store, ["quota"], ({ quota }) => {
    const text = quotaText(quota);
    line.hidden = !text;
    line.textContent = text || "";
    if (!quota) return; // the tooltip of the last quota stays, as the line is hidden
    const parts = [];
    if (quota.requestsLeft !== null) parts.push(`Requests left in the tightest rate-limit window: ${quota.requestsLeft}`);
    if (quota.tokensLeft !== null) parts.push(`Gemini tokens left today: ${quota.tokensLeft.toLocaleString()} (resets at midnight UTC)`);
    line.title = parts.join("\n");
  });
}
