// The model picker under the message box: one option per model the server offers (/api/auth's
// chat.models, its default first), each with what it costs against the daily token budget
// compared with the default ("gemini-2.5-pro · 8× cost"). Shown only when there is a choice (2+
// models); the choice is this account's preference on this device (src/preferences.js), and it
// cannot change while an answer streams (nor before that preference has been read). A remembered model the server no longer offers shows
// (and sends) the default.

import { watch } from "../state.js";
import { byTestId, element } from "./dom.js";

/** 0.3 -> "0.3", 8 -> "8", 0.3333 -> "0.33", 12.5 -> "13": two significant digits at most. */
export function formatRatio(ratio) {
  if (ratio < 0.01) return "<0.01";
  return String(Number(ratio.toPrecision(2)));
}

/** An option's text: the id, then the default, or the cost relative to it. */
export function modelLabel(model, defaultModel) {
  if (model.id === defaultModel.id) return `${model.id} (default)`;
  return `${model.id} · ${formatRatio(model.weight / defaultModel.weight)}× cost`;
}

/** The model shown as picked: the remembered one if offered, else the default; null: no models. */
export function pickedModel(state) {
  const models = state.chat?.models || [];
  const remembered = state.preferences?.model;
  return (models.find((m) => m.id === remembered) || models[0])?.id ?? null;
}

/** @param {{setModel: (id: string) => void}} preferences  src/preferences.js */
export function mountModelPicker(store, preferences) {
  const select = byTestId("model-picker");
  const field = select.closest(".model-field");

  watch(store, ["chat"], ({ chat }) => {
    const models = chat?.models || [];
    field.hidden = models.length < 2;
    select.replaceChildren(...models.map((model) => element("option", { value: model.id }, modelLabel(model, models[0]))));
  });
  watch(store, ["chat", "preferences", "busy"], (state) => {
    const picked = pickedModel(state);
    if (picked !== null && select.value !== picked) select.value = picked;
    select.disabled = state.busy || !state.preferences.key; // off until this account's choice is read
  });

  select.addEventListener("change", () => preferences.setModel(select.value));
}
