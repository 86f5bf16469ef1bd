"""The TikTok Events API tag (Events API v1.3, ``/event/track/``).

``build_request`` is pure: event data and resolved tag parameters in, the request the tag would
send out (method, url, headers, body, set_cookies). :class:`TikTokTag` sends it through the
container's transport and reports TikTok's verdict (tiktok.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from .. import js
from ..errors import TagError
from ..js import UNDEFINED, or_chain, truthy
from ..transport import HttpResponse
from .base import TagContext, register

ENDPOINT = "https://business-api.tiktok.com/open_api/v1.3/event/track/"
PROFILES = ("tiktok-official",)
DEFAULT_PROFILE = "tiktok-official"
TTCLID_MAX_AGE = 2_592_000

OFFICIAL_EVENT_MAP = {
    "page_view": "Pageview", "view_item": "ViewContent", "add_to_cart": "AddToCart",
    "add_to_wishlist": "AddToWishlist", "begin_checkout": "InitiateCheckout",
    "add_payment_info": "AddPaymentInfo", "purchase": "CompletePayment", "search": "Search",
    "sign_up": "CompleteRegistration",
}

_HEX64 = re.compile(r"^[A-Fa-f0-9]{64}$")


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _official_hash(value: Any, lower: bool) -> Any:
    if not truthy(value):
        return UNDEFINED
    if not isinstance(value, str):
        raise TagError(f"cannot hash a {js.type_of(value)} value (the template calls a string method)")
    if _HEX64.match(value):
        return value
    text = value.lower().strip() if lower else value.strip()
    return _sha256(text) if text else UNDEFINED


def build_request(
    event_data: Mapping[str, Any],
    params: Mapping[str, Any],
    cookies: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """What the TikTok tag sends for one event: ``{method, url, headers, body, set_cookies}``."""
    import time

    ev = dict(event_data)
    p = dict(params)
    now = time.time() if now is None else now
    cookies = dict(cookies or {})

    def get(key: str) -> Any:
        return ev.get(key, UNDEFINED)

    user_data = get("user_data") if isinstance(get("user_data"), dict) else {}
    event_name = or_chain(p.get("event", UNDEFINED), get("event_name"))
    event = OFFICIAL_EVENT_MAP.get(event_name, event_name) if isinstance(event_name, str) else event_name

    ttclid = UNDEFINED
    cookie_ttclid = cookies.get("ttclid")
    if isinstance(cookie_ttclid, list):
        cookie_ttclid = cookie_ttclid[0] if cookie_ttclid else None
    ttclid = or_chain(cookie_ttclid or UNDEFINED, get("ttclid"))
    ttp = cookies.get("_ttp")
    if isinstance(ttp, list):
        ttp = ttp[0] if ttp else None

    user = {
        "email": _official_hash(or_chain(p.get("email"), p.get("sha256_email"), user_data.get("email_address"),
                                         user_data.get("sha256_email_address"), get("email")), True),
        "phone": _official_hash(or_chain(p.get("phone"), p.get("sha256_phone"), user_data.get("phone_number"),
                                         user_data.get("sha256_phone_number")), True),
        "external_id": _official_hash(or_chain(p.get("external_id"), p.get("sha256_external_id"),
                                               get("tt_external_id"), get("user_id")), False),
        "ttclid": ttclid if truthy(ttclid) else UNDEFINED,
        "ttp": ttp if truthy(ttp) else UNDEFINED,
        "ip": or_chain(get("ip_override"), get("ip")),
        "user_agent": get("user_agent"),
    }
    contents = UNDEFINED
    items = get("items")
    if truthy(items) and isinstance(items, list):
        contents = []
        for item in items:
            if not isinstance(item, dict):
                continue
            content: dict[str, Any] = {"content_type": or_chain(get("tt_content_type"), "product")}
            if truthy(item.get("item_id")):
                content["content_id"] = item["item_id"]
            if truthy(item.get("item_name")):
                content["content_name"] = item["item_name"]
            if truthy(item.get("price")):
                content["price"] = js.to_number(item["price"])
            quantity = js.to_number(or_chain(item.get("quantity"), 1))
            if truthy(quantity):
                content["quantity"] = quantity
            contents.append(content)
    value = or_chain(js.to_number(p.get("value", UNDEFINED)), js.to_number(get("value")))
    if not truthy(value) and isinstance(contents, list):
        total = 0.0
        for c in contents:
            if "price" in c and "quantity" in c:
                total += c["price"] * c["quantity"]
        value = js.normalize_number(total) if total else UNDEFINED
    properties = {
        "contents": contents,
        "currency": or_chain(p.get("currency"), get("currency")),
        "value": value if truthy(value) else UNDEFINED,
        "gtm_version": "s2s_0_2_01",
        "event_trigger_source": "GoogleTagManagerServer",
    }
    body = {
        "event_source": "web",
        "event_source_id": p.get("pixel_code") if truthy(p.get("pixel_code")) else UNDEFINED,
        "partner_name": "GoogleTagManagerServer",
        "test_event_code": p.get("test_event_code") if truthy(p.get("test_event_code")) else UNDEFINED,
        "data": [{
            "event": event if truthy(event) else UNDEFINED,
            "event_time": int(now // 1),
            "event_id": or_chain(p.get("event_id"), get("event_id")) or UNDEFINED,
            "user": {k: v for k, v in user.items() if v is not UNDEFINED and v is not None},
            "page": {"url": get("page_location"), "referrer": get("page_referrer")},
            "properties": properties,
        }],
    }
    set_cookies = []
    if truthy(ttclid):
        set_cookies.append({"name": "ttclid", "value": ttclid, "max_age": TTCLID_MAX_AGE, "domain": "auto",
                            "path": "/", "secure": True, "http_only": False, "same_site": "None"})
    return {
        "method": "POST",
        "url": ENDPOINT,
        "headers": {"Content-Type": "application/json", "Access-Token": js.to_string(p.get("access_token", ""))},
        "body": js.drop_undefined(body),
        "set_cookies": set_cookies,
    }


def judge(response: HttpResponse) -> tuple[bool, list[str]]:
    """TikTok's verdict on an HTTP 2xx answer: accepted only when the envelope's ``code`` is 0."""
    try:
        envelope = response.json()
    except (ValueError, UnicodeDecodeError):
        return False, ["TikTok answered HTTP 2xx with a body that is not its JSON envelope"]
    if not isinstance(envelope, dict) or "code" not in envelope:
        return False, ["TikTok answered HTTP 2xx without a code in its envelope"]
    code = envelope.get("code")
    if code == 0:
        return True, []
    message = envelope.get("message", "")
    if code == 20001:
        return True, [f"TikTok partially accepted the data (code 20001): {message}"]
    return False, [f"TikTok rejected the event: code {code}: {message}"]


@register
class TikTokTag:
    """The native TikTok Events API tag (``type: tiktok_events_api``)."""

    type = "tiktok_events_api"
    secret_params = frozenset({"access_token", "accessToken"})

    def run(self, params: dict[str, Any], ctx: TagContext) -> None:
        cookies = {name: ctx.cookie_values(name) for name in ("ttclid", "_ttp")}
        built = build_request(ctx.event_data, params, cookies=cookies, now=ctx.now)
        for cookie in built["set_cookies"]:
            options = {k.replace("_", "-") if k == "max_age" else k: v for k, v in cookie.items()
                       if k not in ("name", "value")}
            options["httpOnly"] = options.pop("http_only", False)
            options["samesite"] = options.pop("same_site", None)
            ctx.set_cookie(cookie["name"], cookie["value"], options)
        body = js.stringify(built["body"])
        assert isinstance(body, str)
        response = ctx.send_http(built["method"], built["url"], built["headers"], body, judge=judge)
        if response is None:
            raise TagError("the request to TikTok got no answer")
        if not 200 <= response.status < 400:
            raise TagError(f"TikTok answered HTTP {response.status}")
