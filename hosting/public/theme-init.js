// Applies the saved light/dark choice before first paint (an external file: the CSP has no
// 'unsafe-inline'). The toggle itself lives in src/theme.js.
try {
  var theme = localStorage.getItem("jette.theme");
  if (theme === "light" || theme === "dark") document.documentElement.setAttribute("data-theme", theme);
} catch (e) {
  /* storage disabled: follow the system */
}
