"""serve's gunicorn worker stops on Ctrl-C (SIGINT) or SIGQUIT even when the signal arrives while its
main thread is inside the thread pool's lock (handing a request to a thread): gunicorn's threaded
worker shuts the pool down from the signal handler, which took the same lock again and waited for
itself until the arbiter killed the worker (about one Ctrl-C in five under load)."""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from gtm_emulator.server.gworker import HardenedThreadWorker


def quitting_worker() -> HardenedThreadWorker:
    worker = HardenedThreadWorker.__new__(HardenedThreadWorker)  # no gunicorn arbiter needed
    worker.tpool = ThreadPoolExecutor(max_workers=1)
    worker.cfg = SimpleNamespace(worker_int=lambda _worker: None)
    worker.alive = True
    return worker


def quit_from(worker: HardenedThreadWorker, inside_the_pools_lock: bool) -> list[str]:
    outcome: list[str] = []

    def main_thread() -> None:
        try:
            if inside_the_pools_lock:  # where ThreadPoolExecutor.submit is when the signal arrives
                with worker.tpool._shutdown_lock:
                    worker.handle_quit(signal.SIGINT, None)
            else:
                worker.handle_quit(signal.SIGINT, None)
        except SystemExit as exc:
            outcome.append(f"exit {exc.code}")

    thread = threading.Thread(target=main_thread, daemon=True)
    thread.start()
    thread.join(10)
    return outcome


def test_a_quit_signal_inside_the_pools_lock_exits_instead_of_waiting_for_itself() -> None:
    worker = quitting_worker()
    assert quit_from(worker, inside_the_pools_lock=True) == ["exit 0"]
    worker.tpool.shutdown(wait=True)


def test_a_quit_signal_elsewhere_still_shuts_the_pool_down() -> None:
    worker = quitting_worker()
    assert quit_from(worker, inside_the_pools_lock=False) == ["exit 0"]
    assert worker.tpool._shutdown
