"""Profile ``tiktok-spec``: what TikTok's own Events API documentation asks for (docs/tiktok.md, "Profiles").

Not a reproduction of a template: it sends what a careful integration following TikTok's rules would.
Its choices (each a named constant here):

- Event names: GA4 names map to TikTok's *current* standard events (``purchase`` -> ``Purchase``,
  ``generate_lead`` -> ``Lead`` …, ``EVENT_MAP``); a legacy name set on the tag is replaced by its
  current name (``CompletePayment`` -> ``Purchase``, ``SubmitForm`` -> ``Lead``) with a note.
  ``page_view`` -> ``Pageview`` (what TikTok's own pixel sends; not in the documented list).
- email: trim + lower-case, then SHA-256; phone: E.164 through ``phonenumbers`` (``phone_region``
  tag parameter, ISO 3166 alpha-2, used for numbers without ``+``; none by default, so such numbers
  are dropped with a warning rather than guessed); external_id: trim only (TikTok does not say to
  lower-case it). Arrays are hashed element by element. An already-hashed value (64 hex) is sent
  lower-cased. Values that cannot be used are left out with a warning; the tag never fails on data.
- ``event_id`` and ``content_id`` are always sent as strings (TikTok rejects numbers).
- value: tag -> event data -> Σ price × quantity rounded to 2 decimals; currency: tag -> event data ->
  ``items[0].currency``, upper-cased.
- Search text goes to both ``query`` and ``search_string``; ``order_id`` from ``transaction_id``.
- No ``partner_name`` (TikTok reserves it for registered partners; error 40063), no ``_ttp`` cookie
  (the pixel owns it); the ``ttclid`` cookie is SameSite=Lax (``TTCLID_SAME_SITE``).
- ``locale`` from GA4 ``language`` in BCP-47 case (``en-us`` -> ``en-US``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import phonenumbers

from ...core import js
from ...core.event_data import get_path
from ...core.js import UNDEFINED, or_chain, truthy
from .common import (
    HEX64,
    HEX64_LOWER,
    TTCLID_MAX_AGE,
    Notes,
    cookie,
    first_cookie,
    get,
    sha256_hex,
)
from .official import resolve_ttclid

TTCLID_SAME_SITE = "Lax"
VALUE_DECIMALS = 2
EVENT_MAP = {
    "page_view": "Pageview", "view_item": "ViewContent", "add_to_cart": "AddToCart",
    "add_to_wishlist": "AddToWishlist", "begin_checkout": "InitiateCheckout",
    "add_payment_info": "AddPaymentInfo", "purchase": "Purchase", "search": "Search",
    "sign_up": "CompleteRegistration", "generate_lead": "Lead", "contact": "Contact", "subscribe": "Subscribe",
    "file_download": "Download", "find_location": "FindLocation", "schedule": "Schedule",
}
LEGACY_TO_CURRENT = {"CompletePayment": "Purchase", "SubmitForm": "Lead"}


def _texts(field: str, value: Any, notes: Notes) -> list[str] | None:
    """The strings to hash (one, or each element of an array); None when nothing usable."""
    values = value if isinstance(value, list) else [value]
    out = []
    for item in values:
        if isinstance(item, (dict, list)) or item is None or item is UNDEFINED or isinstance(item, bool):
            if truthy(item):
                notes.warn(f"user {field}: a {js.type_of(item)} value cannot be hashed: left out")
            continue
        out.append(js.to_string(item))
    return out


def _normalise(field: str, text: str, region: str | None, notes: Notes) -> str | None:
    """Normalised text (or an already-hashed lower-case digest) following TikTok's rules; None to drop."""
    stripped = text.strip()
    if HEX64.match(stripped):
        return stripped.lower()
    if not stripped:
        return None
    if field == "email":
        if "@" not in stripped:
            notes.warn(f"user email {stripped!r} has no '@': sent hashed, but it will not match")
        return stripped.lower()
    if field == "phone":
        try:
            number = phonenumbers.parse(stripped, region or None)
        except phonenumbers.NumberParseException as exc:
            notes.warn(f"user phone {stripped!r} cannot be read as a phone number ({exc}); set the tag's "
                       f"phone_region for numbers without a country code: left out")
            return None
        if not phonenumbers.is_possible_number(number):
            notes.warn(f"user phone {stripped!r} is not a possible phone number: left out")
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return stripped


def hash_field(field: str, value: Any, region: str | None, notes: Notes) -> Any:
    """SHA-256 hex of each normalised value; an array in gives an array out; UNDEFINED when empty."""
    if not truthy(value):
        return UNDEFINED
    texts = _texts(field, value, notes) or []
    digests: list[str] = []
    for text in texts:
        normalised = _normalise(field, text, region, notes)
        if normalised is None:
            continue
        digest = normalised if HEX64_LOWER.match(normalised) else sha256_hex(normalised)
        if digest not in digests:
            digests.append(digest)
    if not digests:
        return UNDEFINED
    return digests if isinstance(value, list) else digests[0]


def _locale(language: Any) -> Any:
    if not isinstance(language, str) or not language.strip():
        return UNDEFINED
    parts = language.strip().replace("_", "-").split("-")
    head, rest = parts[0].lower(), [p.upper() if len(p) == 2 else p for p in parts[1:]]
    return "-".join([head, *rest])


def _contents(items: Any) -> Any:
    if not isinstance(items, list) or not items:
        return UNDEFINED
    contents = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        content: dict[str, Any] = {}
        content_id = or_chain(get(item, "item_id"), get(item, "id"))
        if truthy(content_id) and not isinstance(content_id, (dict, list)):
            content["content_id"] = js.to_string(content_id)
        for key, source in (("content_name", "item_name"), ("content_category", "item_category"),
                            ("brand", "item_brand")):
            if truthy(get(item, source)) and isinstance(item[source], (str, int, float)):
                content[key] = js.to_string(item[source])
        price = js.to_number(get(item, "price"))
        if truthy(price) and math.isfinite(price):
            content["price"] = price
        quantity = js.to_integer(or_chain(get(item, "quantity"), 1))
        if truthy(quantity) and math.isfinite(quantity) and quantity > 0:
            content["quantity"] = quantity
        contents.append(content)
    return contents


def build(event_data: Mapping[str, Any], params: Mapping[str, Any], cookies: Mapping[str, Any] | None,
          now: float, notes: Notes) -> dict[str, Any]:
    ev, p = event_data, params
    name = or_chain(get(p, "event"), get(ev, "event_name"))
    event = EVENT_MAP.get(name, name) if isinstance(name, str) else name
    if isinstance(event, str) and event in LEGACY_TO_CURRENT:
        notes.note(f"tiktok-spec: legacy event name {event!r} sent as {LEGACY_TO_CURRENT[event]!r}")
        event = LEGACY_TO_CURRENT[event]
    if truthy(event) and not isinstance(event, str):
        event = js.to_string(event)

    region_param = get(p, "phone_region")
    region = region_param.strip().upper() if isinstance(region_param, str) and region_param.strip() else None
    ttclid = resolve_ttclid(ev, p, cookies)
    set_cookies = [cookie("ttclid", ttclid, TTCLID_MAX_AGE, TTCLID_SAME_SITE)] if truthy(ttclid) else []

    user: dict[str, Any] = {
        "email": hash_field("email", or_chain(
            get(p, "email"), get(p, "sha256_email"), get_path(ev, "user_data.email_address"),
            get_path(ev, "user_data.sha256_email_address"), get(ev, "email")), region, notes),
        "phone": hash_field("phone", or_chain(
            get(p, "phone"), get(p, "sha256_phone"), get_path(ev, "user_data.phone_number"),
            get_path(ev, "user_data.sha256_phone_number"), get(ev, "phone")), region, notes),
        "external_id": hash_field("external_id", or_chain(
            get(p, "external_id"), get(p, "sha256_external_id"), get(ev, "tt_external_id"), get(ev, "user_id")),
            region, notes),
    }
    if truthy(ttclid):
        user["ttclid"] = js.to_string(ttclid)
    ttp = or_chain(first_cookie(cookies, "_ttp"), get(get(ev, "common_cookie"), "_ttp"), get(ev, "ttp"))
    if truthy(ttp) and isinstance(ttp, str):
        user["ttp"] = ttp
    for key, value in (("ip", or_chain(get(ev, "ip_override"), get(ev, "ip"))),
                       ("user_agent", get(ev, "user_agent")), ("locale", _locale(get(ev, "language")))):
        if truthy(value) and isinstance(value, str):
            user[key] = value

    items = get(ev, "items")
    contents = _contents(items)
    properties: dict[str, Any] = {}
    if contents is not UNDEFINED:
        properties["contents"] = contents
        properties["content_type"] = or_chain(get(p, "content_type"), "product")
    currency = or_chain(get(p, "currency"), get(ev, "currency"),
                        get(items[0], "currency") if isinstance(items, list) and items else UNDEFINED)
    if truthy(currency) and isinstance(currency, str):
        if currency != currency.upper():
            notes.note(f"tiktok-spec: currency {currency!r} sent upper-cased")
        properties["currency"] = currency.strip().upper()
    value = or_chain(js.to_number(get(p, "value")), js.to_number(get(ev, "value")))
    if not truthy(value) and isinstance(contents, list):
        total = sum((float(c["price"]) * float(c["quantity"]) for c in contents if "price" in c and "quantity" in c),
                    0.0)
        value = js.normalize_number(round(total, VALUE_DECIMALS))
    if truthy(value) and isinstance(value, (int, float)) and math.isfinite(value):
        properties["value"] = value
    search = or_chain(get(p, "query"), get(ev, "search_term"), get(ev, "query"))
    if truthy(search):
        properties["query"] = properties["search_string"] = js.to_string(search)
    if truthy(get(p, "description")):
        properties["description"] = js.to_string(p["description"])
    if truthy(get(ev, "transaction_id")):
        properties["order_id"] = js.to_string(ev["transaction_id"])
    rows = get(p, "custom_properties")
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, Mapping) and truthy(row.get("key")):
            properties[js.to_string(row["key"])] = row.get("value", UNDEFINED)

    event_id = or_chain(get(p, "event_id"), get(ev, "event_id"), get(ev, "transaction_id"))
    page = {k: v for k, v in (("url", get(ev, "page_location")), ("referrer", get(ev, "page_referrer")))
            if truthy(v) and isinstance(v, str)}
    item: dict[str, Any] = {
        "event": event if truthy(event) else UNDEFINED,
        "event_time": math.floor(now),
        "event_id": js.to_string(event_id) if truthy(event_id) and not isinstance(event_id, (dict, list))
        else UNDEFINED,
        "user": user,
        "page": page,
        "properties": properties,
    }
    if truthy(get(p, "limited_data_use")):
        item["limited_data_use"] = True
    pixel = get(p, "pixel_code")
    test_code = get(p, "test_event_code")
    body = {
        "event_source": "web",
        "event_source_id": pixel if truthy(pixel) else UNDEFINED,
        "test_event_code": test_code if truthy(test_code) else UNDEFINED,
        "data": [item],
    }
    return {"body": body, "set_cookies": set_cookies, "event_name_logged": event}
