"""Shared helpers for the benchmarks: medians of repeated timings and the results table.

Every benchmark measures its subject and a baseline in the same process and reports the ratio,
so the numbers mean the same thing on any machine. Run one file directly, or all of them with
``python benchmarks/run_all.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Row:
    """One benchmark result: subject and baseline rates, their ratio, and the target."""

    name: str
    unit: str
    subject: float
    baseline: float
    target: float | None = None  # minimum ratio subject/baseline, or None
    higher_is_better: bool = True
    note: str = ""
    met: bool | None = None  # the verdict of a target that is not a ratio (e.g. "adds < 0.5 s")

    @property
    def ratio(self) -> float:
        return self.subject / self.baseline if self.baseline else float("nan")

    @property
    def ok(self) -> bool | None:
        if self.met is not None:
            return self.met
        if self.target is None:
            return None
        return self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target


def median_rate(fn: Callable[[], int], repeats: int = 5, warmup: int = 1) -> float:
    """Run ``fn`` (which does N operations and returns N) and give the median operations/second."""
    for _ in range(warmup):
        fn()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = fn()
        elapsed = time.perf_counter() - start
        rates.append(count / elapsed if elapsed > 0 else float("inf"))
    return statistics.median(rates)


def interleaved_rates(
    subject: Callable[[], int], baseline: Callable[[], int], repeats: int = 5, warmup: int = 1
) -> tuple[float, float]:
    """Median rates of subject and baseline, measured alternately so that load affects both alike."""
    for _ in range(warmup):
        subject()
        baseline()
    s_rates, b_rates = [], []
    for _ in range(repeats):
        for fn, rates in ((subject, s_rates), (baseline, b_rates)):
            start = time.perf_counter()
            count = fn()
            elapsed = time.perf_counter() - start
            rates.append(count / elapsed if elapsed > 0 else float("inf"))
    return statistics.median(s_rates), statistics.median(b_rates)


def format_table(rows: list[Row]) -> str:
    header = f"{'benchmark':44} {'subject':>14} {'baseline':>14} {'ratio':>7} {'target':>8}  result"
    lines = [header, "-" * len(header)]
    for row in rows:
        target = "" if row.target is None else (">=" if row.higher_is_better else "<=") + f"{row.target:g}"
        verdict = {None: "", True: "ok", False: "MISSED"}[row.ok]
        lines.append(
            f"{row.name:44} {row.subject:>10.4g} {row.unit:<3} {row.baseline:>10.4g} {row.unit:<3} "
            f"{row.ratio:>7.3f} {target:>8}  {verdict}"
        )
        if row.note:
            lines.append(f"    {row.note}")
    return "\n".join(lines)
