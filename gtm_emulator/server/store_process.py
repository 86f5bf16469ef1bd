"""The Preview store's writer in one process of its own, shared by every worker of ``serve``.

Each worker of ``serve`` queues what a request leaves for the Preview (plain values: the request's
bytes, the tags' states, the outgoing calls with their answers) and its writer thread sends them,
once per flush interval, as one batch to this process, which builds the rows and commits them: one
writer for the SQLite file instead of one per worker. So the workers do not take turns on the
database's write lock, and their request threads do not share the GIL with SQLite calls. Reads (the
inspection API, the Preview UI) still open the file in the worker that answers them (WAL mode lets
them read while this process writes).

* It is started by ``serve`` before gunicorn forks its workers, and reached like the mock vendors'
  process (:mod:`gtm_emulator.vendors.shared`): a Unix socket in a private directory, a per-run
  token, the same frames. A batch is one frame, ``{"op": "add", "n": count}`` and the batch's bytes
  (:func:`~gtm_emulator.server.store.to_wire`, ``marshal`` of plain tuples, read only from
  connections that presented the token); the answer comes after the commit, so a worker's writer
  publishes a batch as committed only once it is in the file, and the read-after-write rule of
  :class:`~gtm_emulator.server.store.SQLiteStore` holds across processes.
* A batch this process cannot take (it has stopped, or it answers with an error) is committed by
  the worker itself: nothing answered is dropped.
* It stops with ``serve``: terminated after the workers (which flush first at a clean shutdown),
  and when ``serve`` is killed it exits once its standard input ends (every worker has gone). On
  its way out it finishes the batch in hand and checkpoints the write-ahead log.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from ..vendors.shared import ChildProcess, serve_child, spawn_child
from .store import SQLiteStore, _Pending, from_wire

WHAT = "the Preview store's process"


class _StoreWriter:
    """What the store's process holds: the store, and the answer to each operation."""

    name = "Preview store"

    def __init__(self, config: dict[str, Any]):
        self.store = SQLiteStore(str(config["path"]), retention=int(config["retention"]),
                                 retention_bytes=config.get("retention_bytes"),
                                 body_limit=int(config["body_limit"]),
                                 busy_timeout_ms=int(config["busy_timeout_ms"]))
        self.lock = threading.Lock()  # one batch at a time: each is one transaction
        self.closed = False

    def dispatch(self, head: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
        if head.get("op") != "add":
            raise ValueError(f"unknown operation {head.get('op')!r}")
        batch = [_Pending(prepared) for prepared in from_wire(body)]
        with self.lock:
            if self.closed:
                raise RuntimeError("the store's process is stopping")
            self.store._commit_batch(batch)
        failed = [str(item.error) for item in batch if item.error is not None]
        if failed:  # rows the database refused (each was tried alone): the worker could not store them either
            print(f"gtm-emulator Preview store: {len(failed)} of {len(batch)} rows not stored: {failed[0]}",
                  file=sys.stderr, flush=True)
        return {"stored": len(batch) - len(failed), "failed": len(failed)}, b""

    def close(self) -> None:
        with self.lock:  # after the batch in hand
            self.closed = True
            self.store.close()


def spawn_store_process() -> ChildProcess:
    """Start the store's process (``serve`` spawns it before loading the container, so that both
    start-ups overlap); :func:`share_store_writes` configures it."""
    return spawn_child("gtm_emulator.server.store_process", WHAT)


def share_store_writes(store: SQLiteStore, process: ChildProcess | None = None) -> ChildProcess:
    """Have ``store``'s batches committed by one process of their own (a new one, or ``process``):
    ``serve`` calls this before gunicorn forks its workers."""
    if store.memory or not store.background:
        raise ValueError("only a background store on a file is written by a process of its own")
    if process is None:
        process = spawn_store_process()
    process.start({"path": store.path, "retention": store.retention, "retention_bytes": store.retention_bytes,
                   "body_limit": store.body_limit, "busy_timeout_ms": store.busy_timeout_ms})
    store.share_writes(process)
    process.watch("each worker commits its Preview rows itself from now on")
    return process


def main() -> None:
    serve_child("gtm-emulator-store-", _StoreWriter)


if __name__ == "__main__":
    main()
