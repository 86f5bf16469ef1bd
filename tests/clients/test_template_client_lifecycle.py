"""Client templates: event callbacks bound with bindToEvent, templateDataStorage per request in preview,
the path prefix and sendPixelFromBrowser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers import CLIENT_PERMS as PERMS
from helpers import client_tpl, container_dict
from helpers import post_json as post

from gtm_emulator.core.container import Container
from gtm_emulator.loading.config import load_container

EXTRA = [
    {"instance": {"key": {"publicId": "read_event_metadata", "versionId": "1"}, "param": []}},
    {"instance": {"key": {"publicId": "access_template_storage", "versionId": "1"}, "param": []}},
    {"instance": {"key": {"publicId": "send_pixel_from_browser", "versionId": "1"}, "param": []}},
    {"instance": {"key": {"publicId": "logging", "versionId": "1"},
                  "param": [{"key": "environments", "value": {"type": 1, "string": "all"}}]}},
]
ALL = json.dumps([*json.loads(PERMS), *EXTRA])


def client(tmp_path: Path, code: str, **settings: Any) -> Container:
    path = tmp_path / "inline.tpl"
    path.write_text(client_tpl(code, ALL), encoding="utf-8")
    data = container_dict([{"name": "Inline", "type": "template", "template": str(path), "priority": 10}],
                          "Inline")
    data["settings"] = {**data.get("settings", {}), **settings}
    return load_container(data)


def console(report: Any) -> list[str]:
    return [w[len("client console: "):] for w in report.warnings if w.startswith("client console: ")]


CALLBACKS = """
const addEventCallback = require('addEventCallback');
const logToConsole = require('logToConsole');
const JSON = require('JSON');
claimRequest();
const names = ['page_view', 'purchase'];
let done = 0;
names.forEach((name, i) => {
  runContainer({event_name: name, client_id: 'c1', currency: 'EUR', value: 3}, (bindToEvent) => {
    logToConsole('complete', name);
  }, (bindToEvent) => {
    bindToEvent(addEventCallback)((containerId, data) => {
      logToConsole('callback', name, containerId, JSON.stringify(data.tags.map(t => [t.id, t.status])));
      done++;
      if (done === names.length) { setResponseStatus(200); setResponseBody('ok'); returnResponse(); }
    });
  });
});
addEventCallback(() => logToConsole('never: not bound'));
"""


def test_bound_event_callbacks_run_after_each_event_with_its_tags(tmp_path: Path) -> None:
    report = post(client(tmp_path, CALLBACKS), body="")
    assert report.response.status == 200 and report.response.body == b"ok"
    tag = "TikTok - purchase"
    assert console(report) == [
        "complete page_view",
        "callback page_view GTM-EMULATOR []",  # no tag fired on page_view
        "complete purchase",
        f'callback purchase GTM-EMULATOR [["{tag}","success"]]',
    ]
    assert [e.event_data["event_name"] for e in report.events] == ["page_view", "purchase"]
    assert any("not bound to an event" in w and "1 callback(s)" in w for w in report.warnings)


def test_a_throwing_event_callback_is_a_warning(tmp_path: Path) -> None:
    code = """
const addEventCallback = require('addEventCallback');
claimRequest();
runContainer({event_name: 'page_view'}, () => { returnResponse(); },
             (bind) => { bind(addEventCallback)(() => { throw new Error('cb broke'); }); });
"""
    report = post(client(tmp_path, code), body="")
    assert report.response.status == 200
    assert any("an event callback threw" in w and "cb broke" in w for w in report.warnings)


STORAGE = """
const templateDataStorage = require('templateDataStorage');
const logToConsole = require('logToConsole');
claimRequest();
const n = (templateDataStorage.getItemCopy('n') || 0) + 1;
templateDataStorage.setItemCopy('n', n);
logToConsole('n', n);
returnResponse();
"""


def test_client_storage_is_per_request_in_preview_and_kept_otherwise(tmp_path: Path) -> None:
    preview = client(tmp_path, STORAGE)
    assert [console(post(preview, body="")) for _ in range(3)] == [["n 1"], ["n 1"], ["n 1"]]
    live = client(tmp_path, STORAGE, preview_mode=False, debug_mode=False)
    assert [console(post(live, body="")) for _ in range(3)] == [["n 1"], ["n 2"], ["n 3"]]


def test_storage_written_while_claiming_is_seen_by_the_same_request(tmp_path: Path) -> None:
    code = """
const templateDataStorage = require('templateDataStorage');
const logToConsole = require('logToConsole');
templateDataStorage.setItemCopy('seen', 'yes');
claimRequest();
callLater(() => { logToConsole('seen', templateDataStorage.getItemCopy('seen')); returnResponse(); });
"""
    assert console(post(client(tmp_path, code), body="")) == ["seen yes"]


PATHS = """
const logToConsole = require('logToConsole');
const sendPixelFromBrowser = require('sendPixelFromBrowser');
claimRequest();
logToConsole('path', getRequestPath(), 'pixel', sendPixelFromBrowser('https://pixel.example/p.gif'));
returnResponse();
"""


def test_client_request_path_loses_the_prefix_and_pixels_are_refused(tmp_path: Path) -> None:
    prefixed = client(tmp_path, PATHS, path_prefix="/analytics")
    report = post(prefixed, body="", path="/analytics/json/collect")
    assert console(report) == ["path /json/collect pixel false"]
    assert any("sendPixelFromBrowser" in w and "returned false" in w for w in report.warnings)
    assert console(post(prefixed, body="", path="/other/json/collect")) == ["path /other/json/collect pixel false"]
    plain = client(tmp_path, PATHS)
    assert console(post(plain, body="", path="/analytics/json/collect")) == [
        "path /analytics/json/collect pixel false"]
