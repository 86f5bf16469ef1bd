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
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ..errors import TagError
from ..sandbox.apis import SandboxEnv
from ..sandbox.permissions import DEFAULT_ENFORCEMENT
from ..sandbox.runtime import DEFAULT_MEMORY_LIMIT, DEFAULT_TIME_LIMIT_S, run_tag_code
from ..sandbox.tpl import Template
from ..transport import HttpResponse, TransportError
from .base import TagContext, register

APPLY_DEFAULTS = True


def _tiktok_judge() -> Callable[[HttpResponse], tuple[bool, list[str]]]:
    from .tiktok import judge

    return judge


JUDGES: dict[str, Callable[[], Callable[[HttpResponse], tuple[bool, list[str]]]]] = {
    "business-api.tiktok.com": _tiktok_judge,
}


@register
class TemplateTag:
    """A tag whose behaviour is a ``.tpl`` tag template (``type: template``)."""

    type = "template"
    secret_params: frozenset[str] = frozenset()

    def __init__(
        self,
        template: Template | None = None,
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

        def send(method: str, url: str, headers: dict[str, str], body: bytes, timeout: float) -> HttpResponse:
            host = (urlsplit(url).hostname or "").lower()
            judge = JUDGES[host]() if host in JUDGES else None
            response = ctx.send_http(method, url, headers, body, judge=judge, timeout=timeout)
            if response is None:
                error = ctx.outgoing[-1].error if ctx.outgoing else None
                reason = (error or "failed").split(":", 1)[0]
                raise TransportError(reason if reason in ("failed", "timed_out") else "failed", error or "")
            return response

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
            send=send,
            set_cookie=lambda name, value, options, no_encode: ctx.set_cookie(name, value, options, no_encode),
            response=ctx.response,
            storage=self._storage_for(ctx, preview),
            hmac_keys=self.hmac_keys,
            http_timeout=ctx.timeout,
            console=ctx.console,
            warnings=ctx.warnings,
            notes=ctx.notes,
        )
        time_limit = self.time_limit if self.time_limit is not None else DEFAULT_TIME_LIMIT_S
        outcome = run_tag_code(template, data, env, enforce=self.enforce, time_limit=time_limit,
                               memory_limit=self.memory_limit)
        if outcome.status != "success":
            raise TagError(outcome.error or "the template failed")
