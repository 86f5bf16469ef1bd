"""The Measurement Protocol client: /mp/collect event data and /debug/mp/collect validation."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from gtm_emulator.clients import measurement_protocol as mp
from gtm_emulator.clients.base import ClientRun
from gtm_emulator.clients.measurement_protocol import MeasurementProtocolClient, MPValidationError
from gtm_emulator.core.request import Request, Response
from gtm_emulator.errors import ConfigError, RequestError

NOW = 1716803100.0
QUERY = "measurement_id=G-7ZQ4KDN2RB&api_secret=s3cret"


def payload(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"client_id": "111.222", "events": [{"name": "purchase", "params": {"value": 1}}]}
    body.update(fields)
    return body


def send(body: Any, *, debug: bool = False, query: str = QUERY, client: MeasurementProtocolClient | None = None,
         headers: dict[str, str] | None = None, remote_addr: str = "192.0.2.10"
         ) -> tuple[list[dict[str, Any]], Response, ClientRun]:
    client = client or MeasurementProtocolClient()
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    path = "/debug/mp/collect" if debug else "/mp/collect"
    request = Request.build("POST", f"{path}?{query}", body=raw, headers=headers, remote_addr=remote_addr)
    assert client.claim(request).claimed
    run = ClientRun(now=NOW, rng=random.Random(0))
    events = client.events(request, run)
    response = Response()
    client.respond(request, run, response, [])
    return events, response, run


def messages(body: Any, query: str = QUERY) -> list[dict[str, str]]:
    events, response, _ = send(body, debug=True, query=query)
    assert events == [] and response.status == 200
    assert response.headers["content-type"] == "application/json"
    return json.loads(response.body)["validationMessages"]


def codes(body: Any, query: str = QUERY) -> list[tuple[str, str]]:
    return [(m["detail"]["fieldPath"], m["validationCode"]) for m in messages(body, query)]


# ------------------------------------------------------------------ claiming


@pytest.mark.parametrize(("method", "path", "claimed"), [
    ("POST", "/mp/collect", True), ("POST", "/debug/mp/collect", True), ("POST", "/sgtm/mp/collect", True),
    ("GET", "/mp/collect", False), ("POST", "/g/collect", False), ("POST", "/mp/collect/x", False),
])
def test_claims(method: str, path: str, claimed: bool) -> None:
    claim = MeasurementProtocolClient().claim(Request.build(method, path + "?" + QUERY))
    assert claim.claimed is claimed
    assert claimed or claim.reason


def test_names() -> None:
    client = MeasurementProtocolClient()
    assert (client.type, client.name) == ("measurement_protocol", "Measurement Protocol")


# ------------------------------------------------------------------ event data


def test_event_data_mapping() -> None:
    body = payload(user_id="u-1", user_properties={"tier": {"value": "gold"}}, non_personalized_ads=False,
                   user_location={"country_id": "DE"}, device={"category": "desktop"},
                   events=[{"name": "login", "params": {"method": "Google", "session_id": "1716800000",
                                                        "engagement_time_msec": 12, "event_name": "evil",
                                                        "client_id": "evil"}}])
    events, response, _ = send(body, headers={"User-Agent": "srv/1"})
    assert response.status == 204 and response.body == b""
    assert events == [{
        "method": "Google", "ga_session_id": "1716800000", "engagement_time_msec": 12,
        "event_name": "login", "client_id": "111.222", "x-ga-protocol_version": "2",
        "x-ga-measurement_id": "G-7ZQ4KDN2RB", "user_id": "u-1", "x-ga-mp2-user_properties": {"tier": "gold"},
        "ip_override": "192.0.2.10", "user_agent": "srv/1", "x-ga-mp2-non_personalized_ads": False,
        "x-ga-mp2-user_location": {"country_id": "DE"}, "x-ga-mp2-device": {"category": "desktop"},
    }]


def test_numeric_session_id_becomes_a_string() -> None:
    events, _, _ = send(payload(events=[{"name": "x", "params": {"session_id": 1716800000}}]))
    assert events[0]["ga_session_id"] == "1716800000"


def test_x_forwarded_for_only_from_trusted_proxies() -> None:
    headers = {"X-Forwarded-For": "203.0.113.1"}
    events, _, _ = send(payload(), headers=headers, remote_addr="10.1.1.1")
    assert events[0]["ip_override"] == "10.1.1.1"
    client = MeasurementProtocolClient(settings={"trusted_proxies": ["10.0.0.0/8"]})
    events, _, _ = send(payload(), headers=headers, remote_addr="10.1.1.1", client=client)
    assert events[0]["ip_override"] == "203.0.113.1"


def test_pure_parse_returns_events_or_raises_with_every_message() -> None:
    events = mp.parse("POST", "/mp/collect", QUERY, json.dumps(payload()).encode())
    assert events[0]["event_name"] == "purchase"
    with pytest.raises(MPValidationError) as info:
        mp.parse("POST", "/mp/collect", QUERY, json.dumps({"events": [{"name": "_x"}]}).encode())
    assert isinstance(info.value, RequestError) and info.value.status == 400
    assert [(m["detail"]["fieldPath"], m["validationCode"]) for m in info.value.messages] == [
        ("client_id", "VALUE_REQUIRED"), ("events[0].name", "NAME_INVALID")]
    assert "client_id" in info.value.reason and "1 more" in info.value.reason


# ------------------------------------------------------------------ production: 204, only good events run


def test_production_runs_only_events_that_pass_hard_checks() -> None:
    body = payload(events=[{"name": "ok_one"}, {"name": "session_start"}, {"name": "9bad"},
                           {"name": "ok_two", "params": {"x": "y" * 101}}, "not an object", {"params": {}}])
    events, response, run = send(body)
    assert response.status == 204
    assert [e["event_name"] for e in events] == ["ok_one", "ok_two"]
    joined = "\n".join(run.warnings)
    assert "NAME_RESERVED at events[1].name" in joined and "NAME_INVALID at events[2].name" in joined
    assert "VALUE_OUT_OF_BOUNDS at events[3].params.x" in joined
    assert "VALUE_REQUIRED at events[5].name" in joined


def test_production_runs_the_first_25_of_too_many_events() -> None:
    events, response, run = send(payload(events=[{"name": f"e{i}"} for i in range(30)]))
    assert response.status == 204 and len(events) == 25 and events[-1]["event_name"] == "e24"
    assert any("EXCEEDED_MAX_ENTITIES at events" in w for w in run.warnings)


def test_production_answers_204_to_garbage_and_runs_nothing() -> None:
    for body in (b"not json", b"\xff\xfe", b"[]", json.dumps({"events": []}).encode(), b"x" * (10 * 1024 * 1024)):
        events, response, run = send(body)
        assert (events, response.status) == ([], 204)
        assert run.warnings


def test_missing_api_secret_is_a_warning() -> None:
    _, response, run = send(payload(), query="measurement_id=G-1")
    assert response.status == 204
    assert any("api_secret" in w for w in run.warnings)


def test_reject_invalid_setting_answers_400_with_the_first_problem() -> None:
    client = MeasurementProtocolClient(settings={"reject_invalid": True})
    with pytest.raises(MPValidationError) as info:
        send(payload(events=[{"name": "first_visit"}]), client=client)
    assert info.value.status == 400 and "events[0].name" in info.value.reason and "reserved" in info.value.reason


def test_bad_settings() -> None:
    assert MeasurementProtocolClient.check_settings({"reject_invalid": "sometimes", "x": 1}) == [
        ("x", "unknown setting; known settings: reject_invalid, trusted_proxies"),
        ("reject_invalid", "must be true or false, not 'sometimes'"),
    ]
    with pytest.raises(ConfigError):
        MeasurementProtocolClient(settings={"trusted_proxies": ["nope"]})


# ------------------------------------------------------------------ the validation server


def test_a_valid_payload_gives_no_messages_and_runs_nothing() -> None:
    assert messages(payload(timestamp_micros=int((NOW - 3600) * 1e6),
                            user_data={"sha256_email_address": ["a" * 64],
                                       "address": [{"sha256_first_name": "b" * 64, "city": "berlin"}]},
                            consent={"ad_user_data": "GRANTED"}, validation_behavior="ENFORCE_RECOMMENDATIONS")) == []


def test_fieldpath_and_description_are_googles_and_the_detail_is_separate() -> None:
    # Google's documented answer for this payload (validating-events guide)
    [message] = messages(payload(events=[{"name": "_badEventName", "params": {}}]))
    assert {k: message[k] for k in ("fieldPath", "description", "validationCode")} == {
        "fieldPath": "events",
        "description": "Event at index: [0] has invalid name [_badEventName]. Names must start with an alphabetic "
                       "character.",
        "validationCode": "NAME_INVALID"}
    assert message["detail"]["fieldPath"] == "events[0].name"
    assert "rule: ^[A-Za-z][A-Za-z0-9_]*$" in message["detail"]["explanation"]
    [other] = messages(payload(events=[{"name": "campaign@details"}]))
    assert other["description"] == ("Event at index: [0] has invalid name [campaign@details]. Only alphanumeric "
                                    "characters and underscores are allowed.")


@pytest.mark.parametrize(("body", "expected"), [
    ({"events": [{"name": "a"}]}, [("client_id", "VALUE_REQUIRED")]),
    ({"client_id": 5, "events": [{"name": "a"}]}, [("client_id", "VALUE_INVALID")]),
    ({"client_id": "1"}, [("events", "VALUE_REQUIRED")]),
    ({"client_id": "1", "events": {}}, [("events", "VALUE_INVALID")]),
    ({"client_id": "1", "events": [{"params": {}}]}, [("events[0].name", "VALUE_REQUIRED")]),
    ({"client_id": "1", "events": [{"name": 7}]}, [("events[0].name", "VALUE_INVALID")]),
    ({"client_id": "1", "events": [{"name": "a" * 41}]}, [("events[0].name", "NAME_INVALID")]),
    ({"client_id": "1", "events": [{"name": "has-dash"}]}, [("events[0].name", "NAME_INVALID")]),
    ({"client_id": "1", "events": [{"name": "first_open"}]}, [("events[0].name", "NAME_RESERVED")]),
    ({"client_id": "1", "events": [{"name": "a", "params": {"firebase_x": 1, "gtag.y": 2, "ok": 3}}]},
     [("events[0].params.firebase_x", "NAME_RESERVED"), ("events[0].params.gtag.y", "NAME_INVALID")]),
    ({"client_id": "1", "events": [{"name": "a", "params": {"_p": 1}}]}, [("events[0].params._p", "NAME_INVALID")]),
    ({"client_id": "1", "events": [{"name": "a", "params": {"ga_x": 1}}]},
     [("events[0].params.ga_x", "NAME_RESERVED")]),
    ({"client_id": "1", "events": [{"name": "a", "params": {"value": {"n": 1}}}]},
     [("events[0].params.value", "VALUE_INVALID")]),
    ({"client_id": "1", "events": [{"name": "a", "params": []}]}, [("events[0].params", "VALUE_INVALID")]),
    ({"client_id": "1", "events": [{"name": "a", "params": {f"p{i}": i for i in range(26)}}]},
     [("events[0].params", "EXCEEDED_MAX_ENTITIES")]),
    ({"client_id": "1", "events": [{"name": "a", "params": {"page_title": "t" * 300, "page_location": "l" * 1001}}]},
     [("events[0].params.page_location", "VALUE_OUT_OF_BOUNDS")]),
    ({"client_id": "1", "events": [{"name": "a", "params": {"items": [{"item_id": "x"}] * 201}}]},
     [("events[0].params.items", "EXCEEDED_MAX_ENTITIES")]),
    ({"client_id": "1", "events": [{"name": "a", "params": {"items": [{"price": 1}, 3]}}]},
     [("events[0].params.items[0]", "VALUE_REQUIRED"), ("events[0].params.items[1]", "VALUE_INVALID")]),
    ({"client_id": "1", "events": [{"name": "a", "params": {"items": [{"item_id": "x", **{f"c{i}": "v" for i in
                                                                                        range(11)}}]}}]},
     [("events[0].params.items[0]", "EXCEEDED_MAX_ENTITIES")]),
    ({"client_id": "1", "events": [{"name": f"e{i}"} for i in range(26)]}, [("events", "EXCEEDED_MAX_ENTITIES")]),
    ({"client_id": "1", "user_id": "u" * 257, "events": [{"name": "a"}]}, [("user_id", "VALUE_OUT_OF_BOUNDS")]),
    ({"client_id": "1", "user_properties": {"first_open_time": {"value": 1}, "_x": {"value": 1},
                                            "google_y": {"value": 1}, "a" * 25: {"value": 1},
                                            "long": {"value": "v" * 37}, "bare": 3}, "events": [{"name": "a"}]},
     [("user_properties.first_open_time", "NAME_RESERVED"), ("user_properties._x", "NAME_INVALID"),
      ("user_properties.google_y", "NAME_RESERVED"), ("user_properties." + "a" * 25, "NAME_INVALID"),
      ("user_properties.long.value", "VALUE_OUT_OF_BOUNDS"), ("user_properties.bare", "VALUE_INVALID")]),
    ({"client_id": "1", "user_properties": {f"p{i}": {"value": i} for i in range(26)}, "events": [{"name": "a"}]},
     [("user_properties", "EXCEEDED_MAX_ENTITIES")]),
    ({"client_id": "1", "consent": {"ad_user_data": "YES", "analytics": "GRANTED"}, "events": [{"name": "a"}]},
     [("consent.analytics", "VALUE_INVALID")]),  # an unknown field stops the parse: only it is reported
    ({"client_id": "1", "consent": {"ad_user_data": "YES"}, "events": [{"name": "a"}]},
     [("consent.ad_user_data", "VALUE_INVALID")]),
    ({"client_id": "1", "validation_behavior": "STRICT", "events": [{"name": "a"}]},
     [("validation_behavior", "VALUE_INVALID")]),
    ({"client_id": "1", "non_personalized_ads": "no", "events": [{"name": "a"}]},
     [("non_personalized_ads", "VALUE_INVALID")]),
    ({"client_id": "1", "user_data": {"sha256_email_address": "x@y.example", "email": "x"}, "events": [{"name": "a"}]},
     [("user_data.email", "VALUE_INVALID")]),
    ({"client_id": "1", "user_data": {"sha256_email_address": "x@y.example"}, "events": [{"name": "a"}]},
     [("user_data.sha256_email_address", "VALUE_INVALID")]),
    ({"client_id": "1", "timestamp_micros": "soon", "events": [{"name": "a"}]},
     [("timestamp_micros", "VALUE_INVALID")]),
])
def test_validation_codes_and_field_paths(body: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert codes(body) == expected


def test_timestamp_window_uses_the_run_clock() -> None:
    now_us = int(NOW * 1_000_000)
    assert codes(payload(timestamp_micros=now_us - 72 * 3600 * 1_000_000)) == []
    assert codes(payload(timestamp_micros=now_us - 73 * 3600 * 1_000_000)) == [
        ("timestamp_micros", "VALUE_OUT_OF_BOUNDS")]
    [message] = messages(payload(timestamp_micros=now_us + 5_000_000))
    assert message["validationCode"] == "VALUE_OUT_OF_BOUNDS" and "in the future" in message["description"]
    assert codes(payload(timestamp_micros=str(now_us))) == []


def test_duplicate_names_are_found_while_parsing() -> None:
    raw = ('{"client_id": "1", "client_id": "2", "events": [{"name": "a", "params": '
           '{"value": 1, "value": 2, "currency": "EUR"}}]}')
    found = messages(raw)
    assert [(m["detail"]["fieldPath"], m["validationCode"]) for m in found] == [
        ("client_id", "NAME_DUPLICATED"), ("events[0].params.value", "NAME_DUPLICATED")]
    assert "appears 2 times" in found[1]["description"]


@pytest.mark.parametrize(("raw", "needle"), [
    (b"{not json", "Unable to parse"), (b'{"client_id": NaN}', "NaN"), (b"[1, 2]", "not array"),
    (b'{"client_id": "caf\xe9"}', "invalid UTF-8"), (b"[" * 100_000, "Unable to parse"),
])
def test_unreadable_bodies_are_value_invalid(raw: bytes, needle: str) -> None:
    [message] = messages(raw)
    assert message["validationCode"] == "VALUE_INVALID" and "fieldPath" not in message
    assert needle in message["description"]


def test_size_limit_is_130000_bytes() -> None:
    small = payload(events=[{"name": "a", "params": {"p": "x"}}], pad="")
    small["pad"] = "y" * (130_000 - 1 - len(json.dumps(small)))
    assert len(json.dumps(small)) == 129_999
    assert all(code != "VALUE_OUT_OF_BOUNDS" for _, code in codes(small))
    small["pad"] += "y"
    assert codes(small) == [("", "VALUE_OUT_OF_BOUNDS")]
    [message] = messages(b"{" + b" " * (10 * 1024 * 1024) + b"}")
    assert message["validationCode"] == "VALUE_OUT_OF_BOUNDS" and "130000" in message["description"]


def test_app_streams_need_a_32_hex_app_instance_id() -> None:
    query = "firebase_app_id=1:2:android:3&api_secret=s"
    assert codes({"events": [{"name": "a"}]}, query) == [("app_instance_id", "VALUE_REQUIRED")]
    [message] = messages({"app_instance_id": "abc", "events": [{"name": "a"}]}, query)
    assert message["fieldPath"] == "app_instance_id" and "32 digit hexadecimal" in message["description"]
    assert codes({"app_instance_id": "0123456789abcdef0123456789ABCDEF", "events": [{"name": "a"}]}, query) == []


def test_a_measurement_id_is_required() -> None:
    assert codes(payload(), "api_secret=s") == [("measurement_id", "VALUE_REQUIRED")]


# ------------------------------------------------------------------ Google's strings (docs/clients.md, "Evidence")
# Strict JSON, Google's fieldPath/description, validation_behavior ENFORCE_RECOMMENDATIONS; the
# project's explanation sits in "detail". The expected texts are Google's; the payloads are written here.


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
