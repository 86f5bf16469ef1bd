"""Differential harness: the native TikTok tag against the published TikTok templates.

The repository does not ship the published templates. Point the harness at a folder that holds them
(``GTM_EMULATOR_PUBLISHED_TEMPLATES=/path`` or ``--templates``): every ``.tpl`` file in it is read and
recognised by its ``gtmVersion`` constant (``PUBLISHED``). For each generated case (event data, tag
settings, cookies, request headers, clock, preview mode and TikTok's answer) the template runs in
the emulator's own sandbox (:class:`~gtm_emulator.tags.template_tag.TemplateTag`) and the native tag
(:class:`~gtm_emulator.tags.tiktok.TikTokTag` with the matching profile) runs beside it, each in a
fresh :class:`~gtm_emulator.tags.base.TagContext`. What each one did is compared field by field:

- ``request[i].method`` / ``.url`` / ``.headers`` / ``.body`` (the bytes sent, exactly);
- ``cookies`` (the ``Set-Cookie`` header values of the response);
- ``status`` (``success`` / ``failure``);
- ``console`` (the lines written with ``logToConsole``).

Cases come from Hypothesis strategies (:func:`cases`); settings use the template's own field names,
left out or set as the GTM UI or a variable could set them.

Run it as ``gtm-emulator tiktok-parity --templates DIR --examples 5000`` (a report by field, exit 1
on any difference) or as the test ``tests/test_tiktok_published_parity.py`` (skipped, with the reason,
when no folder is configured).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.js import UNDEFINED
from ..core.request import Request, Response
from ..core.variables import ContainerInfo, EventContext
from ..core.variables import Template as ValueTemplate
from ..errors import TagError
from ..sandbox.tpl import CustomTemplate, load_template
from ..tags.base import TagContext
from ..tags.template_tag import TemplateTag, referenced_defaults
from ..tags.tiktok import TikTokTag
from ..vendors.transport import HttpResponse, TransportError

ENV_VAR = "GTM_EMULATOR_PUBLISHED_TEMPLATES"
# the gtmVersion constant each published template writes -> the native profile that reproduces it
PUBLISHED = {"s2s_0_2_01": "tiktok-official", "stape_2_0_1": "stape"}
SOURCES = {"tiktok-official": "tiktok/gtm-template-eapi template.tpl (v0.2.01)",
           "stape": "stape-io/tiktok-tag template.tpl (stape_2_0_1)"}
DEFAULT_EXAMPLES = 5000
FIELDS = ("request", "cookies", "status", "console")


# ---------------------------------------------------------------------- finding the templates


def find_templates(folder: str | os.PathLike[str]) -> dict[str, CustomTemplate]:
    """``{profile: CustomTemplate}`` for every published template found in ``folder`` (by its gtmVersion)."""
    out: dict[str, CustomTemplate] = {}
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    for path in sorted(root.glob("*.tpl")):
        text = path.read_text(encoding="utf-8")
        for version, profile in PUBLISHED.items():
            if f"'{version}'" in text or f'"{version}"' in text:
                out.setdefault(profile, load_template(text, str(path)))
    return out


def configured_folder() -> str | None:
    value = os.environ.get(ENV_VAR, "").strip()
    return value or None


# ---------------------------------------------------------------------- one case, both sides


@dataclass
class Case:
    """One generated input: what both implementations are given."""

    event_data: dict[str, Any]
    params: dict[str, Any]  # the tag's fields, as the template names them (absent = not set)
    cookies: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    now: float = 1_700_000_000.0
    preview: bool = True
    answer: tuple[int, str] | None = (200, '{"code":0,"message":"OK","request_id":"r","data":{}}')
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"event_data": self.event_data, "params": self.params, "cookies": self.cookies,
                "headers": self.headers, "now": self.now, "preview": self.preview,
                "answer": list(self.answer) if self.answer else None, "seed": self.seed}


@dataclass
class Outcome:
    """What one implementation did for a case."""

    requests: list[dict[str, Any]]
    cookies: list[str]
    status: str
    console: list[str]
    error: str | None = None


class _Wire:
    """A transport that keeps every request exactly as sent and gives the case's answer."""

    name = "parity"

    def __init__(self, answer: tuple[int, str] | None):
        self.answer = answer
        self.sent: list[dict[str, Any]] = []

    def send(self, method: str, url: str, headers: dict[str, str], body: bytes, timeout: float = 0) -> HttpResponse:
        self.sent.append({"method": method, "url": url, "headers": dict(headers), "body": bytes(body)})
        if self.answer is None:
            raise TransportError("failed", "no answer (the case's network failure)")
        status, text = self.answer
        return HttpResponse(status, {"content-type": "application/json"}, text.encode("utf-8"))


def _context(case: Case, wire: _Wire) -> tuple[TagContext, EventContext]:
    request = Request.build("POST", "https://sgtm.example/g/collect", headers=case.headers, cookies=case.cookies)
    info = ContainerInfo(container_id="GTM-PARITY", version="1", debug_mode=case.preview,
                         preview_mode=case.preview)
    event = EventContext(case.event_data, request, "GA4", {}, info, case.now, random.Random(case.seed))
    ctx = TagContext(tag_name="TikTok", event_data=case.event_data, request=request, response=Response(),
                     transport=wire, now=case.now, rng=random.Random(case.seed), info=info, client_name="GA4")
    return ctx, event


def _finish(ctx: TagContext, wire: _Wire, error: str | None) -> Outcome:
    return Outcome(requests=wire.sent, cookies=[c.header_value() for c in ctx.response.set_cookies],
                   status="failure" if error is not None else "success", console=list(ctx.console), error=error)


def run_native(profile: str, case: Case) -> Outcome:
    wire = _Wire(case.answer)
    ctx, _ = _context(case, wire)
    error = None
    try:
        TikTokTag().run({**case.params, "profile": profile}, ctx)
    except TagError as exc:
        error = str(exc)
    return _finish(ctx, wire, error)


def run_template(template: CustomTemplate, case: Case) -> Outcome:
    wire = _Wire(case.answer)
    ctx, event = _context(case, wire)
    params = dict(case.params)
    # a field left unset whose default refers to variables is resolved as the container does it
    for name, default in referenced_defaults(template).items():
        if name not in params:
            params[name] = ValueTemplate(default).evaluate(event)
    error = None
    try:
        TemplateTag(template).run(params, ctx)
    except TagError as exc:
        error = str(exc)
    return _finish(ctx, wire, error)


# ---------------------------------------------------------------------- comparing


@dataclass
class Difference:
    field: str
    native: Any
    template: Any

    def __str__(self) -> str:
        return f"{self.field}: native {_show(self.native)} != template {_show(self.template)}"


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 400 else text[:400] + "…"


def compare(native: Outcome, template: Outcome) -> list[Difference]:
    """Every difference between two outcomes, by field (``request[0].body`` names the first
    differing JSON path inside the body as well)."""
    out: list[Difference] = []
    if native.status != template.status:
        out.append(Difference("status", f"{native.status} ({native.error})", f"{template.status} ({template.error})"))
    if len(native.requests) != len(template.requests):
        out.append(Difference("request.count", len(native.requests), len(template.requests)))
    for index, (a, b) in enumerate(zip(native.requests, template.requests, strict=False)):
        for key in ("method", "url", "headers"):
            if a[key] != b[key]:
                out.append(Difference(f"request[{index}].{key}", a[key], b[key]))
        if a["body"] != b["body"]:
            where = _first_json_difference(a["body"], b["body"])
            out.append(Difference(f"request[{index}].body{where}", a["body"], b["body"]))
    if native.cookies != template.cookies:
        out.append(Difference("cookies", native.cookies, template.cookies))
    if native.console != template.console:
        out.append(Difference("console", native.console, template.console))
    return out


def _first_json_difference(a: bytes, b: bytes) -> str:
    try:
        x = json.loads(a, object_pairs_hook=list)
        y = json.loads(b, object_pairs_hook=list)
    except ValueError:
        return ""

    def walk(p: Any, q: Any, path: str) -> str | None:
        if isinstance(p, list) and isinstance(q, list) and p and q and all(
                isinstance(e, tuple) for e in p + q):
            pk, qk = [k for k, _ in p], [k for k, _ in q]
            if set(pk) != set(qk):
                extra = sorted(set(pk) ^ set(qk))
                return f"{path} (keys differ: {', '.join(extra)})"
            for (k, v) in p:
                w = dict(q)[k]
                found = walk(v, w, f"{path}.{k}")
                if found:
                    return found
            if pk != qk:
                return f"{path} (key order)"
            return None
        if isinstance(p, list) and isinstance(q, list):
            if len(p) != len(q):
                return f"{path} (length)"
            for i, (v, w) in enumerate(zip(p, q, strict=True)):
                found = walk(v, w, f"{path}[{i}]")
                if found:
                    return found
            return None
        if type(p) is not type(q) or p != q:
            return path
        return None

    found = walk(x, y, "")
    return f" at {found or '(number or string formatting)'}"


def check_case(profile: str, template: CustomTemplate, case: Case) -> list[Difference]:
    return compare(run_native(profile, case), run_template(template, case))


# ---------------------------------------------------------------------- the run and its report


@dataclass
class ProfileResult:
    profile: str
    source: str
    cases: int = 0
    differing: int = 0
    by_field: Counter[str] = field(default_factory=Counter)
    template_failures: int = 0
    sent: int = 0
    examples: list[tuple[Case, list[Difference]]] = field(default_factory=list)

    def add(self, case: Case, native: Outcome, template: Outcome, keep: int) -> None:
        diffs = compare(native, template)
        self.cases += 1
        self.sent += bool(template.requests)
        self.template_failures += template.status != "success"
        if diffs:
            self.differing += 1
            for d in diffs:
                self.by_field[d.field.split(" at ")[0] if " at " not in d.field else d.field] += 1
            if len(self.examples) < keep:
                self.examples.append((case, diffs))


def run(folder: str | os.PathLike[str], *, examples: int = DEFAULT_EXAMPLES, profiles: Iterable[str] | None = None,
        seed: int = 0, keep: int = 5, progress: Callable[[str, int], None] | None = None) -> list[ProfileResult]:
    """Run the harness on ``examples`` generated cases per profile; one :class:`ProfileResult` each."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    templates = find_templates(folder)
    wanted = list(profiles) if profiles else list(PUBLISHED.values())
    missing = [p for p in wanted if p not in templates]
    if missing:
        raise FileNotFoundError(f"{folder}: no published template for {', '.join(missing)} (looked for "
                                f"gtmVersion {', '.join(v for v, p in PUBLISHED.items() if p in missing)} in *.tpl)")
    results = []
    for profile in wanted:
        template = templates[profile]
        result = ProfileResult(profile, SOURCES[profile])

        @hseed(seed)
        @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(cases(profile))
        def one(case: Case) -> None:
            result.add(case, run_native(profile, case), run_template(template, case), keep)  # noqa: B023
            if progress is not None:
                progress(profile, result.cases)  # noqa: B023

        one()
        results.append(result)
    return results


def format_report(results: list[ProfileResult], *, verbose: bool = True) -> str:
    lines = []
    for r in results:
        lines.append(f"{r.profile}: {r.cases} cases against {r.source}: {r.differing} with differences "
                     f"({r.sent} sent a request, {r.template_failures} ended in failure)")
        for name, count in sorted(r.by_field.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {count:6d}  {name}")
        if verbose:
            for case, diffs in r.examples:
                lines.append("  example: " + json.dumps(case.to_dict(), ensure_ascii=False, default=str))
                lines.extend(f"    {d}" for d in diffs)
    return "\n".join(lines)


# ---------------------------------------------------------------------- what is generated


def cases(profile: str) -> Any:
    """A Hypothesis strategy of :class:`Case` for ``profile``."""
    from . import tiktok_parity_strategies as s

    return s.cases(profile)


def as_params(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not UNDEFINED}
