"""Containers shared by the Preview browser tests."""

from __future__ import annotations

import json
from typing import Any

from gtm_emulator import load_container
from gtm_emulator.loading.config import default_container_path


def rejecting_container() -> Any:
    """The bundled container, but its tag sends a pixel its token may not use (TikTok code 40001)."""
    path = default_container_path()
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["tags"][0]["parameters"]["pixel_code"] = "COTHER0PIXEL00000002"
    return load_container(raw, base_dir=path.parent)
