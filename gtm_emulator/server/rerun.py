"""Preview explains on read: a stored request is re-run when someone opens it.

Explaining every decision (each trigger condition traced, every variable resolved) costs more than
the run itself, and almost nobody reads the explanation of a given hit. So ``serve`` runs every
request as a published container does (``explain=False``) and the Preview store keeps what
happened: the request as received (secrets masked, :func:`request_record`), the HTTP status, each
tag's state and every outgoing call with the vendor's answer (``SQLiteStore._outcome_of``).
When Preview or the inspection
API asks for one request, :func:`explain_stored` runs it again through the same container with
``explain=True``: at the same clock (``now``, so randomness draws the same numbers), with every
outgoing call answered from the record (:class:`~gtm_emulator.vendors.transport.AnsweringTransport`,
nothing is sent), and with copies of the templates' storage (the re-run changes nothing the
container keeps).

What happened always comes from the record (tag states, outgoing calls with their answers and
durations); the re-run adds why (the traces of the triggers, the event data, the variables, console
lines, the response's headers and body). The two are compared, and the report says whether they
agree (``explanation.matches``) and, if not, how they differ. They can differ when a template's
result depends on what it stored (``templateDataStorage`` is read as it is now; the report notes
it), when a client or variable template calls out (those calls are not recorded, so the re-run
gets no answer for them), or when a request's masked secret mattered. A request that ran on a
configuration no longer loaded is shown as recorded, without the traces.

The container is found by its fingerprint (:func:`fingerprint`: its configuration, settings and
template code), so a request stays explainable after a restart on the same files, and after an
edit in the same process for the last ``KEEP_CONTAINERS`` configurations served.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from ..core.container import Container
from ..core.report import RESPONSE_TEXT
from ..core.request import Request, display_text
from ..vendors.transport import AnsweringTransport

__all__ = ["KEEP_CONTAINERS", "RERUN_KEY", "Containers", "explain_stored", "fingerprint", "record_of_fields",
           "request_from_record", "request_record", "unexplained"]

KEEP_CONTAINERS = 16  # configurations a process remembers for explaining its earlier requests
RERUN_KEY = "rerun"  # the key of a stored report that holds what a re-run needs
STORAGE_NOTE = ("a template read its templateDataStorage: the re-run read it as it is now, not as it was when the "
                "request ran, so what it explains may differ from what ran")


def request_record(request: Request) -> bytes:
    """A request as bytes, exactly (what the store keeps for a re-run): its text fields joined by NUL
    then its body, or, when a field holds a NUL or a character that is not an escaped byte, JSON."""
    return record_of_fields(request.method, request.path, request.query, request.remote_addr, request.scheme,
                            request.headers, request.body)


def record_of_fields(method: str, path: str, query: str, remote_addr: str, scheme: str,
                     headers: Sequence[Sequence[str]], body: bytes) -> bytes:
    """:func:`request_record` of a request given by its fields (as a spooled batch holds them)."""
    fields = (method, path, query, remote_addr, scheme, str(len(headers)), *[part for pair in headers for part in pair])
    text = "\x00".join(fields)
    if text.count("\x00") == len(fields) - 1:
        try:
            return b"1" + text.encode("utf-8", "surrogateescape") + b"\x00" + body
        except UnicodeEncodeError:
            pass
    record = {"method": method, "path": path, "query": query, "headers": [list(pair) for pair in headers],
              "body": body.decode("utf-8", "surrogateescape"), "remote_addr": remote_addr, "scheme": scheme}
    return b"J" + json.dumps(record, ensure_ascii=True).encode("ascii")  # lone surrogates kept as escapes


def request_from_record(data: Any) -> Request:
    """The request :func:`request_record` wrote; ValueError when ``data`` is not one."""
    try:
        if isinstance(data, bytes) and data[:1] == b"1":
            pieces = data[1:].split(b"\x00", 6)
            if len(pieces) != 7:
                raise ValueError("fields are missing")
            method, path, query, remote, scheme, count = (p.decode("utf-8", "surrogateescape") for p in pieces[:6])
            n = int(count)
            parts = pieces[6].split(b"\x00", 2 * n)
            if len(parts) != 2 * n + 1:
                raise ValueError("the headers are cut short")
            texts = [p.decode("utf-8", "surrogateescape") for p in parts[:-1]]
            headers = tuple(zip(texts[0::2], texts[1::2], strict=True))
            return Request(method=method, path=path, query=query, headers=headers,
                           body=parts[-1], remote_addr=remote, scheme=scheme)
        if isinstance(data, bytes) and data[:1] == b"J":
            record = json.loads(data[1:])
            return Request(method=str(record["method"]), path=str(record["path"]), query=str(record["query"]),
                           headers=tuple((str(k), str(v)) for k, v in record["headers"]),
                           body=str(record["body"]).encode("utf-8", "surrogateescape"),
                           remote_addr=str(record["remote_addr"]), scheme=str(record["scheme"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a stored request ({type(exc).__name__}: {exc})") from None
    raise ValueError("not a stored request")


def fingerprint(container: Container) -> str:
    """What identifies the behaviour of a container: its configuration (with the triggers and tags
    it resolved to), its settings and the code of its templates (a hash; the same files give the
    same fingerprint in every process)."""
    cached: str | None = container.__dict__.get("_fingerprint")
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    resolved = {  # what the configuration resolved to (files it refers to included)
        "config": container.config,
        "triggers": {name: trigger.to_config() for name, trigger in container.triggers.items()},
        "tags": [[t.name, t.type, {k: v.raw for k, v in t.params.items()}, t.firing_triggers, t.blocking_triggers,
                  t.priority, t.paused, t.firing_option] for t in container.tags],
    }
    digest.update(json.dumps(resolved, sort_keys=True, default=repr).encode("utf-8", "surrogatepass"))
    digest.update(repr(container.settings).encode("utf-8", "surrogatepass"))
    for part in (*container.clients, *(t.impl for t in container.tags), *container.variables.values()):
        template = getattr(part, "template", None)
        code = getattr(template, "code", None) or getattr(template, "text", None)
        if isinstance(code, str):
            digest.update(code.encode("utf-8", "surrogatepass"))
    value = digest.hexdigest()[:16]
    container.__dict__["_fingerprint"] = value
    return value


class Containers:
    """The containers a process has served, by fingerprint (the newest ``KEEP_CONTAINERS``)."""

    def __init__(self, current: Callable[[], Container]):
        self.current = current
        self.known: dict[str, Container] = {}

    def key(self, container: Container) -> str:
        key = fingerprint(container)
        if key not in self.known:
            self.known[key] = container
            while len(self.known) > KEEP_CONTAINERS:
                del self.known[next(iter(self.known))]
        return key

    def find(self, key: str) -> Container | None:
        self.key(self.current())
        return self.known.get(key)


def _shown(value: Any) -> str:
    """A value as the store shows it (invalid bytes as U+FFFD), for comparing a stored one with a fresh one."""
    return display_text(json.dumps(value, ensure_ascii=False, sort_keys=True))


def _shown_entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != RESPONSE_TEXT}


def _status(tag: dict[str, Any]) -> str:
    return f"{tag.get('status')}{' (rejected by the vendor)' if tag.get('vendor_rejected') else ''}"


def _tag_state(tag: dict[str, Any]) -> tuple[Any, ...]:
    return tag.get("fired"), tag.get("status"), bool(tag.get("vendor_rejected"))


def differences(stored: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """How a re-run's report differs from the stored outcome, in words (empty: they agree)."""
    out = []
    if stored.get("client") != fresh.get("client"):
        out.append(f"client: {stored.get('client')!r} then, {fresh.get('client')!r} now")
    then_status, now_status = (stored.get("response") or {}).get("status"), (fresh.get("response") or {}).get("status")
    if then_status != now_status:
        out.append(f"response status: {then_status} then, {now_status} now")
    then_events, now_events = stored.get("events") or [], fresh.get("events") or []
    if len(then_events) != len(now_events):
        out.append(f"events: {len(then_events)} then, {len(now_events)} now")
    for index, (then, now) in enumerate(zip(then_events, now_events, strict=False)):
        where = f"event {index}"
        then_name, now_name = (then.get("event_data") or {}).get("event_name"), \
            (now.get("event_data") or {}).get("event_name")
        if then_name != now_name:
            out.append(f"{where}: event name {then_name!r} then, {now_name!r} now")
        now_tags = {t.get("name"): t for t in now.get("tags") or []}
        for tag in then.get("tags") or []:
            other = now_tags.pop(tag.get("name"), None)
            if other is None:
                out.append(f"{where}: tag {tag.get('name')!r} is not in the container now")
            elif _tag_state(tag) != _tag_state(other):
                out.append(f"{where}: tag {tag.get('name')!r} was {_status(tag)}, now {_status(other)}")
        out.extend(f"{where}: tag {name!r} is new" for name in now_tags)
        then_out, now_out = then.get("outgoing") or [], now.get("outgoing") or []
        if len(then_out) != len(now_out):
            out.append(f"{where}: {len(then_out)} outgoing requests then, {len(now_out)} now")
        for j, (a, b) in enumerate(zip(then_out, now_out, strict=False)):
            if (a.get("method"), a.get("url")) != (b.get("method"), b.get("url")):
                out.append(f"{where}, outgoing {j}: {a.get('method')} {a.get('url')} then, "
                           f"{b.get('method')} {b.get('url')} now")
            elif not a.get("body_truncated") and _shown(a.get("body")) != _shown(b.get("body")):
                out.append(f"{where}, outgoing {j} ({a.get('tag')}): the body sent differs")
    return out


def _shown_request(stored: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return request_from_record((stored.get(RERUN_KEY) or {}).get("request")).to_dict()
    except ValueError:
        return None


def unexplained(stored: dict[str, Any], why: str) -> dict[str, Any]:
    """What the store knows of a request, saying why it has no explanation."""
    out = {k: v for k, v in stored.items() if k != RERUN_KEY}
    if RERUN_KEY in stored:
        out["request"] = _shown_request(stored)
        out["events"] = [dict(e, outgoing=[_shown_entry(o) for o in e.get("outgoing") or []])
                         for e in stored.get("events") or []]
    out["explanation"] = {"rerun": False, "why": why}
    return out


def explain_stored(stored: dict[str, Any], container: Container | None) -> dict[str, Any]:
    """The report of a request stored as an outcome (``rerun``: what a re-run needs; ``client``,
    ``response.status`` and ``events`` with each tag's state and the outgoing calls with their
    answers), explained by a re-run on ``container`` (None: the configuration it ran on is not
    loaded). See the module's docstring."""
    rerun = stored.get(RERUN_KEY) or {}
    if container is None:
        return unexplained(stored, f"the request ran on another configuration (fingerprint "
                                   f"{rerun.get('container')}) than the ones served since this server started; "
                                   "what happened is shown as recorded, without the traces of the decisions")
    try:
        request = request_from_record(rerun.get("request"))
    except ValueError as exc:
        return unexplained(stored, f"the stored request cannot be read again: {exc}")
    recorded_calls = [o for e in stored.get("events") or [] for o in e.get("outgoing") or []]
    answers = AnsweringTransport(recorded_calls, container.secrets)
    try:
        fresh = container.handle(request, now=rerun.get("now"), explain=True, replay=answers).to_dict()
    except Exception as exc:  # an emulator bug must not take the Preview down
        return unexplained(stored, f"the re-run failed: {type(exc).__name__}: {exc}")
    found = differences(stored, fresh) + answers.mismatches
    if answers.used < len(recorded_calls):
        found.append(f"{len(recorded_calls) - answers.used} recorded outgoing request(s) were not made again")
    # What happened is the record's (tag states, outgoing calls and answers); why is the re-run's.
    fresh_events = fresh.get("events") or []
    events = []
    for index, then in enumerate(stored.get("events") or []):
        if index >= len(fresh_events):
            events.append(dict(then, outgoing=[_shown_entry(o) for o in then.get("outgoing") or []]))
            continue
        event = dict(fresh_events[index], outgoing=[_shown_entry(o) for o in then.get("outgoing") or []])
        recorded = {t.get("name"): t for t in then.get("tags") or []}
        tags = []
        for tag in event.get("tags") or []:
            tag = {k: v for k, v in tag.items() if k != "duration_ms"}  # the re-run's time is not the request's
            state = recorded.get(tag.get("name"))
            if state is not None:
                tag.update(fired=state.get("fired"), status=state.get("status"),
                           vendor_rejected=state.get("vendor_rejected"))
            tags.append(tag)
        event["tags"] = tags
        events.append(event)
    fresh["events"] = events
    fresh["client"] = stored.get("client")
    fresh["response"] = dict(fresh.get("response") or {}, status=(stored.get("response") or {}).get("status"))
    fresh["explanation"] = {"rerun": True, "matches": not found, "differences": found}
    if answers.storage_read:
        fresh["explanation"]["notes"] = [STORAGE_NOTE]
    return fresh
