"""Start-up cost of ``gtm-emulator simulate`` against ``python -c pass``.

A user's script may call ``simulate`` once per hit, so what matters is how much it adds to starting
Python at all. Target: less than 0.5 s more (median of repeated runs, interleaved).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, format_table

ROOT = Path(__file__).resolve().parent.parent
MAX_EXTRA_S = 0.5
HIT = "/g/collect?v=2&tid=G-TEST&cid=1.2&en=purchase&cu=EUR&epn.value=10"


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def run(quick: bool = False) -> list[Row]:
    repeats = 3 if quick else 15
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    simulate = [sys.executable, "-m", "gtm_emulator", "simulate", "--now", "1700000000", HIT]
    bare = [sys.executable, "-c", "pass"]
    timed(simulate, env)  # warm the file cache
    sim_times, bare_times = [], []
    for _ in range(repeats):
        sim_times.append(timed(simulate, env))
        bare_times.append(timed(bare, env))
    sim, base = statistics.median(sim_times), statistics.median(bare_times)
    extra = sim - base
    return [Row("simulate start-up (seconds; lower is better)", "s", sim, base, None, higher_is_better=False,
                met=extra < MAX_EXTRA_S,
                note=f"adds {extra:.3f} s to `python -c pass` (target: < {MAX_EXTRA_S:g} s); median of {repeats}")]


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
