"""The PyPI library ``ga4mp`` (a Measurement Protocol client nobody here wrote) sends to ``serve``.

Its tracker posts real HTTP requests (urllib) to the server on a loopback port: the validation
server answers Google's empty list for its payloads, and ``/mp/collect`` turns them into the event
data the Measurement Protocol client documents (docs/clients.md).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import container_dict

from gtm_emulator import load_container
from gtm_emulator.harness.assertions import ThreadedServer
from gtm_emulator.server.app import create_app
from gtm_emulator.server.preview import install_preview
from gtm_emulator.server.store import SQLiteStore

ga4mp = pytest.importorskip("ga4mp", reason="the test extra installs ga4mp from PyPI")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    store = SQLiteStore(tmp_path / "store.sqlite3")
    container = load_container(container_dict([{"type": "measurement_protocol", "name": "MP"}], "MP"))
    app = create_app(container, log_requests=False)
    install_preview(app, store)
    try:
        with ThreadedServer(app) as running:
            yield running.url
    finally:
        store.close()


def _api(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + "/_emulator/api" + path, timeout=10) as resp:
        return json.loads(resp.read())


def _tracker(base: str) -> Any:
    tracker = ga4mp.GtagMP(api_secret="s3cret", measurement_id="G-PYPI1234", client_id="1234567890.1716800000")
    tracker._base_domain = base + "/mp/collect"  # the library's endpoint attributes (no setter exists)
    tracker._validation_domain = base + "/debug/mp/collect"
    return tracker


EVENTS = [{"name": "purchase", "params": {
    "transaction_id": "T-1001", "currency": "EUR", "value": 81.9,
    "items": [{"item_id": "SKU_1042", "item_name": "Linen Shirt", "item_category": "Men",
               "item_category2": "Shirts", "price": 40.95, "quantity": 2}]}}]


def test_ga4mp_payloads_pass_googles_validation(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    answers: list[dict[str, Any]] = []
    real_urlopen = urllib.request.urlopen

    def recording_urlopen(request: Any, data: Any = None, **kwargs: Any) -> Any:
        resp = real_urlopen(request, data, **kwargs)
        body = resp.read()
        answers.append({"status": resp.status, "body": json.loads(body) if body else None})
        return resp

    monkeypatch.setattr(urllib.request, "urlopen", recording_urlopen)
    tracker = _tracker(server)
    tracker.store.set_user_property("tier", "gold")
    tracker.send(events=[dict(e, params=dict(e["params"])) for e in EVENTS], validation_hit=True)
    assert answers == [{"status": 200, "body": {"validationMessages": []}}]


def test_ga4mp_purchase_becomes_the_documented_event_data(server: str) -> None:
    tracker = _tracker(server)
    tracker.store.set_user_property("tier", "gold")
    tracker.send(events=[dict(e, params=dict(e["params"])) for e in EVENTS])
    [summary] = _api(server, "/requests?limit=5")["requests"]
    detail = _api(server, f"/requests/{summary['id']}")
    assert detail["status"] == 204
    [event] = detail["events"]
    data = event["event_data"]
    session_id = data.pop("ga_session_id")
    engagement = data.pop("engagement_time_msec")
    assert session_id.isdigit() and isinstance(engagement, int)
    assert data == {
        "transaction_id": "T-1001", "currency": "EUR", "value": 81.9,
        "items": EVENTS[0]["params"]["items"],
        "event_name": "purchase", "client_id": "1234567890.1716800000",
        "x-ga-protocol_version": "2", "x-ga-measurement_id": "G-PYPI1234",
        "x-ga-mp2-user_properties": {"tier": "gold"},
        "ip_override": "127.0.0.1", "user_agent": data["user_agent"],
    }
    assert data["user_agent"].startswith("Python-urllib/")
