"""Property tests: encoding event data as a GA4 hit and parsing it gives the event data back, and
no request (however broken) makes the clients fail with anything but a 4xx RequestError."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtm_emulator.clients import ga4
from gtm_emulator.clients.base import ClientRun
from gtm_emulator.clients.ga4 import GA4Client
from gtm_emulator.clients.ga4_encoder import encode, encode_batch, encode_item, request_fields
from gtm_emulator.clients.measurement_protocol import MeasurementProtocolClient
from gtm_emulator.core.request import Request, Response
from gtm_emulator.errors import RequestError
from gtm_emulator.strategies.hits import GA4Hit, ga4_event_data, ga4_hits, ga4_items

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse(method: str, query: str, body: str, fields: dict[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
    warnings: list[str] = []
    events = ga4.parse(method, "/g/collect", query, body.encode(), fields["headers"],
                       fields.get("remote_addr", "127.0.0.1"), warnings=warnings, **kwargs)
    assert warnings == []
    return events


@SETTINGS
@given(ga4_event_data())
def test_encode_then_parse_gives_the_event_data_back(event: dict[str, Any]) -> None:
    assert _parse("GET", encode(event), "", request_fields(event)) == [event]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ga4_event_data(max_items=0), ga4_items(min_size=1, max_size=4), st.integers(150, 200))
def test_round_trip_with_many_items(event: dict[str, Any], kinds: list[dict[str, Any]], count: int) -> None:
    # up to the 200-item limit, built from a few generated items (generating 200 is too slow)
    event["items"] = [dict(kinds[i % len(kinds)], item_id=f"SKU_{i}") for i in range(count)]
    assert _parse("GET", encode(event), "", request_fields(event)) == [event]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ga4_hits())
def test_generated_hits_parse_to_their_events(hit: GA4Hit) -> None:
    assert _parse(hit.method, hit.query, hit.body, {"headers": hit.headers, "remote_addr": hit.remote_addr}) \
        == hit.events


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ga4_event_data(max_items=3), min_size=1, max_size=3))
def test_batch_round_trip_for_unrelated_events(events: list[dict[str, Any]]) -> None:
    # every event of a request shares the request's own fields, Sec-CH-UA* client hints included
    shared_hints = _header_hints(events[0])
    for event in events[1:]:
        for key in ("ip_override", "user_agent"):
            event.pop(key, None)
            if key in events[0]:
                event[key] = events[0][key]
        hints = event.get("client_hints")
        if hints is not None and "architecture" in hints:  # ua* form: only brands come from the header
            hints.pop("brands", None)
            if "brands" in shared_hints:
                hints["brands"] = shared_hints["brands"]
        elif shared_hints:
            event["client_hints"] = dict(shared_hints)
        else:
            event.pop("client_hints", None)
    query, body = encode_batch(events)
    assert body.count("\n") == len(events) - 1
    assert _parse("POST", query, body, request_fields(events[0])) == events


def _header_hints(event: dict[str, Any]) -> dict[str, Any]:
    """The client hints a request carries in its Sec-CH-UA* headers (shared by a batch's events)."""
    hints = event.get("client_hints") or {}
    if "architecture" in hints:
        return {"brands": hints["brands"]} if "brands" in hints else {}
    return dict(hints)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ga4_event_data())
def test_round_trip_in_server_cookie_mode(event: dict[str, Any]) -> None:
    event["x-ga-js_client_id"] = event["client_id"]
    event["client_id"] = "bW9jayByYW5kb20gYnl0ZXM=.1716803000"
    assert _parse("GET", encode(event), "", request_fields(event), cookie_mode="server") == [event]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ga4_items(min_size=1, max_size=3), st.booleans())
def test_items_round_trip_with_and_without_numbered_categories(items: list[dict[str, Any]], numbered: bool) -> None:
    for item in items:
        text = encode_item(item, numbered_item_categories=numbered)
        assert ga4.parse_item(text, numbered_categories=numbered) == item


_wire = st.lists(st.sampled_from([*"v=2&tid=G-1en%~+;|pr1k0v0ep.\r\n\x00\xff", "%zz", "%C3", "pr201", "\udcff"]),
                 max_size=40).map("".join)
_wire_bytes = _wire.map(lambda text: text.encode("utf-8", "surrogateescape"))


@settings(max_examples=200, deadline=None)
@given(query=_wire, body=st.binary(max_size=60) | _wire_bytes, method=st.sampled_from(["GET", "POST"]),
       strict=st.booleans())
def test_broken_hits_give_a_4xx_or_events_never_another_error(query: str, body: bytes, method: str,
                                                              strict: bool) -> None:
    client = GA4Client(settings={"strict_decoding": strict})
    request = Request(method, "/g/collect", "v=2&" + query, body=body)
    run = ClientRun(now=1716803000.0, rng=random.Random(0))
    try:
        events = client.events(request, run)
    except RequestError as exc:
        assert 400 <= exc.status < 500 and exc.reason
        return
    assert events and all(e["event_name"] and e["x-ga-measurement_id"] for e in events)
    response = Response()
    client.respond(request, run, response, [])
    assert response.status == 204


_json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(payload=st.fixed_dictionaries({}, optional={"client_id": _json_like, "events": _json_like,
                                                   "user_properties": _json_like, "user_data": _json_like,
                                                   "timestamp_micros": _json_like, "consent": _json_like}),
       debug=st.booleans())
def test_any_mp_payload_gives_validation_messages_or_events(payload: dict[str, Any], debug: bool) -> None:
    import json

    client = MeasurementProtocolClient()
    path = "/debug/mp/collect" if debug else "/mp/collect"
    request = Request.build("POST", f"{path}?measurement_id=G-1&api_secret=s", body=json.dumps(payload))
    run = ClientRun(now=1716803000.0, rng=random.Random(0))
    events = client.events(request, run)
    response = Response()
    client.respond(request, run, response, [])
    if debug:
        assert events == [] and response.status == 200
        messages = json.loads(response.body)["validationMessages"]
        assert all({"description", "validationCode", "detail"} <= set(m)
                   <= {"fieldPath", "description", "validationCode", "detail"} for m in messages)
    else:
        assert response.status == 204
        assert all(isinstance(e["event_name"], str) for e in events)
