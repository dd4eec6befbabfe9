// The account: Sign-in buttons (toolbar and empty page), the user menu (name, avatar, Sign out,
// Sign out everywhere), what /api/auth says (allowed? quota, name), and the page's
// data-auth-state / data-allowed. `onUser` is Firebase Auth's listener (see main.js).
//
// State: `authKnown`, `user`, `meName` (the name /api/auth knows), `notAllowed`.

import { fetchMe, normalizeQuota, revokeSessions } from "../api.js";
import { watch } from "../state.js";
import { NO_BANNER, showError } from "./banner.js";
import { byTestId } from "./dom.js";
import { setQuota } from "./quota.js";

const initial = (name) => name.trim().charAt(0).toUpperCase();

/** @param {{stop: () => void}} chat */
export function mountAccount(store, chat) {
  const ui = {
    signIn: byTestId("sign-in"),
    signInMain: byTestId("sign-in-main"),
    menu: byTestId("user-menu"),
    name: byTestId("user-name"),
    email: byTestId("user-email"),
    avatar: byTestId("user-avatar"),
    avatarFallback: byTestId("user-initial"),
    signOut: byTestId("sign-out"),
    signOutEverywhere: byTestId("sign-out-everywhere"),
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

  /** /api/auth: is this account allowed, its quota, its name. */
  async function loadMe(user) {
    try {
      const me = await fetchMe(await user.getIdToken());
      if (store.get().user !== user) return;
      store.set({ notAllowed: false, meName: typeof me.name === "string" ? me.name : null });
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

  async function signIn() {
    const { auth, notAllowed, banner } = store.get();
    if (!auth) return;
    if (notAllowed || banner?.action === "switch-account") await auth.signOut();
    await auth.signIn();
  }

  async function signOutEverywhere() {
    const { user, auth } = store.get();
    if (!user) return;
    ui.signOutEverywhere.disabled = true;
    try {
      await revokeSessions(await user.getIdToken());
      await auth.signOut();
    } catch (error) {
      showError(store, error);
    } finally {
      ui.signOutEverywhere.disabled = false;
    }
  }

  ui.signIn.addEventListener("click", signIn);
  ui.signInMain.addEventListener("click", signIn);
  ui.signOut.addEventListener("click", () => store.get().auth?.signOut());
  ui.signOutEverywhere.addEventListener("click", signOutEverywhere);
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
