"""Event callbacks, sendPixelFromBrowser and the request path prefix in tag templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import ALL_PERMS, NOW, PURCHASE, perm, tpl

from gtm_emulator.core.container import Container
from gtm_emulator.core.report import Report, TagResult
from gtm_emulator.core.request import Request
from gtm_emulator.core.variables import EventContext
from gtm_emulator.loading.config import load_container
from gtm_emulator.tags.template_tag import CALLBACK_STATUSES, callback_status
from gtm_emulator.vendors.transport import HttpResponse, MockTransport

EVENT_PERMS = [*ALL_PERMS, perm("read_event_metadata")]
PIXEL_PERMS = [*ALL_PERMS, perm("send_pixel_from_browser")]


def write_tpl(tmp_path: Path, name: str, code: str, permissions: list[dict[str, Any]] | None = None) -> str:
    path = tmp_path / f"{name}.tpl"
    path.write_text(tpl(code, permissions=permissions), encoding="utf-8")
    return str(path)


def container(tmp_path: Path, tags: list[dict[str, Any]], **settings: Any) -> Container:
    """A GA4 client and these tags, all firing on every event (``tags``: name -> .tpl code)."""
    data: dict[str, Any] = {
        "name": "gaps", "container_id": "GTM-GAPS", "settings": settings,
        "clients": [{"name": "GA4", "type": "ga4"}],
        "tags": [{"name": t["name"], "type": "template", "firing_triggers": ["All Events"],
                  "priority": t.get("priority", 0),
                  "template": write_tpl(tmp_path, f"t{i}", t["code"], t.get("perms", EVENT_PERMS))}
                 for i, t in enumerate(tags)],
    }
    return load_container(data)


def hit(c: Container, path: str = PURCHASE) -> Report:
    return c.simulate("GET", "https://sgtm.shop.example" + path, now=NOW)


CALLBACK_TAG = """
const addEventCallback = require('addEventCallback');
const logToConsole = require('logToConsole');
const JSON = require('JSON');
addEventCallback((containerId, data) => {
  logToConsole('callback', containerId, JSON.stringify(data.tags.map(t => [t.id, t.status, typeof t.executionTime])));
});
logToConsole('tag body ran');
data.gtmOnSuccess();
"""
FAILING = "require('logToConsole')('failing tag'); data.gtmOnFailure();"
THROWING = "require('addEventCallback')(() => { throw new Error('late boom'); }); throw new Error('boom');"
SILENT = "const x = 1;"


def test_tag_event_callback_runs_after_all_tags_with_their_statuses(tmp_path: Path) -> None:
    c = container(tmp_path, [
        {"name": "Watcher", "code": CALLBACK_TAG, "priority": 10},
        {"name": "Fails", "code": FAILING, "priority": 5},
        {"name": "Throws", "code": THROWING, "priority": 4},
        {"name": "Never completes", "code": SILENT, "priority": 3},
    ])
    event = hit(c).events[0]
    # the callback's log line comes after every tag's own output: it ran once all tags had finished
    assert event.console[0] == "tag body ran"
    assert event.console[1] == "failing tag"
    line = next(x for x in event.console if x.startswith("callback"))
    assert event.console.index(line) > event.console.index("failing tag")
    assert line == ("callback GTM-GAPS " + json.dumps([
        ["Watcher", "success", "number"], ["Fails", "failure", "number"], ["Throws", "exception", "number"],
        ["Never completes", "timeout", "number"]], separators=(",", ":")))
    watcher = next(t for t in event.tags if t.name == "Watcher")
    assert watcher.status == "success"
    assert any("1 callback(s) called" in n for n in watcher.notes)
    # a callback that throws is reported on its tag, it does not change the tag's status or crash the run
    throws = next(t for t in event.tags if t.name == "Throws")
    assert throws.status == "failure"
    assert any("an event callback failed" in w and "late boom" in w for w in throws.warnings)


EFFECTS_TAG = """
const addEventCallback = require('addEventCallback');
const sendHttpRequest = require('sendHttpRequest');
const setCookie = require('setCookie');
const logToConsole = require('logToConsole');
addEventCallback((containerId, data) => {
  setCookie('cb_seen', 'yes', {'max-age': 60});
  sendHttpRequest('https://collector.example/done?n=' + data.tags.length, {method: 'POST'}, '{"ok":1}')
    .then(r => logToConsole('collector answered', r.statusCode));
});
data.gtmOnSuccess();
"""


def test_what_a_callback_does_lands_in_the_report(tmp_path: Path) -> None:
    c = container(tmp_path, [{"name": "Effects", "code": EFFECTS_TAG}, {"name": "Other", "code": FAILING}])
    seen: list[tuple[str, str, bytes]] = []

    def collector(method: str, path: str, headers: dict[str, str], body: bytes) -> HttpResponse:
        seen.append((method, path, body))
        return HttpResponse(204, {}, b"")

    assert isinstance(c.transport, MockTransport)
    c.transport.mount("collector.example", collector)
    report = hit(c)
    event = report.events[0]
    assert [(o.tag, o.method, o.url) for o in event.outgoing] == [
        ("Effects", "POST", "https://collector.example/done?n=2")]
    assert event.outgoing[0].body == {"ok": 1}
    assert "collector answered 204" in event.console
    assert seen == [("POST", "/done?n=2", b'{"ok":1}')]
    assert [ck.name for ck in report.response.set_cookies] == ["cb_seen"]


def test_a_runaway_callback_is_stopped_and_reported(tmp_path: Path) -> None:
    code = "require('addEventCallback')(() => { while (true) {} }); data.gtmOnSuccess();"
    c = container(tmp_path, [{"name": "Loops later", "code": code}])
    tag = c.tags[0].impl
    tag.time_limit = 0.5  # type: ignore[attr-defined]
    event = hit(c).events[0]
    result = event.tags[0]
    assert result.status == "success"  # the tag itself had completed
    assert any("an event callback failed: stopped: timed out" in w for w in result.warnings)
    # the worker was replaced: the next request runs normally
    assert hit(c).events[0].tags[0].status == "success"


def test_callbacks_without_a_container_are_dropped_with_a_note() -> None:
    from helpers import tag_context

    from gtm_emulator.sandbox import load_template
    from gtm_emulator.tags.template_tag import TemplateTag

    ctx = tag_context()
    TemplateTag(load_template(tpl(CALLBACK_TAG, permissions=EVENT_PERMS))).run({}, ctx)
    assert ctx.console == ["tag body ran"]  # the callback never ran
    assert ctx.after_tags is None
    assert any("addEventCallback" in n and "not called" in n for n in ctx.notes)


PIXEL_TAG = """
const sendPixelFromBrowser = require('sendPixelFromBrowser');
const logToConsole = require('logToConsole');
logToConsole('pixel', sendPixelFromBrowser('https://pixel.example/p.gif?e=' + data.n));
data.gtmOnSuccess();
"""


def pixel_container(tmp_path: Path) -> Container:
    return container(tmp_path, [
        {"name": "Pixel A", "code": PIXEL_TAG.replace("data.n", "'a'"), "perms": PIXEL_PERMS, "priority": 2},
        {"name": "Pixel B", "code": PIXEL_TAG.replace("data.n", "'b'"), "perms": PIXEL_PERMS, "priority": 1},
    ])


def test_send_pixel_from_browser_goes_into_the_ga4_event_stream_reply(tmp_path: Path) -> None:
    report = hit(pixel_container(tmp_path), PURCHASE + "&richsstsse")
    assert report.events[0].console == ["pixel true", "pixel true"]
    response = report.response
    assert response.status == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.body.decode() == ('event: message\ndata: {"send_pixel": ["https://pixel.example/p.gif?e=a", '
                                      '"https://pixel.example/p.gif?e=b"]}\n\n')


def test_send_pixel_from_browser_is_false_without_richsstsse(tmp_path: Path) -> None:
    report = hit(pixel_container(tmp_path))
    event = report.events[0]
    assert event.console == ["pixel false", "pixel false"]
    assert any("returned false" in n and "richsstsse" in n for n in event.tags[0].notes)
    assert (report.response.status, report.response.body) == (204, b"")


def test_send_pixel_from_browser_needs_its_permission(tmp_path: Path) -> None:
    c = container(tmp_path, [{"name": "No grant", "code": PIXEL_TAG.replace("data.n", "1"), "perms": ALL_PERMS}])
    result = hit(c, PURCHASE + "&richsstsse").events[0].tags[0]
    assert result.status == "failure"
    assert "send_pixel_from_browser" in (result.error or "")


PATH_TAG = """
require('logToConsole')('path', require('getRequestPath')());
data.gtmOnSuccess();
"""


def test_path_prefix_is_removed_from_get_request_path_and_the_request_path_variable(tmp_path: Path) -> None:
    c = container(tmp_path, [{"name": "Path", "code": PATH_TAG}], path_prefix="/analytics")
    event = hit(c, "/analytics" + PURCHASE).events[0]
    assert event.console == ["path /g/collect"]
    assert request_path(c, "/analytics" + PURCHASE) == "/g/collect"
    assert request_path(c, "/analytics") == "/"
    # outside the prefix the path stays as it is; without a prefix nothing is removed
    assert hit(c, "/other" + PURCHASE).events[0].console == ["path /other/g/collect"]
    plain = container(tmp_path, [{"name": "Path", "code": PATH_TAG}])
    event = hit(plain, "/analytics" + PURCHASE).events[0]
    assert event.console == ["path /analytics/g/collect"]
    assert request_path(plain, "/analytics" + PURCHASE) == "/analytics/g/collect"


def request_path(c: Container, path: str) -> Any:
    """The Request Path built-in variable as the container's tags and triggers see it."""
    request = Request.build("GET", "https://sgtm.shop.example" + path)
    ctx = EventContext(event_data={}, request=request, client_name="GA4", variables={}, info=c.info)
    return ctx.get("Request Path")


def test_path_prefix_setting_is_validated() -> None:
    from gtm_emulator.errors import ConfigError

    with pytest.raises(ConfigError, match="path_prefix"):
        load_container({"name": "x", "settings": {"path_prefix": "analytics?x"}, "clients": [], "tags": []})


def test_the_callback_runs_in_the_tag_runs_own_engine(tmp_path: Path) -> None:
    code = """
const logToConsole = require('logToConsole');
let seen = 'registered';
require('addEventCallback')(() => logToConsole('closure sees', seen));
require('callLater')(() => { seen = 'changed by a later task'; data.gtmOnSuccess(); });
"""
    c = container(tmp_path, [{"name": "Closure", "code": code}])
    for _ in range(3):  # and the worker is released each time: repeated requests keep working
        assert hit(c).events[0].console == ["closure sees changed by a later task"]


@pytest.mark.parametrize(("status", "error", "expected"), [
    ("success", None, "success"),
    ("failure", "the template called data.gtmOnFailure()", "failure"),
    ("failure", "TikTok answered HTTP 500", "failure"),
    ("failure", "the template threw: Error: x", "exception"),
    ("failure", "KeyError: 'x'", "exception"),
    ("failure", "out of memory: the template exceeded 64 MB", "exception"),
    ("failure", "timed out: the template ran longer than 5 s", "timeout"),
    ("failure", "timed out after 31.0 s (limit 30 s)", "timeout"),
    ("failure", "the tag finished without calling data.gtmOnSuccess() or data.gtmOnFailure() "
                "(sGTM would time it out)", "timeout"),
])
def test_callback_status_of_a_tag_result(status: str, error: str | None, expected: str) -> None:
    result = TagResult(name="t", type="template", fired=True, status=status, error=error)
    assert callback_status(result) == expected
    assert expected in CALLBACK_STATUSES
