"""Outbound HTTP for tags: to in-process mock vendors (default), recorded only, or live.

A transport takes one request and gives back one response, or raises :class:`TransportError`
with sGTM's rejection reasons (``failed``, ``timed_out``). Every transport is injected into the
container, so tests and replays never touch the network unless a user asks for live mode.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from ..errors import TransportError

DEFAULT_TIMEOUT_S = 15.0
_UNSET = object()  # sGTM's sendHttpRequest default (15 000 ms)


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON (parsed once; a copy of nothing: treat it as read-only)."""
        cached = self.__dict__.get("_json", _UNSET)
        if cached is _UNSET:
            cached = json.loads(self.body.decode("utf-8"))
            self.__dict__["_json"] = cached
        return cached

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Transport(Protocol):
    name: str

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float = DEFAULT_TIMEOUT_S
    ) -> HttpResponse: ...


Handler = Callable[[str, str, dict[str, str], bytes], HttpResponse]


class MockTransport:
    """Routes requests to in-process mock vendors by host; any other host fails (offline)."""

    name = "mock"

    def __init__(self, handlers: dict[str, Handler] | None = None):
        self.handlers: dict[str, Handler] = dict(handlers or {})

    def mount(self, host: str, handler: Handler) -> None:
        self.handlers[host.lower()] = handler

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float = DEFAULT_TIMEOUT_S
    ) -> HttpResponse:
        parts = urlsplit(url)
        handler = self.handlers.get((parts.hostname or "").lower())
        if handler is None:
            raise TransportError(
                "failed", f"no mock vendor for host {parts.hostname!r}; the emulator is offline "
                f"(mocked hosts: {', '.join(sorted(self.handlers)) or 'none'})"
            )
        path = parts.path + ("?" + parts.query if parts.query else "")
        deadline = time.monotonic() + timeout
        response = handler(method, path, dict(headers), body)
        if time.monotonic() > deadline:
            raise TransportError("timed_out", f"no answer from {parts.hostname} within {timeout:g} s")
        return response


class RecordingTransport:
    """Sends nothing: records each request and answers with a canned response."""

    name = "record"

    def __init__(self, response: HttpResponse | None = None, keep: int = 1000):
        self.response = response or HttpResponse(
            200, {"content-type": "application/json"},
            b'{"code":0,"message":"OK (recorded, not sent)","request_id":"RECORDED","data":{}}',
        )
        self.keep = keep
        self.calls: list[dict[str, Any]] = []
        self.count = 0
        self._lock = threading.Lock()

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float = DEFAULT_TIMEOUT_S
    ) -> HttpResponse:
        with self._lock:
            self.count += 1
            if self.keep:
                self.calls.append({"method": method, "url": url, "headers": dict(headers), "body": body})
                del self.calls[: -self.keep]
        return self.response


class LiveTransport:
    """Real HTTP with keep-alive connection pools (urllib3, the engine under ``requests``), only to
    the allowed hosts. urllib3 is used directly because the ``requests`` layer above it costs more
    per call than the rest of a tag run.

    ``rewrite`` maps a vendor origin (``https://business-api.tiktok.com``) to another base URL, which
    is how the mock TikTok API is reached over HTTP.
    """

    name = "live"

    def __init__(self, allowed_hosts: Iterable[str] = (), rewrite: dict[str, str] | None = None,
                 pool_size: int = 16):
        import urllib3

        self._urllib3 = urllib3
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.rewrite = dict(rewrite or {})
        self._pool = urllib3.PoolManager(maxsize=pool_size, block=False, retries=False)

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float = DEFAULT_TIMEOUT_S
    ) -> HttpResponse:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if self.allowed_hosts and host not in self.allowed_hosts:
            raise TransportError("failed", f"host {host!r} is not an allowed vendor endpoint")
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin in self.rewrite:
            base = urlsplit(self.rewrite[origin])
            url = urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, ""))
        exc_mod = self._urllib3.exceptions
        try:
            resp = self._pool.request(method, url, body=body, headers=headers, retries=False, redirect=False,
                                      timeout=self._urllib3.Timeout(total=timeout))
        except exc_mod.NewConnectionError as exc:  # (urllib3 files it under its connect timeouts)
            raise TransportError("failed", f"cannot connect to {host}: connection refused or unreachable") from exc
        except (exc_mod.TimeoutError, TimeoutError) as exc:
            raise TransportError("timed_out", f"no answer from {host} within {timeout:g} s") from exc
        except (exc_mod.HTTPError, OSError) as exc:
            raise TransportError("failed", f"{type(exc).__name__} talking to {host}") from exc
        return HttpResponse(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.data)
