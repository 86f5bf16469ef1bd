"""The Measurement Protocol client (``/mp/collect``): GA4 MP JSON into common event data.

``parse`` is pure and raises :class:`MPValidationError` carrying GA4-style validation messages
(``fieldPath``, ``description``, ``validationCode``). ``/debug/mp/collect`` answers with those
messages and runs no tags, like Google's validation server (sgtm.md §3).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import RequestError
from ..report import EventReport
from ..request import Request, Response, client_address, first_values, parse_query
from .base import Claim, Client, ClientRun

MAX_BODY_BYTES = 130_000


class MPValidationError(RequestError):
    """The payload breaks Measurement Protocol rules; ``messages`` are GA4 validation messages."""

    def __init__(self, messages: list[dict[str, str]]):
        self.messages = messages
        first = messages[0] if messages else {"fieldPath": "", "description": "invalid payload"}
        super().__init__(400, f"{first.get('fieldPath') or 'body'}: {first['description']}")


def _message(path: str, description: str, code: str) -> dict[str, str]:
    return {"fieldPath": path, "description": description, "validationCode": code}


def parse(
    method: str,
    path: str,
    query: str,
    body: bytes | str,
    headers: Mapping[str, str] | None = None,
    remote_addr: str = "127.0.0.1",
) -> list[dict[str, Any]]:
    """The event data of every event in an MP request; raises MPValidationError when invalid."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    if len(raw) >= MAX_BODY_BYTES:
        raise MPValidationError([_message("", f"Payload is {len(raw)} bytes; it must be smaller than "
                                          f"{MAX_BODY_BYTES} bytes.", "VALUE_OUT_OF_BOUNDS")])
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MPValidationError([_message("", f"Body is not valid JSON: {exc}", "VALUE_INVALID")]) from None
    if not isinstance(payload, dict):
        raise MPValidationError([_message("", "Body must be a JSON object.", "VALUE_INVALID")])
    params = first_values(parse_query(query))
    messages: list[dict[str, str]] = []
    client_id = payload.get("client_id") or payload.get("app_instance_id")
    if not client_id:
        field = "app_instance_id" if "firebase_app_id" in params else "client_id"
        messages.append(_message(field, f"Measurement requires a {field}.", "VALUE_REQUIRED"))
    events = payload.get("events")
    if not isinstance(events, list) or not events:
        messages.append(_message("events", "Measurement requires at least one event.", "VALUE_REQUIRED"))
        raise MPValidationError(messages)
    if messages:
        raise MPValidationError(messages)
    ua = None
    for k, v in (headers or {}).items():
        if k.lower() == "user-agent":
            ua = v
    out = []
    for index, event in enumerate(events):
        if not isinstance(event, dict) or not isinstance(event.get("name"), str):
            raise MPValidationError([_message(f"events[{index}].name", "Event requires a name.",
                                              "VALUE_REQUIRED")])
        data: dict[str, Any] = {
            "x-ga-protocol_version": "2",
            "x-ga-measurement_id": params.get("measurement_id") or params.get("firebase_app_id", ""),
            "event_name": event["name"],
            "client_id": str(client_id),
        }
        if "user_id" in payload:
            data["user_id"] = payload["user_id"]
        for key, value in (event.get("params") or {}).items():
            data[key] = value
        if "session_id" in data:
            data["ga_session_id"] = str(data.pop("session_id"))
        props = payload.get("user_properties")
        if isinstance(props, dict) and props:
            data["x-ga-mp2-user_properties"] = {
                k: v.get("value") if isinstance(v, dict) else v for k, v in props.items()
            }
        if isinstance(payload.get("user_data"), dict):
            data["user_data"] = payload["user_data"]
        data["ip_override"] = payload.get("ip_override") or remote_addr
        if ua is not None:
            data["user_agent"] = ua
        for field in ("timestamp_micros", "consent", "non_personalized_ads", "user_location", "device"):
            if field in payload:
                data[f"x-ga-mp2-{field}"] = payload[field]
        out.append(data)
    return out


class MeasurementProtocolClient(Client):
    type = "measurement_protocol"
    default_name = "Measurement Protocol"

    def claim(self, request: Request) -> Claim:
        if request.path not in ("/mp/collect", "/debug/mp/collect"):
            return Claim(False, f"path {request.path!r} is not /mp/collect")
        if request.method != "POST":
            return Claim(False, f"method {request.method} is not POST")
        return Claim(True)

    def events(self, request: Request, run: ClientRun) -> list[dict[str, Any]]:
        remote = client_address(request, self.settings.get("trusted_proxies", ()))
        debug = request.path.startswith("/debug/")
        try:
            events = parse(request.method, request.path, request.query, request.body,
                           dict(request.headers), remote)
        except MPValidationError as exc:
            if debug:
                run.state["validation"] = exc.messages
                return []
            raise
        if debug:
            run.state["validation"] = []
            return []
        return events

    def respond(self, request: Request, run: ClientRun, response: Response, events: list[EventReport]) -> None:
        if "validation" in run.state:
            response.status = 200
            response.headers["content-type"] = "application/json"
            response.body = json.dumps({"validationMessages": run.state["validation"]}).encode()
        else:
            response.status = 204
