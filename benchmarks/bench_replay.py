"""Replay throughput: the full pipeline against parse-only, on the same generated GA4 hits.

Subject: ``gtm_emulator.harness.replay.replay`` over the hits with the bundled default container (Request
built from the recorded line, GA4 client, triggers, the TikTok tag building its payload, the vendor
recorded and not sent, the per-tag summary). Baseline: ``gtm_emulator.clients.ga4.parse`` on the
same hits. Target: the pipeline at no less than a third of the parse-only rate.

The hits come from a small deterministic generator: page_view, view_item, add_to_cart and purchase
(with items, currency and value), a fifth of them batched POSTs of 2-5 events.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import Row, format_table, interleaved_rates
from gtm_emulator.clients import ga4
from gtm_emulator.harness.replay import RecordedRequest, replay, replay_container

FULL_HITS = 100_000
QUICK_HITS = 2_000
TARGET = 1 / 3
EVENTS = (("page_view", 50), ("view_item", 25), ("add_to_cart", 15), ("purchase", 10))
PRODUCTS = [(f"SKU{n:04d}", name, price) for n, (name, price) in enumerate(
    [("T-shirt", 19.9), ("Hoodie", 49.0), ("Cap", 14.5), ("Socks", 7.25), ("Jacket", 129.0), ("Scarf", 24.0)])]
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
)


def _item(rng: random.Random) -> str:
    sku, name, price = rng.choice(PRODUCTS)
    return f"id{sku}~nm{name}~pr{price}~qt{rng.randint(1, 3)}~caApparel"


def _event_params(rng: random.Random) -> str:
    name = rng.choices([e for e, _ in EVENTS], weights=[w for _, w in EVENTS])[0]
    params = [f"en={name}", f"dl={quote('https://shop.example/p/' + str(rng.randint(1, 500)), safe='')}",
              "dt=Shop", f"_et={rng.randint(10, 5000)}"]
    if name != "page_view":
        items = [_item(rng) for _ in range(rng.randint(1, 3))]
        params += [f"pr{i + 1}={quote(item, safe='~')}" for i, item in enumerate(items)]
        params += ["cu=EUR", f"epn.value={rng.randint(5, 400)}.{rng.randint(0, 99):02d}"]
    if name == "purchase":
        params += [f"ep.transaction_id=T{rng.randint(10_000, 99_999)}", "ep.email=shopper%40example.com"]
    return "&".join(params)


def generate_hits(count: int, seed: int = 7) -> list[RecordedRequest]:
    """``count`` GA4 hits (requests), the same for the same seed."""
    rng = random.Random(seed)
    hits = []
    for n in range(count):
        cid = f"{rng.randint(10**8, 10**9 - 1)}.{1_700_000_000 + rng.randint(0, 10**6)}"
        base = f"v=2&tid=G-BENCH01&gtm=45je4&cid={cid}&sid={1_700_000_000 + n}&sct=1&ul=de-de&sr=1920x1080"
        headers = [("Host", "sgtm.shop.example"), ("User-Agent", rng.choice(USER_AGENTS)),
                   ("Accept-Language", "de-DE,de;q=0.9")]
        addr = f"203.0.113.{rng.randint(1, 254)}"
        when = 1_700_000_000.0 + n
        if rng.random() < 0.2:
            body = "\n".join(_event_params(rng) for _ in range(rng.randint(2, 5)))
            hits.append(RecordedRequest("POST", f"/g/collect?{base}", headers, body.encode(), addr, when,
                                        source=f"generated:{n + 1}"))
        else:
            hits.append(RecordedRequest("GET", f"/g/collect?{base}&{_event_params(rng)}", headers, b"", addr, when,
                                        source=f"generated:{n + 1}"))
    return hits


def run(quick: bool = False) -> list[Row]:
    hits = generate_hits(QUICK_HITS if quick else FULL_HITS)
    container = replay_container()
    split = []
    for hit in hits:
        parts = urlsplit(hit.url)
        split.append((hit.method, parts.path, parts.query, hit.body, dict(hit.headers), hit.remote_addr))
    events = 0

    def pipeline() -> int:
        nonlocal events
        summary = replay(hits, container)
        if summary.errors or summary.bad_lines:
            raise RuntimeError(f"replay failed: {summary.errors[:1] or summary.bad_lines[:1]}")
        events = summary.events
        return summary.requests

    def parse_only() -> int:
        count = 0
        for method, path, query, body, headers, remote in split:
            ga4.parse(method, path, query, body, headers, remote)
            count += 1
        return count

    repeats = 3
    subject, baseline = interleaved_rates(pipeline, parse_only, repeats=repeats, warmup=1)
    note = f"{len(hits)} hits, {events} events; medians of {repeats} interleaved runs"
    return [Row("replay: full pipeline vs ga4.parse only", "hit/s", subject, baseline, target=TARGET, note=note)]


def profile(count: int = 5_000) -> str:
    """Where the pipeline's time goes (cumulative, top functions)."""
    import cProfile
    import io
    import pstats

    hits = generate_hits(count)
    container = replay_container()
    replay(hits[:200], container)
    profiler = cProfile.Profile()
    profiler.enable()
    replay(hits, container)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    return out.getvalue()


if __name__ == "__main__":
    if "--profile" in sys.argv:
        print(profile())
    else:
        print(format_table(run(quick="--quick" in sys.argv)))
