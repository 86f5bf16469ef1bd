"""What a tag implementation sees while it runs (``TagContext``), and the tag contract (``TagType``).

A tag type implements ``run(params, ctx)``: it reads its resolved parameters and the event, sends
through ``ctx.send_http`` and sets cookies through ``ctx.set_cookie``. Returning means
``gtmOnSuccess``; raising :class:`~gtm_emulator.errors.TagError` (or any exception) means
``gtmOnFailure``. Every outgoing request is recorded for the report, with secrets masked.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..core.js import to_string
from ..core.report import MASK, EventReport, Outgoing, console_append, url_secrets
from ..core.request import Request, Response, cookie_from_options, display_text
from ..vendors.transport import DEFAULT_TIMEOUT_S, HttpResponse, Transport, TransportError

# A vendor's verdict on a 2xx answer: (accepted, warnings).
Judge = Callable[[HttpResponse], tuple[bool, list[str]]]

# Work a tag leaves for the end of its event (``addEventCallback``): called with the event's report
# (every tag of the event has finished) and the set of secrets to mask in it.
AfterTags = Callable[["EventReport", set[str]], None]

SECRET_HEADERS = {"access-token", "authorization", "x-api-key", "api-key"}


@dataclass(slots=True)
class TagContext:
    """The sandbox a tag runs in for one event."""

    tag_name: str
    event_data: dict[str, Any]
    request: Request
    response: Response
    transport: Transport
    now: float
    rng: random.Random
    info: Any = None
    client_name: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S
    outgoing: list[Outgoing] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    vendor_rejected: bool = False
    after_tags: list[AfterTags] | None = None  # None: no event end to wait for (run outside a container)
    deadline: float | None = None  # time.monotonic() by which the tag must be done (tag and request budget)

    def remaining(self) -> float | None:
        """Seconds left of the tag's budget (None: no deadline)."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    # ------------------------------------------------------------------ sandbox APIs

    def log(self, *args: Any) -> None:
        """``logToConsole``."""
        console_append(self.console, " ".join(a if isinstance(a, str) else to_string(a) for a in args))

    def cookie_values(self, name: str, decode: bool = True) -> list[str]:
        return self.request.cookie_values(name, decode=decode)

    def set_cookie(self, name: str, value: str, options: Mapping[str, Any] | None = None,
                   no_encode: bool = False) -> None:
        """``setCookie``: becomes part of the one response of this request."""
        self.response.set_cookie(cookie_from_options(name, value, options, self.request, no_encode=no_encode))

    def send_http(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | str = b"",
        *,
        judge: Judge | None = None,
        timeout: float | None = None,
        shown_body: Any = None,
    ) -> HttpResponse | None:
        """Send through the injected transport and record the call. Returns None when no HTTP
        answer came (the failure is recorded on the outgoing entry). ``shown_body`` is the body as
        data for the report, when the caller has it (else the body text is parsed as JSON)."""
        headers = dict(headers or {})
        # a request's invalid bytes (kept as escapes) are sent as U+FFFD, never a failed encode
        raw = display_text(body).encode("utf-8") if isinstance(body, str) else body
        if shown_body is None:
            try:
                shown_body = json.loads(raw) if raw else ""
            except (ValueError, UnicodeDecodeError):
                shown_body = raw.decode("utf-8", "replace")
        entry = Outgoing(
            tag=self.tag_name,
            method=method,
            url=url,
            headers={k: (MASK if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()},
            body=shown_body,
        )
        for k, v in headers.items():
            if k.lower() in SECRET_HEADERS and v:
                self.secrets.add(v)
        self.secrets.update(url_secrets(url))  # an access_token in the query is a secret too
        self.outgoing.append(entry)
        started = time.perf_counter()
        entry.raw_text = url + "\n" + (body if isinstance(body, str) else raw.decode("utf-8", "replace"))
        timeout = timeout or self.timeout
        left = self.remaining()
        try:
            if left is not None:
                if left <= 0:
                    raise TransportError("timed_out", "not sent: the tag's time budget was used up")
                timeout = min(timeout, left)  # a deadline is a deadline, the HTTP call included
            resp = self.transport.send(method, url, headers, raw, timeout)
        except TransportError as exc:
            entry.error = str(exc)
            entry.vendor_ok = False
            entry.duration_ms = (time.perf_counter() - started) * 1000
            return None
        entry.duration_ms = (time.perf_counter() - started) * 1000
        entry.raw_text += "\n" + resp.body.decode("utf-8", "replace") + "\n" + repr(resp.headers)
        try:
            resp_body: Any = resp.json() if resp.body else ""
            if resp.body:
                entry.response_text = resp.body.decode("utf-8", "replace")
        except (ValueError, UnicodeDecodeError):
            resp_body = resp.text()
        entry.response = {"status": resp.status, "headers": dict(resp.headers), "body": resp_body}
        if 200 <= resp.status < 300:
            if judge is not None:
                ok, warnings = judge(resp)
                entry.vendor_ok = ok
                entry.warnings.extend(warnings)
                if not ok:
                    self.vendor_rejected = True
                    self.warnings.extend(warnings)
            else:
                entry.vendor_ok = True
        else:
            entry.vendor_ok = False
            if 300 <= resp.status < 400:  # not followed: the data never reached the vendor's API
                self.vendor_rejected = True
                where = resp.headers.get("location") or resp.headers.get("Location") or "no Location"
                note = (f"the vendor answered a redirect (HTTP {resp.status} to {where}); redirects are not "
                        "followed, so the data was not delivered")
                entry.warnings.append(note)
                self.warnings.append(note)
        return resp


def run_after_tags(hooks: list[AfterTags], report: EventReport, secrets: set[str]) -> None:
    """Call what tags left for the end of the event, in the order they registered it. A hook that
    raises is a warning of the event, never a crashed request."""
    for hook in hooks:
        try:
            hook(report, secrets)
        except Exception as exc:
            report.warnings.append(f"after the tags of the event: {type(exc).__name__}: {exc}")


class TagType(Protocol):
    """A tag implementation. ``run`` returns for success and raises for failure."""

    type: str
    secret_params: frozenset[str]

    def run(self, params: dict[str, Any], ctx: TagContext) -> None: ...


# Google's built-in server tag types (gtm_emulator.tags.google emulates GA4 and reports the others
# as not_emulated).
GOOGLE_TAG_TYPES = ("sgtmgaaw", "sgtmadsct", "sgtmadscl", "sgtmadsremarket", "sgtmadsud", "sgtmfls")
