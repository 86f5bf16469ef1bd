"""The report of one request: what Google's Preview shows, as data (docs/preview.md, "The inspection API").

Every decision is explained: a tag that did not fire carries each trigger it evaluated and every
condition with both operands. Secrets are masked before a report leaves the container.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .js import UNDEFINED
from .request import Request, Response
from .statuses import PAUSED, TagStatus, TriggerRole

MASK = "****"
MAX_CONSOLE_LINES = 500  # console lines kept per tag run; later ones are counted, not kept
MAX_CONSOLE_LINE_CHARS = 8192  # a longer console line is cut (its length is noted)


def console_append(console: list[str], text: str) -> None:
    """Add one ``logToConsole`` line within the caps: a template that logs megabytes in a loop must
    not grow the report (and the store, and the server's memory) without bound."""
    if len(console) > MAX_CONSOLE_LINES:
        return
    if len(console) == MAX_CONSOLE_LINES:
        console.append(f"(console limit of {MAX_CONSOLE_LINES} lines reached; later lines are dropped)")
        return
    if len(text) > MAX_CONSOLE_LINE_CHARS:
        text = f"{text[:MAX_CONSOLE_LINE_CHARS]}… (cut: {len(text)} characters in all)"
    console.append(text)


# Query parameters of an outgoing URL whose values are secrets (masked like secret headers).
SECRET_QUERY_PARAMS = frozenset({
    "access_token", "accesstoken", "token", "api_key", "apikey", "api_secret", "apisecret", "client_secret",
    "secret", "password", "passwd", "key", "auth", "auth_token", "private_key", "signature", "sig",
})


def url_secrets(url: str) -> list[str]:
    """The values of the secret query parameters (``SECRET_QUERY_PARAMS``) of ``url``, raw and decoded."""
    if "?" not in url:
        return []
    from urllib.parse import unquote_plus

    query = url.split("?", 1)[1].split("#", 1)[0]
    out = []
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if value and unquote_plus(name).lower() in SECRET_QUERY_PARAMS:
            out.append(value)
            decoded = unquote_plus(value)
            if decoded != value:
                out.append(decoded)
    return out

def json_safe(value: Any) -> Any:
    """Event data and operands as JSON can show them (undefined members dropped, NaN as text).

    One pass over the value: each level drops its own undefined members (a list shows them as null)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if value is UNDEFINED:
        return None
    if kind is float:
        if value != value or value in (float("inf"), float("-inf")):
            return str(value).replace("inf", "Infinity").replace("nan", "NaN")
        return value
    if isinstance(value, dict):
        return {str(k): v if type(v) is str else json_safe(v) for k, v in value.items() if v is not UNDEFINED}
    if isinstance(value, (list, tuple)):
        return [v if type(v) is str else json_safe(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float):  # a float subclass
        return json_safe(float(value))
    return value


def operand_for_report(value: Any) -> Any:
    """A trace operand: undefined shown as the string ``"undefined"`` (what the condition compared)."""
    if value is UNDEFINED:
        return "undefined"
    return json_safe(value)


# GTM's UI wording of each operator: (plain, negated).
OPERATOR_WORDING = {
    "equals": ("equals", "does not equal"),
    "contains": ("contains", "does not contain"),
    "starts_with": ("starts with", "does not start with"),
    "ends_with": ("ends with", "does not end with"),
    "matches_regex": ("matches RegEx", "does not match RegEx"),
    "less": ("less than", "not less than"),
    "less_or_equals": ("less than or equal to", "not less than or equal to"),
    "greater": ("greater than", "not greater than"),
    "greater_or_equals": ("greater than or equal to", "not greater than or equal to"),
}


@dataclass(slots=True)
class ConditionTrace:
    variable: str
    operator: str
    left: Any
    right: Any
    negate: bool
    ignore_case: bool
    result: bool
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "variable": self.variable,
            "operator": self.operator,
            "left": operand_for_report(self.left),
            "right": operand_for_report(self.right),
            "negate": self.negate,
            "ignore_case": self.ignore_case,
            "result": self.result,
        }
        if self.error:
            out["error"] = self.error
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def describe(self) -> str:
        op = OPERATOR_WORDING.get(self.operator, (self.operator, "not " + self.operator))[1 if self.negate else 0]
        if self.ignore_case and self.operator == "matches_regex":
            op += " (ignore case)"
        mark = "✓" if self.result else "✗"
        return f"{mark} {{{{{self.variable}}}}} {op} {self.right!r} (value: {operand_for_report(self.left)!r})"


@dataclass(slots=True)
class TriggerTrace:
    name: str
    role: TriggerRole
    matched: bool
    conditions: list[ConditionTrace] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "matched": self.matched,
            "conditions": [c.to_dict() for c in self.conditions],
        }


@dataclass(slots=True)
class Outgoing:
    """One outgoing HTTP request a tag made, with the vendor's answer."""

    tag: str
    method: str
    url: str
    headers: dict[str, str]
    body: Any
    response: dict[str, Any] | None = None
    vendor_ok: bool | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    duration_ms: float | None = None
    # The raw texts that were sent and received, for a cheap "could this hold a secret?" check.
    raw_text: str = field(default="", repr=False, compare=False)
    # The answer's body as received, when ``response`` shows it parsed (JSON): a re-run answers
    # with these bytes (server/rerun.py). Not part of ``to_dict()``.
    response_text: str | None = field(default=None, repr=False, compare=False)

    def _fields(self, body: Any, response: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"tag": self.tag, "method": self.method, "url": self.url, "headers": dict(self.headers),
                               "body": body, "response": response, "vendor_ok": self.vendor_ok}
        if self.error:
            out["error"] = self.error
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.duration_ms is not None:
            out["duration_ms"] = round(self.duration_ms, 3)
        return out

    def to_dict(self) -> dict[str, Any]:
        return self._fields(json_safe(self.body), json_safe(self.response))

    def stored_fields(self) -> dict[str, Any]:
        """What :meth:`to_json` writes, before it is written (the body and answer not copied)."""
        fields = self._fields(self.body, self.response)
        if self.response_text is not None:
            fields[RESPONSE_TEXT] = self.response_text
        return fields

    def to_json(self) -> str:
        """``to_dict()`` as JSON text. Bodies that are plain JSON data (what tags send) are written as
        they are, without the copy ``json_safe`` makes; anything else goes through it."""
        try:
            return json.dumps(self.stored_fields(), ensure_ascii=False, allow_nan=False, check_circular=False)
        except (TypeError, ValueError, RecursionError):  # undefined members, NaN, bytes: as json_safe shows them
            fields = self.to_dict()
            if self.response_text is not None:
                fields[RESPONSE_TEXT] = self.response_text
            return json.dumps(fields, ensure_ascii=False)


RESPONSE_TEXT = "response_text"  # the key of Outgoing.response_text in to_json()'s text


def describe_changes(changes: dict[str, Any]) -> str:
    """``{"removed": [...], "set": {...}}`` as a short phrase."""
    parts = []
    if changes.get("removed"):
        parts.append("removed " + ", ".join(changes["removed"]))
    if changes.get("set"):
        parts.append("set " + ", ".join(f"{k}={v!r}" for k, v in changes["set"].items()))
    return "; ".join(parts) or "no change"


def describe_transformation(applied: dict[str, Any]) -> str:
    """One line on a transformation that changed what a tag saw."""
    return f"transformation {applied['name']!r} ({applied['kind']}): {describe_changes(applied['changes'])}"


@dataclass(slots=True)
class TagResult:
    name: str
    type: str
    fired: bool
    status: TagStatus
    triggers: list[TriggerTrace] = field(default_factory=list)
    vendor_rejected: bool = False
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_ms: float | None = None
    # not_emulated tags: what the tag would have read (its parameters and event data fields)
    would_read: dict[str, Any] | None = None
    # transformations applied to the event data this tag saw: [{name, kind, changes}]
    transformations: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "fired": self.fired,
            "status": self.status,
            "triggers": [t.to_dict() for t in self.triggers],
            "vendor_rejected": self.vendor_rejected,
            "error": self.error,
        }
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.notes:
            out["notes"] = list(self.notes)
        if self.duration_ms is not None:
            out["duration_ms"] = round(self.duration_ms, 3)
        if self.would_read is not None:
            out["would_read"] = json_safe(self.would_read)
        if self.transformations:
            out["transformations"] = json_safe(self.transformations)
        return out

    def explain(self) -> str:
        """A human sentence on why the tag did or did not fire."""
        if self.status == PAUSED:
            return f"{self.name}: paused"
        lines = [f"{self.name}: {self.status}" + (f" ({self.error})" if self.error else "")]
        for trig in self.triggers:
            lines.append(f"  {trig.role} trigger {trig.name!r}: {'matched' if trig.matched else 'no match'}")
            for cond in trig.conditions:
                lines.append("    " + cond.describe())
        if self.vendor_rejected:
            lines.append("  the vendor rejected the data: " + "; ".join(self.warnings))
        for applied in self.transformations:
            lines.append("  " + describe_transformation(applied))
        if self.would_read is not None:
            lines.append("  not emulated; it would have read: " + json.dumps(json_safe(self.would_read),
                                                                             ensure_ascii=False, sort_keys=True))
        return "\n".join(lines)


@dataclass(slots=True)
class EventReport:
    event_data: dict[str, Any]
    tags: list[TagResult] = field(default_factory=list)
    outgoing: list[Outgoing] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    console: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "event_data": json_safe(self.event_data),
            "tags": [t.to_dict() for t in self.tags],
            "outgoing": [o.to_dict() for o in self.outgoing],
            "variables": json_safe(self.variables),
            "console": list(self.console),
        }
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out

    @property
    def event_name(self) -> Any:
        return self.event_data.get("event_name")


@dataclass(slots=True)
class Report:
    """What the container did with one request."""

    request: Request
    client: str | None
    response: Response
    events: list[EventReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reason: str | None = None
    now: float | None = None  # the run's clock (epoch seconds); not part of the report's JSON

    def to_dict(self) -> dict[str, Any]:
        request = self.request.to_dict()
        out: dict[str, Any] = {
            "request": request,
            "client": self.client,
            "response": self.response.to_dict(),
            "events": [e.to_dict() for e in self.events],
        }
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.reason:
            out["reason"] = self.reason
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    # ------------------------------------------------------------------ queries

    def tag_results(self, name: str) -> list[TagResult]:
        return [t for e in self.events for t in e.tags if t.name == name]

    def fired(self, name: str) -> bool:
        """Whether the tag named ``name`` fired for any event of this request."""
        return any(t.fired for t in self.tag_results(name))

    @property
    def outgoing(self) -> list[Outgoing]:
        return [o for e in self.events for o in e.outgoing]

    def iter_tags(self) -> Iterable[TagResult]:
        for event in self.events:
            yield from event.tags

    def explain(self) -> str:
        lines = [f"{self.request.method} {self.request.url} -> {self.response.status}, client: {self.client}"]
        if self.reason:
            lines.append(f"  {self.reason}")
        for index, event in enumerate(self.events):
            lines.append(f"event {index}: {event.event_name}")
            for tag in event.tags:
                lines.extend("  " + line for line in tag.explain().splitlines())
        return "\n".join(lines)


class Masker:
    """Replaces secrets (of 4 characters or more) inside strings with ``****``."""

    def __init__(self, secrets: Iterable[str]):
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        if len(self.secrets) == 1:  # the usual case: one access token
            only = self.secrets[0]
            self.holds = lambda text: only in text  # type: ignore[method-assign]

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def holds(self, text: str) -> bool:
        """Whether ``text`` contains a secret (a substring search: cheap)."""
        return any(s in text for s in self.secrets)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def mask(self, value: Any) -> Any:
        """A copy of ``value`` with every string masked (containers walked)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.mask(x) for k, x in value.items()}
        if isinstance(value, list):
            return [self.mask(x) for x in value]
        if isinstance(value, tuple):
            return tuple(self.mask(x) for x in value)
        return value

    def strings(self, values: list[str]) -> list[str]:
        """A list of strings, masked only where needed (the list itself is kept when clean)."""
        if not values or not any(self.holds(v) for v in values):
            return values
        return [self.text(v) for v in values]


def mask_secrets(value: Any, secrets: Iterable[str]) -> Any:
    """Replace every occurrence of a secret inside strings of ``value`` with ``****``."""
    masker = Masker(secrets)
    return masker.mask(value) if masker else value
