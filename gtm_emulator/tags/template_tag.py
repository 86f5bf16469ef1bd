"""Tags defined by a custom template (``.tpl``), run in the sandbox (tag type ``template``).

``TemplateTag(template).run(params, ctx)`` runs the template's server code with the tag's resolved
parameters as ``data``. Sandbox APIs go through the :class:`~gtm_emulator.tags.base.TagContext`:
``sendHttpRequest`` through ``ctx.send_http`` (recorded, secrets masked), ``setCookie`` through
``ctx.set_cookie``, ``logToConsole`` into ``ctx.console``, the clock and random source from the
context. ``gtmOnFailure``, an exception, a permission violation or a limit raise
:class:`~gtm_emulator.errors.TagError`.

Choices on uncertain points:

* Missing fields get the template's ``defaultValue`` (``APPLY_DEFAULTS``), with a note in the report.
* ``templateDataStorage`` lives per ``TemplateTag`` instance; with preview mode on (the default) it is
  reset for every request (recognised by the request's response object), as in GTM's preview.
* Outgoing requests to a host in ``JUDGES`` get that vendor's verdict (``vendor_ok``), like the
  native tags do (TikTok's envelope ``code``).
* ``addEventCallback``: a run that registered callbacks keeps its sandbox open and leaves a hook in
  ``ctx.after_tags``; the container calls it once all tags of the event have finished and the
  callbacks run as ``cb(containerId, {tags: [{id, status, executionTime}]})`` (``callback_payload``):
  ``id`` is the tag's name, ``executionTime`` whole milliseconds, ``status`` one of
  ``CALLBACK_STATUSES`` as :func:`callback_status` reads the tag's result (the list is uncertain;
  docs/templates.md, "Event callbacks"). What they do goes into the event's report; a failing
  callback is a warning on the tag.
* ``sendPixelFromBrowser`` returns true only when the claiming client is a GA4 client
  (``PIXEL_CLIENT_TYPE``) and the hit asked for the event-stream reply (``PIXEL_QUERY_FLAG``): the URL
  goes to ``response.send_pixel``, which the GA4 client's reply lists. Otherwise false, with a note.
* ``getRequestPath`` removes the container's ``path_prefix``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ..core.clock import run_storage
from ..core.report import EventReport, TagResult
from ..core.statuses import SUCCESS
from ..errors import TagError
from ..sandbox.apis import SandboxEnv, SendFn
from ..sandbox.permissions import DEFAULT_ENFORCEMENT
from ..sandbox.runtime import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_TIME_LIMIT_S,
    EventCallbacks,
    SandboxFailure,
    run_tag_code,
)
from ..sandbox.tpl import CustomTemplate
from ..vendors.transport import HttpResponse, TransportError
from .base import AfterTags, TagContext

APPLY_DEFAULTS = True
CALLBACK_STATUSES = ("success", "failure", "exception", "timeout")  # docs/templates.md, "Event callbacks"
PIXEL_CLIENT_TYPE = "ga4"  # the only client whose reply can carry sendPixelFromBrowser URLs
PIXEL_QUERY_FLAG = "richsstsse"  # the hit asks for the event-stream reply that carries them


def _tiktok_judge() -> Callable[[HttpResponse], tuple[bool, list[str]]]:
    from .tiktok import judge

    return judge


JUDGES: dict[str, Callable[[], Callable[[HttpResponse], tuple[bool, list[str]]]]] = {
    "business-api.tiktok.com": _tiktok_judge,
}


def referenced_defaults(template: CustomTemplate) -> dict[str, str]:
    """The fields whose ``defaultValue`` refers to variables (``{{Event Name}}``).

    In GTM a default is the text the field starts with when the tag is created, and a field's text
    is resolved like any other: ``{{Event Name}}`` becomes the event's name at run time. A tag whose
    field is left unset therefore gets the *resolved* default; the container compiles these defaults
    as the tag's parameters (:mod:`gtm_emulator.loading.registry`) so that they are resolved per event.
    """
    from ..core.variables import Template as ValueTemplate

    return {name: default for name, default in template.field_defaults().items()
            if isinstance(default, str) and ValueTemplate(default).refs}


class TemplateTag:
    """A tag whose behaviour is a ``.tpl`` tag template (``type: template``)."""

    type = "template"
    secret_params: frozenset[str] = frozenset()

    def __init__(
        self,
        template: CustomTemplate | None = None,
        *,
        enforce: str = DEFAULT_ENFORCEMENT,
        time_limit: float | None = None,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        hmac_keys: dict[str, str] | None = None,
    ):
        self.template = template
        self.enforce = enforce
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self.hmac_keys = dict(hmac_keys or {})
        self._storage: dict[str, Any] = {}
        self._storage_owner: Any = None
        self._lock = threading.Lock()
        if template is not None and template.type != "TAG":
            raise TagError(f"template {template.display_name!r} is a {template.type} template, not a tag template")

    def _storage_for(self, ctx: TagContext, preview: bool) -> dict[str, Any]:
        with self._lock:
            if preview and self._storage_owner is not ctx.response:
                self._storage = {}
                self._storage_owner = ctx.response
            return self._storage

    def run(self, params: dict[str, Any], ctx: TagContext) -> None:
        template = self.template
        if template is None:
            raise TagError("a tag of type 'template' needs a .tpl template")
        data = dict(params)
        if APPLY_DEFAULTS:
            for name, default in template.field_defaults().items():
                if name not in data:
                    data[name] = default
                    ctx.notes.append(f"field {name!r} not set; used the template's defaultValue")
        info = ctx.info
        preview = bool(getattr(info, "preview_mode", True))
        pixel_urls, pixel_refusal = pixel_support(ctx)
        env = SandboxEnv(
            event_data=ctx.event_data,
            request=ctx.request,
            client_name=getattr(ctx, "client_name", None) or getattr(info, "client_name", None),
            container_id=getattr(info, "container_id", "GTM-EMULATOR"),
            version=getattr(info, "version", "0"),
            environment_name=getattr(info, "environment_name", ""),
            debug_mode=bool(getattr(info, "debug_mode", True)),
            preview_mode=preview,
            now=ctx.now,
            rng=ctx.rng,
            send=_sender(ctx),
            set_cookie=ctx.set_cookie,
            response=ctx.response,
            storage=run_storage(self._storage_for(ctx, preview)),
            hmac_keys=self.hmac_keys,
            http_timeout=ctx.timeout,
            path_prefix=getattr(info, "path_prefix", ""),
            pixel_urls=pixel_urls,
            pixel_refusal=pixel_refusal,
            console=ctx.console,
            warnings=ctx.warnings,
            notes=ctx.notes,
        )
        time_limit = self.time_limit if self.time_limit is not None else DEFAULT_TIME_LIMIT_S
        left = ctx.remaining()
        if left is not None:
            time_limit = max(0.001, min(time_limit, left))
        outcome = run_tag_code(template, data, env, keep_callbacks=ctx.after_tags is not None,
                               enforce=self.enforce, time_limit=time_limit, memory_limit=self.memory_limit)
        if outcome.callbacks is not None:
            assert ctx.after_tags is not None
            ctx.after_tags.append(_event_callbacks_hook(ctx, env, outcome.callbacks))
        if outcome.status != "success":
            raise TagError(outcome.error or "the template failed")


def _sender(ctx: TagContext) -> SendFn:
    """``sendHttpRequest`` of a tag template: through ``ctx.send_http`` (recorded in the report)."""

    def send(method: str, url: str, headers: dict[str, str], body: bytes, timeout: float) -> HttpResponse:
        host = (urlsplit(url).hostname or "").lower()
        judge = JUDGES[host]() if host in JUDGES else None
        before = len(ctx.outgoing)
        response = ctx.send_http(method, url, headers, body, judge=judge, timeout=timeout)
        if response is None:
            error = ctx.outgoing[-1].error if len(ctx.outgoing) > before else None
            reason = (error or "failed").split(":", 1)[0]
            raise TransportError("timed_out" if reason == "timed_out" else "failed", error or "")
        return response

    return send


def pixel_support(ctx: TagContext) -> tuple[list[str] | None, str]:
    """Where ``sendPixelFromBrowser`` URLs go for this tag run, or None and why not: only a GA4 hit
    claimed by a GA4 client that asked for the event-stream reply (``richsstsse``) can carry them."""
    client = getattr(ctx, "client_name", None)
    client_type = (getattr(ctx.info, "client_types", None) or {}).get(client)
    if client_type != PIXEL_CLIENT_TYPE:
        return None, (f"the claiming client {client!r} is not a GA4 client; only the GA4 client's reply can "
                      "ask the browser to load a pixel")
    names = {part.split("=", 1)[0] for part in (ctx.request.query or "").split("&")}
    if PIXEL_QUERY_FLAG not in names:
        return None, f"the hit did not ask for the event-stream reply ({PIXEL_QUERY_FLAG} is not in its query)"
    urls = getattr(ctx.response, "send_pixel", None)
    if not isinstance(urls, list):
        return None, "the response cannot carry pixel URLs"
    return urls, ""


def callback_status(result: TagResult) -> str:
    """A tag's status as ``addEventCallback`` reports it (``CALLBACK_STATUSES``): ``timeout`` for a
    tag stopped by a time limit or that never completed, ``exception`` for one that threw (or hit a
    memory/stack limit), ``failure`` for ``gtmOnFailure`` and other failures."""
    if result.status == SUCCESS:
        return "success"
    error = result.error or ""
    if "timed out" in error or "would time it out" in error:
        return "timeout"
    if error.startswith(("the template threw", "a callback threw", "out of memory", "stack overflow")) \
            or re.match(r"[A-Za-z_]\w*(Error|Exception)\b", error):
        return "exception"
    return "failure"


def callback_payload(report: EventReport) -> dict[str, Any]:
    """The second argument of an event callback: ``{tags: [{id, status, executionTime}]}`` for every
    tag that fired in the event (id: the tag's name; executionTime: whole milliseconds)."""
    return {"tags": [{"id": t.name, "status": callback_status(t), "executionTime": round(t.duration_ms or 0)}
                     for t in report.tags if t.fired]}


def _event_callbacks_hook(ctx: TagContext, env: SandboxEnv, callbacks: EventCallbacks) -> AfterTags:
    """The end-of-event work of a tag run that called ``addEventCallback``: run its callbacks in the
    run's own engine context; what they do lands in the event's report like the tag's own effects
    (outgoing requests, console, cookies), notes and failures on the tag's result."""

    def hook(report: EventReport, secrets: set[str]) -> None:
        cctx = TagContext(tag_name=ctx.tag_name, event_data=ctx.event_data, request=ctx.request,
                          response=ctx.response, transport=ctx.transport, now=ctx.now, rng=ctx.rng, info=ctx.info,
                          client_name=ctx.client_name, timeout=ctx.timeout)
        env.send = _sender(cctx)
        env.set_cookie = cctx.set_cookie
        env.console, env.warnings, env.notes = cctx.console, cctx.warnings, cctx.notes
        try:
            count, errors = callbacks.run(None, env.container_id, callback_payload(report))
        except SandboxFailure as exc:
            count, errors = 0, [f"stopped: {exc}"]
        finally:
            callbacks.close()
        secrets.update(cctx.secrets)
        report.outgoing.extend(cctx.outgoing)
        report.console.extend(cctx.console)
        report.console.extend(f"ERROR: event callback of tag {ctx.tag_name!r}: {e}" for e in errors)
        result = next((t for t in reversed(report.tags) if t.name == ctx.tag_name), None)
        if result is None:
            report.warnings.extend(cctx.warnings + [f"event callback of tag {ctx.tag_name!r}: {e}" for e in errors])
            return
        result.notes.append(f"addEventCallback: {count} callback(s) called after all tags of the event")
        result.notes.extend(cctx.notes)
        result.warnings.extend(cctx.warnings)
        result.warnings.extend(f"an event callback failed: {e}" for e in errors)
        result.vendor_rejected = result.vendor_rejected or cctx.vendor_rejected

    return hook
