import { describe, expect, it } from "vitest";
import {
  ApiError,
  SERVER_CODES,
  codeForStatus,
  countdownText,
  describeError,
  errorFromEvent,
  errorFromResponse,
  formatCountdown,
  messageFor,
  parseRetryAfter,
} from "../src/errors.js";
import { ERROR_CODES } from "../src/generated/contract.js";

// The server's error table, as scripts/generate.py writes it from functions/core/errors.py.
const SERVER_TABLE = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status]));

function fakeResponse(status, body, headers = {}) {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

describe("error codes", () => {
  it("knows every server code with its status", () => {
    expect(SERVER_CODES).toEqual(SERVER_TABLE);
    expect(Object.keys(SERVER_TABLE).length).toBeGreaterThan(10);
  });

  it.each(Object.keys(SERVER_TABLE))("%s has its own human message", (code) => {
    const { message, code: described } = describeError(new ApiError(code));
    expect(described).toBe(code);
    expect(message).toBe(messageFor(code));
    expect(message).not.toBe(messageFor("unknown"));
    expect(message.length).toBeGreaterThan(15);
    expect(message).toMatch(/[.!]$/);
  });

  it("gives every code a distinct message", () => {
    const messages = Object.keys(SERVER_TABLE).map(messageFor);
    expect(new Set(messages).size).toBe(messages.length);
  });

  it("says the session ended for unauthenticated, with a sign-in action", () => {
    const d = describeError(new ApiError("unauthenticated"), { signedIn: true });
    expect(d.message).toBe("Your session ended — sign in again.");
    expect(d.action).toBe("sign-in");
    expect(describeError(new ApiError("unauthenticated"), { signedIn: false }).message).toBe("Sign in with Google to chat.");
  });

  it("tells an App Check refusal apart from an ended session: retry, not sign in", () => {
    const refused = new ApiError("unauthenticated", { status: 401, serverMessage: "This app could not be verified." });
    for (const signedIn of [true, false]) {
      const d = describeError(refused, { signedIn });
      expect(d.message).toMatch(/could not be verified by App Check/);
      expect(d.action).toBe("retry");
      expect(d.detail).toBe("");
    }
  });

  it("maps the specific cases", () => {
    expect(describeError(new ApiError("blocked")).message).toMatch(/safety/);
    expect(describeError(new ApiError("unavailable")).message).toMatch(/busy or paused/);
    expect(describeError(new ApiError("timeout")).message).toMatch(/too long/);
    expect(describeError(new ApiError("upstream_error")).message).toMatch(/Gemini failed/);
    expect(describeError(new ApiError("quota_exceeded")).message).toMatch(/quota/);
    expect(describeError(new ApiError("rate_limited")).message).toMatch(/too quickly/);
    expect(describeError(new ApiError("permission_denied")).message).toMatch(/not allowed/);
  });

  it("treats a fetch TypeError as a network failure", () => {
    const d = describeError(new TypeError("Failed to fetch"));
    expect(d.code).toBe("network");
    expect(d.message).toMatch(/Can't reach/);
    expect(d.action).toBe("retry");
  });

  it("maps client codes and unknown values", () => {
    expect(describeError(new ApiError("interrupted")).message).toMatch(/connection dropped/);
    expect(describeError(new ApiError("config")).message).toMatch(/configur/);
    expect(describeError(new Error("boom")).code).toBe("unknown");
    expect(describeError(undefined).code).toBe("unknown");
    expect(new ApiError("no_such_code").code).toBe("unknown");
  });

  it("offers a countdown only for the codes whose answers carry Retry-After", () => {
    const withRetryAfter = Object.keys(ERROR_CODES).filter((code) => ERROR_CODES[code].header === "Retry-After");
    expect(withRetryAfter).toEqual(["rate_limited", "quota_exceeded", "unavailable"]);
    expect(describeError(new ApiError("rate_limited", { retryAfter: 42 })).retryAfter).toBe(42);
    expect(describeError(new ApiError("quota_exceeded", { retryAfter: 3600 })).retryAfter).toBe(3600);
    expect(describeError(new ApiError("unavailable", { retryAfter: 30 })).retryAfter).toBe(30);
    expect(describeError(new ApiError("rate_limited")).retryAfter).toBeNull();
    expect(describeError(new ApiError("internal", { retryAfter: 30 })).retryAfter).toBeNull();
  });

  it("passes the server's sentence as detail when it adds something", () => {
    const d = describeError(new ApiError("rate_limited", { serverMessage: "Too many requests: the limit is 30 per 1 minute. Please wait." }));
    expect(d.detail).toMatch(/30 per 1 minute/);
    expect(describeError(new ApiError("timeout", { serverMessage: messageFor("timeout") })).detail).toBe("");
    // the backend's generic sentence for a code adds nothing
    expect(describeError(new ApiError("upstream_error", { serverMessage: ERROR_CODES.upstream_error.message })).detail).toBe("");
    expect(describeError(new ApiError("unavailable", { serverMessage: "Chat is paused by the operators; please try later." })).detail).toMatch(/paused by the operators/);
  });
});

describe("errorFromResponse", () => {
  it("reads the error envelope and Retry-After", async () => {
    const error = await errorFromResponse(
      fakeResponse(429, { error: { code: "quota_exceeded", message: "Your daily quota is used up." } }, { "Retry-After": "42" }),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe("quota_exceeded");
    expect(error.status).toBe(429);
    expect(error.retryAfter).toBe(42);
    expect(error.serverMessage).toBe("Your daily quota is used up.");
  });

  it.each(Object.entries(SERVER_TABLE))("falls back on the status for %s (%i) without a JSON body", async (code, status) => {
    const error = await errorFromResponse(new Response("<html>proxy error</html>", { status }));
    expect(error.code).toBe(code === "quota_exceeded" ? "rate_limited" : code);
  });

  it("ignores an unknown code in the body", async () => {
    const error = await errorFromResponse(fakeResponse(503, { error: { code: "nope", message: "x" } }));
    expect(error.code).toBe("unavailable");
  });

  it("maps unlisted statuses", () => {
    expect(codeForStatus(418)).toBe("unknown");
    expect(codeForStatus(599)).toBe("internal");
  });

  it("reads an error event of the stream", () => {
    const error = errorFromEvent({ error: { code: "timeout", message: "The model took too long to answer." } });
    expect(error.code).toBe("timeout");
    expect(errorFromEvent(null).code).toBe("unknown");
  });
});

describe("Retry-After and the countdown", () => {
  it("parses delta-seconds and HTTP dates", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfter("42", now)).toBe(42);
    expect(parseRetryAfter(" 7 ", now)).toBe(7);
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:01:30 GMT", now)).toBe(90);
    expect(parseRetryAfter("Tue, 31 Dec 2024 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter("", now)).toBeNull();
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter("-5", now)).toBeNull();
  });

  it.each([
    [0, "0:00"],
    [1, "0:01"],
    [42, "0:42"],
    [59.2, "1:00"],
    [60, "1:00"],
    [605, "10:05"],
    [3599, "59:59"],
    [3600, "1:00:00"],
    [86399, "23:59:59"],
    [-3, "0:00"],
    [Number.NaN, "0:00"],
  ])("formats %s s as %s", (seconds, text) => {
    expect(formatCountdown(seconds)).toBe(text);
  });

  it("writes the live line", () => {
    expect(countdownText(42)).toBe("You can send again in 0:42");
    expect(countdownText(0)).toBe("You can send again now.");
  });
});
