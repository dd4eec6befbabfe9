// Loaded lazily (dynamic import) the first time an answer contains a code block:
// highlight.js core plus a few common languages, so this chunk stays small.

import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import css from "highlight.js/lib/languages/css";
import diff from "highlight.js/lib/languages/diff";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import shell from "highlight.js/lib/languages/shell";
import sql from "highlight.js/lib/languages/sql";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

const LANGUAGES = { bash, css, diff, go, java, javascript, json, python, rust, shell, sql, xml, yaml };
for (const [name, definition] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, definition);
// Close enough, and saves the TypeScript grammar's weight.
hljs.registerAliases(["typescript", "ts", "tsx", "mts", "cts"], { languageName: "javascript" });
hljs.configure({ ignoreUnescapedHTML: true });

const AUTO_DETECT_LIMIT = 20000; // characters; beyond this, leave the block plain

/**
 * Highlight one <code> element in place. highlight.js escapes the text itself; the result is
 * spans with `hljs-*` classes only (no inline styles).
 */
export function highlightElement(code, language) {
  const text = code.textContent;
  let result = null;
  if (language && hljs.getLanguage(language)) {
    result = hljs.highlight(text, { language, ignoreIllegals: true });
  } else if (text.length <= AUTO_DETECT_LIMIT) {
    result = hljs.highlightAuto(text);
  }
  code.dataset.highlighted = "yes";
  if (!result || (result.relevance === 0 && !language)) return;
  code.innerHTML = result.value;
  code.classList.add("hljs");
}
