"""The TikTok tag: profile rules beyond the goldens, the tag run through TagContext, and judge()."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from gtm_emulator.core import js
from gtm_emulator.core.request import Request, Response
from gtm_emulator.core.variables import ContainerInfo
from gtm_emulator.errors import ConfigError, TagError
from gtm_emulator.loading.registry import TAGS
from gtm_emulator.tags.base import TagContext
from gtm_emulator.tags.tiktok import ENDPOINT, HOST, TikTokTag, build_request, judge
from gtm_emulator.vendors.tiktok_mock import TikTokMock
from gtm_emulator.vendors.transport import HttpResponse, MockTransport

PIXEL = "C0ABCDEFGHIJKLMNOPQR"
NOW = 1700000000.0


def body_of(ev: dict[str, Any], params: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return build_request(ev, params, now=NOW, **kw)["body"]


# ---------------------------------------------------------------------- build_request contract


def test_default_profile_is_official_and_body_is_pure() -> None:
    ev = {"event_name": "purchase", "items": [{"item_id": "A", "price": 2}]}
    snapshot = json.dumps(ev)
    first = build_request(ev, {"pixel_code": PIXEL, "access_token": "t"}, now=NOW)
    second = build_request(ev, {"pixel_code": PIXEL, "access_token": "t"}, now=NOW)
    assert first == second and json.dumps(ev) == snapshot
    assert first["body"]["partner_name"] == "GoogleTagManagerServer"
    assert set(first) == {"method", "url", "headers", "body", "set_cookies"}


def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="profile"):
        build_request({}, {"profile": "nope"})


def test_missing_token_leaves_the_header_out_for_template_profiles() -> None:
    # the templates pass data.access_token (undefined) to sendHttpRequest, which leaves the header out
    for params in ({"pixel_code": PIXEL}, {"profile": "stape", "pixelId": PIXEL}):
        assert build_request({}, params, now=NOW)["headers"] == {"Content-Type": "application/json"}
    assert build_request({}, {"profile": "stape", "accessToken": ""}, now=NOW)["headers"]["Access-Token"] == ""
    assert build_request({}, {"profile": "tiktok-spec"}, now=NOW)["headers"]["Access-Token"] == ""


def test_event_time_rules() -> None:
    assert body_of({"event_time": 5}, {})["data"][0]["event_time"] == 1700000000  # official ignores event data
    stape = {"profile": "stape"}
    assert build_request({}, stape, now=1700000000.5)["body"]["data"][0]["event_time"] == 1700000001  # JS round
    assert body_of({"event_time": "1600000000.9"}, stape)["data"][0]["event_time"] == 1600000000
    assert body_of({"event_time": 1}, {**stape, "eventTime": "1650000000"})["data"][0]["event_time"] == 1650000000
    assert body_of({}, {"profile": "tiktok-spec"})["data"][0]["event_time"] == 1700000000


@pytest.mark.parametrize("value", [5, ["a@b.c"], {"x": 1}, True])
def test_official_non_string_pii_fails_the_tag(value: Any) -> None:
    with pytest.raises(TagError, match="email"):
        build_request({"user_data": {"email_address": value}}, {}, now=NOW)


def test_official_falsy_non_string_pii_is_left_out() -> None:
    assert "phone" not in body_of({"user_data": {"phone_number": 0}}, {})["data"][0]["user"]


def test_stape_pii_numbers_hashed_as_text_objects_fail() -> None:
    user = body_of({"phone": 4915112345678}, {"profile": "stape"})["data"][0]["user"]
    assert user["phone"] == js_sha("4915112345678")
    with pytest.raises(TagError):
        build_request({"email": {"a": 1}}, {"profile": "stape"}, now=NOW)
    assert "email" not in body_of({"email": "undefined"}, {"profile": "stape"})["data"][0]["user"]


def js_sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def test_official_items_not_array_fails() -> None:
    with pytest.raises(TagError, match="items"):
        build_request({"items": {"item_id": "a"}}, {}, now=NOW)


def test_official_tt_contents_and_empty_items() -> None:
    props = body_of({"tt_contents": '[{"item_id": "X", "price": 3, "quantity": 2}]'}, {})["data"][0]["properties"]
    assert props["contents"] == [{"content_type": "product", "content_id": "X", "price": 3, "quantity": 2}]
    assert props["value"] == 6
    props = body_of({"items": []}, {})["data"][0]["properties"]
    assert props["contents"] == []  # an empty array is truthy, so it is sent


def test_official_custom_contents_modes() -> None:
    base = {"object_property_source": "custom"}
    multi = {**base, "single_multi_product": "multiple", "contents": '[{"content_id": "A", "price": "2", '
                                                                     '"quantity": 3}, {"content_type": "x"}]'}
    props = body_of({"tt_content_type": "product_group"}, multi)["data"][0]["properties"]
    assert props["contents"] == [{"content_id": "A", "price": "2", "quantity": 3, "content_type": "product_group"},
                                 {"content_type": "x"}]
    assert props["value"] == 6  # JS * coerces "2"
    warnings: list[str] = []
    bad = build_request({}, {**base, "single_multi_product": "multiple", "contents": "[oops"}, now=NOW,
                        warnings=warnings)
    assert bad["body"]["data"][0]["properties"]["contents"] == "[oops" and any("JSON" in w for w in warnings)
    single = {**base, "single_multi_product": "single", "content_id": "S1", "content_type": "product_group",
              "price": "9.5", "brand": ""}
    props = body_of({"items": [{"item_id": "ignored"}]}, single)["data"][0]["properties"]
    assert props["contents"] == [{"content_type": "product_group", "content_id": "S1", "price": 9.5, "quantity": 1}]
    empty = {**base, "single_multi_product": "empty"}
    assert "contents" not in body_of({"items": []}, empty)["data"][0]["properties"]
    assert body_of({"items": [{"item_id": "I"}]}, empty)["data"][0]["properties"]["contents"][0]["content_id"] == "I"


def test_official_custom_properties_cannot_override_gtm_version() -> None:
    rows = [{"key": "gtm_version", "value": "x"}, {"key": "order_id", "value": "O1"}, {"key": "", "value": "no"}]
    props = body_of({}, {"custom_properties": rows, "value": "12", "description": "d"})["data"][0]["properties"]
    assert props["gtm_version"] == "s2s_0_2_01" and props["order_id"] == "O1" and props[""] == "no"
    # a row named gtm_version keeps its place among the rows and is then overwritten
    assert list(props) == ["value", "description", "gtm_version", "order_id", "", "event_trigger_source"]
    assert props["value"] == 12 and props["description"] == "d"


def test_official_device_from_client_hints() -> None:
    hints = {"architecture": "x86", "bitness": "", "full_version_list": [{"brand": "C", "version": "1"}],
             "mobile": False, "model": "", "platform": "Linux", "platform_version": "6.1"}
    assert body_of({"client_hints": hints}, {})["data"][0]["device"] == {
        "architecture": "x86", "browser_version_list": [{"brand": "C", "version": "1"}], "mobile": False,
        "platform": "Linux", "platform_version": "6.1"}


def test_official_ignored_fields_warn() -> None:
    warnings: list[str] = []
    build_request({"ip": "1.2.3.4"}, {"ip": "9.9.9.9", "url": "https://x"}, now=NOW, warnings=warnings)
    assert sum("never reads it" in w for w in warnings) == 2


def test_event_name_warnings_and_notes() -> None:
    warnings: list[str] = []
    notes: list[str] = []
    build_request({"event_name": "purchase", "event_id": 42}, {}, now=NOW, warnings=warnings, notes=notes)
    assert any("legacy TikTok event name 'CompletePayment'" in n for n in notes)  # accepted: a note
    assert not any("legacy" in w for w in warnings)
    assert any("event_id is a number" in w for w in warnings)
    build_request({"event_name": "view_item_list"}, {}, now=NOW, warnings=warnings, notes=notes)
    assert any("'view_item_list' is not mapped" in n for n in notes)
    build_request({"event_name": "page_view"}, {}, now=NOW, warnings=warnings, notes=notes)
    assert any("Pageview" in n for n in notes)


def test_event_name_override_table() -> None:
    rows = [{"from": "purchase", "to": "Purchase"}]
    assert body_of({"event_name": "purchase"}, {"event_name_overrides": rows})["data"][0]["event"] == "Purchase"
    stape = {"profile": "stape", "event_name_overrides": rows}
    assert body_of({"event_name": "purchase"}, stape)["data"][0]["event"] == "Purchase"
    assert body_of({"event_name": "add_to_cart"}, stape)["data"][0]["event"] == "Pageview"


# ---------------------------------------------------------------------- stape specifics


def test_stape_consent_gate() -> None:
    params = {"profile": "stape", "adStorageConsent": "required"}
    notes: list[str] = []
    skipped = build_request({"consent_state": {"ad_storage": False}}, params, now=NOW, notes=notes)
    assert skipped["method"] is None and skipped["body"] is None and skipped["set_cookies"] == []
    assert "ad_storage" in skipped["skip"] and notes == [skipped["skip"]]
    assert build_request({"consent_state": {"ad_storage": True}}, params, now=NOW)["method"] == "POST"
    # x-ga-gcs "G1xy": x (index 2) is ad_storage
    assert build_request({"x-ga-gcs": "G110"}, params, now=NOW)["method"] == "POST"
    assert build_request({"x-ga-gcs": "G101"}, params, now=NOW)["method"] is None
    assert build_request({}, params, now=NOW)["method"] is None
    assert build_request({"consent_state": {"ad_storage": False}}, {"profile": "stape"}, now=NOW)["method"] == "POST"


def test_stape_gtm_msr_skip() -> None:
    ev = {"page_location": "https://gtm-msr.appspot.com/render?id=1"}
    assert "gtm-msr" in build_request(ev, {"profile": "stape"}, now=NOW)["skip"]
    headers = {"Referer": "https://gtm-msr.appspot.com/x"}
    assert build_request({}, {"profile": "stape"}, now=NOW, request_headers=headers)["method"] is None
    assert build_request(ev, {}, now=NOW)["method"] == "POST"  # the official template has no such rule


def test_stape_generated_ttp_is_seedable() -> None:
    params = {"profile": "stape", "generateTtp": True}
    first = build_request({}, params, now=NOW, rng=random.Random(7))
    again = build_request({}, params, now=NOW, rng=random.Random(7))
    ttp = first["body"]["data"][0]["user"]["ttp"]
    assert ttp == again["body"]["data"][0]["user"]["ttp"] and len(ttp) == 27 and ttp.isalnum()
    assert [c["name"] for c in first["set_cookies"]] == ["_ttp"]
    assert "ttp" not in build_request({}, {"profile": "stape"}, now=NOW)["body"]["data"][0]["user"]


def test_stape_overrides_and_lists() -> None:
    params = {"profile": "stape", "eventType": "custom", "eventNameCustom": "MyEvent", "eventId": "E1",
              "limitedDataUse": True, "pageLocation": "https://o/", "pageReferrer": "https://r/",
              "userDataList": [{"name": "email", "value": "X@Y.Z"}, {"name": "city", "value": ""}],
              "customDataList": [{"name": "order_id", "value": "O9"}, {"name": "gtm_version", "value": "no"}]}
    data = body_of({"city": "Paris", "order_id": "O1"}, params)["data"][0]
    assert data["event"] == "MyEvent" and data["event_id"] == "E1" and data["limited_data_use"] is True
    assert data["page"] == {"url": "https://o/", "referrer": "https://r/"}
    assert data["user"]["email"] == js_sha("x@y.z") and data["user"]["city"] == "Paris"
    assert data["properties"]["order_id"] == "O9" and data["properties"]["gtm_version"] == "stape_2_0_1"


def test_stape_event_sources() -> None:
    ev = {"page_location": "https://shop.example/", "app_name": "Shop", "campaign_id": "C1", "idfv": "V",
          "locale": "nl-NL", "user_agent": "UA"}
    app = build_request(ev, {"profile": "stape", "eventSource": "app", "appId": "A1"}, now=NOW)["body"]
    event = app["data"][0]
    assert app["event_source"] == "app" and "page" not in event
    assert event["app"] == {"app_id": "A1", "app_name": "Shop"} and event["ad"] == {"campaign_id": "C1"}
    assert event["user"] == {"idfv": "V", "locale": "nl-NL"} and event["limited_data_use"] is False
    offline = build_request(ev, {"profile": "stape", "eventSource": "offline"}, now=NOW)["body"]["data"][0]
    assert set(offline) == {"event", "event_time", "user", "properties"} and offline["user"] == {}


# ---------------------------------------------------------------------- tiktok-spec specifics


def test_spec_phone_region_and_unusable_phone() -> None:
    params = {"profile": "tiktok-spec"}
    warnings: list[str] = []
    user = body_of({"user_data": {"phone_number": "030 1234567"}}, params, warnings=warnings)["data"][0]["user"]
    assert "phone" not in user and any("phone_region" in w for w in warnings)
    user = body_of({"user_data": {"phone_number": "030 1234567"}}, {**params, "phone_region": "de"})["data"][0]["user"]
    assert user["phone"] == js_sha("+49301234567")
    assert "phone" not in body_of({"phone": "+1 12"}, params)["data"][0]["user"]


def test_spec_types_are_strings_and_currency_upper() -> None:
    data = body_of({"event_name": "purchase", "transaction_id": 1001, "currency": "eur",
                    "items": [{"item_id": 5, "price": "2.5", "quantity": "2"}]}, {"profile": "tiktok-spec"})["data"][0]
    assert data["event_id"] == "1001" and data["properties"]["order_id"] == "1001"
    assert data["properties"]["contents"] == [{"content_id": "5", "price": 2.5, "quantity": 2}]
    assert data["properties"]["currency"] == "EUR" and data["properties"]["value"] == 5


def test_spec_legacy_event_names_become_current() -> None:
    notes: list[str] = []
    assert body_of({}, {"profile": "tiktok-spec", "event": "CompletePayment"}, notes=notes)["data"][0]["event"] \
        == "Purchase"
    assert any("Purchase" in n for n in notes)


def test_spec_locale_from_language() -> None:
    assert body_of({"language": "en-us"}, {"profile": "tiktok-spec"})["data"][0]["user"]["locale"] == "en-US"


# ---------------------------------------------------------------------- judge


def envelope(code: int, message: str = "m", headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(200, headers or {}, json.dumps({"code": code, "message": message, "request_id": "R",
                                                        "data": {}}).encode())


def test_judge() -> None:
    assert judge(envelope(0)) == (True, [])
    ok, warnings = judge(envelope(20001, "partial"))
    assert ok and warnings == ["TikTok partially accepted the data: code 20001: partial"]
    ok, warnings = judge(envelope(40002, "Invalid value for event_id: not a valid string."))
    assert not ok and warnings == ["TikTok rejected the event: code 40002: Invalid value for event_id: not a valid "
                                   "string."]
    ok, warnings = judge(HttpResponse(200, {}, b"<html>"))
    assert not ok and "not its JSON envelope" in warnings[0]
    ok, warnings = judge(HttpResponse(200, {}, b'{"message": "x"}'))
    assert not ok and "without a code" in warnings[0]
    ok, warnings = judge(envelope(0, headers={"x-mock-warnings": '["dup"]'}))
    assert ok and warnings == ["mock TikTok: dup"]


# ---------------------------------------------------------------------- the tag through TagContext


def make_ctx(mock: TikTokMock, event_data: dict[str, Any], *, headers: dict[str, str] | None = None,
             cookies: dict[str, str] | None = None, debug: bool = True, timeout: float = 15.0) -> TagContext:
    request = Request.build("GET", "https://sgtm.shop.example/g/collect?v=2", headers=headers or {},
                            cookies=cookies)
    return TagContext(tag_name="TikTok", event_data=event_data, request=request, response=Response(),
                      transport=MockTransport({HOST: mock.handle}), now=NOW, rng=random.Random(1),
                      info=ContainerInfo(debug_mode=debug, preview_mode=debug), timeout=timeout)


@pytest.fixture
def mock() -> TikTokMock:
    return TikTokMock(clock=lambda: NOW)


def test_registered_with_secret_params() -> None:
    assert "tiktok_events_api" in TAGS
    assert TikTokTag.secret_params == {"access_token", "accessToken"}


def test_run_success_sets_cookie_records_outgoing_and_logs(mock: TikTokMock) -> None:
    token = mock.generate_access_token(PIXEL)
    ctx = make_ctx(mock, {"event_name": "purchase", "event_id": "o-1",
                          "page_location": "https://shop.example/?ttclid=E.C.P.1", "user_data":
                          {"email_address": "a@b.example"}}, headers={"trace-id": "T1"})
    TikTokTag().run({"pixel_code": PIXEL, "access_token": token}, ctx)
    assert len(ctx.outgoing) == 1
    out = ctx.outgoing[0]
    assert out.url == ENDPOINT and out.headers["Access-Token"] == "****" and out.vendor_ok is True
    assert out.body["data"][0]["event"] == "CompletePayment"
    assert not ctx.vendor_rejected
    [cookie] = ctx.response.set_cookies
    assert (cookie.name, cookie.value, cookie.domain, cookie.same_site, cookie.max_age) == (
        "ttclid", "E.C.P.1", "shop.example", "None", 2592000)
    assert len(mock.events) == 1
    request_log, response_log = (json.loads(line) for line in ctx.console)
    assert request_log["Type"] == "Request" and request_log["TraceId"] == "T1" and "EventName" not in request_log
    assert request_log["RequestBody"]["event_source_id"] == PIXEL
    assert response_log["Type"] == "Response" and response_log["ResponseStatusCode"] == 200
    assert any("legacy TikTok event name" in n for n in ctx.notes)


def test_run_sends_the_js_text(mock: TikTokMock) -> None:
    seen: list[bytes] = []

    def handler(method: str, path: str, headers: dict[str, str], body: bytes) -> HttpResponse:
        seen.append(body)
        return mock.handle(method, path, headers, body)

    ctx = make_ctx(mock, {"event_name": "purchase", "items": [{"item_id": "a", "price": 12.5, "quantity": 2}]})
    ctx.transport = MockTransport({HOST: handler})
    TikTokTag().run({"pixel_code": PIXEL, "access_token": "t"}, ctx)
    assert b'"value":25,' in seen[0] and b"25.0" not in seen[0]
    assert seen[0].decode() == js.stringify(json.loads(seen[0]))


def test_run_vendor_rejection_is_still_success(mock: TikTokMock) -> None:
    mock.generate_access_token(PIXEL)
    ctx = make_ctx(mock, {"event_name": "purchase"})
    TikTokTag().run({"pixel_code": PIXEL, "access_token": "wrong"}, ctx)  # returns: GTM says success
    assert ctx.outgoing[0].vendor_ok is False and ctx.vendor_rejected
    assert any("code 40105" in w for w in ctx.warnings)


def test_run_http_error_and_no_answer_fail(mock: TikTokMock) -> None:
    mock.inject(status=503)
    with pytest.raises(TagError, match="503"):
        TikTokTag().run({"pixel_code": PIXEL, "access_token": "t"}, make_ctx(mock, {}))
    mock.inject(delay=0.03)
    ctx = make_ctx(mock, {}, timeout=0.001)
    with pytest.raises(TagError, match="no HTTP answer"):
        TikTokTag().run({"pixel_code": PIXEL, "access_token": "t"}, ctx)
    assert ctx.outgoing[0].error and ctx.outgoing[0].vendor_ok is False


def test_run_stape_optimistic_succeeds_regardless(mock: TikTokMock) -> None:
    mock.inject(status=502)
    ctx = make_ctx(mock, {"event_name": "purchase"})
    TikTokTag().run({"profile": "stape", "pixelId": PIXEL, "accessToken": "t", "useOptimisticScenario": True}, ctx)
    assert ctx.outgoing[0].response["status"] == 502  # type: ignore[index]
    with pytest.raises(TagError):
        mock.inject(status=502)
        TikTokTag().run({"profile": "stape", "pixelId": PIXEL, "accessToken": "t"}, make_ctx(mock, {}))


def test_run_stape_skip_sends_nothing_and_notes(mock: TikTokMock) -> None:
    ctx = make_ctx(mock, {"x-ga-gcs": "G100"}, cookies={"ttclid": "E.C.P.c"})
    TikTokTag().run({"profile": "stape", "pixelId": PIXEL, "accessToken": "t", "adStorageConsent": "required"}, ctx)
    assert ctx.outgoing == [] and ctx.response.set_cookies == [] and mock.requests == []
    assert any("consent" in n for n in ctx.notes)


def test_run_stape_reads_cookies_referer_and_logs_event_name(mock: TikTokMock) -> None:
    ctx = make_ctx(mock, {"event_name": "add_to_cart"}, cookies={"_ttp": "ttp-x"},
                   headers={"Referer": "https://shop.example/p?ttclid=E.C.P.h"})
    TikTokTag().run({"profile": "stape", "pixelId": PIXEL, "accessToken": "t", "eventType": "inherit",
                     "logType": "always"}, ctx)
    user = ctx.outgoing[0].body["data"][0]["user"]
    assert user["ttp"] == "ttp-x" and user["ttclid"] == "E.C.P.h"
    assert sorted(c.name for c in ctx.response.set_cookies) == ["_ttp", "ttclid"]
    assert all(c.same_site == "Lax" for c in ctx.response.set_cookies)
    assert json.loads(ctx.console[0])["EventName"] == "AddToCart"


# TikTok's template may log only in debug environments (its logging permission), so "always" outside
# preview shows nothing for it; stape's permission allows every environment.
@pytest.mark.parametrize(("log_type", "debug", "lines", "profile"), [
    ("no", True, 0, "tiktok-official"), ("debug", False, 0, "tiktok-official"), ("debug", True, 2, "tiktok-official"),
    ("always", False, 0, "tiktok-official"), (None, True, 2, "tiktok-official"), ("always", False, 2, "stape"),
    ("debug", False, 0, "stape")])
def test_logging_modes(mock: TikTokMock, log_type: str | None, debug: bool, lines: int, profile: str) -> None:
    ctx = make_ctx(mock, {}, debug=debug)
    params: dict[str, Any] = {"pixel_code": PIXEL, "access_token": "t"} if profile == "tiktok-official" else \
        {"profile": "stape", "pixelId": PIXEL, "accessToken": "t"}
    if log_type:
        params["logType"] = log_type
    TikTokTag().run(params, ctx)
    assert len(ctx.console) == lines


def test_run_official_failure_on_numeric_email_still_writes_ttclid(mock: TikTokMock) -> None:
    ctx = make_ctx(mock, {"user_data": {"email_address": 12}}, cookies={"ttclid": "E.C.P.c"})
    with pytest.raises(TagError):
        TikTokTag().run({"pixel_code": PIXEL, "access_token": "t"}, ctx)
    assert ctx.outgoing == []
    assert [c.name for c in ctx.response.set_cookies] == ["ttclid"]  # written before the template throws
