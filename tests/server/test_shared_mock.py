"""`serve` with the mock vendor and several workers: the mock TikTok and GA4 endpoints run in one
process of their own that every worker shares (gtm_emulator/vendors/shared.py).

Which worker runs a hit is chosen by stopping the other one (SIGSTOP): a stopped worker accepts no
connection, so every new connection goes to the one left running."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers import NOW, PURCHASE, ROOT, children, command_line, free_port, processes, running, wait_healthy

from gtm_emulator import load_container
from gtm_emulator.errors import TransportError
from gtm_emulator.server.app import create_app
from gtm_emulator.vendors.shared import ChildProcess, Link, share_mock_vendors

PIXEL = "CSHAREDMOCK0PIXEL001"
CONFIGURED = "configured-token-0001"


def container_file(tmp_path: Path) -> Path:
    """The bundled container's TikTok tag, with its access token taken from the hit's X-Tt-Token header."""
    config = {
        "name": "shared mock", "version": "1",
        "clients": [{"name": "GA4", "type": "ga4", "priority": 0}],
        "variables": [{"name": "Token", "type": "request_header", "header": "X-Tt-Token"},
                      {"name": "Pixel", "type": "constant", "value": PIXEL}],
        "triggers": [str(ROOT / "triggers" / "ga4_purchase.json")],
        "tags": [{"name": "TikTok", "template": str(ROOT / "tag_templates" / "tiktok_events_api.json"),
                  "parameters": {"profile": "tiktok-official", "pixel_code": "{{Pixel}}",
                                 "access_token": "{{Token}}", "event": "{{Event Name}}"},
                  "firing_triggers": ["GA4 purchase"]}],
        "mock_vendors": {"tiktok": {"pixels": {PIXEL: [CONFIGURED]}}},
    }
    path = tmp_path / "container.json"
    path.write_text(json.dumps(config))
    return path


@dataclass
class Served:
    base: str
    proc: subprocess.Popen[bytes]
    workers: list[int]
    mock: int
    log: Path

    @contextmanager
    def only(self, worker: int) -> Iterator[None]:
        """Every new connection goes to ``worker``: the other workers are stopped meanwhile."""
        others = [w for w in self.workers if w != worker]
        for other in others:
            os.kill(other, signal.SIGSTOP)
        try:
            yield
        finally:
            for other in others:
                os.kill(other, signal.SIGCONT)

    def hit(self, token: str, n: int) -> None:
        url = self.base + PURCHASE + f"&ep.transaction_id=T{n}&ep.event_id=E{n}"
        assert requests.get(url, headers={"X-Tt-Token": token, "Connection": "close"}, timeout=10).status_code == 204

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base + path, headers={"Connection": "close"}, timeout=10)

    def post(self, path: str, body: object) -> requests.Response:
        return requests.post(self.base + path, json=body, headers={"Connection": "close"}, timeout=10)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "gtm_emulator", "serve", "--port", str(port), "--workers", "2",
                                 "--threads", "4", "--quiet", "--store", str(tmp_path / "preview.sqlite3"),
                                 "--container", str(container_file(tmp_path))],
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, 30, log.read_text)
        deadline = time.monotonic() + 30
        kids = children(proc.pid)
        while len(kids) < 4:  # the mock process, the Preview store's process and two workers
            assert time.monotonic() < deadline, kids
            time.sleep(0.1)
            kids = children(proc.pid)
        mock = [k for k in kids if "gtm_emulator.vendors.shared" in command_line(k)]
        store = [k for k in kids if "gtm_emulator.server.store_process" in command_line(k)]
        assert len(mock) == 1 and len(store) == 1
        yield Served(base, proc, sorted(set(kids) - set(mock) - set(store)), mock[0], log)
    finally:
        if proc.poll() is None:
            for pid in children(proc.pid):  # never leave a worker stopped
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            proc.terminate()
            proc.wait(timeout=20)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever a failed test left behind
        except ProcessLookupError:
            pass


def group_members(pgid: int) -> list[int]:
    return processes(2, pgid)


def test_a_serve_that_fails_to_start_leaves_no_mock_process(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "bad", "tags": [{"name": "T"}]}')
    proc = subprocess.Popen([sys.executable, "-m", "gtm_emulator", "serve", "--port", str(free_port()), "--workers",
                             "2", "--container", str(bad)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and b"bad.json" in err
    deadline = time.monotonic() + 10
    while group_members(proc.pid):  # the mock process it spawned while loading is gone too
        assert time.monotonic() < deadline, group_members(proc.pid)
        time.sleep(0.05)


def summary(served: Served) -> dict[str, int]:
    result: dict[str, int] = served.get("/_emulator/api/summary").json()
    return result


def test_a_token_generated_through_the_mock_is_accepted_by_tags_in_either_worker(served: Served) -> None:
    assert len(served.workers) == 2
    with served.only(served.workers[0]):
        answer = served.post("/_mock/tiktok/_access_token", {"pixel_code": PIXEL}).json()
    token = answer["access_token"]
    for n, worker in enumerate(served.workers * 2):
        with served.only(worker):
            served.hit(token, n)
    with served.only(served.workers[1]):
        served.hit("not-a-generated-token", 99)  # the same check refuses a token nobody generated
    received = served.get("/_mock/tiktok/_requests").json()
    assert [r["code"] for r in received] == [0, 0, 0, 0, 40105]
    counts = summary(served)
    assert (counts["tags_fired"], counts["tags_failed"], counts["tags_rejected_by_vendor"]) == (5, 0, 1)


def test_events_of_every_worker_are_listed_by_either_worker(served: Served) -> None:
    for n, worker in enumerate(served.workers):
        with served.only(worker):
            served.hit(CONFIGURED, n)
    for worker in served.workers:
        with served.only(worker):
            events = served.get("/_mock/tiktok/_events").json()
            assert sorted(e["event"]["event_id"] for e in events) == ["E0", "E1"]
    with served.only(served.workers[0]):
        assert served.post("/_mock/tiktok/_reset", {}).json() == {"ok": True}
    with served.only(served.workers[1]):
        assert served.get("/_mock/tiktok/_events").json() == []


def test_an_injected_answer_applies_whichever_worker_runs_the_tag(served: Served) -> None:
    first, second = served.workers
    with served.only(first):
        assert served.post("/_mock/tiktok/_inject", {"code": 40100, "times": 2}).json() == {"ok": True, "queued": 2}
    with served.only(second):
        served.hit(CONFIGURED, 1)
    with served.only(first):
        served.hit(CONFIGURED, 2)
    with served.only(second):
        served.hit(CONFIGURED, 3)  # the injected answers are used up
    assert [r["code"] for r in served.get("/_mock/tiktok/_requests").json()] == [40100, 40100, 0]
    counts = summary(served)
    assert (counts["tags_fired"], counts["tags_failed"], counts["tags_rejected_by_vendor"]) == (3, 0, 2)


def test_a_dead_mock_process_fails_the_tag_with_the_reason_and_serve_logs_it(served: Served) -> None:
    served.hit(CONFIGURED, 1)
    os.kill(served.mock, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while running(served.mock):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for worker in served.workers:
        with served.only(worker):
            served.hit(CONFIGURED, 2)
            unavailable = served.get("/_mock/tiktok/_events")
            assert unavailable.status_code == 503 and "mock vendors' process" in unavailable.text
    counts = summary(served)
    assert (counts["requests"], counts["tags_succeeded"], counts["tags_failed"]) == (3, 1, 2)
    listed = served.get("/_emulator/api/requests?limit=2").json()["requests"]
    for row in listed:
        report = served.get(f"/_emulator/api/requests/{row['id']}").text
        assert f"the mock vendors' process (pid {served.mock}) is not answering" in report
    text = served.log.read_text()
    assert f"the mock vendors' process (pid {served.mock}) has stopped" in text
    assert "Traceback" not in text


def test_the_mock_process_stops_with_serve_on_sigterm(served: Served) -> None:
    assert running(served.mock)
    os.kill(served.proc.pid, signal.SIGTERM)
    served.proc.wait(timeout=20)
    assert not running(served.mock)
    assert not any(running(w) for w in served.workers)


def test_the_mock_process_stops_when_serve_is_killed(served: Served) -> None:
    os.kill(served.proc.pid, signal.SIGKILL)  # serve alone: nothing of it runs to stop the others
    served.proc.wait(timeout=5)
    deadline = time.monotonic() + 15
    while running(served.mock) or any(running(w) for w in served.workers):
        assert time.monotonic() < deadline, "an orphan process is left"
        time.sleep(0.1)


# ------------------------------------------------------------------ without gunicorn


@pytest.fixture
def pair() -> Iterator[tuple[Any, Any, ChildProcess]]:
    """Two default containers: one with the mock vendors inside it, one sharing them through a mock
    process (stopped at the end; stopping it twice is harmless)."""
    alone, shared = load_container(), load_container()
    process = share_mock_vendors(shared)
    try:
        yield alone, shared, process
    finally:
        process.stop()


def test_a_run_answers_the_same_through_the_mock_process_at_the_runs_clock(pair: tuple[Any, Any, ChildProcess]) -> None:
    """The mock process answers each call at the calling run's ``now``: the same request id, time
    stamps and warnings as the mock inside the worker."""
    alone, shared, process = pair
    for when in (NOW, NOW + 10 * 24 * 3600):
        for container in (alone, shared):
            report = container.simulate("GET", PURCHASE + "&ep.event_id=E1", now=when)
            assert next(report.iter_tags()).status == "success"
        local, remote = alone.tiktok_mock.events[-1].to_dict(), shared.tiktok_mock.events[-1].to_dict()
        assert remote == local and remote["received_at"] == when
    assert any("deduplicate" in w for w in remote["warnings"]) is False  # 10 days apart: past the window
    again = shared.simulate("GET", PURCHASE + "&ep.event_id=E1", now=NOW + 10 * 24 * 3600 + 5)
    assert next(again.iter_tags()).status == "success"
    assert any("deduplicate" in w for w in shared.tiktok_mock.events[-1].to_dict()["warnings"])
    assert shared.tiktok_mock.requests[:2] == alone.tiktok_mock.requests  # bodies, answers, time stamps
    process.stop()
    assert not running(process.pid)
    assert not Path(process.socket_path).parent.exists()


def test_a_call_answered_after_the_tags_timeout_fails_as_in_one_process(pair: tuple[Any, Any, ChildProcess]) -> None:
    alone, shared, _process = pair
    errors = []
    for container in (alone, shared):
        container.settings.http_timeout_seconds = 0.3
        container.tiktok_mock.inject(delay=0.8)
        report = container.simulate("GET", PURCHASE, now=NOW)
        errors.append([(t.status, [o.error for o in report.outgoing]) for t in report.iter_tags()])
    expected = "timed_out: no answer from business-api.tiktok.com within 0.3 s"
    assert errors[0] == errors[1] == [("failure", [expected])]
    assert next(shared.simulate("GET", PURCHASE, now=NOW + 1).iter_tags()).status == "success"  # serves on


def test_the_socket_is_private_and_needs_the_runs_token() -> None:
    container = load_container()
    process = share_mock_vendors(container)
    try:
        folder = Path(process.socket_path).parent
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        intruder = Link(process.socket_path, "wrong-token", process.pid)
        with pytest.raises(TransportError, match="not answering"):
            intruder.call({"op": "events"})
        intruder.close()
        assert container.tiktok_mock.events == []  # the right token is answered
    finally:
        process.stop()


@pytest.mark.parametrize(("body", "reason"), [
    ([], "must be a JSON object"),
    ({"code": "40100"}, "code: '40100' is not a valid value"),
    ({"status": 999}, "status: 999 is not an HTTP status"),
    ({"delay": 3600}, "delay: between 0 and 60 seconds"),
    ({"times": 0}, "times: between 1 and 1000"),
    ({"malformed": 1}, "malformed: 1 is not a valid value"),
    ({"answer": 1}, "unknown field 'answer'"),
])
def test_inject_over_http_refuses_what_it_cannot_queue(body: object, reason: str) -> None:
    client = create_app(load_container(), log_requests=False).test_client()
    answer = client.post("/_mock/tiktok/_inject", json=body)
    assert answer.status_code == 400 and reason in answer.get_json()["error"]


def test_inject_over_http_queues_the_answers_of_the_next_calls() -> None:
    container = load_container()
    client = create_app(container, log_requests=False).test_client()
    assert client.post("/_mock/tiktok/_inject", json={"status": 502, "times": 1}).status_code == 200
    assert client.post("/_mock/tiktok/_inject", json={"code": 40100}).status_code == 200
    for n in range(3):
        assert client.get(PURCHASE + f"&ep.event_id=E{n}").status_code == 204
    assert [(r["status"], r["code"]) for r in container.tiktok_mock.requests] == [(502, None), (200, 40100), (200, 0)]


def test_the_ga4_mock_and_unmocked_hosts_answer_as_in_one_process(pair: tuple[Any, Any, ChildProcess]) -> None:
    alone, shared, _process = pair
    answers = []
    for container in (alone, shared):
        send = container.transport.send
        ok = send("GET", "https://region1.google-analytics.com/g/collect?v=2&tid=G-1&cid=1.2&en=page_view", {}, b"")
        bad = send("GET", "https://www.google-analytics.com/g/collect?v=2&cid=1.2&en=x", {}, b"")  # no tid
        with pytest.raises(TransportError) as offline:
            send("GET", "https://example.com/collect", {}, b"")
        mock = container.ga4_mock
        answers.append((ok.status, bad.status, bad.body, str(offline.value), list(mock.hits), list(mock.rejected)))
        mock.reset()
        assert mock.hits == mock.rejected == []
    assert answers[0] == answers[1]
    assert answers[1][:2] == (204, 400) and len(answers[1][4]) == len(answers[1][5]) == 1
