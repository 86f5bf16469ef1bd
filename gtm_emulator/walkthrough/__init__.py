"""The setup walkthrough: the four TikTok server-side setup steps as web pages on the emulator.

``gtm-emulator demo`` (``gtm_emulator.cli.demo``) makes a workspace folder with an ordinary container
file, serves it with :func:`gtm_emulator.server.app.create_app` and mounts these pages with
:func:`install_walkthrough` under ``/_emulator/walkthrough/``.
"""

from __future__ import annotations

from .blueprint import PREFIX, Walkthrough, install_walkthrough
from .i18n import LANGUAGES, STRINGS, translate
from .workspace import DEFAULT_WORKSPACE, Workspace

__all__ = ["DEFAULT_WORKSPACE", "LANGUAGES", "PREFIX", "STRINGS", "Walkthrough", "Workspace",
           "install_walkthrough", "translate"]
