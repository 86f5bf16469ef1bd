"""The preview store: saving reports, filters, retention, persistence, concurrent writers."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from gtm_emulator import load_container
from gtm_emulator.errors import RequestError
from gtm_emulator.loading.config import default_container_path
from gtm_emulator.server.store import RequestFilter, SQLiteStore, parse_since

TOKEN = "3e0c3fd7f678648665e3b09eb2a045339905fd2b"
TAG = "TikTok - purchase"
REPO = Path(__file__).resolve().parents[2]


def hit(en: str, **extra: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"v": "2", "tid": "G-TEST", "cid": "1.2", "en": en, **extra}.items())
    return f"/g/collect?{query}"


@pytest.fixture(scope="module")
def container() -> Any:
    return load_container()


@pytest.fixture(scope="module")
def reports(container: Any) -> dict[str, dict[str, Any]]:
    """Reports of a few kinds of hits, as dicts."""
    path = default_container_path()
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["tags"][0]["parameters"]["pixel_code"] = "COTHER0PIXEL00000002"
    rejecting = load_container(raw, base_dir=path.parent)
    purchase = container.simulate("GET", hit("purchase", cu="EUR", **{"epn.value": "10"}), now=1_700_000_000)
    page_view = container.simulate("GET", hit("page_view"), now=1_700_000_000)
    unclaimed = container.simulate("GET", "/nothing/here", now=1_700_000_000)
    rejected = rejecting.simulate("GET", hit("purchase"), now=1_700_000_000)
    failed = copy.deepcopy(purchase.to_dict())
    failed["events"][0]["tags"][0].update(status="failure", error="the tag failed")
    batch = container.simulate("POST", "/g/collect?v=2&tid=G-TEST&cid=1.2",
                               body="en=page_view\nen=purchase&epn.value=3", now=1_700_000_000)
    assert rejected.tag_results(TAG)[0].vendor_rejected
    assert unclaimed.client is None
    assert len(batch.events) == 2
    return {"purchase": purchase.to_dict(), "page_view": page_view.to_dict(), "unclaimed": unclaimed.to_dict(),
            "rejected": rejected.to_dict(), "failed": failed, "batch": batch.to_dict()}


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with SQLiteStore(tmp_path / "store.sqlite3") as s:
        yield s


def fill(store: SQLiteStore, reports: dict[str, dict[str, Any]]) -> dict[str, int]:
    ids = {}
    for at, name in enumerate(["purchase", "page_view", "unclaimed", "rejected", "failed", "batch"]):
        ids[name] = store.add(reports[name], elapsed_ms=1.5, at=1000.0 + at)
    return ids


def ids_of(items: list[dict[str, Any]]) -> list[int]:
    return [item["id"] for item in items]


def test_hook_saves_the_report_in_full_with_secrets_masked(store: SQLiteStore, container: Any) -> None:
    report = container.simulate("GET", hit("purchase", cu="EUR", **{"epn.value": "10"}))
    store.hook(report, 2.25)
    [listed] = store.list_requests()
    record = store.get_request(listed["id"])
    assert record is not None
    expected = report.to_dict()
    for key in ("client", "response"):
        assert record[key] == expected[key]
    assert record["request"]["query"] == expected["request"]["query"]
    assert record["events"][0]["event_data"] == expected["events"][0]["event_data"]
    assert record["events"][0]["tags"] == expected["events"][0]["tags"]
    assert record["events"][0]["outgoing"][0]["headers"]["Access-Token"] == "****"
    assert record["events"][0]["variables"]["TikTok access token"] == "****"
    assert record["events"][0]["event_name"] == "purchase"
    assert record["elapsed_ms"] == 2.25 and record["method"] == "GET" and record["status"] == 204
    assert record["url"] == "/g/collect?" + expected["request"]["query"]
    assert TOKEN not in json.dumps(record)
    with store._conn() as conn:  # nothing secret anywhere in the file either
        dump = "\n".join(conn.iterdump())
    assert TOKEN not in dump
    assert listed["counts"] == {"events": 1, "tags_fired": 1, "tags_succeeded": 1, "tags_failed": 0,
                                "tags_rejected_by_vendor": 0, "outgoing": 1}
    assert listed["events"] == [{"index": 0, "event_name": "purchase", "tags_fired": [TAG], "tags_failed": [],
                                 "tags_rejected": [], "tags_not_fired": []}]


def test_filters(store: SQLiteStore, reports: dict[str, dict[str, Any]]) -> None:
    ids = fill(store, reports)
    newest_first = sorted(ids.values(), reverse=True)
    assert ids_of(store.list_requests()) == newest_first
    assert ids_of(store.list_requests(event="purchase")) == [ids["batch"], ids["failed"], ids["rejected"],
                                                            ids["purchase"]]
    assert ids_of(store.list_requests(event="page_view")) == [ids["batch"], ids["page_view"]]
    assert store.list_requests(event="no_such_event") == []
    # tag: the tag fired; tag_status narrows to a status
    assert ids_of(store.list_requests(tag=TAG)) == [ids["batch"], ids["failed"], ids["rejected"], ids["purchase"]]
    assert ids_of(store.list_requests(tag=TAG, tag_status="not_fired")) == [ids["batch"], ids["page_view"]]
    assert ids_of(store.list_requests(tag=TAG, tag_status="failure")) == [ids["failed"]]
    assert ids_of(store.list_requests(tag_status="rejected")) == [ids["rejected"]]
    assert ids_of(store.list_requests(tag_status="success")) == [ids["batch"], ids["rejected"], ids["purchase"]]
    assert store.list_requests(tag="No such tag") == []
    with pytest.raises(RequestError) as bad:
        store.list_requests(tag_status="great")
    assert bad.value.status == 400
    # status: exact or a class
    assert ids_of(store.list_requests(status="400")) == [ids["unclaimed"]]
    assert ids_of(store.list_requests(status="4xx")) == [ids["unclaimed"]]
    assert len(store.list_requests(status="2xx")) == 5
    with pytest.raises(RequestError):
        store.list_requests(status="ok")
    # time and id
    assert ids_of(store.list_requests(since=1004.0)) == [ids["batch"], ids["failed"]]
    assert ids_of(store.list_requests(after=ids["failed"])) == [ids["batch"]]
    # client: a name, or "" for requests no client claimed
    assert ids_of(store.list_requests(client="")) == [ids["unclaimed"]]
    assert len(store.list_requests(client="GA4")) == 5
    assert store.list_requests(client="MP") == []
    # rejected by the vendor, or not
    assert ids_of(store.list_requests(rejected=True)) == [ids["rejected"]]
    assert ids["rejected"] not in ids_of(store.list_requests(rejected=False))
    # filters combine, and page
    assert ids_of(store.list_requests(event="purchase", since=1003.5, rejected=False)) == [ids["batch"], ids["failed"]]
    assert ids_of(store.list_requests(limit=2)) == newest_first[:2]
    assert ids_of(store.list_requests(limit=2, offset=2)) == newest_first[2:4]
    assert ids_of(store.list_requests(RequestFilter(limit=1, offset=5))) == newest_first[5:]


def test_unclaimed_and_batched_requests_are_summarised(store: SQLiteStore, reports: dict[str, dict[str, Any]]) -> None:
    ids = fill(store, reports)
    [unclaimed] = store.list_requests(client="")
    assert unclaimed["client"] is None and unclaimed["status"] == 400 and unclaimed["events"] == []
    assert unclaimed["reason"]
    record = store.get_request(ids["batch"])
    assert record is not None
    assert [e["event_name"] for e in record["events"]] == ["page_view", "purchase"]
    [batch] = store.list_requests(after=ids["failed"])
    assert [e["tags_fired"] for e in batch["events"]] == [[], [TAG]]
    assert batch["events"][0]["tags_not_fired"] == [TAG]


def test_outgoing_and_summary(store: SQLiteStore, reports: dict[str, dict[str, Any]]) -> None:
    ids = fill(store, reports)
    out = store.list_outgoing()
    assert [o["request_id"] for o in out] == [ids["batch"], ids["failed"], ids["rejected"], ids["purchase"]]
    assert all(o["tag"] == TAG and o["method"] == "POST" and o["headers"]["Access-Token"] == "****" for o in out)
    [rejected] = store.list_outgoing(vendor_ok=False)
    assert rejected["request_id"] == ids["rejected"]
    assert rejected["response"]["status"] == 200 and rejected["response"]["body"]["code"] == 40001
    assert len(store.list_outgoing(vendor_ok=True)) == 3
    [batch_out] = store.list_outgoing(request_id=ids["batch"])
    assert batch_out["event_index"] == 1 and batch_out["body"]["data"][0]["event"] == "CompletePayment"
    assert store.list_outgoing(tag="Other") == []
    assert len(store.list_outgoing(limit=1, offset=1)) == 1
    summary = store.summary()
    assert summary["requests"] == 6
    assert summary["events"] == 1 + 1 + 0 + 1 + 1 + 2
    assert summary["tags_fired"] == 4
    assert summary["tags_succeeded"] == 3
    assert summary["tags_failed"] == 1
    assert summary["tags_rejected_by_vendor"] == 1
    assert summary["outgoing"] == 4 and summary["outgoing_not_ok"] == 1
    assert summary["first_time"] == 1000.0 and summary["last_time"] == 1005.0
    assert summary["last_id"] == ids["batch"]


def test_reset_deletes_everything_and_ids_keep_growing(store: SQLiteStore, reports: dict[str, dict[str, Any]]) -> None:
    ids = fill(store, reports)
    assert store.reset() == 6
    assert store.list_requests() == [] and store.list_outgoing() == []
    summary = store.summary()
    assert summary["requests"] == 0 and summary["tags_fired"] == 0 and summary["last_id"] is None
    new_id = store.add(reports["purchase"])
    assert new_id > max(ids.values())
    assert store.get_request(ids["purchase"]) is None


def test_retention_keeps_the_newest(tmp_path: Path, reports: dict[str, dict[str, Any]]) -> None:
    with SQLiteStore(tmp_path / "r.sqlite3", retention=5) as store:
        added = [store.add(reports["purchase"] if i % 2 else reports["page_view"]) for i in range(12)]
        assert store.count() == 5
        assert ids_of(store.list_requests()) == sorted(added[-5:], reverse=True)
        assert {o["request_id"] for o in store.list_outgoing()} <= set(added[-5:])
        assert len(store.list_outgoing()) == 3  # the purchases (odd i: 7, 9, 11) among the 5 kept
        assert store.summary()["events"] == 5
        assert store.get_request(added[0]) is None
        with store._conn() as conn:  # the outgoing rows were pruned too
            assert conn.execute("SELECT COUNT(*) FROM outgoing").fetchone()[0] == 3
    with pytest.raises(ValueError):
        SQLiteStore(":memory:", retention=0)


def test_survives_a_restart(tmp_path: Path, reports: dict[str, dict[str, Any]]) -> None:
    path = tmp_path / "nested" / "preview.sqlite3"
    with SQLiteStore(path) as first:
        ids = fill(first, reports)
        before = first.get_request(ids["rejected"])
    with SQLiteStore(path) as second:
        assert second.get_request(ids["rejected"]) == before
        assert second.summary()["requests"] == 6
        assert second.add(reports["purchase"]) == max(ids.values()) + 1
    with SQLiteStore(path) as third:
        assert third.count() == 7


def test_long_bodies_are_cut_and_flagged(tmp_path: Path, container: Any) -> None:
    body = "en=page_view&ep.note=" + "x" * 500
    report = container.simulate("POST", "/g/collect?v=2&tid=G-TEST&cid=1.2", body=body)
    with SQLiteStore(tmp_path / "b.sqlite3", body_limit=100) as store:
        rid = store.add(report.to_dict())
        record = store.get_request(rid)
        assert record is not None
        assert record["request"]["body"] == body[:100] and record["request"]["body_truncated"] is True
        assert record["body_truncated"] is True
        short = store.add(container.simulate("GET", hit("page_view")).to_dict())
        assert store.get_request(short)["body_truncated"] is False  # type: ignore[index]


def test_memory_store(reports: dict[str, dict[str, Any]]) -> None:
    store = SQLiteStore(":memory:")
    rid = store.add(reports["purchase"])
    assert store.get_request(rid)["client"] == "GA4"  # type: ignore[index]
    store.close()
    with pytest.raises(RuntimeError):
        store.count()


def test_parse_since() -> None:
    assert parse_since("1700000000.5") == 1700000000.5
    assert parse_since("2023-11-14T22:13:20Z") == 1700000000.0
    assert parse_since("2023-11-14T23:13:20+01:00") == 1700000000.0
    assert parse_since("2023-11-14T22:13:20") == 1700000000.0  # naive: UTC
    with pytest.raises(RequestError) as bad:
        parse_since("yesterday")
    assert bad.value.status == 400 and "since" in bad.value.reason


def test_threads_writing_one_file_lose_nothing(tmp_path: Path, reports: dict[str, dict[str, Any]]) -> None:
    path = tmp_path / "threads.sqlite3"
    with SQLiteStore(path) as store:
        per_thread, threads = 40, 6
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(per_thread):
                    store.add(reports["purchase"] if (n + i) % 2 else reports["page_view"])
            except BaseException as exc:  # reported below
                errors.append(exc)

        pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        assert errors == []
        assert store.count() == per_thread * threads
        assert store.summary()["tags_fired"] == per_thread * threads // 2
        assert len(store.list_outgoing(limit=1000)) == per_thread * threads // 2


WRITER = """
import sys
from gtm_emulator import load_container
from gtm_emulator.server.store import SQLiteStore
store = SQLiteStore(sys.argv[1])
container = load_container()
for i in range(int(sys.argv[2])):
    en = "purchase" if i % 2 else "page_view"
    store.hook(container.simulate("GET", f"/g/collect?v=2&tid=G-TEST&cid=1.2&en={en}"), 1.0)
store.close()
"""


def test_processes_writing_one_file_lose_nothing(tmp_path: Path) -> None:
    """Like several gunicorn workers: separate processes, one SQLite file."""
    path = tmp_path / "procs.sqlite3"
    SQLiteStore(path).close()
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    per_process, processes = 60, 3
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(per_process)], env=env,
                              stderr=subprocess.PIPE) for _ in range(processes)]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    with SQLiteStore(path) as store:
        assert store.count() == per_process * processes
        assert store.summary()["tags_fired"] == per_process * processes // 2
        assert len({r["id"] for r in store.list_requests(limit=1000)}) == per_process * processes


# ---------------------------------------------------------------------------------------------- background writer


def test_background_hook_returns_before_the_row_and_reads_see_it(tmp_path: Path, container: Any) -> None:
    path = tmp_path / "bg.sqlite3"
    with SQLiteStore(path, background=True, flush_interval=30.0) as store:  # the writer would wait 30 s
        report = container.simulate("GET", hit("purchase"), now=1_700_000_000)
        for _ in range(5):
            store.hook(report, 1.0)
        with SQLiteStore(path) as other:  # a plain reader of the file: nothing committed yet
            assert other.count() == 0
        assert store.count() == 5  # a read in the writing process waits for its own queue
        full = store.get_request(store.list_requests()[0]["id"])
        assert full is not None and TOKEN not in json.dumps(full)  # masked as with add()


def test_background_close_commits_everything_queued(tmp_path: Path, container: Any) -> None:
    path = tmp_path / "bg.sqlite3"
    store = SQLiteStore(path, background=True, flush_interval=30.0, max_batch=7)
    report = container.simulate("GET", hit("page_view"), now=1_700_000_000)
    for _ in range(100):
        store.hook(report, 1.0)
    store.close()
    with SQLiteStore(path) as reader:
        assert reader.count() == 100


def test_background_queue_is_bounded_and_drops_nothing(tmp_path: Path, container: Any) -> None:
    with SQLiteStore(tmp_path / "bg.sqlite3", background=True, max_queue=3, max_batch=2,
                     flush_interval=0.001) as store:
        report = container.simulate("GET", hit("page_view"), now=1_700_000_000)
        writer_queue_sizes = []
        for _ in range(60):
            store.hook(report, 1.0)
            writer = store._writer
            assert writer is not None
            writer_queue_sizes.append(len(writer.queue))
        assert max(writer_queue_sizes) <= 3
        assert store.count() == 60


FORKED_WRITER_READ = """
import os, sys, time
from gtm_emulator import load_container
from gtm_emulator.server.store import SQLiteStore
store = SQLiteStore(sys.argv[1], background=True, flush_interval=0.3)
report = load_container().simulate("GET", "/g/collect?v=2&tid=G-TEST&cid=1.2&en=page_view")
pid = os.fork()
if pid == 0:  # like a gunicorn worker: queue 20 reports, then stay alive until the writer commits them
    for _ in range(20):
        store.hook(report, 1.0)
    time.sleep(2)
    os._exit(0)
time.sleep(0.1)
print(store.count())  # the parent's read waits for the child's queue
os.waitpid(pid, 0)
"""


def test_a_read_waits_for_what_other_processes_queued(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", FORKED_WRITER_READ, str(tmp_path / "f.sqlite3")], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "20"


def test_retention_by_size_keeps_the_rows_under_the_limit(tmp_path: Path, reports: dict[str, dict[str, Any]]) -> None:
    limit = 256 * 1024
    with SQLiteStore(tmp_path / "sized.sqlite3", retention=10**6, retention_bytes=limit) as store:
        for _ in range(600):
            store.add(reports["batch"])
        with store._conn() as conn:
            page_size, pages, free = (conn.execute(f"PRAGMA {n}").fetchone()[0]
                                      for n in ("page_size", "page_count", "freelist_count"))
        assert (pages - free) * page_size <= limit * 1.1
        kept = store.count()
        assert 0 < kept < 600
        assert store.list_requests(limit=1)[0]["id"] == 600  # the newest are kept


def test_wal_is_truncated_after_checkpoints(tmp_path: Path, reports: dict[str, dict[str, Any]]) -> None:
    from gtm_emulator.server import store as store_module

    path = tmp_path / "wal.sqlite3"
    with SQLiteStore(path, retention=50) as store:
        with store._conn() as conn:
            assert conn.execute("PRAGMA journal_size_limit").fetchone()[0] == store_module.JOURNAL_SIZE_LIMIT
        for _ in range(300):
            store.add(reports["batch"])
    wal = Path(str(path) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # close() checkpoints and truncates the log


def test_retention_size_option_parses_sizes() -> None:
    from gtm_emulator.cli.main import parse_size

    assert parse_size("200MB") == 200_000_000
    assert parse_size("512MiB") == 512 * 2**20
    assert parse_size("2g") == 2 * 10**9
    assert parse_size("70000") == 70_000
    for bad in ("lots", "10 parsecs", "1KB"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_outcome_columns_remembered_by_shape_are_the_ones_computed() -> None:
    from gtm_emulator.server import store as store_module

    views = [("purchase", [("TikTok", "success", True, False), ("Ads", "not_emulated", True, False)]),
             ("page_view", [("TikTok", "not_fired", False, False)])]
    store_module._SHAPES.clear()
    fresh = store_module._outcome_columns(None, views)
    again = store_module._outcome_columns(None, [(name, list(tags)) for name, tags in views])  # a copy, from the cache
    assert again is fresh and len(store_module._SHAPES) == 1
    assert fresh[2] == (2, 2, 1, 0, 0)
    assert json.loads(fresh[0]) == [None, [[n, [list(t) for t in tags]] for n, tags in views]]
    other = store_module._outcome_columns("no client claimed the request", views)  # another reason: its own entry
    assert json.loads(other[0])[0] == "no client claimed the request" and len(store_module._SHAPES) == 2
    odd = [("e", [(["not", "hashable"], "success", True, False)])]  # computed without the cache
    assert store_module._outcome_columns(None, odd)[2] == (1, 1, 1, 0, 0) and len(store_module._SHAPES) == 2
