"""Outbound HTTP for tags: to in-process mock vendors (default), recorded only, or live.

A transport takes one request and gives back one response, or raises :class:`TransportError`
with sGTM's rejection reasons (``failed``, ``timed_out``). Every transport is injected into the
container, so tests and replays never touch the network unless a user asks for live mode.
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from ..core.outbound_url import OutboundUrl, UnsafeUrl, parse_outbound
from ..core.report import mask_secrets, url_secrets
from ..errors import TransportError

DEFAULT_TIMEOUT_S = 15.0
MAX_RESPONSE_BYTES = 8 * 1024 * 1024  # a vendor answer larger than this fails the request (never read whole)
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


def outbound(url: str) -> OutboundUrl:
    """``url`` read by the one outgoing-URL parser; a URL it refuses fails without being sent."""
    try:
        return parse_outbound(url)
    except UnsafeUrl as exc:
        raise TransportError("failed", f"refused URL {url!r}: {exc}") from None


def read_capped(resp: Any, deadline: float, limit: int, host: str) -> bytes:
    """An answer's body, read piece by piece: refused past ``limit`` bytes (never read whole) and cut
    at ``deadline`` (a vendor that drips its answer byte by byte cannot hold a request)."""
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TransportError("failed", f"the answer from {host} is {declared} bytes; the limit is {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() >= deadline:
            raise TimeoutError
        chunk = resp.read1(65536)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise TransportError("failed", f"the answer from {host} is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# Calls to one vendor host that may wait for an answer at once, per process. serve runs 8 threads
# per worker by default (``--threads``, which sets this to threads - 2): a vendor that hangs then
# holds at most 6 of them, and a further call to it fails within SLOT_WAIT_S instead of taking a
# thread from unrelated requests until its deadline.
DEFAULT_MAX_IN_FLIGHT = 6
# How long a call waits for one of those to end before it fails (a fast vendor frees one in ms).
SLOT_WAIT_S = 0.25


class Watchdog:
    """One thread per process that calls each registered function at its deadline, unless it was
    cancelled first: what cuts a vendor's answer at the deadline. A thread per call would cost more
    than the rest of a fast vendor call (starting one is about 0.2 ms)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._pending: dict[int, Callable[[], Any]] = {}
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def call_at(self, deadline: float, fn: Callable[[], Any]) -> int:
        """Run ``fn`` at ``deadline`` (``time.monotonic()``); the returned id cancels it."""
        with self._cond:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()  # a forked worker starts its own thread
                self._thread = threading.Thread(target=self._run, name="gtm-emulator-watchdog", daemon=True)
                self._thread.start()
            ident = next(self._ids)
            self._pending[ident] = fn
            heapq.heappush(self._heap, (deadline, ident))
            if self._heap[0][1] == ident:
                self._cond.notify()
            return ident

    def cancel(self, ident: int) -> None:
        with self._cond:
            self._pending.pop(ident, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][1] not in self._pending:
                        heapq.heappop(self._heap)  # cancelled
                    if not self._heap:
                        self._cond.wait()
                        continue
                    deadline, ident = self._heap[0]
                    delay = deadline - time.monotonic()
                    if delay <= 0:
                        heapq.heappop(self._heap)
                        fn = self._pending.pop(ident)
                        break
                    self._cond.wait(delay)
            try:
                fn()
            except Exception:  # a closed connection refusing shutdown is no reason to stop the watchdog
                pass


WATCHDOG = Watchdog()


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
        self.timed: set[str] = set()  # hosts whose handler takes the call's timeout (a fifth argument)

    def mount(self, host: str, handler: Callable[..., HttpResponse], timed: bool = False) -> None:
        """Answer calls to ``host`` with ``handler(method, path, headers, body)``, or with
        ``handler(method, path, headers, body, timeout)`` when ``timed`` (a mock in another process)."""
        self.handlers[host.lower()] = handler
        (self.timed.add if timed else self.timed.discard)(host.lower())

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float = DEFAULT_TIMEOUT_S
    ) -> HttpResponse:
        parts = outbound(url)
        handler = self.handlers.get(parts.host)
        if handler is None:
            raise TransportError(
                "failed", f"no mock vendor for host {parts.host!r}; the emulator is offline "
                f"(mocked hosts: {', '.join(sorted(self.handlers)) or 'none'})"
            )
        path = parts.path + ("?" + parts.query if parts.query else "")
        deadline = time.monotonic() + timeout
        if parts.host in self.timed:
            try:
                response = handler(method, path, dict(headers), body, timeout)  # type: ignore[call-arg]
            except TransportError as exc:
                if exc.reason == "timed_out":  # worded as for a mock in this process
                    raise TransportError("timed_out", f"no answer from {parts.host} within {timeout:g} s") from None
                raise
        else:
            response = handler(method, path, dict(headers), body)
        if time.monotonic() > deadline:
            raise TransportError("timed_out", f"no answer from {parts.host} within {timeout:g} s")
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


class AnsweringTransport:
    """Answers calls from a list of recorded outgoing entries (a stored request's ``outgoing``), in
    the order they were made, and sends nothing: how Preview re-runs a stored request with the
    vendor answers it got. A call that does not match the next recorded one (method and URL) is
    noted in ``mismatches`` and answered as failed; so is a call beyond the record. Recorded URLs
    have their secrets masked, so a call's URL is compared (and named) with ``secrets`` and its
    secret query parameters masked too."""

    name = "answering"

    def __init__(self, entries: Iterable[dict[str, Any]], secrets: Iterable[str] = ()):
        self.entries = list(entries)
        self.used = 0
        self.mismatches: list[str] = []
        self.secrets = set(secrets)
        self.storage_read = False  # set when a template read its templateDataStorage (core.clock.run_storage)

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float = DEFAULT_TIMEOUT_S
    ) -> HttpResponse:
        url = mask_secrets(url, self.secrets.union(url_secrets(url)))
        if self.used >= len(self.entries):
            self.mismatches.append(f"{method} {url}: an outgoing call the stored request did not make")
            raise TransportError("failed", "no recorded answer (the stored request made no such call)")
        entry = self.entries[self.used]
        self.used += 1
        if (entry.get("method"), entry.get("url")) != (method, url):
            self.mismatches.append(f"{method} {url}: the stored request made {entry.get('method')} "
                                   f"{entry.get('url')} at this point")
        error = entry.get("error")
        response = entry.get("response")
        if error or not isinstance(response, dict):
            reason, _, detail = str(error or "failed: no answer recorded").partition(": ")
            raise TransportError("timed_out" if reason == "timed_out" else "failed", detail or reason)
        body_value = response.get("body")
        if isinstance(entry.get("response_text"), str):  # the bytes as they came
            raw = entry["response_text"].encode("utf-8")
        elif isinstance(body_value, str):
            raw = body_value.encode("utf-8")
        else:
            raw = json.dumps(body_value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return HttpResponse(int(response.get("status") or 0), dict(response.get("headers") or {}), raw)


class LiveTransport:
    """Real HTTP with keep-alive connection pools (urllib3, the engine under ``requests``), only to
    the allowed hosts. urllib3 is used directly because the ``requests`` layer above it costs more
    per call than the rest of a tag run.

    ``rewrite`` maps a vendor origin (``https://business-api.tiktok.com``) to another base URL, which
    is how the mock TikTok API is reached over HTTP.
    """

    name = "live"

    def __init__(self, allowed_hosts: Iterable[str] = (), rewrite: dict[str, str] | None = None,
                 pool_size: int = 16, max_in_flight: int = DEFAULT_MAX_IN_FLIGHT):
        import urllib3

        self._urllib3 = urllib3
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.rewrite = dict(rewrite or {})
        self._pool = urllib3.PoolManager(maxsize=pool_size, block=False, retries=False)
        self.max_in_flight = max_in_flight
        self._in_flight: dict[str, int] = {}
        self._slots = threading.Condition()

    def _enter(self, host: str, deadline: float) -> None:
        """Count a call to ``host`` in flight. When ``max_in_flight`` calls to that host are already
        waiting for an answer, wait at most ``SLOT_WAIT_S`` for one of them to end, then refuse: a
        vendor that hangs holds at most that many of the server's threads for long, and the others
        stay free for unrelated requests, while a fast vendor under load only queues briefly."""
        with self._slots:
            give_up = min(deadline, time.monotonic() + SLOT_WAIT_S)
            while self._in_flight.get(host, 0) >= self.max_in_flight:
                left = give_up - time.monotonic()
                if left <= 0:
                    raise TransportError("failed", f"{self._in_flight[host]} calls to {host} are already waiting "
                                                   f"for an answer (the limit per host is {self.max_in_flight}); "
                                                   "not sent")
                self._slots.wait(left)
            self._in_flight[host] = self._in_flight.get(host, 0) + 1

    def _leave(self, host: str) -> None:
        with self._slots:
            left = self._in_flight.get(host, 1) - 1
            if left:
                self._in_flight[host] = left
            else:
                self._in_flight.pop(host, None)
            self._slots.notify()

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float = DEFAULT_TIMEOUT_S
    ) -> HttpResponse:
        parts = outbound(url)  # the connection goes to exactly what the allow-list checked
        host = parts.host
        if self.allowed_hosts and host not in self.allowed_hosts:
            raise TransportError("failed", f"host {host!r} is not an allowed vendor endpoint")
        url = parts.url
        if parts.origin in self.rewrite:
            base = urlsplit(self.rewrite[parts.origin])
            url = urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, ""))
        exc_mod = self._urllib3.exceptions
        deadline = time.monotonic() + timeout
        resp = None
        watchdog = None
        complete = False
        self._enter(host, deadline)
        try:
            resp = self._pool.request(method, url, body=body, headers=headers, retries=False, redirect=False,
                                      preload_content=False, timeout=self._urllib3.Timeout(total=timeout))
            # the whole answer within the deadline: a vendor that drips its body is cut off, not waited for
            watchdog = WATCHDOG.call_at(deadline, resp.shutdown)
            data = read_capped(resp, deadline, MAX_RESPONSE_BYTES, host)
            complete = True
        except exc_mod.NewConnectionError as exc:  # (urllib3 files it under its connect timeouts)
            raise TransportError("failed", f"cannot connect to {host}: connection refused or unreachable") from exc
        except (exc_mod.TimeoutError, TimeoutError) as exc:
            raise TransportError("timed_out", f"no answer from {host} within {timeout:g} s") from exc
        except (exc_mod.HTTPError, OSError) as exc:
            if time.monotonic() >= deadline:
                raise TransportError("timed_out", f"no complete answer from {host} within {timeout:g} s") from exc
            raise TransportError("failed", f"{type(exc).__name__} talking to {host}") from exc
        finally:
            self._leave(host)
            if watchdog is not None:
                WATCHDOG.cancel(watchdog)
            if resp is not None:  # a cut or refused answer's connection is not reused
                resp.release_conn() if complete else resp.close()
        if time.monotonic() > deadline:
            raise TransportError("timed_out", f"no complete answer from {host} within {timeout:g} s")
        return HttpResponse(resp.status, {k.lower(): v for k, v in resp.headers.items()}, data)
