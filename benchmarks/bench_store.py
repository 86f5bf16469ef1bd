"""The Preview store: the cost of a stored hit, the store's growth per hit, and what a SIGKILL loses.

1. Writing: realistic hits (see ``bench_serve``'s realistic load; here run in-process) stored as
   ``serve`` stores them (the run without explanations, kept as an outcome that Preview explains
   when it is read; background batches), against what it stored before: the run with
   explanations, each report whole (background batches too). The rate counts the container's run
   and the store's work (building the rows and committing them), in one thread plus the writer.
   Printed, no target (``bench_serve`` holds the served target).
2. Growth: bytes of database pages in use per stored request, both ways, and the file's size once
   the retention limit is reached. No target.
3. SIGKILL: ``serve`` under load is killed with SIGKILL (master and workers at once); the hits it
   had answered are compared with the rows in the store. The loss and the window it corresponds to
   at the measured rate are printed (the design bound: one flush interval plus one batch commit).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench_serve import ROOT, free_port, wait_ready
from common import Row, format_table

from gtm_emulator import load_container
from gtm_emulator.core.request import Request
from gtm_emulator.server.rerun import explain_stored, fingerprint
from gtm_emulator.server.store import DEFAULT_FLUSH_INTERVAL, SQLiteStore

HEADERS = (("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0"),
           ("Accept-Language", "de-DE,de;q=0.9"), ("Referer", "https://shop.example/p/1"))


def realistic_requests(count: int) -> list[Request]:
    out = []
    for n in range(count):
        cookie = (("Cookie", f"_ga=GA1.1.{n}.1700000000; FPID=FPID2.2.x{n}; _ttp=ttp{n}"),)
        base = f"v=2&tid=G-BENCH&cid={n}.1700000000&sid=1700000000&sct=1&ul=de-de"
        if n % 5 == 0:
            body = "\n".join(f"en={e}&ep.event_id=E{n}{e}" for e in ("page_view", "view_item", "add_to_cart"))
            if n % 10 == 0:
                body += (f"\nen=purchase&cu=EUR&epn.value=49.9&ep.transaction_id=T{n}&ep.event_id=P{n}"
                         "&pr1=idSKU~nmMug~pr9")
            request = Request("POST", "/g/collect", base, HEADERS + cookie, body.encode())
        else:
            kind = "purchase" if n % 5 == 1 else "page_view"
            extra = f"&cu=EUR&epn.value=19&ep.transaction_id=T{n}&pr1=idSKU{n}~nmMug~pr9" if kind == "purchase" else ""
            request = Request("GET", "/g/collect", f"{base}&en={kind}&ep.event_id=E{n}{extra}", HEADERS + cookie)
        out.append(request)
    return out


def store_rate(requests_: list[Request], path: str, outcome: bool) -> float:
    """Hits per second: each run (with explanations unless ``outcome``) and stored in the background."""
    container = load_container(vendor="record")
    store = SQLiteStore(path, background=True, retention=10**6)
    key = None
    if outcome:
        store.explainer = lambda stored: explain_stored(stored, container)
        key = fingerprint(container)
    started = time.perf_counter()
    for n, request in enumerate(requests_):
        store.hook(container.handle(request, now=1_700_000_000 + n, explain=not outcome), 1.0, key)
    store.flush()
    rate = len(requests_) / (time.perf_counter() - started)
    store.close()
    return rate


def growth(path: str) -> tuple[float, int]:
    with sqlite3.connect(path) as conn:
        page_size, pages, free = (conn.execute(f"PRAGMA {n}").fetchone()[0]
                                  for n in ("page_size", "page_count", "freelist_count"))
        rows = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    return (pages - free) * page_size / rows, rows


def kill_under_load(tmp: str, seconds: float) -> tuple[int, int, float]:
    """(answered, stored, answered per second) for a serve killed with SIGKILL while under load."""
    port = free_port()
    store = os.path.join(tmp, "killed.sqlite3")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.Popen([sys.executable, "-m", "gtm_emulator", "serve", "--quiet", "--port", str(port),
                             "--vendor", "record", "--store", store], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    answered = 0
    lock = threading.Lock()
    stop = threading.Event()

    def client(k: int) -> None:
        nonlocal answered
        with requests.Session() as session:
            n = k
            while not stop.is_set():
                try:
                    status = session.get(f"http://127.0.0.1:{port}/g/collect?v=2&tid=G-K&cid={n}.1&en=page_view",
                                         timeout=5).status_code
                except requests.RequestException:
                    return  # the server is gone
                if status == 204:
                    with lock:
                        answered += 1
                n += 8
    try:
        wait_ready(port)
        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        started = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(seconds)
        with lock:  # no answer is counted after this point: the kill follows at once
            os.killpg(proc.pid, signal.SIGKILL)
            counted = answered
            elapsed = time.monotonic() - started
        stop.set()
        for t in threads:
            t.join(timeout=10)
    finally:
        proc.wait(timeout=10)
    opened = SQLiteStore(store)  # counts what is in the database and what the killed workers spooled
    try:
        stored = opened.count()
    finally:
        opened.close()
    return counted, stored, counted / elapsed


def run(quick: bool = False) -> list[Row]:
    count = 500 if quick else 5_000
    hits = realistic_requests(count)
    with tempfile.TemporaryDirectory() as tmp:
        outcome_rates, whole_rates = [], []
        for _ in range(1 if quick else 3):  # interleaved
            outcome_rates.append(store_rate(hits, os.path.join(tmp, f"outcome{len(outcome_rates)}.sqlite3"), True))
            whole_rates.append(store_rate(hits, os.path.join(tmp, f"whole{len(whole_rates)}.sqlite3"), False))
        per_row, rows = growth(os.path.join(tmp, "outcome0.sqlite3"))
        whole_row, _ = growth(os.path.join(tmp, "whole0.sqlite3"))
        answered, stored, rate = kill_under_load(tmp, 2.0 if quick else 8.0)
    lost = answered - stored
    return [
        Row("run + store: outcome (explained on read) vs whole explained report", "hits/s",
            statistics.median(outcome_rates), statistics.median(whole_rates), None,
            note=f"{count} realistic hits, run and stored in the background, median of {len(outcome_rates)}"),
        Row("store growth per stored hit (bytes): outcome vs whole report", "B", per_row, whole_row, None,
            higher_is_better=False,
            note=f"pages in use / {rows} rows; x 10,000 (default retention) = {per_row * 10_000 / 2**20:.0f} MiB"),
        Row("SIGKILL: answered hits not stored", "hits", float(max(lost, 0)), float(answered), None,
            higher_is_better=False,
            note=f"{answered} answered, {stored} stored at {rate:.0f} hits/s: {1000 * max(lost, 0) / rate:.0f} ms of "
                 f"traffic lost (flush interval {DEFAULT_FLUSH_INTERVAL * 1000:.0f} ms + the batch being written)"),
    ]


if __name__ == "__main__":
    print(format_table(run(quick="--quick" in sys.argv)))
