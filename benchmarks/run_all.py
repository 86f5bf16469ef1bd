"""Run every benchmark and print one table of medians and ratios (each against a baseline measured
in the same run). ``--quick`` runs each briefly, as a smoke test. Exit 1 when a benchmark failed to
run or missed its target (every row with a target counts, ratios and absolute ones alike)."""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import Row, format_table

BENCHMARKS = ["bench_ga4_parse", "bench_triggers", "bench_replay", "bench_replay_scale", "bench_serve", "bench_startup",
              "bench_memory", "bench_serve_memory", "bench_store"]


def main() -> int:
    quick = "--quick" in sys.argv
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    rows: list[Row] = []
    failed = []
    for name in BENCHMARKS:
        if only and name not in only:
            continue
        if not (Path(__file__).resolve().parent / f"{name}.py").exists():
            print(f"{name}: not present", file=sys.stderr)
            continue
        print(f"running {name}{' (quick)' if quick else ''} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(importlib.import_module(name).run(quick=quick))
        except Exception:
            failed.append(name)
            traceback.print_exc()
    print(format_table(rows))
    missed = [r.name for r in rows if r.ok is False]
    if missed:
        print(f"\ntargets missed: {', '.join(missed)}")
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}")
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
