"""Opening the app with a big on-device history, measured (issue #9): 500 stored conversations
of 40 messages each, then the time from navigation start until the history list shows all 500
(headless Chromium, the built app under `vite preview` with the production CSP, signed in
through the Firebase Auth emulator). Prints each run and the median. Not a test.

    (cd hosting && npm run build)
    .venv/bin/python scripts/bench_history_open.py [--runs 7] [--conversations 500] [--messages 40]

The history is seeded through the page's own Import (one transaction), so what is measured is
exactly what the app stores. Each run opens a new tab of the same browser profile (the session
and IndexedDB persist; the HTTP cache is warm after the first, unmeasured, load).
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "devtools"))

from auth_emulator import start_auth_emulator  # noqa: E402
from chromium import ChromiumNotFound, find_chromium  # noqa: E402
from procs import free_port, start_web  # noqa: E402

from tests.integration.browser.conftest import CHROMIUM_ARGS, DESKTOP  # noqa: E402
from tests.integration.browser.history_data import conversation, export_document  # noqa: E402

ITEM = '[data-testid="history-item"]'
FRAME_WATCH = """
window.__bench = {};
const tick = () => {
  const marks = window.__bench;
  if (!marks.signedIn && document.body?.dataset.authState === "signed-in") marks.signedIn = performance.now();
  if (document.querySelectorAll('[data-testid="history-item"]').length >= N_ITEMS) marks.listed = performance.now();
  else requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"""
WORDS = ("the quick brown fox jumps over a lazy dog while seven wizards quietly judge "
         "boxing matches near the old harbour and write about it in markdown").split()


def sentence(seed: int, words: int) -> str:
    return " ".join(WORDS[(seed * 7 + k * 3) % len(WORDS)] for k in range(words)).capitalize() + "."


def seed_document(conversations: int, messages: int) -> bytes:
    now = datetime.datetime.now(datetime.timezone.utc)
    items = []
    for c in range(conversations):
        turns = [(sentence(c + t, 12), " ".join(sentence(c * t + k, 14) for k in range(4)))
                 for t in range(messages // 2)]
        items.append(conversation(f"Conversation {c + 1}: {sentence(c, 5)}", turns,
                                  now - datetime.timedelta(minutes=10 * c)))
    return json.dumps(export_document(items)).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--messages", type=int, default=40)
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5")
    if not (ROOT / "hosting" / "dist" / "index.html").exists():
        print("hosting/dist is missing: run (cd hosting && npm run build) first", file=sys.stderr)
        return 2
    try:
        executable = find_chromium()
    except ChromiumNotFound as error:
        print(f"bench_history_open: {error}", file=sys.stderr)
        return 2

    from playwright.sync_api import sync_playwright

    data = seed_document(args.conversations, args.messages)
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        logs = pathlib.Path(tmp)
        emulator = start_auth_emulator(free_port(), log_path=logs / "auth-emulator.out")
        web = None
        try:
            port = free_port()
            nowhere = "http://127.0.0.1:9"  # no chat/auth functions: not needed to open the list
            web = start_web(port, {"chat": nowhere, "auth": nowhere, "health": nowhere,
                                   "auth-emulator": f"http://{emulator.host}"}, logs / "web.log")
            origin = f"http://127.0.0.1:{port}"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                context = browser.new_context(viewport=DESKTOP)
                page = context.new_page()
                page.set_default_timeout(120_000)
                page.goto(origin + "/")
                page.locator('body[data-auth-state="signed-out"]').wait_for(state="attached")
                token = json.dumps({"sub": "google-bench@example.com", "email": "bench@example.com",
                                    "email_verified": True, "name": "Bench"})
                page.evaluate("(token) => window.__jette.signInWithGoogleIdToken(token)", token)
                page.locator('[data-testid="history-empty"]').filter(
                    has_text="No conversations yet").wait_for(state="visible")

                started = time.monotonic()
                page.locator('[data-testid="history-import-file"]').set_input_files(files=[
                    {"name": "seed.json", "mimeType": "application/json", "buffer": data}])
                page.locator('[data-testid="history-message"]').filter(
                    has_text="Imported").wait_for(state="visible")
                print(f"seeded {args.conversations} conversations x {args.messages} messages "
                      f"({len(data) / 1e6:.1f} MB of JSON) in {time.monotonic() - started:.1f} s")
                page.close()

                # Each frame: when Firebase said who is signed in, and when the list was complete.
                context.add_init_script(FRAME_WATCH.replace("N_ITEMS", str(args.conversations)))
                times, signed_in = [], []
                for run in range(args.runs + 1):  # the first load warms the HTTP cache: not counted
                    tab = context.new_page()
                    tab.set_default_timeout(120_000)
                    tab.goto(origin + "/")
                    tab.wait_for_function("() => window.__bench.listed")
                    marks = tab.evaluate("() => window.__bench")
                    tab.close()
                    label = "warm-up" if run == 0 else f"run {run}"
                    print(f"{label}: list of {args.conversations} shown {marks['listed']:.0f} ms after "
                          f"navigation start (signed in at {marks['signedIn']:.0f} ms)")
                    if run:
                        times.append(marks["listed"])
                        signed_in.append(marks["signedIn"])
                print(f"median of {len(times)} runs: {statistics.median(times):.0f} ms until the list "
                      f"is shown (min {min(times):.0f}, max {max(times):.0f}); signed in at "
                      f"{statistics.median(signed_in):.0f} ms")
                browser.close()
        finally:
            if web:
                web.stop()
            emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
