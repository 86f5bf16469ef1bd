"""Profile ``stape``: stape's community sGTM template "TikTok Events API" v2.0.1 (docs/tiktok.md, "Profiles").

Quirks reproduced: a default event ``Pageview`` for every event in ``standard`` mode, ``event_id``
falling back to ``transaction_id``, falsy PII kept as it is, arrays hashed as their comma-joined
text, ``external_id`` lower-cased, a ``_ttp`` cookie (optionally generated) and ``ttclid`` cookie with
SameSite=Lax, the consent gate and the gtm-msr skip.

Uncertain readings (named constants / small functions):

- ``URL_TTCLID_DECODE_TWICE``: the ttclid override from the page URL (or ``Referer``) is the
  ``parseUrl`` search-parameter value; the *official* template decodes it once more (docs/tiktok.md,
  "ttclid and cookies"),
  and nothing says stape does, so stape does not.
- ``items`` truthy but not an array with a truthy ``items[0]`` (a non-empty string) makes the template
  throw when it maps it -> TagError.
- A value of only whitespace is truthy, so it is trimmed and the empty text hashed (e3b0…).
- ``eventSource`` other than ``web``: app and offline are not implemented -> ConfigError.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Mapping
from typing import Any

from ...core import js
from ...core.js import UNDEFINED, or_chain, truthy
from ...errors import ConfigError, Problem, TagError
from .common import (
    HEX64,
    TTCLID_MAX_AGE,
    TTP_MAX_AGE,
    Notes,
    check_normalised,
    cookie,
    decode_uri_component,
    first_cookie,
    get,
    sha256_hex,
    url_param,
)

GTM_VERSION = "stape_2_0_1"
SAME_SITE = "Lax"
DEFAULT_EVENT_NAME = "Pageview"
MSR_PREFIX = "https://gtm-msr.appspot.com/"
TTP_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits
TTP_LENGTH = 27
URL_TTCLID_DECODE_TWICE = False

EVENT_MAP = {
    "page_view": "Pageview", "gtm.dom": "Pageview", "view_item": "ViewContent", "add_to_cart": "AddToCart",
    "add_to_wishlist": "AddToWishlist", "begin_checkout": "InitiateCheckout",
    "add_payment_info": "AddPaymentInfo", "purchase": "CompletePayment", "search": "Search",
    "find_location": "Search", "sign_up": "CompleteRegistration", "complete_registration": "CompleteRegistration",
    "generate_lead": "SubmitForm", "click": "ClickButton", "download": "Download", "file_download": "Download",
    "contact": "Contact", "subscribe": "Subscribe", "submit_application": "Subscribe",
    "gtm4wp.addProductToCartEEC": "AddToCart", "gtm4wp.productClickEEC": "ViewContent",
    "gtm4wp.checkoutOptionEEC": "InitiateCheckout", "gtm4wp.checkoutStepEEC": "AddPaymentInfo",
    "gtm4wp.orderCompletedEEC": "CompletePayment",
}
HASHED_KEYS = ("email", "phone", "external_id", "first_name", "last_name", "zip_code")


def hash_value(field: str, value: Any, notes: Notes) -> Any:
    """stape 2.0.1: falsy kept; ``"undefined"`` -> removed; 64-hex text unchanged; else trim, lower, hash."""
    if not truthy(value):
        return value
    if isinstance(value, dict):
        raise TagError(f"user {field}: cannot hash an object; the stape template throws")
    text = js.to_string(value)
    if text == "undefined":
        return UNDEFINED
    if HEX64.match(text):
        return value
    if isinstance(value, list):
        notes.warn(f"user {field} is an array: stape 2.0.1 hashes its comma-joined text, not each element")
    if field in ("email", "phone"):
        check_normalised(field, text, notes)
    return sha256_hex(text.strip().lower())


def skip_reason(event_data: Mapping[str, Any], params: Mapping[str, Any], headers: Mapping[str, Any]) -> str | None:
    """Why stape would not send this event (consent gate, gtm-msr), or None."""
    location = or_chain(get(event_data, "page_location"), headers.get("referer", UNDEFINED))
    if isinstance(location, str) and location.startswith(MSR_PREFIX):
        return f"stape: page location starts with {MSR_PREFIX}: nothing sent"
    if get(params, "adStorageConsent") == "required":
        consent = get(event_data, "consent_state")
        if consent is not UNDEFINED and consent is not None:
            if not truthy(get(consent, "ad_storage")):
                return "stape: ad_storage consent is required and consent_state.ad_storage is not granted"
        else:
            gcs = get(event_data, "x-ga-gcs")
            if not (isinstance(gcs, str) and len(gcs) > 2 and gcs[2] == "1"):
                return (f"stape: ad_storage consent is required and x-ga-gcs ({js.to_string(gcs)}) does not grant "
                        f"it (character 2 is not '1')")
    return None


def _event(event_data: Mapping[str, Any], params: Mapping[str, Any], notes: Notes) -> Any:
    mode = or_chain(get(params, "eventType"), "standard")
    if mode == "inherit":
        name = get(event_data, "event_name")
        return EVENT_MAP.get(name, name) if isinstance(name, str) else name
    if mode == "custom":
        return get(params, "eventNameCustom")
    name = get(params, "eventName")
    if name is UNDEFINED:
        name = DEFAULT_EVENT_NAME
    source = get(event_data, "event_name")
    if name == DEFAULT_EVENT_NAME and source not in ("page_view", "gtm.dom"):
        notes.warn(f"stape: Event Name Setup Method is 'standard' with event {DEFAULT_EVENT_NAME!r}, so the GA4 "
                   f"event {js.to_string(source)!r} is sent as {DEFAULT_EVENT_NAME!r} (set eventType to 'inherit' "
                   f"to map event names)")
    return name


def _ttclid(event_data: Mapping[str, Any], cookies: Mapping[str, Any] | None,
            headers: Mapping[str, Any]) -> Any:
    resolved = or_chain(first_cookie(cookies, "ttclid"), get(get(event_data, "common_cookie"), "ttclid"),
                        get(event_data, "ttclid"))
    url = or_chain(get(event_data, "page_location"), headers.get("referer", UNDEFINED))
    from_url = url_param(url, "ttclid")
    if URL_TTCLID_DECODE_TWICE:
        from_url = decode_uri_component(from_url)
    if truthy(from_url):
        resolved = from_url
    return resolved


def _contents(event_data: Mapping[str, Any]) -> tuple[Any, bool]:
    contents = get(event_data, "contents")
    items = get(event_data, "items")
    if isinstance(items, (list, str)):
        first = items[0] if items else UNDEFINED
    else:
        first = get(items, "0")
    if truthy(contents):
        return contents, truthy(first)
    if not truthy(first):
        return UNDEFINED, False
    if not isinstance(items, list):
        raise TagError(f"items is a {js.type_of(items)}, not an array; the stape template maps it and throws")
    built = []
    for item in items:
        if item is None or item is UNDEFINED:
            raise TagError("items contains a null element; the stape template reads properties of it and throws")
        content: dict[str, Any] = {}
        if truthy(get(item, "price")):
            content["price"] = item["price"]
        if truthy(get(item, "quantity")):
            content["quantity"] = item["quantity"]
        content["content_id"] = or_chain(get(item, "item_id"), get(item, "id"))
        content["content_category"] = or_chain(get(item, "content_category"), get(item, "item_category"))
        content["content_name"] = or_chain(get(item, "content_name"), get(item, "item_name"))
        content["brand"] = or_chain(get(item, "brand"), get(item, "item_brand"))
        built.append(content)
    return built, True


def _rows(rows: Any) -> list[tuple[str, Any]]:
    out = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, Mapping):
            continue
        value = row.get("value", UNDEFINED)
        if value is UNDEFINED or value is None or value == "":
            continue
        out.append((js.to_string(row.get("name", UNDEFINED)), value))
    return out


def build(event_data: Mapping[str, Any], params: Mapping[str, Any], cookies: Mapping[str, Any] | None,
          now: float, notes: Notes, headers: Mapping[str, Any], rng: random.Random | None) -> dict[str, Any]:
    ev, p = event_data, params
    source = or_chain(get(p, "eventSource"), "web")
    if source != "web":
        raise ConfigError(Problem("tag parameters", "eventSource",
                                  f"event source {js.to_string(source)!r} is not implemented (only 'web')"))
    reason = skip_reason(ev, p, headers)
    if reason:
        return {"skip": reason}

    event = _event(ev, p, notes)
    ttclid = _ttclid(ev, cookies, headers)
    ttp = or_chain(first_cookie(cookies, "_ttp"), get(get(ev, "common_cookie"), "_ttp"), get(ev, "_ttp"))
    if not truthy(ttp) and truthy(get(p, "generateTtp")):
        chooser = rng or random.Random()
        ttp = "".join(chooser.choice(TTP_ALPHABET) for _ in range(TTP_LENGTH))
    set_cookies = []
    if truthy(ttclid):
        set_cookies.append(cookie("ttclid", ttclid, TTCLID_MAX_AGE, SAME_SITE))
    if truthy(ttp):
        set_cookies.append(cookie("_ttp", ttp, TTP_MAX_AGE, SAME_SITE))

    user_data = get(ev, "user_data")
    ud = user_data if isinstance(user_data, Mapping) else {}
    address = get(ud, "address")
    a = address[0] if isinstance(address, list) and address else (address if isinstance(address, Mapping) else {})
    user: dict[str, Any] = {
        "email": or_chain(get(ev, "email"), get(ev, "email_address"), get(ud, "email"), get(ud, "email_address")),
        "phone": or_chain(get(ev, "phone"), get(ev, "phone_number"), get(ud, "phone"), get(ud, "phone_number")),
        "external_id": or_chain(get(ev, "external_id"), get(ev, "user_id"), get(ev, "userId"),
                                get(ud, "external_id")),
        "first_name": or_chain(get(ev, "firstName"), get(ev, "FirstName"), get(ev, "nameFirst"),
                               get(ev, "first_name"), get(ud, "first_name"), get(a, "first_name")),
        "last_name": or_chain(get(ev, "lastName"), get(ev, "LastName"), get(ev, "nameLast"), get(ev, "last_name"),
                              get(ud, "last_name"), get(a, "last_name")),
        "city": or_chain(get(ev, "city"), get(a, "city")),
        "state": or_chain(get(ev, "state"), get(ev, "region"), get(ud, "region"), get(a, "region")),
        "zip_code": or_chain(get(ev, "zip"), get(ev, "postal_code"), get(ud, "postal_code"), get(a, "postal_code")),
        "country": or_chain(get(ev, "countryCode"), get(ev, "country"), get(ud, "country"), get(a, "country")),
        "ttclid": or_chain(ttclid, get(ev, "ttclid"), get(ud, "ttclid")),
        "ttp": or_chain(ttp, get(ev, "ttp"), get(ud, "ttp")),
        "ip": or_chain(get(ev, "ip_override"), get(ev, "ip_address"), get(ev, "ip")),
        "user_agent": get(ev, "user_agent"),
        "locale": or_chain(get(ev, "locale"), get(ud, "locale")),
    }
    for name, value in _rows(get(p, "userDataList")):
        user[name] = value
    for key in HASHED_KEYS:
        if key in user:
            user[key] = hash_value(key, user[key], notes)

    contents, has_items = _contents(ev)
    properties: dict[str, Any] = {
        "contents": contents,
        "content_type": or_chain(get(ev, "content_type"), "product" if has_items else UNDEFINED),
        "currency": get(ev, "currency"),
        "value": or_chain(get(ev, "value"), get(ev, "x-ga-mp1-ev"), get(ev, "x-ga-mp1-tr")),
        "query": get(ev, "query"),
        "description": get(ev, "description"),
        "order_id": get(ev, "order_id"),
        "shop_id": get(ev, "shop_id"),
    }
    for name, value in _rows(get(p, "customDataList")):
        properties[name] = value
    properties["gtm_version"] = GTM_VERSION

    event_time = or_chain(js.to_integer(get(p, "eventTime")), js.to_integer(get(ev, "event_time")),
                          math.floor(now + 0.5))
    body: dict[str, Any] = {
        "event_source": source,
        "event_source_id": get(p, "pixelId"),
        "test_event_code": or_chain(get(ev, "test_event_code"), get(p, "testEventCode")),
        "data": [{
            "event": event,
            "event_time": event_time,
            "event_id": or_chain(get(p, "eventId"), get(ev, "event_id"), get(ev, "transaction_id")),
            "limited_data_use": or_chain(get(p, "limitedDataUse"), False),
            "page": {
                "url": or_chain(get(p, "pageLocation"), get(ev, "page_location")),
                "referrer": or_chain(get(p, "pageReferrer"), get(ev, "page_referrer"), get(ev, "referrer")),
            },
            "user": user,
            "properties": properties,
        }],
    }
    return {"body": body, "set_cookies": set_cookies, "event_name_logged": event}
