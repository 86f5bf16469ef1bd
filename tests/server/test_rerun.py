"""The Preview store keeps what happened and explains a request when it is read (server/rerun.py)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gtm_emulator import load_container
from gtm_emulator.core.request import Request
from gtm_emulator.errors import TransportError
from gtm_emulator.server.app import create_app, set_container
from gtm_emulator.server.rerun import STORAGE_NOTE, fingerprint, request_from_record, request_record
from gtm_emulator.server.store import SQLiteStore
from gtm_emulator.vendors.transport import AnsweringTransport

PURCHASE = ("/g/collect?v=2&tid=G-TEST&cid=1.2&en=purchase&cu=EUR&epn.value=25&ep.transaction_id=T1"
            "&ep.event_id=E1&pr1=idSKU-1~nmMug~pr12.5~qt2")
PAGE_VIEW = "/g/collect?v=2&tid=G-TEST&cid=1.2&en=page_view&dl=https%3A%2F%2Fshop.example%2F"
NOW = 1_700_000_000.25


def serve(container: Any, store: SQLiteStore) -> Any:
    return create_app(container, store=store, log_requests=False, now=lambda: NOW).test_client()


def stored_row(store: SQLiteStore, request_id: int) -> tuple[str, bytes | None]:
    with store._conn() as conn:
        report, data = conn.execute("SELECT report, input FROM requests WHERE id = ?", (request_id,)).fetchone()
    return report, data


def test_the_request_runs_without_explanations_and_is_explained_when_read(tmp_path: Path) -> None:
    container = load_container()
    with SQLiteStore(tmp_path / "p.sqlite3") as store:
        client = serve(container, store)
        assert client.get(PURCHASE).status_code == 204
        rid = store.summary()["last_id"]
        report_column, data = stored_row(store, rid)
        assert json.loads(report_column) == {"rerun": {"now": NOW, "container": fingerprint(container)}}
        received = request_from_record(data)
        assert received.query == PURCHASE.split("?", 1)[1]
        record = store.get_request(rid)
    assert record["explanation"] == {"rerun": True, "matches": True, "differences": []}
    # the explanation is the one a run with explanations gives, and what happened is what was stored
    container.tiktok_mock.reset()  # the same answer again (a fresh de-duplication memory)
    direct = container.handle(received, now=NOW, explain=True).to_dict()
    (event,) = record["events"]
    (direct_event,) = direct["events"]
    assert event["event_data"] == direct_event["event_data"]
    assert event["variables"] == direct_event["variables"]
    assert event["console"] == direct_event["console"]
    (tag,) = event["tags"]
    assert tag["status"] == "success" and tag["fired"] is True
    assert tag["triggers"] == direct_event["tags"][0]["triggers"]
    assert [c["variable"] for c in tag["triggers"][0]["conditions"]] == ["Client Name", "Event Name"]
    (out,) = event["outgoing"]
    assert out["vendor_ok"] is True and out["response"]["status"] == 200
    assert out["body"] == direct_event["outgoing"][0]["body"]


def test_explaining_sends_nothing_and_changes_no_state(tmp_path: Path) -> None:
    container = load_container()
    with SQLiteStore(tmp_path / "p.sqlite3") as store:
        client = serve(container, store)
        client.get(PURCHASE)
        received = len(container.tiktok_mock.requests)
        for _ in range(3):
            assert client.get(f"/_emulator/api/requests/{store.summary()['last_id']}").status_code == 200
        assert len(container.tiktok_mock.requests) == received == 1


def test_template_storage_is_not_changed_by_a_rerun(tmp_path: Path) -> None:
    from helpers import tpl

    code = """
      const s = require('templateDataStorage');
      const n = (s.getItemCopy('n') || 0) + 1; s.setItemCopy('n', n);
      require('logToConsole')('run ' + n); data.gtmOnSuccess();
    """
    (tmp_path / "counter.tpl").write_text(tpl(code), "utf-8")
    counter = {"name": "Counter", "type": "template", "template": str(tmp_path / "counter.tpl"),
               "firing_triggers": ["All Events"]}
    container = load_container({"name": "counter", "clients": [{"name": "GA4", "type": "ga4"}], "tags": [counter]})
    container.set_mode(preview=False)  # storage outlives the request, as in a published container
    with SQLiteStore(tmp_path / "p.sqlite3") as store:
        client = serve(container, store)
        client.get(PAGE_VIEW)
        first = store.get_request(1)
        # the re-run reads the storage as it is now (1 run so far), and says so
        assert first["events"][0]["console"] == ["run 2"]
        assert first["explanation"]["notes"] == [STORAGE_NOTE]
        store.get_request(1)
        client.get(PAGE_VIEW)  # the live container's storage went on from 1, not from the re-runs
        second = store.get_request(2)
    assert second["events"][0]["console"] == ["run 3"]  # read now: after runs 1 and 2
    assert "notes" not in store_free_explanation()


def store_free_explanation() -> dict[str, Any]:
    """A request whose templates read no storage has no note."""
    with SQLiteStore(":memory:") as store:
        serve(load_container(), store).get(PURCHASE)
        return store.get_request(1)["explanation"]


def test_a_rerun_that_does_not_agree_says_how(tmp_path: Path) -> None:
    container = load_container()
    with SQLiteStore(tmp_path / "p.sqlite3") as store:
        client = serve(container, store)
        client.get(PURCHASE)
        with store._conn() as conn:  # the record says another body was sent and the tag failed
            entry = json.loads(conn.execute("SELECT entry FROM outgoing").fetchone()[0])
            entry["body"]["data"][0]["event"] = "Something else"
            summary = json.loads(conn.execute("SELECT summary FROM requests").fetchone()[0])
            summary[1][0][1][0][1] = "failure"
            conn.execute("UPDATE outgoing SET entry = ?", (json.dumps(entry),))
            conn.execute("UPDATE requests SET summary = ?", (json.dumps(summary),))
        record = store.get_request(1)
    assert record["explanation"]["rerun"] is True and record["explanation"]["matches"] is False
    assert record["explanation"]["differences"] == [
        "event 0: tag 'TikTok - purchase' was failure, now success",
        "event 0, outgoing 0 (TikTok - purchase): the body sent differs",
    ]
    tag = record["events"][0]["tags"][0]
    assert tag["status"] == "failure"  # what happened stays the record's
    assert record["events"][0]["outgoing"][0]["body"]["data"][0]["event"] == "Something else"


def test_requests_of_an_earlier_configuration(tmp_path: Path) -> None:
    first = load_container()
    changed = json.loads(json.dumps(first.config))
    changed["tags"][0]["parameters"]["event"] = "Purchase"
    second = load_container(changed, base_dir=Path(first.source).parent)
    assert fingerprint(first) != fingerprint(second)
    path = tmp_path / "p.sqlite3"
    with SQLiteStore(path) as store:
        app = create_app(first, store=store, log_requests=False, now=lambda: NOW)
        app.test_client().get(PURCHASE)
        set_container(app, second)
        app.test_client().get(PURCHASE)
        old, new = store.get_request(1), store.get_request(2)
    assert old["explanation"]["matches"] and new["explanation"]["matches"]  # each on its own configuration
    assert old["events"][0]["outgoing"][0]["body"]["data"][0]["event"] == "CompletePayment"
    assert new["events"][0]["outgoing"][0]["body"]["data"][0]["event"] == "Purchase"
    with SQLiteStore(path) as reopened:  # a restart on the second configuration only
        create_app(second, store=reopened, log_requests=False)
        old, new = reopened.get_request(1), reopened.get_request(2)
    assert new["explanation"]["matches"]
    assert old["explanation"]["rerun"] is False and "another configuration" in old["explanation"]["why"]
    assert old["events"][0]["tags"][0]["status"] == "success"  # what happened is still there
    assert old["events"][0]["outgoing"][0]["response"]["status"] == 200
    assert old["request"]["query"] == PURCHASE.split("?", 1)[1]
    with SQLiteStore(path) as bare:  # no container at all
        assert bare.get_request(2)["explanation"]["rerun"] is False


def test_a_store_of_the_first_schema_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        CREATE TABLE requests (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, elapsed_ms REAL,
            method TEXT NOT NULL, url TEXT NOT NULL, status INTEGER NOT NULL, client TEXT, remote_addr TEXT,
            n_events INTEGER NOT NULL, n_fired INTEGER NOT NULL, n_succeeded INTEGER NOT NULL,
            n_failed INTEGER NOT NULL, n_rejected INTEGER NOT NULL, n_outgoing INTEGER NOT NULL,
            body_truncated INTEGER NOT NULL, summary TEXT NOT NULL, report TEXT NOT NULL);
        CREATE TABLE events (request_id INTEGER NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL,
            PRIMARY KEY (request_id, idx));
        CREATE TABLE tags (request_id INTEGER NOT NULL, event_idx INTEGER NOT NULL, name TEXT NOT NULL,
            status TEXT NOT NULL, fired INTEGER NOT NULL, vendor_rejected INTEGER NOT NULL);
        CREATE TABLE outgoing (id INTEGER PRIMARY KEY AUTOINCREMENT, request_id INTEGER NOT NULL,
            event_idx INTEGER NOT NULL, idx INTEGER NOT NULL, time REAL NOT NULL, tag TEXT NOT NULL,
            method TEXT NOT NULL, url TEXT NOT NULL, status INTEGER, vendor_ok INTEGER, entry TEXT NOT NULL);
    """)
    summary = {"events": [{"index": 0, "event_name": "purchase", "tags_fired": ["T"], "tags_failed": [],
                           "tags_rejected": ["T"], "tags_not_fired": []}], "reason": None}
    report = {"request": {"method": "GET", "path": "/g/collect"}, "client": "GA4", "response": {"status": 204},
              "events": [{"event_data": {"event_name": "purchase"}, "tags": [{"name": "T", "status": "success"}]}]}
    conn.execute("INSERT INTO requests VALUES (1, 1.0, 2.0, 'GET', '/g/collect', 204, 'GA4', '', 1, 1, 1, 0, 1, 0,"
                 " 0, ?, ?)", (json.dumps(summary), json.dumps(report)))
    conn.execute("INSERT INTO events VALUES (1, 0, 'purchase')")
    conn.execute("INSERT INTO tags VALUES (1, 0, 'T', 'success', 1, 1)")
    conn.commit()
    conn.close()
    with SQLiteStore(path) as store:
        assert [r["id"] for r in store.list_requests(event="purchase")] == [1]
        assert [r["id"] for r in store.list_requests(tag="T", tag_status="rejected")] == [1]
        assert store.list_requests(tag="T", tag_status="failure") == []
        assert store.list_requests(event="page_view") == []
        assert store.get_request(1)["events"][0]["tags"] == [{"name": "T", "status": "success"}]
        with store._conn() as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    assert "events" not in tables and "tags" not in tables and version == "2"


def test_a_store_of_a_newer_schema_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    with SQLiteStore(path) as store, store._conn() as conn:
        conn.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    with pytest.raises(ValueError, match="schema 9"):
        SQLiteStore(path)


def test_filters_match_whole_names_even_with_delimiters(tmp_path: Path) -> None:
    names = ["a", "a\x1eb", "b\x1f", "\x1c0", "s\x1ea"]
    with SQLiteStore(tmp_path / "p.sqlite3") as store:
        ids = {}
        for name in names:
            ids[name] = store.add({"request": {"method": "GET", "path": "/x"}, "client": "C",
                                   "response": {"status": 204}, "events": [{"event_data": {"event_name": name},
                                               "tags": [{"name": name, "status": "success", "fired": True}]}]})
        for name in names:
            assert [r["id"] for r in store.list_requests(event=name)] == [ids[name]], name
            assert [r["id"] for r in store.list_requests(tag=name)] == [ids[name]], name
            assert [r["id"] for r in store.list_requests(tag=name, tag_status="success")] == [ids[name]], name
        assert store.list_requests(tag="a", tag_status="failure") == []
        assert len(store.list_requests(tag_status="success")) == len(names)


def test_answering_transport_replays_in_order_and_names_what_differs() -> None:
    entries = [
        {"method": "POST", "url": "https://v.example/a?access_token=****", "response":
            {"status": 200, "headers": {"content-type": "application/json"}, "body": {"ok": True}}},
        {"method": "POST", "url": "https://v.example/b", "error": "timed_out: no answer within 1 s"},
    ]
    answers = AnsweringTransport(entries, secrets={"TOPSECRET"})
    first = answers.send("POST", "https://v.example/a?access_token=TOPSECRET", {}, b"")
    assert (first.status, first.json()) == (200, {"ok": True})
    with pytest.raises(TransportError) as failed:
        answers.send("POST", "https://v.example/b", {}, b"")
    assert failed.value.reason == "timed_out"
    with pytest.raises(TransportError):
        answers.send("GET", "https://v.example/c?key=TOPSECRET", {}, b"")
    assert answers.mismatches == ["GET https://v.example/c?key=****: an outgoing call the stored request did not make"]


header_text = (st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
               | st.sampled_from(["UA \udcff x", "\x00"]))


@settings(max_examples=200, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "OPTIONS"]), path=header_text, query=header_text,
       headers=st.lists(st.tuples(header_text, header_text), max_size=4), body=st.binary(max_size=64),
       remote=header_text, scheme=st.sampled_from(["http", "https"]))
def test_a_stored_request_reads_back_exactly(method: str, path: str, query: str, headers: list[tuple[str, str]],
                                             body: bytes, remote: str, scheme: str) -> None:
    request = Request(method=method, path=path, query=query, headers=tuple(headers), body=body, remote_addr=remote,
                      scheme=scheme)
    assert request_from_record(request_record(request)) == request


@pytest.mark.parametrize("data", [b"", b"1GET", b"1GET\x00/\x00\x00\x00http\x002\x00A\x00", b"J{", b"Jnull", "text"])
def test_a_damaged_stored_request_is_a_value_error(data: Any) -> None:
    with pytest.raises(ValueError, match="stored request"):
        request_from_record(data)
