"""Facts the differential harness established about the published TikTok templates, as golden tests
that always run (no template needed): what the native ``tiktok-official`` and ``stape`` profiles
must send, byte for byte, cookie for cookie, console line for console line.

Each case states the template behaviour it pins in its name and comment; the data is made up here.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from gtm_emulator.core import js
from gtm_emulator.core.request import Request, Response
from gtm_emulator.core.variables import ContainerInfo
from gtm_emulator.errors import TagError
from gtm_emulator.tags.base import TagContext
from gtm_emulator.tags.tiktok import TikTokTag, build_request
from gtm_emulator.vendors.transport import HttpResponse, TransportError

NOW = 1_700_000_000.25
OK = b'{"code":0,"message":"OK","request_id":"g1","data":{}}'


class Wire:
    def __init__(self, status: int | None = 200, body: bytes = OK):
        self.status, self.body = status, body
        self.sent: list[tuple[str, str, dict[str, str], bytes]] = []

    def send(self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float = 0) -> HttpResponse:
        self.sent.append((method, url, dict(headers), body))
        if self.status is None:
            raise TransportError("failed", "no answer")
        return HttpResponse(self.status, {"Content-Type": "application/json"}, self.body)


def fire(event_data: dict[str, Any], params: dict[str, Any], *, cookies: dict[str, str] | None = None,
         headers: dict[str, str] | None = None, debug: bool = True, wire: Wire | None = None
         ) -> tuple[Wire, TagContext, str | None]:
    wire = wire or Wire()
    request = Request.build("POST", "https://sgtm.example/g/collect", headers=headers or {}, cookies=cookies)
    ctx = TagContext(tag_name="TikTok", event_data=event_data, request=request, response=Response(),
                     transport=wire, now=NOW, rng=random.Random(5),
                     info=ContainerInfo(debug_mode=debug, preview_mode=debug))
    error = None
    try:
        TikTokTag().run(params, ctx)
    except TagError as exc:
        error = str(exc)
    return wire, ctx, error


def body_text(event_data: dict[str, Any], params: dict[str, Any], **kw: Any) -> str:
    wire, _, error = fire(event_data, params, **kw)
    assert error is None and len(wire.sent) == 1
    return wire.sent[0][3].decode("utf-8")


OFFICIAL = {"pixel_code": "PIX1", "access_token": "tok"}
STAPE = {"profile": "stape", "pixelId": "PIX2", "accessToken": "tok"}


# ---------------------------------------------------------------------- tiktok-official


def test_official_body_bytes_follow_the_templates_member_order() -> None:
    event = {"event_name": "add_to_cart", "event_id": "e-9", "page_location": "https://a.example/p",
             "page_referrer": "https://b.example/", "user_id": "U1", "ip": "192.0.2.4", "user_agent": "UA/1",
             "currency": "NOK", "items": [{"item_id": "K1", "price": "3.5", "quantity": 2, "item_brand": "B"}]}
    assert body_text(event, {**OFFICIAL, "test_event_code": "T7", "description": "d"}) == (
        '{"event_source":"web","partner_name":"GoogleTagManagerServer","event_source_id":"PIX1",'
        '"test_event_code":"T7","data":[{"event_time":1700000000,"event":"AddToCart","event_id":"e-9",'
        '"page":{"url":"https://a.example/p","referrer":"https://b.example/"},'
        '"user":{"external_id":"' + js_sha("U1") + '","ip":"192.0.2.4","user_agent":"UA/1"},"device":{},'
        '"properties":{"contents":[{"content_type":"product","content_id":"K1","price":3.5,"quantity":2,'
        '"brand":"B"}],"currency":"NOK","value":7,"description":"d","gtm_version":"s2s_0_2_01",'
        '"event_trigger_source":"GoogleTagManagerServer"}}]}')


def js_sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()


def test_official_leaves_out_every_empty_string() -> None:
    # `if (x) …`: an empty text is falsy, so the member is not written at all
    event = {"event_name": "purchase", "user_agent": "", "page_location": "", "page_referrer": "", "query": "",
             "event_id": "", "currency": "", "user_data": {"email_address": "", "phone_number": ""},
             "items": [{"item_id": "", "item_name": "", "item_brand": "", "item_category": "", "price": ""}]}
    sent = json.loads(body_text(event, {**OFFICIAL, "description": ""}))["data"][0]
    assert sent["page"] == {} and sent["user"] == {} and "event_id" not in sent
    assert sent["properties"]["contents"] == [{"content_type": "product", "quantity": 1}]
    assert set(sent["properties"]) == {"contents", "gtm_version", "event_trigger_source"}


def test_official_custom_property_with_empty_key_is_written_as_empty_name() -> None:
    rows = [{"key": "", "value": "v0"}, {"value": "v1"}, {"key": "shop", "value": ""}]
    props = json.loads(body_text({}, {**OFFICIAL, "custom_properties": rows}))["data"][0]["properties"]
    assert list(props.items())[:3] == [("", "v0"), ("undefined", "v1"), ("shop", "")]


def test_official_undecodable_url_ttclid_does_not_fall_back_to_the_referrer() -> None:
    # the URL's ttclid is found but decodeUriComponent fails: the lookup ends there (no referrer),
    # and the cookie is the next source
    event = {"page_location": "https://shop.example/?ttclid=%E0%A4%A", "page_referrer":
             "https://shop.example/?ttclid=FROM-REFERRER"}
    wire, ctx, _ = fire(event, OFFICIAL, cookies={"ttclid": "FROM-COOKIE"})
    assert json.loads(wire.sent[0][3])["data"][0]["user"]["ttclid"] == "FROM-COOKIE"
    assert [c.header_value().split(";")[0] for c in ctx.response.set_cookies] == ["ttclid=FROM-COOKIE"]
    # decodable: the URL wins, decoded once more after parseUrl ("%2541" -> "%41" -> "A")
    wire, _, _ = fire({"page_location": "https://shop.example/?ttclid=%2541"}, OFFICIAL)
    assert json.loads(wire.sent[0][3])["data"][0]["user"]["ttclid"] == "A"


def test_official_a_throw_in_the_template_is_a_failure_with_the_sandboxes_console_line() -> None:
    wire, ctx, error = fire({"items": 7, "page_location": "https://s.example/?ttclid=C1"}, OFFICIAL)
    assert error is not None and wire.sent == []
    assert ctx.console == ["ERROR: the template threw: TypeError: value is not iterable"]
    assert [c.name for c in ctx.response.set_cookies] == ["ttclid"]  # written before the template threw
    _, ctx, error = fire({"user_data": {"email_address": 42}}, OFFICIAL)
    assert error is not None and ctx.console == ["ERROR: the template threw: TypeError: not a function"]


def test_official_logs_only_in_debug_environments_and_logs_a_missing_answer_as_status_0() -> None:
    _, ctx, _ = fire({}, {**OFFICIAL, "logType": "always"}, debug=False)
    assert ctx.console == []  # the template's logging permission covers debug environments only
    _, ctx, error = fire({}, {**OFFICIAL, "logType": "always"}, headers={"trace-id": "tr"}, wire=Wire(None))
    assert error is not None and len(ctx.console) == 2
    assert json.loads(ctx.console[1]) == {"Name": "TikTok", "Type": "Response", "TraceId": "tr",
                                          "ResponseStatusCode": 0, "ResponseHeaders": {}, "ResponseBody": ""}


def test_missing_access_token_sends_no_header() -> None:
    wire, _, _ = fire({}, {"pixel_code": "P"})
    assert wire.sent[0][2] == {"Content-Type": "application/json"}


# ---------------------------------------------------------------------- stape


def test_stape_body_bytes_follow_the_templates_member_order() -> None:
    event = {"event_name": "purchase", "transaction_id": "T-1", "page_location": "https://s.example/c",
             "email": "Zoe@Example.org", "city": "Oslo", "user_agent": "UA/2", "value": 9, "currency": "EUR",
             "items": [{"item_id": "I1", "quantity": 1, "item_name": "Hat"}]}
    text = body_text(event, {**STAPE, "eventType": "inherit", "customDataList": [{"name": "0", "value": "z"}]})
    assert text == (
        '{"event_source":"web","event_source_id":"PIX2","data":[{"event":"CompletePayment",'
        '"event_time":1700000000,"event_id":"T-1","page":{"url":"https://s.example/c"},"limited_data_use":false,'
        '"user":{"email":"' + js_sha("zoe@example.org") + '","city":"Oslo","user_agent":"UA/2"},'
        # a member named like an array index ("0") comes first, as in every JS object
        '"properties":{"0":"z","content_type":"product","currency":"EUR","value":9,'
        '"contents":[{"quantity":1,"content_id":"I1","content_name":"Hat"}],"gtm_version":"stape_2_0_1"}}]}')


def test_stape_non_numeric_event_time_is_sent_as_null() -> None:
    assert '"event_time":null' in body_text({"event_time": "soon"}, STAPE)
    assert '"event_time":12' in body_text({"event_time": "12.9"}, STAPE)  # makeInteger truncates


def test_stape_clock_rounds_to_the_nearest_second() -> None:
    assert json.loads(body_text({}, STAPE))["data"][0]["event_time"] == 1_700_000_000  # .25 rounds down


@pytest.mark.parametrize(("consent_state", "gcs", "sent"), [
    ("", "G111", True), ("", "G101", False), (None, "G111", True), ({"ad_storage": True}, "G100", True),
    ({}, "G111", False), ("granted", "G111", False),
])
def test_stape_consent_gate(consent_state: Any, gcs: str, sent: bool) -> None:
    # a falsy consent_state falls through to character 2 of x-ga-gcs; a truthy one decides alone
    event = {"x-ga-gcs": gcs}
    if consent_state is not None:
        event["consent_state"] = consent_state
    wire, _, error = fire(event, {**STAPE, "adStorageConsent": "required"})
    assert error is None and bool(wire.sent) is sent


def test_stape_url_ttclid_is_decoded_again_and_cleared_when_it_cannot_be() -> None:
    wire, ctx, _ = fire({"page_location": "https://s.example/?ttclid=%2541"}, STAPE, cookies={"ttclid": "OLD"})
    assert json.loads(wire.sent[0][3])["data"][0]["user"]["ttclid"] == "A"
    assert [c.header_value().split(";")[0] for c in ctx.response.set_cookies] == ["ttclid=A"]
    # cannot be decoded: the cookie's value is replaced by nothing, so no ttclid is sent or written
    wire, ctx, _ = fire({"page_location": "https://s.example/?ttclid=%E0%A4%A"}, STAPE, cookies={"ttclid": "OLD"})
    assert "ttclid" not in json.loads(wire.sent[0][3])["data"][0]["user"]
    assert ctx.response.set_cookies == []


def test_stape_falsy_sources_are_skipped_and_user_table_values_kept() -> None:
    event = {"email": "", "email_address": "", "phone": "0", "external_id": 0, "user_id": "u"}
    rows = [{"name": "zip_code", "value": 0}]
    user = json.loads(body_text(event, {**STAPE, "userDataList": rows}))["data"][0]["user"]
    assert "email" not in user and user["phone"] == js_sha("0") and user["external_id"] == js_sha("u")
    assert user["zip_code"] == 0  # hashData gives a falsy value back unchanged


# ---------------------------------------------------------------------- JSON key order, everywhere


def test_json_text_lists_index_like_keys_first() -> None:
    assert js.stringify({"b": 1, "10": 2, "2": 3, "02": 4, "a": [{"1": 0, "x": 1}]}) == \
        '{"2":3,"10":2,"b":1,"02":4,"a":[{"1":0,"x":1}]}'


def test_build_request_is_unchanged_by_the_order_fix_for_plain_payloads() -> None:
    built = build_request({"event_name": "purchase"}, OFFICIAL, now=NOW)
    assert list(built["body"]) == ["event_source", "partner_name", "event_source_id", "data"]
