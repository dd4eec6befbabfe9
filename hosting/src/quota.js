// The quota as the functions report it: /api/auth's request windows ("30 per 1 minute") and a
// chat answer's `done.quota`, normalized to one shape; which window binds, the windows after one
// more request, and the text of the quota line (ui/quota.js puts it on the page).

/**
 * Quota in either shape -> {requestsLeft, tokensLeft, tokensLimit|null, windows|null}.
 * `done.quota`/JSON: {requestsLeft, tokensLeft} (the least left of all request windows);
 * `/api/auth`: {requests: [{limit: "30 per 1 minute", remaining, resetSeconds}], tokens: {...}},
 * whose request windows are kept (see quotaWindow): {limit, amount, seconds, label, remaining, resetAt}.
 */
export function normalizeQuota(quota, now = Date.now()) {
  if (!quota || typeof quota !== "object") return null;
  if ("requestsLeft" in quota || "tokensLeft" in quota) {
    return {
      requestsLeft: numberOrNull(quota.requestsLeft),
      tokensLeft: numberOrNull(quota.tokensLeft),
      tokensLimit: null,
      windows: null,
    };
  }
  const requests = Array.isArray(quota.requests) ? quota.requests : [];
  const remaining = requests.map((r) => numberOrNull(r?.remaining)).filter((n) => n !== null);
  const windows = requests.map((r) => quotaWindow(r, now)).filter(Boolean);
  return {
    requestsLeft: remaining.length ? Math.min(...remaining) : null,
    tokensLeft: numberOrNull(quota.tokens?.remaining),
    tokensLimit: numberOrNull(quota.tokens?.dailyLimit),
    windows: windows.length === requests.length && windows.length ? windows : null,
  };
}

const UNIT_SECONDS = { second: 1, minute: 60, hour: 3600, day: 86_400, month: 2_592_000, year: 31_536_000 };
const THIS = { second: "this second", minute: "this minute", hour: "this hour", day: "today", month: "this month", year: "this year" };

/** One row of /api/auth's quota.requests ("30 per 1 minute", the `limits` notation) -> a window, or null. */
function quotaWindow(row, now) {
  const match = /^(\d+) per (\d+) (second|minute|hour|day|month|year)s?$/.exec(String(row?.limit ?? "").trim());
  const remaining = numberOrNull(row?.remaining);
  if (!match || remaining === null) return null;
  const [, amount, multiples, unit] = match;
  const n = Number(multiples);
  return {
    limit: match[0],
    amount: Number(amount),
    seconds: n * UNIT_SECONDS[unit],
    label: n === 1 ? THIS[unit] : `in this ${n}-${unit} window`,
    remaining,
    resetAt: now + (numberOrNull(row.resetSeconds) ?? n * UNIT_SECONDS[unit]) * 1000,
  };
}

/** The window that binds: the least left; of equals, the longest (it blocks the longest). */
export function tightestWindow(windows) {
  if (!windows?.length) return null;
  return windows.reduce((a, b) => (b.remaining < a.remaining || (b.remaining === a.remaining && b.seconds > a.seconds) ? b : a));
}

/**
 * The windows after one more request that left `requestsLeft` (a `done` quota, which does not
 * say which window that is): each window counts it (or starts afresh if it has ended); none
 * has less left than the server's number, and one has exactly that.
 */
export function windowsAfterRequest(windows, requestsLeft, now = Date.now()) {
  let next = windows.map((w) => {
    const ended = now >= w.resetAt;
    return { ...w, remaining: Math.max(0, (ended ? w.amount : w.remaining) - 1), resetAt: ended ? now + w.seconds * 1000 : w.resetAt };
  });
  if (requestsLeft === null) return next;
  next = next.map((w) => ({ ...w, remaining: Math.max(w.remaining, requestsLeft) }));
  if (!next.some((w) => w.remaining === requestsLeft)) {
    const tight = tightestWindow(next); // another tab or device spent some: count it here
    next = next.map((w) => (w === tight ? { ...w, remaining: requestsLeft } : w));
  }
  return next;
}

function numberOrNull(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** "12 requests left this minute · 184k of 200k tokens left today" (null when nothing is known). */
export function quotaText(quota) {
  if (!quota) return null;
  const parts = [];
  if (quota.requestsLeft !== null) {
    const window = quota.window ? ` ${quota.window}` : "";
    parts.push(`${quota.requestsLeft} ${quota.requestsLeft === 1 ? "request" : "requests"} left${window}`);
  }
  if (quota.tokensLeft !== null) {
    const limit = quota.tokensLimit ? ` of ${compactNumber(quota.tokensLimit)}` : "";
    parts.push(`${compactNumber(quota.tokensLeft)}${limit} tokens left today`);
  }
  return parts.length ? parts.join(" · ") : null;
}

export function compactNumber(n) {
  if (n >= 1_000_000) return `${trim(n / 1_000_000)}M`;
  if (n >= 10_000) return `${Math.floor(n / 1000)}k`;
  if (n >= 1000) return `${trim(n / 1000)}k`;
  return String(n);
}

function trim(x) {
  return (Math.floor(x * 10) / 10).toFixed(1).replace(/\.0$/, "");
}
