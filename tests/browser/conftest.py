"""Fixtures for the browser tests: the app on a real loopback server and Debian's Chromium via Playwright.

The browser is the ``chromium`` package of the system (``.ci/run`` installs it); Playwright's own
browser download is never used. One browser and one server serve a whole test module.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import artifacts_dir

from gtm_emulator import load_container
from gtm_emulator.harness.assertions import ThreadedServer
from gtm_emulator.server.app import create_app
from gtm_emulator.server.preview import install_preview
from gtm_emulator.server.store import SQLiteStore

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class LiveServer:
    base_url: str
    app: Any
    store: SQLiteStore

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """A real HTTP request to the server (loopback only)."""
        req = urllib.request.Request(self.base_url + path, headers=headers or {})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()

    def api(self, path: str) -> Any:
        status, body = self.get("/_emulator/api" + path)
        assert status == 200
        return json.loads(body)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    store = SQLiteStore(tmp_path_factory.mktemp("preview") / "preview.sqlite3")
    app = create_app(load_container(), log_requests=False)
    install_preview(app, store)
    try:
        with ThreadedServer(app) as server:
            yield LiveServer(server.url, app, store)
    finally:
        store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    tab.on("console", lambda msg: errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None)
    try:
        yield tab
    finally:
        context.close()
    assert not errors, "the page reported errors:\n" + "\n".join(errors)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    return artifacts_dir("preview")
