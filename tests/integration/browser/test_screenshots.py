"""The README's screenshots, made by every run into build/screenshots (the committed copies are
in docs/screenshots): a short conversation with Markdown and a highlighted code block, light
and dark at 1280×800, and on a 360×740 phone; the history sidebar (light and dark, 1280×800)
and its drawer at 360 px. Each is also a happy path: no console error, page error or CSP
violation.
"""

from __future__ import annotations

from tests.integration.browser.app import SCREENSHOTS
from tests.integration.browser.history_data import ago, conversation, export_bytes

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


HISTORY_SEED = [
    ("Weekend trip to Copenhagen", "Plan two days in Copenhagen by bike.",
     "Day one: Nyhavn, the Round Tower and a picnic in the King's Garden.", {"hours": 3}),
    ("Sourdough starter schedule", "How often should I feed a sourdough starter?",
     "At room temperature, **once a day**; in the fridge, once a week.", {"hours": 27}),
    ("Rewrite this e-mail more politely", "Make this e-mail friendlier: send me the report.",
     "Could you send me the report when you have a moment? Thank you!", {"days": 2}),
    ("Birthday gift ideas for a 10-year-old", "Gift ideas for a 10-year-old who loves space?",
     "A beginner telescope, a glow-in-the-dark star map, or a model rocket kit.", {"days": 4}),
    ("Python: read a CSV file", "How do I read a CSV file in Python?",
     "Use the `csv` module: `csv.DictReader(open(path))` gives one dict per row.", {"days": 9}),
]
SIDEBAR_QUESTION = "Explain how HTTPS keeps a connection private, in simple words."
SIDEBAR_ANSWER = """\
Think of it as a **sealed envelope** for everything you send:

1. Your browser and the website agree on a secret key that only the two of them know.
2. Everything is locked with that key, so anyone in between sees only scrambled data.
3. A certificate proves the website is really who it claims to be.

That is why the padlock appears next to the address."""


def seed_history(tab) -> None:
    conversations = [conversation(title, [(question, answer)], ago(**age))
                     for title, question, answer, age in HISTORY_SEED]
    assert tab.import_history(export_bytes(conversations)) == \
        f"Imported {len(HISTORY_SEED)} conversations."
    tab.wait_history(len(HISTORY_SEED))
    tab.page.evaluate("() => { const el = document.querySelector("
                      "'[data-testid=\"history-message\"]'); el.textContent = '';"
                      " delete el.dataset.kind; }")  # no import notice in the picture


def test_history_sidebar_light_and_dark(new_tab, standin):
    tab = new_tab(color_scheme="light")
    tab.open()
    tab.sign_in(name="Jette Example")
    seed_history(tab)
    standin.script({"action": "reply", "chunks": chunked(SIDEBAR_ANSWER)})
    tab.ask(SIDEBAR_QUESTION)
    titles = tab.wait_history(len(HISTORY_SEED) + 1)
    assert titles[0] == SIDEBAR_QUESTION and titles[1] == HISTORY_SEED[0][0]
    assert tab.testid("history").is_visible() and tab.testid("history-toggle").is_hidden()
    current = tab.page.locator('[data-testid="history-open"][aria-current="true"]')
    assert current.inner_text().startswith(SIDEBAR_QUESTION[:20])
    check_png(tab.screenshot("sidebar-desktop-light.png"), 1280, 800)

    tab.testid("theme-toggle").click()
    assert tab.page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    sidebar = tab.page.evaluate(
        "() => getComputedStyle(document.querySelector('[data-testid=\"history\"]')).backgroundColor")
    assert sidebar not in ("rgb(255, 255, 255)", "rgb(247, 247, 249)"), sidebar
    check_png(tab.screenshot("sidebar-desktop-dark.png"), 1280, 800)
    tab.assert_clean()


def test_history_drawer_360(new_tab, standin):
    tab = new_tab(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True,
                  has_touch=True, color_scheme="light")
    tab.open()
    tab.sign_in(name="Jette Example")
    toggle = tab.testid("history-toggle")
    toggle.wait_for(state="visible")
    assert tab.testid("history").is_hidden()  # a drawer: closed until asked for
    toggle.click()
    seed_history(tab)
    tab.testid("history-close").click()
    assert tab.testid("history").is_hidden()
    standin.script({"action": "reply", "chunks": chunked(SIDEBAR_ANSWER)})
    tab.ask(SIDEBAR_QUESTION)

    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    tab.testid("history").wait_for(state="visible")
    assert tab.testid("history-scrim").is_visible()
    assert tab.page.evaluate("() => document.documentElement.scrollWidth") <= 360
    box = tab.testid("history").bounding_box()
    assert box["x"] == 0 and box["width"] <= 360 * 0.86 + 1
    check_png(tab.screenshot("drawer-360.png"), 720, 1480)

    tab.page.keyboard.press("Escape")
    tab.testid("history").wait_for(state="hidden")
    assert toggle.get_attribute("aria-expanded") == "false"
    tab.assert_clean()
