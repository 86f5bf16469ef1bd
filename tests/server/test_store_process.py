"""The Preview store's spool and its process: every worker appends its batches to the spool, which
one process of their own indexes in the background, and every read first (gtm_emulator/server/spool.py,
gtm_emulator/server/store_process.py)."""

from __future__ import annotations

import json
import logging
import marshal
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import stat_fields

from gtm_emulator import load_container
from gtm_emulator.core.js import UNDEFINED
from gtm_emulator.errors import TransportError
from gtm_emulator.server import spool
from gtm_emulator.server.app import create_app
from gtm_emulator.server.store import SQLiteStore, _Pending, _rows_of_wire, _wire, to_wire
from gtm_emulator.server.store_process import NICENESS, WHAT, share_store_writes
from gtm_emulator.vendors.shared import ChildProcess, Link, frame, read_frame

REPO = Path(__file__).resolve().parents[2]
PURCHASE = ("/g/collect?v=2&tid=G-TEST&cid=1.2&en=purchase&cu=EUR&epn.value=9.5"
            "&ep.transaction_id=T{n}&ep.event_id=E{n}&pr1=idSKU-1~nmMug~pr9.5~qt1")
PAGE_VIEW = "/g/collect?v=2&tid=G-TEST&cid=1.2&en=page_view&dl=https%3A%2F%2Fshop.example%2Fp{n}"


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[tuple[SQLiteStore, ChildProcess]]:
    store = SQLiteStore(tmp_path / "preview.sqlite3", background=True)
    process = share_store_writes(store)
    try:
        yield store, process
    finally:
        store.close()
        process.stop()


def send(app: Any, path: str) -> int:
    response = app.test_client().get(path)
    return int(response.status_code)


def test_batches_are_spooled_not_committed_in_the_worker_and_reads_see_them(
        shared: tuple[SQLiteStore, ChildProcess], monkeypatch: pytest.MonkeyPatch) -> None:
    store, _process = shared

    def not_here(batch: Any) -> None:
        raise AssertionError("a batch was committed in the worker, not appended to the spool")

    monkeypatch.setattr(store, "_commit_batch", not_here)
    app = create_app(load_container(), log_requests=False, store=store)
    for n in range(30):
        assert send(app, (PURCHASE if n % 3 == 0 else PAGE_VIEW).format(n=n)) == 204
    listed = store.list_requests(limit=100)  # no flush, no polling: the read waits for the round
    assert len(listed) == 30
    assert store.summary()["tags_fired"] == 10
    full = store.get_request(listed[0]["id"])  # the newest, a page_view
    assert full is not None and full["explanation"]["matches"] is True
    purchase = store.get_request(listed[2]["id"])
    assert purchase is not None and purchase["events"][0]["tags"][0]["status"] == "success"
    assert purchase["explanation"]["matches"] is True  # re-run from what was spooled


def test_the_process_indexes_the_spool_in_the_background_at_the_lowest_priority(
        shared: tuple[SQLiteStore, ChildProcess]) -> None:
    store, process = shared
    fields = stat_fields(process.pid)
    assert int(fields[16]) == NICENESS  # field 19 of /proc/PID/stat: nice
    assert int(fields[38]) == os.SCHED_IDLE  # field 41: the scheduling policy
    app = create_app(load_container(), log_requests=False, store=store)
    for n in range(12):
        send(app, PAGE_VIEW.format(n=n))
    assert store.flush(10)
    deadline = time.monotonic() + 60  # it indexes when a quarter of the CPU is idle: a busy machine delays it
    rows = 0
    while time.monotonic() < deadline:  # no read through the store: only the process indexes
        with sqlite3.connect(store.path) as conn:
            rows = conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
        if rows == 12:
            break
        time.sleep(0.05)
    assert rows == 12
    directory = spool.spool_dir(store.path)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    (name,) = os.listdir(directory)  # the worker's file, still held by its writer: kept
    assert stat.S_IMODE(os.stat(os.path.join(directory, name)).st_mode) == 0o600


def test_a_stopped_store_process_loses_no_hit(shared: tuple[SQLiteStore, ChildProcess],
                                              caplog: pytest.LogCaptureFixture) -> None:
    store, process = shared
    app = create_app(load_container(), log_requests=False, store=store)
    for n in range(5):
        send(app, PURCHASE.format(n=n))
    assert store.count() == 5
    os.kill(process.pid, signal.SIGKILL)
    process.proc.wait(10)
    with caplog.at_level(logging.WARNING, logger="gtm_emulator"):
        for n in range(5, 25):
            send(app, PURCHASE.format(n=n))
        assert store.count() == 25  # the read indexed them
        deadline = time.monotonic() + 5
        while "has stopped" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert f"{WHAT} (pid {process.pid}) has stopped: the Preview's rows are built when it is read" in caplog.text


def test_the_store_process_refuses_a_connection_without_the_token(shared: tuple[SQLiteStore, ChildProcess]) -> None:
    _store, process = shared
    directory = os.path.dirname(process.socket_path)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(process.socket_path)
    with sock, sock.makefile("rb") as reader:
        sock.sendall(frame({"token": "not-the-token"}))
        with pytest.raises(EOFError):  # closed without an answer
            read_frame(reader)


def test_the_process_answers_index_and_refuses_other_operations(shared: tuple[SQLiteStore, ChildProcess]) -> None:
    store, process = shared
    link = Link(process.socket_path, process.token, process.pid, WHAT)
    try:
        with pytest.raises(TransportError, match="unknown operation 'add'"):
            link.call({"op": "add"}, to_wire([]))
        answer, _ = link.call({"op": "index"})  # the process serves on
        assert answer == {"stored": 0}
    finally:
        link.close()
    assert store.count() == 0


def wire_items(count: int, first: int = 0) -> list[tuple[Any, ...]]:
    """``count`` spoolable items (page views of the default container, as the writer encodes them)."""
    container = load_container()
    store = SQLiteStore(":memory:")
    store.explainer = lambda stored: stored
    out = []
    for n in range(first, first + count):
        report = container.simulate("GET", PAGE_VIEW.format(n=n), now=1_700_000_000 + n)
        out.append(_wire(store._outcome_of(report, "k", 1.0, 1_700_000_000.0 + n)))
    store.close()
    return out


def spool_file(directory: str, frames: list[bytes | tuple[bytes, int, float]]) -> str:
    """A finished spool file holding ``frames`` (a payload with its item count and time, or raw bytes)."""
    writer = spool.SpoolWriter(directory)
    for f in frames:
        if isinstance(f, tuple):
            writer.append(*f)
        else:
            assert writer.fd is not None
            os.write(writer.fd, f)
    name = f"{writer.pid}-{writer.token}-{writer.sequence:06d}{spool.SUFFIX}"
    writer.close()
    return name


def test_damaged_spool_frames_are_reported_by_name_and_the_rest_is_stored(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SQLiteStore(tmp_path / "p.sqlite3")
    directory = spool.spool_dir(store.path)
    items = wire_items(4)
    good = to_wire(items[:2])
    flipped = bytearray(to_wire(items[2:3]))
    flipped[-1] ^= 0xFF
    header = spool.HEADER.pack(spool.MAGIC, len(flipped), zlib.crc32(to_wire(items[2:3])), 1, 3.0)
    name = spool_file(directory, [
        (good, 2, 1.0),
        (b"\x00not marshal", 5, 2.0),
        header + bytes(flipped),  # its checksum does not match
        (marshal.dumps([("x",), items[3]]), 2, 4.0),  # an item that is not one, then a good one
        b"GSP1\x10\x00",  # a torn last frame: the writer was killed in the middle of a write
    ])
    with caplog.at_level(logging.WARNING, logger="gtm_emulator"):
        assert store.count() == 3
    assert f"spool file {name}, frame at offset" in caplog.text and "its 5 hits are not stored" in caplog.text
    assert "does not match its checksum" in caplog.text
    assert "item 0: an unknown kind of item" in caplog.text
    assert f"spool file {name} ends with 6 bytes, less than a frame's header" in caplog.text
    assert os.listdir(directory) == []  # finished and indexed to its end: deleted
    assert [r["url"] for r in store.list_requests()] == [
        "/g/collect?v=2&tid=G-TEST&cid=1.2&en=page_view&dl=https%3A%2F%2Fshop.example%2Fp" + str(n) for n in (3, 1, 0)]
    store.close()


def test_hits_retention_would_delete_are_passed_over_with_the_same_ids(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    items = wire_items(60)
    spooled = SQLiteStore(tmp_path / "spooled.sqlite3", retention=25)
    directory = spool.spool_dir(spooled.path)
    spool_file(directory, [(to_wire(items[k:k + 10]), 10, 1_700_000_000.0 + k) for k in range(0, 60, 10)])
    built = []
    real = spooled._insert_many
    monkeypatch.setattr(spooled, "_insert_many", lambda conn, batch: built.append(len(batch)) or real(conn, batch))
    listed = spooled.list_requests(limit=100)
    assert sum(built) == 30  # three frames of ten passed over, not built: the rest is 25 and the frame cut by it
    direct = SQLiteStore(tmp_path / "direct.sqlite3", retention=25)
    for k in range(0, 60, 10):
        direct._commit_batch([_Pending(_rows_of_wire(w)) for w in items[k:k + 10]])
    assert [(r["id"], r["url"]) for r in listed] == [(r["id"], r["url"]) for r in direct.list_requests(limit=100)]
    assert listed[0]["id"] == 60 and len(listed) == 25
    spooled.close()
    direct.close()


def test_the_spool_stays_bounded_when_nothing_indexes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool, "FILE_BYTES", 4096)  # a new file every few batches: each one trims
    store = SQLiteStore(tmp_path / "p.sqlite3", background=True, retention=20)
    store.spool_writes()
    items = wire_items(1)
    report = load_container().simulate("GET", PAGE_VIEW.format(n=1))
    for _ in range(40):
        for _ in range(10):
            store.hook(report, 1.0)
        assert store.flush(10)
    directory = spool.spool_dir(store.path)
    waiting = sum(fr.items for f in spool.scan(directory, {}) for fr in f.frames)
    per_file = spool.FILE_BYTES // len(to_wire(items * 10)) * 10 + 10
    assert waiting <= 20 + 2 * per_file < 400  # not the 400 answered
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 0  # nothing was built
    assert store.count() == 20
    assert store.list_requests(limit=1)[0]["id"] == 400
    store.close()


def test_a_file_a_writer_holds_is_kept_until_it_is_finished(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "p.sqlite3")
    directory = spool.spool_dir(store.path)
    writer = spool.SpoolWriter(directory)
    writer.append(to_wire(wire_items(2)), 2, 1.0)
    assert store.count() == 2
    assert len(os.listdir(directory)) == 1  # indexed to its end, but its writer may append more
    writer.append(to_wire(wire_items(1, first=2)), 1, 2.0)
    writer.close()
    assert store.count() == 3
    assert os.listdir(directory) == []
    store.close()


FORKED_WORKERS = """
import os, sys, time
from gtm_emulator import load_container
from gtm_emulator.core.js import UNDEFINED
from gtm_emulator.server.store import SQLiteStore
from gtm_emulator.server.store_process import share_store_writes
store = SQLiteStore(sys.argv[1], background=True, flush_interval=0.3)
process = share_store_writes(store)
report = load_container().simulate("GET", "/g/collect?v=2&tid=G-TEST&cid=1.2&en=page_view")
kids = []
for k in range(2):  # like gunicorn workers: each queues 20 reports, then stays alive
    pid = os.fork()
    if pid == 0:
        for _ in range(20):
            store.hook(report, 1.0)
        time.sleep(2)
        os._exit(0)
    kids.append(pid)
time.sleep(0.1)
print(store.count())  # the parent's read waits for both children's rounds
for pid in kids:
    os.waitpid(pid, 0)
store.close()
process.stop()
"""


def test_a_read_waits_for_what_workers_sent_to_the_process(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", FORKED_WORKERS, str(tmp_path / "f.sqlite3")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "40"
    assert time.monotonic() - started < 30


def test_a_call_marshal_cannot_carry_is_sent_as_its_json_text(
        shared: tuple[SQLiteStore, ChildProcess], monkeypatch: pytest.MonkeyPatch) -> None:
    """A body with an undefined member (or a str subclass) cannot go through marshal: that call goes
    as the JSON text the worker writes, and the batch still reaches the store's process."""
    store, _process = shared
    container = load_container()
    store.explainer = lambda stored: stored  # outcomes are kept (what install_preview sets)
    report = container.simulate("GET", PURCHASE.format(n=1), now=1_700_000_000)
    outgoing = report.events[0].outgoing[0]
    outgoing.body = {**outgoing.body, "note": UNDEFINED, "label": Label("gift")}
    expected = json.loads(outgoing.to_json())
    assert "note" not in expected["body"] and expected["body"]["label"] == "gift"

    def not_here(batch: Any) -> None:
        raise AssertionError("a batch was committed in the worker, not appended to the spool")

    monkeypatch.setattr(store, "_commit_batch", not_here)
    store.hook(report, 1.0, container_key="k")
    stored = store.list_outgoing()
    assert len(stored) == 1
    assert stored[0]["body"] == expected["body"]


class Label(str):
    """A str subclass (marshal takes exact types only)."""


def test_the_process_indexes_only_while_the_machine_has_idle_cpu(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from gtm_emulator.server import store_process

    idle = [0.0]
    monkeypatch.setattr(store_process.IdleMeter, "share", lambda self: idle[0])
    monkeypatch.setattr(store_process, "IDLE_INTERVAL", 0.02)
    path = str(tmp_path / "p.sqlite3")
    SQLiteStore(path).close()
    spool_file(spool.spool_dir(path), [(to_wire(wire_items(3)), 3, 1.0)])

    def rows() -> int:
        with sqlite3.connect(path) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0])

    indexer = store_process._Indexer({"path": path, "retention": 100, "body_limit": 65536, "busy_timeout_ms": 1000})
    try:
        time.sleep(0.3)  # fifteen looks at a machine with no idle CPU
        assert rows() == 0
        idle[0] = store_process.MIN_IDLE
        deadline = time.monotonic() + 10
        while rows() < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert rows() == 3
        assert os.listdir(spool.spool_dir(path)) == []
    finally:
        indexer.close()


def test_the_idle_meter_reads_a_share_of_the_machine() -> None:
    from gtm_emulator.server.store_process import IdleMeter

    meter = IdleMeter()
    time.sleep(0.05)
    assert 0.0 <= meter.share() <= 1.0


def test_a_writer_does_not_wait_on_a_held_lock_to_trim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new spool file trims the spool under the write lock; when someone holds the lock (an
    indexer starved of CPU), the writer tries again at its next file instead of waiting 10 s."""
    monkeypatch.setattr(spool, "FILE_BYTES", 2048)
    store = SQLiteStore(tmp_path / "p.sqlite3", background=True, retention=5)
    store.spool_writes()
    report = load_container().simulate("GET", PAGE_VIEW.format(n=1))
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        for _ in range(6):
            for _ in range(5):
                store.hook(report, 1.0)
            assert store.flush(5)
        assert time.monotonic() - started < 3  # six new files, each trim gave up after 50 ms
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.count() == 5
    store.close()
