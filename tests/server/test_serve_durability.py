"""Through `gtm-emulator serve` itself (gunicorn, two worker processes): concurrent hits, then a
restart, and every accepted hit is in the Preview store."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

HIT = "/g/collect?v=2&tid=G-TEST&cid={n}.1&en={event}&cu=EUR&epn.value=10"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(store: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gtm_emulator", "serve", "--port", str(port), "--workers", "2",
                             "--threads", "4", "--quiet", "--store", str(store)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
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
