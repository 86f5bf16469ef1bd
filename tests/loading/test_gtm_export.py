"""Converting GTM server-container exports into the native container format."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers import DATA, tag_context, tiktok_transport

from gtm_emulator.errors import ConfigError
from gtm_emulator.loading.gtm_export import convert, load_export, param_value, write_conversion
from gtm_emulator.sandbox import load_template
from gtm_emulator.tags.template_tag import TemplateTag
from gtm_emulator.vendors.tiktok_mock import TikTokMock

SCHEMAS = Path(__file__).resolve().parents[2] / "gtm_emulator" / "schemas"
EXPORT = DATA / "exports" / "server_export.json"


def export() -> dict[str, Any]:
    return load_export(EXPORT)


def problems_of(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as err:
        convert(data, "x.json")
    assert all(p.file == "x.json" for p in err.value.problems)
    return [(p.path, p.message) for p in err.value.problems]


def test_own_export_converts_and_validates_against_the_schemas() -> None:
    files: dict[str, str] = {}
    native, warnings = convert(export(), "e.json", template_files=files)
    jsonschema.validate(native, json.loads((SCHEMAS / "container.schema.json").read_text()))
    trigger_schema = json.loads((SCHEMAS / "trigger.schema.json").read_text())
    for trigger in native["triggers"]:
        jsonschema.validate(trigger, trigger_schema)
    assert (native["name"], native["container_id"], native["version"]) == ("shop sgtm", "GTM-TEST123", "7")
    assert native["clients"] == [{"name": "GA4", "priority": 0, "type": "ga4", "settings": {
        "cookie_management": "server", "cookie_name": "FPID", "cookie_domain": "auto", "cookie_path": "/",
        "cookie_max_age": 63072000, "migrate_from_js_client_id": False}}]
    assert set(files) == {"templates/test_tiktok_track.tpl", "templates/test_email_domain.tpl"}
    assert not any("tag[2].type" in w for w in warnings)  # GA4 is emulated
    assert native["tags"][2]["type"] == "sgtmgaaw"
    assert native["transformations"] == [{"name": "Drop IP", "kind": "exclude", "parameters": []}]


def test_variables_map_to_native_types() -> None:
    native, _ = convert(export(), "e.json")
    by_name = {v["name"]: v for v in native["variables"]}
    assert by_name["Email"] == {"name": "Email", "type": "event_data", "key_path": "user_data.email_address",
                                "default_value": "none", "format_value": {"case": "lowercase", "undefined_to": ""}}
    assert by_name["Shop"]["rows"] == [{"key": "north.example", "value": "north"},
                                       {"key": "south.example", "value": "south"}]
    assert by_name["Section"]["type"] == "regex_table" and by_name["Section"]["full_matches_only"] is False
    assert by_name["Click ID"] == {"name": "Click ID", "type": "cookie", "cookie_name": "ttclid", "decode": True}
    assert by_name["Campaign"] == {"name": "Campaign", "type": "query_parameter", "parameter": "utm_campaign"}
    assert by_name["Agent"] == {"name": "Agent", "type": "request_header", "header": "User-Agent"}
    assert by_name["Email Domain"]["template"] == "templates/test_email_domain.tpl"


def test_triggers_and_tags() -> None:
    native, _ = convert(export(), "e.json")
    triggers = {t["name"]: t for t in native["triggers"]}
    assert triggers["GA4 purchase"]["conditions"] == [
        {"variable": "Event Name", "operator": "equals", "value": "purchase"},
        {"variable": "Client Name", "operator": "equals", "value": "GA4"}]
    assert triggers["Internal traffic"]["conditions"][0]["ignore_case"] is True
    assert triggers["Internal traffic"]["conditions"][1] == {
        "variable": "Email", "operator": "contains", "value": "@test.", "negate": True}
    assert triggers["Everything"] == {"name": "Everything", "fires_on": "all_events", "id": "14"}
    tags = {t["name"]: t for t in native["tags"]}
    main = tags["TikTok via template"]
    assert (main["type"], main["template"], main["priority"]) == ("template", "templates/test_tiktok_track.tpl", 10)
    assert (main["firing_triggers"], main["blocking_triggers"]) == (["GA4 purchase"], ["Internal traffic"])
    assert main["setup_tags"] == [{"tag": "GA4 forward", "stop_on_failure": False}]
    assert main["parameters"]["extraProperties"] == [{"key": "shop", "value": "{{Shop}}"}]
    assert main["parameters"]["setClickCookie"] is True
    official = tags["TikTok official"]
    assert official["type"] == "tiktok_events_api" and official["paused"] is True
    assert official["parameters"] == {"profile": "tiktok-official", "pixel_code": "{{Pixel}}",
                                      "access_token": "{{Token}}", "event": "{{Event Name}}"}
    assert official["firing_triggers"] == ["All Events"]
    assert tags["GA4 forward"]["teardown_tags"] == [{"tag": "TikTok official", "stop_on_failure": True}]


def test_stape_gallery_template_maps_to_stape_profile() -> None:
    data = export()
    data["containerVersion"]["customTemplate"][2]["galleryReference"].update(owner="stape-io", repository="tiktok-tag")
    native, _ = convert(data, "e.json")
    assert native["tags"][1]["parameters"]["profile"] == "stape"


def test_converted_template_tag_posts_to_mock_tiktok(tmp_path: Path) -> None:
    native, _ = write_conversion(EXPORT, tmp_path / "out" / "container.json")
    written = json.loads((tmp_path / "out" / "container.json").read_text())
    assert written == native
    tag = next(t for t in native["tags"] if t["type"] == "template")
    template = load_template(tmp_path / "out" / tag["template"])
    # the container resolves {{Pixel}}, {{Token}} and {{Shop}}; here they are resolved by hand
    params = dict(tag["parameters"], pixelId="PIXEL1", accessToken="tok",
                  extraProperties=[{"key": "shop", "value": "north"}])
    mock = TikTokMock(pixels={"PIXEL1": {"tok"}})
    transport, _ = tiktok_transport(mock)
    ctx = tag_context({"event_name": "purchase", "currency": "EUR", "value": 5, "ttclid": "c"}, transport=transport)
    TemplateTag(template).run(params, ctx)
    assert [e.event["event"] for e in mock.events] == ["CompletePayment"]
    assert mock.events[0].event["properties"] == {"currency": "EUR", "value": 5, "shop": "north"}
    assert ctx.response.set_cookies[0].name == "ttclid"


def test_web_export_is_rejected() -> None:
    data = export()
    data["containerVersion"]["container"]["usageContext"] = ["WEB"]
    assert problems_of(data)[0][0] == "$.containerVersion.container.usageContext"
    assert problems_of({"exportFormatVersion": 2})[0][0] == "$.containerVersion"


def test_unknown_types_are_imported_and_named_conditions_that_cannot_run_are_problems() -> None:
    data = copy.deepcopy(export())
    cv = data["containerVersion"]
    cv["tag"][0]["type"] = "html"
    cv["variable"][1]["type"] = "jsm"
    cv["trigger"][0]["type"] = "pageview"
    cv["client"].append({"clientId": "2", "name": "Odd", "type": "weird_client"})
    native, warnings = convert(data, "x.json")
    joined = "\n".join(warnings)
    for path, code in (("tag[0].type", "'html'"), ("variable[1].type", "'jsm'"), ("trigger[0].type", "'pageview'"),
                       ("client[1].type", "'weird_client'")):
        assert any(f"$.containerVersion.{path}" in w and code in w for w in warnings), (path, joined)
    assert native["tags"][0]["type"] == "not_emulated" and native["tags"][0]["export_type"] == "html"
    assert native["clients"][1] == {"name": "Odd", "priority": 0, "type": "unsupported",
                                    "settings": {"export_type": "weird_client"}}
    assert native["triggers"][0]["unsupported_type"] == "pageview"
    # what no type mapping can fix stays a problem, named by path
    cv["tag"][1]["firingTriggerId"] = ["99"]
    cv["trigger"][1]["filter"][0]["type"] = "CSS_SELECTOR"
    cv["trigger"][2]["filter"] = [{"type": "EQUALS", "parameter": [
        {"type": "TEMPLATE", "key": "arg0", "value": "text {{Email}}"},
        {"type": "TEMPLATE", "key": "arg1", "value": "x"}]}]
    paths = dict(problems_of(data))
    assert "99" in paths["$.containerVersion.tag[1].firingTriggerId[0]"]
    assert "web" in paths["$.containerVersion.trigger[1].filter[0].type"]
    assert "single" in paths["$.containerVersion.trigger[2].filter[0].parameter"]


def test_broken_custom_template_is_reported_inside_template_data() -> None:
    data = export()
    text = data["containerVersion"]["customTemplate"][0]["templateData"]
    data["containerVersion"]["customTemplate"][0]["templateData"] = text.replace('"type": "TAG"', '"type": "NOPE"')
    paths = [p for p, _ in problems_of(data)]
    assert "$.containerVersion.customTemplate[0].templateData.___INFO___.type" in paths
    data = export()
    data["containerVersion"]["tag"][0]["type"] = "cvt_200_21"  # the variable template used as a tag
    assert any("MACRO" in m for p, m in problems_of(data) if p == "$.containerVersion.tag[0].type")


def test_builtin_trigger_ids() -> None:
    data = export()
    data["containerVersion"]["tag"][2]["firingTriggerId"] = ["2147479999"]
    native, warnings = convert(data, "e.json")
    assert native["tags"][2]["firing_triggers"] == ["All Events"]
    assert any("2147479999" in w for w in warnings)


def test_parameter_values() -> None:
    assert param_value({"type": "BOOLEAN", "value": "true"}) is True
    assert param_value({"type": "INTEGER", "value": "10"}) == 10
    assert param_value({"type": "LIST", "list": [{"type": "MAP", "map": [
        {"type": "TEMPLATE", "key": "a", "value": "{{X}}"}]}]}) == [{"a": "{{X}}"}]
    assert param_value({"type": "TAG_REFERENCE", "value": "Other tag"}) == "Other tag"
