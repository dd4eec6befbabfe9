"""The browser suite's view of the chat page: one `Tab` per Playwright context, recording every
request URL, console error, uncaught page error and Content-Security-Policy violation, with the
few gestures the tests need (open, sign in through the emulator hook, send, read answers).
"""

from __future__ import annotations

import json
import pathlib
import secrets

from tests.integration.harness import CANARIES, ROOT

# Every run writes its screenshots to build/ (ignored); the README shows the committed copies in
# docs/screenshots — refresh them deliberately with: cp build/screenshots/*.png docs/screenshots/
SCREENSHOTS = ROOT / "build" / "screenshots"

# Runs in every frame before the page's own scripts; reports each violation to the test.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__reportCspViolation({
    directive: event.violatedDirective, blocked: event.blockedURI,
    source: event.sourceFile, line: event.lineNumber, sample: event.sample,
  });
}, true);
"""

MODEL = '[data-testid="message"][data-role="model"]'
USER = '[data-testid="message"][data-role="user"]'


class Tab:
    """A fresh browser context (no cookies, storage or session) with one page of the app."""

    def __init__(self, browser, origin: str, **context_options):
        self.origin = origin
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.csp_violations: list[dict] = []
        self.context = browser.new_context(**context_options)
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.context.expose_binding("__reportCspViolation",
                                    lambda _source, info: self.csp_violations.append(info))
        self.context.add_init_script(CSP_LISTENER)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.set_default_timeout(10_000)

    def _console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} @ {message.location.get('url', '')}")

    def close(self) -> None:
        self.context.close()

    # ------------------------------------------------------------------ locators

    def testid(self, testid: str):
        return self.page.locator(f'[data-testid="{testid}"]')

    @property
    def models(self):
        return self.page.locator(MODEL)

    @property
    def users(self):
        return self.page.locator(USER)

    def last_model(self):
        return self.models.last

    def text_of(self, message) -> str:
        """The rendered text of a message (its Markdown body), whitespace-trimmed."""
        return (message.locator('[data-testid="message-text"]').text_content() or "").strip()

    def body_attr(self, name: str) -> str | None:
        return self.page.locator("body").get_attribute(f"data-{name}")

    # ------------------------------------------------------------------ gestures

    def open(self):
        """Load the app and wait until it is ready (signed out); returns the document response."""
        response = self.page.goto(self.origin + "/")
        self.page.locator('body[data-app-state="ready"]').wait_for(state="attached")
        self.page.locator('body[data-auth-state="signed-out"]').wait_for(state="attached")
        return response

    def sign_in(self, name: str = "Ada Lovelace", email: str | None = None,
                wait_quota: bool = True) -> str:
        """Sign in a (new) Google user of the Auth emulator via the page's test hook; returns
        the uid. Popups cannot work offline, so the hook stands in for Google's dialog."""
        email = email or f"browser.{secrets.token_hex(4)}@example.com"
        CANARIES.add(email)
        id_token = json.dumps({"sub": f"google-{email}", "email": email, "email_verified": True,
                               "name": name})
        uid = self.page.evaluate("(token) => window.__jette.signInWithGoogleIdToken(token)",
                                 id_token)
        CANARIES.add(uid)
        self.page.locator('body[data-auth-state="signed-in"]').wait_for(state="attached")
        self.testid("user-name").filter(has_text=name).wait_for(state="visible")
        if wait_quota:
            self.testid("quota").wait_for(state="visible")
        return uid

    def type_and_enter(self, text: str) -> None:
        box = self.testid("composer-input")
        box.fill(text)
        box.press("Enter")

    def wait_answer(self, count: int, state: str = "done") -> str:
        """Wait until there are `count` model messages and the last is in `state`; its text."""
        self.page.wait_for_function(
            "([selector, count, state]) => { const all = document.querySelectorAll(selector);"
            " return all.length === count && all[count - 1].dataset.state === state; }",
            arg=[MODEL, count, state])
        return self.text_of(self.last_model())

    def ask(self, text: str) -> str:
        """Send `text` and wait for its answer to complete."""
        before = self.models.count()
        self.type_and_enter(text)
        return self.wait_answer(before + 1)

    def wait_ready(self, auth_state: str = "signed-in") -> None:
        """After a reload or in another page of the context: ready, and signed in (or out)."""
        self.page.locator('body[data-app-state="ready"]').wait_for(state="attached")
        self.page.locator(f'body[data-auth-state="{auth_state}"]').wait_for(state="attached")

    def reload(self, auth_state: str = "signed-in") -> None:
        """Reload the page; Firebase keeps the session, so it comes back signed in."""
        self.page.reload()
        self.wait_ready(auth_state)

    def sign_out(self, delete_history: bool = False) -> None:
        """Sign out from the user menu, answering the history question when it is asked."""
        self.testid("user-menu").locator("summary").click()
        self.testid("sign-out").click()
        dialog = self.testid("sign-out-dialog")
        if self.page.evaluate("() => document.body.dataset.authState") == "signed-in" and \
                dialog.is_visible():
            if delete_history:
                self.testid("sign-out-delete").check()
            self.testid("sign-out-confirm").click()
        self.page.locator('body[data-auth-state="signed-out"]').wait_for(state="attached")

    # ------------------------------------------------------------------ history

    def import_history(self, data: bytes, name: str = "history.json") -> str:
        """Import `data` as a history export file; the status line it ends with."""
        status = self.testid("history-message")
        self.page.evaluate("() => { const el = document.querySelector("
                           "'[data-testid=\"history-message\"]'); el.textContent = '';"
                           " delete el.dataset.kind; }")
        self.testid("history-import-file").set_input_files(
            files=[{"name": name, "mimeType": "application/json", "buffer": data}])
        self.page.wait_for_function(
            "() => { const el = document.querySelector('[data-testid=\"history-message\"]');"
            " return el.dataset.kind && !/^Importing/.test(el.textContent); }")
        return (status.text_content() or "").strip()

    def another_page(self) -> "Tab":
        """A second page in this tab's browser context: another browser tab of the same
        profile (same storage and sign-in). Closed with this tab's context."""
        other = object.__new__(Tab)
        other.origin = self.origin
        other.requests = self.requests
        other.csp_violations = self.csp_violations
        other.console_errors = []
        other.page_errors = []
        other.context = self.context
        other.page = self.context.new_page()
        other.page.on("console", other._console)
        other.page.on("pageerror", lambda error: other.page_errors.append(str(error)))
        other.page.set_default_timeout(10_000)
        return other

    def history_titles(self) -> list[str]:
        return [title.strip() for title in self.testid("history-title").all_text_contents()]

    def wait_history(self, count: int) -> list[str]:
        """Wait until the history list shows `count` conversations; their titles."""
        self.page.wait_for_function(
            "(count) => { const list = document.querySelector('[data-testid=\"history\"]');"
            " return list && !list.hidden && document.querySelectorAll("
            "'[data-testid=\"history-item\"]').length === count"
            " && !/Loading/.test(document.querySelector('[data-testid=\"history-empty\"]').textContent); }",
            arg=count)
        return self.history_titles()

    def screenshot(self, name: str) -> pathlib.Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        self.page.mouse.move(0, 0)  # no hover states in the picture
        self.page.evaluate("() => document.activeElement?.blur()")  # nor a focus ring
        self.page.screenshot(path=str(path), animations="disabled", caret="hide")
        return path

    # ------------------------------------------------------------------ checks

    def synced(self) -> "Tab":
        """This tab after one round trip to the page, in which Playwright takes in what the
        browser has reported (new tabs, requests, CSP reports): for `wait_until` conditions on
        them, which a sleep alone would never update."""
        self.page.evaluate("() => 0")
        return self

    def assert_clean(self) -> None:
        """No console error, uncaught exception or CSP violation so far, and no request that
        left this machine."""
        outside = [url for url in self.requests
                   if not url.startswith(("http://127.0.0.1:", "data:", "blob:"))]
        assert outside == [], f"requests beyond 127.0.0.1: {outside}"
        assert self.csp_violations == [], f"CSP violations: {self.csp_violations}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"
        assert self.page_errors == [], f"uncaught page errors: {self.page_errors}"
