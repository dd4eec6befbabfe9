// The account: the Sign-in button (toolbar), the user menu (name, avatar, Sign out,
// Sign out everywhere), what /api/auth says (allowed? quota, name, the chat models and limits),
// and the page's data-auth-state / data-allowed. `onUser` is Firebase Auth's listener (see
// main.js). Signing out (here or everywhere) with history on asks first, in a dialog, whether to
// also delete this device's conversations (and this account's preferences with them).
//
// State: `authKnown`, `user`, `meName` (the name /api/auth knows), `notAllowed`, `chat` and
// `limits` (merged with /api/auth's chat.limits).

import { fetchMe, normalizeChat, revokeSessions } from "../api.js";
import { ApiError, signInErrorMessage } from "../errors.js";
import { normalizeQuota } from "../quota.js";
import { watch } from "../state.js";
import { NO_BANNER, showBanner, showError } from "./banner.js";
import { forgetKeptDraft, keepDraftForRedirect } from "./composer.js";
import { byTestId } from "./dom.js";
import { setQuota } from "./quota.js";

const initial = (name) => name.trim().charAt(0).toUpperCase();

/**
 * @param {{stop: () => void}} chat
 * @param {{deleteDevice: () => Promise<void>}} history  src/history/session.js
 * @param {{forget: () => void}} preferences  src/preferences.js
 */
export function mountAccount(store, chat, history, preferences) {
  const ui = {
    signIn: byTestId("sign-in"),
    menu: byTestId("user-menu"),
    name: byTestId("user-name"),
    email: byTestId("user-email"),
    avatar: byTestId("user-avatar"),
    avatarFallback: byTestId("user-initial"),
    signOut: byTestId("sign-out"),
    signOutEverywhere: byTestId("sign-out-everywhere"),
    signOutDialog: byTestId("sign-out-dialog"),
    signOutDelete: byTestId("sign-out-delete"),
    signOutConfirm: byTestId("sign-out-confirm"),
  };
  const summary = ui.menu.querySelector("summary");

  watch(store, ["authKnown", "user"], ({ authKnown, user }) => {
    if (!authKnown) return; // the markup's "unknown" until Firebase has answered
    const signedIn = Boolean(user);
    document.body.dataset.authState = signedIn ? "signed-in" : "signed-out";
    ui.signIn.hidden = signedIn;
    ui.menu.hidden = !signedIn;
    for (const el of document.querySelectorAll(".signed-out-only")) el.hidden = signedIn;
    if (!signedIn) {
      ui.menu.open = false;
      ui.avatar.removeAttribute("src");
      return;
    }
    const name = user.displayName || user.email || "Signed in";
    ui.email.textContent = user.email || "";
    summary.setAttribute("aria-label", `Account: ${name}`);
    if (user.photoURL && /^https:\/\//.test(user.photoURL)) {
      ui.avatar.src = user.photoURL;
      ui.avatar.hidden = false;
      ui.avatarFallback.hidden = true;
    } else {
      ui.avatar.hidden = true;
      ui.avatar.removeAttribute("src");
      ui.avatarFallback.hidden = false;
      ui.avatarFallback.textContent = initial(name);
    }
  });
  watch(store, ["user", "meName"], ({ user, meName }) => {
    if (user) ui.name.textContent = (!user.displayName && meName) || user.displayName || user.email || "Signed in";
  });
  watch(store, ["authKnown", "notAllowed"], ({ authKnown, notAllowed }) => {
    if (authKnown || notAllowed) document.body.dataset.allowed = notAllowed ? "false" : "true";
  });

  /** /api/auth: is this account allowed, its quota, its name, the models and limits of chat. */
  async function loadMe(user) {
    try {
      const me = await fetchMe(await user.getIdToken());
      if (store.get().user !== user) return;
      const patch = { notAllowed: false, meName: typeof me.name === "string" ? me.name : null };
      // The deployment's settings, not the account's: they stay after signing out.
      const settings = normalizeChat(me.chat);
      if (settings) Object.assign(patch, { chat: settings, limits: { ...store.get().limits, ...settings.limits } });
      store.set(patch);
      setQuota(store, normalizeQuota(me.quota));
    } catch (error) {
      if (store.get().user !== user) return;
      if (error?.code === "permission_denied") store.set({ notAllowed: true });
      if (error?.code === "permission_denied" || error?.code === "unauthenticated") showError(store, error);
      // Anything else (offline, no auth function in this setup): the quota is simply not shown.
    }
  }

  function onUser(user) {
    const state = store.get();
    const owner = user?.uid || "";
    const patch = { user, authKnown: true, owner, notAllowed: false, quota: null, meName: null };
    if (!state.authKnown) patch.phase = "ready";
    // A conversation never outlives its account: signing out, or another account, clears it.
    if ((state.user && state.user.uid !== owner) || (state.messages.length && state.owner !== owner)) {
      chat.stop();
      Object.assign(patch, { messages: [], editingId: null });
    }
    if (state.banner?.code === "unauthenticated" || state.banner?.code === "permission_denied") Object.assign(patch, NO_BANNER);
    store.set(patch);
    if (user) loadMe(user);
  }

  /** Sign in; every failure shows a banner. The message box's text survives a redirect sign-in. */
  async function signIn() {
    const { auth, notAllowed, banner, phase } = store.get();
    if (!auth) {
      showError(store, new ApiError(phase === "error" ? "config" : "starting"));
      return;
    }
    try {
      if (notAllowed || banner?.action === "switch-account") await auth.signOut();
      await auth.signIn({ beforeRedirect: () => keepDraftForRedirect(store) });
    } catch (error) {
      console.warn("Sign-in failed:", error?.code || error);
      showBanner(store, { code: "sign-in", message: signInErrorMessage(error?.code) });
    } finally {
      forgetKeptDraft(); // still here: no redirect happened (a redirect never returns)
    }
  }

  /** Delete this device's conversations and preferences when asked; false (and a notice) if that failed. */
  async function deleteDevice(asked) {
    if (!asked) return true;
    try {
      await history.deleteDevice();
      preferences?.forget();
      return true;
    } catch (error) {
      showBanner(store, { code: "history_error", message: `This device's conversations could not be deleted, so you are still signed in. ${error?.message || ""}`.trim() });
      return false;
    }
  }

  async function signOut(deleteToo = false) {
    if (await deleteDevice(deleteToo)) await store.get().auth?.signOut();
  }

  async function signOutEverywhere(deleteToo = false) {
    const { user, auth } = store.get();
    if (!user) return;
    ui.signOutEverywhere.disabled = true;
    try {
      await revokeSessions(await user.getIdToken());
      if (await deleteDevice(deleteToo)) await auth.signOut();
    } catch (error) {
      showError(store, error);
    } finally {
      ui.signOutEverywhere.disabled = false;
    }
  }

  /** Sign out (or everywhere): with history on, first ask whether to delete it on this device. */
  let everywhere = false;
  function askSignOut(all) {
    ui.menu.open = false;
    if (store.get().historyStatus !== "ready") return all ? signOutEverywhere() : signOut();
    everywhere = all;
    ui.signOutDelete.checked = false;
    ui.signOutConfirm.textContent = all ? "Sign out everywhere" : "Sign out";
    ui.signOutDialog.returnValue = "";
    ui.signOutDialog.showModal();
  }
  ui.signOutDialog.addEventListener("close", () => {
    if (ui.signOutDialog.returnValue !== "confirm") {
      summary.focus();
      return;
    }
    const deleteToo = ui.signOutDelete.checked;
    if (everywhere) signOutEverywhere(deleteToo);
    else signOut(deleteToo);
  });

  ui.signIn.addEventListener("click", signIn);
  ui.signOut.addEventListener("click", () => askSignOut(false));
  ui.signOutEverywhere.addEventListener("click", () => askSignOut(true));
  ui.avatar.addEventListener("error", () => {
    ui.avatar.hidden = true;
    ui.avatarFallback.hidden = false;
    ui.avatarFallback.textContent = initial(ui.name.textContent || "?");
  });
  // Close the menu on a click outside it, or Escape.
  document.addEventListener("click", (event) => {
    if (ui.menu.open && !ui.menu.contains(event.target)) ui.menu.open = false;
  });
  ui.menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && ui.menu.open) {
      ui.menu.open = false;
      summary.focus();
    }
  });

  return { onUser, signIn };
}
