"""Client templates (``.tpl`` type CLIENT): claim, runContainer per event, the response, failures."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from helpers import CLIENT_PERMS as PERMS
from helpers import JSON_CLIENT_BODY as BODY
from helpers import NOW, PURCHASE, ROOT, client_tpl, container_dict
from helpers import post_json as post

from gtm_emulator.clients.template_client import FAILURE_STATUS, TemplateClient
from gtm_emulator.core.container import Container
from gtm_emulator.errors import ConfigError
from gtm_emulator.loading.config import load_container, load_gtm_export
from gtm_emulator.loading.gtm_export import convert, load_export
from gtm_emulator.sandbox import load_template
from gtm_emulator.server.app import create_app

TEMPLATES = ROOT / "tests" / "data" / "templates"
JSON_CLIENT = TEMPLATES / "json_client.tpl"
JSON_CLIENT_TEXT = JSON_CLIENT.read_text(encoding="utf-8")

def json_container(**client: Any) -> Container:
    spec = {"name": "JSON", "type": "template", "template": str(JSON_CLIENT), **client}
    return load_container(container_dict([spec]))


def inline_container(tmp_path: Path, code: str, *, extra: list[dict[str, Any]] | None = None,
                     perms: str = PERMS) -> Container:
    path = tmp_path / "inline.tpl"
    path.write_text(client_tpl(code, perms), encoding="utf-8")
    clients = [{"name": "Inline", "type": "template", "template": str(path), "priority": 10}, *(extra or [])]
    return load_container(container_dict(clients, "Inline"))


# ---------------------------------------------------------------------------------------------- happy path

def test_claims_runs_each_event_and_fires_the_tiktok_tag_on_purchase() -> None:
    container = json_container()
    report = post(container)
    assert report.client == "JSON"
    assert [e.event_data["event_name"] for e in report.events] == ["page_view", "purchase"]
    assert all(e.event_data["client_id"] == "v-2-anonymous" for e in report.events)
    first, second = report.events
    assert [(t.name, t.status) for t in first.tags] == [("TikTok - purchase", "not_fired")]
    assert [(t.name, t.status) for t in second.tags] == [("TikTok - purchase", "success")]
    assert second.variables["Client Name"] == "JSON"
    assert [o.url for o in second.outgoing] == ["https://business-api.tiktok.com/open_api/v1.3/event/track/"]
    sent = container.tiktok_mock.events
    assert [e.event["event"] for e in sent] == ["CompletePayment"]
    assert sent[0].event["properties"]["currency"] == "EUR"


def test_response_status_body_headers_and_cookie() -> None:
    report = post(json_container())
    response = report.response
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.body) == {"received": 2, "started": [0, 1], "finished": ["page_view", "purchase"]}
    [cookie] = response.set_cookies
    assert (cookie.name, cookie.value, cookie.max_age, cookie.path, cookie.secure, cookie.same_site) == \
        ("json_uid", "v-2-anonymous", 3600, "/", True, "Lax")
    assert report.reason is None
    # onStart's console output (logToConsole through bindToEvent) is in the report, in event order
    assert [w for w in report.warnings if w.startswith("client console:")] == [
        "client console: event 0 page_view", "client console: event 1 purchase"]


def test_settings_are_the_template_data_and_an_existing_cookie_is_read() -> None:
    container = json_container(settings={"path": "/collect/v9"})
    assert post(container).client is None  # the default path is no longer claimed
    report = post(container, path="/collect/v9", cookies={"json_uid": "known-visitor"})
    assert report.client == "JSON"
    assert [e.event_data["client_id"] for e in report.events] == ["known-visitor", "known-visitor"]
    assert report.response.set_cookies[0].value == "known-visitor"


def test_the_template_can_answer_an_error_itself() -> None:
    report = post(json_container(), body='{"events": []}')
    assert report.response.status == 400
    assert json.loads(report.response.body) == {"error": 'the body needs an "events" array'}
    assert report.events == []


def test_same_request_gives_the_same_report() -> None:
    container = json_container()

    def timeless(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: timeless(v) for k, v in value.items() if k != "duration_ms"}
        return [timeless(v) for v in value] if isinstance(value, list) else value

    first, second = timeless(post(container).to_dict()), timeless(post(container).to_dict())
    assert first == second and first["events"][1]["outgoing"]


# ---------------------------------------------------------------------------------------------- not claiming

def test_a_template_that_does_not_claim_leaves_the_request_to_the_next_client() -> None:
    data = container_dict([
        {"name": "JSON", "type": "template", "template": str(JSON_CLIENT), "priority": 5},
        {"name": "GA4", "type": "ga4"},
    ], client_name="GA4")
    container = load_container(data)
    report = container.simulate("GET", "https://shop.example" + PURCHASE, now=NOW)
    assert report.client == "GA4"
    assert [t.status for t in report.events[0].tags] == ["success"]
    assert post(container).client == "JSON"  # the same container still gives JSON requests to the template


def test_writes_of_a_template_that_does_not_claim_are_discarded(tmp_path: Path) -> None:
    code = """
setResponseStatus(418);
setResponseBody('teapot');
setCookie('leak', '1');
runContainer({event_name: 'purchase'});
if (getRequestPath() === '/mine') claimRequest(); else return;
setResponseStatus(201);
returnResponse();
"""
    container = inline_container(tmp_path, code, extra=[{"name": "GA4", "type": "ga4"}])
    report = container.simulate("GET", "https://shop.example" + PURCHASE, now=NOW)
    assert report.client == "GA4"
    assert report.response.status != 418 and b"teapot" not in report.response.body
    assert [c.name for c in report.response.set_cookies if c.name == "leak"] == []
    assert len(report.events) == 1 and report.events[0].event_data["event_name"] == "purchase"
    assert container.tiktok_mock.events == []  # GA4's purchase is not from the Inline client
    # when it claims, everything it wrote before is part of its response
    mine = container.simulate("GET", "https://shop.example/mine", now=NOW)
    assert (mine.client, mine.response.status, mine.response.body) == ("Inline", 201, b"teapot")
    assert [c.name for c in mine.response.set_cookies] == ["leak"]
    assert [e.event_data for e in mine.events] == [{"event_name": "purchase"}]


def test_no_client_claims_gives_400_with_the_reasons(tmp_path: Path) -> None:
    container = inline_container(tmp_path, "return;")
    report = post(container)
    assert report.response.status == 400
    assert "Inline: the template did not call claimRequest()" in (report.reason or "")


def test_throwing_before_claiming_is_not_a_claim(tmp_path: Path) -> None:
    container = inline_container(tmp_path, "throw 'not mine';", extra=[
        {"name": "JSON", "type": "template", "template": str(JSON_CLIENT)}])
    report = post(container)
    assert report.client == "JSON" and report.response.status == 200
    unclaimed = post(container, path="/other")
    assert "Inline: the template threw before claiming the request" in (unclaimed.reason or "")
    assert "not mine" in (unclaimed.reason or "")


def test_claim_request_from_a_callback_is_too_late(tmp_path: Path) -> None:
    container = inline_container(tmp_path, "callLater(() => claimRequest());")
    report = post(container)
    assert report.client is None and report.response.status == 400


# ---------------------------------------------------------------------------------------------- failures

def test_a_template_that_throws_after_claiming_answers_502_and_keeps_its_events(tmp_path: Path) -> None:
    code = """
claimRequest();
runContainer({event_name: 'purchase', value: 3, currency: 'EUR'}, () => { throw 'boom in onComplete'; });
"""
    container = inline_container(tmp_path, code)
    report = post(container)
    assert report.response.status == FAILURE_STATUS
    assert report.reason is not None
    assert report.reason.startswith("client template 'Inline' failed: a callback threw:")
    assert "boom in onComplete" in report.reason
    assert report.response.body.decode().startswith("client template 'Inline' failed")
    assert len(report.events) == 1 and report.events[0].tags[0].status == "success"
    assert report.response.set_cookies == []  # the tags' cookies are not sent: no response was returned


def test_a_synchronous_throw_after_claiming_answers_502(tmp_path: Path) -> None:
    report = post(inline_container(tmp_path, "claimRequest(); const x = null; x.y = 1;"))
    assert report.response.status == FAILURE_STATUS
    assert "the template threw" in (report.reason or "") and "TypeError" in (report.reason or "")


def test_a_template_that_loops_right_after_claiming_is_stopped(tmp_path: Path) -> None:
    container = inline_container(tmp_path, "claimRequest(); while (true) {}")
    client = container.clients[0]
    assert isinstance(client, TemplateClient)
    client.time_limit = 0.3
    report = post(container)
    assert (report.client, report.response.status) == ("Inline", FAILURE_STATUS)
    assert "timed out" in (report.reason or "") and report.events == []


def test_a_template_that_runs_forever_is_stopped(tmp_path: Path) -> None:
    container = inline_container(tmp_path, "claimRequest(); runContainer({event_name: 'a'}, () => { for (;;) {} });")
    client = container.clients[0]
    assert isinstance(client, TemplateClient)
    client.time_limit = 0.5
    started = time.monotonic()
    report = post(container)
    assert time.monotonic() - started < 5
    assert report.response.status == FAILURE_STATUS
    assert "timed out" in (report.reason or "")
    assert [e.event_data["event_name"] for e in report.events] == ["a"]
    # the stuck worker was killed; other client templates keep working
    assert post(json_container()).response.status == 200


def test_finishing_without_return_response_is_a_failure(tmp_path: Path) -> None:
    report = post(inline_container(tmp_path, "claimRequest(); runContainer({event_name: 'page_view'});"))
    assert report.response.status == FAILURE_STATUS
    assert "without calling returnResponse()" in (report.reason or "")
    assert len(report.events) == 1


def test_a_missing_permission_fails_the_client(tmp_path: Path) -> None:
    perms = PERMS.replace('{"publicId": "run_container"', '{"publicId": "unrelated"')
    report = post(inline_container(tmp_path, "claimRequest(); runContainer({event_name: 'x'}); returnResponse();",
                                   perms=perms))
    assert report.response.status == FAILURE_STATUS
    assert "run_container" in (report.reason or "") and report.events == []


def test_writes_after_return_response_are_ignored_with_a_warning(tmp_path: Path) -> None:
    code = """
claimRequest();
setResponseStatus(204);
returnResponse();
setResponseStatus(500);
setCookie('late', '1');
runContainer({event_name: 'purchase', value: 1, currency: 'EUR'}, () => {});
"""
    report = post(inline_container(tmp_path, code))
    assert report.response.status == 204
    assert [c.name for c in report.response.set_cookies] == []
    assert any("status written after returnResponse" in w for w in report.warnings)
    assert any("setCookie('late') after returnResponse" in w for w in report.warnings)
    assert report.events[0].tags[0].status == "success"  # the container still ran the event


def test_on_start_runs_before_the_tags_and_on_complete_after(tmp_path: Path) -> None:
    code = """
const log = require('logToConsole');
claimRequest();
runContainer({event_name: 'e1'}, () => {
  log('complete 1');
  runContainer({event_name: 'e2'}, () => { log('complete 2'); returnResponse(); }, () => log('start 2'));
}, () => log('start 1'));
log('after runContainer');
"""
    perms = PERMS.rstrip().rstrip("]") + """,
  {"instance": {"key": {"publicId": "logging", "versionId": "1"},
                "param": [{"key": "environments", "value": {"type": 1, "string": "all"}}]}}
]"""
    report = post(inline_container(tmp_path, code, perms=perms))
    assert report.response.status == 200
    assert [w.removeprefix("client console: ") for w in report.warnings if w.startswith("client console:")] == [
        "after runContainer", "start 1", "complete 1", "start 2", "complete 2"]
    assert [e.event_data["event_name"] for e in report.events] == ["e1", "e2"]


def test_claim_request_in_a_tag_still_throws() -> None:
    from gtm_emulator.sandbox.apis import Host, SandboxEnv
    from gtm_emulator.sandbox.permissions import Permissions

    host = Host(SandboxEnv(), Permissions([]))
    assert "only be called by a client" in json.loads(host.dispatch("claimRequest", "[]"))["e"]


# ---------------------------------------------------------------------------------------------- config, server

def test_config_rejects_a_tag_template_and_unknown_settings() -> None:
    wrong = container_dict([{"name": "X", "type": "template",
                             "template": str(TEMPLATES / "tiktok_track.tpl")}])
    with pytest.raises(ConfigError, match="not a client template"):
        load_container(wrong)
    unknown = container_dict([{"name": "X", "type": "template", "template": str(JSON_CLIENT),
                               "settings": {"nope": 1}}])
    with pytest.raises(ConfigError, match="unknown setting 'nope'"):
        load_container(unknown)
    with pytest.raises(ConfigError, match="needs 'template'"):
        load_container(container_dict([{"name": "X", "type": "template"}]))


def test_template_client_requires_a_client_template() -> None:
    with pytest.raises(ConfigError, match="not a client template"):
        TemplateClient("X", template=load_template(TEMPLATES / "email_domain.tpl"))


def test_native_container_file_serves_through_create_app(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "json_client.tpl").write_text(JSON_CLIENT_TEXT, encoding="utf-8")
    data = container_dict([{"name": "JSON", "type": "template", "template": "templates/json_client.tpl"}])
    (tmp_path / "container.json").write_text(json.dumps(data), encoding="utf-8")
    container = load_container(tmp_path / "container.json")
    app = create_app(container, log_requests=False)
    reply = app.test_client().post("/json/collect", data=BODY, content_type="application/json")
    assert reply.status_code == 200
    assert json.loads(reply.data)["finished"] == ["page_view", "purchase"]
    assert "json_uid=v-2-anonymous" in reply.headers["Set-Cookie"]
    assert [e.event["event"] for e in container.tiktok_mock.events] == ["CompletePayment"]


# ---------------------------------------------------------------------------------------------- GTM export

def export_with_client() -> dict[str, Any]:
    data = copy.deepcopy(load_export(ROOT / "tests" / "data" / "exports" / "server_export.json"))
    cv = data["containerVersion"]
    cv["customTemplate"].append({"templateId": "30", "name": "Test JSON Events Client",
                                 "templateData": JSON_CLIENT_TEXT})
    cv["client"].append({"clientId": "2", "name": "JSON", "type": f"cvt_{cv['containerId']}_30", "priority": 3,
                         "parameter": [{"type": "TEMPLATE", "key": "path", "value": "/json/collect"}]})
    return data


def test_export_client_template_converts_to_a_running_template_client(tmp_path: Path) -> None:
    files: dict[str, str] = {}
    native, warnings = convert(export_with_client(), "e.json", template_files=files)
    [client] = [c for c in native["clients"] if c["name"] == "JSON"]
    assert client["type"] == "template" and client["priority"] == 3
    assert client["settings"] == {"path": "/json/collect"}
    assert files[client["template"]] == JSON_CLIENT_TEXT
    assert not [w for w in warnings if "client[1]" in w]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export_with_client()), encoding="utf-8")
    container = load_gtm_export(path)
    report = post(container)
    assert report.client == "JSON" and report.response.status == 200
    assert [e.event_data["event_name"] for e in report.events] == ["page_view", "purchase"]


def test_send_http_request_from_a_client_goes_through_the_containers_transport(tmp_path: Path) -> None:
    perms = PERMS.rstrip().rstrip("]") + """,
  {"instance": {"key": {"publicId": "send_http", "versionId": "1"},
                "param": [{"key": "allowedUrls", "value": {"type": 1, "string": "any"}}]}}
]
"""
    code = """
const sendHttpRequest = require('sendHttpRequest');
if (getRequestPath() === '/json/collect') {
  claimRequest();
  sendHttpRequest('https://business-api.tiktok.com/open_api/v1.3/event/track/', (status) => {
    setResponseStatus(200);
    setResponseBody('vendor said ' + status);
    returnResponse();
  }, {method: 'POST', headers: {'Content-Type': 'application/json'}}, '{}');
}
"""
    container = inline_container(tmp_path, code, perms=perms)
    report = post(container)
    assert report.response.status == 200
    # the mock answered (HTTP 200, an envelope refusing the empty token): the call really went out
    assert report.response.body == b"vendor said 200"
    assert any(w.startswith("client sendHttpRequest POST https://business-api.tiktok.com/") and "HTTP 200" in w
               for w in report.warnings)
