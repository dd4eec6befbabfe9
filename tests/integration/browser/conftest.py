"""End-to-end browser fixtures: the built web app (hosting/dist under `vite preview`, with the
production CSP) in front of real chat/auth/health functions (chat and auth count limits in one
redis-server), the Firebase Auth emulator and the Gemini stand-in, driven through Playwright by
the system's Chromium (`CHROMIUM`, else chromium, chromium-browser or google-chrome on PATH:
devtools/chromium.py). No browser download, and no traffic beyond 127.0.0.1.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.integration.browser.app import Tab
from tests.integration.harness import ROOT

from chromium import ChromiumNotFound, find_chromium  # noqa: E402  (devtools/, via harness)
from procs import free_port, start_web  # noqa: E402
from redis_server import start_redis  # noqa: E402
from stack import DEV_MODELS  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic",
                 "--no-first-run"]
# Per user, and every test signs in a user of its own: the rate-limit test exhausts its own
# window while the others stay well inside theirs.
RATE_LIMITS = "3/minute"
DESKTOP = {"width": 1280, "height": 800}


@dataclasses.dataclass(frozen=True)
class Web:
    origin: str
    urls: dict[str, str]


@pytest.fixture(scope="session")
def limits_store(log_dir):
    """The browser stack's rate-limit store: a redis-server of its own (setup.sh --test-services
    installs it), shared by chat and auth as in the local stack, so the quota line that GET
    /api/auth gives at sign-in counts chat's requests."""
    server = start_redis(free_port(), log_path=log_dir / "browser-redis-server.out")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def web(functions, auth_emulator, limits_store, log_dir):
    if not (ROOT / "hosting" / "dist" / "index.html").exists():
        pytest.fail("hosting/dist is missing: run ./scripts/setup.sh to build the web app")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    limits = {"RATE_LIMITS": RATE_LIMITS, "RATE_LIMIT_STORAGE": limits_store.url}
    # The models ./scripts/dev.sh offers: auth tells the web app (its picker), chat calls the one picked.
    models = {"GEMINI_MODELS": DEV_MODELS}
    urls = {
        "chat": functions.url("chat", ALLOWED_ORIGINS=origin, **limits, **models),
        "auth": functions.url("auth", ALLOWED_ORIGINS=origin, **limits, **models),
        "health": functions.url("health", ALLOWED_ORIGINS=origin),
        "auth-emulator": f"http://{auth_emulator.host}",
    }
    process = start_web(port, urls, log_dir / "web.log")
    yield Web(origin, urls)
    process.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    try:
        executable = find_chromium()
    except ChromiumNotFound as error:
        missing = str(error)
    else:
        missing = None
    if missing:  # outside the except: one line, no chained traceback
        pytest.fail(missing, pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_tab(browser, web):
    """new_tab(**context_options) -> a Tab in a fresh context (closed after the test)."""
    tabs: list[Tab] = []

    def make(**options) -> Tab:
        tab = Tab(browser, web.origin, **{"viewport": DESKTOP, **options})
        tabs.append(tab)
        return tab

    yield make
    for tab in tabs:
        tab.close()


@pytest.fixture
def page(new_tab) -> Tab:
    """The app at 1280×800 in a fresh context, opened and ready (signed out)."""
    tab = new_tab()
    tab.open()
    return tab
