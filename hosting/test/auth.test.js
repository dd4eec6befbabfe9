// @vitest-environment jsdom
// src/auth.js with the Firebase SDK stood in for: every sign-in failure is reported through
// onError with a message (never thrown), and a redirect sign-in runs `beforeRedirect` first.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

vi.mock("firebase/app", () => ({ initializeApp: vi.fn(() => ({})) }));
vi.mock("firebase/auth", () => {
  class GoogleAuthProvider {
    setCustomParameters() {}
    static credential(token) {
      return { token };
    }
  }
  return {
    GoogleAuthProvider,
    browserLocalPersistence: {},
    browserPopupRedirectResolver: {},
    connectAuthEmulator: vi.fn(),
    getRedirectResult: vi.fn(async () => null),
    indexedDBLocalPersistence: {},
    initializeAuth: vi.fn(() => ({ currentUser: null, authStateReady: async () => {} })),
    onAuthStateChanged: vi.fn(),
    signInWithCredential: vi.fn(),
    signInWithPopup: vi.fn(),
    signInWithRedirect: vi.fn(),
    signOut: vi.fn(),
  };
});

const firebase = await import("firebase/auth");
const { startAuth } = await import("../src/auth.js");

const FIREBASE = { apiKey: "k", authDomain: "example.com", projectId: "p", appId: "a" };
const failure = (code) => Object.assign(new Error(code), { code });

let onError;
beforeEach(() => {
  onError = vi.fn();
  vi.spyOn(console, "warn").mockImplementation(() => {});
  sessionStorage.clear();
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("sign-in failures", () => {
  it("says the Auth emulator is unreachable, instead of throwing", async () => {
    vi.stubGlobal("prompt", () => "dev@example.com");
    firebase.signInWithCredential.mockRejectedValueOnce(failure("auth/network-request-failed"));
    const auth = startAuth({ firebase: FIREBASE, authEmulatorUrl: "http://127.0.0.1:9" }, { onUser() {}, onError });
    await expect(auth.signIn()).resolves.toBeUndefined();
    expect(onError).toHaveBeenCalledWith(
      "Couldn't reach the Firebase Auth emulator at http://127.0.0.1:9. Start it (./scripts/dev.sh) and try again.",
    );
  });

  it("reports any other emulator failure too", async () => {
    vi.stubGlobal("prompt", () => "dev@example.com");
    firebase.signInWithCredential.mockRejectedValueOnce(new Error("something else"));
    const auth = startAuth({ firebase: FIREBASE, authEmulatorUrl: "http://127.0.0.1:9" }, { onUser() {}, onError });
    await auth.signIn();
    expect(onError).toHaveBeenCalledWith("Sign-in failed. Please try again.");
  });

  it("reports a failed popup; a cancelled one is not an error", async () => {
    vi.stubGlobal("matchMedia", () => ({ matches: false }));
    const auth = startAuth({ firebase: FIREBASE, authEmulatorUrl: null }, { onUser() {}, onError });
    firebase.signInWithPopup.mockRejectedValueOnce(failure("auth/popup-closed-by-user"));
    await auth.signIn();
    expect(onError).not.toHaveBeenCalled();
    firebase.signInWithPopup.mockRejectedValueOnce(failure("auth/unauthorized-domain"));
    await auth.signIn();
    expect(onError).toHaveBeenCalledWith(expect.stringMatching(/^Sign-in is not enabled for this web address/));
  });

  it("runs beforeRedirect just before a redirect sign-in (small screens)", async () => {
    vi.stubGlobal("matchMedia", () => ({ matches: true }));
    const order = [];
    firebase.signInWithRedirect.mockImplementationOnce(async () => order.push("redirect"));
    const auth = startAuth({ firebase: FIREBASE, authEmulatorUrl: null }, { onUser() {}, onError });
    await auth.signIn({ beforeRedirect: () => order.push("before") });
    expect(order).toEqual(["before", "redirect"]);
    expect(sessionStorage.getItem("jette.signInRedirect")).toBe("1");
  });
});
