"""Trigger engine speed: the seed trigger over a realistic event stream, next to a bare Python loop.

The seed trigger is "Client Name equals GA4 AND Event Name equals purchase". The stream is mostly
page_view / view_item / add_to_cart from the GA4 client, some purchases, and a few events from
another client. Each event gets its own EventContext, as in the container runtime.

Rows:

- ``Trigger.matches``: the engine's fast path over one context per event (built before timing, as
  the runtime builds one per event for every variable and tag, not for triggers alone), against a
  bare loop that does the same two comparisons inline on the same contexts. The fast path caches
  nothing for these built-ins, so repeated passes do the work of fresh events (the script checks
  this). Target ratio >= 0.25.
- ``matches incl. EventContext``: the same, but the subject also builds each context inside the
  timed loop (the baseline builds nothing). Shown for honesty; no target.
- ``Trigger.trace``: the traced path the report uses (every condition, notes, ConditionTrace
  objects) over fresh contexts (the trace fills each context's cache), against the same bare loop.
  No target.

Both sides count the conditions needed to decide each event (the second is skipped when the first
fails, in the engine and in the bare loop alike), so the rates are condition evaluations per second
and the ratio is the ratio of the times for the same events. (The trace evaluates every condition
regardless; it is counted in the same unit.)
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import Row, format_table, interleaved_rates

from gtm_emulator.core.js import UNDEFINED
from gtm_emulator.core.request import Request
from gtm_emulator.core.triggers import Condition, Trigger
from gtm_emulator.core.variables import EventContext, Template

SEED_TRIGGER = Trigger(
    "GA4 purchase",
    [
        Condition("Client Name", "equals", Template("GA4")),
        Condition("Event Name", "equals", Template("purchase")),
    ],
)

_EVENT_WEIGHTS = {"page_view": 50, "view_item": 22, "add_to_cart": 12, "begin_checkout": 5, "purchase": 8,
                  "scroll": 3}


def make_stream(count: int, seed: int = 7) -> list[tuple[str, dict[str, object]]]:
    """``count`` (client name, event data) pairs: ~95 % GA4, the rest from a Data Client."""
    rng = random.Random(seed)
    names = list(_EVENT_WEIGHTS)
    weights = list(_EVENT_WEIGHTS.values())
    stream = []
    for i in range(count):
        event_name = rng.choices(names, weights)[0]
        data: dict[str, object] = {
            "event_name": event_name,
            "client_id": f"{rng.randrange(10**9)}.{rng.randrange(10**9)}",
            "page_location": f"https://shop.example/p/{rng.randrange(500)}",
            "ga_session_id": str(1700000000 + i),
            "engagement_time_msec": rng.randrange(1, 5000),
        }
        if event_name == "purchase":
            data.update(currency="EUR", value=round(rng.uniform(5, 500), 2), transaction_id=f"T{i}",
                        items=[{"item_id": f"SKU{rng.randrange(99)}", "price": 9.99, "quantity": 1}])
        stream.append(("GA4" if rng.random() < 0.95 else "Data Client", data))
    return stream


def run(quick: bool = False) -> list[Row]:
    count = 5_000 if quick else 100_000
    repeats = 3 if quick else 7
    stream = make_stream(count)
    request = Request.build("POST", "/g/collect?v=2&tid=G-TEST")
    variables: dict[str, object] = {}
    evaluations = sum(2 if client == "GA4" else 1 for client, _ in stream)

    def contexts() -> list[EventContext]:
        return [EventContext(data, request, client, variables) for client, data in stream]  # type: ignore[arg-type]

    # The engine and the bare loop read the same contexts. Trigger.matches does not cache the pure
    # built-ins it reads (checked below), so every pass does the full work of a fresh event.
    shared = contexts()
    calls = 2 * (repeats + 1)
    batches: list[list[EventContext]] = []  # fresh contexts for the trace, whose cache would fill
    matches = SEED_TRIGGER.matches

    def engine() -> int:
        fired = 0
        for ctx in shared:
            if matches(ctx):
                fired += 1
        assert fired >= 0
        return evaluations

    def bare() -> int:
        fired = 0
        for ctx in shared:
            if ctx.client_name == "GA4" and ctx.event_data.get("event_name", UNDEFINED) == "purchase":
                fired += 1
        assert fired >= 0
        return evaluations

    def engine_with_context() -> int:
        fired = 0
        for client, data in stream:
            if matches(EventContext(data, request, client, variables)):  # type: ignore[arg-type]
                fired += 1
        assert fired >= 0
        return evaluations

    def traced() -> int:
        trace = SEED_TRIGGER.trace
        fired = 0
        for ctx in batches.pop():
            if trace(ctx).matched:
                fired += 1
        return evaluations  # same unit as the baseline, although the trace evaluates every condition

    # Sanity: the engine and the bare loop agree on every event.
    check = contexts()
    assert [matches(c) for c in check] == [
        c.client_name == "GA4" and c.event_data.get("event_name") == "purchase" for c in check
    ]

    rows = []
    subject, baseline = interleaved_rates(engine, bare, repeats=repeats)
    assert all(not ctx.resolved for ctx in shared), "matches() cached values: passes would not be equal"
    rows.append(Row("Trigger.matches (seed trigger)", "c/s", subject, baseline, target=0.25,
                    note=f"{count} events, {evaluations} condition evaluations per pass"))
    subject, baseline = interleaved_rates(engine_with_context, bare, repeats=repeats)
    rows.append(Row("matches incl. EventContext construction", "c/s", subject, baseline))
    batches[:] = [contexts() for _ in range(calls)]
    subject, baseline = interleaved_rates(traced, bare, repeats=repeats)
    rows.append(Row("Trigger.trace (full trace, report path)", "c/s", subject, baseline))
    return rows


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
