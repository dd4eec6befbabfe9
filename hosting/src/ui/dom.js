// Small DOM helpers shared by the UI modules. No innerHTML here: text goes in as text.

export const byTestId = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);

/** <tag attrs>text</tag>; `false`/`null` attributes are left out, `true` ones are empty. */
export function element(tag, attrs = {}, text) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  if (text !== undefined) el.textContent = text;
  return el;
}
