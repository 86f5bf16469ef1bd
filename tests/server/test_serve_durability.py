"""Through `gtm-emulator serve` itself (gunicorn, two worker processes, the Preview store spooled in
the background and indexed by one process of its own): concurrent hits, then a restart, and every accepted hit
is in the Preview store; a SIGKILL loses at most the hits answered in the writer's last flush
interval; killing the store's process under load loses nothing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from helpers import children, command_line, free_port, wait_healthy

from gtm_emulator.server.store import SQLiteStore

HIT = "/g/collect?v=2&tid=G-TEST&cid={n}.1&en={event}&cu=EUR&epn.value=10"


@contextmanager
def serving(store: Path, killed: list[bool] | None = None, pid_out: list[int] | None = None) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gtm_emulator", "serve", "--port", str(port), "--workers", "2",
                             "--threads", "4", "--quiet", "--store", str(store)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    if pid_out is not None:
        pid_out.append(proc.pid)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, 20)
        yield base
    finally:
        if killed:  # SIGKILL to the master and every worker: nothing runs after it
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.terminate()
        proc.wait(timeout=15)


def send_concurrently(base: str, start: int, count: int, threads: int = 8) -> int:
    accepted = []
    lock = threading.Lock()

    def worker(offset: int) -> None:
        with requests.Session() as session:
            for n in range(start + offset, start + count, threads):
                event = "purchase" if n % 5 == 0 else "page_view"
                status = session.get(base + HIT.format(n=n, event=event), timeout=10).status_code
                with lock:
                    accepted.append(status)

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert set(accepted) == {204}
    return len(accepted)


def test_no_accepted_hit_is_lost_under_load_or_across_a_restart(tmp_path: Path) -> None:
    store = tmp_path / "preview.sqlite3"
    with serving(store) as base:
        sent = send_concurrently(base, 0, 240)
        summary = requests.get(base + "/_emulator/api/summary", timeout=5).json()
        assert summary["requests"] == sent  # stored before each response returned: no polling
    with serving(store) as base:  # restart on the same store file
        sent += send_concurrently(base, 240, 120)
        summary = requests.get(base + "/_emulator/api/summary", timeout=5).json()
        assert summary["requests"] == sent == 360
        assert summary["events"] == 360
        purchases = requests.get(base + "/_emulator/api/requests", params={"event": "purchase", "limit": 500},
                                 timeout=5).json()
        assert len(purchases["requests"]) == 72
        # a purchase answered before the restart is explained after it (stored as an outcome, re-run on read)
        first = min(r["id"] for r in purchases["requests"])
        record = requests.get(f"{base}/_emulator/api/requests/{first}", timeout=5).json()
        assert record["explanation"] == {"rerun": True, "matches": True, "differences": []}
        (tag,) = record["events"][0]["tags"]
        assert tag["status"] == "success" and tag["triggers"][0]["conditions"], tag
    with sqlite3.connect(store) as conn:
        outcomes = conn.execute("SELECT COUNT(*) FROM requests WHERE report LIKE '{\"rerun\":%'").fetchone()[0]
    assert outcomes == 360  # every hit was stored as what happened, none as a whole explained report


def stored_rows(store: Path) -> int:
    """Hits stored: in the database, or in the spool a killed serve left (indexed by the read)."""
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    opened = SQLiteStore(store)
    try:
        return opened.count()
    finally:
        opened.close()


def test_clean_shutdown_stores_every_answered_hit_without_a_read(tmp_path: Path) -> None:
    store = tmp_path / "preview.sqlite3"
    with serving(store) as base:
        sent = send_concurrently(base, 0, 300)  # no read: nothing waits for the writer before the stop
    with sqlite3.connect(store) as conn:  # not through the store: the stop itself indexed the spool
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == sent == 300
    assert not os.listdir(str(store) + "-spool")


def test_sigkill_loses_at_most_the_last_flush_interval(tmp_path: Path) -> None:
    store = tmp_path / "preview.sqlite3"
    with serving(store, killed=[True]) as base:
        sent = send_concurrently(base, 0, 200)
        time.sleep(0.5)  # ten flush intervals: everything answered is committed by now
    assert stored_rows(store) == sent == 200
    with serving(store, killed=[True]) as base:  # killed right after the last answer
        sent += send_concurrently(base, 200, 200)
    kept = stored_rows(store)
    assert 200 <= kept <= sent == 400
    with serving(store) as base:  # the file is sound and serves on
        summary = requests.get(base + "/_emulator/api/summary", timeout=5).json()
        assert summary["requests"] == kept


def start_up_lines(tmp_path: Path, *extra: str) -> str:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gtm_emulator", "serve", "--port", str(port), "--quiet",
                             "--store", str(tmp_path / "s.sqlite3"), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    lines = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if "workers:" in line or len(lines) > 20:
                break
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
        if proc.stderr is not None:
            proc.stderr.close()
    return "".join(lines)


def test_serve_defaults_to_one_worker_per_core_and_says_so(tmp_path: Path) -> None:
    from gtm_emulator.harness.parallel import default_workers

    cores = default_workers()
    text = start_up_lines(tmp_path, "--vendor", "record")
    assert f"  workers: {cores} x 8 threads ({cores} core{'s' if cores != 1 else ''})" in text
    # the mock vendor too: with several workers, the mock vendors run in one process they share
    text = start_up_lines(tmp_path)
    if cores > 1:
        assert f"  workers: {cores} x 8 threads ({cores} cores; the mock vendors run in one process that the " \
               "workers share, pid " in text
    assert f"  workers: 1 x 8 threads ({cores} core{'s' if cores != 1 else ''}; the mock vendors run in the " \
           "worker)" in start_up_lines(tmp_path, "--workers", "1")


def store_process_of(server: int) -> int:
    """The pid of the Preview store's process among ``server``'s children."""
    found = [kid for kid in children(server) if "gtm_emulator.server.store_process" in command_line(kid)]
    assert len(found) == 1, "serve started no Preview store process"
    return found[0]


def test_killing_the_store_process_under_load_loses_no_answered_hit(tmp_path: Path) -> None:
    store = tmp_path / "preview.sqlite3"
    server: list[int] = []
    with serving(store, pid_out=server) as base:
        writer = store_process_of(server[0])
        sent = send_concurrently(base, 0, 120)
        timer = threading.Timer(0.3, os.kill, (writer, signal.SIGKILL))  # while the next hits are answered
        timer.start()
        sent += send_concurrently(base, 120, 360)
        timer.join()
        with pytest.raises(ProcessLookupError):
            os.kill(writer, 0)
        summary = requests.get(base + "/_emulator/api/summary", timeout=5).json()
        assert summary["requests"] == sent == 480  # the read indexed what the process had not
    assert stored_rows(store) == 480
