"""tag_templates/tiktok_events_api.json: valid against the tag-template schema, and consistent."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from gtm_emulator.tags.tiktok import PROFILES, TikTokTag, build_request

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = json.loads((ROOT / "tag_templates" / "tiktok_events_api.json").read_text("utf-8"))
SCHEMA = json.loads((ROOT / "gtm_emulator" / "schemas" / "tag_template.schema.json").read_text("utf-8"))
PARAMS = {p["name"]: p for p in TEMPLATE["parameters"]}


def test_validates_against_the_tag_template_schema() -> None:
    errors = list(Draft202012Validator(SCHEMA).iter_errors(TEMPLATE))
    assert errors == []


def test_schema_rejects_a_broken_copy() -> None:
    broken: dict[str, Any] = json.loads(json.dumps(TEMPLATE))
    broken["parameters"][0]["type"] = "dropdown"
    assert list(Draft202012Validator(SCHEMA).iter_errors(broken))


def test_identity() -> None:
    assert TEMPLATE["tag_type"] == TikTokTag.type
    assert len(PARAMS) == len(TEMPLATE["parameters"])  # names are unique


def test_profile_selector() -> None:
    profile = PARAMS["profile"]
    assert profile["default"] == "tiktok-official"
    assert [o["value"] for o in profile["options"]] == list(PROFILES)


@pytest.mark.parametrize(("profile", "names"), [
    ("tiktok-official", ["pixel_code", "access_token", "event", "test_event_code", "hash", "email", "phone",
                         "external_id", "sha256_email", "sha256_phone", "sha256_external_id",
                         "object_property_source", "single_multi_product", "contents", "content_id", "content_type",
                         "content_name", "content_category", "price", "quantity", "brand", "value", "currency",
                         "description", "query", "event_id", "url", "referrer", "ip", "user_agent",
                         "custom_properties", "logType", "event_name_overrides"]),
    ("stape", ["eventType", "eventName", "eventNameCustom", "eventSource", "accessToken", "pixelId", "testEventCode",
               "generateTtp", "useOptimisticScenario", "eventId", "eventTime", "limitedDataUse", "pageLocation",
               "pageReferrer", "userDataList", "customDataList", "adStorageConsent", "logType", "bigQueryLogType",
               "event_name_overrides"]),
    ("tiktok-spec", ["pixel_code", "access_token", "event", "event_id", "test_event_code", "email", "phone",
                     "external_id", "phone_region", "limited_data_use", "value", "currency", "query",
                     "custom_properties", "event_name_overrides"]),
])
def test_every_profile_parameter_is_declared_for_it(profile: str, names: list[str]) -> None:
    for name in names:
        assert name in PARAMS, name
        assert profile in PARAMS[name]["profiles"], (name, profile)
        enabled = PARAMS[name].get("enabled_when", {})
        assert profile in enabled.get("profile", PROFILES), name


def test_every_field_has_label_help_and_consistent_conditions() -> None:
    for name, param in PARAMS.items():
        assert param["label"]
        if not name.startswith("logBigQuery"):
            assert param.get("help"), name
        for other, values in param.get("enabled_when", {}).items():
            assert other in PARAMS, (name, other)
            if "options" in PARAMS[other]:
                known = {o["value"] for o in PARAMS[other]["options"]}
                assert set(values) <= known, (name, other, values)
        if param["type"] == "select":
            values = [o["value"] for o in param["options"]]
            assert len(values) == len(set(values)), name
            if "default" in param and "{{" not in str(param["default"]):
                assert param["default"] in values, name


def test_secrets_and_validation() -> None:
    assert PARAMS["access_token"]["secret"] and PARAMS["accessToken"]["secret"]
    assert {n for n, p in PARAMS.items() if p.get("secret")} == set(TikTokTag.secret_params)
    for name in ("pixel_code", "pixelId"):
        param = PARAMS[name]
        assert param["required"] is True
        pattern = re.compile(param["pattern"])
        assert pattern.match("C0ABCDEFGHIJKLMNOPQR") and not pattern.match("c0abcdefghijklmnopqr")
        assert not pattern.match("C0ABC")
    assert PARAMS["access_token"]["required"] and PARAMS["accessToken"]["required"]


def test_defaults_match_the_code() -> None:
    assert PARAMS["eventName"]["default"] == "Pageview"
    assert PARAMS["eventType"]["default"] == "standard"
    assert PARAMS["adStorageConsent"]["default"] == "optional"
    assert PARAMS["logType"]["default"] == "debug"
    assert PARAMS["object_property_source"]["default"] == "ga"
    # a stape tag built from the template's defaults sends every event as Pageview, as the code does
    defaults = {n: p["default"] for n, p in PARAMS.items() if "default" in p and "stape" in p["profiles"]}
    defaults["profile"] = "stape"
    body = build_request({"event_name": "purchase"}, defaults, now=1)["body"]
    assert body["data"][0]["event"] == "Pageview" and body["data"][0]["limited_data_use"] is False
