"""The access token is searched for, not assumed absent: after a run with every kind of traffic, it
appears in no log line, report, store row, recorded file, API answer or page."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

from gtm_emulator import load_container
from gtm_emulator.harness.recorder import Recorder
from gtm_emulator.server.app import create_app
from gtm_emulator.server.store import SQLiteStore

HITS = [
    ("GET", "/g/collect?v=2&tid=G-1&cid=1.2&en=purchase&cu=EUR&epn.value=10&pr1=idA~nmB~pr5~qt2", b""),
    ("GET", "/g/collect?v=2&tid=G-1&cid=1.2&en=page_view", b""),
    ("POST", "/g/collect?v=2&tid=G-1&cid=1.2", b"en=add_to_cart\nen=purchase&ep.email=a%40b.example"),
    ("GET", "/g/collect?v=2&tid=G-1&en=%zz", b""),
    ("GET", "/nowhere", b""),
    ("POST", "/mp/collect?measurement_id=G-1&api_secret=s", b'{"client_id":"1.2","events":[{"name":"purchase"}]}'),
    ("POST", "/debug/mp/collect?measurement_id=G-1&api_secret=s", b'{"events":[{"name":"_bad"}]}'),
]


def test_the_access_token_leaks_nowhere(tmp_path: Path, caplog) -> None:
    token = secrets.token_hex(20)
    env = {"TIKTOK_ACCESS_TOKEN": token, "TIKTOK_PIXEL_CODE": "CSECRETTEST000000001"}
    container = load_container(env=env)
    store = SQLiteStore(str(tmp_path / "store.sqlite3"))
    recorded = tmp_path / "requests.ndjson"
    app = create_app(container, store=store, on_report=[Recorder(str(recorded)).hook])
    client = app.test_client()
    answers: list[str] = []
    with caplog.at_level(logging.DEBUG):
        for method, url, body in HITS * 3:
            answers.append(client.open(url, method=method, data=body).get_data(as_text=True))
        # a rejected token must not leak through the vendor's error either
        container.tiktok_mock.pixels["CSECRETTEST000000001"] = {"another-token"}
        answers.append(client.get(HITS[0][1]).get_data(as_text=True))
        for path in ("/_emulator/", "/_emulator/api/requests", "/_emulator/api/outgoing", "/_emulator/api/summary",
                     "/_mock/tiktok/_events", "/_mock/tiktok/_requests"):
            answers.append(client.get(path).get_data(as_text=True))
        for item in client.get("/_emulator/api/requests").get_json()["requests"]:
            answers.append(client.get(f"/_emulator/api/requests/{item['id']}").get_data(as_text=True))
        report = container.simulate("GET", HITS[0][1], now=1_700_000_000)
    assert container.tiktok_mock.events, "the purchases reached the mock, so the token was really used"
    store.close()
    haystacks = {
        "log lines": caplog.text,
        "answers and pages": "\n".join(answers),
        "report": json.dumps(report.to_dict()),
        "explanation": report.explain(),
        "recorded requests": recorded.read_text(),
    }
    for path in tmp_path.glob("store.sqlite3*"):
        haystacks[f"store file {path.name}"] = path.read_bytes().decode("latin-1")
    leaks = [name for name, text in haystacks.items() if token in text]
    assert leaks == []
    assert "****" in haystacks["report"]


def test_the_spool_holds_no_access_token(tmp_path: Path) -> None:
    """serve's workers append what the Preview keeps to the store's spool before any row is built:
    those files are searched too, before anything indexes them."""
    token = secrets.token_hex(20)
    container = load_container(env={"TIKTOK_ACCESS_TOKEN": token, "TIKTOK_PIXEL_CODE": "CSECRETTEST000000001"})
    store = SQLiteStore(str(tmp_path / "store.sqlite3"), background=True)
    store.spool_writes()
    client = create_app(container, store=store).test_client()
    for method, url, body in HITS * 2:
        client.open(url, method=method, data=body)
    assert store.flush(10)
    assert container.tiktok_mock.events, "the purchases reached the mock, so the token was really used"
    spooled = b"".join(path.read_bytes() for path in (tmp_path / "store.sqlite3-spool").iterdir())
    assert b"purchase" in spooled and b"CSECRETTEST000000001" in spooled  # the hits and their calls are there
    assert token.encode() not in spooled
    assert store.count() > 0
    store.close()


def test_a_secret_in_an_outgoing_url_is_masked_everywhere(tmp_path: Path, caplog) -> None:
    from helpers import tpl

    from gtm_emulator.vendors.transport import HttpResponse, MockTransport

    token = secrets.token_hex(16)
    code = ("require('sendHttpRequest')('https://api.vendor.example/v1/events?access_token=' + data.token + "
            "'&event=' + require('getEventData')('event_name'), {method: 'POST'}, '{}')"
            ".then(() => data.gtmOnSuccess(), () => data.gtmOnFailure());")
    (tmp_path / "vendor.tpl").write_text(tpl(code, fields=[{"type": "TEXT", "name": "token"}]), "utf-8")
    seen: list[str] = []

    def vendor(method: str, path: str, headers: dict[str, str], body: bytes) -> HttpResponse:
        seen.append(path)
        return HttpResponse(200, {"content-type": "application/json"}, b'{"ok": true}')

    transport = MockTransport()
    transport.mount("api.vendor.example", vendor)
    container = load_container({
        "name": "url secret", "clients": [{"name": "GA4", "type": "ga4"}],
        "tags": [{"name": "Vendor", "type": "template", "template": str(tmp_path / "vendor.tpl"),
                  "parameters": {"token": token}, "firing_triggers": ["All Events"]}]}, transport=transport)
    store = SQLiteStore(str(tmp_path / "store.sqlite3"))
    recorded = tmp_path / "requests.ndjson"
    app = create_app(container, store=store, on_report=[Recorder(str(recorded)).hook])
    client = app.test_client()
    with caplog.at_level(logging.DEBUG):
        client.get(HITS[0][1])
        pages = [client.get("/_emulator/api/outgoing").get_data(as_text=True)]
        for item in client.get("/_emulator/api/requests").get_json()["requests"]:
            pages.append(client.get(f"/_emulator/api/requests/{item['id']}").get_data(as_text=True))
        report = container.simulate("GET", HITS[0][1], now=1_700_000_000)
    store.close()
    assert seen and token in seen[0], "the vendor really received the token"
    (out,) = report.outgoing
    assert out.url == "https://api.vendor.example/v1/events?access_token=****&event=purchase"
    haystacks = {"log lines": caplog.text, "pages": "\n".join(pages), "report": json.dumps(report.to_dict()),
                 "explanation": report.explain(), "recorded requests": recorded.read_text()}
    for path in tmp_path.glob("store.sqlite3*"):
        haystacks[f"store file {path.name}"] = path.read_bytes().decode("latin-1")
    assert [name for name, text in haystacks.items() if token in text] == []
