"""A mock Google Analytics 4 collection endpoint for the emulated GA4 tag (``sgtmgaaw``).

It accepts ``/g/collect`` requests as Google's collection servers do (``204 No Content``) and keeps
what it received: each hit parsed back into event data with the GA4 client's own parser, so a test
can check what the tag sent (``GA4Mock.hits``). A hit without a measurement ID (``tid``) or client
ID (``cid``) is answered ``400`` and recorded as rejected: Google drops such hits silently, but an
emulator that says so helps more. Under ``serve`` it is also reachable at ``/_mock/ga4/g/collect``,
with ``GET /_mock/ga4/_hits`` and ``POST /_mock/ga4/_reset``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..errors import RequestError
from .transport import HttpResponse

HOSTS = ("region1.google-analytics.com", "www.google-analytics.com")
COLLECT_PATH = "/g/collect"


class GA4Mock:
    def __init__(self, keep: int = 10_000):
        self.keep = keep
        self.hits: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.hits.clear()
            self.rejected.clear()

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> HttpResponse:
        from ..clients.ga4 import parse

        parts = urlsplit(path)
        if parts.path != COLLECT_PATH:
            return HttpResponse(404, {"content-type": "text/plain"}, f"no such endpoint: {parts.path}\n".encode())
        if method.upper() not in ("GET", "POST"):
            return HttpResponse(405, {"content-type": "text/plain"}, b"use GET or POST\n")
        remote = next((v for k, v in headers.items() if k.lower() == "x-forwarded-for"), "127.0.0.1")
        try:
            events = parse(method, parts.path, parts.query, body, headers, remote, require_ids=True)
        except RequestError as exc:
            entry = {"query": parts.query, "reason": exc.reason}
            with self._lock:
                self.rejected.append(entry)
            return HttpResponse(400, {"content-type": "text/plain"}, (exc.reason + "\n").encode())
        with self._lock:
            for event in events:
                if len(self.hits) < self.keep:
                    self.hits.append({"query": parts.query, "event_data": event})
        return HttpResponse(204, {}, b"")


def blueprint(mock: GA4Mock, name: str = "ga4_mock") -> Any:
    from flask import Blueprint, Response, jsonify, request

    from .tiktok_mock import answer_unavailable

    bp = Blueprint(name, __name__)
    answer_unavailable(bp)

    @bp.route(COLLECT_PATH, methods=["GET", "POST"])
    def collect() -> Response:
        query = request.query_string.decode("latin-1")
        resp = mock.handle(request.method, COLLECT_PATH + ("?" + query if query else ""), dict(request.headers),
                           request.get_data())
        return Response(resp.body, status=resp.status, headers=resp.headers)

    @bp.get("/_hits")
    def hits() -> Response:
        return jsonify({"hits": mock.hits, "rejected": mock.rejected})

    @bp.post("/_reset")
    def reset() -> Response:
        mock.reset()
        return jsonify({"ok": True})

    return bp
