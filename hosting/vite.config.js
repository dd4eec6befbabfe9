// Vite: two pages (chat + privacy), hashed assets, no inline scripts or styles in the output.
//
// `npm run dev` / `npm run preview` also stand in for Firebase Hosting against the local stack
// (./scripts/dev.sh): they serve the runtime config (`/__/firebase/init.json`, `/config.json`)
// and proxy `/api/chat`, `/api/auth`, `/api/health` to the local functions. Override with:
//   JETTE_CHAT_URL           chat function's own URL       (default http://127.0.0.1:8081/)
//   JETTE_AUTH_FUNCTION_URL  auth function                  (default http://127.0.0.1:8082)
//   JETTE_HEALTH_URL         health function                (default http://127.0.0.1:8083)
//   JETTE_AUTH_EMULATOR_URL  Firebase Auth emulator         (default http://127.0.0.1:9099)
//   JETTE_PROJECT_ID         Firebase project id            (default demo-jette)
// `preview` also sends the production Content-Security-Policy, so the built app is tested under it.

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { defineConfig } from "vite";

const root = import.meta.dirname;
const env = (name, fallback) => process.env[name] || fallback;

const CHAT_URL = env("JETTE_CHAT_URL", "http://127.0.0.1:8081/");
const AUTH_FUNCTION_URL = env("JETTE_AUTH_FUNCTION_URL", "http://127.0.0.1:8082");
const HEALTH_URL = env("JETTE_HEALTH_URL", "http://127.0.0.1:8083");
const AUTH_EMULATOR_URL = env("JETTE_AUTH_EMULATOR_URL", "http://127.0.0.1:9099");
const PROJECT_ID = env("JETTE_PROJECT_ID", "demo-jette");

// One source of truth: the local server routes and sends headers exactly as firebase.json
// tells Firebase Hosting to (tests/integration/test_hosting.py checks that they agree).
const hosting = JSON.parse(readFileSync(resolve(root, "..", "firebase.json"), "utf8")).hosting;
const LOCAL_SERVICES = {
  chat: new URL(CHAT_URL).origin,
  auth: new URL(AUTH_FUNCTION_URL).origin,
  health: new URL(HEALTH_URL).origin,
};

const firebaseInit = {
  apiKey: "demo-api-key", // the Auth emulator accepts any key; no real project is involved
  authDomain: "localhost",
  projectId: PROJECT_ID,
  appId: "1:000000000000:web:0000000000000000000000",
};
const appConfig = { chatUrl: CHAT_URL, authEmulatorUrl: AUTH_EMULATOR_URL };

/** Firebase Hosting's glob (`**` any path, `*` one segment) as an anchored RegExp. */
export function globToRegExp(glob) {
  const body = glob
    .split("**")
    .map((part) => part.split("*").map((text) => text.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*"))
    .join(".*");
  return new RegExp(`^${body}$`);
}

/** Vite proxy entries from firebase.json's rewrites to the local functions. */
export function proxyFromRewrites(rewrites, services) {
  const proxy = {};
  for (const rewrite of rewrites) {
    const target = rewrite.run && services[rewrite.run.serviceId];
    if (!target) throw new Error(`no local service for rewrite ${JSON.stringify(rewrite)}`);
    const pattern = globToRegExp(rewrite.source).source.replace(/\$$/, "(\\?.*)?$");
    proxy[pattern] = { target };
  }
  return proxy;
}

/** firebase.json's headers for a path, with the CSP opened to the local origins. */
export function headersFor(path, rules, localOrigins) {
  const headers = {};
  for (const rule of rules) {
    if (!globToRegExp(rule.source).test(path)) continue;
    for (const { key, value } of rule.headers) headers[key] = value;
  }
  const csp = headers["Content-Security-Policy"];
  if (csp) {
    const extra = localOrigins.join(" ");
    headers["Content-Security-Policy"] = csp
      .replace("connect-src 'self'", `connect-src 'self' ${extra}`)
      .replace("frame-src", `frame-src ${extra}`);
  }
  delete headers["Strict-Transport-Security"]; // plain http on localhost
  return headers;
}

function json(res, body) {
  res.setHeader("Content-Type", "application/json");
  res.setHeader("Cache-Control", "no-store");
  res.end(JSON.stringify(body));
}

function localHosting({ sendHeaders }) {
  const localOrigins = [new URL(CHAT_URL).origin, new URL(AUTH_EMULATOR_URL).origin];
  return (req, res, next) => {
    const path = (req.url || "").split("?")[0];
    if (sendHeaders) {
      for (const [key, value] of Object.entries(headersFor(path, hosting.headers, localOrigins))) {
        res.setHeader(key, value);
      }
    }
    if (path === "/__/firebase/init.json") return json(res, firebaseInit);
    if (path === "/config.json") return json(res, appConfig);
    return next();
  };
}

function localHostingPlugin() {
  return {
    name: "jette-local-hosting",
    configureServer(server) {
      server.middlewares.use(localHosting({ sendHeaders: false }));
    },
    configurePreviewServer(server) {
      server.middlewares.use(localHosting({ sendHeaders: true }));
    },
  };
}

const proxy = proxyFromRewrites(hosting.rewrites, LOCAL_SERVICES);

export default defineConfig({
  plugins: [localHostingPlugin()],
  server: { host: "127.0.0.1", port: 5173, strictPort: true, proxy },
  // 4173, not 5000: ./scripts/dev.sh serves the built app on 5000 (vite preview --port 5000).
  preview: { host: "127.0.0.1", port: 4173, strictPort: true, proxy },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    assetsDir: "assets",
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0, // never data: URLs for assets
    rolldownOptions: {
      input: {
        main: resolve(root, "index.html"),
        privacy: resolve(root, "privacy.html"),
      },
    },
  },
  test: {
    include: ["test/**/*.test.js"],
    environment: "node",
  },
});
