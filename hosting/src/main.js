// The chat page's bootstrap: create the store, mount one module per part of the page (each
// renders its part from the state and owns its listeners: see src/ui/), then load the runtime
// config and start Firebase Auth and App Check. No inline styles anywhere: state is shown
// through classes, `hidden` and data-* attributes.

import "./styles.css";
import { useAppCheck } from "./api.js";
import { startAppCheck } from "./appcheck.js";
import { startAuth } from "./auth.js";
import { loadRuntimeConfig } from "./config.js";
import { DEFAULT_LIMITS } from "./conversation.js";
import { ApiError } from "./errors.js";
import { createHistory } from "./history/session.js";
import { NO_PREFERENCES, trackPreferences } from "./preferences.js";
import { createStore, watch } from "./state.js";
import { initThemeToggle } from "./theme.js";
import { mountAccount } from "./ui/account.js";
import { NO_BANNER, mountBanner, showBanner, showError } from "./ui/banner.js";
import { mountChat } from "./ui/chat.js";
import { focusComposer, mountComposer } from "./ui/composer.js";
import { byTestId } from "./ui/dom.js";
import { mountMessages } from "./ui/messages.js";
import { mountModelPicker } from "./ui/model-picker.js";
import { mountQuota } from "./ui/quota.js";
import { mountSettings, readHistorySetting } from "./ui/settings.js";

const store = createStore({
  phase: "loading", // body[data-app-state]: loading | ready | error
  config: null, // the runtime config (config.js), once loaded
  auth: null, // what startAuth returns: signIn, signOut, token
  authKnown: false, // Firebase has said who is signed in
  user: null, // the Firebase user, or null
  meName: null, // the name /api/auth knows
  notAllowed: false, // not on the allow-list
  limits: DEFAULT_LIMITS, // then config.json's, then /api/auth's chat.limits merged in
  chat: null, // /api/auth's chat settings, {models: [{id, weight}] (the default first), limits}
  preferences: NO_PREFERENCES, // this account's model and instructions, on this device (preferences.js)
  owner: "", // the uid the conversation on screen belongs to ("" when signed out)
  messages: [], // the conversation on screen (conversation.js's Message)
  historyOn: readHistorySetting(), // keep history on this device (settings.js)
  historyStatus: "off", // off | loading | ready | unavailable (history/session.js)
  historyError: null, // why history is unavailable
  conversations: null, // the history list, newest first (summaries), or null
  conversationId: null, // the conversation on screen, once it is in history
  drawerOpen: false, // the history list as a drawer on narrow screens (ui/history.js)
  busy: false, // an answer is streaming
  editingId: null, // the message in the edit form
  draft: "", // the message box's text
  pending: [], // attachments waiting to be sent with the next message (src/attachments/)
  ...NO_BANNER, // banner, blockedUntil
  quota: null,
});

initThemeToggle(byTestId("theme-toggle"));
watch(store, ["phase"], ({ phase }) => {
  document.body.dataset.appState = phase;
});
const history = createHistory(store, { stop: () => chat.stop(), notify: (notice) => showBanner(store, notice) });
const chat = mountChat(store, history);
const preferences = trackPreferences(store);
const account = mountAccount(store, chat, history, preferences);
mountMessages(store, chat);
mountComposer(store, chat);
mountModelPicker(store, preferences);
mountBanner(store, { retry: chat.regenerate, signIn: account.signIn, focus: () => focusComposer(store) });
mountQuota(store);
mountSettings(store, preferences);
// The history list is its own chunk, loaded once someone is signed in with history on.
let historyList = null;
watch(store, ["historyStatus"], ({ historyStatus }) => {
  if (historyStatus === "off" || historyList) return;
  historyList = import("./ui/history.js")
    .then(({ mountHistory }) => mountHistory(store, chat, history))
    .catch((error) => console.error("The history list could not be loaded:", error?.message || error));
});

function failed(what, error) {
  console.error(`${what}:`, error?.message || error);
  store.set({ phase: "error" });
  showError(store, new ApiError("config"));
}

async function start() {
  let config;
  try {
    config = await loadRuntimeConfig();
  } catch (error) {
    failed("Runtime configuration could not be loaded", error);
    return;
  }
  store.set({ config, limits: { ...store.get().limits, ...config.limits } });
  try {
    const auth = startAuth(config, {
      onUser: account.onUser,
      onError: (message) => showBanner(store, { code: "sign-in", message }),
    });
    store.set({ auth });
    // Only with a site key in config.json: the App Check SDK is then loaded in the background.
    useAppCheck(startAppCheck(auth.app, config.appCheckSiteKey));
  } catch (error) {
    failed("Firebase Auth could not start", error);
  }
  focusComposer(store);
}

start();
