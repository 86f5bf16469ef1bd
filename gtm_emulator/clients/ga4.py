"""The GA4 web client (export type ``gaaw_client``): ``/g/collect`` hits into common event data.

``parse`` is pure (no clock, no randomness, no cookies written). :class:`GA4Client` wraps it for the
container: claim rules, the server-managed FPID cookie, and the response (sgtm.md §2).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

from .. import js
from ..errors import RequestError
from ..report import EventReport
from ..request import Request, Response, SetCookie, client_address, decode_component, parse_query
from .base import Claim, Client, ClientRun

MAX_BODY_LINES = 1000

# Simple parameter -> (event-data key, type) mappings; "num" converts with JS Number().
STANDARD: dict[str, tuple[str, str]] = {
    "v": ("x-ga-protocol_version", "str"),
    "tid": ("x-ga-measurement_id", "str"),
    "gtm": ("x-ga-gtm_version", "str"),
    "_p": ("x-ga-page_id", "num"),
    "_s": ("x-ga-request_count", "num"),
    "uid": ("user_id", "str"),
    "sid": ("ga_session_id", "str"),
    "sct": ("ga_session_number", "num"),
    "ul": ("language", "str"),
    "sr": ("screen_resolution", "str"),
    "dl": ("page_location", "str"),
    "dr": ("page_referrer", "str"),
    "dt": ("page_title", "str"),
    "de": ("page_encoding", "str"),
    "dh": ("page_hostname", "str"),
    "cu": ("currency", "str"),
    "en": ("event_name", "str"),
    "_et": ("engagement_time_msec", "num"),
    "tfd": ("x-ga-tfd", "num"),
    "ur": ("x-ga-ur", "str"),
    "gcs": ("x-ga-gcs", "str"),
    "gcd": ("x-ga-gcd", "str"),
    "gcu": ("x-ga-gcu", "str"),
    "gcut": ("x-ga-gcu", "str"),
    "dma_cps": ("x-ga-dma_cps", "str"),
    "npa": ("x-ga-npa", "str"),
    "pscdl": ("x-ga-pscdl", "str"),
    "ecid": ("x-ga-ecid", "str"),
    "em": ("x-ga-em", "str"),
    "_edid": ("x-ga-edid", "str"),
    "edid": ("x-ga-edid", "str"),
    "gdid": ("x-ga-gdid", "str"),
    "did": ("x-ga-did", "str"),
}
SYSTEM_PROPERTIES = {"_fv": "fv", "_ss": "ss", "_nsi": "nsi", "_c": "c", "_ee": "ee", "_eu": "eu",
                     "_fid": "fid", "_tu": "tu", "_z": "z", "_dbg": "dbg"}
CLIENT_HINTS = {"uaa": "architecture", "uab": "bitness", "uam": "model", "uap": "platform",
                "uapv": "platform_version"}
CLIENT_HINT_FLAGS = {"uamb": "mobile", "uaw": "wow64"}

ITEM_KEYS: dict[str, tuple[str, str]] = {
    "id": ("item_id", "str"), "nm": ("item_name", "str"), "br": ("item_brand", "str"),
    "ca": ("item_category", "str"), "c2": ("item_category2", "str"), "c3": ("item_category3", "str"),
    "c4": ("item_category4", "str"), "c5": ("item_category5", "str"), "va": ("item_variant", "str"),
    "pr": ("price", "num"), "qt": ("quantity", "num"), "cp": ("coupon", "str"), "ds": ("discount", "num"),
    "lp": ("index", "num"), "li": ("item_list_id", "str"), "ln": ("item_list_name", "str"),
    "af": ("affiliation", "str"), "lo": ("location_id", "str"), "cn": ("creative_name", "str"),
    "cs": ("creative_slot", "str"), "pi": ("promotion_id", "str"), "pn": ("promotion_name", "str"),
}


def _number(text: str) -> Any:
    value = js.string_to_number(text)
    if text.strip() == "" or js.is_nan(value):
        return text  # kept as the original string (sgtm.md §2.7)
    return value


def parse_item(text: str) -> dict[str, Any]:
    """One ``prN`` value: ``idSKU~nmShirt~pr9.99`` (``~~`` is a literal ``~``)."""
    segments: list[str] = []
    pending_tilde = False
    for seg in text.split("~"):
        if seg == "" and segments:
            pending_tilde = True
            continue
        if pending_tilde:
            segments[-1] += "~" + seg
            pending_tilde = False
        else:
            segments.append(seg)
    item: dict[str, Any] = {}
    custom_keys: dict[str, str] = {}
    custom_values: dict[str, str] = {}
    for seg in segments:
        if not seg:
            continue
        if len(seg) >= 2 and seg[0] in "kv" and seg[1:].split(maxsplit=1)[0][:1].isdigit():
            digits = ""
            for ch in seg[1:]:
                if ch.isdigit():
                    digits += ch
                else:
                    break
            (custom_keys if seg[0] == "k" else custom_values)[digits] = seg[1 + len(digits):]
            continue
        key, value = seg[:2], seg[2:]
        mapped = ITEM_KEYS.get(key)
        if mapped is None:
            item[key] = value
        else:
            name, kind = mapped
            item[name] = _number(value) if kind == "num" else value
    for index, key in custom_keys.items():
        if index in custom_values:
            item[key] = custom_values[index]
    return item


def _event_from_params(params: Iterable[tuple[str, str]], headers: Mapping[str, str] | None,
                       remote_addr: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    system: dict[str, Any] = {}
    hints: dict[str, Any] = {}
    user_props: dict[str, Any] = {}
    items: dict[int, dict[str, Any]] = {}
    seen: set[str] = set()
    event_params: list[tuple[str, Any]] = []
    for key, value in params:
        if key in seen:
            continue  # first value wins
        seen.add(key)
        if key in STANDARD:
            name, kind = STANDARD[key]
            data[name] = _number(value) if kind == "num" else value
        elif key == "cid":
            data["client_id"] = value
        elif key in SYSTEM_PROPERTIES:
            system[SYSTEM_PROPERTIES[key]] = value
            if key == "_dbg":
                data["debug_mode"] = "true"
        elif key.startswith("ep."):
            event_params.append((key[3:], value))
        elif key.startswith("epn."):
            event_params.append((key[4:], _number(value)))
        elif key.startswith("up."):
            user_props[key[3:]] = value
        elif key.startswith("upn."):
            user_props[key[4:]] = _number(value)
        elif key.startswith("pr") and key[2:].isdigit():
            index = int(key[2:])
            if 1 <= index <= 200:
                items[index] = parse_item(value)
        elif key in CLIENT_HINTS:
            hints[CLIENT_HINTS[key]] = value
        elif key in CLIENT_HINT_FLAGS:
            hints[CLIENT_HINT_FLAGS[key]] = value == "1"
        elif key == "uafvl":
            hints["full_version_list"] = _version_list(value)
        elif key == "dma":
            data["x-ga-dma"] = value == "1"
        elif key in ("_uip", "uip"):
            data["ip_override"] = value
        elif key == "_uc":
            data.setdefault("x-sst-system_properties", {})["uc"] = value
        else:
            data[f"x-ga-mp2-{key}"] = value
    for name, value in event_params:
        if not (name.startswith("x-ga-") or name.startswith("x-sst-")):
            data[name] = value
    if user_props:
        data["x-ga-mp2-user_properties"] = user_props
    if system:
        data["x-ga-system_properties"] = system
    if hints:
        data["client_hints"] = hints
    if items:
        data["items"] = [items[i] for i in sorted(items)]
    if "ip_override" not in data:
        data["ip_override"] = remote_addr
    ua = _header(headers, "user-agent")
    if ua is not None:
        data["user_agent"] = ua
    return data


def _version_list(text: str) -> list[dict[str, str]]:
    out = []
    for entry in text.split("|"):
        brand, _, version = entry.rpartition(";")
        out.append({"brand": decode_component(brand, plus_is_space=False, what="uafvl"),
                    "version": decode_component(version, plus_is_space=False, what="uafvl")})
    return out


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return None


def parse(
    method: str,
    path: str,
    query: str,
    body: bytes | str = b"",
    headers: Mapping[str, str] | None = None,
    remote_addr: str = "127.0.0.1",
) -> list[dict[str, Any]]:
    """The event data of every event in a ``/g/collect`` hit (one per body line of a POST)."""
    base = parse_query(query)
    text = body.decode("utf-8", "surrogateescape") if isinstance(body, bytes) else body
    if method.upper() == "POST" and text.strip():
        lines = [line for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
        if len(lines) > MAX_BODY_LINES:
            raise RequestError(413, f"batched body has {len(lines)} events; the limit is {MAX_BODY_LINES}")
        events = []
        for number, line in enumerate(lines, 1):
            overlay = parse_query(line.strip(), what=f"body line {number}")
            names = {k for k, _ in overlay}
            merged = overlay + [(k, v) for k, v in base if k not in names]
            events.append(_event_from_params(merged, headers, remote_addr))
        return events
    return [_event_from_params(base, headers, remote_addr)]


class GA4Client(Client):
    """Claims ``/g/collect`` (also under a prefix) when the query has ``v=2``."""

    type = "ga4"
    default_name = "GA4"

    def claim(self, request: Request) -> Claim:
        if not request.path.endswith("/g/collect"):
            return Claim(False, f"path {request.path!r} is not /g/collect")
        if request.method not in ("GET", "POST"):
            return Claim(False, f"method {request.method} is not GET or POST")
        if "v=2" not in request.query.split("&"):
            return Claim(False, "the query has no v=2 (GA4 protocol version)")
        return Claim(True)

    def events(self, request: Request, run: ClientRun) -> list[dict[str, Any]]:
        headers = dict(request.headers)
        remote = client_address(request, self.settings.get("trusted_proxies", ()))
        events = parse(request.method, request.path, request.query, request.body, headers, remote)
        for event in events:
            if "event_name" not in event:
                raise RequestError(400, "the hit has no event name (en)")
            event.setdefault("x-sst-system_properties", {})["request_start_time_ms"] = int(run.now * 1000)
        if self.settings.get("cookie_management", "js") == "server":
            self._server_client_id(request, run, events)
        return events

    def _server_client_id(self, request: Request, run: ClientRun, events: list[dict[str, Any]]) -> None:
        cookie_name = self.settings.get("cookie_name", "FPID")
        existing = request.cookie_values(cookie_name)
        cid = events[0].get("client_id") if events else None
        if existing:
            value = existing[0]
            client_id = value[len("FPID2.2."):] if value.startswith("FPID2.2.") else value
        elif self.settings.get("migrate_from_js_client_id") and cid:
            client_id = str(cid)
        else:
            raw = bytes(run.rng.getrandbits(8) for _ in range(16))
            client_id = base64.b64encode(raw).decode("ascii") + "." + str(int(run.now))
        for event in events:
            if "client_id" in event:
                event["x-ga-js_client_id"] = event["client_id"]
            event["client_id"] = client_id
        run.state["fpid"] = "FPID2.2." + client_id

    def respond(self, request: Request, run: ClientRun, response: Response, events: list[EventReport]) -> None:
        response.status = int(self.settings.get("response_status", 204))
        origin = request.header("Origin")
        if origin:
            response.headers["access-control-allow-origin"] = origin
            response.headers["access-control-allow-credentials"] = "true"
        fpid = run.state.get("fpid")
        if fpid:
            domain = self.settings.get("cookie_domain", "auto")
            from ..request import auto_cookie_domain

            response.set_cookie(SetCookie(
                name=self.settings.get("cookie_name", "FPID"),
                value=fpid,
                max_age=int(self.settings.get("cookie_max_age", 63072000)),
                domain=auto_cookie_domain(request.host) if domain == "auto" else domain,
                path=self.settings.get("cookie_path", "/"),
                secure=request.is_https,
                http_only=True,
            ))
