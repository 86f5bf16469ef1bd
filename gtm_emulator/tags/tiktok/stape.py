"""Profile ``stape``: stape's community sGTM template "TikTok Events API" v2.0.1 (docs/tiktok.md, "Profiles").

Sends byte for byte what that template (``stape_2_0_1``) sends when run in the sandbox (the
differential harness ``gtm_emulator.harness.tiktok_parity`` holds it to that): the same members in
the same order, the same cookies, skips and failures. Quirks reproduced on purpose:

- A default event ``Pageview`` for every event in ``standard`` mode (the field's default);
  ``event_id`` falling back to ``transaction_id``; falsy PII kept as it is; arrays hashed as their
  comma-joined text; ``external_id`` lower-cased; a ``_ttp`` cookie (optionally generated) and a
  ``ttclid`` cookie with SameSite=Lax.
- ttclid: cookie -> ``common_cookie.ttclid`` -> event data; a ``ttclid`` in the page URL (or the
  ``Referer``) overrides it after ``decodeUriComponent``, so a ttclid that cannot be decoded clears
  the value (and no ``ttclid`` cookie is written).
- ``event_time``: the tag's or the event's ``makeInteger`` (non-numeric text gives NaN, sent as
  ``null``), else the clock rounded to whole seconds.
- Consent gate: with ``adStorageConsent`` ``required``, a truthy ``consent_state`` decides by its
  ``ad_storage``; an empty or missing one falls through to character 2 of ``x-ga-gcs``.
- ``eventSource`` ``app`` sends ``app`` and ``ad`` instead of ``page``; other sources send neither.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Mapping
from typing import Any

from ...core import js
from ...core.js import UNDEFINED, or_chain, truthy
from ...core.url import parse_url
from .common import (
    HEX64,
    NOT_A_FUNCTION,
    TTCLID_MAX_AGE,
    TTP_MAX_AGE,
    Notes,
    TemplateThrow,
    check_normalised,
    cookie,
    decode_uri_component,
    first_cookie,
    prop,
    sha256_hex,
    trim,
)

GTM_VERSION = "stape_2_0_1"
SAME_SITE = "Lax"
MSR_PREFIX = "https://gtm-msr.appspot.com/"
TTP_ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits
TTP_LENGTH = 27
# the template's field defaults (a field left unset reads as its default)
DEFAULTS = {"eventType": "standard", "eventName": "Pageview", "eventSource": "web", "limitedDataUse": False,
            "adStorageConsent": "optional", "logType": "debug", "bigQueryLogType": "no"}
DEFAULT_EVENT_NAME = DEFAULTS["eventName"]

EVENT_MAP = {
    "page_view": "Pageview", "click": "ClickButton", "download": "Download", "file_download": "Download",
    "complete_registration": "CompleteRegistration", "gtm.dom": "Pageview", "add_payment_info": "AddPaymentInfo",
    "add_to_cart": "AddToCart", "add_to_wishlist": "AddToWishlist", "sign_up": "CompleteRegistration",
    "begin_checkout": "InitiateCheckout", "generate_lead": "SubmitForm", "purchase": "CompletePayment",
    "search": "Search", "view_item": "ViewContent", "contact": "Contact", "find_location": "Search",
    "submit_application": "Subscribe", "subscribe": "Subscribe",
    "gtm4wp.addProductToCartEEC": "AddToCart", "gtm4wp.productClickEEC": "ViewContent",
    "gtm4wp.checkoutOptionEEC": "InitiateCheckout", "gtm4wp.checkoutStepEEC": "AddPaymentInfo",
    "gtm4wp.orderCompletedEEC": "CompletePayment",
}
HASHED_KEYS = ("external_id", "phone", "email", "first_name", "last_name", "zip_code")
AD_KEYS = ("callback", "campaign_id", "ad_id", "creative_id", "is_retargeting", "attributed", "attribution_type",
           "attribution_provider")


def get_type(value: Any) -> str:
    """The sandbox's ``getType``."""
    if value is None:
        return "null"
    if isinstance(value, list):
        return "array"
    return js.type_of(value)


def hash_value(field: str, value: Any, notes: Notes) -> Any:
    """stape 2.0.1 ``hashData``: falsy kept; ``"undefined"`` -> removed; an object throws; 64-hex text
    unchanged; else ``makeString``, trim, lower-case, hash (an array as its comma-joined text)."""
    if not truthy(value):
        return value
    if value == "undefined" and type(value) is str:
        return UNDEFINED
    if type(value) is dict:
        raise TemplateThrow(NOT_A_FUNCTION, f"user {field}: the template calls map() on an object")
    text = js.to_string(value)
    if HEX64.match(text):
        return value
    if isinstance(value, list):
        notes.warn(f"user {field} is an array: stape 2.0.1 hashes its comma-joined text, not each element")
    if field in ("email", "phone"):
        check_normalised(field, text, notes)
    return sha256_hex(trim(text).lower())


def consent_given(event_data: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """``isConsentGivenOrNotRequired``."""
    if prop(params, "adStorageConsent") != "required":
        return True
    consent = prop(event_data, "consent_state")
    if truthy(consent):
        return truthy(prop(consent, "ad_storage"))
    gcs = or_chain(prop(event_data, "x-ga-gcs"), "")
    return prop(gcs, "2") == "1" and type(prop(gcs, "2")) is str


def _starts_with_msr(url: Any) -> bool:
    """``url.lastIndexOf(MSR_PREFIX, 0) === 0`` for a truthy ``url``."""
    if type(url) is str:
        return url.startswith(MSR_PREFIX)
    if type(url) is list:  # Array.prototype.lastIndexOf from index 0: only element 0 is compared
        return bool(url) and type(url[0]) is str and url[0] == MSR_PREFIX
    raise TemplateThrow(NOT_A_FUNCTION, f"the page location is a {js.type_of(url)}: it has no lastIndexOf()")


def skip_reason(event_data: Mapping[str, Any], params: Mapping[str, Any], headers: Mapping[str, Any]) -> str | None:
    """Why stape would not send this event (consent gate, gtm-msr), or None."""
    p = {**DEFAULTS, **params}
    if not consent_given(event_data, p):
        return "stape: ad_storage consent is required and not granted (consent_state.ad_storage, else x-ga-gcs)"
    url = or_chain(prop(event_data, "page_location"), headers.get("referer", UNDEFINED))
    if truthy(url) and _starts_with_msr(url):
        return f"stape: page location starts with {MSR_PREFIX}: nothing sent"
    return None


def event_name(event_data: Mapping[str, Any], params: Mapping[str, Any], notes: Notes) -> Any:
    """``getEventName``."""
    mode = prop(params, "eventType")
    if mode == "inherit":
        name = prop(event_data, "event_name")
        mapped = EVENT_MAP.get(name if type(name) is str else js.to_string(name))
        return mapped or name
    if mode == "custom":
        return prop(params, "eventNameCustom")
    name = prop(params, "eventName")
    source = prop(event_data, "event_name")
    if name == DEFAULT_EVENT_NAME and source not in ("page_view", "gtm.dom"):
        notes.warn(f"stape: Event Name Setup Method is 'standard' with event {DEFAULT_EVENT_NAME!r}, so the "
                   f"event {js.to_string(source)!r} is sent as {DEFAULT_EVENT_NAME!r} (set eventType to "
                   f"'inherit' to map event names)")
    return name


def _ttclid(event_data: Mapping[str, Any], cookies: Mapping[str, Any] | None, url: Any) -> Any:
    common = or_chain(prop(event_data, "common_cookie"), {})
    ttclid = or_chain(first_cookie(cookies, "ttclid"), prop(common, "ttclid"))
    if not truthy(ttclid):
        ttclid = prop(event_data, "ttclid")
    if truthy(url):
        parsed = parse_url(url)
        if parsed is not None and truthy(parsed["searchParams"].get("ttclid", UNDEFINED)):
            ttclid = decode_uri_component(parsed["searchParams"]["ttclid"])
    return ttclid


def _first_truthy(*pairs: tuple[Any, str]) -> Any:
    """``if (a.x) … else if (b.y) …``: the first truthy read, or UNDEFINED."""
    for source, key in pairs:
        value = prop(source, key)
        if truthy(value):
            return value
    return UNDEFINED


def _rows(rows: Any, target: dict[str, Any], what: str) -> None:
    """``data.xList.forEach((d) => { if (isValidValue(d.value)) target[d.name] = d.value; })``."""
    if not truthy(rows):
        return
    if type(rows) is not list:
        raise TemplateThrow(NOT_A_FUNCTION, f"{what} is a {js.type_of(rows)}: it has no forEach()")
    for row in rows:
        value = prop(row, "value", f"a {what} row")
        if get_type(value) not in ("null", "undefined") and not (type(value) is str and value == ""):
            target[js.to_string(prop(row, "name"))] = value


def _user(ev: Mapping[str, Any], p: Mapping[str, Any], source: Any, ttclid: Any, ttp: Any) -> dict[str, Any]:
    pairs: tuple[tuple[Any, Any], ...]  # (source, key) pairs; a source of None means the key is the value
    user: dict[str, Any] = {}
    ud: Any = {}
    address: Any = {}
    if get_type(prop(ev, "user_data")) == "object":
        ud = ev["user_data"]
        if get_type(prop(ud, "address")) in ("object", "array"):
            address = or_chain(prop(ud["address"], "0"), ud["address"])
    fields = (
        ("email", ((ev, "email"), (ev, "email_address"), (ud, "email"), (ud, "email_address"))),
        ("phone", ((ev, "phone"), (ev, "phone_number"), (ud, "phone"), (ud, "phone_number"))),
        ("last_name", ((ev, "lastName"), (ev, "LastName"), (ev, "nameLast"), (ev, "last_name"), (ud, "last_name"),
                       (address, "last_name"))),
        ("first_name", ((ev, "firstName"), (ev, "FirstName"), (ev, "nameFirst"), (ev, "first_name"),
                        (ud, "first_name"), (address, "first_name"))),
        ("city", ((ev, "city"), (address, "city"))),
        ("state", ((ev, "state"), (ev, "region"), (ud, "region"), (address, "region"))),
        ("zip_code", ((ev, "zip"), (ev, "postal_code"), (ud, "postal_code"), (address, "postal_code"))),
        ("country", ((ev, "countryCode"), (ev, "country"), (ud, "country"), (address, "country"))),
    )
    for key, pairs in fields:
        value = _first_truthy(*pairs)
        if value is not UNDEFINED:
            user[key] = value
    if source == "web":
        web = (
            ("ttclid", ((None, ttclid), (ev, "ttclid"), (ud, "ttclid"))),
            ("ttp", ((None, ttp), (ev, "ttp"), (ud, "ttp"))),
            ("external_id", ((ev, "external_id"), (ev, "user_id"), (ev, "userId"), (ud, "external_id"))),
            ("ip", ((ev, "ip_override"), (ev, "ip_address"), (ev, "ip"))),
            ("user_agent", ((ev, "user_agent"),)),
        )
        for key, pairs in web:
            for src, name in pairs:
                value = name if src is None else prop(src, name)
                if truthy(value):
                    user[key] = value
                    break
    if source == "app":
        if truthy(prop(ev, "idfa")):
            user["idfa"] = ev["idfa"]
        elif truthy(prop(ud, "idfv")):  # sic: the template's fallback for idfa writes idfv
            user["idfv"] = ud["idfv"]
        for key in ("idfv", "gaid", "att_status"):
            value = _first_truthy((ev, key), (ud, key))
            if value is not UNDEFINED:
                user[key] = value
    if source in ("web", "app"):
        value = _first_truthy((ev, "locale"), (ud, "locale"))
        if value is not UNDEFINED:
            user["locale"] = value
    _rows(prop(p, "userDataList"), user, "userDataList")
    return user


def _properties(ev: Mapping[str, Any], p: Mapping[str, Any]) -> dict[str, Any]:
    pairs: tuple[tuple[Any, Any], ...]  # (source, key) pairs, first truthy wins
    props: dict[str, Any] = {}
    items = prop(ev, "items")
    has_first = truthy(items) and truthy(prop(items, "0"))
    if truthy(prop(ev, "content_type")):
        props["content_type"] = ev["content_type"]
    elif has_first:
        props["content_type"] = "product"
    for key, pairs in (("currency", ((ev, "currency"),)),
                       ("value", ((ev, "value"), (ev, "x-ga-mp1-ev"), (ev, "x-ga-mp1-tr"))),
                       ("query", ((ev, "query"),)), ("description", ((ev, "description"),)),
                       ("order_id", ((ev, "order_id"),)), ("shop_id", ((ev, "shop_id"),))):
        value = _first_truthy(*pairs)
        if value is not UNDEFINED:
            props[key] = value
    if truthy(prop(ev, "contents")):
        props["contents"] = ev["contents"]
    elif has_first:
        if type(items) is not list:
            raise TemplateThrow(NOT_A_FUNCTION, f"items is a {js.type_of(items)}: it has no forEach()")
        contents: list[dict[str, Any]] = []
        props["contents"] = contents
        for d in items:
            content: dict[str, Any] = {}
            for key, pairs in (("price", ((d, "price"),)), ("quantity", ((d, "quantity"),)),
                               ("content_id", ((d, "item_id"), (d, "id"))),
                               ("content_category", ((d, "content_category"), (d, "item_category"))),
                               ("content_name", ((d, "content_name"), (d, "item_name"))),
                               ("brand", ((d, "brand"), (d, "item_brand")))):
                value = _first_truthy(*pairs)
                if value is not UNDEFINED:
                    content[key] = value
            contents.append(content)
    _rows(prop(p, "customDataList"), props, "customDataList")
    props["gtm_version"] = GTM_VERSION
    return props


def _event_time(ev: Mapping[str, Any], p: Mapping[str, Any], now: float) -> Any:
    if truthy(prop(p, "eventTime")):
        return js.to_integer(p["eventTime"])
    if truthy(prop(ev, "event_time")):
        return js.to_integer(ev["event_time"])
    return math.floor(int(now * 1000) / 1000 + 0.5)  # Math.round of getTimestampMillis() / 1000


def _app(ev: Mapping[str, Any], p: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    app: dict[str, Any] = {"app_id": prop(p, "appId")}
    for key, param in (("app_name", "appName"), ("app_version", "appVersion")):
        value = _first_truthy((p, param), (ev, key))
        if value is not UNDEFINED:
            app[key] = value
    ad_data = ev["ad"] if get_type(prop(ev, "ad")) == "object" else {}
    ad: dict[str, Any] = {}
    for key in AD_KEYS:
        value = _first_truthy((ad_data, key), (ev, key))
        if value is not UNDEFINED:
            ad[key] = value
    _rows(prop(p, "adDataList"), ad, "adDataList")
    return app, ad


def build(event_data: Mapping[str, Any], params: Mapping[str, Any], cookies: Mapping[str, Any] | None,
          now: float, notes: Notes, headers: Mapping[str, Any], rng: random.Random | None) -> dict[str, Any]:
    ev = event_data
    p = {**DEFAULTS, **params}
    reason = skip_reason(ev, p, headers)
    if reason:
        return {"skip": reason}
    url = or_chain(prop(ev, "page_location"), headers.get("referer", UNDEFINED))
    common = or_chain(prop(ev, "common_cookie"), {})
    ttp = or_chain(first_cookie(cookies, "_ttp"), prop(common, "_ttp"))
    if not truthy(ttp):
        ttp = prop(ev, "_ttp")
    if not truthy(ttp) and truthy(prop(p, "generateTtp")):
        chooser = rng or random.Random()
        ttp = "".join(TTP_ALPHABET[chooser.randint(0, len(TTP_ALPHABET) - 1)] for _ in range(TTP_LENGTH))
    ttclid = _ttclid(ev, cookies, url)
    event = event_name(ev, p, notes)

    source = or_chain(prop(p, "eventSource"), "web")
    data: dict[str, Any] = {"event": event, "event_time": _event_time(ev, p, now)}
    event_id = _first_truthy((p, "eventId"), (ev, "event_id"), (ev, "transaction_id"))
    if event_id is not UNDEFINED:
        data["event_id"] = event_id
    if source == "web":
        page: dict[str, Any] = {"url": or_chain(prop(p, "pageLocation"), prop(ev, "page_location"))}
        referrer = _first_truthy((p, "pageReferrer"), (ev, "page_referrer"), (ev, "referrer"))
        if referrer is not UNDEFINED:
            page["referrer"] = referrer
        data["page"] = page
    if source == "app":
        data["app"], data["ad"] = _app(ev, p)
    if source in ("web", "app"):
        data["limited_data_use"] = or_chain(prop(p, "limitedDataUse"), False)
    data["user"] = _user(ev, p, source, ttclid, ttp)
    data["properties"] = _properties(ev, p)
    for key in list(data["user"]):
        if key in HASHED_KEYS:
            data["user"][key] = hash_value(key, data["user"][key], notes)

    body: dict[str, Any] = {"event_source": source, "event_source_id": prop(p, "pixelId"), "data": [data]}
    test_code = or_chain(prop(ev, "test_event_code"), prop(p, "testEventCode"))
    if truthy(test_code):
        body["test_event_code"] = test_code
    set_cookies = []
    if truthy(ttclid):
        set_cookies.append(cookie("ttclid", ttclid, TTCLID_MAX_AGE, SAME_SITE))
    if truthy(ttp):
        set_cookies.append(cookie("_ttp", ttp, TTP_MAX_AGE, SAME_SITE))
    return {"body": body, "set_cookies": set_cookies, "event_name_logged": event}
