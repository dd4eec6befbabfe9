import { describe, expect, it } from "vitest";
import { compactNumber, normalizeQuota, quotaText, tightestWindow, windowsAfterRequest } from "../src/quota.js";

describe("quota", () => {
  it("normalizes the done/JSON shape", () => {
    expect(normalizeQuota({ requestsLeft: 29, tokensLeft: 199000 })).toEqual({ requestsLeft: 29, tokensLeft: 199000, tokensLimit: null, windows: null });
  });

  it("normalizes the /api/auth shape (tightest request window), keeping the windows", () => {
    const quota = {
      requests: [
        { limit: "30 per 1 minute", remaining: 30, resetSeconds: 60 },
        { limit: "50 per 1 hour", remaining: 12, resetSeconds: 100 },
        { limit: "200 per 1 day", remaining: 150, resetSeconds: 1000 },
      ],
      tokens: { dailyLimit: 200000, remaining: 184000, resetSeconds: 5000 },
    };
    const normalized = normalizeQuota(quota, 1_000_000);
    expect(normalized).toMatchObject({ requestsLeft: 12, tokensLeft: 184000, tokensLimit: 200000 });
    expect(normalized.windows).toEqual([
      { limit: "30 per 1 minute", amount: 30, seconds: 60, label: "this minute", remaining: 30, resetAt: 1_060_000 },
      { limit: "50 per 1 hour", amount: 50, seconds: 3600, label: "this hour", remaining: 12, resetAt: 1_100_000 },
      { limit: "200 per 1 day", amount: 200, seconds: 86400, label: "today", remaining: 150, resetAt: 2_000_000 },
    ]);
    expect(tightestWindow(normalized.windows).label).toBe("this hour");
    // Windows it cannot read: none (the line then names no window).
    expect(normalizeQuota({ requests: [{ limit: "3 per fortnight", remaining: 1 }] }).windows).toBeNull();
    expect(normalizeQuota({ requests: [{ limit: "5 per 2 minutes", remaining: 4, resetSeconds: 9 }] }).windows[0].label)
      .toBe("in this 2-minute window");
  });

  it("names the tightest window: the least left, and of equals the longest", () => {
    const w = (label, remaining, seconds) => ({ label, remaining, seconds });
    expect(tightestWindow([w("this minute", 3, 60), w("today", 3, 86400), w("this hour", 5, 3600)]).label).toBe("today");
    expect(tightestWindow([w("this minute", 2, 60), w("today", 3, 86400)]).label).toBe("this minute");
    expect(tightestWindow(null)).toBeNull();
  });

  it("counts a request the windows did not see (a done quota) in each window", () => {
    const now = 1_000_000;
    const windows = [
      { limit: "3 per 1 minute", amount: 3, seconds: 60, label: "this minute", remaining: 1, resetAt: now - 1 }, // ended
      { limit: "5 per 1 hour", amount: 5, seconds: 3600, label: "this hour", remaining: 3, resetAt: now + 60_000 },
    ];
    const after = windowsAfterRequest(windows, 2, now);
    expect(after.map((x) => [x.label, x.remaining])).toEqual([["this minute", 2], ["this hour", 2]]);
    expect(after[0].resetAt).toBe(now + 60_000);
    expect(tightestWindow(after).label).toBe("this hour");
    // Another tab spent some: the server's number wins, in the window that was tightest.
    const spent = windowsAfterRequest(windows, 0, now);
    expect(spent.map((x) => x.remaining)).toEqual([2, 0]);
  });

  it("writes a short line that says which window", () => {
    expect(quotaText({ requestsLeft: 12, tokensLeft: 184000, tokensLimit: 200000, window: "this hour" }))
      .toBe("12 requests left this hour · 184k of 200k tokens left today");
    expect(quotaText({ requestsLeft: 1, tokensLeft: 950, tokensLimit: null, window: null })).toBe("1 request left · 950 tokens left today");
    expect(quotaText({ requestsLeft: null, tokensLeft: 950, tokensLimit: null })).toBe("950 tokens left today");
    expect(quotaText(null)).toBeNull();
    expect(normalizeQuota(null)).toBeNull();
    expect(compactNumber(5_000_000)).toBe("5M");
    expect(compactNumber(1500)).toBe("1.5k");
  });
});
