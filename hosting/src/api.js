// HTTP calls to our functions. Bearer ID tokens only: no cookies are ever sent (credentials: omit).
// With App Check on (see appcheck.js), every call also carries an X-Firebase-AppCheck token.
// The quota the calls return is shaped in quota.js.

import { APP_CHECK_HEADER } from "./appcheck.js";
import { ApiError, errorFromEvent, errorFromResponse } from "./errors.js";
import { readSSE } from "./sse.js";

const FALLBACK_CHAT_PATH = "/api/chat";

/** @type {null | (() => Promise<string|null>)} */
let appCheckToken = null;

/**
 * Send an App Check token with every call to the chat and auth functions from now on
 * (`getToken` is what startAppCheck returns; null: send none).
 */
export function useAppCheck(getToken) {
  appCheckToken = typeof getToken === "function" ? getToken : null;
}

/** {"X-Firebase-AppCheck": token}, or {} when App Check is off or no token can be had. */
async function appCheckHeaders() {
  if (!appCheckToken) return {};
  try {
    const token = await appCheckToken();
    return token ? { [APP_CHECK_HEADER]: token } : {};
  } catch {
    return {}; // the server decides per its APP_CHECK mode
  }
}

function headers(token, extra = {}) {
  const h = { ...extra };
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

function isAbort(error) {
  return error && (error.name === "AbortError" || error.name === "TimeoutError");
}

/**
 * Send one chat turn. Streams from the chat function's own URL (SSE); if that request fails at
 * the network level (no HTTP answer at all: DNS, CORS, offline, a blocked host), retries once as
 * JSON through Hosting's same-origin `/api/chat`. An HTTP error is never retried here.
 *
 * @param {{chatUrl: string, token: string|null, body: object, signal?: AbortSignal,
 *          onDelta: (text: string) => void, fetchImpl?: typeof fetch}} options
 * @returns {Promise<{finishReason: string, usage: object|null, quota: object|null, via: "stream"|"json"}>}
 *   rejects with ApiError, or with the AbortError when `signal` aborts
 */
export async function sendChat({ chatUrl, token, body, signal, onDelta, fetchImpl = globalThis.fetch }) {
  const payload = JSON.stringify(body);
  const appCheck = await appCheckHeaders(); // one token for the stream and its fallback
  let response;
  let via = "stream";
  try {
    response = await fetchImpl(chatUrl || FALLBACK_CHAT_PATH, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      cache: "no-store",
      headers: headers(token, { ...appCheck, "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: payload,
      signal,
    });
  } catch (error) {
    if (isAbort(error)) throw error;
    via = "json";
    try {
      response = await fetchImpl(FALLBACK_CHAT_PATH, {
        method: "POST",
        credentials: "omit",
        cache: "no-store",
        headers: headers(token, { ...appCheck, "Content-Type": "application/json", Accept: "application/json" }),
        body: payload,
        signal,
      });
    } catch (fallbackError) {
      if (isAbort(fallbackError)) throw fallbackError;
      throw new ApiError("network");
    }
  }
  if (!response.ok) throw await errorFromResponse(response);

  const type = response.headers.get("Content-Type") || "";
  if (type.includes("text/event-stream") && response.body) {
    return readChatStream(response.body, onDelta, signal);
  }
  let data;
  try {
    data = await response.json();
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new ApiError("interrupted");
  }
  if (typeof data?.reply !== "string") throw new ApiError("unknown");
  if (data.reply) onDelta(data.reply);
  return { finishReason: data.finishReason || "STOP", usage: data.usage || null, quota: data.quota || null, via };
}

async function readChatStream(stream, onDelta, signal) {
  let result = null;
  let failure = null;
  try {
    await readSSE(stream, (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return undefined; // not ours: ignore
      }
      if (result) return undefined; // nothing follows `done`; read on to the end of the stream
      if (event.type === "delta" && typeof data?.text === "string") {
        onDelta(data.text);
      } else if (event.type === "done") {
        result = {
          finishReason: data?.finishReason || "STOP",
          usage: data?.usage || null,
          quota: data?.quota || null,
          via: "stream",
        };
      } else if (event.type === "error") {
        failure = errorFromEvent(data);
        return false;
      }
      return undefined;
    });
  } catch (error) {
    if (isAbort(error) || signal?.aborted) throw new DOMException("Aborted", "AbortError");
    throw new ApiError("interrupted"); // the connection dropped mid-answer: never resent silently
  }
  if (failure) throw failure;
  if (!result) {
    if (signal?.aborted) throw new DOMException("Aborted", "AbortError");
    throw new ApiError("interrupted");
  }
  return result;
}

/** A same-origin JSON call to the auth function; rejects with ApiError. */
async function callAuth(path, method, token, fetchImpl) {
  const appCheck = await appCheckHeaders();
  let response;
  try {
    response = await fetchImpl(path, {
      method,
      credentials: "omit",
      cache: "no-store",
      headers: headers(token, { ...appCheck, Accept: "application/json" }),
    });
  } catch {
    throw new ApiError("network");
  }
  if (!response.ok) throw await errorFromResponse(response);
  return response;
}

/**
 * GET /api/auth: who am I, the quota, and `chat` (the models and limits: see normalizeChat).
 * Rejects with ApiError (403 permission_denied if not allowed).
 */
export async function fetchMe(token, fetchImpl = globalThis.fetch) {
  return (await callAuth("/api/auth", "GET", token, fetchImpl)).json();
}

// /api/auth's chat.limits: each key and the least value it may have (0 turns a feature off).
const CHAT_LIMITS = {
  maxAttachments: 0, maxAttachmentBytes: 1, maxMessageChars: 1, maxInstructionsChars: 0, maxRequestBytes: 1,
  maxHistoryMessages: 1,
};
const MODEL_ID = /^[a-z0-9][a-z0-9.-]{0,99}$/;

/**
 * /api/auth's `chat` -> {models: [{id, weight}], limits}, or null when it says nothing usable.
 * Whatever is malformed is left out (a model without a sane id or a positive weight, a limit
 * that is not a whole number in range, a type that is not a string), never guessed.
 */
export function normalizeChat(chat) {
  if (!chat || typeof chat !== "object") return null;
  const models = [];
  for (const model of Array.isArray(chat.models) ? chat.models : []) {
    const { id, weight } = model || {};
    const valid = typeof id === "string" && MODEL_ID.test(id) && typeof weight === "number" && Number.isFinite(weight) && weight > 0;
    if (valid && !models.some((m) => m.id === id)) models.push({ id, weight });
  }
  const given = chat.limits && typeof chat.limits === "object" ? chat.limits : {};
  const limits = {};
  for (const [key, least] of Object.entries(CHAT_LIMITS)) {
    if (Object.hasOwn(given, key) && Number.isSafeInteger(given[key]) && given[key] >= least) limits[key] = given[key];
  }
  if (Object.hasOwn(given, "attachmentTypes") && Array.isArray(given.attachmentTypes)) {
    limits.attachmentTypes = given.attachmentTypes.filter((type) => typeof type === "string" && type !== "");
  }
  return models.length || Object.keys(limits).length ? { models, limits } : null;
}

/** POST /api/auth/revoke: sign out everywhere (revokes all refresh tokens). */
export async function revokeSessions(token, fetchImpl = globalThis.fetch) {
  await callAuth("/api/auth/revoke", "POST", token, fetchImpl);
}
