// Firebase Auth (modular, Auth only): Google sign-in by popup, or redirect on small screens,
// mobile browsers and blocked popups.

import { initializeApp } from "firebase/app";
import {
  GoogleAuthProvider,
  browserLocalPersistence,
  browserPopupRedirectResolver,
  connectAuthEmulator,
  getRedirectResult,
  indexedDBLocalPersistence,
  initializeAuth,
  onAuthStateChanged,
  signInWithCredential,
  signInWithPopup,
  signInWithRedirect,
  signOut,
} from "firebase/auth";
import { signInErrorMessage } from "./errors.js";

const REDIRECT_FLAG = "jette.signInRedirect";
const CANCELLED = new Set(["auth/popup-closed-by-user", "auth/cancelled-popup-request", "auth/user-cancelled"]);
const USE_REDIRECT = new Set(["auth/popup-blocked", "auth/operation-not-supported-in-this-environment"]);

function prefersRedirect() {
  const small = globalThis.matchMedia?.("(max-width: 640px)").matches;
  const mobile = /Android|iPhone|iPad|iPod|Mobile/i.test(globalThis.navigator?.userAgent || "");
  return Boolean(small || mobile);
}

function provider() {
  const google = new GoogleAuthProvider();
  google.setCustomParameters({ prompt: "select_account" });
  return google;
}

/**
 * @param {{firebase: object, authEmulatorUrl: string|null}} config
 * @param {{onUser: (user: import("firebase/auth").User|null) => void, onError: (message: string) => void}} handlers
 */
export function startAuth(config, { onUser, onError }) {
  const app = initializeApp(config.firebase);
  const auth = initializeAuth(app, { persistence: [indexedDBLocalPersistence, browserLocalPersistence] });
  if (config.authEmulatorUrl) connectAuthEmulator(auth, config.authEmulatorUrl, { disableWarnings: true });

  // Only after a redirect we started ourselves: otherwise no Google iframe is loaded at startup.
  let redirected = false;
  try {
    redirected = sessionStorage.getItem(REDIRECT_FLAG) === "1";
    sessionStorage.removeItem(REDIRECT_FLAG);
  } catch {
    // storage disabled: nothing to finish
  }
  if (redirected) {
    getRedirectResult(auth, browserPopupRedirectResolver).catch((error) => {
      if (!CANCELLED.has(error?.code)) onError(signInErrorMessage(error?.code));
    });
  }

  onAuthStateChanged(auth, (user) => onUser(user));

  async function redirect(beforeRedirect) {
    try {
      sessionStorage.setItem(REDIRECT_FLAG, "1");
    } catch {
      // the result is then picked up by Firebase's own redirect persistence on next use
    }
    beforeRedirect?.(); // e.g. keep the message box's text for the round trip
    await signInWithRedirect(auth, provider(), browserPopupRedirectResolver);
  }

  /** The Auth emulator's stand-in for Google: an unsigned Google ID token it accepts. */
  async function signInAsEmulatedGoogleUser(jsonIdToken) {
    const result = await signInWithCredential(auth, GoogleAuthProvider.credential(jsonIdToken));
    return result.user.uid;
  }

  const api = {
    app,
    auth,
    /**
     * Sign in; every failure but a cancel is reported through onError (never thrown).
     * `beforeRedirect` runs just before the page leaves for a redirect sign-in.
     */
    async signIn({ beforeRedirect } = {}) {
      const failed = (error) => {
        console.warn("Sign-in failed:", error?.code || error);
        onError(signInErrorMessage(error?.code, { emulatorUrl: config.authEmulatorUrl }));
      };
      if (config.authEmulatorUrl) {
        // Local development: Google's popup needs Google's servers; the emulator does not.
        const email = globalThis.prompt("Sign in to the local Auth emulator as (e-mail):",
          "dev.user@example.com");
        if (!email) return;
        const name = email.split("@")[0];
        try {
          await signInAsEmulatedGoogleUser(JSON.stringify(
            { sub: `dev-${email}`, email, email_verified: true, name }));
        } catch (error) {
          failed(error); // e.g. the emulator is not running
        }
        return;
      }
      try {
        if (prefersRedirect()) {
          await redirect(beforeRedirect);
          return;
        }
        await signInWithPopup(auth, provider(), browserPopupRedirectResolver);
      } catch (error) {
        if (CANCELLED.has(error?.code)) return;
        if (USE_REDIRECT.has(error?.code)) {
          try {
            await redirect(beforeRedirect);
          } catch (redirectError) {
            failed(redirectError);
          }
          return;
        }
        failed(error);
      }
    },
    signOut: () => signOut(auth),
    /** The current user's ID token, or null when signed out. */
    async token(forceRefresh = false) {
      await auth.authStateReady(); // a message sent while the session is being restored waits for it
      return auth.currentUser ? auth.currentUser.getIdToken(forceRefresh) : null;
    },
  };

  // Development only (the Auth emulator accepts unsigned Google ID tokens): a hook for browser
  // tests. Never defined when config.json names no emulator, i.e. never in production.
  if (config.authEmulatorUrl) {
    globalThis.__jette = Object.freeze({ signInWithGoogleIdToken: signInAsEmulatedGoogleUser });
  }
  return api;
}
