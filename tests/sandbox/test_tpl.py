"""Reading and validating .tpl files."""

from __future__ import annotations

import pytest
from helpers import TEMPLATES, tpl

from gtm_emulator.errors import ConfigError
from gtm_emulator.sandbox import load_template, validate_template
from gtm_emulator.sandbox.permissions import PermissionDenied, Permissions, url_allowed
from gtm_emulator.sandbox.tpl import parse_sections


def test_loads_own_tag_template_with_fields_permissions_and_tests() -> None:
    t = load_template(TEMPLATES / "tiktok_track.tpl")
    assert t.type == "TAG"
    assert t.display_name == "Test TikTok Track"
    assert "sendHttpRequest" in t.code
    # GROUP sub-fields are top-level data keys; defaults come from defaultValue
    assert t.field_defaults() == {"eventName": "CompletePayment", "setClickCookie": False}
    assert {"pixelId", "testEventCode", "extraProperties"} <= t.field_names()
    assert "extra" not in t.field_names()
    assert t.scenarios[0].name == "Sends one event and succeeds"
    assert "mock('sendHttpRequest'" in t.setup
    assert t.warnings == []


def test_sections_strip_bom_and_trailing_blank_lines() -> None:
    sections, preamble = parse_sections("\ufeff___INFO___\n\n{}\n\n\n___NOTES___\n\nhello\n\n")
    assert sections == {"INFO": "{}", "NOTES": "hello"}
    assert preamble == []


def test_text_and_path_both_load() -> None:
    text = (TEMPLATES / "email_domain.tpl").read_text()
    assert load_template(text).type == "MACRO"
    assert load_template(str(TEMPLATES / "email_domain.tpl")).file.endswith("email_domain.tpl")


@pytest.mark.parametrize(
    ("mutate", "path", "words"),
    [
        (lambda s: s.replace('"type": "TAG"', '"type": "FOO"'), "___INFO___.type", "unknown template type"),
        (lambda s: s.replace('["SERVER"]', '["WEB"]'), "___INFO___.containerContexts", "web templates"),
        (lambda s: s.replace("___SERVER_PERMISSIONS___\n\n[", "___SERVER_PERMISSIONS___\n\n[{"),
         "___SERVER_PERMISSIONS___", "not valid JSON"),
        (lambda s: s.replace("data.gtmOnSuccess();", ""), "___SANDBOXED_JS_FOR_SERVER___", "empty"),
        (lambda s: s + "\n___TESTS___\n\nscenarios: [unclosed\n", "___TESTS___", "not valid YAML"),
        (lambda s: s.replace("___INFO___", "___INFOX___"), "___INFO___", "missing"),
    ],
)
def test_validation_problems_name_section_paths(mutate: object, path: str, words: str) -> None:
    text = mutate(tpl("data.gtmOnSuccess();"))  # type: ignore[operator]
    problems = validate_template(text, "t.tpl")
    assert any(p.path == path and words in p.message and p.file == "t.tpl" for p in problems), problems
    with pytest.raises(ConfigError) as err:
        load_template(text)
    assert path in str(err.value)


def test_valid_template_has_no_problems_and_unknown_section_only_warns() -> None:
    text = tpl("data.gtmOnSuccess();") + "\n___SOMETHING_NEW___\n\nx\n"
    assert validate_template(text, "t.tpl") == []
    assert any("SOMETHING_NEW" in w for w in load_template(text).warnings)


def test_unknown_field_type_warns_and_nameless_value_field_is_a_problem() -> None:
    text = tpl("data.gtmOnSuccess();", fields=[{"type": "FANCY", "name": "a"}])
    assert validate_template(text) == []
    assert any("unknown field type" in w for w in load_template(text).warnings)
    problems = validate_template(tpl("x", fields=[{"type": "TEXT"}]), "t.tpl")
    assert problems[0].path == "___TEMPLATE_PARAMETERS___[0].name"


def test_url_patterns() -> None:
    assert url_allowed("https://business-api.tiktok.com/open_api/v1.3/event/track/", "https://*.tiktok.com/*")
    assert url_allowed("https://tiktok.com/x", "https://*.tiktok.com/*")
    assert not url_allowed("http://business-api.tiktok.com/x", "https://*.tiktok.com/*")
    assert not url_allowed("https://evil.example/x?u=tiktok.com", "https://*.tiktok.com/*")
    assert url_allowed("https://a.example/api/v1", "https://a.example/api/")
    assert not url_allowed("https://a.example/other", "https://a.example/api/")


def test_permission_checks() -> None:
    from helpers import perm

    p = Permissions([perm("read_event_data", eventDataAccess="specific", keyPatterns=["user_data", "items.*"]),
                     perm("get_cookies", cookieAccess="specific", cookieNames=["_ga"])])
    p.read_event_data("getEventData", "user_data.email_address")
    p.read_event_data("getEventData", "items.0.price")
    with pytest.raises(PermissionDenied):
        p.read_event_data("getEventData", "ip_override")
    with pytest.raises(PermissionDenied):
        p.read_event_data("getAllEventData", None)
    p.get_cookies("getCookieValues", "_ga")
    with pytest.raises(PermissionDenied):
        p.get_cookies("getCookieValues", "FPID")
    with pytest.raises(PermissionDenied, match="send_http"):
        p.send_http("sendHttpRequest", "https://a.example/")
    with pytest.raises(ValueError):
        Permissions([], enforce="sometimes")
