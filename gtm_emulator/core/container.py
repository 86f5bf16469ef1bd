"""The container runtime: Request → clients → one run per event → triggers → tags → Report.

Pure: no Flask, no sockets, no files. The clock (``now``), randomness and the vendor transport are
inputs, so a run is reproducible (docs/architecture.md, "The path of a request").

Order of work for one request:

1. Clients are tried by priority (highest first; equal priorities keep config order). The first
   that claims the request handles it; when none does, the answer is 400 naming each client's
   reason.
2. The client turns the request into events. Bad input is a 4xx with the client's reason.
3. For each event, in order: every tag's firing and blocking triggers are evaluated (each trigger
   once per event, every condition traced); tags that fire run in priority order (highest first,
   equal priorities in config order), each with its setup tags before it and its cleanup tags
   after it; each tag sees its own copy of the event data.
4. The client builds the response; cookies set by tags during any event join it.

A client with a ``handle(request, run, run_event)`` method (a client template) replaces steps 2-4:
it runs the container itself, one ``run_event(event_data)`` call per event, and writes the response.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..clients.base import Client, ClientRun
from ..errors import NotEmulated, RequestError, TagError
from ..tags.base import AfterTags, TagContext, TagType, run_after_tags
from ..vendors.transport import DEFAULT_TIMEOUT_S, MockTransport, Transport
from .clock import run_transport
from .clock import state as clock_state
from .event_data import copy_event_data
from .report import EventReport, Masker, Report, TagResult, TriggerTrace
from .request import Request, Response, display_text
from .statuses import BLOCKED, FAILURE, NOT_EMULATED, NOT_FIRED, PAUSED, SUCCESS, FiringOption, TagStatus, TriggerRole
from .transformations import Transformation, ordered, transformed_context
from .triggers import Trigger
from .variables import BUILTIN_SPECS, ContainerInfo, EventContext, Template, Variable, VariableCycleError

ALL_EVENTS = "All Events"  # the built-in trigger every container has
ALL_EVENTS_ID = "2147479574"

# Built-in variables the report's variable view shows for every event (with report_all_variables), as
# Tag Assistant lists the enabled built-ins: every pure one (Random Number would draw from the seeded
# generator the tags use).
REPORTED_BUILTINS: tuple[str, ...] = tuple(name for name, spec in BUILTIN_SPECS.items()
                                            if spec.pure and not name.startswith("_"))


class LazyRandom:
    """A ``random.Random`` seeded on first use: seeding costs microseconds, and most runs never
    draw a number. Every attribute is the seeded generator's. ``seed`` may be a callable that
    returns the seed (so that it is not even computed when no number is drawn)."""

    def __init__(self, seed: Any):
        self._seed = seed
        self._rng: random.Random | None = None

    def __getattr__(self, name: str) -> Any:
        rng = self._rng
        if rng is None:
            seed = self._seed() if callable(self._seed) else self._seed
            rng = self._rng = random.Random(seed)
        return getattr(rng, name)


def request_seed(now: float, request: Request) -> bytes:
    """The default seed of a run: the clock and the request line (so the same input draws the same
    numbers)."""
    return f"{now!r}|{request.method}|{request.url}".encode("utf-8", "surrogateescape")


@dataclass
class SequenceStep:
    tag: str
    stop_on_failure: bool = False


@dataclass
class TagConfig:
    """One tag of the container, compiled."""

    name: str
    type: str
    impl: TagType
    params: dict[str, Template] = field(default_factory=dict)
    firing_triggers: list[str] = field(default_factory=list)
    blocking_triggers: list[str] = field(default_factory=list)
    priority: int = 0
    paused: bool = False
    firing_option: FiringOption = "once_per_event"
    setup_tags: list[SequenceStep] = field(default_factory=list)
    teardown_tags: list[SequenceStep] = field(default_factory=list)
    secret_params: frozenset[str] = frozenset()
    id: str | None = None
    export_type: str | None = None  # the GTM type code of an imported tag (transformations select by it)

    @property
    def reads_event_data_only(self) -> bool:
        """Whether the tag type declares that it never changes the event data it is given (so it
        needs no copy of its own)."""
        return bool(getattr(self.impl, "reads_event_data_only", False))


@dataclass
class Settings:
    debug_mode: bool = True
    preview_mode: bool = True
    environment_name: str = ""
    tag_timeout_seconds: float = 30.0
    request_timeout_seconds: float = 30.0  # every tag of a request, together, HTTP calls included
    http_timeout_seconds: float = DEFAULT_TIMEOUT_S
    max_body_bytes: int = 1_048_576
    report_all_variables: bool = True
    not_emulated_tags_fail: bool = False
    path_prefix: str = ""  # the server container URL's path ("/analytics"), removed from Request Path
    firestore_file: str = ""  # JSON documents that Firestore Lookup variables read (path relative to the container)
    visitor_region: dict[str, Any] | None = None  # {country, region} when no geo header says it


class Container:
    """A loaded container. Build one with :func:`gtm_emulator.load_container`."""

    def __init__(
        self,
        *,
        name: str,
        clients: list[Client],
        tags: list[TagConfig],
        triggers: Mapping[str, Trigger] | None = None,
        variables: Mapping[str, Variable] | None = None,
        container_id: str = "GTM-EMULATOR",
        version: str = "0",
        settings: Settings | None = None,
        transport: Transport | None = None,
        secrets: set[str] | None = None,
        source: str | None = None,
        config: dict[str, Any] | None = None,
        vendors: dict[str, Any] | None = None,
        load_warnings: list[str] | None = None,
        transformations: list[Transformation] | None = None,
    ):
        self.name = name
        self.clients = sorted(clients, key=lambda c: -c.priority)  # stable: equal keep file order
        self.tags = tags
        self.tags_by_name = {t.name: t for t in tags}
        self.triggers = dict(triggers or {})
        self.variables = dict(variables or {})
        self.settings = settings or Settings()
        self.info = ContainerInfo(
            container_id=container_id,
            version=version,
            environment_name=self.settings.environment_name,
            debug_mode=self.settings.debug_mode,
            preview_mode=self.settings.preview_mode,
            path_prefix=self.settings.path_prefix,
            client_types={c.name: c.type for c in self.clients},
        )
        self.transport: Transport = transport or MockTransport()
        self.secrets = set(secrets or ())
        self._masker = Masker(self.secrets)
        self.source = source
        self.config = config or {}
        self.vendors = vendors or {}
        self.transformations = ordered(transformations or [])
        self.load_warnings = list(load_warnings or [])  # things that load but may not do what you expect
        self.load_notes: list[str] = []  # what an export import chose (e.g. native TikTok tag or its template)
        self.resources: list[Any] = []  # kept alive with the container (e.g. a converted export's folder)
        # Tags in firing order: priority high to low, ties in config order.
        self._firing_order = sorted(range(len(tags)), key=lambda i: -tags[i].priority)

    # ------------------------------------------------------------------ public API

    def set_mode(self, *, preview: bool) -> None:
        """Run as in GTM's Preview (debug and preview mode on, the emulator's default) or as a
        published container serving production traffic (both off): the Debug Mode variable,
        ``getContainerVersion()`` and tags that log only in debug mode follow it."""
        self.settings.debug_mode = self.settings.preview_mode = preview
        self.info.debug_mode = self.info.preview_mode = preview

    def set_path_prefix(self, prefix: str) -> None:
        """The path of the server container's URL (``/analytics``), removed from Request Path and
        ``getRequestPath`` (the container setting ``path_prefix``)."""
        self.settings.path_prefix = self.info.path_prefix = prefix

    @property
    def tiktok_mock(self) -> Any:
        """The in-process mock TikTok Events API (None when the container runs live)."""
        return self.vendors.get("tiktok")

    @property
    def ga4_mock(self) -> Any:
        """The in-process mock GA4 collection endpoint (None when the container runs live)."""
        return self.vendors.get("ga4")

    def simulate(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | str = b"",
        cookies: Mapping[str, str] | None = None,
        remote_addr: str = "127.0.0.1",
        now: float | None = None,
    ) -> Report:
        """Run one HTTP request through the container in-process and return its report."""
        request = Request.build(method, url, headers=headers, body=body, cookies=cookies, remote_addr=remote_addr)
        return self.handle(request, now=now)

    def handle(self, request: Request, *, now: float | None = None, seed: Any = None,
               explain: bool = True, replay: Transport | None = None) -> Report:
        """The report of one request. ``now`` (epoch seconds) fixes the clock; randomness is seeded
        from ``now`` and the request, so the same input gives the same report.

        ``explain=False`` is for bulk runs that only count outcomes (replay, serve): triggers are
        decided by their compiled matchers without a per-condition trace, and the variable view
        holds only the variables that were used. What fires, what is sent and every status are the
        same.

        ``replay`` makes the run a re-run (Preview explaining a stored request): every outgoing call
        goes to that transport instead of the container's, and templates get a copy of their
        ``templateDataStorage``, so the run changes nothing the container keeps."""
        now = time.time() if now is None else float(now)
        local = clock_state()
        previous, previous_deadline = getattr(local, "now", None), getattr(local, "deadline", None)
        previous_transport = getattr(local, "transport", None)
        local.now = now  # what clock.running_at does, without a generator per request
        # every tag of the request shares this budget (Settings.request_timeout_seconds)
        local.deadline = time.monotonic() + self.settings.request_timeout_seconds
        local.transport = replay
        try:
            report = self._handle(request, now, seed, explain)
            report.now = now
            return report
        finally:
            local.now, local.deadline, local.transport = previous, previous_deadline, previous_transport

    def _handle(self, request: Request, now: float, seed: Any, explain: bool = True) -> Report:
        rng: Any = LazyRandom(seed if seed is not None else lambda: request_seed(now, request))
        response = Response()
        secrets = set(self.secrets)

        if len(request.body) > self.settings.max_body_bytes:
            reason = (f"request body is {len(request.body)} bytes; the limit is "
                      f"{self.settings.max_body_bytes} bytes")
            return self._refuse(request, None, 413, reason)

        client, reasons = self._claiming_client(request)
        if client is None:
            detail = "; ".join(f"{name}: {why}" for name, why in reasons) or "the container has no clients"
            return self._refuse(request, None, 400, f"no client claimed the request ({detail})")

        run = ClientRun(now=now, rng=rng)
        handle = getattr(client, "handle", None)
        if handle is not None:  # a client that runs the container itself (client templates)
            return self._handle_by_client(handle, request, client.name, run, response, secrets, explain)
        try:
            events = client.events(request, run)
        except RequestError as exc:
            secrets |= run.secrets
            return self._masked(self._refuse(request, client.name, exc.status, exc.reason, run.warnings), secrets)
        secrets |= run.secrets

        reports = [self.run_event(event, request, client.name, response, now, rng, secrets, explain)
                   for event in events]
        client.respond(request, run, response, reports)
        report = Report(request=request, client=client.name, response=response, events=reports,
                        warnings=list(run.warnings))
        return self._masked(report, secrets)

    # ------------------------------------------------------------------ internals

    def _handle_by_client(self, handle: Any, request: Request, client_name: str, run: ClientRun,
                          response: Response, secrets: set[str], explain: bool) -> Report:
        """``client.handle(request, run, run_event)``: the client calls ``run_event(event_data)`` once per
        event and fills in the response, which it finds as ``run.state["response"]``. A RequestError
        from it refuses the request; the events that already ran stay in the report."""
        reports: list[EventReport] = []

        def run_event(event_data: dict[str, Any]) -> EventReport:
            event = self.run_event(event_data, request, client_name, response, run.now, run.rng, secrets, explain)
            reports.append(event)
            return event

        run.state["response"] = response
        try:
            handle(request, run, run_event)
        except RequestError as exc:
            refused = self._refuse(request, client_name, exc.status, exc.reason, run.warnings)
            refused.events = reports
            return self._masked(refused, secrets)
        report = Report(request=request, client=client_name, response=response, events=reports,
                        warnings=list(run.warnings))
        return self._masked(report, secrets)

    def _claiming_client(self, request: Request) -> tuple[Client | None, list[tuple[str, str]]]:
        reasons: list[tuple[str, str]] = []
        for client in self.clients:
            claim = client.claim(request)
            if claim.claimed:
                return client, reasons
            reasons.append((client.name, claim.reason))
        return None, reasons

    def _refuse(self, request: Request, client: str | None, status: int, reason: str,
                warnings: list[str] | None = None) -> Report:
        reason = display_text(reason)
        response = Response(status=status, headers={"content-type": "text/plain; charset=utf-8"},
                            body=(reason + "\n").encode("utf-8"))
        return Report(request=request, client=client, response=response, events=[], reason=reason,
                      warnings=list(warnings or []))

    def _masked(self, report: Report, secrets: set[str]) -> Report:
        """Mask secrets in the report. A part is walked only when its raw text contains a secret
        (a substring search), which keeps masking off the hot path."""
        masker = self._masker if secrets == self.secrets else Masker(secrets)
        if not masker:
            return report
        request = report.request
        texts = [request.query, request.path, *[value for _, value in request.headers]]
        if request.body:
            texts.append(request.body.decode("utf-8", "replace"))
        in_request = masker.holds("\n".join(texts))  # one search (a match across parts only costs a walk)
        if in_request:  # a secret the request itself carries (a Measurement Protocol api_secret)
            report.request = replace(
                request, query=masker.text(request.query), path=masker.text(request.path),
                headers=tuple((k, masker.text(v)) for k, v in request.headers),
                body=masker.text(request.body.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape"))
        for event in report.events:
            if in_request:
                event.event_data = masker.mask(event.event_data)
            for name, value in event.variables.items():
                if isinstance(value, str):
                    if masker.holds(value):
                        event.variables[name] = masker.text(value)
                elif isinstance(value, (dict, list)):
                    event.variables[name] = masker.mask(value)
            # one substring search over everything else; the parts are walked only when it finds one
            rest = [*event.console, *event.warnings]
            for out in event.outgoing:
                rest += (out.raw_text, repr(out.headers), out.error or "", *out.warnings)
            for tag in event.tags:
                rest += (tag.error or "", *tag.warnings)
            if not masker.holds("\n".join(rest)):
                continue
            event.console = masker.strings(event.console)
            event.warnings = masker.strings(event.warnings)
            for out in event.outgoing:
                if masker.holds(out.raw_text) or masker.holds(repr(out.headers)) or masker.holds(out.error or ""):
                    out.url = masker.text(out.url)
                    out.headers = masker.mask(out.headers)
                    out.body = masker.mask(out.body)
                    out.response = masker.mask(out.response)
                    out.response_text = masker.mask(out.response_text)
                    out.error = masker.mask(out.error)
                out.warnings = masker.strings(out.warnings)
            for tag in event.tags:
                if tag.error:
                    tag.error = masker.text(tag.error)
                tag.warnings = masker.strings(tag.warnings)
        return report

    def run_event(
        self,
        event_data: dict[str, Any],
        request: Request,
        client_name: str | None,
        response: Response,
        now: float,
        rng: random.Random,
        secrets: set[str],
        explain: bool = True,
    ) -> EventReport:
        """One container run (``runContainer``) for one event."""
        ctx = EventContext(event_data=event_data, request=request, client_name=client_name,
                           variables=self.variables, info=self.info, now=now, rng=rng)
        ctx.response = response  # variable templates may set cookies on it
        report = EventReport(event_data=event_data)
        traces: dict[str, TriggerTrace] = {}
        results: dict[str, TagResult] = {}
        to_fire: set[str] = set()
        for tag in self.tags:
            fires = blocked = False
            tag_traces = []
            roles: tuple[tuple[list[str], TriggerRole], ...] = ((tag.firing_triggers, "firing"),
                                                                (tag.blocking_triggers, "blocking"))
            for names, role in roles:
                for name in names:
                    cached = traces.get(name)
                    if cached is None:
                        cached = traces[name] = self._trace(name, role, ctx, report, explain)
                    if cached.role != role:
                        cached = TriggerTrace(cached.name, role, cached.matched, cached.conditions)
                    tag_traces.append(cached)
                    if cached.matched:
                        if role == "firing":
                            fires = True
                        else:
                            blocked = True
            status: TagStatus
            if tag.paused:
                status = PAUSED
            elif fires and blocked:
                status = BLOCKED
            else:
                status = NOT_FIRED  # a tag that fires is not_fired until it runs
                if fires:
                    to_fire.add(tag.name)
            results[tag.name] = TagResult(tag.name, tag.type, False, status, tag_traces)

        start_order: list[str] = []
        if to_fire:
            runner = _EventRunner(self, ctx, request, response, now, rng, results, report, secrets)
            for index in self._firing_order:
                tag = self.tags[index]
                if tag.name in to_fire:
                    runner.run_sequence(tag, ())
            start_order = runner.start_order
        if start_order:
            report.tags = [results[t.name] for t in self._ordered_results(start_order)]
        else:
            report.tags = list(results.values())
        if to_fire and runner.after_tags:  # addEventCallback: once all tags of the event have finished
            run_after_tags(runner.after_tags, report, secrets)
        if explain and self.settings.report_all_variables:
            for name in (*self.variables, *REPORTED_BUILTINS):
                try:
                    ctx.get(name)
                except VariableCycleError as exc:
                    report.warnings.append(f"variable {name!r}: cycle {exc}")
        report.variables = dict(ctx.resolved)
        if ctx.warnings:
            report.warnings.extend(ctx.warnings)
        return report

    def _trace(self, name: str, role: TriggerRole, ctx: EventContext, report: EventReport,
               explain: bool) -> TriggerTrace:
        """A trigger's verdict for one event: with every condition traced, or (``explain=False``)
        from its compiled matcher alone."""
        trigger = self.triggers.get(name)
        if trigger is None:  # "All Events" (built in)
            return TriggerTrace(name, role, True, [])
        try:
            if explain:
                return trigger.trace(ctx, role)
            return TriggerTrace(name, role, trigger.matches(ctx), [])
        except VariableCycleError as exc:
            report.warnings.append(f"trigger {name!r}: variable cycle {exc}")
            return TriggerTrace(name, role, False, [])

    def _ordered_results(self, start_order: list[str]) -> list[TagConfig]:
        """Report order: tags in the order they started, then the others in config order."""
        if not start_order:
            return self.tags
        started = set(start_order)
        return [self.tags_by_name[n] for n in start_order] + [t for t in self.tags if t.name not in started]


class _EventRunner:
    """Runs the tags of one event with GTM's sequencing and firing options."""

    def __init__(self, container: Container, ctx: EventContext, request: Request, response: Response,
                 now: float, rng: random.Random, results: dict[str, TagResult], report: EventReport,
                 secrets: set[str]):
        self.container = container
        self.ctx = ctx
        self.request = request
        self.response = response
        self.now = now
        self.rng = rng
        self.results = results
        self.report = report
        self.secrets = secrets
        self.start_order: list[str] = []
        self.done: dict[str, TagStatus] = {}  # tag name -> final status of its (first) run
        self.after_tags: list[AfterTags] = []

    def run_sequence(self, tag: TagConfig, stack: tuple[str, ...], role: str | None = None) -> TagStatus:
        """Fire ``tag`` with its setup and cleanup tags; returns the status it ended with."""
        result = self.results[tag.name]
        if tag.name in self.done and tag.firing_option != "unlimited":
            return self.done[tag.name]
        if role:
            result.notes.append(role)
        if tag.paused:
            self.done[tag.name] = PAUSED
            return PAUSED
        for step in tag.setup_tags:
            setup = self.container.tags_by_name[step.tag]
            status = self.run_sequence(setup, (*stack, tag.name), f"fired as setup tag of {tag.name!r}")
            if step.stop_on_failure and status != SUCCESS:
                result.status = NOT_FIRED
                result.error = f"setup tag {step.tag!r} ended with {status}; stop_on_failure is set"
                self.done[tag.name] = NOT_FIRED
                return NOT_FIRED
        status = self.execute(tag)
        for step in tag.teardown_tags:
            if step.stop_on_failure and status == FAILURE:
                result.notes.append(f"cleanup tag {step.tag!r} not fired: this tag failed")
                continue
            cleanup = self.container.tags_by_name[step.tag]
            self.run_sequence(cleanup, (*stack, tag.name), f"fired as cleanup tag of {tag.name!r}")
        return status

    @staticmethod
    def _deadline(tag_timeout: float) -> float:
        """When the tag must be done: its own timeout, within what is left of the request's."""
        own = time.monotonic() + tag_timeout
        request_deadline = getattr(clock_state(), "deadline", None)
        return own if request_deadline is None else min(own, request_deadline)

    def execute(self, tag: TagConfig) -> TagStatus:
        result = self.results[tag.name]
        if tag.name not in self.start_order:
            self.start_order.append(tag.name)
        settings = self.container.settings
        ctx = self.ctx
        if self.container.transformations:
            types = (tag.type, tag.export_type) if tag.export_type else (tag.type,)
            own, applied = transformed_context(self.container.transformations, tag.name, types, self.ctx)
            if own is not None:
                ctx = own
                result.transformations = applied
        tctx = TagContext(
            tag_name=tag.name,
            # each tag sees its own copy, except tag types that declare they never change it
            event_data=ctx.event_data if tag.reads_event_data_only or ctx is not self.ctx
            else copy_event_data(ctx.event_data),
            request=self.request,
            response=self.response,
            transport=run_transport(self.container.transport),
            now=self.now,
            rng=self.rng,
            info=self.container.info,
            client_name=ctx.client_name,
            timeout=settings.http_timeout_seconds,
            after_tags=self.after_tags,
            deadline=self._deadline(settings.tag_timeout_seconds),
        )
        started = time.perf_counter()
        status: TagStatus
        error: str | None
        try:
            params = {key: template.evaluate(ctx) for key, template in tag.params.items()}
            for key in tag.secret_params:
                value = params.get(key)
                if isinstance(value, str) and value:
                    self.secrets.add(value)
            tag.impl.run(params, tctx)
            status, error = SUCCESS, None
        except NotEmulated as exc:
            status, error = (FAILURE if settings.not_emulated_tags_fail else NOT_EMULATED), str(exc)
            result.would_read = exc.would_read
        except TagError as exc:
            status, error = FAILURE, str(exc)
        except VariableCycleError as exc:
            status, error = FAILURE, f"variable cycle: {exc}"
        except Exception as exc:  # a tag that raises is a failed tag, never a crashed request
            status, error = FAILURE, f"{type(exc).__name__}: {exc}"
            tctx.console.append(f"uncaught exception in tag {tag.name!r}: {error}")
        elapsed = time.perf_counter() - started
        if status == SUCCESS and elapsed > settings.tag_timeout_seconds:
            status, error = FAILURE, f"timed out after {elapsed:.1f} s (limit {settings.tag_timeout_seconds:g} s)"
        self.secrets.update(tctx.secrets)
        result.fired = True
        result.status = status
        result.error = error
        result.duration_ms = elapsed * 1000
        result.vendor_rejected = result.vendor_rejected or tctx.vendor_rejected
        result.warnings.extend(tctx.warnings)
        result.notes.extend(tctx.notes)
        self.report.outgoing.extend(tctx.outgoing)
        self.report.console.extend(tctx.console)
        self.done[tag.name] = status
        return status
