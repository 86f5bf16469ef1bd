from __future__ import annotations

import pytest

from gtm_emulator.core.request import (
    Request,
    Response,
    SetCookie,
    auto_cookie_domain,
    client_address,
    cookie_from_options,
    decode_component,
    parse_query,
)
from gtm_emulator.errors import RequestError


def test_decode_component_plus_and_percent() -> None:
    assert decode_component("a+b%20c%7E") == "a b c~"
    assert decode_component("caf%C3%A9") == "café"


@pytest.mark.parametrize("text", ["%zz", "%", "abc%4", "%G0"])
def test_decode_component_rejects_malformed_escapes(text: str) -> None:
    with pytest.raises(RequestError) as info:
        decode_component(text, what="query parameter 'en'")
    assert info.value.status == 400
    assert "malformed percent-encoding" in info.value.reason
    assert "query parameter 'en'" in info.value.reason


def test_decode_component_rejects_invalid_utf8() -> None:
    with pytest.raises(RequestError) as info:
        decode_component("%ff%fe")
    assert "invalid UTF-8" in info.value.reason and "0xff" in info.value.reason


def test_parse_query_keeps_order_repeats_and_empty_values() -> None:
    assert parse_query("a=1&b=&a=2&&c") == [("a", "1"), ("b", ""), ("a", "2"), ("c", "")]


def test_request_build_from_full_url_and_cookies() -> None:
    req = Request.build("get", "https://sgtm.shop.example/g/collect?v=2", cookies={"ttclid": "E.C.P.a b"},
                        headers={"X-Test": "1"})
    assert req.method == "GET" and req.path == "/g/collect" and req.query == "v=2"
    assert req.host == "sgtm.shop.example"
    assert req.is_https
    assert req.cookie_values("ttclid") == ["E.C.P.a b"]
    assert req.header("x-test") == "1"


def test_cookie_values_all_in_order_and_decoded() -> None:
    req = Request("GET", "/", headers=(("Cookie", "a=1; b=x%20y"), ("Cookie", "a=2")))
    assert req.cookie_values("a") == ["1", "2"]
    assert req.cookie_values("b") == ["x y"]
    assert req.cookie_values("b", decode=False) == ["x%20y"]
    assert req.cookies() == {"a": "1", "b": "x y"}


def test_repeated_headers_are_joined() -> None:
    req = Request("GET", "/", headers=(("Accept", "a"), ("accept", "b")))
    assert req.header("ACCEPT") == "a, b"


def test_client_address_honours_forwarding_only_from_trusted_proxies() -> None:
    req = Request("GET", "/", headers=(("X-Forwarded-For", "203.0.113.7, 10.0.0.1"),), remote_addr="10.0.0.1")
    assert client_address(req) == "10.0.0.1"
    assert client_address(req, ["10.0.0.0/8"]) == "203.0.113.7"
    fwd = Request("GET", "/", headers=(("Forwarded", 'for="[2001:db8::1]:4711"'),), remote_addr="127.0.0.1")
    assert client_address(fwd, ["127.0.0.1"]) == "2001:db8::1"


@pytest.mark.parametrize(
    ("host", "domain"),
    [("sgtm.shop.example", "shop.example"), ("www.shop.example.co.uk", "example.co.uk"), ("localhost", None),
     ("127.0.0.1", None), ("::1", None)],
)
def test_auto_cookie_domain(host: str, domain: str | None) -> None:
    assert auto_cookie_domain(host) == domain


def test_cookie_options_are_read_case_insensitively() -> None:
    req = Request.build("GET", "https://sgtm.shop.example/x")
    cookie = cookie_from_options("ttclid", "E.C.P.x", {"domain": "auto", "path": "/", "max-age": 2592000,
                                                       "secure": True, "httpOnly": False, "samesite": "none"}, req)
    assert cookie.to_dict() == {"name": "ttclid", "value": "E.C.P.x", "max_age": 2592000, "domain": "shop.example",
                                "path": "/", "secure": True, "http_only": False, "same_site": "None"}
    assert cookie.header_value() == ("ttclid=E.C.P.x; Domain=shop.example; Path=/; Max-Age=2592000; Secure; "
                                     "SameSite=None")


def test_set_cookie_value_is_uri_encoded_in_the_header() -> None:
    assert SetCookie("n", "a b;c").header_value() == "n=a%20b%3Bc; Path=/"


def test_later_cookie_with_same_name_replaces_earlier() -> None:
    resp = Response()
    resp.set_cookie(SetCookie("a", "1"))
    resp.set_cookie(SetCookie("b", "1"))
    resp.set_cookie(SetCookie("a", "2"))
    assert [(c.name, c.value) for c in resp.set_cookies] == [("b", "1"), ("a", "2")]
