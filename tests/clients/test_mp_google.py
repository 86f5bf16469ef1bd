"""/debug/mp/collect answers with Google's strings: strict JSON, Google's fieldPath/description,
validation_behavior ENFORCE_RECOMMENDATIONS; the project's explanation sits in ``detail``.

The expected texts are Google's, as its validation server wrote them in public material (see
docs/clients.md, "Evidence"); the payloads are written here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_measurement_protocol import NOW, QUERY, messages, payload, send

from gtm_emulator.clients import measurement_protocol as mp


def google_view(message: dict[str, Any]) -> dict[str, Any]:
    """What a client comparing Google's answer reads: everything but the project's detail."""
    return {k: v for k, v in message.items() if k != "detail"}


def test_an_unknown_field_in_an_event_is_googles_parse_error() -> None:
    body = {"client_id": "111.222", "events": [{"name": "page_view", "names": "x"}]}
    [message] = messages(body)
    assert google_view(message) == {
        "description": "Unable to parse Measurement Protocol JSON payload. (events[0]) names: Cannot find field.",
        "validationCode": "VALUE_INVALID"}
    assert message["detail"]["fieldPath"] == "events[0].names"


def test_an_unknown_top_level_field_and_only_the_first_is_reported() -> None:
    body = {"client_id": "111.222", "event": [], "events": [{"name": "a", "parms": {}}]}
    [message] = messages(body)
    assert message["description"] == "Unable to parse Measurement Protocol JSON payload. event: Cannot find field."


@pytest.mark.parametrize("body", [
    {"client_id": "1.2", "events": [{"name": "a", "params": {"anything": "x", "items": [{"item_id": "A", "x": 1}]}}]},
    {"client_id": "1.2", "user_properties": {"tier": {"value": "gold"}}, "events": [{"name": "a"}]},
    {"client_id": "1.2", "user_location": {"city": "Berlin", "country_id": "DE"},
     "device": {"category": "desktop", "browser": "Chrome"}, "events": [{"name": "a"}]},
])
def test_free_form_params_and_known_objects_pass_the_strict_parse(body: dict[str, Any]) -> None:
    assert messages(body) == []


def test_an_unknown_field_runs_nothing_on_the_production_path() -> None:
    body = json.dumps({"client_id": "111.222", "events": [{"name": "purchase", "prams": {"value": 1}}]})
    events, response, run = send(body)
    assert events == [] and response.status == 204
    assert any("Cannot find field" in w or "not part of the Measurement Protocol" in w for w in run.warnings)


def test_client_id_format_only_under_enforce_recommendations() -> None:
    relaxed = {"client_id": "18", "events": [{"name": "purchase", "params": {"transaction_id": "18", "value": 23,
                                                                              "currency": "USD"}}]}
    assert messages(relaxed) == []
    assert messages({**relaxed, "validation_behavior": "RELAXED"}) == []
    [message] = messages({**relaxed, "validation_behavior": "ENFORCE_RECOMMENDATIONS"})
    assert google_view(message) == {
        "fieldPath": "client_id",
        "description": "client_id [18] has invalid format. It should be in <number>.<number> format.",
        "validationCode": "VALUE_INVALID"}
    assert "ENFORCE_RECOMMENDATIONS" in message["detail"]["explanation"]
    assert messages(payload(validation_behavior="ENFORCE_RECOMMENDATIONS")) == []


def test_enforce_recommendations_runs_nothing_for_a_bad_client_id() -> None:
    body = json.dumps({"client_id": "18", "validation_behavior": "ENFORCE_RECOMMENDATIONS",
                       "events": [{"name": "purchase"}]})
    events, _response, _run = send(body)
    assert events == []
    relaxed, _response, _run = send(json.dumps({"client_id": "18", "events": [{"name": "purchase"}]}))
    assert [e["event_name"] for e in relaxed] == ["purchase"]


def test_client_id_required_in_googles_words() -> None:
    [message] = messages({"events": [{"name": "a"}]})
    assert google_view(message) == {"fieldPath": "client_id", "description": "Measurement requires a client_id.",
                                    "validationCode": "VALUE_REQUIRED"}


def test_the_error_of_parse_explains_with_the_detail() -> None:
    with pytest.raises(mp.MPValidationError) as info:
        mp.parse("POST", "/mp/collect", QUERY, json.dumps(payload(events=[{"name": "_x"}])), now=NOW)
    assert info.value.reason.startswith("events[0].name: Event at index: [0] has invalid name [_x].")
    assert "rule:" in info.value.reason
