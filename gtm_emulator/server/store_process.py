"""The Preview store's own process: it indexes the spool that every worker of ``serve`` appends to.

Each worker of ``serve`` appends what its requests leave for the Preview (plain values: the
request's bytes, the tags' states, the outgoing calls with their answers) to a file of its own in
the store's spool, once per flush interval (:mod:`.spool`). This process builds the rows and
commits them (:meth:`~gtm_emulator.server.store.SQLiteStore._index_spool`), about a hundred hits per
transaction, only while the machine has idle CPU time (at least ``MIN_IDLE`` of it in the last
``IDLE_INTERVAL``, not counting this process) and on CPU time nobody else wants (Linux's
``SCHED_IDLE`` policy, and ``nice`` 19): under load the serving processes come first and the spool
waits. It stays bounded: hits that retention would delete are passed over, never built. Any read
of the store indexes what is still waiting before it answers, so the Preview never shows less than
what was answered before the read, whatever this process is doing; the price is that the first read
after a long burst builds the rows of up to ``retention`` hits itself (see docs/performance.md).

* It is started by ``serve`` before gunicorn forks its workers, like the mock vendors' process
  (:mod:`gtm_emulator.vendors.shared`): configured over a Unix socket in a private directory with a
  per-run token. It takes one operation, ``{"op": "index"}``: index everything now (tests, tools).
* If it stops, nothing is lost: the workers go on appending, their reads index, and the next start
  of ``serve`` indexes what a previous run left.
* It stops with ``serve``: terminated after the workers (which flush first at a clean shutdown), and
  when ``serve`` is killed it exits once its standard input ends (every worker has gone). On its
  way out it indexes what is left and checkpoints the write-ahead log.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from typing import Any

from ..vendors.shared import ChildProcess, serve_child, spawn_child
from .store import SPOOL_CHUNK, SQLiteStore

WHAT = "the Preview store's process"
IDLE_INTERVAL = 0.1  # seconds between looks at the spool and the machine's idle time
MIN_IDLE = 0.25  # share of the machine's CPU time left idle (by others) for this process to index
NICENESS = 19  # with SCHED_IDLE where there is one: indexing waits for idle cores
BACKGROUND_CHUNK = 100  # hits per transaction here: short, since this process may wait for a core holding the lock


class _Indexer:
    """What the store's process holds: the store, and a thread indexing its spool."""

    name = "Preview store"

    def __init__(self, config: dict[str, Any]):
        self.store = SQLiteStore(str(config["path"]), retention=int(config["retention"]),
                                 retention_bytes=config.get("retention_bytes"),
                                 body_limit=int(config["body_limit"]),
                                 busy_timeout_ms=int(config["busy_timeout_ms"]))
        self.lock = threading.Lock()  # one indexing pass at a time in this process
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="preview-spool-indexer", daemon=True)
        self.thread.start()

    def index(self) -> int:
        """Index everything waiting; how many hits were stored."""
        total = 0
        with self.lock:
            while True:
                stored, more = self.store._index_spool(chunk=SPOOL_CHUNK)
                total += stored
                if not more:
                    return total

    def _run(self) -> None:
        idle = IdleMeter()
        while not self.stopping.wait(IDLE_INTERVAL):
            more = True
            while more and idle.share() >= MIN_IDLE and not self.stopping.is_set():
                try:
                    with self.lock:
                        if self.stopping.is_set():
                            return
                        _stored, more = self.store._index_spool(chunk=BACKGROUND_CHUNK)
                except (sqlite3.Error, OSError) as exc:  # a reader holds the lock too long, a full disk: later
                    logging.getLogger("gtm_emulator").warning("preview store: cannot index the spool: %s", exc)
                    more = False

    def dispatch(self, head: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
        if head.get("op") != "index":
            raise ValueError(f"unknown operation {head.get('op')!r}")
        return {"stored": self.index()}, b""

    def close(self) -> None:
        self.stopping.set()
        with self.lock:  # after the pass in hand; close indexes what is left
            self.store.close()


class IdleMeter:
    """The share of the machine's CPU time that nobody but this process used since the last call
    (``/proc/stat`` against this process's own CPU time); 1.0 where there is no ``/proc/stat``."""

    def __init__(self) -> None:
        self.tick = 1.0 / os.sysconf("SC_CLK_TCK")
        self.last = self._sample()

    def _sample(self) -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat", "rb") as f:
                fields = [int(x) for x in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        mine = os.times()
        return sum(fields) * self.tick, (fields[3] + fields[4]) * self.tick, mine.user + mine.system

    def share(self) -> float:
        now, before = self._sample(), self.last
        if now is None or before is None:
            return 1.0
        self.last = now
        total = now[0] - before[0]
        if total <= 0:
            return 1.0  # too soon to tell (less than a clock tick): as last time, go on
        return min(1.0, (now[1] - before[1] + now[2] - before[2]) / total)


def spawn_store_process() -> ChildProcess:
    """Start the store's process (``serve`` spawns it before loading the container, so that both
    start-ups overlap); :func:`share_store_writes` configures it."""
    return spawn_child("gtm_emulator.server.store_process", WHAT)


def share_store_writes(store: SQLiteStore, process: ChildProcess | None = None) -> ChildProcess:
    """Have ``store``'s batches appended to its spool and indexed by one process of their own (a new
    one, or ``process``): ``serve`` calls this before gunicorn forks its workers."""
    if store.memory or not store.background:
        raise ValueError("only a background store on a file is written by a process of its own")
    if process is None:
        process = spawn_store_process()
    process.start({"path": store.path, "retention": store.retention, "retention_bytes": store.retention_bytes,
                   "body_limit": store.body_limit, "busy_timeout_ms": store.busy_timeout_ms})
    store.spool_writes()
    process.watch("the Preview's rows are built when it is read from now on")
    return process


def lowest_priority() -> str:
    """Run this process (the calling thread and every thread it starts later) only on CPU time the
    serving processes leave: the ``SCHED_IDLE`` policy where the system has it, else ``nice`` 19.
    Returns which one."""
    os.nice(NICENESS)
    idle = getattr(os, "SCHED_IDLE", None)
    if idle is not None:
        try:
            os.sched_setscheduler(0, idle, os.sched_param(0))
            return "SCHED_IDLE"
        except OSError:  # a system (or sandbox) that refuses it: nice alone
            pass
    return f"nice {NICENESS}"


def main() -> None:
    lowest_priority()
    serve_child("gtm-emulator-store-", _Indexer)


if __name__ == "__main__":
    main()
