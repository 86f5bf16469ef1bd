"""Helpers for the walkthrough's browser tests: a live demo server in a thread, and Debian's Chromium.

Chromium is the system package (``/usr/bin/chromium``), launched with the arguments that work in
containers and CI; Playwright's own browser download is never used.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium from the system package."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: install Debian's chromium package (see .ci/run)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


@dataclass
class LiveDemo:
    base_url: str
    app: Any
    workspace: Any

    def url(self, path: str) -> str:
        return self.base_url + path


@contextmanager
def live_demo(workspace_dir: str | Path, lang: str = "en") -> Iterator[LiveDemo]:
    """The demo app (as ``gtm-emulator demo`` builds it) served on 127.0.0.1 on a free port."""
    from ..cli.demo import build_demo_app
    from ..harness.assertions import ThreadedServer

    app, workspace = build_demo_app(workspace_dir, lang=lang)
    with ThreadedServer(app) as server:
        yield LiveDemo(server.url, app, workspace)
