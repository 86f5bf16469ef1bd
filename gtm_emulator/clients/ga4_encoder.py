"""Event data back into GA4 hits: the inverse of :func:`gtm_emulator.clients.ga4.parse`.

:func:`encode` gives the query string of a ``/g/collect`` GET for one event;
:func:`encode_batch` gives the query string and body of a batched POST (parameters equal in every
event go to the query, the rest to one body line per event, ``en`` always in the line);
:func:`request_fields` gives what a hit carries outside the query (``User-Agent``, the remote
address, the FPID cookie in server mode). Parsing the result gives the event data back.

Values are written the way gtag writes them: components URI-encoded like ``encodeURIComponent``,
numbers in JS ``String()`` form, item segments with ``~`` doubled, item categories 2-5 as
``c2``..``c5``, ``uafvl`` encoded twice (each brand and version URI-encoded, joined with ``;`` and
``|``, the whole value URI-encoded again: ``Google%2520Chrome%3B120.0.1%7C...``),
``x-sst-system_properties.<name>`` as ``sst.<name>``. ``client_hints.brands`` (and, without ``ua*``
fields, ``mobile`` and ``platform``) travel as ``Sec-CH-UA*`` headers (:func:`request_fields`).
What cannot be written as a hit (a nested object under a custom key, a boolean event parameter, an
``x-ga-*`` key with no parameter) raises :class:`EncodeError`.

Custom item indices are prefix-free (``0``..``9``, or all two-digit when an item has more than ten
custom parameters). With ``numbered_item_categories`` on, an ``item_category`` that starts with a
digit 2-5 (which that reading would take for ``ca2``..``ca5``) is written as a custom item parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ..core import js
from ..errors import EncodeError
from .ga4 import (
    CLIENT_HINT_FIELDS,
    FPID_PREFIX,
    GCD_EVENT_KEY,
    ITEM_KEYS,
    KIND_HINT,
    KIND_HINT_BOOL,
    KIND_NUM,
    KIND_STR,
    KIND_SYS,
    NUMBERED_ITEM_CATEGORIES,
    PARAMS,
    PROTECTED_PREFIXES,
    consent_from_gcd,
)

_SAFE = "-_.!~*'()"  # what encodeURIComponent leaves alone


# event-data key -> parameter (the first parameter in the table for aliases such as gcu/gcut)
_TOP: dict[str, tuple[str, int]] = {}
for _param, (_kind, _target) in PARAMS.items():
    if _kind in (KIND_STR, KIND_NUM) and _target not in _TOP:
        _TOP[_target] = (_param, _kind)
_SYSTEM = {target: param for param, (kind, target) in PARAMS.items() if kind == KIND_SYS}
_SYSTEM["dbg"] = "_dbg"
_HINTS = {target: (param, kind) for param, (kind, target) in PARAMS.items() if kind in (KIND_HINT, KIND_HINT_BOOL)}
_ITEM_FIELDS = {name: (key, numeric) for key, (name, numeric) in ITEM_KEYS.items()}
_REQUEST_FIELDS = ("ip_override", "user_agent")
_EVENT_LEVEL = ("en", "_et")
_HANDLED = {"client_id", "x-ga-js_client_id", "debug_mode", "x-ga-system_properties", "x-sst-system_properties",
            "client_hints", "x-ga-mp2-user_properties", "items", GCD_EVENT_KEY, *_REQUEST_FIELDS}
# Fields only ua* parameters carry: hints without any of them came from the Sec-CH-UA* headers.
_UA_ONLY_FIELDS = frozenset(name for name, _default in CLIENT_HINT_FIELDS) - {"mobile", "platform"}


def _enc(text: str) -> str:
    return quote(text, safe=_SAFE)


def _number_text(value: Any, where: str) -> str:
    if isinstance(value, bool):
        raise EncodeError(f"{where}: a boolean cannot be written where a number is expected")
    if isinstance(value, (int, float)):
        return js.number_to_string(value)
    if isinstance(value, str):
        return value  # a bad number the parser kept as text
    raise EncodeError(f"{where}: {type(value).__name__} cannot be written as a number")


def _text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return js.number_to_string(value)
    raise EncodeError(f"{where}: {type(value).__name__} {value!r} cannot be written as a parameter value")


def _flag(value: Any, where: str) -> str:
    if value is True:
        return "1"
    if value is False:
        return "0"
    return _text(value, where)


def _escape_item(text: str) -> str:
    return text.replace("~", "~~")


def encode_item(item: Mapping[str, Any], *, numbered_item_categories: bool = NUMBERED_ITEM_CATEGORIES) -> str:
    """One ``prN`` value (decoded form): ``idSKU~nmShirt~pr9.99~k0color~v0red``."""
    segments: list[str] = []
    custom: list[tuple[str, str]] = []
    for name, value in item.items():
        spec = _ITEM_FIELDS.get(name)
        if spec is None:
            custom.append((name, _text(value, f"items[].{name}")))
            continue
        key, numeric = spec
        text = _number_text(value, f"items[].{name}") if numeric else _text(value, f"items[].{name}")
        if key == "ca" and numbered_item_categories and text[:1] in ("2", "3", "4", "5"):
            custom.append((name, text))  # "ca2…" would read as item_category2
            continue
        segments.append(key + _escape_item(text))
    if custom:
        width = 1 if len(custom) <= 10 else len(str(len(custom) + 9))
        start = 0 if width == 1 else 10 ** (width - 1)
        for offset, (name, value) in enumerate(custom):
            if not name or name[0].isdigit():
                raise EncodeError(f"items[].{name}: a custom item parameter name must not be empty or start "
                                  "with a digit")
            index = str(start + offset)
            segments.append(f"k{index}{_escape_item(name)}")
            segments.append(f"v{index}{_escape_item(value)}")
    return "~".join(segments)


def _version_list(entries: Any) -> str:
    """``uafvl`` as gtag puts it on the wire: parts encoded, joined, then the whole encoded again."""
    if not isinstance(entries, list):
        raise EncodeError("client_hints.full_version_list must be a list of {brand, version}")
    joined = "|".join(_enc(_text(e.get("brand", ""), "brand")) + ";" + _enc(_text(e.get("version", ""), "version"))
                      for e in entries)
    return _enc(joined)


def encode_params(event_data: Mapping[str, Any], *,
                  numbered_item_categories: bool = NUMBERED_ITEM_CATEGORIES) -> list[tuple[str, str]]:
    """The hit parameters of one event as ``(name, encoded value)`` pairs, in gtag's usual order.

    Names are plain; values are already URI-encoded.
    """
    data = event_data
    front: list[tuple[str, str]] = []
    back: list[tuple[str, str]] = []
    for target, (param, kind) in _TOP.items():
        if target in data:
            value = data[target]
            text = _number_text(value, target) if kind == KIND_NUM else _text(value, target)
            front.append((param, _enc(text)))
    if "x-ga-js_client_id" in data:
        front.append(("cid", _enc(_text(data["x-ga-js_client_id"], "x-ga-js_client_id"))))
    elif "client_id" in data:
        front.append(("cid", _enc(_text(data["client_id"], "client_id"))))
    gcd = data.get(GCD_EVENT_KEY)
    if gcd is not None:
        front.append(("gcd", _enc(_text(gcd, GCD_EVENT_KEY))))
    system = data.get("x-ga-system_properties")
    if system is not None:
        if not isinstance(system, Mapping):
            raise EncodeError("x-ga-system_properties must be an object")
        for name, value in system.items():
            system_param = _SYSTEM.get(name)
            if system_param is None:
                raise EncodeError(f"x-ga-system_properties.{name} has no GA4 parameter")
            front.append((system_param, _enc(_text(value, f"x-ga-system_properties.{name}"))))
    if "debug_mode" in data and not (isinstance(system, Mapping) and "dbg" in system):
        front.append(("_dbg", "1"))
    sst = data.get("x-sst-system_properties")
    if sst is not None:
        for name, value in sst.items():
            if name == "request_start_time_ms":
                continue  # the client's clock, not a parameter
            if name == "gcd" and value == gcd:
                continue  # derived from gcd
            if name == "consent" and gcd is not None and value == consent_from_gcd(gcd):
                continue
            front.append(("sst." + name, _enc(_text(value, f"x-sst-system_properties.{name}"))))
    hints = data.get("client_hints")
    if hints is not None and _UA_ONLY_FIELDS & set(hints):
        for name, value in hints.items():
            if name == "brands":
                continue  # the Sec-CH-UA header (request_fields)
            if name == "full_version_list":
                front.append(("uafvl", _version_list(value)))
                continue
            spec = _HINTS.get(name)
            if spec is None:
                raise EncodeError(f"client_hints.{name} has no GA4 parameter")
            param, kind = spec
            text = _flag(value, f"client_hints.{name}") if kind == KIND_HINT_BOOL else _text(value, name)
            front.append((param, _enc(text)))
    props = data.get("x-ga-mp2-user_properties")
    if props is not None:
        for name, value in props.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                back.append(("upn." + name, _enc(js.number_to_string(value))))
            else:
                back.append(("up." + name, _enc(_text(value, f"x-ga-mp2-user_properties.{name}"))))
    items = data.get("items")
    if items is not None:
        if not isinstance(items, list) or len(items) > 200:
            raise EncodeError("items must be a list of at most 200 objects")
        for index, item in enumerate(items, 1):
            back.append((f"pr{index}", _enc(encode_item(item, numbered_item_categories=numbered_item_categories))))
    for key, value in data.items():
        if key in _TOP or key in _HANDLED:
            continue
        if key.startswith("x-ga-mp2-"):
            param = key[len("x-ga-mp2-"):]
            if _is_special_param(param):
                raise EncodeError(f"{key}: the parameter {param!r} would be read as something else")
            back.append((param, _enc(_text(value, key))))
        elif key.startswith(PROTECTED_PREFIXES):
            raise EncodeError(f"{key} has no GA4 parameter")
        elif isinstance(value, str):
            back.append(("ep." + key, _enc(value)))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            back.append(("epn." + key, _enc(js.number_to_string(value))))
        else:
            raise EncodeError(f"{key}: {type(value).__name__} values cannot be sent as event parameters")
    return front + back


def _is_special_param(param: str) -> bool:
    return (param in PARAMS or param == "" or param.startswith(("ep.", "epn.", "up.", "upn."))
            or (param.startswith("pr") and param[2:].isdigit()))


def _join(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{_enc(name)}={value}" for name, value in pairs)


def encode(event_data: Mapping[str, Any], *, numbered_item_categories: bool = NUMBERED_ITEM_CATEGORIES) -> str:
    """The query string of a ``/g/collect`` GET carrying this event (no leading ``?``)."""
    return _join(encode_params(event_data, numbered_item_categories=numbered_item_categories))


def encode_batch(events: Sequence[Mapping[str, Any]], *,
                 numbered_item_categories: bool = NUMBERED_ITEM_CATEGORIES) -> tuple[str, str]:
    """``(query, body)`` of a batched POST: request-level parameters equal in every event go to the
    query; everything else, and always ``en``, goes to that event's body line."""
    if not events:
        raise EncodeError("a batch needs at least one event")
    encoded = [encode_params(e, numbered_item_categories=numbered_item_categories) for e in events]
    first = encoded[0]
    common = set(first)
    for pairs in encoded[1:]:
        common &= set(pairs)
    shared = [(k, v) for k, v in first if (k, v) in common and not _is_event_level(k)]
    shared_set = set(shared)
    lines = [_join([pair for pair in pairs if pair not in shared_set]) for pairs in encoded]
    return _join(shared), "\n".join(lines)


def _is_event_level(param: str) -> bool:
    return (param in _EVENT_LEVEL or param.startswith(("ep.", "epn.", "up.", "upn."))
            or (param.startswith("pr") and param[2:].isdigit()))


def request_fields(event_data: Mapping[str, Any], *, cookie_name: str = "FPID") -> dict[str, Any]:
    """What the hit carries outside its query: ``{"headers": {...}, "remote_addr": ...}``.

    ``user_agent`` becomes the ``User-Agent`` header, ``ip_override`` the remote address, in
    server mode (``x-ga-js_client_id`` present) ``client_id`` the FPID cookie, and
    ``client_hints.brands`` the ``Sec-CH-UA`` header (with no ``ua*`` field, ``mobile`` and
    ``platform`` also travel as ``Sec-CH-UA-Mobile`` and ``Sec-CH-UA-Platform``).
    """
    headers: dict[str, str] = {}
    if "user_agent" in event_data:
        headers["User-Agent"] = _text(event_data["user_agent"], "user_agent")
    hints = event_data.get("client_hints")
    if isinstance(hints, Mapping):
        headers.update(_hint_headers(hints))
    if "x-ga-js_client_id" in event_data and "client_id" in event_data:
        value = FPID_PREFIX + _text(event_data["client_id"], "client_id")
        headers["Cookie"] = f"{cookie_name}={quote(value, safe='')}"
    out: dict[str, Any] = {"headers": headers}
    if "ip_override" in event_data:
        out["remote_addr"] = _text(event_data["ip_override"], "ip_override")
    return out


def _sf_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _hint_headers(hints: Mapping[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    brands = hints.get("brands")
    if brands is not None:
        if not isinstance(brands, list):
            raise EncodeError("client_hints.brands must be a list of {brand, version}")
        headers["Sec-CH-UA"] = ", ".join(f"{_sf_string(_text(b.get('brand', ''), 'brand'))};v="
                                         f"{_sf_string(_text(b.get('version', ''), 'version'))}" for b in brands)
    if not _UA_ONLY_FIELDS & set(hints):
        if "mobile" in hints:
            mobile = hints["mobile"]
            flag = {True: "?1", False: "?0"}.get(mobile) if isinstance(mobile, bool) else None
            headers["Sec-CH-UA-Mobile"] = flag or _text(mobile, "mobile")
        if "platform" in hints:
            headers["Sec-CH-UA-Platform"] = _text(hints["platform"], "platform")
    return headers
