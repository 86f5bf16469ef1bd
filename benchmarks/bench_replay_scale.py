"""Replay on several cores and on a Dask cluster, and the memory of one replay worker over a long run.

1. Scaling: ``replay(FILE, workers=N)`` (N = the cores this process may use) against ``workers=1`` on
   the same NDJSON file of generated hits (the generator of ``bench_replay``), interleaved, medians.
   Target: at least 0.7 x N. The N-worker time includes starting the worker processes.
2. Dask: the same file on a local Dask cluster of N single-threaded worker processes, against
   ``--workers N`` (no target: the overhead is printed). The summaries must be byte-identical.
3. Memory per worker: one worker process replays hit after hit in shards, as a worker of the pool
   does, and its resident memory is sampled every 100,000 hits (10,000 with ``--quick``). A run to
   10 million hits takes hours here, so the benchmark measures up to MEMORY_HITS, fits the growth per
   hit after the first sample, and extrapolates to 10 million: the row says so.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import Row, format_table

ROOT = Path(__file__).resolve().parent.parent
SCALE_HITS, QUICK_SCALE_HITS = 60_000, 6_000
MEMORY_HITS, QUICK_MEMORY_HITS = 500_000, 40_000
EXTRAPOLATE_TO = 10_000_000
TARGET_PER_WORKER = 0.7


def write_traffic(path: Path, count: int) -> None:
    from bench_replay import generate_hits

    with path.open("w", encoding="utf-8") as fh:
        for hit in generate_hits(count):
            row = {"method": hit.method, "url": hit.url, "headers": hit.headers, "remote_addr": hit.remote_addr,
                   "time": hit.time}
            if hit.body:
                row["body"] = hit.body.decode()
            fh.write(json.dumps(row) + "\n")


MEMORY_WORKER = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[3])
from bench_replay import generate_hits
from gtm_emulator.harness.parallel import Job, run_shard
from gtm_emulator.harness.replay_inputs import Shard

def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20

total, step = int(sys.argv[1]), int(sys.argv[2])
job, chunk, done, samples = Job(), 5000, 0, []
while done < total:
    hits = generate_hits(chunk, seed=done)  # new hits, new ids, every chunk
    lines = []
    for n, hit in enumerate(hits):
        row = {"method": hit.method, "url": hit.url.replace("cid=", f"cid={done + n}"), "headers": hit.headers,
               "remote_addr": hit.remote_addr, "time": hit.time}
        if hit.body:
            row["body"] = hit.body.decode()
        lines.append(json.dumps(row))
    data = ("\n".join(lines) + "\n").encode()
    summary = run_shard(job, Shard("generated", "ndjson", first_line=done + 1, data=data, lines=chunk))
    assert summary.requests == chunk, summary.errors[:1]
    done += chunk
    if done % step == 0:
        samples.append((done, rss_mb()))
print(json.dumps(samples))
"""


def memory_samples(total: int, step: int) -> list[tuple[int, float]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, "-c", MEMORY_WORKER, str(total), str(step), str(ROOT / "benchmarks")],
                         env=env, capture_output=True, text=True, check=True)
    return [(int(n), float(mb)) for n, mb in json.loads(out.stdout)]


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares growth in MiB per hit."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


@contextmanager
def _cluster(distributed: Any, workers: int) -> Iterator[Any]:
    """A local Dask cluster of ``workers`` single-threaded processes and its client (None without Dask)."""
    if distributed is None:
        yield None
        return
    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", scheduler_port=0, dashboard_address="127.0.0.1:0",
                                  silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def run(quick: bool = False, skip_memory: bool = False) -> list[Row]:
    from gtm_emulator.harness.parallel import default_workers, replay

    cores = default_workers()
    hits = QUICK_SCALE_HITS if quick else SCALE_HITS
    repeats = 1 if quick else 3
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        traffic = Path(tmp) / "traffic.ndjson"
        write_traffic(traffic, hits)
        shard_bytes = max(64 * 1024, traffic.stat().st_size // (cores * 8))  # several shards per worker

        def timed(**kw: object) -> tuple[float, str]:
            started = time.perf_counter()
            summary = replay([traffic], shard_bytes=shard_bytes, **kw)  # type: ignore[arg-type]
            elapsed = time.perf_counter() - started
            assert summary.requests == hits, summary.to_dict()
            return hits / elapsed, json.dumps(summary.to_dict())

        try:
            import distributed
        except ImportError:
            distributed = None
        one_rates, many_rates, dask_rates = [], [], []
        texts: dict[str, str] = {}
        with _cluster(distributed, cores) as client:
            timed(workers=1)  # warm the file cache
            if client is not None:
                timed(client=client)  # the Dask workers load the container once
            for _ in range(repeats):  # interleaved, so that the machine's load affects all alike
                rate, texts["one"] = timed(workers=1)
                one_rates.append(rate)
                rate, texts["many"] = timed(workers=cores)
                many_rates.append(rate)
                if client is not None:
                    rate, texts["dask"] = timed(client=client)
                    dask_rates.append(rate)
        if len(set(texts.values())) != 1:
            raise RuntimeError("replay summaries differ between 1 worker, N workers and Dask")
        one, many = statistics.median(one_rates), statistics.median(many_rates)
        rows.append(Row(f"replay, {cores} workers vs 1 (x{cores})", "hit/s", many, one,
                        target=TARGET_PER_WORKER * cores,
                        note=f"{hits} hits in {traffic.stat().st_size // 2**20} MiB, shards of "
                             f"{shard_bytes // 1024} KiB; target {TARGET_PER_WORKER} x {cores} cores; "
                             f"medians of {repeats}; process start-up included"))
        if dask_rates:
            dask = statistics.median(dask_rates)
            rows.append(Row(f"replay on Dask ({cores} procs) vs --workers {cores}", "hit/s", dask, many, None,
                            note="summaries byte-identical; the Dask cluster is warm (started once), --workers "
                                 f"starts its processes each run; Dask {100 * (dask / many - 1):+.0f} %"))
        else:
            rows.append(Row("replay on Dask vs --workers", "hit/s", float("nan"), many, None,
                            note="dask[distributed] not installed: not measured"))
    if skip_memory:
        return rows
    total = QUICK_MEMORY_HITS if quick else MEMORY_HITS
    step = max(5_000, total // 5 // 5_000 * 5_000)  # a multiple of the worker's 5,000-hit shards
    samples = memory_samples(total, step)
    first_n, first_mb = samples[0]
    growth = slope(samples)
    projected = first_mb + growth * (EXTRAPOLATE_TO - first_n)
    rows.append(Row(f"replay worker RSS, {first_n // 1000}k -> 10M hits", "MiB", projected, first_mb, 1.05,
                    higher_is_better=False,
                    note=f"measured to {total:,} hits ({', '.join(f'{n // 1000}k: {mb:.1f}' for n, mb in samples)}); "
                         f"{growth * 1e6:+.2f} MiB per million hits, extrapolated to 10M"))
    return rows


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv, skip_memory="--skip-memory" in sys.argv)))
