// Firebase App Check (optional): only when /config.json carries "appCheckSiteKey".
//
// The SDK (firebase/app-check, reCAPTCHA Enterprise provider) is loaded by a dynamic import, so
// without a site key no App Check code is downloaded or run and no header is sent. Getting a
// token never fails a request: without one the call goes out without the header and the server
// decides per its APP_CHECK mode (off | monitor | enforce).

export const APP_CHECK_HEADER = "X-Firebase-AppCheck";

// The first token needs Google's reCAPTCHA script, a reCAPTCHA run and an exchange call. The SDK
// waits forever if the script never loads (blocked, offline), so a call waits at most this long…
const FIRST_WAIT_MS = 6000;
// …and, once a token did not come in time, only this long until one does again.
const STALLED_WAIT_MS = 500;

const loadSdk = () => import("firebase/app-check");

/**
 * Start App Check for `app` when `siteKey` is set.
 *
 * @param {import("firebase/app").FirebaseApp} app
 * @param {string|null} siteKey reCAPTCHA Enterprise site key
 * @returns {null | (() => Promise<string|null>)} null without a key (nothing loaded); else a
 *   function resolving to the current App Check token, or null if none can be had in time
 */
export function startAppCheck(app, siteKey, { load = loadSdk, firstWaitMs = FIRST_WAIT_MS,
  stalledWaitMs = STALLED_WAIT_MS } = {}) {
  if (!siteKey) return null;
  const ready = load().then(({ initializeAppCheck, ReCaptchaEnterpriseProvider, getToken }) => {
    const appCheck = initializeAppCheck(app, {
      provider: new ReCaptchaEnterpriseProvider(siteKey),
      isTokenAutoRefreshEnabled: true,
    });
    return () => getToken(appCheck, false);
  });
  ready.catch((error) => console.warn("App Check could not start:", error?.code || error?.message || error));

  let stalled = false;
  return async function appCheckToken() {
    const attempt = ready
      .then((get) => get())
      .then((result) => {
        stalled = false;
        return typeof result?.token === "string" && result.token ? result.token : null;
      })
      .catch((error) => {
        console.warn("No App Check token:", error?.code || error?.message || error);
        return null;
      });
    let timer;
    const late = new Promise((resolve) => {
      timer = setTimeout(() => {
        stalled = true;
        resolve(null);
      }, stalled ? stalledWaitMs : firstWaitMs);
    });
    try {
      return await Promise.race([attempt, late]);
    } finally {
      clearTimeout(timer);
    }
  };
}
