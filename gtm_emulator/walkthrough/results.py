"""The live test: the GA4 hits the walkthrough sends, and what the page shows about their reports.

The browser sends two real GA4 hits to the server (``POST /g/collect?v=2&…``, as gtag.js does): a
``purchase`` and a ``page_view``. Both carry the same page-load ID (``_p``, event data
``x-ga-page_id``), which is how the page finds their reports afterwards.

Hashed user data: the official TikTok profile reads the e-mail address from the tag's fields, then
``user_data.email_address``, then the top-level event-data key ``email`` (docs/tiktok.md, "What is hashed"), and the
external ID from ``tt_external_id``, then ``user_id``. A GA4 hit fills ``email`` through the event
parameter ``ep.email`` and ``user_id`` through ``uid`` (docs/clients.md, "Parameter mapping"), so the test
purchase sends
those two and needs no extra variable. For each hashed field the page shows the value found in the
event data, the normalised text and whether SHA-256 of it is exactly what went to TikTok.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from ..core.report import ConditionTrace, Outgoing, Report, TagResult, json_safe, operand_for_report
from .workspace import operator_choice

MEASUREMENT_ID = "G-DEMO123456"
DEFAULT_EMAIL = "Jan.Jansen@Example.nl"
DEFAULT_USER_ID = "Klant-0042"
RUN_PLACEHOLDER = "__RUN__"
EMAIL_PLACEHOLDER = "__EMAIL__"
USER_ID_PLACEHOLDER = "__USER_ID__"

_COMMON: list[tuple[str, str]] = [
    ("v", "2"), ("tid", MEASUREMENT_ID), ("gtm", "45je4a10"), ("_p", RUN_PLACEHOLDER),
    ("cid", "1234567890.1700000000"), ("sid", "1700000000"), ("sct", "3"), ("ul", "nl-nl"),
]
TEST_HITS: dict[str, list[tuple[str, str]]] = {
    "purchase": [*_COMMON,
                 ("dl", "https://shop.example/checkout/thank-you"), ("dr", "https://shop.example/checkout"),
                 ("dt", "Thank you for your order"), ("en", "purchase"), ("cu", "EUR"),
                 ("ep.transaction_id", "T-" + RUN_PLACEHOLDER), ("epn.value", "59.9"),
                 ("ep.email", EMAIL_PLACEHOLDER), ("uid", USER_ID_PLACEHOLDER),
                 ("pr1", "idSKU-123~nmBlue sneakers~pr59.9~qt1")],
    "page_view": [*_COMMON,
                  ("dl", "https://shop.example/"), ("dt", "Shop"), ("en", "page_view")],
}

# Where the official profile finds each hashed field in event data, in its order (docs/tiktok.md, "What is hashed").
HASH_SOURCES: dict[str, tuple[str, ...]] = {
    "email": ("user_data.email_address", "email"),
    "phone": ("user_data.phone_number",),
    "external_id": ("tt_external_id", "user_id"),
}
LOWER_CASED = ("email", "phone")
# What the finished setup does with each test hit: the tag fires on the purchase and not on the
# page_view (the page_view is sent to show exactly that).
EXPECTED_FIRED = {"purchase": True, "page_view": False}
# TikTok's codes for a token it does not accept (missing, unknown) and for a pixel the token may not use.
TOKEN_CODES = (40104, 40105)
PIXEL_CODES = (40001,)
# The tag's own warning that repeats the vendor's answer (tags.tiktok.judge); the page shows the answer once.
REJECTION_WARNING = "TikTok rejected the event:"
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def hit_query(name: str, run: int, email: str = DEFAULT_EMAIL, user_id: str = DEFAULT_USER_ID) -> str:
    """The query string of one test hit (what the page's script sends)."""
    values = {RUN_PLACEHOLDER: str(run), EMAIL_PLACEHOLDER: email, USER_ID_PLACEHOLDER: user_id}
    pairs = []
    for key, value in TEST_HITS[name]:
        for placeholder, real in values.items():
            value = value.replace(placeholder, real)
        pairs.append((key, value))
    return urlencode(pairs)


def _lookup(event_data: dict[str, Any], path: str) -> Any:
    value: Any = event_data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@dataclass
class HashedField:
    name: str
    hashed: str
    source: str | None = None
    original: str | None = None
    normalised: str | None = None

    @property
    def verified(self) -> bool:
        return self.normalised is not None and hashlib.sha256(self.normalised.encode()).hexdigest() == self.hashed


@dataclass
class FailedCondition:
    trigger: str
    variable: str
    choice: str | None
    operator: str
    left: Any
    right: Any
    error: str | None = None

    @property
    def differs_in_case_only(self) -> bool:
        """"Purchase" against "purchase": equal but for upper and lower case (matching is case-sensitive)."""
        left, right = self.left, self.right
        return isinstance(left, str) and isinstance(right, str) and left != right and left.lower() == right.lower()


@dataclass
class TagView:
    name: str
    fired: bool
    status: str
    error: str | None
    vendor_rejected: bool
    warnings: list[str]
    outgoing: Outgoing | None = None
    hashed: list[HashedField] = field(default_factory=list)
    plain_user: list[tuple[str, Any]] = field(default_factory=list)
    failed: list[FailedCondition] = field(default_factory=list)
    no_triggers: bool = False
    notes: list[str] = field(default_factory=list)
    expected_fired: bool | None = None

    @property
    def as_expected(self) -> bool | None:
        """Whether firing (or not) is what the finished setup does for this test hit (None: no opinion)."""
        return None if self.expected_fired is None else self.fired == self.expected_fired

    @property
    def rejection_fix(self) -> str:
        """The text key of what to do about a vendor's rejection."""
        code = (self.answer or {}).get("code")
        if code in TOKEN_CODES:
            return "rejected_fix_token"
        if code in PIXEL_CODES:
            return "rejected_fix_pixel"
        return "rejected_fix_other"

    @property
    def body_json(self) -> str:
        return json.dumps(json_safe(self.outgoing.body), indent=2, ensure_ascii=False) if self.outgoing else ""

    @property
    def payload_lines(self) -> list[tuple[str, str | None]]:
        """The payload's JSON lines, each with the hashed field it carries (None for the others)."""
        hashes = {h.hashed: h.name for h in self.hashed}
        out: list[tuple[str, str | None]] = []
        for line in self.body_json.splitlines():
            out.append((line, next((name for value, name in hashes.items() if value in line), None)))
        return out

    @property
    def answer(self) -> dict[str, Any] | None:
        """TikTok's answer: HTTP status, and the envelope's code and message."""
        if self.outgoing is None or self.outgoing.response is None:
            return None
        body = self.outgoing.response.get("body")
        envelope = body if isinstance(body, dict) else {}
        return {"status": self.outgoing.response.get("status"), "code": envelope.get("code"),
                "message": envelope.get("message"), "request_id": envelope.get("request_id"),
                "ok": self.outgoing.vendor_ok}


@dataclass
class EventView:
    event_name: str
    client: str | None
    url: str
    status: int
    tags: list[TagView]


def _hashed_fields(event_data: dict[str, Any], user: dict[str, Any]) -> list[HashedField]:
    fields = []
    for name, value in user.items():
        if not isinstance(value, str) or not _HEX64.fullmatch(value):
            continue
        entry = HashedField(name, value)
        for source in HASH_SOURCES.get(name, ()):
            original = _lookup(event_data, source)
            if isinstance(original, str) and original:
                entry.source, entry.original = source, original
                entry.normalised = original.lower().strip() if name in LOWER_CASED else original.strip()
                break
        fields.append(entry)
    return fields


def _failed(tag: TagResult) -> list[FailedCondition]:
    out = []
    for trace in tag.triggers:
        if trace.role != "firing" or trace.matched:
            continue
        for cond in trace.conditions:
            if not cond.result:
                out.append(_failed_condition(trace.name, cond))
    return out


def _failed_condition(trigger: str, cond: ConditionTrace) -> FailedCondition:
    return FailedCondition(trigger, cond.variable, operator_choice(cond.operator, cond.negate, cond.ignore_case),
                           cond.operator, operand_for_report(cond.left), operand_for_report(cond.right), cond.error)


def tag_view(tag: TagResult, event_data: dict[str, Any], outgoing: Sequence[Outgoing]) -> TagView:
    warnings = [w for w in tag.warnings if not (tag.vendor_rejected and w.startswith(REJECTION_WARNING))]
    view = TagView(tag.name, tag.fired, tag.status, tag.error, tag.vendor_rejected, warnings,
                   notes=list(tag.notes), expected_fired=EXPECTED_FIRED.get(str(event_data.get("event_name"))))
    mine = [o for o in outgoing if o.tag == tag.name]
    if mine:
        view.outgoing = mine[0]
        body = mine[0].body if isinstance(mine[0].body, dict) else {}
        data = body.get("data") if isinstance(body.get("data"), list) else []
        user = data[0].get("user") if data and isinstance(data[0], dict) else None
        if isinstance(user, dict):
            view.hashed = _hashed_fields(event_data, user)
            hashed_names = {h.name for h in view.hashed}
            view.plain_user = [(k, v) for k, v in user.items() if k not in hashed_names]
    if not tag.fired:
        view.failed = _failed(tag)
        view.no_triggers = not any(t.role == "firing" for t in tag.triggers)
    return view


def event_views(reports: Iterable[Report]) -> list[EventView]:
    views = []
    for report in reports:
        for event in report.events:
            name = event.event_data.get("event_name")
            tags = [tag_view(t, event.event_data, event.outgoing) for t in event.tags]
            views.append(EventView(str(name), report.client, report.request.url, report.response.status, tags))
    return views


def reports_for_run(reports: Iterable[Report], run: int) -> list[Report]:
    """The reports of one test run (their events carry ``x-ga-page_id`` = run)."""
    out = []
    for report in reports:
        for event in report.events:
            page_id = event.event_data.get("x-ga-page_id")
            if isinstance(page_id, (int, float)) and not isinstance(page_id, bool) and page_id == run:
                out.append(report)
                break
    return out
