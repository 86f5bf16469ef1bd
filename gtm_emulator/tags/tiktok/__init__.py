"""The TikTok Events API tag (Events API v1.3, ``/event/track/``) with three behaviour profiles.

``build_request`` is pure: event data and resolved tag parameters in, the request the tag would send
(method, url, headers, body, set_cookies). :class:`TikTokTag` sends it through the container's
transport and reports TikTok's verdict (:func:`judge`).

Profiles (tag parameter ``profile``; docs/tiktok.md, "Profiles"):

- ``tiktok-official`` (default): TikTok's own sGTM template v0.2.01 (:mod:`.official`);
- ``stape``: stape's community template v2.0.1 (:mod:`.stape`);
- ``tiktok-spec``: TikTok's documented rules, no template quirks (:mod:`.spec`).

Choices where the spec leaves room:

- A missing access token: the template profiles send no ``Access-Token`` header (their
  ``sendHttpRequest`` leaves out a header whose value is undefined); ``tiktok-spec`` sends it empty.
  TikTok answers 40104 either way.
- Tag status follows the templates: HTTP 200–399 is success even when TikTok's envelope carries an
  error code (the outgoing entry then has ``vendor_ok: false`` and the tag ``vendor_rejected``); no
  HTTP answer (network failure or timeout) is a failure (``NO_ANSWER_IS_FAILURE``); stape's
  optimistic scenario is success whatever happens.
- The mock's own warnings (duplicates, currency, event time …) reach the report through the
  ``X-Mock-Warnings`` response header, which :func:`judge` reads; TikTok never sends it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping
from typing import Any

from ...core import js
from ...core.js import UNDEFINED, truthy
from ...errors import ConfigError, Problem, TagError
from ...vendors.tiktok_mock import WARNINGS_HEADER
from ...vendors.transport import HttpResponse
from ..base import TagContext
from . import official, spec, stape
from .common import ENDPOINT, HOST, Notes, TemplateThrow, check_event_name, check_types

__all__ = ["DEFAULT_PROFILE", "ENDPOINT", "HOST", "PROFILES", "TikTokTag", "build_request", "judge"]

DEFAULT_PROFILE = "tiktok-official"
PROFILES = ("tiktok-official", "stape", "tiktok-spec")
NO_ANSWER_IS_FAILURE = True


def profile_of(params: Mapping[str, Any]) -> str:
    profile = params.get("profile") or DEFAULT_PROFILE
    if profile not in PROFILES:
        raise ConfigError(Problem("tag parameters", "profile",
                                  f"unknown TikTok profile {profile!r}; one of: {', '.join(PROFILES)}"))
    return str(profile)


def apply_event_name_override(event_data: Mapping[str, Any], params: Mapping[str, Any], profile: str,
                              report: Notes) -> Mapping[str, Any]:
    """The ``event_name_overrides`` table (emulator extension): GA4 event name -> TikTok event, as a
    Lookup Table variable in the Event Name field would do. Returns the parameters to use."""
    rows = params.get("event_name_overrides")
    source = event_data.get("event_name", UNDEFINED)
    if not isinstance(rows, list) or not isinstance(source, str):
        return params
    for row in rows:
        if isinstance(row, Mapping) and row.get("from") == source and truthy(row.get("to")):
            target = js.to_string(row["to"])
            report.note(f"event name override: {source!r} sent as {target!r}")
            if profile == "stape":
                return {**params, "eventType": "custom", "eventNameCustom": target}
            return {**params, "event": target}
    return params


def build_request(
    event_data: Mapping[str, Any],
    params: Mapping[str, Any],
    cookies: Mapping[str, Any] | None = None,
    now: float | None = None,
    *,
    warnings: list[str] | None = None,
    notes: list[str] | None = None,
    request_headers: Mapping[str, str | None] | None = None,
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """What the TikTok tag sends for one event: ``{method, url, headers, body, set_cookies}``.

    ``cookies`` maps a cookie name to its values (a list, or one string). ``now`` is epoch seconds.
    Warnings (values TikTok rejects, un-normalised PII) are appended to ``warnings`` and
    informational notes (skips, custom names) to ``notes``. ``request_headers`` (lower-case names:
    ``referer``, ``trace-id``) are read by the stape profile; ``rng`` generates stape's ``_ttp``.
    When the profile skips the event, ``method``, ``url`` and ``body`` are None and ``skip`` says why.
    Raises :class:`TagError` where the template would throw; the error's ``set_cookies`` attribute (when
    present) lists the cookies the template had already written.
    """
    return _build_request(event_data, params, cookies, now, warnings=warnings, notes=notes,
                          request_headers=request_headers, rng=rng)[0]


def _build_request(
    event_data: Mapping[str, Any],
    params: Mapping[str, Any],
    cookies: Mapping[str, Any] | None = None,
    now: float | None = None,
    *,
    warnings: list[str] | None = None,
    notes: list[str] | None = None,
    request_headers: Mapping[str, str | None] | None = None,
    rng: random.Random | None = None,
) -> tuple[dict[str, Any], Any]:
    """:func:`build_request`, and the body for :func:`js.stringify` (a :class:`js.Plain` when the
    body is plain data, so that the tag writes it without walking it again)."""
    profile = profile_of(params)
    now = time.time() if now is None else now
    report = Notes(warnings, notes)
    params = apply_event_name_override(event_data, params, profile, report)
    headers = {str(k).lower(): v for k, v in (request_headers or {}).items() if v is not None}
    if profile == "stape":
        built = stape.build(event_data, params, cookies, now, report, headers, rng)
        token = params.get("accessToken", UNDEFINED)
    elif profile == "tiktok-spec":
        built = spec.build(event_data, params, cookies, now, report)
        token = params.get("access_token", UNDEFINED)
    else:
        built = official.build(event_data, params, cookies, now, report)
        token = params.get("access_token", UNDEFINED)
    if "skip" in built:
        report.note(built["skip"])
        skipped = {"method": None, "url": None, "headers": {}, "body": None, "set_cookies": [], "skip": built["skip"]}
        return skipped, None
    checked = js.plain(built["body"])  # undefined members dropped; written without a second walk
    body = checked.data if type(checked) is js.Plain else checked
    for event in body["data"]:
        check_event_name(event.get("event", UNDEFINED), report)
    check_types(body, report)
    headers_out = {"Content-Type": "application/json"}
    if profile == "tiktok-spec":
        headers_out["Access-Token"] = js.to_string(token) if truthy(token) else ""
    elif token is not UNDEFINED:  # the templates' sendHttpRequest leaves out a header whose value is undefined
        headers_out["Access-Token"] = js.to_string(token)
    return {
        "method": "POST",
        "url": ENDPOINT,
        "headers": headers_out,
        "body": body,
        "set_cookies": built["set_cookies"],
    }, checked


def judge(response: HttpResponse) -> tuple[bool, list[str]]:
    """TikTok's verdict on an HTTP 2xx answer: accepted when the envelope's ``code`` is 0 or 20001."""
    extra: list[str] = []
    raw_extra = next((v for k, v in response.headers.items() if k.lower() == WARNINGS_HEADER.lower()), None)
    if raw_extra:
        try:
            extra = [f"mock TikTok: {w}" for w in json.loads(raw_extra) if isinstance(w, str)]
        except ValueError:
            extra = []
    try:
        envelope = response.json()
    except (ValueError, UnicodeDecodeError):
        snippet = response.text()[:80]
        return False, [f"TikTok answered HTTP {response.status} with a body that is not its JSON envelope: "
                       f"{snippet!r}"]
    if not isinstance(envelope, dict) or not isinstance(envelope.get("code"), int):
        return False, [f"TikTok answered HTTP {response.status} without a code in its envelope"]
    code = envelope["code"]
    message = envelope.get("message", "")
    if code == 0:
        return True, extra
    if code == 20001:
        return True, [f"TikTok partially accepted the data: code 20001: {message}", *extra]
    return False, [f"TikTok rejected the event: code {code}: {message}", *extra]


# Where each template's logToConsole lines are shown (its ``logging`` permission): TikTok's template
# declares debug environments only, stape's all environments.
LOG_ENVIRONMENTS = {"tiktok-official": "debug", "stape": "all", "tiktok-spec": "all"}


def _should_log(params: Mapping[str, Any], ctx: TagContext, profile: str) -> bool:
    """The templates' ``determinateIsLoggingEnabled`` and their logging permission."""
    info = ctx.info
    debug = bool(info is not None and (getattr(info, "debug_mode", False) or getattr(info, "preview_mode", False)))
    if LOG_ENVIRONMENTS.get(profile) == "debug" and not debug:
        return False
    mode = params.get("logType", UNDEFINED)
    if not truthy(mode) or mode == "debug":
        return debug
    return bool(mode == "always")


def _set_cookies(ctx: TagContext, entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        ctx.set_cookie(entry["name"], entry["value"], {
            "domain": entry["domain"], "path": entry["path"], "max-age": entry["max_age"],
            "secure": entry["secure"], "httpOnly": entry["http_only"], "samesite": entry["same_site"]})


class TikTokTag:
    """The native TikTok Events API tag (``type: tiktok_events_api``)."""

    type = "tiktok_events_api"
    secret_params = frozenset({"access_token", "accessToken"})
    reads_event_data_only = True  # build_request is pure (a property test holds it to that)

    def run(self, params: dict[str, Any], ctx: TagContext) -> None:
        profile = profile_of(params)
        cookies = {name: ctx.cookie_values(name) for name in ("ttclid", "_ttp")}
        headers = {"referer": ctx.request.header("Referer"), "trace-id": ctx.request.header("trace-id")}
        try:
            built, body_json = _build_request(ctx.event_data, params, cookies=cookies, now=ctx.now,
                                              warnings=ctx.warnings, notes=ctx.notes, request_headers=headers,
                                              rng=ctx.rng)
        except TagError as exc:
            _set_cookies(ctx, getattr(exc, "set_cookies", []))
            if isinstance(exc, TemplateThrow):  # as the sandbox reports a template that throws
                ctx.console.append(f"ERROR: the template threw: {exc.js_error}")
            raise
        if built.get("skip"):
            return
        body = js.stringify(body_json)
        assert isinstance(body, str)
        log = _should_log(params, ctx, profile)
        event_name = UNDEFINED if profile == "tiktok-official" else built["body"]["data"][0].get("event", UNDEFINED)
        trace_id = headers["trace-id"] if headers["trace-id"] is not None else UNDEFINED
        if log:
            # JSON.stringify of the log object, with the body text spliced in instead of written twice
            head = js.stringify({"Name": "TikTok", "Type": "Request", "TraceId": trace_id, "EventName": event_name,
                                 "RequestMethod": built["method"], "RequestUrl": built["url"]})
            assert isinstance(head, str)
            ctx.log(head[:-1] + ',"RequestBody":' + body + "}")
        if profile == "stape" and params.get("bigQueryLogType") == "always":
            ctx.notes.append("stape: BigQuery logging is on; the emulator does not write to BigQuery")
        _set_cookies(ctx, built["set_cookies"])
        response = ctx.send_http(built["method"], built["url"], built["headers"], body, judge=judge,
                                 shown_body=built["body"])
        if log:  # the template's callback logs the answer; no answer is status 0, no headers, ""
            status, answer_headers, text = (0, {}, "") if response is None else (
                response.status, {k.lower(): v for k, v in response.headers.items()}, response.text())
            ctx.log(js.stringify({"Name": "TikTok", "Type": "Response", "TraceId": trace_id,
                                  "EventName": event_name, "ResponseStatusCode": status,
                                  "ResponseHeaders": answer_headers, "ResponseBody": text}))
        if profile == "stape" and truthy(params.get("useOptimisticScenario")):
            ctx.notes.append("stape optimistic scenario: success reported before TikTok's answer")
            return
        if response is None:
            if NO_ANSWER_IS_FAILURE:
                raise TagError("the request to TikTok got no HTTP answer")
            return
        if not 200 <= response.status < 400:
            raise TagError(f"TikTok answered HTTP {response.status}")
