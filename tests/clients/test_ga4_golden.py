"""Golden hits built from the public GA4 protocol documentation: the event data each must give.

Each file in tests/data/ga4/ holds one request (method, path, query, body, headers, remote
address) and the event data expected from it, written by hand from the parameter table.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from gtm_emulator.clients import ga4, measurement_protocol
from gtm_emulator.clients.base import ClientRun
from gtm_emulator.clients.ga4 import GA4Client
from gtm_emulator.clients.measurement_protocol import MeasurementProtocolClient
from gtm_emulator.core.request import Request

DATA = Path(__file__).resolve().parents[1] / "data" / "ga4"
CASES = sorted(DATA.glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    case = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(case["body"], str):
        case["body"] = json.dumps(case["body"])
    return case


def test_the_golden_set_covers_the_required_hits() -> None:
    names = {p.stem for p in CASES}
    assert {"page_view", "view_item", "add_to_cart", "begin_checkout", "purchase", "batched_post",
            "mp_purchase"} <= names


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_parse_gives_the_documented_event_data(path: Path) -> None:
    case = _load(path)
    warnings: list[str] = []
    if case["client"] == "ga4":
        got = ga4.parse(case["method"], case["path"], case["query"], case["body"].encode(), case["headers"],
                        case["remote_addr"], warnings=warnings)
        assert warnings == []
    else:
        got = measurement_protocol.parse(case["method"], case["path"], case["query"], case["body"].encode(),
                                         case["headers"], case["remote_addr"], now=case["now"])
    assert got == case["expected"]
    # JSON shows integral numbers without a fraction, like the real event data
    assert json.loads(json.dumps(got)) == case["expected"]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_the_client_class_adds_the_request_start_time(path: Path) -> None:
    case = _load(path)
    client = GA4Client() if case["client"] == "ga4" else MeasurementProtocolClient()
    request = Request.build(case["method"], case["path"] + "?" + case["query"], headers=case["headers"],
                            body=case["body"], remote_addr=case["remote_addr"])
    assert client.claim(request).claimed
    now = case.get("now", 1716803000.25)
    run = ClientRun(now=now, rng=random.Random(1))
    events = client.events(request, run)
    if case["client"] == "ga4":
        for event, expected in zip(events, case["expected"], strict=True):
            want = dict(expected)
            want["x-sst-system_properties"] = {**expected.get("x-sst-system_properties", {}),
                                               "request_start_time_ms": int(now * 1000)}
            assert event == want
    else:
        assert events == case["expected"]
        assert run.warnings == []
