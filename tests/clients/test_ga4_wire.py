"""GA4 hits in the form real gtag.js puts on the wire, and the event data sGTM recorded for them.

The hits are written here from gtag's documented encoding (see docs/clients.md, "Evidence"): the
shapes of ``uafvl``, ``c2``..``c5``, ``sst.*``, ``gcd`` and ``dma`` as public captures show them,
and the event-data shapes (``client_hints`` with ``brands`` from ``Sec-CH-UA``,
``x-sst-system_properties`` with ``consent``, ``x-ga-mp2-gcd``, ``x-ga-dma`` as a string) as
sGTM containers recorded them in 2023 and January 2024.
"""

from __future__ import annotations

from typing import Any

import pytest

from gtm_emulator.clients import ga4
from gtm_emulator.clients.ga4_encoder import encode, request_fields

BASE = "v=2&tid=G-WIRE123&gtm=45je4180v9137682176&_p=1704857853989&cid=1531615311.1695261246&en=page_view"


def one(query: str, headers: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
    events = ga4.parse("GET", "/g/collect", query, b"", headers, "192.0.2.1", **kwargs)
    assert len(events) == 1
    return events[0]


# ------------------------------------------------------------------ uafvl: encoded twice


@pytest.mark.parametrize(("wire", "expected"), [
    ("Not%253AA-Brand%3B8.0.0.0%7CChromium%3B156.0.8078.114",
     [{"brand": "Not:A-Brand", "version": "8.0.0.0"}, {"brand": "Chromium", "version": "156.0.8078.114"}]),
    ("Google%2520Chrome%3B107.0.5304.88%7CChromium%3B107.0.5304.88%7CNot%253DA%253FBrand%3B24.0.0.0",
     [{"brand": "Google Chrome", "version": "107.0.5304.88"}, {"brand": "Chromium", "version": "107.0.5304.88"},
      {"brand": "Not=A?Brand", "version": "24.0.0.0"}]),
    ("Chromium%3B142.0.7444.176%7CMicrosoft%2520Edge%3B142.0.3595.94%7CNot_A%2520Brand%3B99.0.0.0",
     [{"brand": "Chromium", "version": "142.0.7444.176"}, {"brand": "Microsoft Edge", "version": "142.0.3595.94"},
      {"brand": "Not_A Brand", "version": "99.0.0.0"}]),
    # a brand holding the separators themselves: encoded twice, so they survive the split
    ("Not)A%253BBrand%3B8.0.0.0%7CA%257CB%3B1", [{"brand": "Not)A;Brand", "version": "8.0.0.0"},
                                               {"brand": "A|B", "version": "1"}]),
])
def test_uafvl_as_gtag_sends_it(wire: str, expected: list[dict[str, str]]) -> None:
    warnings: list[str] = []
    hints = one(BASE + "&uaa=x86&uab=64&uafvl=" + wire + "&uamb=0&uam=&uap=Windows&uapv=10.0.0&uaw=0",
                warnings=warnings)["client_hints"]
    assert hints["full_version_list"] == expected
    assert warnings == []


def test_a_version_list_without_versions_warns_instead_of_passing_silently() -> None:
    warnings: list[str] = []
    hints = one(BASE + "&uafvl=HeadlessChrome", warnings=warnings)["client_hints"]
    assert hints["full_version_list"] == [{"brand": "HeadlessChrome", "version": ""}]
    assert len(warnings) == 1 and "no ';'" in warnings[0]


def test_the_encoder_writes_uafvl_as_gtag_does() -> None:
    data = one(BASE + "&uaa=arm&uab=64&uafvl=Not%253AA-Brand%3B8.0.0.0%7CChromium%3B156.0.8078.114&uamb=0&uam="
               "&uap=macOS&uapv=15.5.0&uaw=0")
    assert "uafvl=Not%253AA-Brand%3B8.0.0.0%7CChromium%3B156.0.8078.114&" in encode(data) + "&"


# ------------------------------------------------------------------ items: c2..c5


def test_item_categories_as_gtag_writes_them() -> None:
    item = one(BASE.replace("page_view", "view_item") + "&pr1=idSKU_12345~nmStan%20and%20Friends%20Tee"
               "~caApparel~c2Adult~c3Shirts~c4Crew~c5Short%20sleeve~pr10.01~qt3")["items"][0]
    assert item == {"item_id": "SKU_12345", "item_name": "Stan and Friends Tee", "item_category": "Apparel",
                    "item_category2": "Adult", "item_category3": "Shirts", "item_category4": "Crew",
                    "item_category5": "Short sleeve", "price": 10.01, "quantity": 3}


def test_a_category_starting_with_a_digit_stays_item_category() -> None:
    item = one(BASE + "&pr1=idA~ca2024%20collection")["items"][0]
    assert item == {"item_id": "A", "item_category": "2024 collection"}
    assert "pr1=idA~ca2024%20collection" in encode({**one(BASE), "items": [item]})


# ------------------------------------------------------------------ client hints from Sec-CH-UA*

SEC_CH_UA = {"Sec-CH-UA": '"Chromium";v="116", "Not)A;Brand";v="24", "Microsoft Edge";v="116"',
             "Sec-CH-UA-Mobile": "?0", "Sec-CH-UA-Platform": '"macOS"'}
BRANDS = [{"brand": "Chromium", "version": "116"}, {"brand": "Not)A;Brand", "version": "24"},
          {"brand": "Microsoft Edge", "version": "116"}]


def test_client_hints_from_headers_when_no_ua_parameter_is_sent() -> None:
    # recorded sGTM data (2023-08): brands with major versions, mobile, platform with its quotes
    assert one(BASE, SEC_CH_UA)["client_hints"] == {"brands": BRANDS, "mobile": False, "platform": '"macOS"'}
    assert one(BASE, {"Sec-CH-UA-Mobile": "?1"})["client_hints"] == {"mobile": True}


def test_ua_parameters_give_every_field_and_the_header_brands() -> None:
    # recorded sGTM data (2023-09, 2024-01): the eight ua* fields, then brands from Sec-CH-UA
    hints = one(BASE + "&uaa=x86&uab=64&uafvl=Chromium%3B116.0.5845.188%7CNot)A%253BBrand%3B24.0.0.0&uamb=0&uam="
                "&uap=Windows&uapv=10.0.0&uaw=0", SEC_CH_UA)["client_hints"]
    assert list(hints) == ["architecture", "bitness", "full_version_list", "mobile", "model", "platform",
                           "platform_version", "wow64", "brands"]
    assert hints["platform"] == "Windows" and hints["brands"] == BRANDS
    assert hints["full_version_list"][1] == {"brand": "Not)A;Brand", "version": "24.0.0.0"}


def test_header_hints_round_trip_through_the_encoder() -> None:
    data = one(BASE, SEC_CH_UA)
    headers = request_fields(data)["headers"]
    assert one(encode(data), headers) == data


# ------------------------------------------------------------------ sst.*, gcd, dma, _dbg


def test_sst_parameters_go_to_x_sst_system_properties() -> None:
    data = one(BASE + "&sst.rnd=506702095.1749196701&sst.etld=google.de&sst.gcsub=region1&sst.adr=1"
               "&sst.tft=1749196701069&sst.lpc=253076363&sst.navt=n&sst.ude=1&sst.gse=1&sst.ngs=1")
    assert data["x-sst-system_properties"] == {
        "rnd": "506702095.1749196701", "etld": "google.de", "gcsub": "region1", "adr": "1", "tft": "1749196701069",
        "lpc": "253076363", "navt": "n", "ude": "1", "gse": "1", "ngs": "1"}
    assert not any(key.startswith("x-ga-mp2-sst") for key in data)


def test_gcd_dma_and_consent_as_recorded_in_january_2024() -> None:
    data = one(BASE + "&gcd=11l1l1l1l1&dma=0&sst.gcd=11l1l1l1l1&sst.tft=1704857853989")
    assert data["x-ga-mp2-gcd"] == "11l1l1l1l1"
    assert data["x-ga-dma"] == "0"
    assert "x-ga-gcd" not in data
    assert data["x-sst-system_properties"] == {
        "gcd": "11l1l1l1l1", "tft": "1704857853989",
        "consent": {"consentGrantedState": {"ad_storage": True, "analytics_storage": True, "ad_user_data": True,
                                            "ad_personalization": True},
                    "isUpdate": False, "updateType": ""}}


@pytest.mark.parametrize(("gcd", "granted", "update"), [
    ("13p3p3p2p5l1", [False, False, False, False], False),   # denied by default
    ("13r3r3r3r5l1", [True, True, True, True], True),        # denied by default, granted by update
    ("13t3t3t3t5l1", [True, True, True, True], False),       # granted by default
    ("13q3v3m3n5l1", [False, True, False, True], True),      # mixed updates
    ("13l3l3R3l5l1", [True, True, True, True], True),        # an upper-case letter reads as its lower case
])
def test_consent_letters_of_gcd(gcd: str, granted: list[bool], update: bool) -> None:
    consent = ga4.consent_from_gcd(gcd)
    assert consent is not None
    assert list(consent["consentGrantedState"].values()) == granted
    assert consent["isUpdate"] is update


def test_an_unreadable_gcd_keeps_the_value_and_warns() -> None:
    warnings: list[str] = []
    data = one(BASE + "&gcd=garbage", warnings=warnings)
    assert data["x-ga-mp2-gcd"] == "garbage" and data["x-sst-system_properties"] == {"gcd": "garbage"}
    assert len(warnings) == 1 and "gcd" in warnings[0]


def test_dbg_sets_the_system_property_and_debug_mode() -> None:
    data = one(BASE + "&_dbg=1")
    assert data["x-ga-system_properties"] == {"dbg": "1"} and data["debug_mode"] == "true"


def test_a_full_gtag_hit_round_trips_through_the_encoder() -> None:
    query = (BASE + "&gcs=G111&gcd=13r3r3r3r5l1&npa=0&dma_cps=-&dma=1&ul=en-us&sr=1728x1117&uaa=arm&uab=64"
             "&uafvl=Chromium%3B136.0.7103.114%7CGoogle%2520Chrome%3B136.0.7103.114%7CNot.A%252FBrand%3B99.0.0.0"
             "&uamb=0&uam=&uap=macOS&uapv=15.5.0&uaw=0&are=1&frm=0&pscdl=noapi&sst.etld=google.de"
             "&sst.tft=1749196701069&sst.navt=n&_s=3&sid=1749196701&sct=1&seg=0&dl=https%3A%2F%2Fshop.example%2F"
             "&dt=Shop&en=scroll&epn.percent_scrolled=90&_et=5")
    data = one(query, SEC_CH_UA)
    again = one(encode(data), request_fields(data)["headers"])
    assert again == data
