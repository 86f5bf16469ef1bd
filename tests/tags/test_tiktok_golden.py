"""Golden bodies per profile, written out from tiktok.md's rules (§5, §6, §8), not from the code."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from gtm_emulator.tags.tiktok import ENDPOINT, build_request

PIXEL = "C0ABCDEFGHIJKLMNOPQR"
TOKEN = "token-123"
NOW = 1700000000.4
UA = "Mozilla/5.0 (X11; Linux x86_64)"
PAGE = "https://shop.example/thanks?o=1001"
REF = "https://shop.example/cart"

# tiktok.md §8 reference vectors
ALICE = "848a771458438fc2ec420560d769fb9b9b86851ee338ec56517baabd79d3bb4f"  # " ALICE_abc@gmail.com "
JANE = "86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d"  # Jane.Doe@Example.com normalised
PHONE_E164 = "9f7ec22d72092cd3c0b58726ed9c2d91b92e51a3f29837508fb2948bb22dd2fd"  # +12133734253
PHONE_RAW = "4b678f6567931d9a67868e9d3741352167e39ed2a61b4cef031dbcd07269877e"  # (+1)2133734253 as is
USER_LOWER = "80fba0ae1c48e3978e43e4efc365e14e12ea0c830ba8ba5b9a2dafc7e3f2ab8b"  # user_123
USER_CASE = "e40649be2376c2d87395d79091b082b7313f8326a4d9c27da52dec8253eaca92"  # User_123
AB_JOINED = "1eb7c54d52831bbfe8942af0b1c56b7409523a59ed6ca99c1174fef7eb32c1b5"  # "a,b"
UPPER_HEX = "ABCDEF0123456789" * 4

OFFICIAL = {"profile": "tiktok-official", "pixel_code": PIXEL, "access_token": TOKEN}
STAPE = {"profile": "stape", "pixelId": PIXEL, "accessToken": TOKEN, "eventType": "inherit"}
SPEC = {"profile": "tiktok-spec", "pixel_code": PIXEL, "access_token": TOKEN, "phone_region": "US"}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def base(**extra: Any) -> dict[str, Any]:
    ev = {"page_location": PAGE, "page_referrer": REF, "ip_override": "203.0.113.7", "user_agent": UA}
    ev.update(extra)
    return ev


def build(ev: dict[str, Any], params: dict[str, Any], cookies: Any = None) -> dict[str, Any]:
    return build_request(ev, params, cookies=cookies, now=NOW)


def event_of(result: dict[str, Any]) -> dict[str, Any]:
    return result["body"]["data"][0]


ITEMS = [
    {"item_id": "SKU-1", "item_name": "Mug", "price": 12.5, "quantity": 2, "item_category": "Kitchen",
     "item_brand": "Acme", "currency": "EUR"},
    {"item_id": "SKU-2", "item_name": "Tea", "price": "4", "item_category2": "Drinks"},
]


# ---------------------------------------------------------------------- purchase with items


def test_official_purchase_with_items() -> None:
    result = build(base(event_name="purchase", transaction_id="T-1", items=ITEMS), OFFICIAL)
    assert result["method"] == "POST" and result["url"] == ENDPOINT
    assert result["headers"] == {"Content-Type": "application/json", "Access-Token": TOKEN}
    assert result["body"] == {
        "event_source": "web", "event_source_id": PIXEL, "partner_name": "GoogleTagManagerServer",
        "data": [{
            "event": "CompletePayment", "event_time": 1700000000,
            "user": {"ip": "203.0.113.7", "user_agent": UA},
            "page": {"url": PAGE, "referrer": REF},
            "device": {},
            "properties": {
                "contents": [
                    {"content_type": "product", "content_id": "SKU-1", "content_name": "Mug", "price": 12.5,
                     "quantity": 2, "content_category": "Kitchen", "brand": "Acme"},
                    # price "4" -> makeNumber -> 4; missing quantity -> 1; item_category2 as the last fallback
                    {"content_type": "product", "content_id": "SKU-2", "content_name": "Tea", "price": 4,
                     "quantity": 1, "content_category": "Drinks"},
                ],
                "currency": "EUR",  # first item with a currency
                "value": 29,  # 12.5 * 2 + 4 * 1
                "gtm_version": "s2s_0_2_01", "event_trigger_source": "GoogleTagManagerServer",
            },
        }],
    }
    assert result["set_cookies"] == []


def test_stape_purchase_with_items() -> None:
    result = build(base(event_name="purchase", transaction_id="T-1", items=ITEMS), STAPE)
    assert result["body"] == {
        "event_source": "web", "event_source_id": PIXEL,
        "data": [{
            "event": "CompletePayment", "event_time": 1700000000, "event_id": "T-1", "limited_data_use": False,
            "page": {"url": PAGE, "referrer": REF},
            "user": {"ip": "203.0.113.7", "user_agent": UA},
            "properties": {
                # types kept, no quantity default, no per-content content_type
                "contents": [
                    {"price": 12.5, "quantity": 2, "content_id": "SKU-1", "content_category": "Kitchen",
                     "content_name": "Mug", "brand": "Acme"},
                    {"price": "4", "content_id": "SKU-2", "content_name": "Tea"},
                ],
                "content_type": "product",  # no value, no currency from items
                "gtm_version": "stape_2_0_1",
            },
        }],
    }


def test_spec_purchase_with_items() -> None:
    result = build(base(event_name="purchase", transaction_id="T-1", items=ITEMS), SPEC)
    assert result["body"] == {
        "event_source": "web", "event_source_id": PIXEL,
        "data": [{
            "event": "Purchase", "event_time": 1700000000, "event_id": "T-1",
            "user": {"ip": "203.0.113.7", "user_agent": UA},
            "page": {"url": PAGE, "referrer": REF},
            "properties": {
                "contents": [
                    {"content_id": "SKU-1", "content_name": "Mug", "content_category": "Kitchen", "brand": "Acme",
                     "price": 12.5, "quantity": 2},
                    {"content_id": "SKU-2", "content_name": "Tea", "price": 4, "quantity": 1},
                ],
                "content_type": "product", "currency": "EUR", "value": 29, "order_id": "T-1",
            },
        }],
    }


@pytest.mark.parametrize(("params", "expected"), [(OFFICIAL, 0.30000000000000004), (SPEC, 0.3)])
def test_value_sum_rounding(params: dict[str, Any], expected: float) -> None:
    items = [{"item_id": "a", "price": 0.1, "currency": None}, {"item_id": "b", "price": 0.2, "currency": "USD"}]
    props = event_of(build(base(event_name="purchase", items=items), params))["properties"]
    assert props["value"] == expected
    if params is OFFICIAL:
        assert "currency" not in props  # the first item's currency is null: picked, then left out
    else:
        assert "currency" not in props  # spec reads items[0].currency only


def test_value_and_currency_from_event_data_win() -> None:
    props = event_of(build(base(event_name="purchase", items=ITEMS, value="30.5", currency="USD"), OFFICIAL))[
        "properties"]
    assert props["value"] == 30.5 and props["currency"] == "USD"
    props = event_of(build(base(event_name="purchase", items=ITEMS, value="30.5", currency="USD"), STAPE))[
        "properties"]
    assert props["value"] == "30.5" and props["currency"] == "USD"  # stape keeps the type


def test_stape_value_from_mp1_keys() -> None:
    props = event_of(build(base(event_name="purchase", **{"x-ga-mp1-ev": "12"}), STAPE))["properties"]
    assert props["value"] == "12"


# ---------------------------------------------------------------------- other events


@pytest.mark.parametrize(("ga4", "official", "stape", "spec"), [
    ("view_item", "ViewContent", "ViewContent", "ViewContent"),
    ("add_to_cart", "AddToCart", "AddToCart", "AddToCart"),
    ("begin_checkout", "InitiateCheckout", "InitiateCheckout", "InitiateCheckout"),
    ("page_view", "Pageview", "Pageview", "Pageview"),
    ("sign_up", "CompleteRegistration", "CompleteRegistration", "CompleteRegistration"),
    ("search", "Search", "Search", "Search"),
    ("generate_lead", "generate_lead", "SubmitForm", "Lead"),
    ("file_download", "file_download", "Download", "Download"),
    ("my_custom", "my_custom", "my_custom", "my_custom"),
])
def test_event_maps(ga4: str, official: str, stape: str, spec: str) -> None:
    ev = base(event_name=ga4)
    assert event_of(build(ev, OFFICIAL))["event"] == official
    assert event_of(build(ev, STAPE))["event"] == stape
    assert event_of(build(ev, SPEC))["event"] == spec


def test_view_item_official_full() -> None:
    ev = base(event_name="view_item", items=[{"item_id": "SKU-9", "item_name": "Pot", "price": 20}],
              currency="GBP", event_id="ev-1")
    data = event_of(build(ev, OFFICIAL))
    assert data["event"] == "ViewContent" and data["event_id"] == "ev-1"
    assert data["properties"]["contents"] == [
        {"content_type": "product", "content_id": "SKU-9", "content_name": "Pot", "price": 20, "quantity": 1}]
    assert data["properties"]["value"] == 20 and data["properties"]["currency"] == "GBP"


def test_add_to_cart_with_tt_content_type() -> None:
    ev = base(event_name="add_to_cart", tt_content_type="product_group",
              items=[{"item_id": 17, "price": 5, "quantity": 3}])
    warnings: list[str] = []
    data = event_of(build_request(ev, OFFICIAL, now=NOW, warnings=warnings))
    assert data["properties"]["contents"] == [{"content_type": "product_group", "content_id": 17, "price": 5,
                                               "quantity": 3}]
    assert data["properties"]["value"] == 15
    assert any("content_id" in w and "number" in w for w in warnings)  # numeric id kept, and warned about
    spec = event_of(build(ev, SPEC))
    assert spec["properties"]["contents"][0]["content_id"] == "17"


def test_begin_checkout_stape_without_items_has_no_contents() -> None:
    props = event_of(build(base(event_name="begin_checkout", value=40, currency="EUR"), STAPE))["properties"]
    assert props == {"currency": "EUR", "value": 40, "gtm_version": "stape_2_0_1"}


def test_page_view_minimal_bodies() -> None:
    ev = {"event_name": "page_view", "page_location": "https://shop.example/"}
    assert event_of(build(ev, OFFICIAL)) == {
        "event": "Pageview", "event_time": 1700000000, "user": {},
        "page": {"url": "https://shop.example/"}, "device": {},
        "properties": {"gtm_version": "s2s_0_2_01", "event_trigger_source": "GoogleTagManagerServer"}}
    assert event_of(build(ev, STAPE)) == {
        "event": "Pageview", "event_time": 1700000000, "limited_data_use": False,
        "page": {"url": "https://shop.example/"}, "user": {}, "properties": {"gtm_version": "stape_2_0_1"}}


def test_sign_up_with_user_id() -> None:
    ev = base(event_name="sign_up", user_id="User_123", method="Google")
    assert event_of(build(ev, OFFICIAL))["user"]["external_id"] == USER_CASE
    assert event_of(build(ev, STAPE))["user"]["external_id"] == USER_LOWER
    assert event_of(build(ev, SPEC))["user"]["external_id"] == USER_CASE


def test_search_term() -> None:
    ev = base(event_name="search", search_term="blue mug")
    assert event_of(build(ev, OFFICIAL))["properties"]["query"] == "blue mug"
    assert "query" not in event_of(build(ev, STAPE))["properties"]  # stape 2.0.1 reads only `query`
    spec_props = event_of(build(ev, SPEC))["properties"]
    assert spec_props["query"] == spec_props["search_string"] == "blue mug"


def test_stape_standard_mode_default_pageview_warns() -> None:
    warnings: list[str] = []
    params = {"profile": "stape", "pixelId": PIXEL, "accessToken": TOKEN}
    result = build_request(base(event_name="purchase"), params, now=NOW, warnings=warnings)
    assert event_of(result)["event"] == "Pageview"
    assert any("Pageview" in w and "purchase" in w for w in warnings)


# ---------------------------------------------------------------------- user data


def test_user_data_plain_padded_mixed_case() -> None:
    ev = base(event_name="purchase", user_data={"email_address": " ALICE_abc@gmail.com ",
                                                 "phone_number": "(+1)2133734253"}, user_id=" User_123 ")
    official = event_of(build(ev, OFFICIAL))["user"]
    assert (official["email"], official["phone"], official["external_id"]) == (ALICE, PHONE_RAW, USER_CASE)
    ev_stape = base(event_name="purchase", user_data={"email": " ALICE_abc@gmail.com ", "phone": "(+1)2133734253"},
                    user_id=" User_123 ")
    stape = event_of(build(ev_stape, STAPE))["user"]
    assert (stape["email"], stape["phone"], stape["external_id"]) == (ALICE, PHONE_RAW, USER_LOWER)
    spec = event_of(build(ev, SPEC))["user"]
    assert (spec["email"], spec["phone"], spec["external_id"]) == (ALICE, PHONE_E164, USER_CASE)


def test_user_data_already_hashed_passes_through() -> None:
    lower = JANE
    ev = base(event_name="purchase", user_data={"sha256_email_address": UPPER_HEX, "sha256_phone_number": lower})
    official = event_of(build(ev, OFFICIAL))["user"]
    assert official["email"] == UPPER_HEX  # unchanged, not even lower-cased
    assert official["phone"] == lower
    stape = event_of(build(base(event_name="purchase", email=UPPER_HEX, phone=lower), STAPE))["user"]
    assert stape["email"] == UPPER_HEX and stape["phone"] == lower
    spec = event_of(build(ev, SPEC))["user"]
    assert spec["email"] == UPPER_HEX.lower() and spec["phone"] == lower


def test_user_data_blank() -> None:
    ev = base(event_name="purchase", user_data={"email_address": "", "phone_number": "   "}, user_id="")
    assert set(event_of(build(ev, OFFICIAL))["user"]) == {"ip", "user_agent"}  # blank and whitespace dropped
    assert set(event_of(build(ev, SPEC))["user"]) == {"ip", "user_agent"}
    # stape writes a user field only when its source is truthy (`if (a) … else if (b) …`)
    stape_ev = base(event_name="purchase", user_data={"email": "", "email_address": "", "phone": "   "})
    stape = event_of(build(stape_ev, STAPE))["user"]
    assert "email" not in stape
    assert stape["phone"] == sha("")  # whitespace is truthy: trimmed, then the empty text hashed
    assert "external_id" not in stape


def test_official_tag_fields_win_over_event_data() -> None:
    params = {**OFFICIAL, "email": "Jane.Doe@Example.com", "sha256_email": UPPER_HEX}
    assert event_of(build(base(event_name="purchase", email="x@y.z"), params))["user"]["email"] == JANE


def test_stape_arrays_hashed_as_joined_text_and_spec_element_wise() -> None:
    stape = event_of(build(base(event_name="purchase", email=["a", "b"]), STAPE))["user"]
    assert stape["email"] == AB_JOINED
    spec = event_of(build(base(event_name="purchase", email=["a@example.com", "b@example.com"]), SPEC))["user"]
    assert spec["email"] == ["08168cd80dfd534ab0f10af10f1303fe00af2d43ab5c1432360d137f8197e17a",
                             "e8f39b3e1382367d6d41ab34dc270d4e7533f978c9e9a775dfe2185b2f96b96c"]


def test_stape_address_fields() -> None:
    ev = base(event_name="purchase", user_data={"address": [{"first_name": " Jane ", "last_name": "DOE",
                                                             "postal_code": "10115", "city": "Berlin",
                                                             "region": "BE", "country": "DE"}]})
    user = event_of(build(ev, STAPE))["user"]
    assert user["first_name"] == sha("jane") and user["last_name"] == sha("doe") and user["zip_code"] == sha("10115")
    assert (user["city"], user["state"], user["country"]) == ("Berlin", "BE", "DE")


# ---------------------------------------------------------------------- ttclid and cookies

TTCLID_COOKIE_OFFICIAL = {"name": "ttclid", "max_age": 2592000, "domain": "auto", "path": "/", "secure": True,
                          "http_only": False, "same_site": "None"}


def test_ttclid_from_url_official() -> None:
    ev = base(event_name="page_view", page_location="https://shop.example/?ttclid=E.C.P.url%2521")
    result = build(ev, OFFICIAL, cookies={"ttclid": ["E.C.P.cookie"]})
    assert event_of(result)["user"]["ttclid"] == "E.C.P.url!"  # decoded twice: %2521 -> %21 -> !
    assert result["set_cookies"] == [{**TTCLID_COOKIE_OFFICIAL, "value": "E.C.P.url!"}]


def test_ttclid_same_host_referrer_official() -> None:
    ev = base(event_name="page_view", page_location="https://shop.example/p",
              page_referrer="https://shop.example/landing?ttclid=E.C.P.ref")
    assert event_of(build(ev, OFFICIAL))["user"]["ttclid"] == "E.C.P.ref"


def test_ttclid_cross_host_referrer_ignored_official() -> None:
    ev = base(event_name="page_view", page_location="https://shop.example/p",
              page_referrer="https://www.tiktok.com/?ttclid=E.C.P.ref")
    result = build(ev, OFFICIAL)
    assert "ttclid" not in event_of(result)["user"] and result["set_cookies"] == []
    result = build(ev, OFFICIAL, cookies={"ttclid": "E.C.P.cookie"})
    assert event_of(result)["user"]["ttclid"] == "E.C.P.cookie"
    assert result["set_cookies"] == [{**TTCLID_COOKIE_OFFICIAL, "value": "E.C.P.cookie"}]  # refreshed


def test_ttclid_malformed_escape_moves_on() -> None:
    ev = base(event_name="page_view", page_location="https://shop.example/?ttclid=E.C.P.%25zz")
    assert event_of(build(ev, OFFICIAL, cookies={"ttclid": ["c1", "c2"]}))["user"]["ttclid"] == "c1"


def test_ttclid_stape_url_overrides_cookie_and_sets_lax_cookies() -> None:
    ev = base(event_name="page_view", page_location="https://shop.example/?ttclid=E.C.P.url")
    result = build(ev, STAPE, cookies={"ttclid": ["E.C.P.cookie"], "_ttp": ["ttp-1"]})
    user = event_of(result)["user"]
    assert user["ttclid"] == "E.C.P.url" and user["ttp"] == "ttp-1"
    common = {"domain": "auto", "path": "/", "secure": True, "http_only": False, "same_site": "Lax"}
    assert result["set_cookies"] == [
        {"name": "ttclid", "value": "E.C.P.url", "max_age": 2592000, **common},
        {"name": "_ttp", "value": "ttp-1", "max_age": 34190000, **common},
    ]


def test_ttclid_stape_ignores_page_referrer_but_reads_referer_header() -> None:
    ev = {"event_name": "page_view", "page_referrer": "https://shop.example/?ttclid=E.C.P.ref"}
    assert "ttclid" not in event_of(build(ev, STAPE))["user"]
    result = build_request(ev, STAPE, now=NOW, request_headers={"Referer": "https://shop.example/?ttclid=E.C.P.h"})
    assert event_of(result)["user"]["ttclid"] == "E.C.P.h"


def test_ttclid_cookie_and_common_cookie_stape() -> None:
    ev = base(event_name="page_view", common_cookie={"ttclid": "E.C.P.common", "_ttp": "ttp-common"})
    user = event_of(build(ev, STAPE))["user"]
    assert user["ttclid"] == "E.C.P.common" and user["ttp"] == "ttp-common"


def test_official_reads_ttp_cookie_but_never_writes_it() -> None:
    result = build(base(event_name="page_view"), OFFICIAL, cookies={"_ttp": ["ttp-9", "ttp-10"]})
    assert event_of(result)["user"]["ttp"] == "ttp-9" and result["set_cookies"] == []


def test_test_event_code_sources() -> None:
    assert build(base(event_name="x", test_event_code="EV"), {**OFFICIAL, "test_event_code": "TAG"})["body"][
        "test_event_code"] == "TAG"
    assert "test_event_code" not in build(base(event_name="x", test_event_code="EV"), OFFICIAL)["body"]
    assert build(base(event_name="x", test_event_code="EV"), {**STAPE, "testEventCode": "TAG"})["body"][
        "test_event_code"] == "EV"
