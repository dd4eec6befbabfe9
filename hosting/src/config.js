// Runtime configuration, fetched at startup (nothing is baked into the build):
//
//   /__/firebase/init.json  Firebase Hosting's reserved URL for the web app's Firebase config
//                           (the Vite dev/preview server serves a development one)
//   /config.json            {"chatUrl": "https://chat-….run.app/",     the chat function's own URL
//                            "authEmulatorUrl": "http://127.0.0.1:9099", development only
//                            "authDomain": "chat.example.com",           optional override
//                            "appCheckSiteKey": "6Lc…",                   optional: App Check on
//                            "limits": {"maxMessageChars", "maxHistoryMessages", "maxRequestBytes"}}
//                                                                         optional, server's values

import { DEFAULT_LIMITS } from "./conversation.js";

const FIREBASE_FIELDS = ["apiKey", "appId", "authDomain", "projectId", "messagingSenderId", "storageBucket"];

async function getJson(url, fetchImpl) {
  const response = await fetchImpl(url, { cache: "no-store", credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function isLocalHost(hostname) {
  return hostname === "localhost" || hostname === "127.0.0.1" || hostname === "[::1]";
}

/** Validate a URL from config.json: http(s) only, and plain http only for a local host. */
export function checkUrl(value, name) {
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`config.json: ${name} is not an absolute URL`);
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLocalHost(url.hostname))) {
    throw new Error(`config.json: ${name} must be https (http only for localhost)`);
  }
  return url.href;
}

/** A reCAPTCHA Enterprise site key (App Check), or null when App Check is off. */
export function checkSiteKey(value) {
  if (value === undefined || value === null || value === "") return null;
  if (typeof value !== "string" || !/^[A-Za-z0-9_-]{20,100}$/.test(value)) {
    throw new Error("config.json: appCheckSiteKey is not a reCAPTCHA Enterprise site key");
  }
  return value;
}

function positiveInt(value, fallback) {
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/** Pure: the two JSON documents -> the app's config (throws on a broken config). */
export function parseRuntimeConfig(firebaseInit, appConfig) {
  if (!firebaseInit || typeof firebaseInit.apiKey !== "string" || typeof firebaseInit.projectId !== "string") {
    throw new Error("/__/firebase/init.json: apiKey and projectId are required");
  }
  const firebase = {};
  for (const field of FIREBASE_FIELDS) if (typeof firebaseInit[field] === "string") firebase[field] = firebaseInit[field];
  const app = appConfig && typeof appConfig === "object" ? appConfig : {};
  if (typeof app.authDomain === "string" && app.authDomain) firebase.authDomain = app.authDomain;
  const limits = app.limits && typeof app.limits === "object" ? app.limits : {};
  return {
    firebase,
    chatUrl: typeof app.chatUrl === "string" && app.chatUrl ? checkUrl(app.chatUrl, "chatUrl") : "/api/chat",
    authEmulatorUrl:
      typeof app.authEmulatorUrl === "string" && app.authEmulatorUrl
        ? new URL(checkUrl(app.authEmulatorUrl, "authEmulatorUrl")).origin
        : null,
    appCheckSiteKey: checkSiteKey(app.appCheckSiteKey),
    limits: {
      maxMessageChars: positiveInt(limits.maxMessageChars, DEFAULT_LIMITS.maxMessageChars),
      maxHistoryMessages: positiveInt(limits.maxHistoryMessages, DEFAULT_LIMITS.maxHistoryMessages),
      maxRequestBytes: positiveInt(limits.maxRequestBytes, DEFAULT_LIMITS.maxRequestBytes),
    },
  };
}

export async function loadRuntimeConfig(fetchImpl = globalThis.fetch) {
  const [firebaseInit, appConfig] = await Promise.all([
    getJson("/__/firebase/init.json", fetchImpl),
    getJson("/config.json", fetchImpl),
  ]);
  return parseRuntimeConfig(firebaseInit, appConfig);
}
