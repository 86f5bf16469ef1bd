"""The mock's hand-written validity check agrees with the jsonschema path on every body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtm_emulator.vendors import tiktok_mock
from gtm_emulator.vendors.tiktok_mock import TRACK_PATH, TikTokMock, surely_valid, validate, validate_with_schema

PIXEL = "C0ABCDEFGHIJKLMNOPQR"
HEX = "ab" * 32

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**60), 2**60),
                      st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=70),
                      st.sampled_from([HEX, HEX.upper(), HEX + "\n", "web", "", 1.0, 0, True]))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                             st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                          max_leaves=6)


@st.composite
def content(draw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"content_type": "product"}
    if draw(st.booleans()):
        out["content_id"] = draw(st.text(max_size=8))
    if draw(st.booleans()):
        out["price"] = draw(st.one_of(st.integers(0, 500), st.floats(0, 500)))
    if draw(st.booleans()):
        out["quantity"] = draw(st.integers(1, 5))
    return out


@st.composite
def event(draw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"event": draw(st.sampled_from(["CompletePayment", "Purchase", "Pageview", "x"])),
                           "event_time": draw(st.integers(1_600_000_000, 1_800_000_000))}
    if draw(st.booleans()):
        out["event_id"] = draw(st.text(max_size=8))
    user = {key: draw(st.one_of(st.just(HEX), st.lists(st.just(HEX.upper()), max_size=2)))
            for key in draw(st.lists(st.sampled_from(tiktok_mock.HASHED_USER_FIELDS), unique=True, max_size=3))}
    if draw(st.booleans()):
        user["ip"] = "203.0.113.9"
    out["user"] = user
    out["page"] = {"url": "https://shop.example/p/1"}
    if draw(st.booleans()):
        out["device"] = {}
    properties: dict[str, Any] = {"contents": draw(st.lists(content(), max_size=3)), "currency": "EUR"}
    if draw(st.booleans()):
        properties["value"] = draw(st.one_of(st.integers(0, 900), st.floats(0, 900)))
    out["properties"] = properties
    return out


@st.composite
def body(draw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"event_source": "web", "event_source_id": PIXEL, "partner_name": "GoogleTagManagerServer",
                           "data": draw(st.lists(event(), min_size=1, max_size=3))}
    if draw(st.booleans()):
        out["test_event_code"] = "TEST1"
    return out


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@st.composite
def mutated_body(draw: Any) -> Any:
    """A valid body with a few places replaced by arbitrary JSON, or keys removed."""
    data = draw(body())
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        if not path:
            return draw(json_value)
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_value)
    return data


@settings(max_examples=150, deadline=None)
@given(body())
def test_common_bodies_take_the_fast_path(payload: dict[str, Any]) -> None:
    assert surely_valid(payload)
    assert validate_with_schema(payload) == ([], [])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(body(), mutated_body()))
def test_fast_check_never_hides_a_problem(payload: Any) -> None:
    reference = validate_with_schema(payload)
    if surely_valid(payload):
        assert reference == ([], [])
    assert validate(payload) == reference


@pytest.mark.parametrize("payload", [
    {"event_source": "web", "event_source_id": PIXEL, "data": [{"event": "Purchase", "event_time": 1.0}]},
    {"event_source": "web", "event_source_id": PIXEL, "data": [{"event": "Purchase", "event_time": True}]},
    {"event_source": ["web"], "event_source_id": PIXEL, "data": [{"event": "Purchase", "event_time": 1}]},
    {"event_source": "web", "event_source_id": PIXEL,
     "data": [{"event": "Purchase", "event_time": 1, "user": {"email": HEX + "\n"}}]},
    {"event_source": "web", "event_source_id": PIXEL,
     "data": [{"event": "Purchase", "event_time": 1, "properties": {"contents": [{"quantity": 2.0}]}}]},
])
def test_edge_cases_left_to_jsonschema(payload: dict[str, Any]) -> None:
    """Values the schema's type rules treat differently from Python's types are never decided by hand."""
    assert not surely_valid(payload)
    assert validate(payload) == validate_with_schema(payload)


def _answer(payload: Any, fast: bool) -> tuple[int, dict[str, str], bytes, list[dict[str, Any]]]:
    mock = TikTokMock(clock=lambda: 1_700_000_000.0)
    token = mock.generate_access_token(PIXEL)
    raw = json.dumps(payload).encode()
    saved = tiktok_mock.FAST_VALIDATION
    tiktok_mock.FAST_VALIDATION = fast
    try:
        response = mock.handle("POST", TRACK_PATH, {"Access-Token": token, "Content-Type": "application/json"}, raw)
    finally:
        tiktok_mock.FAST_VALIDATION = saved
    return response.status, dict(response.headers), response.body, mock.requests


@settings(max_examples=100, deadline=None)
@given(st.one_of(body(), mutated_body()))
def test_mock_answers_the_same_with_and_without_the_fast_check(payload: Any) -> None:
    """Same status, code, message, request id and warnings header, and the same request log."""
    assert _answer(payload, True) == _answer(payload, False)
