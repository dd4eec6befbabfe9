// Light/dark theme: follows prefers-color-scheme until the user picks one with the toggle;
// the choice is kept in localStorage. public/theme-init.js applies it before first paint.

const KEY = "jette.theme";

function stored() {
  try {
    const value = localStorage.getItem(KEY);
    return value === "light" || value === "dark" ? value : null;
  } catch {
    return null;
  }
}

export function currentTheme() {
  const chosen = document.documentElement.dataset.theme;
  if (chosen === "light" || chosen === "dark") return chosen;
  return globalThis.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function apply(theme, button) {
  document.documentElement.dataset.theme = theme;
  const next = theme === "dark" ? "light" : "dark";
  button.setAttribute("aria-label", `Switch to ${next} theme`);
  button.title = `Switch to ${next} theme`;
  button.dataset.theme = theme;
}

export function initThemeToggle(button) {
  const saved = stored();
  if (saved) document.documentElement.dataset.theme = saved;
  apply(currentTheme(), button);
  // Follow the system while the user has not chosen.
  globalThis.matchMedia?.("(prefers-color-scheme: dark)").addEventListener?.("change", (event) => {
    if (!stored()) apply(event.matches ? "dark" : "light", button);
  });
  button.addEventListener("click", () => {
    const theme = currentTheme() === "dark" ? "light" : "dark";
    try {
      localStorage.setItem(KEY, theme);
    } catch {
      // storage disabled: the choice lasts for this page only
    }
    apply(theme, button);
  });
}
