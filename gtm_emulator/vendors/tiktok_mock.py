"""A mock of TikTok's Events API v1.3, answering as TikTok does (tiktok.md §3, §9).

:class:`TikTokMock` is pure (no Flask, no sockets): ``handle(method, path, headers, body)`` returns
the HTTP response TikTok would give. Business errors come back with HTTP 200 and a non-zero
``code``, as they do from TikTok. ``blueprint(mock)`` serves it over HTTP.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..transport import HttpResponse

HOST = "business-api.tiktok.com"
TRACK_PATH = "/open_api/v1.3/event/track/"


@dataclass
class AcceptedEvent:
    pixel_code: str
    event: dict[str, Any]
    test_event_code: str | None
    received_at: float
    request_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "pixel_code": self.pixel_code,
            "event": self.event,
            "test_event_code": self.test_event_code,
            "test": self.test_event_code is not None,
            "received_at": self.received_at,
            "request_id": self.request_id,
        }


@dataclass
class TikTokMock:
    """The mock API's state: which tokens may use which pixels, and what it accepted."""

    pixels: dict[str, set[str]] = field(default_factory=dict)
    events: list[AcceptedEvent] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    max_kept: int = 10_000
    clock: Any = time.time
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> TikTokMock:
        """``{"pixels": {"<PIXEL>": ["<token>", …]}}`` (the container's ``mock_vendors.tiktok``)."""
        pixels = {code: set(tokens) for code, tokens in ((config or {}).get("pixels") or {}).items()}
        return cls(pixels=pixels)

    # ------------------------------------------------------------------ Events Manager side

    def generate_access_token(self, pixel_code: str) -> str:
        """Step 2 of the setup: a new long-lived token that may send events for ``pixel_code``."""
        token = secrets.token_hex(20)
        with self._lock:
            self.pixels.setdefault(pixel_code, set()).add(token)
        return token

    def reset(self) -> None:
        with self._lock:
            self.events.clear()
            self.requests.clear()

    # ------------------------------------------------------------------ API side

    def _request_id(self) -> str:
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(self.clock()))
        return stamp + secrets.token_hex(11).upper()

    def _envelope(self, code: int, message: str, data: Any = None) -> HttpResponse:
        body = {"code": code, "message": message, "request_id": self._request_id(), "data": data or {}}
        return HttpResponse(200, {"content-type": "application/json"}, json.dumps(body).encode("utf-8"))

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> HttpResponse:
        route = path.split("?", 1)[0]
        if route != TRACK_PATH:
            return HttpResponse(404, {"content-type": "application/json"},
                                json.dumps({"code": 40400, "message": f"no such endpoint {route}"}).encode())
        if method.upper() != "POST":
            return HttpResponse(405, {"content-type": "application/json"},
                                json.dumps({"code": 40500, "message": "method not allowed"}).encode())
        token = next((v for k, v in headers.items() if k.lower() == "access-token"), "")
        if not token:
            return self._envelope(40104, "Access token is empty.")
        try:
            payload = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return self._envelope(40002, "Invalid JSON in the request body.")
        if not isinstance(payload, dict):
            return self._envelope(40002, "The request body must be a JSON object.")
        known = any(token in tokens for tokens in self.pixels.values())
        if not known:
            return self._envelope(40105, "Access token is invalid.")
        pixel = payload.get("event_source_id")
        if not isinstance(pixel, str):
            return self._envelope(40002, "Invalid value for event_source_id: not a valid string.")
        if token not in self.pixels.get(pixel, set()):
            return self._envelope(
                40001,
                f"No permission to operate pixel code: {pixel}. You must be an admin or operator of "
                f"this advertiser account.",
            )
        data = payload.get("data")
        if not isinstance(data, list) or not data:
            return self._envelope(40002, "Invalid value for data: must be a non-empty list.")
        request_id = self._request_id()
        test_code = payload.get("test_event_code")
        now = self.clock()
        with self._lock:
            self.requests.append({"headers": {k: v for k, v in headers.items() if k.lower() != "access-token"},
                                  "body": payload, "received_at": now})
            for event in data:
                self.events.append(AcceptedEvent(pixel, event, test_code, now, request_id))
            del self.events[: -self.max_kept]
            del self.requests[: -self.max_kept]
        body_out = {"code": 0, "message": "OK", "request_id": request_id, "data": {}}
        return HttpResponse(200, {"content-type": "application/json"}, json.dumps(body_out).encode("utf-8"))


def blueprint(mock: TikTokMock, name: str = "tiktok_mock") -> Any:
    """A Flask blueprint serving ``POST /open_api/v1.3/event/track/`` (and an inspection list)."""
    from flask import Blueprint, Response, jsonify, request

    bp = Blueprint(name, __name__)

    @bp.post(TRACK_PATH)
    def track() -> Response:
        resp = mock.handle("POST", TRACK_PATH, dict(request.headers), request.get_data())
        return Response(resp.body, status=resp.status, headers=resp.headers)

    @bp.get("/_events")
    def events() -> Response:
        return jsonify([e.to_dict() for e in mock.events])

    return bp
