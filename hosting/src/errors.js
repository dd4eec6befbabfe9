// Error codes (the server's, from functions/core/errors.py via the generated contract, and the
// browser's own) -> what the user reads. Pure: no DOM, no fetch globals needed (a Response-like
// object is enough).

import { ERROR_CODES } from "./generated/contract.js";

/** Every code the server answers with, with its HTTP status. */
export const SERVER_CODES = Object.freeze(Object.fromEntries(Object.entries(ERROR_CODES).map(([code, { status }]) => [code, status])));

/** Codes the browser itself produces. */
export const CLIENT_CODES = Object.freeze(["network", "interrupted", "config", "starting", "unknown"]);

const MESSAGES = {
  invalid_argument:
    "The chat service did not accept this message. Shorten it or start a new chat, then try again.",
  unauthenticated: "Your session ended — sign in again.",
  permission_denied:
    "This Google account is not allowed to use this app. Ask the app's owner for access, or sign in with another account.",
  not_found: "The chat service was not found at its address. The app may be misconfigured.",
  method_not_allowed: "The chat service refused this kind of request. Reload the page and try again.",
  request_timeout: "The message took too long to upload. Check your connection and try again.",
  payload_too_large:
    "This message, its files and the conversation before it are too large to send. Remove a file, shorten the message or start a new chat.",
  unsupported_media_type:
    "The chat service does not accept one of the attached files (its type, or content that is not of its type). Remove it and send again.",
  blocked: "Gemini's safety filters blocked this answer. Try rephrasing your message.",
  rate_limited: "You're sending messages too quickly.",
  quota_exceeded: "You've used up today's quota. It resets at midnight UTC.",
  internal: "Something went wrong on our side. Please try again.",
  upstream_error: "Gemini failed to answer. Please try again.",
  unavailable: "The chat service is busy or paused right now. Please try again later.",
  timeout: "Gemini took too long to answer. Try again, or ask for a shorter answer.",
  network: "Can't reach the chat service. Check your internet connection and try again.",
  interrupted: "The connection dropped before the answer was complete. Try again.",
  config: "The app is not configured correctly (its runtime configuration could not be loaded).",
  starting: "The app is still starting. Try again in a moment.",
  unknown: "Something unexpected happened. Please try again.",
};

// The server's default sentences: no use repeating them as detail.
const SERVER_DEFAULTS = new Set(Object.values(ERROR_CODES).map(({ message }) => message));

const SIGNED_OUT_MESSAGE = "Sign in with Google to chat.";
// functions/core/app_check.py's refusal (APP_CHECK=enforce): a 401 that no new sign-in fixes.
const APP_NOT_VERIFIED = "This app could not be verified.";
const APP_NOT_VERIFIED_MESSAGE =
  "This browser could not be verified by App Check. Reload the page; if it keeps happening, allow Google's reCAPTCHA (a blocker or extension may stop it).";
// The codes whose answers carry Retry-After.
const COUNTDOWN_CODES = new Set(Object.keys(ERROR_CODES).filter((code) => ERROR_CODES[code].header === "Retry-After"));
const RETRYABLE = new Set(["internal", "upstream_error", "unavailable", "timeout", "network", "interrupted", "blocked", "rate_limited", "unknown"]);

/** An error from the chat or auth API, or from the network. */
export class ApiError extends Error {
  /**
   * @param {string} code  a server code or one of CLIENT_CODES
   * @param {{status?: number, serverMessage?: string, retryAfter?: number|null}} [info]
   */
  constructor(code, { status = 0, serverMessage = "", retryAfter = null } = {}) {
    super(MESSAGES[code] || MESSAGES.unknown);
    this.name = "ApiError";
    this.code = code in MESSAGES ? code : "unknown";
    this.status = status;
    this.serverMessage = serverMessage;
    this.retryAfter = retryAfter;
  }
}

/** The code a bare HTTP status stands for (when the body is not the error envelope). */
export function codeForStatus(status) {
  if (status === 429) return "rate_limited";
  for (const [code, s] of Object.entries(SERVER_CODES)) if (s === status) return code;
  if (status >= 500) return "internal";
  return "unknown";
}

/**
 * Retry-After header -> whole seconds from now (delta-seconds or an HTTP date), or null.
 * @param {string|null|undefined} value
 * @param {number} [nowMs]
 */
export function parseRetryAfter(value, nowMs = Date.now()) {
  if (value == null) return null;
  const text = String(value).trim();
  if (text === "") return null;
  if (/^\d+$/.test(text)) return Number(text);
  if (!/^[A-Za-z]{3}, /.test(text)) return null; // only the HTTP-date form ("Wed, 21 Oct 2015 …")
  const when = Date.parse(text);
  if (Number.isNaN(when)) return null;
  return Math.max(0, Math.ceil((when - nowMs) / 1000));
}

/**
 * Build an ApiError from a non-2xx Response (reads its JSON body when it is the error envelope).
 * @param {{status: number, headers: {get(name: string): string|null}, json(): Promise<any>}} response
 */
export async function errorFromResponse(response, nowMs = Date.now()) {
  let code = codeForStatus(response.status);
  let serverMessage = "";
  try {
    const body = await response.json();
    const err = body && body.error;
    if (err && typeof err.code === "string" && err.code in SERVER_CODES) code = err.code;
    if (err && typeof err.message === "string") serverMessage = err.message.slice(0, 300);
  } catch {
    // not JSON (a proxy's HTML page, an empty body): the status decides
  }
  return new ApiError(code, {
    status: response.status,
    serverMessage,
    retryAfter: parseRetryAfter(response.headers.get("Retry-After"), nowMs),
  });
}

/** An `event: error` payload of the chat stream -> ApiError. */
export function errorFromEvent(data) {
  const err = data && data.error;
  const code = err && typeof err.code === "string" && err.code in SERVER_CODES ? err.code : "unknown";
  return new ApiError(code, {
    serverMessage: err && typeof err.message === "string" ? err.message.slice(0, 300) : "",
  });
}

/**
 * What to show for an error.
 * @param {unknown} error
 * @param {{signedIn?: boolean}} [context]
 * @returns {{code: string, message: string, detail: string, action: "sign-in"|"retry"|null, retryAfter: number|null}}
 */
export function describeError(error, { signedIn = true } = {}) {
  let code = "unknown";
  let serverMessage = "";
  let retryAfter = null;
  if (error instanceof ApiError) {
    ({ code, serverMessage, retryAfter } = error);
  } else if (error && typeof error === "object" && typeof error.code === "string" && error.code in MESSAGES) {
    code = error.code;
  } else if (error instanceof TypeError) {
    code = "network"; // fetch() rejects with a TypeError when the network fails
  }
  let message = MESSAGES[code] || MESSAGES.unknown;
  const appNotVerified = code === "unauthenticated" && serverMessage === APP_NOT_VERIFIED;
  if (appNotVerified) message = APP_NOT_VERIFIED_MESSAGE;
  else if (code === "unauthenticated" && !signedIn) message = SIGNED_OUT_MESSAGE;
  let action = null;
  if (appNotVerified) action = "retry";
  else if (code === "unauthenticated" || (code === "permission_denied" && !signedIn)) action = "sign-in";
  else if (RETRYABLE.has(code)) action = "retry";
  const countdown = COUNTDOWN_CODES.has(code) && Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null;
  // The server's sentence can be more specific (e.g. which limit); show it when it adds something.
  const detail =
    serverMessage && !appNotVerified && serverMessage !== message && !SERVER_DEFAULTS.has(serverMessage) ? serverMessage : "";
  return { code, message, detail, action, retryAfter: countdown };
}

/** Seconds -> "0:42", "12:05", "3:07:09". */
export function formatCountdown(seconds) {
  const total = Math.max(0, Math.ceil(Number(seconds) || 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** The live countdown line. */
export function countdownText(seconds) {
  return seconds > 0 ? `You can send again in ${formatCountdown(seconds)}` : "You can send again now.";
}

/** Message for each code (for tests and docs). */
export function messageFor(code) {
  return MESSAGES[code] || MESSAGES.unknown;
}

/** A number as the (English) page writes it: 8,000. */
const count = (n) => n.toLocaleString("en");

/** Over MAX_MESSAGE_CHARS: "Too long: 8,123 of 8,000 characters". */
export function tooLongText(length, max) {
  return `Too long: ${count(length)} of ${count(max)} characters`;
}

/** Firebase Auth's sign-in error codes -> what the user reads (`emulatorUrl`: local development). */
export function signInErrorMessage(code, { emulatorUrl = null } = {}) {
  switch (code) {
    case "auth/network-request-failed":
      return emulatorUrl
        ? `Couldn't reach the Firebase Auth emulator at ${emulatorUrl}. Start it (./scripts/dev.sh) and try again.`
        : "Couldn't reach Google sign-in. Check your connection and try again.";
    case "auth/unauthorized-domain":
      return "Sign-in is not enabled for this web address (add it to the Firebase project's authorized domains).";
    case "auth/operation-not-allowed":
      return "Google sign-in is not enabled for this app's Firebase project.";
    case "auth/user-disabled":
      return "This account has been disabled.";
    case "auth/too-many-requests":
      return "Too many sign-in attempts. Wait a moment and try again.";
    default:
      return "Sign-in failed. Please try again.";
  }
}
