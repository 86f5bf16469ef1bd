"""The GA4 web client (export type ``gaaw_client``): ``/g/collect`` hits into common event data.

:func:`parse` is pure: no clock, no randomness, no cookies written. It reads an existing FPID
from the ``Cookie`` header only when told that the cookie mode is ``server``. :class:`GA4Client`
wraps it for the container: which requests it claims, the client address behind trusted proxies,
``x-sst-system_properties.request_start_time_ms``, the server-managed FPID cookie and the response
(docs/clients.md, "GA4 client").

Choices made where the reference is uncertain (each one is a named constant or a setting):

* Invalid UTF-8 and malformed percent-escapes (``%zz``) are a ``400`` naming the parameter or body
  line (``STRICT_DECODING_DEFAULT``). sGTM reads invalid bytes as U+FFFD (docs/clients.md, "Errors (never a
  500)"); that is
  the ``strict_decoding=False`` setting, which also keeps a malformed escape as literal text.
* A batched POST may hold at most ``DEFAULT_MAX_EVENTS`` events and ``DEFAULT_MAX_BODY_BYTES``
  bytes; more is a ``413``.
* A hit without ``tid`` or ``en`` (or with an empty one) is a ``400``. A hit without ``v=2`` is not
  claimed; :func:`parse` itself does not look at ``v``.
* An item segment that cannot be read (a lone key character, ``k<n>`` without ``v<n>`` or the
  reverse) is a ``400`` under strict decoding, else dropped with a warning.
* gtag writes item categories 2-5 as ``c2``..``c5``; ``ca2024 collection`` is
  ``item_category: "2024 collection"``. Reading ``ca2``..``ca5`` as ``item_category2``..``5`` is an
  opt-in setting (``NUMBERED_ITEM_CATEGORIES`` = False).
* Custom item parameters ``k<n>``/``v<n>``: in ``k<n>`` every leading digit belongs to ``<n>`` (so a
  custom key whose name starts with a digit cannot be written); in ``v<n>`` the index is the longest
  digit prefix that some ``k<n>`` uses, since values may start with digits.
* Numbers use JS ``Number()``; a text that gives ``NaN`` (or is blank) stays a string, with a
  warning.
* A parameter repeated in one query string or line: the first value wins. Two parameters that map
  to the same key (``gcu``/``gcut``, ``_uip``/``uip``, ``_edid``/``edid``): the later one wins.
* ``ep.x``/``epn.x`` are applied after the standard mapping, the later one winning; they never
  overwrite ``x-ga-*``/``x-sst-*`` keys (a warning says so).
* In a batched POST the parameters of an event are the query's (those the line does not set),
  followed by the line's; so for ``ep``/``epn`` precedence the line comes later.
* ``uafvl`` is encoded twice on the wire, as gtag writes it: each brand and version is
  URI-encoded, joined with ``;`` and ``|``, and the whole value URI-encoded once more
  (``Not%253AA-Brand%3B8.0.0.0%7CChromium%3B156.0.8078.114``). The once-decoded value is split on
  ``|`` and on the last ``;`` of each entry, then each part is decoded again. An inner part that
  cannot be decoded is kept as written, and an entry without ``;`` (no version), with a warning.
* ``client_hints`` (sGTM's shape in recorded event data): with any ``ua*`` parameter, all eight
  fields (``""``/``false``/``[]`` for those not sent) plus ``brands`` from ``Sec-CH-UA``; with no
  ``ua*`` parameter, only what the ``Sec-CH-UA``, ``Sec-CH-UA-Mobile`` and ``Sec-CH-UA-Platform``
  headers give (brands with their major versions, mobile, platform exactly as sent).
* ``sst.<name>`` parameters go to ``x-sst-system_properties.<name>``; ``gcd`` to ``x-ga-mp2-gcd``
  (``GCD_EVENT_KEY``), to ``x-sst-system_properties.gcd`` and, decoded, to
  ``x-sst-system_properties.consent``; ``dma`` stays the string sent. This is the shape sGTM
  recorded in January 2024 (web container ``45je4180``; see docs/clients.md).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from ..core import js
from ..core.report import EventReport
from ..core.request import (
    BAD_ESCAPE,
    Request,
    Response,
    SetCookie,
    auto_cookie_domain,
    client_address,
    decode_component_lenient,
    parse_cookie_header,
    parse_query,
    strip_port,
    trusted_networks,
)
from ..errors import RequestError
from .base import Claim, Client, ClientRun, as_bool, header_value

DEFAULT_MAX_EVENTS = 1000
DEFAULT_MAX_BODY_BYTES = 1_000_000
MAX_ITEMS = 200
STRICT_DECODING_DEFAULT = True
NUMBERED_ITEM_CATEGORIES = False
# Where recorded sGTM event data (January 2024) puts the gcd parameter: it is not one of the GA4
# client's named parameters, so it lands under the generic x-ga-mp2- prefix.
GCD_EVENT_KEY = "x-ga-mp2-gcd"
# Consent types in the order of their letters in gcd (positions 2, 4, 6 and 8).
GCD_CONSENT_TYPES = ("ad_storage", "analytics_storage", "ad_user_data", "ad_personalization")
# gcd letters: l = no signal (recorded sGTM data reads it as granted), p/q/m/u end denied,
# t/r/n/v end granted; q/r/m/n/u/v carry an update command.
GCD_GRANTED = frozenset("ltrnv")
GCD_DENIED = frozenset("pqmu")
GCD_UPDATED = frozenset("qrmnuv")
CLIENT_HINT_FIELDS: tuple[tuple[str, Any], ...] = (
    ("architecture", ""), ("bitness", ""), ("full_version_list", ()), ("mobile", False), ("model", ""),
    ("platform", ""), ("platform_version", ""), ("wow64", False),
)
FPID_PREFIX = "FPID2.2."
FPID_RANDOM_BYTES = 32
DEFAULT_COOKIE_MAX_AGE = 63_072_000  # two years
PROTECTED_PREFIXES = ("x-ga-", "x-sst-")

# One entry of a Sec-CH-UA header: "Brand";v="116" (a structured-field string with \" and \\).
_SEC_CH_UA_ENTRY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*;\s*v\s*=\s*"((?:[^"\\]|\\.)*)"')
_SF_ESCAPE = re.compile(r"\\(.)")

# Parameter dispatch: name -> (kind, target). Kinds are small ints tested in order of frequency.
(KIND_STR, KIND_NUM, KIND_SYS, KIND_HINT, KIND_HINT_BOOL, KIND_BOOL, KIND_CID, KIND_DBG, KIND_GCD, KIND_UC, KIND_UAFVL,
 KIND_IP) = range(12)

PARAMS: dict[str, tuple[int, str]] = {
    # request / stream level
    "v": (KIND_STR, "x-ga-protocol_version"),
    "tid": (KIND_STR, "x-ga-measurement_id"),
    "gtm": (KIND_STR, "x-ga-gtm_version"),
    "_p": (KIND_NUM, "x-ga-page_id"),
    "_s": (KIND_NUM, "x-ga-request_count"),
    "cid": (KIND_CID, "client_id"),
    "uid": (KIND_STR, "user_id"),
    "sid": (KIND_STR, "ga_session_id"),
    "sct": (KIND_NUM, "ga_session_number"),
    "ul": (KIND_STR, "language"),
    "sr": (KIND_STR, "screen_resolution"),
    "dl": (KIND_STR, "page_location"),
    "dr": (KIND_STR, "page_referrer"),
    "dt": (KIND_STR, "page_title"),
    "de": (KIND_STR, "page_encoding"),
    "dh": (KIND_STR, "page_hostname"),
    "cu": (KIND_STR, "currency"),
    "_dbg": (KIND_DBG, "dbg"),
    "_fv": (KIND_SYS, "fv"),
    "_ss": (KIND_SYS, "ss"),
    "_nsi": (KIND_SYS, "nsi"),
    "_c": (KIND_SYS, "c"),
    "_ee": (KIND_SYS, "ee"),
    "_eu": (KIND_SYS, "eu"),
    "_fid": (KIND_SYS, "fid"),
    "_tu": (KIND_SYS, "tu"),
    "_z": (KIND_SYS, "z"),
    "_uc": (KIND_UC, "uc"),
    "tfd": (KIND_NUM, "x-ga-tfd"),
    "ur": (KIND_STR, "x-ga-ur"),
    "gcs": (KIND_STR, "x-ga-gcs"),
    "gcd": (KIND_GCD, GCD_EVENT_KEY),
    "gcu": (KIND_STR, "x-ga-gcu"),
    "gcut": (KIND_STR, "x-ga-gcu"),
    "dma": (KIND_STR, "x-ga-dma"),
    "dma_cps": (KIND_STR, "x-ga-dma_cps"),
    "npa": (KIND_STR, "x-ga-npa"),
    "pscdl": (KIND_STR, "x-ga-pscdl"),
    "ecid": (KIND_STR, "x-ga-ecid"),
    "em": (KIND_STR, "x-ga-em"),
    "_edid": (KIND_STR, "x-ga-edid"),
    "edid": (KIND_STR, "x-ga-edid"),
    "gdid": (KIND_STR, "x-ga-gdid"),
    "did": (KIND_STR, "x-ga-did"),
    "uaa": (KIND_HINT, "architecture"),
    "uab": (KIND_HINT, "bitness"),
    "uafvl": (KIND_UAFVL, "full_version_list"),
    "uamb": (KIND_HINT_BOOL, "mobile"),
    "uam": (KIND_HINT, "model"),
    "uap": (KIND_HINT, "platform"),
    "uapv": (KIND_HINT, "platform_version"),
    "uaw": (KIND_HINT_BOOL, "wow64"),
    "_uip": (KIND_IP, "ip_override"),
    "uip": (KIND_IP, "ip_override"),
    # event level
    "en": (KIND_STR, "event_name"),
    "_et": (KIND_NUM, "engagement_time_msec"),
}

ITEM_KEYS: dict[str, tuple[str, bool]] = {
    "id": ("item_id", False), "nm": ("item_name", False), "br": ("item_brand", False),
    "ca": ("item_category", False), "c2": ("item_category2", False), "c3": ("item_category3", False),
    "c4": ("item_category4", False), "c5": ("item_category5", False), "va": ("item_variant", False),
    "pr": ("price", True), "qt": ("quantity", True), "cp": ("coupon", False), "ds": ("discount", True),
    "lp": ("index", True), "li": ("item_list_id", False), "ln": ("item_list_name", False),
    "af": ("affiliation", False), "lo": ("location_id", False), "cn": ("creative_name", False),
    "cs": ("creative_slot", False), "pi": ("promotion_id", False), "pn": ("promotion_name", False),
}
NUMBERED_CATEGORY_KEYS = {"ca2": "item_category2", "ca3": "item_category3", "ca4": "item_category4",
                          "ca5": "item_category5"}

_TRUE_FALSE = {"1": True, "0": False}


class Warnings:
    """Collects parse warnings when the caller passed a list; a no-op otherwise."""

    __slots__ = ("sink",)

    def __init__(self, sink: list[str] | None):
        self.sink = sink

    def add(self, message: str) -> None:
        if self.sink is not None:
            self.sink.append(message)


# ---------------------------------------------------------------------------- decoding


def _decode_params(text: str, strict: bool, what: str) -> dict[str, str]:
    """``a=1&b=2`` into {name: first value}, decoded as ``application/x-www-form-urlencoded``.

    Fast path: components without ``%`` or ``+`` are used as they are. Strict mode checks the
    whole text once for malformed escapes and stray (surrogate-escaped) bytes; when anything is
    wrong it re-reads the text component by component to name the parameter at fault.
    """
    if not text:
        return {}
    if strict:
        if ("%" in text and BAD_ESCAPE.search(text)) or not _is_clean(text):
            return _slow_params(text, what)
        errors = "strict"
    else:
        if not text.isascii():
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        errors = "replace"
    out: dict[str, str] = {}
    try:
        for part in text.split("&"):
            if not part:
                continue
            key, _, value = part.partition("=")
            if "+" in key:
                key = key.replace("+", " ")
            if "%" in key:
                key = unquote(key, errors=errors)
            if key in out:
                continue
            if "+" in value or "%" in value:
                value = unquote(value.replace("+", " "), errors=errors)
            out[key] = value
    except UnicodeDecodeError:
        return _slow_params(text, what)
    return out


def _is_clean(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _slow_params(text: str, what: str) -> dict[str, str]:
    """Strict, component by component: raises a RequestError naming the parameter at fault."""
    out: dict[str, str] = {}
    for key, value in parse_query(text, what=what):
        if key not in out:
            out[key] = value
    return out


def _raw_value(text: str, name: str) -> str | None:
    """The raw (still percent-encoded) first value of ``name`` in a query string or line."""
    prefix = name + "="
    for part in text.split("&"):
        if part.startswith(prefix):
            return part[len(prefix):]
        if part == name:
            return ""
    return None


# ---------------------------------------------------------------------------- values


def to_number(text: str, where: str, warn: Warnings, name: str = "") -> Any:
    """JS ``Number()`` of a parameter; NaN or blank text is kept as the string (with a warning)."""
    if text.isascii():
        if text.isdigit() and len(text) < 16:
            return int(text)
        if text.replace(".", "", 1).isdigit():
            return js.normalize_number(float(text))
    value = js.string_to_number(text)
    if isinstance(value, float) and value != value:
        warn.add(f"{where} {name}: {text!r} is not a number; kept as a string")
        return text
    if value == 0 and not text.strip():
        warn.add(f"{where} {name}: empty value where a number is expected; kept as a string")
        return text
    return value


def _flag(text: str, where: str, warn: Warnings, name: str) -> Any:
    flag = _TRUE_FALSE.get(text)
    if flag is None:
        warn.add(f"{where} {name}: {text!r} is not 0 or 1; kept as a string")
        return text
    return flag


def _split_item(text: str) -> list[str]:
    """Item segments: ``~`` separates, ``~~`` is a literal ``~`` (read left to right)."""
    if "~~" not in text:
        return text.split("~")
    segments: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    while i < n:
        j = text.find("~", i)
        if j < 0:
            current.append(text[i:])
            break
        current.append(text[i:j])
        if j + 1 < n and text[j + 1] == "~":
            current.append("~")
            i = j + 2
        else:
            segments.append("".join(current))
            current = []
            i = j + 1
    segments.append("".join(current))
    return segments


def parse_item(text: str, where: str = "pr", *, strict: bool = True,
               numbered_categories: bool = NUMBERED_ITEM_CATEGORIES,
               warnings: list[str] | None = None, _warn: Warnings | None = None) -> dict[str, Any]:
    """One ``prN`` value, e.g. ``idSKU1~nmShirt~pr9.99~k0color~v0red`` (docs/clients.md, "Items (prN)")."""
    warn = _warn or Warnings(warnings)
    item: dict[str, Any] = {}
    custom: list[str] | None = None
    get = ITEM_KEYS.get
    for seg in text.split("~") if "~~" not in text else _split_item(text):
        spec = get(seg[:2])
        if spec is not None:
            name, numeric = spec
            value: Any = seg[2:]
            if numeric:
                if value.isdigit() and len(value) < 16 and value.isascii():
                    value = int(value)
                else:
                    value = to_number(value, where, warn, name)
            elif name == "item_category" and numbered_categories and value[:1] in _CA_DIGITS and value:
                name, value = NUMBERED_CATEGORY_KEYS["ca" + value[0]], value[1:]
            item[name] = value
        elif seg:
            if custom is None:
                custom = []
            custom.append(seg)
    if custom is not None:
        _other_segments(item, custom, where, strict, warn)
    return item


_CA_DIGITS = "2345"


def _other_segments(item: dict[str, Any], segments: list[str], where: str, strict: bool, warn: Warnings) -> None:
    keys: dict[str, str] = {}
    values: list[str] = []
    for seg in segments:
        first = seg[0]
        if first == "k" and seg[1:2].isdigit():
            end = 2
            while end < len(seg) and seg[end].isdigit():
                end += 1
            keys[seg[1:end]] = seg[end:]
        elif first == "v" and seg[1:2].isdigit():
            values.append(seg[1:])  # paired once every k<n> is known: values may start with digits
        elif len(seg) < 2:
            _dangling(f"{where}: segment {seg!r} is a lone character, not a two-letter key and a value",
                      strict, warn)
        else:
            warn.add(f"{where}: unknown item key {seg[:2]!r}; kept as items[][{seg[:2]!r}]")
            item[seg[:2]] = seg[2:]
    if keys or values:
        _custom_params(item, keys, values, where, strict, warn)


def _custom_params(item: dict[str, Any], keys: dict[str, str], raw_values: list[str], where: str, strict: bool,
                   warn: Warnings) -> None:
    """Pair ``k<n>name`` with ``v<n>value``: a value's index is its longest digit prefix that some
    ``k<n>`` uses (the value itself may start with digits)."""
    values: dict[str, str] = {}
    for raw in raw_values:
        end = 1
        while end < len(raw) and raw[end].isdigit():
            end += 1
        while end > 0 and raw[:end] not in keys:
            end -= 1
        if end == 0:
            digits = raw[:1]
            _dangling(f"{where}: custom item value v{digits}… has no key k{digits}", strict, warn)
            continue
        values[raw[:end]] = raw[end:]
    for index, name in keys.items():
        if index not in values:
            _dangling(f"{where}: custom item key k{index} ({name!r}) has no value v{index}", strict, warn)
        elif not name:
            _dangling(f"{where}: custom item key k{index} is empty", strict, warn)
        else:
            item[name] = values[index]


def _dangling(message: str, strict: bool, warn: Warnings) -> None:
    if strict:
        raise RequestError(400, message)
    warn.add(message + "; dropped")


def parse_version_list(text: str, *, where: str = "uafvl", warnings: list[str] | None = None,
                       _warn: Warnings | None = None) -> list[dict[str, str]]:
    """``uafvl`` once decoded (``Google%20Chrome;120.0.1|Chromium;120.0.1``): split on ``|`` and the
    last ``;`` of each entry, then each brand and version URI-decoded (the inner encoding)."""
    warn = _warn or Warnings(warnings)
    if text == "":
        return []
    out = []
    for entry in text.split("|"):
        brand, sep, version = entry.rpartition(";")
        if not sep:
            brand, version = entry, ""
            warn.add(f"{where}: entry {entry!r} has no ';' before a version; read as a brand with an empty "
                     "version (gtag encodes each brand and version, then the whole list once more)")
        out.append({"brand": _decode_inner(brand, where, warn), "version": _decode_inner(version, where, warn)})
    return out


def _decode_inner(text: str, where: str, warn: Warnings) -> str:
    if "%" not in text:
        return text
    decoded = decode_component_lenient(text)
    if decoded is None:
        warn.add(f"{where}: {text!r} is not URI-encoded as gtag encodes brands and versions; kept as written")
        return text
    return decoded


def header_client_hints(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
                        warnings: list[str] | None = None) -> dict[str, Any]:
    """What sGTM reads from the low-entropy client-hint headers: ``brands`` (``Sec-CH-UA``, major
    versions), ``mobile`` (``Sec-CH-UA-Mobile``: ``?1``/``?0``) and ``platform``
    (``Sec-CH-UA-Platform``, kept exactly as sent, quotes included). Only headers present count."""
    warn = Warnings(warnings)
    out: dict[str, Any] = {}
    brands = header_value(headers, "Sec-CH-UA")
    if brands is not None:
        out["brands"] = [{"brand": _SF_ESCAPE.sub(r"\1", m.group(1)), "version": _SF_ESCAPE.sub(r"\1", m.group(2))}
                         for m in _SEC_CH_UA_ENTRY.finditer(brands)]
    mobile = header_value(headers, "Sec-CH-UA-Mobile")
    if mobile is not None:
        flag = {"?1": True, "?0": False}.get(mobile.strip())
        if flag is None:
            warn.add(f"Sec-CH-UA-Mobile: {mobile!r} is not ?1 or ?0; kept as a string")
        out["mobile"] = mobile if flag is None else flag
    platform = header_value(headers, "Sec-CH-UA-Platform")
    if platform is not None:
        out["platform"] = platform
    return out


def _complete_hints(hints: dict[str, Any], from_headers: Mapping[str, Any]) -> dict[str, Any]:
    """The ``ua*`` form: every field sGTM writes, in its order, then ``brands`` from the header."""
    out = {name: hints.get(name, list(default) if isinstance(default, tuple) else default)
           for name, default in CLIENT_HINT_FIELDS}
    if "brands" in from_headers:
        out["brands"] = [dict(b) for b in from_headers["brands"]]
    return out


def consent_from_gcd(gcd: str) -> dict[str, Any] | None:
    """``x-sst-system_properties.consent`` as sGTM builds it from ``gcd`` (``13r3r3r3r5l1``), or
    None when the value is not in that form."""
    if len(gcd) < 9 or gcd[0] != "1":
        return None
    letters = [gcd[i].lower() for i in (2, 4, 6, 8)]
    if any(letter not in GCD_GRANTED and letter not in GCD_DENIED for letter in letters):
        return None
    granted = {name: letter in GCD_GRANTED for name, letter in zip(GCD_CONSENT_TYPES, letters, strict=True)}
    return {
        "consentGrantedState": granted,
        "isUpdate": any(letter in GCD_UPDATED for letter in letters),
        "updateType": "",
    }


# ---------------------------------------------------------------------------- event building


def _build_event(params: dict[str, str], where: str, strict: bool,
                 numbered_categories: bool, warn: Warnings) -> dict[str, Any]:
    data: dict[str, Any] = {}
    system: dict[str, Any] | None = None
    sst: dict[str, Any] | None = None
    hints: dict[str, Any] | None = None
    user_props: dict[str, Any] | None = None
    items: dict[int, dict[str, Any]] | None = None
    event_params: list[tuple[str, Any]] | None = None
    gcd: str | None = None
    lookup = PARAMS.get
    for key, value in params.items():
        spec = lookup(key)
        if spec is not None:
            kind, target = spec
            if kind == KIND_STR:
                data[target] = value
            elif kind == KIND_NUM:
                data[target] = to_number(value, where, warn, key)
            elif kind == KIND_SYS:
                if system is None:
                    system = {}
                system[target] = value
            elif kind == KIND_CID:
                data["client_id"] = value
            elif kind == KIND_HINT or kind == KIND_HINT_BOOL or kind == KIND_UAFVL:
                if hints is None:
                    hints = {}
                if kind == KIND_HINT:
                    hints[target] = value
                elif kind == KIND_HINT_BOOL:
                    hints[target] = _flag(value, where, warn, key)
                else:
                    hints[target] = parse_version_list(value, where=f"{where} parameter 'uafvl'", _warn=warn)
            elif kind == KIND_GCD:
                data[target] = value
                gcd = value
            elif kind == KIND_UC:
                if sst is None:
                    sst = {}
                sst["uc"] = value
            elif kind == KIND_DBG:
                if system is None:
                    system = {}
                system["dbg"] = value
                data["debug_mode"] = "true"
            elif kind == KIND_BOOL:
                data[target] = _flag(value, where, warn, key)
            else:  # KIND_IP
                data["ip_override"] = value
            continue
        first = key[:1]
        if first == "e" and key.startswith("ep."):
            if event_params is None:
                event_params = []
            event_params.append((key[3:], value))
        elif first == "e" and key.startswith("epn."):
            if event_params is None:
                event_params = []
            event_params.append((key[4:], to_number(value, where, warn, key)))
        elif first == "p" and key[1:2] == "r" and key[2:].isdigit() and key[2:].isascii():
            index = int(key[2:])
            if 1 <= index <= MAX_ITEMS and key[2] != "0":
                if items is None:
                    items = {}
                items[index] = parse_item(value, f"{where} {key}", strict=strict,
                                          numbered_categories=numbered_categories, _warn=warn)
            else:
                warn.add(f"{where}: item parameter {key!r} ignored (items are pr1 to pr{MAX_ITEMS})")
        elif first == "u" and key.startswith("up."):
            if user_props is None:
                user_props = {}
            user_props[key[3:]] = value
        elif first == "u" and key.startswith("upn."):
            if user_props is None:
                user_props = {}
            user_props[key[4:]] = to_number(value, where, warn, key)
        elif first == "s" and key.startswith("sst.") and len(key) > 4:
            if sst is None:
                sst = {}
            sst[key[4:]] = value
        elif key:
            data["x-ga-mp2-" + key] = value
        else:
            warn.add(f"{where}: a parameter with an empty name was ignored")
    if user_props is not None:
        data["x-ga-mp2-user_properties"] = user_props
    if system is not None:
        data["x-ga-system_properties"] = system
    if gcd is not None:
        if sst is None:
            sst = {}
        sst.setdefault("gcd", gcd)
        consent = consent_from_gcd(gcd)
        if consent is None:
            warn.add(f"{where}: gcd {gcd!r} is not in gtag's form; no consent state derived")
        else:
            sst["consent"] = consent
    if sst is not None:
        data["x-sst-system_properties"] = sst
    if hints is not None:
        data["client_hints"] = hints
    if items is not None:
        data["items"] = [items[i] for i in sorted(items)]
    if event_params is not None:
        for name, value in event_params:
            if name.startswith(PROTECTED_PREFIXES):
                warn.add(f"{where}: event parameter {name!r} ignored: x-ga-*/x-sst-* keys cannot be overwritten")
            elif not name:
                warn.add(f"{where}: an event parameter with an empty name was ignored")
            else:
                data[name] = value
    return data


def _fpid_from_cookie(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None, cookie_name: str) -> str | None:
    header = header_value(headers, "cookie")
    if not header:
        return None
    for name, value in parse_cookie_header(header):
        if name == cookie_name and value:
            decoded = decode_component_lenient(value)
            value = value if decoded is None else decoded
            return value[len(FPID_PREFIX):] if value.startswith(FPID_PREFIX) else value
    return None


def parse(
    method: str,
    path: str,
    query: str,
    body: bytes | str = b"",
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    remote_addr: str = "127.0.0.1",
    *,
    cookie_mode: str = "js",
    cookie_name: str = "FPID",
    migrate_from_js_client_id: bool = False,
    strict_decoding: bool = STRICT_DECODING_DEFAULT,
    max_events: int = DEFAULT_MAX_EVENTS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    derive_page_fields: bool = False,
    numbered_item_categories: bool = NUMBERED_ITEM_CATEGORIES,
    require_ids: bool = True,
    warnings: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The event data of every event in a ``/g/collect`` hit (one per body line of a POST).

    ``remote_addr`` is the client address as already resolved (the client class applies trusted
    proxies); ``_uip``/``uip`` override it. With ``cookie_mode="server"`` the client ID comes from
    the FPID cookie in ``headers`` (``cid`` moves to ``x-ga-js_client_id``); with no such cookie it
    is ``cid`` under ``migrate_from_js_client_id`` and otherwise left out (the client class creates
    a new one). Warnings (bad numbers, unknown item keys, ignored parameters) are appended to
    ``warnings`` when a list is given. Bad input raises :class:`RequestError` with a 4xx.
    """
    strict = strict_decoding
    warn = Warnings(warnings)
    base = _decode_params(query, strict, "query string")
    batches: list[tuple[str, dict[str, str]]]
    if method.upper() == "POST" and body:
        if len(body) > max_body_bytes:
            raise RequestError(413, f"body is {len(body)} bytes; the limit is {max_body_bytes}")
        batches = _body_lines(body, base, strict, max_events)
    else:
        batches = []
    if not batches:
        batches = [("query string", base)]
    ua = header_value(headers, "User-Agent")
    header_hints = header_client_hints(headers, warnings)
    ip = strip_port(remote_addr)
    fpid = _fpid_from_cookie(headers, cookie_name) if cookie_mode == "server" else None
    events = []
    for where, params in batches:
        data = _build_event(params, where, strict, numbered_item_categories, warn)
        if require_ids:
            _require(data, where)
        if "client_hints" in data:
            data["client_hints"] = _complete_hints(data["client_hints"], header_hints)
        elif header_hints:
            data["client_hints"] = {k: [dict(b) for b in v] if k == "brands" else v for k, v in header_hints.items()}
        if "ip_override" not in data:
            data["ip_override"] = ip
        if ua is not None:
            data["user_agent"] = ua
        if cookie_mode == "server":
            cid = data.pop("client_id", None)
            if cid is not None:
                data["x-ga-js_client_id"] = cid
            if fpid is not None:
                data["client_id"] = fpid
            elif migrate_from_js_client_id and cid:
                data["client_id"] = cid
        if derive_page_fields:
            _derive_page_fields(data)
        events.append(data)
    return events


def _body_lines(body: bytes | str, base: dict[str, str], strict: bool,
                max_events: int) -> list[tuple[str, dict[str, str]]]:
    raw_lines: list[Any] = body.split(b"\n") if isinstance(body, bytes) else body.split("\n")
    numbered = [(number, line.strip()) for number, line in enumerate(raw_lines, 1) if line.strip()]
    if not numbered:
        return []
    if len(numbered) > max_events:
        raise RequestError(413, f"batched body has {len(numbered)} events; the limit is {max_events}")
    out = []
    for number, line in numbered:
        where = f"body line {number}"
        if isinstance(line, bytes):
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                if strict:
                    raise RequestError(400, f"invalid UTF-8 (byte 0x{line[exc.start]:02x} at column "
                                            f"{exc.start + 1}) in {where}") from None
                text = line.decode("utf-8", "replace")
        else:
            text = line
        overlay = _decode_params(text, strict, where)
        merged = {k: v for k, v in base.items() if k not in overlay} if base else {}
        merged.update(overlay)
        out.append((where, merged))
    return out


def _require(data: dict[str, Any], where: str) -> None:
    if not data.get("x-ga-measurement_id"):
        raise RequestError(400, f"{where}: the hit has no measurement ID (tid)")
    if not data.get("event_name"):
        source = "the line or the query" if where.startswith("body") else "the query"
        raise RequestError(400, f"{where}: the hit has no event name (en) in {source}")


def _derive_page_fields(data: dict[str, Any]) -> None:
    location = data.get("page_location")
    if not isinstance(location, str) or not location:
        return
    try:
        parts = urlsplit(location)
    except ValueError:
        return
    if parts.hostname and "page_hostname" not in data:
        data["page_hostname"] = parts.hostname
    if "page_path" not in data:
        data["page_path"] = parts.path or "/"


# ---------------------------------------------------------------------------- the client


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")

SETTINGS_DEFAULTS: dict[str, Any] = {
    "cookie_management": "js",
    "cookie_name": "FPID",
    "cookie_domain": "auto",
    "cookie_path": "/",
    "cookie_max_age": DEFAULT_COOKIE_MAX_AGE,
    "migrate_from_js_client_id": False,
    "response_status": 204,
    "trusted_proxies": [],
    "max_events": DEFAULT_MAX_EVENTS,
    "max_body_bytes": DEFAULT_MAX_BODY_BYTES,
    "strict_decoding": STRICT_DECODING_DEFAULT,
    "derive_page_fields": False,
    "numbered_item_categories": NUMBERED_ITEM_CATEGORIES,
}
_BOOL_SETTINGS = ("migrate_from_js_client_id", "strict_decoding", "derive_page_fields", "numbered_item_categories")
_POSITIVE_INT_SETTINGS = ("max_events", "max_body_bytes")


def check_common_settings(settings: Mapping[str, Any], known: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems shared by both clients: unknown keys and ``trusted_proxies``."""
    problems = []
    for key in settings:
        if key not in known:
            problems.append((key, f"unknown setting; known settings: {', '.join(sorted(known))}"))
    proxies = settings.get("trusted_proxies", [])
    if not isinstance(proxies, list) or not all(isinstance(p, str) for p in proxies):
        problems.append(("trusted_proxies", "must be a list of IP addresses or CIDR networks (strings)"))
    else:
        for index, proxy in enumerate(proxies):
            if proxy == "*":
                continue
            try:
                trusted_networks((proxy,))
            except ValueError:
                problems.append((f"trusted_proxies[{index}]", f"{proxy!r} is not an IP address or CIDR network"))
    return problems


class GA4Client(Client):
    """The GA4 web client: claims ``/g/collect`` (also under a path prefix) when the query has ``v=2``.

    Settings (all optional):

    ``cookie_management`` (``"js"`` | ``"server"``, default ``"js"``)
        ``js``: ``client_id`` is ``cid`` and no cookie is written. ``server``: the client ID lives in
        a server-set HttpOnly cookie (FPID); ``cid`` goes to ``x-ga-js_client_id``.
    ``cookie_name`` (default ``"FPID"``), ``cookie_domain`` (default ``"auto"``: the registrable
    domain of the request host, host-only for ``localhost`` and IPs), ``cookie_path`` (default
    ``"/"``), ``cookie_max_age`` (seconds, default 63072000 = two years)
        The server cookie.
    ``migrate_from_js_client_id`` (bool, default false)
        In server mode, when no FPID cookie exists yet, reuse ``cid`` as the new client ID.
    ``response_status`` (204 | 200, default 204)
        Status of the answer to a hit.
    ``trusted_proxies`` (list of IPs / CIDRs, ``"*"`` for any; default none)
        ``X-Forwarded-For`` / ``Forwarded`` are honoured only when the socket peer is one of them.
    ``max_events`` (default 1000), ``max_body_bytes`` (default 1000000)
        A batched POST with more events or bytes is answered 413.
    ``strict_decoding`` (bool, default true)
        Malformed percent-escapes, invalid UTF-8 and unreadable item segments are a 400 naming the
        parameter. False: invalid bytes become U+FFFD, bad escapes stay literal, bad item segments
        are dropped; each with a warning where one applies.
    ``derive_page_fields`` (bool, default false)
        Fill ``page_hostname`` and ``page_path`` from ``page_location`` when the hit lacks them.
    ``numbered_item_categories`` (bool, default false)
        Also read item segments ``ca2``..``ca5`` as ``item_category2``..``5`` (gtag writes
        ``c2``..``c5``; with this on, ``ca2024`` would no longer be ``item_category: "2024"``).
    """

    type = "ga4"
    default_name = "GA4"

    def __init__(self, name: str | None = None, priority: int = 0, settings: dict[str, Any] | None = None):
        super().__init__(name, priority, settings)  # raises ConfigError for bad settings
        opts = dict(SETTINGS_DEFAULTS)
        opts.update(self.settings)
        for key in _BOOL_SETTINGS:
            opts[key] = as_bool(opts[key])
        for key in (*_POSITIVE_INT_SETTINGS, "response_status", "cookie_max_age"):
            opts[key] = _as_int(opts[key])
        self.options = opts

    @classmethod
    def check_settings(cls, settings: dict[str, Any]) -> list[tuple[str, str]]:
        problems = check_common_settings(settings, SETTINGS_DEFAULTS)
        mode = settings.get("cookie_management", "js")
        if mode not in ("js", "server"):
            problems.append(("cookie_management", f"must be \"js\" or \"server\", not {mode!r}"))
        name = settings.get("cookie_name", "FPID")
        if not isinstance(name, str) or not _COOKIE_NAME.match(name):
            problems.append(("cookie_name", f"{name!r} is not a valid cookie name"))
        domain = settings.get("cookie_domain", "auto")
        if not isinstance(domain, str) or not domain or any(c in domain for c in ";, "):
            problems.append(("cookie_domain", f"{domain!r} is not \"auto\" or a domain name"))
        path = settings.get("cookie_path", "/")
        if not isinstance(path, str) or not path.startswith("/") or ";" in path:
            problems.append(("cookie_path", f"{path!r} must be a path starting with \"/\""))
        max_age = _as_int(settings.get("cookie_max_age", DEFAULT_COOKIE_MAX_AGE))
        if max_age is None or max_age < 0:
            problems.append(("cookie_max_age", "must be a whole number of seconds (0 or more)"))
        status = _as_int(settings.get("response_status", 204))
        if status not in (200, 204):
            problems.append(("response_status", f"must be 204 or 200, not {settings.get('response_status')!r}"))
        for key in _BOOL_SETTINGS:
            if key in settings and as_bool(settings[key]) is None:
                problems.append((key, f"must be true or false, not {settings[key]!r}"))
        for key in _POSITIVE_INT_SETTINGS:
            if key in settings:
                value = _as_int(settings[key])
                if value is None or value < 1:
                    problems.append((key, f"must be a whole number of at least 1, not {settings[key]!r}"))
        return problems

    def claim(self, request: Request) -> Claim:
        if not request.path.endswith("/g/collect"):
            return Claim(False, f"path {request.path!r} does not end in /g/collect")
        if request.method == "OPTIONS":
            return Claim(True, "CORS preflight")
        if request.method not in ("GET", "POST"):
            return Claim(False, f"method {request.method} is not GET, POST or OPTIONS")
        version = _raw_value(request.query, "v")
        if version is None:
            return Claim(False, "the query has no v parameter (GA4 hits carry v=2)")
        if version != "2":
            return Claim(False, f"the query has v={version}; the GA4 client claims only v=2")
        return Claim(True)

    def events(self, request: Request, run: ClientRun) -> list[dict[str, Any]]:
        if request.method == "OPTIONS":
            return []
        opts = self.options
        server_mode = opts["cookie_management"] == "server"
        headers: list[tuple[str, str]] = list(request.headers)
        events = parse(
            request.method, request.path, request.query, request.body, headers,
            client_address(request, opts["trusted_proxies"]),
            cookie_mode=opts["cookie_management"],
            cookie_name=opts["cookie_name"],
            migrate_from_js_client_id=opts["migrate_from_js_client_id"],
            strict_decoding=opts["strict_decoding"],
            max_events=opts["max_events"],
            max_body_bytes=opts["max_body_bytes"],
            derive_page_fields=opts["derive_page_fields"],
            numbered_item_categories=opts["numbered_item_categories"],
            warnings=run.warnings,
        )
        start_ms = int(run.now * 1000)
        for event in events:
            event.setdefault("x-sst-system_properties", {})["request_start_time_ms"] = start_ms
        if server_mode:
            self._server_client_id(run, events)
        return events

    def _server_client_id(self, run: ClientRun, events: list[dict[str, Any]]) -> None:
        """Server mode: every event gets the FPID client ID; a missing one is created here."""
        existing = next((e["client_id"] for e in events if "client_id" in e), None)
        if existing is None:
            raw = bytes(run.rng.getrandbits(8) for _ in range(FPID_RANDOM_BYTES))
            existing = base64.b64encode(raw).decode("ascii") + "." + str(int(run.now))
        for event in events:
            event.setdefault("client_id", existing)
        run.state["fpid"] = FPID_PREFIX + existing

    def respond(self, request: Request, run: ClientRun, response: Response, events: list[EventReport]) -> None:
        origin = request.header("Origin")
        if origin:
            response.headers["access-control-allow-origin"] = origin
            response.headers["access-control-allow-credentials"] = "true"
        if request.method == "OPTIONS":
            response.status = 204
            response.headers["access-control-allow-methods"] = "GET, POST, OPTIONS"
            asked = request.header("Access-Control-Request-Headers")
            response.headers["access-control-allow-headers"] = asked or "Content-Type"
            response.body = b""
            return
        pixels = [*(run.state.get("send_pixel") or []), *response.send_pixel]  # the latter: template tags
        if pixels and "richsstsse" in _decode_params(request.query, False, "query string"):
            response.status = 200
            response.headers["content-type"] = "text/event-stream"
            response.body = ("event: message\ndata: " + json.dumps({"send_pixel": list(pixels)}) + "\n\n").encode()
        else:
            response.status = self.options["response_status"]
            response.body = b""
        fpid = run.state.get("fpid")
        if fpid:
            domain = self.options["cookie_domain"]
            response.set_cookie(SetCookie(
                name=self.options["cookie_name"],
                value=fpid,
                max_age=self.options["cookie_max_age"],
                domain=auto_cookie_domain(request.host) if domain == "auto" else domain,
                path=self.options["cookie_path"],
                secure=request.is_https,
                http_only=True,
            ))
