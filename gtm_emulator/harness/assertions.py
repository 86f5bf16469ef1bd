"""Testing helpers for users of gtm_emulator: assertions on reports and a real server in a thread.

The assertion helpers raise :class:`AssertionError` whose message explains the whole decision, the
way ``responses`` lists every registered mock and why it did not match: every event of the request,
every tag with its status, and for each trigger that did not match the conditions that failed with
both operands. A failing ``assert_payload`` lists each outgoing request of the tag and every field
that differs.

>>> from gtm_emulator import load_container
>>> from gtm_emulator.harness.assertions import assert_tag_fired, assert_payload
>>> report = load_container().simulate("GET", "/g/collect?v=2&tid=G-1&cid=1.2&en=purchase", now=1700000000)
>>> assert_tag_fired(report, "TikTok - purchase")
>>> assert_payload(report, "TikTok - purchase", paths={"data[0].event": "CompletePayment"})

Subset matching (``assert_payload``, scenario files): an expected object matches when each of its
keys is present in the actual object and its value matches; an expected list matches an actual list
of the same length element by element (``LIST_MATCH``); other values match when they are equal and of
the same JSON type (``true`` does not match ``1``; ``1`` matches ``1.0``).

Paths (``paths=`` and the keys of a scenario's ``payload``) address values inside a body:
``data[0].properties.contents[1].content_id``; a key holding dots or brackets is written in quotes,
``user["x.y"]``; a leading ``$`` or ``$.`` is allowed (the report's JSON-path style).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..core.js import type_of
from ..core.report import (
    ConditionTrace,
    EventReport,
    Outgoing,
    Report,
    TagResult,
    TriggerTrace,
    describe_transformation,
)
from ..core.statuses import FAILURE, PAUSED
from ..errors import PathSyntaxError

__all__ = [
    "LIST_MATCH",
    "MISSING",
    "EmulatorServer",
    "PathSyntaxError",
    "assert_payload",
    "assert_status",
    "assert_tag_fired",
    "assert_tag_not_fired",
    "assert_tag_succeeded",
    "assert_vendor_ok",
    "check_fired",
    "check_not_fired",
    "check_payload",
    "check_status",
    "check_succeeded",
    "check_vendor_ok",
    "describe_report",
    "parse_path",
    "subset_mismatches",
    "value_at",
]

# How an expected list matches an actual list: "same_length" (element by element, equal lengths).
LIST_MATCH = "same_length"
MAX_SHOWN = 160  # characters of a value shown in a message before it is cut
MAX_EVENTS_SHOWN = 20
POLL_INTERVAL_S = 0.05  # how soon EmulatorServer.stop() takes effect


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


# ---------------------------------------------------------------------------------------------- paths

_PATH_TOKEN = re.compile(r"""\.?([^.\[\]"']+)|\[(\d+)\]|\[(["'])(.*?)\3\]""")


def parse_path(path: str) -> list[str | int]:
    """``data[0].properties["a.b"]`` into ``["data", 0, "properties", "a.b"]``."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _PATH_TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise PathSyntaxError(f"cannot parse path {path!r} at character {pos + (len(path) - len(text)) + 1}")
        if match.group(1) is not None:
            if pos > 0 and not text.startswith(".", pos):
                raise PathSyntaxError(f"cannot parse path {path!r}: expected '.' or '[' before {match.group(1)!r}")
            parts.append(match.group(1))
        elif match.group(2) is not None:
            parts.append(int(match.group(2)))
        else:
            parts.append(match.group(4))
        pos = match.end()
    if not parts:
        raise PathSyntaxError(f"empty path {path!r}")
    return parts


def format_path(parts: Iterable[str | int]) -> str:
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][\w-]*", part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def value_at(value: Any, path: str | list[str | int]) -> Any:
    """The value at ``path`` inside ``value``, or :data:`MISSING`."""
    parts = parse_path(path) if isinstance(path, str) else path
    for part in parts:
        if isinstance(part, int) and isinstance(value, list):
            if part >= len(value):
                return MISSING
            value = value[part]
        elif isinstance(value, dict):
            key = str(part)
            if key not in value:
                return MISSING
            value = value[key]
        else:
            return MISSING
    return value


# ---------------------------------------------------------------------------------------------- matching


def show(value: Any) -> str:
    """A value as JSON, cut to ``MAX_SHOWN`` characters."""
    if value is MISSING:
        return "<missing>"
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def subset_mismatches(actual: Any, expected: Any, path: list[str | int] | None = None) -> list[str]:
    """Every place where ``expected`` is not a subset of ``actual``: ``"$.a[0].b: expected …, got …"``."""
    path = list(path or [])
    where = format_path(path)
    if actual is MISSING:
        return [f"{where}: missing (expected {show(expected)})"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object {show(expected)}, got {type_of(actual)} {show(actual)}"]
        out: list[str] = []
        for key, value in expected.items():
            out.extend(subset_mismatches(actual.get(key, MISSING), value, [*path, key]))
        return out
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)):
            return [f"{where}: expected an array {show(expected)}, got {type_of(actual)} {show(actual)}"]
        if len(actual) != len(expected):
            return [f"{where}: expected an array of {len(expected)} items, got {len(actual)}: {show(actual)}"]
        out = []
        for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
            out.extend(subset_mismatches(a, e, [*path, index]))
        return out
    if type_of(actual) != type_of(expected) or actual != expected:
        return [f"{where}: expected {show(expected)}, got {show(actual)}"]
    return []


# ---------------------------------------------------------------------------------------------- describing


def _request_line(report: Report) -> str:
    req = report.request
    line = f"{req.method} {req.url} -> {report.response.status} (client: {report.client or 'none claimed it'})"
    if report.reason:
        line += f"; {report.reason}"
    return line


def _describe_condition(cond: ConditionTrace) -> str:
    op = ("not " if cond.negate else "") + cond.operator
    if cond.ignore_case:
        op += " (ignore case)"
    left, right = cond.to_dict()["left"], cond.to_dict()["right"]
    text = f"{{{{{cond.variable}}}}} {op} {show(right)}: {'true' if cond.result else 'false'} " \
           f"(left {show(left)}, right {show(right)})"
    if cond.error:
        text += f" ({cond.error})"
    for note in cond.notes:
        text += f" [{note}]"
    return text


def _describe_trigger(trig: TriggerTrace) -> list[str]:
    if trig.matched:
        verdict = "matched, so the tag is blocked" if trig.role == "blocking" else "matched"
        return [f"{trig.role} trigger {trig.name!r}: {verdict}"]
    lines = [f"{trig.role} trigger {trig.name!r}: no match"]
    if trig.role == "blocking":  # the usual case; its conditions would only be noise
        return lines
    failed = [c for c in trig.conditions if not c.result]
    lines.extend("  ✗ " + _describe_condition(c) for c in failed)
    return lines


def describe_tag(tag: TagResult, outgoing: Iterable[Outgoing] = ()) -> list[str]:
    """Lines on one tag: status, error, each trigger and the conditions that failed."""
    head = f"{tag.name!r} ({tag.type}): {tag.status}"
    if tag.vendor_rejected:
        head += ", rejected by the vendor"
    lines = [head]
    if tag.status == PAUSED:
        lines.append("  the tag is paused")
    if tag.error:
        lines.append(f"  error: {tag.error}")
    if not tag.triggers and tag.status not in (PAUSED,):
        lines.append("  no firing triggers")
    for trig in tag.triggers:
        lines.extend("  " + line for line in _describe_trigger(trig))
    for note in tag.notes:
        lines.append(f"  note: {note}")
    for applied in tag.transformations:
        lines.append("  " + describe_transformation(applied))
    if tag.would_read is not None:
        lines.append(f"  not emulated; it would have read: {show(tag.would_read)}")
    for warning in tag.warnings:
        lines.append(f"  vendor said: {warning}")
    if tag.status == FAILURE or tag.vendor_rejected:
        for out in outgoing:
            if out.tag == tag.name and not out.vendor_ok:
                lines.append(f"  {out.method} {out.url} -> {_outcome(out)}")
    return lines


def _outcome(out: Outgoing) -> str:
    if out.response is None:
        return f"no answer ({out.error})" if out.error else "no answer"
    return f"{out.response.get('status')} {show(out.response.get('body'))}"


def describe_event(index: int, event: EventReport) -> list[str]:
    lines = [f"event {index} ({show(event.event_name)}):"]
    if not event.tags:
        lines.append("  the container has no tags")
    for tag in event.tags:
        lines.extend("  " + line for line in describe_tag(tag, event.outgoing))
    return lines


def describe_report(report: Report) -> str:
    """The request, then every event with every tag: status, triggers, failed conditions (both operands)."""
    lines = [_request_line(report)]
    if not report.events:
        lines.append("no events: " + ("the request was refused" if report.reason else "the client built none"))
    for index, event in enumerate(report.events[:MAX_EVENTS_SHOWN]):
        lines.extend(describe_event(index, event))
    if len(report.events) > MAX_EVENTS_SHOWN:
        lines.append(f"… and {len(report.events) - MAX_EVENTS_SHOWN} more events")
    return "\n".join(lines)


def _tag_names(report: Report) -> list[str]:
    names: list[str] = []
    for tag in report.iter_tags():
        if tag.name not in names:
            names.append(tag.name)
    return names


def _unknown_tag(report: Report, name: str) -> str | None:
    names = _tag_names(report)
    if name in names or not report.events:
        return None
    return f"no tag named {name!r} in the report; its tags: {', '.join(repr(n) for n in names) or 'none'}"


# ---------------------------------------------------------------------------------------------- checks
# Each check returns None when it holds, else the full failure message.


def _with_report(head: str, report: Report, explain: bool) -> str:
    return f"{head}\n{describe_report(report)}" if explain else head


def check_fired(report: Report, name: str, *, explain: bool = True) -> str | None:
    """None when the tag fired on some event; else why not (``explain``: with the whole report)."""
    if report.fired(name):
        return None
    unknown = _unknown_tag(report, name)
    return _with_report(unknown or f"tag {name!r} did not fire", report, explain)


def check_succeeded(report: Report, name: str, *, explain: bool = True) -> str | None:
    """None when the tag ran with status ``success`` on some event. A ``not_emulated`` tag (a Google
    Ads, Floodlight or Conversion Linker tag, or an imported unknown type) never counts: the
    message says so and shows what it would have read."""
    results = report.tag_results(name)
    if any(t.status == "success" for t in results):
        return None
    unknown = _unknown_tag(report, name)
    statuses = sorted({t.status for t in results})
    head = unknown or f"tag {name!r} did not succeed (status: {', '.join(statuses) or 'none'})"
    if "not_emulated" in statuses:
        head += "; the emulator does not emulate this tag type, so it cannot report success"
    return _with_report(head, report, explain)


def check_not_fired(report: Report, name: str, *, explain: bool = True) -> str | None:
    fired_on = [i for i, e in enumerate(report.events) if any(t.name == name and t.fired for t in e.tags)]
    if not fired_on:
        return None
    events = ", ".join(f"event {i} ({show(report.events[i].event_name)})" for i in fired_on)
    return _with_report(f"tag {name!r} fired on {events}, expected it not to fire", report, explain)


def check_payload(report: Report, tag: str, subset: Any = None,
                  paths: Mapping[str, Any] | None = None, *, explain: bool = True) -> str | None:
    """None when some outgoing request of ``tag`` has a body matching ``subset`` and every ``paths`` entry."""
    compiled: list[tuple[list[str | int], Any]] = [(parse_path(p), v) for p, v in (paths or {}).items()]
    sent = [(i, o) for i, e in enumerate(report.events) for o in e.outgoing if o.tag == tag]
    if not sent:
        unknown = _unknown_tag(report, tag)
        return _with_report(unknown or f"tag {tag!r} sent no request", report, explain)
    blocks = []
    for number, (index, out) in enumerate(sent, 1):
        problems = subset_mismatches(out.body, subset) if subset is not None else []
        for parts, expected in compiled:
            problems.extend(subset_mismatches(value_at(out.body, parts), expected, parts))
        if not problems:
            return None
        event_name = show(report.events[index].event_name)
        blocks.append(f"  request {number} of {len(sent)} (event {index} {event_name}, {out.method} {out.url}):")
        blocks.extend("    " + p for p in problems)
    return f"no request of tag {tag!r} has the expected payload\n" + "\n".join(blocks)


def check_vendor_ok(report: Report, tag: str, expected: bool = True, *, explain: bool = True) -> str | None:
    """``expected=True``: the tag sent something and the vendor accepted all of it; False: some was refused."""
    sent = [o for o in report.outgoing if o.tag == tag]
    if not sent:
        unknown = _unknown_tag(report, tag)
        return _with_report(unknown or f"tag {tag!r} sent no request to a vendor", report, explain)
    refused = [o for o in sent if not o.vendor_ok]
    if expected and not refused:
        return None
    if not expected and refused:
        return None
    lines = [f"expected the vendor to {'accept' if expected else 'refuse'} the requests of tag {tag!r}"]
    for out in sent:
        verdict = "accepted" if out.vendor_ok else "refused"
        lines.append(f"  {out.method} {out.url} -> {_outcome(out)}: {verdict}")
        lines.extend(f"    {w}" for w in out.warnings)
    return "\n".join(lines)


def check_status(report: Report, status: int, *, explain: bool = True) -> str | None:
    if report.response.status == status:
        return None
    return _with_report(f"expected response status {status}, got {report.response.status}", report, explain)


# ---------------------------------------------------------------------------------------------- assertions


def _raise(message: str | None) -> None:
    __tracebackhide__ = True
    if message is not None:
        raise AssertionError(message)


def assert_tag_fired(report: Report, name: str) -> None:
    """The tag fired on at least one event of the request (success or failure: it ran)."""
    __tracebackhide__ = True
    _raise(check_fired(report, name))


def assert_tag_succeeded(report: Report, name: str) -> None:
    """The tag ran with status ``success`` on at least one event (``not_emulated`` never passes)."""
    __tracebackhide__ = True
    _raise(check_succeeded(report, name))


def assert_tag_not_fired(report: Report, name: str) -> None:
    """The tag fired on no event of the request."""
    __tracebackhide__ = True
    _raise(check_not_fired(report, name))


def assert_payload(report: Report, tag: str, subset: Any = None, *, paths: Mapping[str, Any] | None = None) -> None:
    """Some outgoing request of ``tag`` has a body of which ``subset`` is a subset and whose values
    at ``paths`` (``{"data[0].event": "CompletePayment"}``) match."""
    __tracebackhide__ = True
    if subset is None and not paths:
        raise TypeError("assert_payload needs a subset or paths to compare")
    _raise(check_payload(report, tag, subset, paths))


def assert_vendor_ok(report: Report, tag: str) -> None:
    """The tag sent at least one request and the vendor accepted each (HTTP 2xx and no business error)."""
    __tracebackhide__ = True
    _raise(check_vendor_ok(report, tag))


def assert_status(report: Report, status: int) -> None:
    """The response to the request had this HTTP status."""
    __tracebackhide__ = True
    _raise(check_status(report, status))


# ---------------------------------------------------------------------------------------------- server


class ThreadedServer:
    """Any WSGI app as a real HTTP server on a loopback port (werkzeug, threaded), in a background
    thread: ``start()``, ``url``, ``stop()``; also a context manager."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    def start(self) -> ThreadedServer:
        from werkzeug.serving import make_server

        self._server = make_server(self.host, self.port, self.app, threaded=True)
        self.port = self._server.server_port
        server = self._server
        self._thread = threading.Thread(target=lambda: server.serve_forever(poll_interval=POLL_INTERVAL_S),
                                        name="gtm-emulator-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmulatorServer:
    """The emulator as a real HTTP server on a loopback port, in a background thread.

    >>> from gtm_emulator import load_container
    >>> with EmulatorServer(load_container()) as server:     # doctest: +SKIP
    ...     requests.get(server.url + "/g/collect?v=2&tid=G-1&cid=1.2&en=purchase")
    ...     assert server.reports[-1].fired("TikTok - purchase")

    ``reports`` collects the report of every request the container handled, in order.
    """

    def __init__(self, container: Any, host: str = "127.0.0.1", port: int = 0,
                 hooks: Iterable[Callable[[Report, float], None]] = ()):
        self.container = container
        self.host = host
        self.port = port
        self.reports: list[Report] = []
        self._hooks = list(hooks)
        self._server: ThreadedServer | None = None
        self.app: Any = None

    def _collect(self, report: Report, _elapsed_ms: float) -> None:
        self.reports.append(report)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server is not running; call start() first")
        return self._server.url

    @property
    def last_report(self) -> Report:
        if not self.reports:
            raise AssertionError("the emulator server has handled no container request yet")
        return self.reports[-1]

    def start(self) -> EmulatorServer:
        from ..server.app import create_app

        self.app = create_app(self.container, on_report=[self._collect, *self._hooks], log_requests=False)
        self._server = ThreadedServer(self.app, self.host, self.port).start()
        self.port = self._server.port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

