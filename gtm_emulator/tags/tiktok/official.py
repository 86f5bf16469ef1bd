"""Profile ``tiktok-official``: TikTok's own sGTM template "TikTok Events API (Official)" v0.2.01.

Sends byte for byte what that template sends when run in the sandbox: the same members in the same
order, each left out when the template's ``if (x)`` finds it falsy, the same failures (a non-string
PII value or a null item makes the template throw: :class:`TagError`). The differential harness
``gtm_emulator.harness.tiktok_parity`` holds it to that
(docs/tiktok.md, "Parity with the published templates").

What the template does that a reader may not expect (each reproduced on purpose):

- ttclid: the page URL's ``ttclid`` wins; when it cannot be decoded, the lookup ends there (the
  referrer is not read) and the cookie, the tag's ``ttclid`` field and event data follow.
- No E.164 for phones, ``external_id`` case kept, ``CompletePayment`` for ``purchase``, an
  unrounded value sum, ``device`` from GA4 client hints, a ``ttclid`` cookie with SameSite=None.
- ``custom_properties`` rows are written as they are: an empty key gives ``"": value``, a missing
  key ``"undefined"``; a row named like a built-in member (``gtm_version``) keeps its place and is
  then overwritten.
- ``object_property_source`` other than ``ga`` (the field's default) reads the custom contents
  settings; ``items`` that is a string yields one content per character (the template iterates it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ...core import js
from ...core.js import UNDEFINED, truthy
from ...core.url import parse_url
from ...errors import TagError
from .common import (
    HEX64,
    NOT_A_FUNCTION,
    TTCLID_MAX_AGE,
    Notes,
    TemplateThrow,
    check_normalised,
    cookie,
    decode_uri_component,
    first_cookie,
    iterate,
    json_parse,
    positive,
    prop,
    sha256_hex,
    trim,
)

GTM_VERSION = "s2s_0_2_01"
PARTNER_NAME = "GoogleTagManagerServer"
TTCLID_SAME_SITE = "None"
# the template's field defaults (a field left unset reads as its default)
DEFAULTS = {"object_property_source": "ga", "logType": "debug"}

EVENT_MAP = {
    "page_view": "Pageview", "view_item": "ViewContent", "add_to_cart": "AddToCart",
    "add_to_wishlist": "AddToWishlist", "begin_checkout": "InitiateCheckout",
    "add_payment_info": "AddPaymentInfo", "purchase": "CompletePayment", "search": "Search",
    "sign_up": "CompleteRegistration",
}
IGNORED_PARAMS = ("url", "referrer", "ip", "user_agent")


def hash_value(field: str, value: Any, *, lower: bool, notes: Notes) -> Any:
    """The template's hash rule: falsy -> left out; 64-hex (raw) -> unchanged; else normalise + hash."""
    if not truthy(value):
        return UNDEFINED
    if not isinstance(value, str):
        raise TemplateThrow(NOT_A_FUNCTION, f"user {field}: the template calls a string method on a "
                                            f"{js.type_of(value)} value ({js.to_string(value)!r})")
    if HEX64.match(value):
        return value
    text = trim(value.lower() if lower else value)
    if not text:
        return UNDEFINED
    check_normalised(field, value, notes)
    return sha256_hex(text)


def _url_data(url: Any) -> dict[str, Any]:
    """The template's ``getDataFromUrl``: ``{ttclid?, hostname?}``."""
    if not truthy(url):
        return {}
    parsed = parse_url(url)
    if parsed is None:
        return {}
    out: dict[str, Any] = {}
    ttclid = parsed["searchParams"].get("ttclid", UNDEFINED)
    if truthy(ttclid):
        out["ttclid"] = ttclid
    out["hostname"] = parsed["hostname"]
    return out


def ttclid_from_url(event_data: Mapping[str, Any]) -> Any:
    """The page URL's ttclid (decoded once more); else a same-host referrer's; else None. A page URL
    ttclid that cannot be decoded gives UNDEFINED and the referrer is not read."""
    location = _url_data(prop(event_data, "page_location"))
    if "ttclid" in location:
        return decode_uri_component(location["ttclid"])
    referrer = _url_data(prop(event_data, "page_referrer"))
    if "ttclid" in referrer and referrer.get("hostname", UNDEFINED) == location.get("hostname", UNDEFINED):
        return decode_uri_component(referrer["ttclid"])
    return None


def resolve_ttclid(event_data: Mapping[str, Any], params: Mapping[str, Any],
                   cookies: Mapping[str, Any] | None) -> Any:
    """URL -> same-host referrer -> cookie -> tag ``ttclid`` -> event data ``ttclid``
    (docs/tiktok.md, "ttclid and cookies")."""
    return js.or_chain(ttclid_from_url(event_data), first_cookie(cookies, "ttclid"), prop(params, "ttclid"),
                       prop(event_data, "ttclid"))


def _content(source: Any, content_type: Any, fields: tuple[str, str, str, str]) -> dict[str, Any]:
    """``makeGAContent`` / ``makeDataContent``: ``fields`` name the id, name, category and brand."""
    id_key, name_key, category, brand_key = fields
    price = js.to_number(prop(source, "price", "an item"))
    quantity = js.to_number(js.or_chain(prop(source, "quantity"), 1))
    content: dict[str, Any] = {"content_type": content_type}
    for key, value in (("content_id", prop(source, id_key)), ("content_name", prop(source, name_key)),
                       ("price", price), ("quantity", quantity)):
        if truthy(value):
            content[key] = value
    if category == "item_category":
        cat = js.or_chain(prop(source, "item_category"), prop(source, "item_category1"),
                          prop(source, "item_category2"))
    else:
        cat = prop(source, category)
    if truthy(cat):
        content["content_category"] = cat
    brand = prop(source, brand_key)
    if truthy(brand):
        content["brand"] = brand
    return content


GA_FIELDS = ("item_id", "item_name", "item_category", "item_brand")
DATA_FIELDS = ("content_id", "content_name", "content_category", "brand")


def _items(ev: Mapping[str, Any]) -> Any:
    items = prop(ev, "items")
    if truthy(items):
        return items
    raw = prop(ev, "tt_contents")
    if truthy(raw):
        parsed = json_parse(raw)
        if truthy(parsed):
            return parsed
    return UNDEFINED


def _contents(ev: Mapping[str, Any], p: Mapping[str, Any], items: Any, notes: Notes) -> Any:
    """The template's ``getContents``."""
    ga_contents: Any = UNDEFINED
    if truthy(items):
        content_type = js.or_chain(prop(ev, "tt_content_type"), "product")
        ga_contents = [_content(item, content_type, GA_FIELDS) for item in iterate(items, "items")]
    if prop(p, "object_property_source") == "ga":
        return ga_contents
    mode = prop(p, "single_multi_product")
    if mode == "multiple":
        raw = prop(p, "contents")
        parsed = json_parse(raw)
        if truthy(parsed):
            for element in iterate(parsed, "the contents field's JSON"):
                if not truthy(prop(element, "content_type", "a contents element")) and type(element) is dict:
                    element["content_type"] = js.or_chain(prop(ev, "tt_content_type"), "product")
            return parsed
        notes.warn("tag field 'contents' is not valid JSON: the template sends its raw text as contents")
        return raw
    if mode == "single":
        content_type = js.or_chain(prop(ev, "tt_content_type"), prop(p, "content_type"), "product")
        return [_content(p, content_type, DATA_FIELDS)]
    if isinstance(ga_contents, list) and ga_contents:
        return ga_contents
    return UNDEFINED


def _value(ev: Mapping[str, Any], p: Mapping[str, Any], contents: Any) -> Any:
    """The template's ``getValue``: the tag's or event's value, else Σ price × quantity (JS ``*``)."""
    value = js.or_chain(js.to_number(prop(p, "value")), js.to_number(prop(ev, "value")))
    if truthy(value):
        return value
    if not truthy(contents) or not positive(prop(contents, "length")):
        return UNDEFINED
    total: float = 0
    for content in iterate(contents, "contents"):
        price, quantity = prop(content, "price", "a content"), prop(content, "quantity")
        if price is not UNDEFINED and quantity is not UNDEFINED:
            total = total + float(js.to_number(price)) * float(js.to_number(quantity))
    return js.normalize_number(total) if isinstance(total, float) else total


def _currency(ev: Mapping[str, Any], p: Mapping[str, Any], items: Any) -> Any:
    chosen = js.or_chain(prop(p, "currency"), prop(ev, "currency"))
    if truthy(chosen):
        return chosen
    if truthy(items):
        for item in iterate(items, "items"):
            if truthy(item) and prop(item, "currency") is not UNDEFINED:
                return prop(item, "currency")
    return UNDEFINED


def _device(ev: Mapping[str, Any]) -> dict[str, Any]:
    hints = prop(ev, "client_hints")
    device: dict[str, Any] = {}
    if not truthy(hints):
        return device
    for key, name in (("architecture", "architecture"), ("bitness", "bitness"),
                      ("full_version_list", "browser_version_list")):
        if truthy(prop(hints, key)):
            device[name] = prop(hints, key)
    mobile = prop(hints, "mobile")
    if mobile is not UNDEFINED and mobile is not None:
        device["mobile"] = mobile
    for key in ("model", "platform", "platform_version"):
        if truthy(prop(hints, key)):
            device[key] = prop(hints, key)
    return device


def build(event_data: Mapping[str, Any], params: Mapping[str, Any], cookies: Mapping[str, Any] | None,
          now: float, notes: Notes) -> dict[str, Any]:
    """``{body, set_cookies}`` for one event, in the template's order of work."""
    ev = event_data
    p = {**DEFAULTS, **params}
    for key in IGNORED_PARAMS:
        if truthy(p.get(key)):
            notes.warn(f"tag field {key!r} is set but the tiktok-official template never reads it")
    ttclid = resolve_ttclid(ev, p, cookies)
    ttp = first_cookie(cookies, "_ttp")
    set_cookies = []
    if truthy(ttclid):
        set_cookies.append(cookie("ttclid", ttclid, TTCLID_MAX_AGE, TTCLID_SAME_SITE))
    try:
        return {"body": _body(ev, p, now, notes, ttclid, ttp), "set_cookies": set_cookies,
                "event_name_logged": UNDEFINED}
    except TagError as exc:
        # the template has already written the ttclid cookie when it throws
        exc.set_cookies = set_cookies  # type: ignore[attr-defined]
        raise


def _body(ev: Mapping[str, Any], p: Mapping[str, Any], now: float, notes: Notes, ttclid: Any,
          ttp: Any) -> dict[str, Any]:
    external_id = js.or_chain(prop(p, "external_id"), prop(p, "sha256_external_id"), prop(ev, "tt_external_id"),
                              prop(ev, "user_id"))
    user_data = prop(ev, "user_data")
    phone = js.or_chain(prop(p, "phone"), prop(p, "sha256_phone"), user_data if not truthy(user_data) else
                        js.or_chain(prop(user_data, "phone_number"), prop(user_data, "sha256_phone_number")))
    email = js.or_chain(prop(p, "email"), prop(p, "sha256_email"), user_data if not truthy(user_data) else
                        js.or_chain(prop(user_data, "email_address"), prop(user_data, "sha256_email_address")),
                        prop(ev, "email"))
    ip = js.or_chain(prop(ev, "ip_override"), prop(ev, "ip"))
    event = js.or_chain(prop(p, "event"), prop(ev, "event_name"))

    body: dict[str, Any] = {"event_source": "web", "partner_name": PARTNER_NAME}
    data: dict[str, Any] = {"event_time": math.floor(int(now * 1000) / 1000)}
    if truthy(prop(p, "pixel_code")):
        body["event_source_id"] = p["pixel_code"]
    if truthy(event):
        data["event"] = EVENT_MAP.get(event if type(event) is str else js.to_string(event)) or event
    event_id = js.or_chain(prop(p, "event_id"), prop(ev, "event_id"))
    if truthy(event_id):
        data["event_id"] = event_id
    if truthy(prop(p, "test_event_code")):
        body["test_event_code"] = p["test_event_code"]

    page: dict[str, Any] = {}
    if truthy(prop(ev, "page_location")):
        page["url"] = ev["page_location"]
    if truthy(prop(ev, "page_referrer")):
        page["referrer"] = ev["page_referrer"]
    data["page"] = page

    user: dict[str, Any] = {}
    if truthy(ttclid):
        user["ttclid"] = ttclid
    for key, value, lower in (("external_id", external_id, False), ("phone", phone, True),
                              ("email", email, True)):
        if truthy(value):
            user[key] = hash_value(key, value, lower=lower, notes=notes)
    if truthy(ttp):
        user["ttp"] = ttp
    if truthy(ip):
        user["ip"] = ip
    if truthy(prop(ev, "user_agent")):
        user["user_agent"] = ev["user_agent"]
    data["user"] = user
    data["device"] = _device(ev)

    properties: dict[str, Any] = {}
    items = _items(ev)
    contents = _contents(ev, p, items, notes)
    currency = _currency(ev, p, items)
    value = _value(ev, p, contents)
    description = prop(p, "description")
    query = js.or_chain(prop(p, "query"), prop(ev, "query"), prop(ev, "search_term"))
    for key, item in (("contents", contents), ("currency", currency), ("value", value),
                      ("description", description), ("query", query)):
        if truthy(item):
            properties[key] = item
    rows = prop(p, "custom_properties")
    if truthy(rows) and positive(prop(rows, "length")):
        index = 0
        while js.to_number(index) < js.to_number(prop(rows, "length")):
            row = prop(rows, str(index), "a custom_properties row")
            properties[js.to_string(prop(row, "key", "a custom_properties row"))] = prop(row, "value")
            index += 1
    properties["gtm_version"] = GTM_VERSION
    properties["event_trigger_source"] = PARTNER_NAME
    data["properties"] = properties
    body["data"] = [data]
    return body
