"""The README's screenshots, made by every run into build/screenshots (the committed copies are
in docs/screenshots): a short conversation with Markdown and a highlighted code block, light
and dark at 1280×800, and on a 360×740 phone. Each is also a happy path: no console error,
page error or CSP violation.
"""

from __future__ import annotations

from tests.integration.browser.app import SCREENSHOTS

MAX_PNG_BYTES = 300_000

QUESTION_1 = "What does HTTPS do, in one sentence?"
ANSWER_1 = ("It **encrypts** the connection between your browser and the website, so nobody in "
            "between can read or change what you send.")

QUESTION_2 = "Write a Python function that removes duplicates from a list, keeping the order."
ANSWER_2 = '''\
Here is a simple version that keeps the **first** occurrence of each item:

```python
def dedupe(items):
    seen = set()
    result = []
    for item in items:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result
```

It runs in `O(n)` time. On Python 3.7+, `list(dict.fromkeys(items))` does the same.'''

MOBILE_QUESTION = "Give me three ideas for a quick, healthy weekday dinner."
MOBILE_ANSWER = """\
Here are three that take **under 30 minutes**:

- **Lemon-garlic salmon** with green beans, all on one tray.
- **Chickpea curry** with spinach and a spoon of yogurt.
- **Veggie stir-fry** with tofu, rice noodles and sesame.

Want a shopping list for one of them?"""


def chunked(text: str, size: int = 24) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def wait_highlighted(tab) -> None:
    tab.page.locator(".code-block pre code[data-highlighted]").first.wait_for(state="attached")


def check_png(path, width: int, height: int) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) == \
        (width, height)
    assert len(data) < MAX_PNG_BYTES, f"{path.name}: {len(data)} bytes"


def test_desktop_light_and_dark(new_tab, standin):
    tab = new_tab(color_scheme="light")
    tab.open()
    tab.sign_in(name="Jette Example")
    standin.script({"action": "reply", "chunks": chunked(ANSWER_1)},
                   {"action": "reply", "chunks": chunked(ANSWER_2)})
    tab.ask(QUESTION_1)
    answer = tab.ask(QUESTION_2)
    assert "def dedupe(items):" in answer
    wait_highlighted(tab)
    block = tab.last_model().locator(".code-block")
    assert block.locator(".code-lang").inner_text() == "python"
    assert block.locator('[data-testid="copy-code"]').is_visible()
    assert tab.page.evaluate("() => document.documentElement.dataset.theme || 'light'") == "light"
    check_png(tab.screenshot("desktop-light.png"), 1280, 800)

    tab.testid("theme-toggle").click()
    assert tab.page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    background = tab.page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(255, 255, 255)", background
    check_png(tab.screenshot("desktop-dark.png"), 1280, 800)
    tab.assert_clean()


def test_mobile_360(new_tab, standin):
    tab = new_tab(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                  has_touch=True, color_scheme="light")
    tab.open()
    tab.sign_in(name="Jette Example")
    standin.script({"action": "reply", "chunks": chunked(MOBILE_ANSWER)})
    assert tab.ask(MOBILE_QUESTION).endswith("Want a shopping list for one of them?")
    # Nothing wider than the phone: no sideways scrolling.
    assert tab.page.evaluate("() => document.documentElement.scrollWidth") <= 360
    tab.page.locator("body").click(position={"x": 5, "y": 300})  # close the keyboard focus
    check_png(tab.screenshot("mobile-360.png"), 720, 1480)
    assert (SCREENSHOTS / "mobile-360.png").exists()
    tab.assert_clean()
