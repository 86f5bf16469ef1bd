"""Variable (``MACRO``) templates: the template's return value is the variable's value.

A cookie a variable template sets with ``setCookie`` joins the response of the request (as a tag's
does). A variable template that throws, exceeds a limit or returns a rejected promise resolves to
``undefined``; the reason is added to the event's warnings (GTM shows such variables as undefined
in Preview). Choice documented here because GTM's exact behaviour is not published.
"""

from __future__ import annotations

import random
from typing import Any

from ..core.clock import run_storage, run_transport
from ..core.js import UNDEFINED
from ..core.request import cookie_setter
from ..core.variables import Template as VarTemplate
from ..core.variables import Variable
from ..vendors.transport import Transport
from .apis import SandboxEnv
from .permissions import DEFAULT_ENFORCEMENT
from .runtime import DEFAULT_TIME_LIMIT_S, run_value_code
from .tpl import CustomTemplate


def env_from_event_context(event_ctx: Any, transport: Transport | None = None,
                           storage: dict[str, Any] | None = None) -> SandboxEnv:
    """A sandbox environment from a :class:`gtm_emulator.core.variables.EventContext`."""
    info = getattr(event_ctx, "info", None)
    env = SandboxEnv(
        event_data=event_ctx.event_data,
        request=getattr(event_ctx, "request", None),
        client_name=getattr(event_ctx, "client_name", None),
        container_id=getattr(info, "container_id", "GTM-EMULATOR"),
        version=getattr(info, "version", "0"),
        environment_name=getattr(info, "environment_name", ""),
        debug_mode=getattr(info, "debug_mode", True),
        preview_mode=getattr(info, "preview_mode", True),
        path_prefix=getattr(info, "path_prefix", ""),
        now=getattr(event_ctx, "now", 0.0),
        rng=getattr(event_ctx, "rng", None) or random.Random(),
        storage=storage if storage is not None else {},
    )
    if transport is not None:
        env.send = lambda method, url, headers, body, timeout: transport.send(method, url, headers, body, timeout)
    response = getattr(event_ctx, "response", None)
    request = getattr(event_ctx, "request", None)
    if response is not None and request is not None:  # setCookie from a variable joins the response
        env.set_cookie = cookie_setter(response, request)
    return env


def run_variable_template(
    template: CustomTemplate,
    params: dict[str, Any],
    event_ctx: Any,
    *,
    transport: Transport | None = None,
    storage: dict[str, Any] | None = None,
    console: list[str] | None = None,
    enforce: str = DEFAULT_ENFORCEMENT,
    time_limit: float = DEFAULT_TIME_LIMIT_S,
) -> Any:
    """Run a ``MACRO`` template with ``params`` as ``data`` and return its value (UNDEFINED on
    failure, with a warning on ``event_ctx.warnings``)."""
    warnings = getattr(event_ctx, "warnings", None)
    if template.type != "MACRO":
        message = f"template {template.display_name!r} is a {template.type} template, not a variable"
        if warnings is not None:
            warnings.append(message)
        return UNDEFINED
    env = env_from_event_context(event_ctx, transport, storage)
    outcome = run_value_code(template, dict(params), env, enforce=enforce, time_limit=time_limit)
    if console is not None:
        console.extend(env.console)
    if warnings is not None:
        warnings.extend(env.warnings)
        if outcome.status != "success":
            warnings.append(f"variable template {template.display_name!r} failed: {outcome.error}")
    return outcome.value if outcome.status == "success" else UNDEFINED


class TemplateVariable(Variable):
    """A user-defined variable whose value is a ``MACRO`` template's return value."""

    type = "template"

    def __init__(self, name: str, template: CustomTemplate, params: dict[str, VarTemplate], **kw: Any):
        super().__init__(name, **kw)
        self.template = template
        self.params = params
        self.transport: Transport | None = None  # set by the loader once the container's transport exists
        self._storage: dict[str, Any] = {}

    def compute(self, ctx: Any) -> Any:
        params = {key: value.evaluate(ctx) for key, value in self.params.items()}
        return run_variable_template(self.template, params, ctx, transport=run_transport(self.transport),
                                     storage=run_storage(self._storage))

    def _own_references(self) -> tuple[str, ...]:
        return tuple(ref for value in self.params.values() for ref in value.refs)
