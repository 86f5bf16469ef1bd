"""Profile ``tiktok-official``: TikTok's own sGTM template "TikTok Events API (Official)" v0.2.01.

Reproduces what that template sends (docs/tiktok.md, "Profiles"), including its quirks: no E.164 for phones,
``external_id`` case kept, a hard failure for non-string PII, ``CompletePayment`` for ``purchase``,
an unrounded value sum, ``device`` from GA4 client hints and a ``ttclid`` cookie with SameSite=None.

Uncertain readings (each a named constant or a small function, easy to change):

- ``items`` that is truthy but not an array, or an ``items`` element that is null, make the template
  throw (it reads properties of it) -> TagError. Other primitive elements count as items without keys.
- ``custom_properties`` rows without a truthy ``key`` are skipped (the template would write the key
  ``"undefined"``); ``gtm_version`` and ``event_trigger_source`` are written after the rows.
- The Σ price × quantity fallback for ``value`` uses contents whose ``price`` and ``quantity`` are
  both truthy, multiplied with JS ``*`` (so strings from custom JSON contents are coerced).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ...core import js
from ...core.event_data import get_path
from ...core.js import UNDEFINED, or_chain, truthy
from ...core.url import parse_url
from ...errors import TagError
from .common import (
    HEX64,
    TTCLID_MAX_AGE,
    Notes,
    check_normalised,
    cookie,
    decode_uri_component,
    first_cookie,
    get,
    json_parse,
    sha256_hex,
)

GTM_VERSION = "s2s_0_2_01"
PARTNER_NAME = "GoogleTagManagerServer"
TTCLID_SAME_SITE = "None"

EVENT_MAP = {
    "page_view": "Pageview", "view_item": "ViewContent", "add_to_cart": "AddToCart",
    "add_to_wishlist": "AddToWishlist", "begin_checkout": "InitiateCheckout",
    "add_payment_info": "AddPaymentInfo", "purchase": "CompletePayment", "search": "Search",
    "sign_up": "CompleteRegistration",
}
IGNORED_PARAMS = ("url", "referrer", "ip", "user_agent")
CLIENT_HINT_KEYS = ("architecture", "bitness", "model", "platform", "platform_version")


def hash_value(field: str, value: Any, *, lower: bool, notes: Notes) -> Any:
    """The template's hash rule: falsy -> left out; 64-hex (raw) -> unchanged; else normalise + hash."""
    if not truthy(value):
        return UNDEFINED
    if not isinstance(value, str):
        raise TagError(f"user {field}: cannot hash a {js.type_of(value)} value ({js.to_string(value)!r}); the "
                       f"tiktok-official template calls a string method on it and throws")
    if HEX64.match(value):
        return value
    text = value.lower().strip() if lower else value.strip()
    if not text:
        return UNDEFINED
    check_normalised(field, value, notes)
    return sha256_hex(text)


def resolve_ttclid(event_data: Mapping[str, Any], params: Mapping[str, Any],
                   cookies: Mapping[str, Any] | None) -> Any:
    """URL -> same-host referrer -> cookie -> tag ``ttclid`` -> event data ``ttclid``
    (docs/tiktok.md, "ttclid and cookies")."""
    page = parse_url(get(event_data, "page_location"))
    from_url = decode_uri_component(page["searchParams"].get("ttclid", UNDEFINED)) if page else UNDEFINED
    from_referrer: Any = UNDEFINED
    referrer = parse_url(get(event_data, "page_referrer"))
    if page and referrer and referrer["hostname"] == page["hostname"]:
        from_referrer = decode_uri_component(referrer["searchParams"].get("ttclid", UNDEFINED))
    return or_chain(from_url, from_referrer, first_cookie(cookies, "ttclid"), get(params, "ttclid"),
                    get(event_data, "ttclid"))


def _ga_content(item: Any, content_type: Any, notes: Notes) -> dict[str, Any]:
    if item is None or item is UNDEFINED:
        raise TagError("items contains a null element; the tiktok-official template reads properties of it "
                       "and throws")
    content: dict[str, Any] = {"content_type": content_type}
    if truthy(get(item, "item_id")):
        content["content_id"] = item["item_id"]
    if truthy(get(item, "item_name")):
        content["content_name"] = item["item_name"]
    _set_price_and_quantity(content, item)
    content["content_category"] = or_chain(get(item, "item_category"), get(item, "item_category1"),
                                           get(item, "item_category2"))
    if truthy(get(item, "item_brand")):
        content["brand"] = item["item_brand"]
    return content


def _contents(event_data: Mapping[str, Any], params: Mapping[str, Any], notes: Notes) -> tuple[Any, Any]:
    """(items the template found, contents to send) (docs/tiktok.md, "Other rules worth knowing")."""
    items = get(event_data, "items")
    if not truthy(items):
        items = json_parse(get(event_data, "tt_contents"))
    if truthy(items) and not isinstance(items, list):
        raise TagError(f"items is a {js.type_of(items)}, not an array; the tiktok-official template iterates it "
                       f"and throws")
    content_type = or_chain(get(event_data, "tt_content_type"), "product")
    ga_contents = [_ga_content(item, content_type, notes) for item in items] if isinstance(items, list) else UNDEFINED

    source = get(params, "object_property_source")
    mode = get(params, "single_multi_product")
    if source != "custom":
        return items, ga_contents
    if mode == "multiple":
        raw = get(params, "contents")
        parsed = json_parse(raw)
        if parsed is UNDEFINED:
            notes.warn("tag field 'contents' is not valid JSON: the template sends its raw text as contents")
            return items, raw
        if isinstance(parsed, list):
            for element in parsed:
                if isinstance(element, dict) and "content_type" not in element:
                    element["content_type"] = content_type
        return items, parsed
    if mode == "single":
        single: dict[str, Any] = {"content_type": or_chain(get(event_data, "tt_content_type"),
                                                           get(params, "content_type"), "product")}
        for key in ("content_id", "content_name", "content_category", "brand"):
            if truthy(get(params, key)):
                single[key] = params[key]
        _set_price_and_quantity(single, params)
        return items, [single]
    if isinstance(ga_contents, list) and ga_contents:
        return items, ga_contents
    return items, UNDEFINED


def _sum_value(contents: Any) -> Any:
    if not isinstance(contents, list):
        return UNDEFINED
    total = 0.0
    for content in contents:
        price, quantity = get(content, "price"), get(content, "quantity")
        if truthy(price) and truthy(quantity):
            total += float(js.to_number(price)) * float(js.to_number(quantity))
    return js.normalize_number(total) if truthy(total) else UNDEFINED


def _device(event_data: Mapping[str, Any]) -> dict[str, Any]:
    hints = get(event_data, "client_hints")
    device: dict[str, Any] = {}
    for key in ("architecture", "bitness"):
        if truthy(get(hints, key)):
            device[key] = hints[key]
    if truthy(get(hints, "full_version_list")):
        device["browser_version_list"] = hints["full_version_list"]
    mobile = get(hints, "mobile")
    if mobile is not UNDEFINED and mobile is not None:
        device["mobile"] = mobile
    for key in ("model", "platform", "platform_version"):
        if truthy(get(hints, key)):
            device[key] = hints[key]
    return device


def build(event_data: Mapping[str, Any], params: Mapping[str, Any], cookies: Mapping[str, Any] | None,
          now: float, notes: Notes) -> dict[str, Any]:
    """``{body, set_cookies}`` for one event."""
    ev, p = event_data, params
    for key in IGNORED_PARAMS:
        if truthy(get(p, key)):
            notes.warn(f"tag field {key!r} is set but the tiktok-official template never reads it")

    name = or_chain(get(p, "event"), get(ev, "event_name"))
    event = EVENT_MAP.get(name, name) if isinstance(name, str) else name

    ttclid = resolve_ttclid(ev, p, cookies)
    set_cookies = []
    if truthy(ttclid):
        set_cookies.append(cookie("ttclid", ttclid, TTCLID_MAX_AGE, TTCLID_SAME_SITE))

    try:
        return _build_rest(ev, p, cookies, now, notes, event, ttclid, set_cookies)
    except TagError as exc:
        # the template has already written the ttclid cookie when it throws
        exc.set_cookies = set_cookies  # type: ignore[attr-defined]
        raise


def _build_rest(ev: Mapping[str, Any], p: Mapping[str, Any], cookies: Mapping[str, Any] | None, now: float,
                notes: Notes, event: Any, ttclid: Any, set_cookies: list[dict[str, Any]]) -> dict[str, Any]:
    user: dict[str, Any] = {
        "email": hash_value("email", or_chain(
            get(p, "email"), get(p, "sha256_email"), get_path(ev, "user_data.email_address"),
            get_path(ev, "user_data.sha256_email_address"), get(ev, "email")), lower=True, notes=notes),
        "phone": hash_value("phone", or_chain(
            get(p, "phone"), get(p, "sha256_phone"), get_path(ev, "user_data.phone_number"),
            get_path(ev, "user_data.sha256_phone_number")), lower=True, notes=notes),
        "external_id": hash_value("external_id", or_chain(
            get(p, "external_id"), get(p, "sha256_external_id"), get(ev, "tt_external_id"), get(ev, "user_id")),
            lower=False, notes=notes),
    }
    if truthy(ttclid):
        user["ttclid"] = ttclid
    ttp = first_cookie(cookies, "_ttp")
    if truthy(ttp):
        user["ttp"] = ttp
    user["ip"] = or_chain(get(ev, "ip_override"), get(ev, "ip"))
    user["user_agent"] = get(ev, "user_agent")

    items, contents = _contents(ev, p, notes)
    value = or_chain(js.to_number(get(p, "value")), js.to_number(get(ev, "value")))
    if not truthy(value):
        value = _sum_value(contents)
    currency = or_chain(get(p, "currency"), get(ev, "currency"))
    if not truthy(currency) and isinstance(items, list):
        currency = next((get(item, "currency") for item in items if get(item, "currency") is not UNDEFINED),
                        UNDEFINED)
    properties: dict[str, Any] = {"contents": contents}
    if truthy(currency):
        properties["currency"] = currency
    if truthy(value):
        properties["value"] = value
    properties["query"] = or_chain(get(p, "query"), get(ev, "query"), get(ev, "search_term"))
    properties["description"] = get(p, "description")
    rows = get(p, "custom_properties")
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, Mapping) and truthy(row.get("key")):
            properties[js.to_string(row["key"])] = row.get("value", UNDEFINED)
    properties["gtm_version"] = GTM_VERSION
    properties["event_trigger_source"] = PARTNER_NAME

    pixel = get(p, "pixel_code")
    test_code = get(p, "test_event_code")
    body: dict[str, Any] = {
        "event_source": "web",
        "event_source_id": pixel if truthy(pixel) else UNDEFINED,
        "partner_name": PARTNER_NAME,
        "test_event_code": test_code if truthy(test_code) else UNDEFINED,
        "data": [{
            "event": event if truthy(event) else UNDEFINED,
            "event_time": math.floor(now),
            "event_id": or_chain(get(p, "event_id"), get(ev, "event_id")),
            "user": user,
            "page": {"url": get(ev, "page_location"), "referrer": get(ev, "page_referrer")},
            "device": _device(ev),
            "properties": properties,
        }],
    }
    return {"body": body, "set_cookies": set_cookies, "event_name_logged": UNDEFINED}


def _set_price_and_quantity(content: dict[str, Any], source: Any) -> None:
    """``price`` and ``quantity`` (1 when missing) as numbers, each left out when it is falsy."""
    price = js.to_number(get(source, "price"))
    if truthy(price):
        content["price"] = price
    quantity = js.to_number(or_chain(get(source, "quantity"), 1))
    if truthy(quantity):
        content["quantity"] = quantity
