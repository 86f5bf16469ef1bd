"""Event callbacks, sendPixelFromBrowser and the request path prefix in tag templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _support import NOW, PURCHASE
from test_sandbox_helpers import ALL_PERMS, perm, tpl

from gtm_emulator.config import load_container
from gtm_emulator.container import Container
from gtm_emulator.report import Report

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
