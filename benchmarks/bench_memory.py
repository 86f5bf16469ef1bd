"""Steady memory under sustained hits: no growth after warm-up.

Runs 30 minutes' worth of hits at 100 hits/s (180,000 hits; 18,000 with --quick) through the
default container in-process, with the mock TikTok API answering (it keeps a bounded history and a
bounded de-duplication memory: every purchase carries its own ``event_id``),
and samples the process's resident memory. The baseline is the resident size right after a
warm-up that fills every bounded buffer: the mock's history (2,000 here) and its de-duplication
memory (``DEDUP_MAX_IDS`` event ids; a third of the hits are purchases, so three times that many
hits); the target is that the end is within 5 % of it.
"""

from __future__ import annotations

import gc
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import Row, format_table

from gtm_emulator import load_container
from gtm_emulator.core.request import Request
from gtm_emulator.vendors.tiktok_mock import DEDUP_MAX_IDS

HITS = [  # every hit with its own event id, as a real site sends them (the mock's dedup memory sees each)
    "v=2&tid=G-MEM&cid={n}.1&en=page_view&dl=https%3A%2F%2Fshop.example%2Fp{n}&ep.event_id=E{n}",
    "v=2&tid=G-MEM&cid={n}.1&en=view_item&pr1=idSKU{n}~nmThing~pr9.5&ep.event_id=E{n}",
    "v=2&tid=G-MEM&cid={n}.1&en=purchase&cu=EUR&epn.value=19&ep.transaction_id=T{n}&ep.event_id=E{n}"
    "&pr1=idSKU{n}~nmThing~pr9.5~qt2",
]


def rss_mb() -> float:
    """Current resident set size (Linux /proc), in MiB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def run(quick: bool = False) -> list[Row]:
    total = 18_000 if quick else 180_000
    warmup = 6_000 if quick else max(20_000, 3 * DEDUP_MAX_IDS + 10_000)
    container = load_container()
    mock = container.tiktok_mock
    mock.max_kept = 2_000
    start_mb = 0.0
    samples = []
    for n in range(total):
        query = HITS[n % len(HITS)].format(n=n)
        container.handle(Request("GET", "/g/collect", query, (("User-Agent", "bench"),)), now=1_700_000_000 + n / 100)
        if n + 1 == warmup:
            gc.collect()
            start_mb = rss_mb()
        if n >= warmup and n % 10_000 == 0:
            samples.append(rss_mb())
    gc.collect()
    end_mb = rss_mb()
    return [Row("resident memory after 30 min of hits (MiB)", "MiB", end_mb, start_mb, 1.05, higher_is_better=False,
                note=f"{total} hits; samples after warm-up: {', '.join(f'{s:.1f}' for s in samples[:8])}")]


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
