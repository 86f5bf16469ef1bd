"""Clients defined by a custom template (``.tpl`` with ``___INFO___`` type ``CLIENT``).

``TemplateClient(name, priority, settings, template=...)`` runs the template's server code in the
sandbox once per request, with ``settings`` as ``data`` (docs/templates.md, "Client templates").

How claim and run are split (``SPLIT``): the code runs **once**. :meth:`TemplateClient.claim` runs
the template's synchronous code (and drains its callbacks) in a fresh sandbox and looks at whether it
called ``claimRequest()``. A template that did not claim is discarded with everything it wrote (its
response writes and cookies go to a draft that is thrown away), so it has no side effect on the
response; the next client is tried. A template that claimed keeps its sandbox open, and
:meth:`TemplateClient.handle` (called by the container right after the claim, on the same thread)
continues that same run:

* ``runContainer(event, onComplete, onStart)`` queues the event (sGTM's ``runContainer`` is
  asynchronous: code after the call runs before the container does). The queued events run one after
  another, in call order: ``onStart(bindToEvent)``, then the container's run of the event (variables,
  triggers, tags), then ``onComplete(bindToEvent)``, then the template's pending callbacks, which may
  queue more events. ``bindToEvent(fn)`` returns ``fn`` unchanged.
* ``setResponseStatus/Header/Body``, ``setPixelResponse`` and the client's ``setCookie`` write a
  draft; ``returnResponse()`` sends it: the draft becomes the response, together with the cookies the
  tags set so far. Writes after ``returnResponse()`` are ignored with a warning, and cookies that
  tags set afterwards are not sent (a warning names them).
* The client's console lines and sandbox warnings become report warnings (``client console: …``).
* Messages: while the events run, ``sendMessage`` in a tag runs the client's ``addMessageListener``
  listener for that type synchronously, as in sGTM (``gtm_emulator.sandbox.messages``).

Failures (``FAILURE_STATUS``, default 502): a template that throws, times out, exhausts memory or
finishes without calling ``returnResponse()`` after it claimed the request answers 502 with the
reason ``client template NAME failed: …``; the events that already ran stay in the report. A
template that throws (or times out) **before** calling ``claimRequest()`` does not claim; the
reason names the error and the next client is tried.

Limits of the emulation: ``sendHttpRequest`` from a client goes through the container's transport
(mock vendors by default) and each call is noted in the report's warnings rather than in an event's
outgoing list; ``sendPixelFromBrowser`` returns false (``PIXEL_REFUSAL``: only the GA4 client's reply
carries pixel URLs). The time limit (``time_limit``, default :data:`CLIENT_TIME_LIMIT_S`) counts the
template's own code only, not the container runs it starts.

Event callbacks: ``bindToEvent(fn)`` returns ``fn`` bound to its event; ``bindToEvent(addEventCallback)(cb)``
registers ``cb`` for that event, and it is called as ``cb(containerId, {tags: [...]})`` after the
event's tags and after its ``onComplete`` (sGTM's order of the two is uncertain), within the client's
time limit; a callback that throws is a warning. An unbound ``addEventCallback`` in a client is never
called (a warning says so).

Settings may hold ``{{Variable}}`` references, as a client's fields in GTM may: they are resolved for
each request before the template runs, with the request and no event data (so request-based
variables such as Request Header, Query Parameter, Cookie or Visitor Region give values; event data
variables are undefined). ``variables`` (the container's, set by the loader) is what they resolve
against.

``templateDataStorage`` is per client; with the container's ``preview_mode`` on (the default) it is
reset for every request (recognised by the request object, so claim() and handle() share it), as tag
templates' storage is; otherwise it is kept across requests. The container's ID, version, modes and
``path_prefix`` come from ``info`` (the container's ContainerInfo, set by the loader).
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core.clock import run_now, run_storage, run_transport
from ..core.js import UNDEFINED
from ..core.report import EventReport, mask_secrets, url_secrets
from ..core.request import Request, Response, SetCookie, cookie_from_options
from ..errors import ConfigError, Problem, RequestError
from ..sandbox import messages
from ..sandbox.apis import SandboxEnv, SandboxThrow
from ..sandbox.permissions import DEFAULT_ENFORCEMENT
from ..sandbox.runtime import DEFAULT_MEMORY_LIMIT, Sandbox, SandboxFailure, call_event_callbacks, fields_literal
from ..sandbox.tpl import CustomTemplate
from ..tags.template_tag import callback_payload
from ..vendors.transport import Transport
from .base import Claim, Client, ClientRun

SPLIT = "run once: claim() runs the code, handle() continues the same run"
FAILURE_STATUS = 502
CLIENT_TIME_LIMIT_S = 5.0
MAX_EVENTS = 1000  # runContainer calls per request
PIXEL_REFUSAL = ("a client template's reply is not a command protocol the emulator knows; only the GA4 client's "
                 "event-stream reply (richsstsse) carries pixel URLs")

RunEvent = Callable[[dict[str, Any]], EventReport]


@dataclass
class _ClientState:
    """The hooks one client run gives the sandbox (``SandboxEnv.client``) and what it recorded."""

    request: Request
    phase: str = "main"  # "main" while the template's synchronous code runs, then "after"
    claimed: bool = False
    returned: bool = False
    draft: Response = field(default_factory=Response)
    queued: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failure: str | None = None
    sent: Response | None = None  # the draft as it was at returnResponse()
    tag_cookies: list[SetCookie] | None = None  # the container's cookies at returnResponse()
    live: Response | None = None  # the container's response, once handle() runs
    env: SandboxEnv | None = None

    def claim_request(self) -> None:
        if self.phase != "main":
            raise SandboxThrow("claimRequest must be called before the client code returns")
        self.claimed = True

    def return_response(self) -> None:
        if self.returned:
            self.warnings.append("returnResponse called again; ignored")
            return
        self.returned = True
        self.sent = copy.deepcopy(self.draft)
        self.tag_cookies = list(self.live.set_cookies) if self.live is not None else []
        if self.env is not None:
            self.env.response = _AfterReturn(self.warnings)

    def run_container(self, event: Any) -> int:
        if not isinstance(event, dict):
            raise SandboxThrow("runContainer: the event must be an object")
        if len(self.queued) >= MAX_EVENTS:
            raise SandboxThrow(f"runContainer: more than {MAX_EVENTS} events in one request")
        self.queued.append({k: v for k, v in event.items() if v is not UNDEFINED})
        return len(self.queued) - 1

    def set_cookie(self, name: str, value: str, options: dict[str, Any], no_encode: bool) -> None:
        if self.returned:
            self.warnings.append(f"setCookie({name!r}) after returnResponse; ignored")
            return
        self.draft.set_cookie(cookie_from_options(name, value, options, self.request, no_encode=no_encode))


class _AfterReturn:
    """The response object the sandbox writes to once the response was sent: every write is a warning."""

    _warnings: list[str]

    def __init__(self, warnings: list[str]):
        object.__setattr__(self, "_warnings", warnings)
        object.__setattr__(self, "headers", _IgnoredHeaders(warnings))

    def __setattr__(self, name: str, value: Any) -> None:
        self._warnings.append(f"response {name} written after returnResponse; ignored")


class _IgnoredHeaders(dict[str, str]):
    def __init__(self, warnings: list[str]):
        super().__init__()
        self._warnings = warnings

    def __setitem__(self, key: str, value: str) -> None:
        self._warnings.append(f"response header {key!r} written after returnResponse; ignored")

    def pop(self, key: str, default: Any = None) -> Any:
        self._warnings.append(f"response header {key!r} removed after returnResponse; ignored")
        return default

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._warnings.append("response headers written after returnResponse; ignored")


@dataclass
class _Pending:
    request: Request
    state: _ClientState
    env: SandboxEnv
    sandbox: Sandbox


class TemplateClient(Client):
    """A client whose behaviour is a ``.tpl`` client template (``type: template``)."""

    type = "template"
    default_name = "Template Client"

    def __init__(self, name: str | None = None, priority: int = 0, settings: dict[str, Any] | None = None, *,
                 template: CustomTemplate | None = None, enforce: str = DEFAULT_ENFORCEMENT,
                 time_limit: float = CLIENT_TIME_LIMIT_S, memory_limit: int = DEFAULT_MEMORY_LIMIT):
        super().__init__(name, priority, settings)
        if template is None:
            raise ConfigError(Problem(f"client {self.name!r}", "template", "a client of type 'template' needs a "
                                      ".tpl client template"))
        if template.type != "CLIENT":
            raise ConfigError(Problem(f"client {self.name!r}", "template",
                                      f"template {template.display_name!r} is a {template.type} template, "
                                      "not a client template"))
        self.template = template
        self.enforce = enforce
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self._storage: dict[str, Any] = {}
        self._storage_owner: Any = None
        self._storage_lock = threading.Lock()
        self._local = threading.local()
        self.transport: Transport | None = None  # the container's, set by the loader
        self.info: Any = None  # the container's ContainerInfo, set by the loader (None: the defaults)
        self.variables: Any = None  # the container's variables, set by the loader ({{refs}} in settings)

    def _storage_for(self, request: Request, preview: bool) -> dict[str, Any]:
        """``templateDataStorage``: kept between requests, except in preview mode where every request
        starts empty (as tag templates' storage does; claim() and handle() of one request share it)."""
        with self._storage_lock:
            if preview and self._storage_owner is not request:
                self._storage = {}
                self._storage_owner = request
            return self._storage

    # ------------------------------------------------------------------ the run
    def _data(self, request: Request | None = None) -> dict[str, Any]:
        data = dict(self.template.field_defaults())
        data.update(self.settings)
        if request is not None and _has_refs(self.settings):
            from ..core.variables import EventContext

            ctx = EventContext({}, request, self.name, self.variables or {}, self.info, run_now())
            data.update({k: _resolve(v, ctx) for k, v in self.settings.items()})
        return data

    def _send(self, state: _ClientState, method: str, url: str, headers: dict[str, str], body: bytes,
              timeout: float) -> Any:
        """``sendHttpRequest`` from the client: through the container's transport, noted in the report."""
        assert self.transport is not None
        shown = mask_secrets(url, url_secrets(url))  # the warning never shows an access_token
        try:
            response = run_transport(self.transport).send(method, url, headers, body, timeout)
        except Exception as exc:
            if state.env is not None:
                state.env.warnings.append(mask_secrets(f"client sendHttpRequest {method} {shown}: {exc}",
                                                       url_secrets(url)))
            raise
        if state.env is not None:
            state.env.warnings.append(f"client sendHttpRequest {method} {shown}: HTTP {response.status}")
        return response

    def _drop_pending(self) -> None:
        pending: _Pending | None = getattr(self._local, "pending", None)
        self._local.pending = None
        if pending is not None:
            pending.sandbox.close()

    def _start(self, request: Request) -> tuple[Claim, _Pending | None]:
        """Run the template's synchronous code; keep the sandbox when it claimed."""
        state = _ClientState(request=request)
        now = run_now()
        info = self.info
        preview = bool(getattr(info, "preview_mode", True))
        env = SandboxEnv(
            request=request, client_name=self.name, now=now,
            container_id=getattr(info, "container_id", "GTM-EMULATOR"), version=getattr(info, "version", "0"),
            environment_name=getattr(info, "environment_name", ""),
            debug_mode=bool(getattr(info, "debug_mode", True)), preview_mode=preview,
            path_prefix=getattr(info, "path_prefix", ""),
            pixel_refusal=PIXEL_REFUSAL,
            rng=random.Random(f"{now!r}|{request.method}|{request.url}|{self.name}"),
            send=(lambda *call: self._send(state, *call)) if self.transport is not None else None,
            set_cookie=state.set_cookie,
            response=state.draft, storage=run_storage(self._storage_for(request, preview)),
            is_client=True, client=state,
        )
        state.env = env
        try:
            sandbox = Sandbox(self.template, env, enforce=self.enforce, time_limit=self.time_limit,
                              memory_limit=self.memory_limit)
        except SandboxFailure as exc:
            return Claim(False, f"client template {self.name!r} cannot run: {exc}"), None
        try:
            sandbox.eval(f"__sandbox.runClient({fields_literal(self._data(request))}); 0")
            state.phase = "after"
            if state.claimed:
                sandbox.drain()
        except SandboxFailure as exc:
            state.phase = "after"
            if not state.claimed:
                sandbox.close()
                return Claim(False, f"the template threw before claiming the request: {exc}"), None
            state.failure = _describe(exc)
        if not state.claimed:
            sandbox.close()
            return Claim(False, "the template did not call claimRequest()"), None
        return Claim(True), _Pending(request, state, env, sandbox)

    def claim(self, request: Request) -> Claim:
        self._drop_pending()
        result, pending = self._start(request)
        self._local.pending = pending
        return result

    def events(self, request: Request, run: ClientRun) -> list[dict[str, Any]]:
        """Client templates run the container themselves; see :meth:`handle`."""
        raise RequestError(FAILURE_STATUS, f"client template {self.name!r} needs a container that calls handle()")

    def handle(self, request: Request, run: ClientRun, run_event: RunEvent) -> None:
        """Finish the run that :meth:`claim` started: run the queued events, call the template's
        callbacks; at ``returnResponse()`` the draft becomes the response. The container's response
        object is ``run.state["response"]`` (tags' cookies land there during ``run_event``).

        Raises RequestError(FAILURE_STATUS, reason) when the template fails before returning its
        response."""
        pending: _Pending | None = getattr(self._local, "pending", None)
        self._local.pending = None
        if pending is None or pending.request is not request:
            if pending is not None:
                pending.sandbox.close()
            claim, pending = self._start(request)
            if pending is None:
                raise RequestError(FAILURE_STATUS, f"client template {self.name!r} failed: {claim.reason}")
        response: Response = run.state["response"]
        try:
            with messages.request_scope() as bus:  # tags' sendMessage reaches the client's listeners
                pending.sandbox.join_bus(bus)
                self._finish(pending, run, run_event, response)
        finally:
            pending.sandbox.close()

    def _finish(self, pending: _Pending, run: ClientRun, run_event: RunEvent, response: Response) -> None:
        state, env, sandbox = pending.state, pending.env, pending.sandbox
        env.now = run.now
        env.rng = run.rng
        state.live = response
        failure = state.failure
        started_runs = 0
        try:
            while failure is None and started_runs < len(state.queued):
                index = started_runs
                started_runs += 1
                sandbox.eval(f"__sandbox.runStart({index}); 0")
                before = time.monotonic()
                event_report = run_event(state.queued[index])
                sandbox.deadline += time.monotonic() - before  # the container's time is not the template's
                sandbox.eval(f"__sandbox.runComplete({index}); 0")
                sandbox.drain()
                count, errors = call_event_callbacks(sandbox, index, env.container_id,
                                                     callback_payload(event_report))
                if count:
                    state.warnings.append(f"addEventCallback: {count} callback(s) of event {index} called after "
                                          "its tags finished")
                state.warnings.extend(f"an event callback threw: {e}" for e in errors)
            if failure is None:
                sandbox.drain()
                unbound = int(sandbox.eval("__sandbox.eventCallbacks.length") or 0)
                if unbound:
                    state.warnings.append(f"addEventCallback: {unbound} callback(s) were not bound to an event "
                                          "(a client must use bindToEvent(addEventCallback) in runContainer's "
                                          "onStart or onComplete); not called")
                errors = [str(e) for e in sandbox.state().get("errors") or []]
                if errors and not state.returned:
                    failure = f"a callback threw: {errors[0]}"
                for error in errors if state.returned else []:
                    state.warnings.append(f"an uncaught error in the client template: {error}")
        except SandboxFailure as exc:
            failure = _describe(exc)
        run.warnings.extend(f"client console: {line}" for line in env.console)
        run.warnings.extend(env.warnings + state.warnings + env.notes)
        if failure is None and not state.returned:
            failure = "it finished without calling returnResponse() (sGTM would time the request out)"
        if failure is not None and not state.returned:
            raise RequestError(FAILURE_STATUS, f"client template {self.name!r} failed: {failure}")
        if failure is not None:
            run.warnings.append(f"client template {self.name!r} failed after returnResponse: {failure}")
        sent = state.sent
        assert sent is not None
        kept = list(state.tag_cookies or [])
        late = [c.name for c in response.set_cookies if c not in kept]
        if late:
            run.warnings.append("cookies set by tags after returnResponse were not sent: " + ", ".join(late))
        response.status = sent.status
        response.headers.update(sent.headers)
        response.body = sent.body
        response.set_cookies = kept
        for cookie in sent.set_cookies:
            response.set_cookie(cookie)


def _has_refs(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, dict):
        return any(_has_refs(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_refs(v) for v in value)
    return False


def _resolve(value: Any, ctx: Any) -> Any:
    """A setting with its ``{{Variable}}`` references resolved (a lone reference keeps its type)."""
    from ..core.variables import Template as VarTemplate

    if isinstance(value, str) and "{{" in value:
        return VarTemplate(value).evaluate(ctx)
    if isinstance(value, dict):
        return {k: _resolve(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, ctx) for v in value]
    return value


def _describe(exc: SandboxFailure) -> str:
    return f"the template threw: {exc}" if exc.kind == "exception" else str(exc)


__all__ = ["CLIENT_TIME_LIMIT_S", "FAILURE_STATUS", "SPLIT", "TemplateClient"]
