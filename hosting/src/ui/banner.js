// The banner above the composer: one error or notice at a time, its Retry-After countdown
// (which blocks sending while it runs), and its actions: Try again, Sign in, Dismiss.
//
// State: `banner` ({code, message, detail, action, retryAfter, signInLabel} | null) and
// `blockedUntil` (ms epoch; 0 = not blocked). Other modules change them only through
// showBanner / showError / clearBanner.

import { watch } from "../state.js";
import { countdownText, describeError } from "../errors.js";
import { byTestId } from "./dom.js";

export const NO_BANNER = Object.freeze({ banner: null, blockedUntil: 0 });

export const countdownActive = (state) => state.blockedUntil > Date.now();
const secondsLeft = (state) => Math.max(0, Math.ceil((state.blockedUntil - Date.now()) / 1000));

export function clearBanner(store) {
  store.set(NO_BANNER);
}

export function showBanner(store, { code = "unknown", message, detail = "", action = null, retryAfter = null }) {
  const signedIn = Boolean(store.get().user);
  const signInLabel =
    action === "switch-account" ? "Use another account" : signedIn ? "Sign in again" : "Sign in with Google";
  store.set({
    banner: { code, message, detail, action, retryAfter, signInLabel },
    blockedUntil: retryAfter ? Date.now() + retryAfter * 1000 : 0,
  });
}

export function showError(store, error) {
  const { user } = store.get();
  const described = describeError(error, { signedIn: Boolean(user) });
  if (described.code === "permission_denied" && user) described.action = "switch-account";
  showBanner(store, described);
}

/** @param {{retry: () => void, signIn: () => void, focus: () => void}} actions (focus: the composer) */
export function mountBanner(store, { retry, signIn, focus }) {
  const ui = {
    banner: byTestId("error-banner"),
    message: byTestId("error-message"),
    detail: byTestId("error-detail"),
    countdown: byTestId("countdown"),
    signIn: byTestId("error-sign-in"),
    retry: byTestId("retry"),
    dismiss: byTestId("dismiss-error"),
  };

  watch(store, ["banner"], ({ banner }) => {
    ui.banner.hidden = !banner;
    ui.message.textContent = banner?.message || "";
    ui.detail.textContent = banner?.detail || "";
    ui.detail.hidden = !banner?.detail;
    ui.signIn.hidden = !(banner?.action === "sign-in" || banner?.action === "switch-account");
    if (!ui.signIn.hidden) ui.signIn.textContent = banner.signInLabel;
    ui.retry.hidden = banner?.action !== "retry";
    if (banner) ui.banner.dataset.code = banner.code; // kept after the banner closes
  });

  let timer = 0;
  let timerFor = 0;
  const tick = () => {
    const left = secondsLeft(store.get());
    ui.countdown.textContent = countdownText(left);
    if (left > 0) return;
    clearInterval(timer);
    timer = 0;
    store.set({ blockedUntil: 0 }); // sending is allowed again
  };
  watch(store, ["banner", "blockedUntil"], (state) => {
    if (state.blockedUntil !== timerFor) {
      clearInterval(timer);
      timer = 0;
      timerFor = state.blockedUntil;
      if (countdownActive(state)) timer = setInterval(tick, 1000);
    }
    ui.countdown.hidden = !state.banner?.retryAfter;
    if (state.banner?.retryAfter) ui.countdown.textContent = countdownText(secondsLeft(state));
  });

  watch(store, ["busy", "blockedUntil", "messages"], (state) => {
    ui.retry.disabled = state.busy || countdownActive(state) || !state.messages.some((m) => m.role === "user");
  });

  ui.retry.addEventListener("click", retry);
  ui.signIn.addEventListener("click", signIn);
  ui.dismiss.addEventListener("click", () => {
    clearBanner(store);
    focus();
  });
}
