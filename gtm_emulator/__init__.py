"""gtm_emulator: a local server-side Google Tag Manager container."""

from __future__ import annotations

__version__ = "0.1.0"
