"""Pieces shared by the TikTok profiles: constants, sandbox helpers, hashing, cookies, notes.

Everything here is pure. The sandbox helpers reproduce what the sGTM APIs the templates call would
return (``parseUrl``, ``decodeUriComponent``, ``JSON.parse``, ``getCookieValues``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from ...core import js
from ...core.js import UNDEFINED, truthy
from ...core.request import decode_component_lenient
from ...core.url import parse_url
from ...errors import TagError

ENDPOINT = "https://business-api.tiktok.com/open_api/v1.3/event/track/"
HOST = "business-api.tiktok.com"

TTCLID_MAX_AGE = 2_592_000  # 30 days
TTP_MAX_AGE = 34_190_000  # about 13 months (stape)

HEX64 = re.compile(r"^[A-Fa-f0-9]{64}$")
HEX64_LOWER = re.compile(r"^[a-f0-9]{64}$")

STANDARD_EVENTS = frozenset({
    "AddPaymentInfo", "AddToCart", "AddToWishlist", "ApplicationApproval", "CompleteRegistration",
    "Contact", "CustomizeProduct", "Download", "FindLocation", "InitiateCheckout", "Lead", "Purchase",
    "Schedule", "Search", "StartTrial", "SubmitApplication", "Subscribe", "ViewContent",
})
LEGACY_EVENTS = {
    "CompletePayment": "renamed to Purchase",
    "SubmitForm": "renamed to Lead",
    "PlaceAnOrder": "deprecated",
    "ClickButton": "deprecated",
}
PURCHASE_EVENTS = frozenset({"Purchase", "CompletePayment"})
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------- sandbox helpers


_NOT_MAPPINGS = frozenset({str, int, float, bool, list, tuple})


def get(data: Any, key: str) -> Any:
    """``data[key]`` in JS: UNDEFINED when ``data`` is not an object or lacks the key."""
    kind = type(data)
    if kind is dict:  # the common case, without the ABC check below
        return data.get(key, UNDEFINED)
    if data is UNDEFINED or data is None or kind in _NOT_MAPPINGS:
        return UNDEFINED
    if isinstance(data, Mapping):
        return data.get(key, UNDEFINED)
    return UNDEFINED


class TemplateThrow(TagError):
    """Where the published template's code throws: ``js_error`` is the error as the sandbox words it
    (``TypeError: value is not iterable``), which the tag also writes to the console as the sandbox does."""

    def __init__(self, js_error: str, detail: str = ""):
        self.js_error = js_error
        super().__init__(f"the template threw: {js_error}" + (f" ({detail})" if detail else ""))


NOT_A_FUNCTION = "TypeError: not a function"
NOT_ITERABLE = "TypeError: value is not iterable"


def prop(value: Any, key: str, what: str = "a value") -> Any:
    """``value[key]`` as the template's sandbox reads it: own members only (no inherited
    ``constructor`` / ``toString``), a string's or array's ``length`` and indices; reading from null or
    undefined throws (:class:`TagError`, as the template would fail)."""
    kind = type(value)
    if kind is dict:
        return value.get(key, UNDEFINED)
    if value is None or value is UNDEFINED:
        raise TemplateThrow(f"TypeError: cannot read property '{key}' of {js.to_string(value)}", what)
    if kind is str or kind is list:
        if key == "length":
            return len(value)
        if key.isdigit() and (key == "0" or key[0] != "0") and int(key) < len(value):
            return value[int(key)]
        return UNDEFINED
    if isinstance(value, Mapping):
        return value.get(key, UNDEFINED)
    return UNDEFINED


def iterate(value: Any, what: str) -> list[Any]:
    """``for (const x of value)``: an array's elements or a string's characters; anything else throws."""
    if type(value) is list:
        return value
    if type(value) is str:
        return list(value)
    raise TemplateThrow(NOT_ITERABLE, f"{what} is a {js.type_of(value)}")


def positive(value: Any) -> bool:
    """JS ``value > 0``."""
    return value is not UNDEFINED and js.to_number(value) > 0


def trim(text: str) -> str:
    """JS ``String.prototype.trim``."""
    return text.strip(js.WHITESPACE)


def first_cookie(cookies: Mapping[str, Any] | None, name: str) -> Any:
    """``getCookieValues(name)[0]``: the first value, or UNDEFINED."""
    if not cookies or name not in cookies:
        return UNDEFINED
    value = cookies[name]
    if isinstance(value, (list, tuple)):
        return value[0] if value else UNDEFINED
    return UNDEFINED if value is None else value


def decode_uri_component(value: Any) -> Any:
    """``decodeUriComponent``: UNDEFINED on malformed input (JS's ``String()`` of non-strings first)."""
    if value is UNDEFINED:
        return UNDEFINED
    decoded = decode_component_lenient(js.to_string(value))
    return UNDEFINED if decoded is None else decoded


def json_parse(text: Any) -> Any:
    """The sandbox's ``JSON.parse``: UNDEFINED when the text does not parse."""
    if text is UNDEFINED:
        return UNDEFINED
    try:
        return json.loads(js.to_string(text), parse_constant=_no_constant)
    except ValueError:
        return UNDEFINED


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python reads NaN / Infinity; JSON.parse does not


def url_param(url: Any, name: str) -> Any:
    parsed = parse_url(url)
    if parsed is None:
        return UNDEFINED
    return parsed["searchParams"].get(name, UNDEFINED)


# ---------------------------------------------------------------------- cookies and notes


def cookie(name: str, value: Any, max_age: int, same_site: str) -> dict[str, Any]:
    """A ``set_cookies`` entry in the report's form (``domain: "auto"`` is resolved by the container)."""
    return {"name": name, "value": js.to_string(value), "max_age": max_age, "domain": "auto", "path": "/",
            "secure": True, "http_only": False, "same_site": same_site}


class Notes:
    """Where build_request reports what a user should know: warnings and informational notes."""

    def __init__(self, warnings: list[str] | None, notes: list[str] | None):
        self.warnings = warnings if warnings is not None else []
        self.notes = notes if notes is not None else []

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)


def check_event_name(event: Any, notes: Notes) -> None:
    """Notes (not warnings: TikTok accepts them, and the official template itself sends
    ``CompletePayment``) for legacy names, ``Pageview`` and un-mapped GA4-looking names (docs/tiktok.md,
    "Event names")."""
    if not isinstance(event, str):
        if truthy(event):
            notes.warn(f"event name is a {js.type_of(event)}, not a string: TikTok rejects it")
        return
    if event in LEGACY_EVENTS:
        notes.note(f"legacy TikTok event name {event!r} ({LEGACY_EVENTS[event]}): TikTok still accepts it")
    elif event == "Pageview":
        notes.note("event 'Pageview' is what the sGTM templates send for page_view; whether TikTok treats it "
                   "as a standard event is not documented")
    elif event not in STANDARD_EVENTS and _SNAKE.match(event):
        notes.note(f"event {event!r} is not mapped to a TikTok standard event: it is sent as a custom event")


def check_types(body: Mapping[str, Any], notes: Notes) -> None:
    """Warn about values TikTok rejects (numeric ``event_id`` / ``content_id``)."""
    for event in body.get("data") or []:
        if not isinstance(event, Mapping):
            continue
        event_id = event.get("event_id", UNDEFINED)
        if event_id is not UNDEFINED and not isinstance(event_id, str):
            notes.warn(f"event_id is a {js.type_of(event_id)} ({js.to_string(event_id)}): TikTok rejects it "
                       f"with 40002 'Invalid value for event_id: not a valid string.'")
        properties = event.get("properties")
        contents = properties.get("contents") if isinstance(properties, Mapping) else None
        if isinstance(contents, list):
            for index, content in enumerate(contents):
                content_id = content.get("content_id", UNDEFINED) if isinstance(content, Mapping) else UNDEFINED
                if content_id is not UNDEFINED and not isinstance(content_id, str):
                    notes.warn(f"contents[{index}].content_id is a {js.type_of(content_id)} "
                               f"({js.to_string(content_id)}): TikTok rejects it with 40002")


def check_normalised(field: str, text: str, notes: Notes) -> None:
    """Warn (never fix) when a value about to be hashed does not look normalised for TikTok
    (docs/tiktok.md, "What is hashed")."""
    if text != text.strip():
        notes.warn(f"user {field} has surrounding whitespace before hashing")
    if field == "email" and "@" not in text:
        notes.warn(f"user email {text!r} has no '@': it does not look like an e-mail address")
    if field == "phone":
        stripped = text.strip()
        if not stripped.startswith("+") or not stripped[1:].isdigit():
            notes.warn("user phone is not in E.164 form (+ and digits only) before hashing: TikTok will not "
                       "match it")
