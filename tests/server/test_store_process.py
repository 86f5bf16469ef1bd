"""The Preview store's process: every worker's batches committed by one process of their own
(gtm_emulator/server/store_process.py)."""

from __future__ import annotations

import json
import logging
import marshal
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gtm_emulator import load_container
from gtm_emulator.core.js import UNDEFINED
from gtm_emulator.errors import TransportError
from gtm_emulator.server.app import create_app
from gtm_emulator.server.store import SQLiteStore, to_wire
from gtm_emulator.server.store_process import WHAT, share_store_writes
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


def test_batches_are_committed_by_the_process_and_reads_see_them(
        shared: tuple[SQLiteStore, ChildProcess], monkeypatch: pytest.MonkeyPatch) -> None:
    store, _process = shared

    def not_here(batch: Any) -> None:
        raise AssertionError("a batch was committed in the worker, not by the store's process")

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
    assert purchase["explanation"]["matches"] is True  # re-run from what the process stored


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
        assert store.count() == 25  # the worker committed them itself
    assert "commits its Preview rows itself" in caplog.text
    assert f"{WHAT} (pid {process.pid}) is not answering" in caplog.text


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


def test_a_malformed_batch_is_refused_by_name(shared: tuple[SQLiteStore, ChildProcess]) -> None:
    store, process = shared
    link = Link(process.socket_path, process.token, process.pid, WHAT)
    try:
        with pytest.raises(TransportError, match="a batch that is not one"):
            link.call({"op": "add"}, b"\x00not marshal")
        with pytest.raises(TransportError, match="item 0 of the batch"):
            link.call({"op": "add"}, marshal.dumps([("x",)]))
        with pytest.raises(TransportError, match="unknown operation 'drop'"):
            link.call({"op": "drop"})
        answer, _ = link.call({"op": "add"}, to_wire([]))  # the process serves on
        assert answer == {"stored": 0, "failed": 0}
    finally:
        link.close()
    assert store.count() == 0


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
        raise AssertionError("a batch was committed in the worker, not by the store's process")

    monkeypatch.setattr(store, "_commit_batch", not_here)
    store.hook(report, 1.0, container_key="k")
    stored = store.list_outgoing()
    assert len(stored) == 1
    assert stored[0]["body"] == expected["body"]


class Label(str):
    """A str subclass (marshal takes exact types only)."""
