"""Constants and small helpers shared by the test modules."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PURCHASE = "/g/collect?v=2&tid=G-TEST&cid=1.2&en=purchase&cu=EUR&epn.value=10"
PAGE_VIEW = "/g/collect?v=2&tid=G-TEST&cid=1.2&en=page_view"
NOW = 1_700_000_000
