"""Resident memory of the default ``serve`` (Preview store on, mock TikTok API on) under realistic hits.

Every hit has its own client id, event ids and transaction id (the realistic load of ``bench_serve``:
a fifth of them batched POSTs, browser headers and cookies), so nothing is served from a reused id.
Load: ``wrk`` on loopback in bounded segments; after each segment the resident memory of every
gunicorn worker is read from /proc and summed.

Target: the memory at 1,000,000 hits within 5 % of the memory at 200,000 hits. At this machine's
rate a run to a million hits takes longer than a benchmark should, so the run goes to TOTAL_HITS,
fits the growth per hit over the samples after WARM_HITS, and projects both points from the fit
(the row's note lists every sample and says what was measured). ``--full`` runs to the million
and compares the two measured points (interpolated between the samples around them) instead.
WARM_HITS is past the point where every bounded buffer of every worker is full: the mock's history
(10,000 requests and events) and its de-duplication memory (20,000 event ids) fill at about 135,000
realistic hits when each of two workers holds its own mock (sooner now that the workers share one
mock process); before that the memory grows, as it should, up to those caps. ``--quick`` is a
smoke test.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_replay_scale import slope
from bench_serve import WORKERS, free_port, process, realistic_script
from common import Row, format_table

WARM_HITS, TOTAL_HITS = 140_000, 200_000
QUICK_WARM_HITS, QUICK_TOTAL_HITS = 4_000, 12_000
FROM_HITS, TO_HITS = 200_000, 1_000_000
SEGMENT_SECONDS = 10


def workers_rss_mb(master: int) -> float:
    """Resident memory of the master's child processes (the gunicorn workers and, with several, the process
    of the mock vendors they share), in MiB."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        ppid = re.search(r"^PPid:\s+(\d+)", status, re.M)
        rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        if ppid and rss and int(ppid.group(1)) == master:
            total += int(rss.group(1))
    return total / 1024


def segment(port: int, seconds: int, script: str) -> int:
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", script, f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"errors during the load run:\n{out}")
    return int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]


def measured_at(samples: list[tuple[int, float]], hits: int) -> float:
    """The memory at ``hits``, interpolated between the two samples around it."""
    for (n0, mb0), (n1, mb1) in itertools.pairwise(samples):
        if n0 <= hits <= n1:
            return mb0 + (mb1 - mb0) * (hits - n0) / max(1, n1 - n0)
    raise ValueError(f"no samples around {hits} hits")


def run(quick: bool = False, full: bool = False) -> list[Row]:
    if not shutil.which("wrk"):
        return [Row("serve RSS 200k -> 1M realistic hits", "MiB", float("nan"), float("nan"), None,
                    note="wrk not installed (Debian package wrk): not measured")]
    warm, total = (QUICK_WARM_HITS, QUICK_TOTAL_HITS) if quick else (WARM_HITS, TO_HITS if full else TOTAL_HITS)
    seconds = 2 if quick else SEGMENT_SECONDS
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        script = realistic_script(tmp)
        args = [sys.executable, "-m", "gtm_emulator", "serve", "--quiet", "--port", str(port), "--workers",
                str(WORKERS), "--store", os.path.join(tmp, "preview.sqlite3")]
        env_pid: list[int] = []
        with process(args, port, pid_out=env_pid):
            sent, samples = 0, []
            while sent < total:
                sent += segment(port, seconds, script)
                if sent >= warm:
                    samples.append((sent, workers_rss_mb(env_pid[0])))
    if len(samples) < 2:
        raise RuntimeError("too few samples after the warm-up")
    growth = slope(samples)
    shown = ", ".join(f"{n // 1000}k: {mb:.1f}" for n, mb in samples)
    if full:
        at_from, at_to = measured_at(samples, FROM_HITS), measured_at(samples, TO_HITS)
        how = "200k and 1M measured (interpolated between the samples around them)"
    else:
        first_n, first_mb = samples[0]
        at_from = first_mb + growth * (FROM_HITS - first_n)
        at_to = first_mb + growth * (TO_HITS - first_n)
        how = "200k and 1M projected from the fit"
    return [Row("serve RSS 200k -> 1M realistic hits (MiB)", "MiB", at_to, at_from, 1.05, higher_is_better=False,
                note=f"{WORKERS} workers, store + mock on; measured to {sent:,} hits ({shown}); "
                     f"{growth * 1e6:+.2f} MiB per million hits; {how}")]


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv, full="--full" in sys.argv)))
