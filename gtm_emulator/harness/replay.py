"""Replaying recorded traffic through a container, and comparing two containers on it.

Input files:

- NDJSON (what ``serve --record`` and :class:`~gtm_emulator.harness.recorder.Recorder` write): one request
  object a line, ``{"method", "url", "headers", "body" | "body_base64", "cookies", "remote_addr",
  "time", "scheme"}``; only ``method`` and ``url`` are required. ``headers`` is an object or a list of
  ``[name, value]`` pairs (or of ``{"name", "value"}`` objects). Blank lines are skipped.
- HAR (a browser's developer tools, "Save all as HAR"): ``log.entries[].request`` with ``method``,
  ``url``, ``headers``, ``postData.text`` (or ``postData.params``) and ``cookies``. HTTP/2
  pseudo-headers (``:authority``…) are dropped; ``cookies`` are used only when the request has no
  ``Cookie`` header (browsers export both). A HAR has no client address: ``DEFAULT_REMOTE_ADDR``.

A file is HAR when its name ends in ``.har``, its first line is ``{`` alone (a pretty-printed
document) or a whole JSON object with a ``log`` key; otherwise NDJSON.

Determinism: each request runs with the container's clock set to ``--now`` when given, else the
recorded ``time`` (HAR: ``startedDateTime``), else ``DEFAULT_NOW``; the container's randomness is
seeded from the clock and the request; vendors are recorded, never sent
(:class:`~gtm_emulator.vendors.transport.RecordingTransport`, which answers as an accepting vendor). The
same file and container always give the same summary. The container runs as a published container
(debug and preview mode off) unless ``--preview`` is given: see :func:`replay_container`.

A line that cannot be read is reported as ``file:line: message``, counted and skipped; an emulator
error on one request is counted with its source and the replay goes on.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..core.report import Report
from ..core.request import Request
from ..core.statuses import FAILURE
from ..errors import ReplayFileError

DEFAULT_NOW = 1_700_000_000.0  # the clock when a request has no recorded time and no --now is given
DEFAULT_REMOTE_ADDR = "127.0.0.1"  # client address of requests that do not record one (HAR)
MAX_EXAMPLES = 5  # example events shown per tag difference
MAX_URL_SHOWN = 140


@dataclass
class RecordedRequest:
    """One request read from a replay file."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    remote_addr: str = DEFAULT_REMOTE_ADDR
    time: float | None = None
    scheme: str | None = None
    source: str = ""

    def to_request(self) -> Request:
        request = Request.build(self.method, self.url, headers=self.headers, body=self.body,
                                remote_addr=self.remote_addr)
        if self.scheme and self.scheme != request.scheme:
            from dataclasses import replace

            request = replace(request, scheme=self.scheme)
        return request


@dataclass
class BadLine:
    """A line (or HAR entry) that could not be read."""

    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


Item = RecordedRequest | BadLine


# ---------------------------------------------------------------------------------------------- reading


def _headers(value: Any, what: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = []
        for index, item in enumerate(value):
            if isinstance(item, Mapping) and "name" in item:
                pairs.append((item.get("name"), item.get("value", "")))
            elif isinstance(item, (list, tuple)) and len(item) == 2:
                pairs.append((item[0], item[1]))
            else:
                raise ValueError(f"{what}[{index}] is not a [name, value] pair")
    else:
        raise ValueError(f"{what} must be an object or a list of [name, value] pairs")
    out = []
    for name, val in pairs:
        if not isinstance(name, str) or not isinstance(val, (str, int, float)) or isinstance(val, bool):
            raise ValueError(f"{what}: header {name!r} must have a string name and a string value")
        out.append((name, str(val)))
    return out


def _cookie_header(cookies: Any, what: str) -> str | None:
    if not cookies:
        return None
    if isinstance(cookies, Mapping):
        pairs = list(cookies.items())
    elif isinstance(cookies, list):
        pairs = [(c.get("name"), c.get("value", "")) for c in cookies if isinstance(c, Mapping)]
    else:
        raise ValueError(f"{what} must be an object or a list of {{name, value}} objects")
    for name, value in pairs:
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValueError(f"{what}: cookie {name!r} must have a string name and value")
    return "; ".join(f"{name}={value}" for name, value in pairs)


def record_from_object(obj: Any, source: str) -> RecordedRequest:
    """A :class:`RecordedRequest` from one NDJSON object; ValueError names what is wrong."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    method, url = obj.get("method"), obj.get("url")
    if not isinstance(method, str) or not method.strip():
        raise ValueError("missing 'method' (a string like \"GET\")")
    if not isinstance(url, str) or not url:
        raise ValueError("missing 'url' (a path with query, or a full URL)")
    headers = _headers(obj.get("headers"), "headers")
    body: bytes = b""
    if obj.get("body_base64") is not None:
        if not isinstance(obj["body_base64"], str):
            raise ValueError("'body_base64' must be a string")
        try:
            body = base64.b64decode(obj["body_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("'body_base64' is not valid base64") from None
    elif obj.get("body") is not None:
        raw = obj["body"]
        if isinstance(raw, str):
            body = raw.encode("utf-8", "surrogateescape")
        elif isinstance(raw, (dict, list)):
            body = json.dumps(raw).encode("utf-8")
        else:
            raise ValueError("'body' must be a string (or JSON object/array)")
    cookie = _cookie_header(obj.get("cookies"), "cookies")
    if cookie and not any(k.lower() == "cookie" for k, _ in headers):
        headers.append(("Cookie", cookie))
    remote = obj.get("remote_addr", DEFAULT_REMOTE_ADDR)
    if not isinstance(remote, str):
        raise ValueError("'remote_addr' must be a string")
    when = obj.get("time")
    if when is not None and (isinstance(when, bool) or not isinstance(when, (int, float))):
        raise ValueError("'time' must be epoch seconds (a number)")
    scheme = obj.get("scheme")
    if scheme is not None and scheme not in ("http", "https"):
        raise ValueError("'scheme' must be http or https")
    return RecordedRequest(method=method.strip().upper(), url=url, headers=headers, body=body,
                           remote_addr=remote or DEFAULT_REMOTE_ADDR,
                           time=float(when) if when is not None else None, scheme=scheme, source=source)


def _har_time(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def record_from_har_entry(entry: Any, source: str) -> RecordedRequest:
    if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict):
        raise ValueError("entry has no 'request' object")
    req = entry["request"]
    method, url = req.get("method"), req.get("url")
    if not isinstance(method, str) or not method:
        raise ValueError("request has no 'method'")
    if not isinstance(url, str) or not url:
        raise ValueError("request has no 'url'")
    headers = [(k, v) for k, v in _headers(req.get("headers") or [], "request.headers") if not k.startswith(":")]
    post = req.get("postData") or {}
    body = b""
    if isinstance(post, dict):
        if isinstance(post.get("text"), str):
            body = post["text"].encode("utf-8", "surrogateescape")
        elif isinstance(post.get("params"), list):
            parts = [f"{quote(str(p.get('name', '')), safe='')}={quote(str(p.get('value', '')), safe='')}"
                     for p in post["params"] if isinstance(p, dict)]
            body = "&".join(parts).encode("utf-8")
    cookie = _cookie_header(req.get("cookies"), "request.cookies")
    if cookie and not any(k.lower() == "cookie" for k, _ in headers):
        headers.append(("Cookie", cookie))
    return RecordedRequest(method=method.upper(), url=url, headers=headers, body=body,
                           time=_har_time(entry.get("startedDateTime")), source=source)


def _is_har(path: Path) -> bool:
    if path.suffix.lower() == ".har":
        return True
    with path.open("rb") as fh:
        for raw in fh:
            line = raw.strip()
            if not line:
                continue
            if line == b"{":  # a pretty-printed document
                return True
            try:
                obj = json.loads(line)
            except ValueError:
                return False  # a broken first line of NDJSON (reported as a bad line)
            return isinstance(obj, dict) and "log" in obj
    return False


class ReplaySource:
    """The requests of one replay file: ``len()`` for a progress bar, iteration yields requests and bad lines."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.display = str(path)
        if not self.path.exists():
            raise ReplayFileError(f"{self.display}: file not found")
        if self.path.is_dir():
            raise ReplayFileError(f"{self.display}: is a directory")
        try:
            self.format = "har" if _is_har(self.path) else "ndjson"
        except OSError as exc:
            raise ReplayFileError(f"{self.display}: cannot read file: {exc.strerror or exc}") from None
        self._entries: list[Any] | None = None
        if self.format == "har":
            self._entries = self._har_entries()

    def _har_entries(self) -> list[Any]:
        try:
            data = json.loads(self.path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            raise ReplayFileError(f"{self.display}: not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise ReplayFileError(f"{self.display}:{exc.lineno}: not a HAR file (invalid JSON at line "
                                  f"{exc.lineno}, column {exc.colno}: {exc.msg})") from None
        entries = data.get("log", {}).get("entries") if isinstance(data, dict) and isinstance(
            data.get("log"), dict) else None
        if not isinstance(entries, list):
            raise ReplayFileError(f"{self.display}: $.log.entries: a HAR file needs a list of entries")
        return entries

    def __len__(self) -> int:
        if self._entries is not None:
            return len(self._entries)
        count = 0
        with self.path.open("rb") as fh:
            for raw in fh:
                if raw.strip():
                    count += 1
        return count

    def __iter__(self) -> Iterator[Item]:
        if self._entries is not None:
            for index, entry in enumerate(self._entries):
                source = f"{self.display}: $.log.entries[{index}]"
                try:
                    yield record_from_har_entry(entry, source)
                except ValueError as exc:
                    yield BadLine(source, str(exc))
            return
        with self.path.open("rb") as fh:
            for number, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                source = f"{self.display}:{number}"
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    yield BadLine(source, "not UTF-8 text")
                    continue
                except json.JSONDecodeError as exc:
                    yield BadLine(source, f"invalid JSON at column {exc.colno}: {exc.msg}")
                    continue
                try:
                    yield record_from_object(obj, source)
                except ValueError as exc:
                    yield BadLine(source, str(exc))


# ---------------------------------------------------------------------------------------------- running


def replay_container(source: str | os.PathLike[str] | Mapping[str, Any] | None = None, *,
                     preview: bool = False) -> Any:
    """A container for replay: vendors recorded (nothing sent), recorded calls not kept in memory.

    Recorded traffic is production traffic, so by default the container runs as a published one
    (``preview=False``): debug and preview mode off, whatever the container file says. A blocking
    trigger on ``{{Debug Mode}}`` then behaves as in production, and tags that log only in debug mode
    do not build their log lines. ``preview=True`` replays as GTM's Preview would run the requests."""
    from ..loading.config import load_container
    from ..vendors.transport import RecordingTransport

    container = load_container(source, transport=RecordingTransport(keep=0))
    container.set_mode(preview=preview)
    return container


def _clock(item: RecordedRequest, now: float | None) -> float:
    if now is not None:
        return now
    return item.time if item.time is not None else DEFAULT_NOW


def run_one(container: Any, item: RecordedRequest, now: float | None) -> Report:
    """Run one recorded request; ValueError when it cannot even be built into a request."""
    return container.handle(item.to_request(), now=_clock(item, now), explain=False)


@dataclass
class TagStats:
    fired: int = 0  # events the tag fired on (success or failure)
    failed: int = 0  # of those, events on which it failed
    vendor_rejected: int = 0  # events on which a vendor refused what it sent
    blocked: int = 0  # events a blocking trigger kept it from firing on

    def to_dict(self) -> dict[str, int]:
        return {"fired": self.fired, "failed": self.failed, "vendor_rejected": self.vendor_rejected,
                "blocked": self.blocked}


@dataclass
class ReplaySummary:
    requests: int = 0
    events: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    unclaimed: int = 0
    bad_lines: list[BadLine] = field(default_factory=list)
    errors: list[BadLine] = field(default_factory=list)  # emulator errors, by source
    tags: dict[str, TagStats] = field(default_factory=dict)

    def declare_tags(self, names: Iterable[str]) -> None:
        for name in names:
            self.tags.setdefault(name, TagStats())

    def add(self, report: Report) -> None:
        self.requests += 1
        self.statuses[report.response.status] += 1
        if report.client is None:
            self.unclaimed += 1
        self.events += len(report.events)
        for event in report.events:
            for tag in event.tags:
                stats = self.tags.get(tag.name)
                if stats is None:
                    stats = self.tags[tag.name] = TagStats()
                if tag.fired:
                    stats.fired += 1
                    if tag.status == FAILURE:
                        stats.failed += 1
                    if tag.vendor_rejected:
                        stats.vendor_rejected += 1
                elif tag.status == "blocked":
                    stats.blocked += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "events": self.events,
            "responses": {str(k): v for k, v in sorted(self.statuses.items())},
            "not_claimed": self.unclaimed,
            "bad_lines": len(self.bad_lines),
            "errors": len(self.errors),
            "tags": {name: stats.to_dict() for name, stats in self.tags.items()},
        }

    def format(self) -> str:
        lines = [f"requests: {self.requests}" + (f" ({_plural(len(self.bad_lines), 'bad line')} skipped)"
                                                 if self.bad_lines else "")]
        if self.statuses:
            lines.append("responses: " + ", ".join(f"{s} x{n}" for s, n in sorted(self.statuses.items())))
        if self.unclaimed:
            lines.append(f"not claimed by any client: {self.unclaimed}")
        if self.errors:
            lines.append(f"emulator errors: {len(self.errors)}")
        lines.append(f"events: {self.events}")
        if self.tags:
            width = max(len("tag"), *(len(n) for n in self.tags))
            lines.append(f"{'tag':<{width}}  {'fired':>8}  {'failed':>8}  {'vendor rejected':>15}  {'blocked':>8}")
            for name, st in self.tags.items():
                lines.append(f"{name:<{width}}  {st.fired:>8}  {st.failed:>8}  {st.vendor_rejected:>15}  "
                             f"{st.blocked:>8}")
        return "\n".join(lines)


Progress = Callable[[Item], None]


def replay(items: Iterable[Item], container: Any, *, now: float | None = None,
           on_item: Progress | None = None) -> ReplaySummary:
    """Run every request through ``container``; bad lines and emulator errors are counted, not raised."""
    summary = ReplaySummary()
    summary.declare_tags(t.name for t in container.tags)
    for item in items:
        if on_item is not None:
            on_item(item)
        if isinstance(item, BadLine):
            summary.bad_lines.append(item)
            continue
        try:
            report = run_one(container, item, now)
        except ValueError as exc:
            summary.bad_lines.append(BadLine(item.source, f"cannot build the request: {exc}"))
            continue
        except Exception as exc:  # an emulator bug on one request must not end a replay of thousands
            summary.errors.append(BadLine(item.source, f"{type(exc).__name__}: {exc}"))
            continue
        summary.add(report)
    return summary


# ---------------------------------------------------------------------------------------------- comparing


@dataclass
class TagDiff:
    name: str
    in_a: bool = True
    in_b: bool = True
    fired_a: int = 0
    fired_b: int = 0
    more: int = 0  # events B fires it on and A does not
    fewer: int = 0  # events A fires it on and B does not
    failed_a: int = 0
    failed_b: int = 0
    examples_more: list[str] = field(default_factory=list)
    examples_fewer: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.more or self.fewer or self.failed_a != self.failed_b or self.in_a != self.in_b)

    def to_dict(self) -> dict[str, Any]:
        return {"in_a": self.in_a, "in_b": self.in_b, "fired_a": self.fired_a, "fired_b": self.fired_b,
                "more": self.more, "fewer": self.fewer, "failed_a": self.failed_a, "failed_b": self.failed_b,
                "examples_more": list(self.examples_more), "examples_fewer": list(self.examples_fewer)}


@dataclass
class Comparison:
    """How container B differs from container A, event by event, on the same requests."""

    label_a: str
    label_b: str
    summary_a: ReplaySummary
    summary_b: ReplaySummary
    tags: dict[str, TagDiff] = field(default_factory=dict)
    status_changes: int = 0  # requests answered with a different status
    event_count_changes: int = 0  # requests that gave a different number of events

    @property
    def changed(self) -> bool:
        return any(d.changed for d in self.tags.values()) or bool(self.status_changes or self.event_count_changes)

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.label_a, "b": self.label_b, "summary_a": self.summary_a.to_dict(),
                "summary_b": self.summary_b.to_dict(), "status_changes": self.status_changes,
                "event_count_changes": self.event_count_changes,
                "tags": {name: d.to_dict() for name, d in self.tags.items()}}

    def format(self) -> str:
        a, b = self.summary_a, self.summary_b
        lines = [f"A: {self.label_a}", f"B: {self.label_b}",
                 f"requests: {a.requests}" + (f" ({_plural(len(a.bad_lines), 'bad line')} skipped)"
                                              if a.bad_lines else ""),
                 f"events: A {a.events}, B {b.events}"]
        if self.status_changes:
            lines.append(f"response status differs on {self.status_changes} requests")
        if self.event_count_changes:
            lines.append(f"number of events differs on {self.event_count_changes} requests")
        for diff in self.tags.values():
            lines.append(_describe_diff(diff))
            for example in diff.examples_more:
                lines.append(f"  + {example}")
            for example in diff.examples_fewer:
                lines.append(f"  - {example}")
        if not self.changed:
            lines.append("no differences")
        return "\n".join(lines)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _describe_diff(diff: TagDiff) -> str:
    where = ""
    if not diff.in_a:
        where = " (only in B)"
    elif not diff.in_b:
        where = " (only in A)"
    parts = []
    if diff.more:
        parts.append(f"fires on {_plural(diff.more, 'more event')}")
    if diff.fewer:
        parts.append(f"{'and on ' if parts else 'fires on '}{_plural(diff.fewer, 'fewer event')}")
    if diff.failed_a != diff.failed_b:
        parts.append(f"fails on {diff.failed_b} events in B, {diff.failed_a} in A")
    if not parts:
        return f"{diff.name}: no change (fires on {_plural(diff.fired_a, 'event')})"
    return f"{diff.name}{where}: {', '.join(parts)} (A: {diff.fired_a}, B: {diff.fired_b})"


def _example(item: RecordedRequest, report: Report, index: int) -> str:
    url = item.url if len(item.url) <= MAX_URL_SHOWN else item.url[: MAX_URL_SHOWN - 1] + "…"
    name = report.events[index].event_name if index < len(report.events) else None
    return f"{item.method} {url} event {index} {json.dumps(name)} ({item.source})"


def compare(items: Iterable[Item], container_a: Any, container_b: Any, *, label_a: str = "A",
            label_b: str = "B", now: float | None = None, on_item: Progress | None = None,
            max_examples: int = MAX_EXAMPLES) -> Comparison:
    """Run each request through both containers and compare, per tag, the events it fires on."""
    comp = Comparison(label_a, label_b, ReplaySummary(), ReplaySummary())
    names_a = [t.name for t in container_a.tags]
    names_b = [t.name for t in container_b.tags]
    comp.summary_a.declare_tags(names_a)
    comp.summary_b.declare_tags(names_b)
    for name in [*names_a, *[n for n in names_b if n not in names_a]]:
        comp.tags[name] = TagDiff(name, in_a=name in names_a, in_b=name in names_b)
    for item in items:
        if on_item is not None:
            on_item(item)
        if isinstance(item, BadLine):
            comp.summary_a.bad_lines.append(item)
            comp.summary_b.bad_lines.append(item)
            continue
        reports: list[Report] = []
        for container, summary in ((container_a, comp.summary_a), (container_b, comp.summary_b)):
            try:
                report = run_one(container, item, now)
            except ValueError as exc:
                summary.bad_lines.append(BadLine(item.source, f"cannot build the request: {exc}"))
                break
            except Exception as exc:  # an emulator bug on one request must not end the comparison
                summary.errors.append(BadLine(item.source, f"{type(exc).__name__}: {exc}"))
                break
            summary.add(report)
            reports.append(report)
        if len(reports) != 2:
            continue
        ra, rb = reports
        if ra.response.status != rb.response.status:
            comp.status_changes += 1
        if len(ra.events) != len(rb.events):
            comp.event_count_changes += 1
        for index in range(max(len(ra.events), len(rb.events))):
            tags_a = {t.name: t for t in ra.events[index].tags} if index < len(ra.events) else {}
            tags_b = {t.name: t for t in rb.events[index].tags} if index < len(rb.events) else {}
            for name in set(tags_a) | set(tags_b):
                diff = comp.tags.get(name)
                if diff is None:
                    diff = comp.tags[name] = TagDiff(name, in_a=name in tags_a, in_b=name in tags_b)
                ta, tb = tags_a.get(name), tags_b.get(name)
                fa, fb = bool(ta and ta.fired), bool(tb and tb.fired)
                diff.fired_a += fa
                diff.fired_b += fb
                diff.failed_a += bool(ta and ta.status == FAILURE)
                diff.failed_b += bool(tb and tb.status == FAILURE)
                if fb and not fa:
                    diff.more += 1
                    if len(diff.examples_more) < max_examples:
                        diff.examples_more.append(_example(item, rb, index))
                elif fa and not fb:
                    diff.fewer += 1
                    if len(diff.examples_fewer) < max_examples:
                        diff.examples_fewer.append(_example(item, ra, index))
    return comp
