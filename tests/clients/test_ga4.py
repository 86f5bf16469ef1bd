"""The GA4 web client: parameter mapping, typing, items, batching, limits, cookies and responses."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from gtm_emulator.clients import ga4
from gtm_emulator.clients.base import ClientRun
from gtm_emulator.clients.ga4 import GA4Client
from gtm_emulator.core.request import Request, Response
from gtm_emulator.errors import ConfigError, RequestError

BASE = "v=2&tid=G-TEST123&cid=111.222"
NOW = 1716803000.5


def one(query: str, **kwargs: Any) -> dict[str, Any]:
    events = ga4.parse("GET", "/g/collect", query, b"", kwargs.pop("headers", None),
                       kwargs.pop("remote_addr", "192.0.2.1"), **kwargs)
    assert len(events) == 1
    return events[0]


def handle(client: GA4Client, request: Request, *, now: float = NOW, seed: int = 7
           ) -> tuple[list[dict[str, Any]], Response, ClientRun]:
    """What the container does with a claimed request: events, then the response."""
    assert client.claim(request).claimed
    run = ClientRun(now=now, rng=random.Random(seed))
    events = client.events(request, run)
    response = Response()
    client.respond(request, run, response, [])
    return events, response, run


def status_of(client: GA4Client, request: Request) -> tuple[int, str]:
    with pytest.raises(RequestError) as info:
        handle(client, request)
    return info.value.status, info.value.reason


# ------------------------------------------------------------------ mapping and typing


def test_request_level_parameters_map_to_their_keys_and_types() -> None:
    data = one(BASE + "&en=x&gtm=45je&_p=123&_s=4&uid=u1&sid=1700000000&sct=3&ul=fr&sr=1x2"
               "&dl=https%3A%2F%2Fa.example%2F&dr=r&dt=t&de=UTF-8&dh=a.example&cu=EUR&ir=1&tt=internal&_uc=DE&tfd=9&ur=DE-BE&gcs=G100&gcu=1"
               "&dma_cps=syphamo&npa=1&pscdl=noapi&ecid=e1&em=tv.1~em.abc&_edid=e&gdid=g&did=d&_fid=f&_tu=Q&_eu=AAAI"
               "&_c=1&_z=fetch")
    assert data["x-ga-gtm_version"] == "45je"
    assert data["x-ga-page_id"] == 123 and isinstance(data["x-ga-page_id"], int)
    assert data["x-ga-request_count"] == 4
    assert data["user_id"] == "u1"
    assert data["ga_session_id"] == "1700000000"  # a string, not a number
    assert data["ga_session_number"] == 3
    assert (data["language"], data["screen_resolution"]) == ("fr", "1x2")
    assert (data["page_location"], data["page_referrer"], data["page_title"]) == ("https://a.example/", "r", "t")
    assert (data["page_encoding"], data["page_hostname"], data["currency"]) == ("UTF-8", "a.example", "EUR")
    assert (data["x-ga-mp2-ir"], data["x-ga-mp2-tt"]) == ("1", "internal")
    assert data["x-sst-system_properties"] == {"uc": "DE"}
    assert (data["x-ga-tfd"], data["x-ga-ur"], data["x-ga-gcs"], data["x-ga-gcu"]) == (9, "DE-BE", "G100", "1")
    assert (data["x-ga-dma_cps"], data["x-ga-npa"], data["x-ga-pscdl"], data["x-ga-ecid"]) == ("syphamo", "1", "noapi",
                                                                                               "e1")
    assert data["x-ga-em"] == "tv.1~em.abc"
    assert (data["x-ga-edid"], data["x-ga-gdid"], data["x-ga-did"]) == ("e", "g", "d")
    assert data["x-ga-system_properties"] == {"fid": "f", "tu": "Q", "eu": "AAAI", "c": "1", "z": "fetch"}
    assert "page_path" not in data  # not derived unless asked


def test_debug_mode_is_the_string_true_and_a_system_property() -> None:
    data = one(BASE + "&en=x&_dbg=1")
    assert data["debug_mode"] == "true"
    assert data["x-ga-system_properties"] == {"dbg": "1"}


@pytest.mark.parametrize(("text", "value"), [
    ("12", 12), ("1e3", 1000), (".5", 0.5), ("-0", 0), ("%207%20", 7), ("9.99", 9.99), ("0x10", 16),
    ("Infinity", float("inf")), ("-2.50", -2.5), ("12345678901234567890", 1.2345678901234567e19),
    ("9007199254740993", 9007199254740992),
    ("1e21", 1e21),
])
def test_numbers_follow_js_number(text: str, value: Any) -> None:
    data = one(BASE + f"&en=x&epn.n={text}")
    assert data["n"] == value
    assert type(data["n"]) is type(value)


@pytest.mark.parametrize("text", ["abc", "", "1_000", "1,5", "%20"])
def test_bad_numbers_stay_strings_with_a_warning(text: str) -> None:
    warnings: list[str] = []
    data = one(BASE + f"&en=x&epn.n={text}&_et={text}", warnings=warnings)
    decoded = text.replace("%20", " ")
    assert data["n"] == decoded and data["engagement_time_msec"] == decoded
    assert len(warnings) == 2 and all("kept as a string" in w for w in warnings)
    assert "epn.n" in warnings[0] and "_et" in warnings[1]


def test_event_parameters_later_one_wins_and_override_the_standard_mapping() -> None:
    data = one(BASE + "&en=x&ep.v=a&epn.v=2&epn.w=3&ep.w=b&dt=Title&ep.page_title=Mine")
    assert data["v"] == 2 and data["w"] == "b"
    assert data["page_title"] == "Mine"
    assert data["x-ga-protocol_version"] == "2"


def test_event_parameters_never_overwrite_internal_keys() -> None:
    warnings: list[str] = []
    data = one(BASE + "&en=x&ep.x-ga-measurement_id=G-EVIL&epn.x-sst-system_properties=1", warnings=warnings)
    assert data["x-ga-measurement_id"] == "G-TEST123"
    assert "x-sst-system_properties" not in data
    assert len(warnings) == 2 and "cannot be overwritten" in warnings[0]


def test_user_properties_keep_their_types() -> None:
    data = one(BASE + "&en=x&up.tier=gold&upn.orders=7&upn.ltv=12.5")
    assert data["x-ga-mp2-user_properties"] == {"tier": "gold", "orders": 7, "ltv": 12.5}


def test_unknown_parameters_are_kept_as_x_ga_mp2() -> None:
    data = one(BASE + "&en=x&frm=0&richsstsse&_gaz=1&pi=P1&tag_exp=1~2")
    assert data["x-ga-mp2-frm"] == "0"
    assert data["x-ga-mp2-richsstsse"] == ""
    assert data["x-ga-mp2-_gaz"] == "1"
    assert data["x-ga-mp2-pi"] == "P1"
    assert data["x-ga-mp2-tag_exp"] == "1~2"


def test_a_repeated_parameter_keeps_its_first_value() -> None:
    assert one(BASE + "&en=first&en=second")["event_name"] == "first"


def test_plus_is_a_space_and_percent_escapes_decode_as_utf8() -> None:
    data = one(BASE + "&en=x&dt=a+b%2Bc%20%C3%A9%E2%82%AC&ep.caf%C3%A9=1")
    assert data["page_title"] == "a b+c é€"
    assert data["café"] == "1"


def test_client_hints_only_with_a_ua_parameter_or_a_client_hint_header() -> None:
    assert "client_hints" not in one(BASE + "&en=x")
    # each brand/version encoded (A|B -> A%7CB -> A%257CB on the wire), separators encoded once
    hints = one(BASE + "&en=x&uamb=1&uaw=0&uam=Pixel%208"
                "&uafvl=A%257CB%3B1.0%7CSemi%253Bcolon%3B2")["client_hints"]
    assert hints["mobile"] is True and hints["wow64"] is False and hints["model"] == "Pixel 8"
    assert hints["full_version_list"] == [{"brand": "A|B", "version": "1.0"}, {"brand": "Semi;colon", "version": "2"}]
    assert one(BASE + "&en=x&uafvl=")["client_hints"] == {
        "architecture": "", "bitness": "", "full_version_list": [], "mobile": False, "model": "", "platform": "",
        "platform_version": "", "wow64": False}


def test_flags_that_are_not_0_or_1_stay_strings_with_a_warning() -> None:
    warnings: list[str] = []
    data = one(BASE + "&en=x&dma=yes&uamb=2", warnings=warnings)
    assert data["x-ga-dma"] == "yes" and data["client_hints"]["mobile"] == "2"
    assert len(warnings) == 1
    assert one(BASE + "&en=x&dma=1")["x-ga-dma"] == "1"  # recorded sGTM data keeps dma as sent


def test_user_agent_and_ip_override() -> None:
    data = one(BASE + "&en=x", headers={"user-agent": "UA/1"}, remote_addr="[2001:db8::1]:443")
    assert data["user_agent"] == "UA/1"
    assert data["ip_override"] == "2001:db8::1"
    assert "user_agent" not in one(BASE + "&en=x")
    assert one(BASE + "&en=x&uip=203.0.113.5")["ip_override"] == "203.0.113.5"
    assert one(BASE + "&en=x&_uip=203.0.113.6")["ip_override"] == "203.0.113.6"


def test_derive_page_fields_fills_hostname_and_path_from_the_location() -> None:
    data = one(BASE + "&en=x&dl=https%3A%2F%2Fshop.example%3A8443%2Fa%2Fb%3Fq%3D1", derive_page_fields=True)
    assert (data["page_hostname"], data["page_path"]) == ("shop.example", "/a/b")
    given = one(BASE + "&en=x&dh=given&dl=https%3A%2F%2Fx.example%2F", derive_page_fields=True)
    assert given["page_hostname"] == "given"


# ------------------------------------------------------------------ items


def test_item_fields_all_keys() -> None:
    item = one(BASE + "&en=x&pr1=" + "~".join([
        "idI", "nmN", "brB", "caC", "c2C2", "c3C3", "c4C4", "c5C5", "vaV", "pr1.5", "qt3", "cpCP", "ds0.5", "lp2",
        "liLI", "lnLN", "afAF", "loLO", "cnCN", "csCS", "piPI", "pnPN"]))["items"][0]
    assert item == {
        "item_id": "I", "item_name": "N", "item_brand": "B", "item_category": "C", "item_category2": "C2",
        "item_category3": "C3", "item_category4": "C4", "item_category5": "C5", "item_variant": "V", "price": 1.5,
        "quantity": 3, "coupon": "CP", "discount": 0.5, "index": 2, "item_list_id": "LI", "item_list_name": "LN",
        "affiliation": "AF", "location_id": "LO", "creative_name": "CN", "creative_slot": "CS",
        "promotion_id": "PI", "promotion_name": "PN",
    }


def test_numbered_category_form_is_opt_in() -> None:
    assert one(BASE + "&en=x&pr1=idA~ca2Shoes~ca5Red", numbered_item_categories=True)["items"][0] == {
        "item_id": "A", "item_category2": "Shoes", "item_category5": "Red"}
    assert one(BASE + "&en=x&pr1=idA~ca2Shoes")["items"][0] == {"item_id": "A", "item_category": "2Shoes"}


@pytest.mark.parametrize(("raw", "name"), [
    ("nmA~~B", "A~B"), ("nmA~~", "A~"), ("nm~~A", "~A"), ("nmA~~~~B", "A~~B"), ("nmA~~~idX", "A~"),
])
def test_double_tilde_is_a_literal_tilde(raw: str, name: str) -> None:
    assert one(BASE + f"&en=x&pr1={raw}")["items"][0]["item_name"] == name


def test_custom_item_parameters_pair_by_index() -> None:
    item = one(BASE + "&en=x&pr1=idA~k0color~v0red~k1size~v142%20EU~v2late~k2fit")["items"][0]
    assert item == {"item_id": "A", "color": "red", "size": "42 EU", "fit": "late"}


def test_items_are_ordered_by_index_with_gaps_and_capped_at_200() -> None:
    warnings: list[str] = []
    query = BASE + "&en=x&pr3=idC&pr1=idA&pr200=idZ&pr201=idOver&pr0=idZero&pr01=idLead"
    items = one(query, warnings=warnings)["items"]
    assert [i["item_id"] for i in items] == ["A", "C", "Z"]
    assert len(warnings) == 3 and all("ignored" in w for w in warnings)


def test_two_hundred_items() -> None:
    query = BASE + "&en=x&" + "&".join(f"pr{i}=idSKU{i}~pr{i}.5~qt{i}" for i in range(1, 201))
    items = one(query)["items"]
    assert len(items) == 200
    assert items[199] == {"item_id": "SKU200", "price": 200.5, "quantity": 200}


def test_unknown_item_keys_are_kept_raw_with_a_warning() -> None:
    warnings: list[str] = []
    assert one(BASE + "&en=x&pr1=idA~zzOdd", warnings=warnings)["items"][0] == {"item_id": "A", "zz": "Odd"}
    assert "unknown item key 'zz'" in warnings[0]


@pytest.mark.parametrize(("raw", "reason"), [
    ("idA~n", "lone character"), ("idA~k0color", "has no value v0"), ("idA~v0red", "has no key k0"),
    ("idA~k0~v0x", "is empty"),
])
def test_a_dangling_item_key_is_a_400_or_a_warning(raw: str, reason: str) -> None:
    with pytest.raises(RequestError) as info:
        one(BASE + f"&en=x&pr1={raw}")
    assert info.value.status == 400 and reason in info.value.reason and "pr1" in info.value.reason
    warnings: list[str] = []
    assert one(BASE + f"&en=x&pr1={raw}", strict_decoding=False, warnings=warnings)["items"] == [{"item_id": "A"}]
    assert reason in warnings[0]


def test_a_dangling_item_key_through_the_client_is_a_400() -> None:
    status, reason = status_of(GA4Client(), Request.build("GET", "/g/collect?" + BASE + "&en=x&pr1=idA~k0color"))
    assert status == 400 and "k0" in reason


# ------------------------------------------------------------------ batched POST


def test_batched_lines_overlay_the_query() -> None:
    body = b"en=a&dt=Line\r\n\r\n   \nep.only=1\n"
    events = ga4.parse("POST", "/g/collect", BASE + "&en=q&dt=Query&ep.only=0", body, None, "192.0.2.1")
    assert [e["event_name"] for e in events] == ["a", "q"]
    assert events[0]["page_title"] == "Line" and events[1]["page_title"] == "Query"
    assert events[1]["only"] == "1" and "only" in events[0] and events[0]["only"] == "0"


def test_line_parameters_come_after_the_query_for_ep_precedence() -> None:
    events = ga4.parse("POST", "/g/collect", BASE + "&epn.v=1", b"en=a&ep.v=line", None, "192.0.2.1")
    assert events[0]["v"] == "line"


def test_a_whitespace_body_is_like_a_get() -> None:
    events = ga4.parse("POST", "/g/collect", BASE + "&en=page_view", b" \r\n\t\n", None, "192.0.2.1")
    assert len(events) == 1 and events[0]["event_name"] == "page_view"


def test_uafvl_from_a_line_replaces_the_querys() -> None:
    events = ga4.parse("POST", "/g/collect", BASE + "&uafvl=Q%2520Q%3B1", b"en=a&uafvl=L%3B2\nen=b", None, "1.1.1.1")
    assert events[0]["client_hints"]["full_version_list"] == [{"brand": "L", "version": "2"}]
    assert events[1]["client_hints"]["full_version_list"] == [{"brand": "Q Q", "version": "1"}]


# ------------------------------------------------------------------ bad input: 4xx with a reason


def test_missing_v_is_not_claimed_with_a_reason() -> None:
    client = GA4Client()
    claim = client.claim(Request.build("GET", "/g/collect?tid=G-1&en=x"))
    assert not claim.claimed and "v=2" in claim.reason
    claim = client.claim(Request.build("GET", "/g/collect?v=1&tid=G-1&en=x"))
    assert not claim.claimed and "v=1" in claim.reason


@pytest.mark.parametrize(("url", "body", "needle"), [
    ("/g/collect?v=2&cid=1&en=x", "", "tid"),
    ("/g/collect?v=2&tid=&cid=1&en=x", "", "tid"),
    ("/g/collect?v=2&tid=G-1&cid=1", "", "en"),
    ("/g/collect?v=2&tid=G-1&cid=1", "en=a\n_et=5", "body line 2"),
])
def test_missing_tid_or_en_is_a_400(url: str, body: str, needle: str) -> None:
    status, reason = status_of(GA4Client(), Request.build("POST" if body else "GET", url, body=body))
    assert status == 400 and needle in reason


@pytest.mark.parametrize(("url", "body", "needle"), [
    ("/g/collect?v=2&tid=G-1&en=x&dt=100%", "", "'%'"),
    ("/g/collect?v=2&tid=G-1&en=x&dt=%zz", "", "'dt'"),
    ("/g/collect?v=2&tid=G-1&en=x&dt=%C3%28", "", "UTF-8"),
    ("/g/collect?v=2&tid=G-1", "en=a\nen=b&ep.x=%E2%82", "body line 2"),
])
def test_malformed_percent_encoding_and_invalid_utf8_are_a_400_naming_the_place(url: str, body: str,
                                                                                 needle: str) -> None:
    status, reason = status_of(GA4Client(), Request.build("POST" if body else "GET", url, body=body))
    assert status == 400 and needle in reason


def test_invalid_utf8_bytes_in_the_query_and_body() -> None:
    raw_query = b"v=2&tid=G-1&en=x&dt=caf\xe9".decode("utf-8", "surrogateescape")
    status, reason = status_of(GA4Client(), Request("GET", "/g/collect", raw_query))
    assert status == 400 and "UTF-8" in reason and "dt" in reason
    status, reason = status_of(GA4Client(), Request("POST", "/g/collect", "v=2&tid=G-1", body=b"en=a\nen=\xff\xfe"))
    assert status == 400 and "body line 2" in reason and "0xff" in reason


def test_lenient_decoding_uses_replacement_characters() -> None:
    client = GA4Client(settings={"strict_decoding": False})
    raw_query = b"v=2&tid=G-1&en=x&dt=caf\xe9&dr=%C3%28&ep.p=100%".decode("utf-8", "surrogateescape")
    events, _, _ = handle(client, Request("GET", "/g/collect", raw_query))
    assert events[0]["page_title"] == "caf\ufffd"
    assert events[0]["page_referrer"] == "\ufffd("
    assert events[0]["p"] == "100%"
    events, _, _ = handle(client, Request("POST", "/g/collect", "v=2&tid=G-1", body=b"en=a&dt=\xff"))
    assert events[0]["page_title"] == "\ufffd"


def test_a_body_of_ten_thousand_lines_is_a_413() -> None:
    body = "\n".join(f"en=e{i}&_et=1" for i in range(10_000))
    status, reason = status_of(GA4Client(), Request.build("POST", "/g/collect?v=2&tid=G-1&cid=1", body=body))
    assert status == 413 and "10000 events" in reason and "1000" in reason


def test_the_event_limit_is_a_setting() -> None:
    body = "\n".join(f"en=e{i}" for i in range(3))
    client = GA4Client(settings={"max_events": 2})
    status, _ = status_of(client, Request.build("POST", "/g/collect?v=2&tid=G-1", body=body))
    assert status == 413
    events, _, _ = handle(GA4Client(settings={"max_events": 3}), Request.build("POST", "/g/collect?v=2&tid=G-1",
                                                                                body=body))
    assert len(events) == 3


def test_a_ten_megabyte_body_is_a_413() -> None:
    body = b"en=big&ep.blob=" + b"a" * (10 * 1024 * 1024)
    status, reason = status_of(GA4Client(), Request.build("POST", "/g/collect?v=2&tid=G-1", body=body))
    assert status == 413 and "bytes" in reason


# ------------------------------------------------------------------ claiming


@pytest.mark.parametrize(("method", "url", "claimed"), [
    ("GET", "/g/collect?v=2&tid=G-1&en=x", True),
    ("POST", "/g/collect?v=2&tid=G-1", True),
    ("GET", "/metrics/g/collect?v=2&tid=G-1&en=x", True),
    ("OPTIONS", "/g/collect", True),
    ("PUT", "/g/collect?v=2", False),
    ("GET", "/xg/collect?v=2", False),
    ("GET", "/gtag/js?id=G-1", False),
    ("POST", "/mp/collect?measurement_id=G-1", False),
    ("GET", "/collect?v=2", False),
])
def test_claims(method: str, url: str, claimed: bool) -> None:
    claim = GA4Client().claim(Request.build(method, url))
    assert claim.claimed is claimed
    if not claimed:
        assert claim.reason


# ------------------------------------------------------------------ the client: addresses, cookies, response


def test_x_forwarded_for_is_honoured_only_from_trusted_proxies() -> None:
    request = Request.build("GET", "/g/collect?" + BASE + "&en=x", headers={"X-Forwarded-For": "203.0.113.9, 10.0.0.1"},
                            remote_addr="10.0.0.2")
    events, _, _ = handle(GA4Client(), request)
    assert events[0]["ip_override"] == "10.0.0.2"
    events, _, _ = handle(GA4Client(settings={"trusted_proxies": ["10.0.0.0/8"]}), request)
    assert events[0]["ip_override"] == "203.0.113.9"


def test_request_start_time_from_the_run_clock() -> None:
    events, _, _ = handle(GA4Client(), Request.build("GET", "/g/collect?" + BASE + "&en=x&_uc=FR"), now=1700000000.123)
    assert events[0]["x-sst-system_properties"] == {"uc": "FR", "request_start_time_ms": 1700000000123}


def test_js_mode_uses_cid_and_writes_no_cookie() -> None:
    events, response, _ = handle(GA4Client(), Request.build("GET", "/g/collect?" + BASE + "&en=x",
                                                            cookies={"FPID": "FPID2.2.abc.1"}))
    assert events[0]["client_id"] == "111.222" and "x-ga-js_client_id" not in events[0]
    assert response.status == 204 and response.body == b"" and response.set_cookies == []


def test_server_mode_reads_the_fpid_cookie_and_refreshes_it() -> None:
    client = GA4Client(settings={"cookie_management": "server"})
    request = Request.build("GET", "https://sgtm.shop.example/g/collect?" + BASE + "&en=x",
                            headers={"Cookie": "FPID=FPID2.2.q0Xb%2F9%2Bz%3D.1716000000; _ga=GA1.1.111.222"})
    events, response, _ = handle(client, request)
    assert events[0]["client_id"] == "q0Xb/9+z=.1716000000"
    assert events[0]["x-ga-js_client_id"] == "111.222"
    [cookie] = response.set_cookies
    assert (cookie.name, cookie.value) == ("FPID", "FPID2.2.q0Xb/9+z=.1716000000")
    assert cookie.http_only and cookie.secure and cookie.same_site is None
    assert (cookie.domain, cookie.path, cookie.max_age) == ("shop.example", "/", 63072000)


def test_server_mode_creates_a_new_id_from_the_run_rng_and_clock() -> None:
    client = GA4Client(settings={"cookie_management": "server", "cookie_name": "_sid", "cookie_domain": "none.example",
                                 "cookie_path": "/t", "cookie_max_age": "3600"})
    request = Request.build("POST", "http://localhost:8080/g/collect?" + BASE, body="en=a\nen=b")
    events, response, _ = handle(client, request, now=1716803000.9, seed=3)
    client_id = events[0]["client_id"]
    assert re.fullmatch(r"[A-Za-z0-9+/]{43}=\.1716803000", client_id)
    assert events[1]["client_id"] == client_id
    assert all(e["x-ga-js_client_id"] == "111.222" for e in events)
    [cookie] = response.set_cookies
    assert cookie.name == "_sid" and cookie.value == "FPID2.2." + client_id
    assert (cookie.domain, cookie.path, cookie.max_age, cookie.secure) == ("none.example", "/t", 3600, False)
    again, _, _ = handle(client, request, now=1716803000.9, seed=3)
    assert again[0]["client_id"] == client_id  # deterministic for a seed
    other, _, _ = handle(client, request, now=1716803000.9, seed=4)
    assert other[0]["client_id"] != client_id


def test_server_mode_migrates_the_js_client_id() -> None:
    client = GA4Client(settings={"cookie_management": "server", "migrate_from_js_client_id": True})
    events, response, _ = handle(client, Request.build("GET", "/g/collect?" + BASE + "&en=x"))
    assert events[0]["client_id"] == "111.222" == events[0]["x-ga-js_client_id"]
    assert response.set_cookies[0].value == "FPID2.2.111.222"
    assert response.set_cookies[0].domain is None  # host-only on localhost


def test_pure_parse_in_server_mode_without_a_cookie_leaves_the_id_to_the_client() -> None:
    data = one(BASE + "&en=x", cookie_mode="server")
    assert "client_id" not in data and data["x-ga-js_client_id"] == "111.222"


def test_response_status_setting_and_cors() -> None:
    request = Request.build("GET", "/g/collect?" + BASE + "&en=x", headers={"Origin": "https://shop.example"})
    _, response, _ = handle(GA4Client(settings={"response_status": "200"}), request)
    assert response.status == 200
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert response.headers["access-control-allow-credentials"] == "true"
    _, response, _ = handle(GA4Client(), Request.build("GET", "/g/collect?" + BASE + "&en=x"))
    assert "access-control-allow-origin" not in response.headers


def test_options_preflight_is_answered_204_with_cors() -> None:
    request = Request.build("OPTIONS", "/g/collect?v=2", headers={"Origin": "https://shop.example",
                                                                "Access-Control-Request-Headers": "content-type"})
    events, response, _ = handle(GA4Client(), request)
    assert events == []
    assert response.status == 204
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "content-type"


def test_richsstsse_is_recorded_and_answers_with_pixels_when_tags_asked_for_them() -> None:
    request = Request.build("POST", "/g/collect?" + BASE + "&richsstsse", body="en=page_view")
    client = GA4Client()
    events, response, _ = handle(client, request)
    assert events[0]["x-ga-mp2-richsstsse"] == ""
    assert response.status == 204
    run = ClientRun(now=NOW, rng=random.Random(1))
    client.events(request, run)
    run.state["send_pixel"] = ["https://ads.example/px?id=1"]
    response = Response()
    client.respond(request, run, response, [])
    assert response.status == 200 and response.headers["content-type"] == "text/event-stream"
    assert response.body == b'event: message\ndata: {"send_pixel": ["https://ads.example/px?id=1"]}\n\n'


# ------------------------------------------------------------------ settings


def test_default_settings_are_valid() -> None:
    assert GA4Client.check_settings({}) == []
    assert GA4Client().name == "GA4" and GA4Client.type == "ga4"


@pytest.mark.parametrize(("settings", "key"), [
    ({"cookie_management": "cookie"}, "cookie_management"),
    ({"cookie_name": "FP ID"}, "cookie_name"),
    ({"cookie_domain": ""}, "cookie_domain"),
    ({"cookie_path": "x"}, "cookie_path"),
    ({"cookie_max_age": -1}, "cookie_max_age"),
    ({"response_status": 201}, "response_status"),
    ({"trusted_proxies": "10.0.0.1"}, "trusted_proxies"),
    ({"trusted_proxies": ["10.0.0.300"]}, "trusted_proxies[0]"),
    ({"max_events": 0}, "max_events"),
    ({"strict_decoding": "maybe"}, "strict_decoding"),
    ({"cookieManagement": "js"}, "cookieManagement"),
])
def test_bad_settings_are_named(settings: dict[str, Any], key: str) -> None:
    problems = GA4Client.check_settings(settings)
    assert [k for k, _ in problems] == [key]
    with pytest.raises(ConfigError) as info:
        GA4Client(settings=settings)
    assert f"settings.{key}" in str(info.value)
