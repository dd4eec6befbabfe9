"""firebase.json is the one source of truth for the web app's headers and routes: the Firebase
Hosting emulator serves the built app with exactly its headers, and the local server (vite
preview, what ./scripts/dev.sh runs) routes /api/* to the same functions as its rewrites.
"""

from __future__ import annotations

import json
import pathlib
import re

import pytest
import requests

from tests.integration.harness import ROOT

FIREBASE_JSON = ROOT / "firebase.json"
HOSTING = json.loads(FIREBASE_JSON.read_text())["hosting"]


def declared_headers(path: str) -> dict[str, str]:
    """What firebase.json says Hosting sends for `path` (later rules win, as in Hosting)."""
    headers = {}
    for rule in HOSTING["headers"]:
        pattern = "^" + ".*".join("[^/]*".join(re.escape(p) for p in part.split("*"))
                                  for part in rule["source"].split("**")) + "$"
        if re.match(pattern, path):
            headers.update({h["key"]: h["value"] for h in rule["headers"]})
    return headers


def hashed_asset() -> str:
    return "/assets/" + next(p.name for p in (ROOT / "hosting" / "dist" / "assets").glob("*.js"))


@pytest.fixture(scope="module")
def hosting_emulator(log_dir):
    from auth_emulator import start_hosting_emulator
    from procs import free_port

    emulator = start_hosting_emulator(free_port(), FIREBASE_JSON,
                                      log_path=log_dir / "hosting-emulator.out")
    yield f"http://{emulator.host}"
    emulator.stop()


@pytest.fixture(scope="module")
def local_web(functions, auth_emulator, log_dir):
    from procs import free_port, start_web

    urls = {name: functions.url(name) for name in ("chat", "auth", "health")}
    port = free_port()
    process = start_web(port, {**urls, "auth-emulator": f"http://{auth_emulator.host}"},
                        log_dir / "web.log")
    yield f"http://127.0.0.1:{port}"
    process.stop()


@pytest.mark.parametrize("path", ["/", "/index.html", "/privacy.html", "asset"])
def test_hosting_emulator_sends_the_headers_of_firebase_json(hosting_emulator, path):
    path = hashed_asset() if path == "asset" else path
    response = requests.get(hosting_emulator + path, timeout=10)
    assert response.status_code == 200
    expected = declared_headers(path)
    assert "Content-Security-Policy" in expected and "Cache-Control" in expected
    for key, value in expected.items():
        assert response.headers.get(key) == value, key


def test_html_is_revalidated_and_hashed_assets_are_immutable(hosting_emulator):
    page = requests.get(hosting_emulator + "/", timeout=10)
    asset = requests.get(hosting_emulator + hashed_asset(), timeout=10)
    assert page.headers["Cache-Control"] == "no-cache"
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # The built page loads only external scripts and styles: the CSP needs no unsafe-inline.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text)
    assert "<style" not in page.text and "style=" not in page.text
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]


def test_rewrites_use_the_run_form_for_every_api_path():
    sources = {r["source"]: r["run"]["serviceId"] for r in HOSTING["rewrites"]}
    assert sources == {"/api/chat": "chat", "/api/auth": "auth", "/api/auth/**": "auth",
                       "/api/health": "health"}
    assert all(set(r["run"]) == {"serviceId", "region"} for r in HOSTING["rewrites"])


@pytest.mark.parametrize(("method", "path", "status", "body"), [
    ("GET", "/api/health", 200, {"status": "ok"}),
    ("GET", "/api/auth", 401, "unauthenticated"),
    ("POST", "/api/auth/revoke", 401, "unauthenticated"),
    ("POST", "/api/chat", 401, "unauthenticated"),
    ("GET", "/api/chat", 405, "method_not_allowed"),
])
def test_local_server_routes_like_the_rewrites(local_web, method, path, status, body):
    response = requests.request(method, local_web + path, timeout=10,
                                headers={"Content-Type": "application/json"}, data="{}")
    assert response.status_code == status
    answer = response.json()
    assert answer == body if isinstance(body, dict) else answer["error"]["code"] == body


def test_local_server_does_not_route_what_hosting_would_not(local_web):
    response = requests.get(local_web + "/api/other", timeout=10)
    assert "application/json" not in response.headers.get("Content-Type", "")


def test_local_server_sends_the_same_headers_with_local_origins_allowed(local_web):
    response = requests.get(local_web + "/", timeout=10)
    expected = declared_headers("/")
    for key, value in expected.items():
        if key not in ("Content-Security-Policy", "Strict-Transport-Security"):
            assert response.headers.get(key) == value, key
    served = dict(d.split(" ", 1) for d in response.headers["Content-Security-Policy"].split("; "))
    declared = dict(d.split(" ", 1) for d in expected["Content-Security-Policy"].split("; "))
    assert served.keys() == declared.keys()
    for directive, sources in declared.items():
        assert set(sources.split()) <= set(served[directive].split()), directive


def test_firebase_json_public_is_the_build_output():
    assert pathlib.Path(HOSTING["public"]) == pathlib.Path("hosting/dist")
    assert (ROOT / HOSTING["public"] / "index.html").exists()
