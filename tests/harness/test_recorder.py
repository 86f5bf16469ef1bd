"""The NDJSON recorder: line format, the report hook, the WSGI wrapper, thread and process safety."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from gtm_emulator import load_container
from gtm_emulator.core.request import Request
from gtm_emulator.harness.recorder import Recorder, request_to_record
from gtm_emulator.harness.replay import ReplaySource, replay, replay_container
from gtm_emulator.server.app import create_app

ROOT = Path(__file__).resolve().parents[2]
HIT = "/g/collect?v=2&tid=G-1&cid=1.2&en=purchase&cu=EUR&epn.value=9"


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_record_of_a_text_request() -> None:
    request = Request.build("POST", "https://sgtm.example/g/collect?v=2&tid=G-1", headers=[
        ("User-Agent", "UA"), ("Cookie", "a=1"), ("Cookie", "b=2")], body="en=page_view\nen=purchase",
        remote_addr="203.0.113.7")
    assert request_to_record(request, 1700000000.5) == {
        "method": "POST", "url": "/g/collect?v=2&tid=G-1", "scheme": "https",
        "headers": [["User-Agent", "UA"], ["Cookie", "a=1"], ["Cookie", "b=2"], ["Host", "sgtm.example"]],
        "body": "en=page_view\nen=purchase", "remote_addr": "203.0.113.7", "time": 1700000000.5,
    }


def test_record_of_a_binary_request_uses_base64_and_omits_an_empty_body() -> None:
    binary = request_to_record(Request.build("POST", "/x", body=b"\xff\x00\xfe"), 1.0)
    assert binary["body_base64"] == "/wD+" and "body" not in binary
    empty = request_to_record(Request.build("GET", "/x"), 1.0)
    assert "body" not in empty and "body_base64" not in empty and "scheme" not in empty


def test_hook_records_container_requests_and_replay_reproduces_them(tmp_path: Path) -> None:
    path = tmp_path / "traffic.ndjson"
    times = iter([1700000000.0, 1700000001.0, 1700000002.0])
    recorder = Recorder(path, clock=lambda: next(times))
    container = load_container()
    app = create_app(container, on_report=[recorder.hook], log_requests=False)
    client = app.test_client()
    assert client.get(HIT, headers={"User-Agent": "UA/1"}).status_code == 204
    assert client.post("/g/collect?v=2&tid=G-1&cid=1.2", data="en=page_view\nen=purchase").status_code == 204
    assert client.get("/healthz").status_code == 200  # the emulator's own endpoints are not recorded
    assert client.get("/_mock/tiktok/_events").status_code == 200
    recorder.close()
    records = lines(path)
    assert [(r["method"], r["url"], r.get("body"), r["time"]) for r in records] == [
        ("GET", HIT, None, 1700000000.0),
        ("POST", "/g/collect?v=2&tid=G-1&cid=1.2", "en=page_view\nen=purchase", 1700000001.0),
    ]
    assert ["User-Agent", "UA/1"] in records[0]["headers"]
    assert records[0]["remote_addr"] == "127.0.0.1"

    summary = replay(ReplaySource(path), replay_container())
    assert (summary.requests, summary.events, summary.tags["TikTok - purchase"].fired) == (2, 3, 2)
    assert not summary.bad_lines


def test_wsgi_wrapper_records_and_hands_the_body_on(tmp_path: Path) -> None:
    path = tmp_path / "wsgi.ndjson"
    recorder = Recorder(path, clock=lambda: 5.0)
    container = load_container()
    app = create_app(container, log_requests=False)
    app.wsgi_app = recorder.wsgi(app.wsgi_app)  # type: ignore[method-assign]
    client = app.test_client()
    assert client.post("/g/collect?v=2&tid=G-1&cid=1.2", data="en=purchase&epn.value=3").status_code == 204
    assert client.get("/healthz").status_code == 200
    assert client.get("/nothing-claims-this").status_code == 400  # recorded: the container saw it
    recorder.close()
    assert [(r["url"], r.get("body")) for r in lines(path)] == [
        ("/g/collect?v=2&tid=G-1&cid=1.2", "en=purchase&epn.value=3"), ("/nothing-claims-this", None)]
    assert len(container.tiktok_mock.events) == 1  # the app still got the body


def test_appends_from_many_threads_stay_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "threads.ndjson"
    recorder = Recorder(path, clock=lambda: 1.0)
    body = "en=page_view&" + "x" * 9000  # longer than an atomic pipe write

    def work(n: int) -> None:
        for i in range(100):
            recorder.record(Request.build("POST", f"/g/collect?v=2&t={n}&i={i}", body=body))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorder.close()
    records = lines(path)
    assert len(records) == 800 == recorder.count
    assert {r["url"] for r in records} == {f"/g/collect?v=2&t={n}&i={i}" for n in range(8) for i in range(100)}
    assert all(r["body"] == body for r in records)


def test_appends_from_many_processes_stay_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "procs.ndjson"
    script = textwrap.dedent(f"""
        import sys
        from gtm_emulator.harness.recorder import Recorder
        from gtm_emulator.core.request import Request
        rec = Recorder({str(path)!r})
        n = sys.argv[1]
        for i in range(150):
            rec.record(Request.build("POST", f"/p?n={{n}}&i={{i}}", body="y" * 20000))
        rec.close()
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(n)], env=env) for n in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    records = lines(path)
    assert len(records) == 600
    assert {r["url"] for r in records} == {f"/p?n={n}&i={i}" for n in range(4) for i in range(150)}


def test_recorder_reopens_its_file_in_a_new_process_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "append.ndjson"
    path.write_text('{"method":"GET","url":"/old"}\n', encoding="utf-8")
    with Recorder(path, clock=lambda: 2.0) as recorder:
        recorder.record(Request.build("GET", "/new"))
        inherited = recorder._fd
        recorder._pid = -1  # as after a fork: the descriptor belongs to another process
        recorder.record(Request.build("GET", "/newer"))
        assert recorder._fd != inherited
    assert inherited is not None
    os.close(inherited)
    assert [r["url"] for r in lines(path)] == ["/old", "/new", "/newer"]
