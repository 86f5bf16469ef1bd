"""Gaps found by running published Community Template Gallery templates; each is checked here with the
project's own minimal templates: a template without a permissions section, a client that sets an
impossible response status, ``queryPermission``, the tables ``access_bigquery`` grants, the callback
form of ``BigQuery.insert``, top-level declarations read early, code only in the web section, messages
from tags to the client and ``access_response`` with specific access."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers import CLIENT_PERMS as PERMS_CLIENT
from helpers import client_tpl, container_dict

from gtm_emulator.loading.config import load_container
from gtm_emulator.sandbox import load_template, validate_template
from gtm_emulator.sandbox.hoist import hoist_top_level
from gtm_emulator.sandbox.testing import run_tests


def variable_tpl(code: str, scenario: str, perms: list[dict[str, Any]] | None = None) -> str:
    """A variable template; with ``perms`` None it has no ___SERVER_PERMISSIONS___ section, as GTM's
    editor saves one whose code uses no permissioned API."""
    info = json.dumps({"type": "MACRO", "id": "cvt_temp_public_id", "version": 1, "securityGroups": [],
                       "displayName": "No permissions", "containerContexts": ["SERVER"]})
    indented = "\n".join("    " + line for line in scenario.splitlines())
    section = "" if perms is None else f"___SERVER_PERMISSIONS___\n\n{json.dumps(perms)}\n\n\n"
    return (f"___INFO___\n\n{info}\n\n\n___TEMPLATE_PARAMETERS___\n\n[]\n\n\n"
            f"___SANDBOXED_JS_FOR_SERVER___\n\n{code}\n\n\n{section}"
            f"___TESTS___\n\nscenarios:\n- name: only\n  code: |-\n{indented}\n")


def perm(pid: str, **params: Any) -> dict[str, Any]:
    """One ___SERVER_PERMISSIONS___ entry; str, bool, list of str and list of dict values."""
    def value(v: Any) -> dict[str, Any]:
        if isinstance(v, bool):
            return {"type": 8, "boolean": v}
        if isinstance(v, str):
            return {"type": 1, "string": v}
        if isinstance(v, dict):
            return {"type": 3, "mapKey": [value(k) for k in v], "mapValue": [value(x) for x in v.values()]}
        return {"type": 2, "listItem": [value(x) for x in v]}
    return {"instance": {"key": {"publicId": pid, "versionId": "1"},
                         "param": [{"key": k, "value": value(v)} for k, v in params.items()]},
            "isRequired": True}


def run_one(tmp_path: Path, code: str, scenario: str, perms: list[dict[str, Any]]) -> tuple[bool, str]:
    path = tmp_path / "t.tpl"
    path.write_text(variable_tpl(code, scenario, perms), encoding="utf-8")
    result = run_tests(path)
    return result.scenarios[0].passed, result.scenarios[0].message


PURE = "const makeNumber = require('makeNumber');\nreturn makeNumber(data.a) * 2;"


def test_a_template_without_a_permissions_section_loads_with_no_permissions(tmp_path: Path) -> None:
    text = variable_tpl(PURE, "assertThat(runCode({a: '21'})).isEqualTo(42);")
    assert validate_template(text, "pure.tpl") == []
    template = load_template(text, "pure.tpl")
    assert template.permissions == []
    path = tmp_path / "pure.tpl"
    path.write_text(text, encoding="utf-8")
    result = run_tests(path)
    assert [(s.name, s.passed) for s in result.scenarios] == [("only", True)], result.summary()


def test_without_a_permissions_section_a_permissioned_api_is_denied(tmp_path: Path) -> None:
    code = "const getAllEventData = require('getAllEventData');\nreturn getAllEventData();"
    path = tmp_path / "reader.tpl"
    path.write_text(variable_tpl(code, "runCode({});"), encoding="utf-8")
    result = run_tests(path)
    assert not result.scenarios[0].passed
    assert "Permission denied" in result.scenarios[0].message
    assert "read_event_data" in result.scenarios[0].message


STATUS = """
claimRequest();
setResponseStatus(data.status);
setResponseBody('body');
returnResponse();
"""


def status_client(tmp_path: Path, status: object) -> object:
    code = STATUS.replace("data.status", json.dumps(status))
    path = tmp_path / "status.tpl"
    path.write_text(client_tpl(code), encoding="utf-8")
    data = container_dict([{"name": "Status", "type": "template", "template": str(path), "priority": 10}],
                          "Status")
    return load_container(data)


def test_set_response_status_outside_the_http_range_fails_the_client(tmp_path: Path) -> None:
    for bad in (0, 99, 600, -1):
        report = status_client(tmp_path, bad).simulate("GET", "/any")  # type: ignore[attr-defined]
        assert report.response.status == 502, bad
        assert "not an HTTP status code" in (report.reason or ""), report.reason


def test_set_response_status_accepts_every_http_status(tmp_path: Path) -> None:
    for good in (100, 204, 302, 404, 599, "418"):
        report = status_client(tmp_path, good).simulate("GET", "/any")  # type: ignore[attr-defined]
        assert report.response.status == int(good), good


QUERY = """const queryPermission = require('queryPermission');
return [
  queryPermission('send_http', 'https://api.example.com/v1/x'),
  queryPermission('send_http', 'https://other.example.com/'),
  queryPermission('get_cookies', 'allowed'),
  queryPermission('get_cookies', 'secret'),
  queryPermission('read_request', 'header', 'user-agent'),
  queryPermission('read_request', 'header', 'cookie'),
  queryPermission('read_event_data', 'user_data.email'),
  queryPermission('read_event_data', 'ip_override'),
  queryPermission('logging'),
  queryPermission('no_such_permission'),
];"""


def test_query_permission_answers_from_the_declarations_without_throwing(tmp_path: Path) -> None:
    perms = [perm("send_http", allowedUrls="specific", urls=["https://api.example.com/"]),
             perm("get_cookies", cookieAccess="specific", cookieNames=["allowed"]),
             perm("read_request", requestAccess="specific", headerAccess="specific",
                  headerWhitelist=[{"headerName": "User-Agent"}]),
             perm("read_event_data", eventDataAccess="specific", keyPatterns=["user_data"])]
    expected = [True, False, True, False, True, False, True, False, False, False]
    ok, message = run_one(tmp_path, QUERY, f"assertThat(runCode({{}})).isEqualTo({json.dumps(expected)});", perms)
    assert ok, message


def test_query_permission_with_no_declarations_is_false_for_everything(tmp_path: Path) -> None:
    ok, message = run_one(tmp_path, QUERY, f"assertThat(runCode({{}})).isEqualTo({json.dumps([False] * 10)});", [])
    assert ok, message


INSERT = """const BigQuery = require('BigQuery');
BigQuery.insert({projectId: data.p, datasetId: data.d, tableId: data.t}, [{a: 1}], {});
return 'inserted';"""


def bigquery_perm(*tables: dict[str, str]) -> list[dict[str, Any]]:
    return [perm("access_bigquery", allowedTables=list(tables))]


def test_bigquery_insert_needs_a_table_the_permission_lists(tmp_path: Path) -> None:
    perms = bigquery_perm({"projectId": "*", "datasetId": "shop", "tableId": "events", "operation": "write"})
    stored = "assertThat(runCode({p: 'x', d: 'shop', t: 'events'})).isEqualTo('inserted');"
    ok, message = run_one(tmp_path, INSERT, stored, perms)
    assert ok, message
    ok, message = run_one(tmp_path, INSERT, "runCode({p: 'x', d: 'shop', t: 'other'});", perms)
    assert not ok
    assert "Permission denied" in message and "shop.other" in message


def test_bigquery_permission_without_tables_allows_none(tmp_path: Path) -> None:
    ok, message = run_one(tmp_path, INSERT, "runCode({p: 'x', d: 'shop', t: 'events'});", bigquery_perm())
    assert not ok
    assert "access_bigquery" in message


def test_bigquery_omitted_project_matches_only_a_wildcard(tmp_path: Path) -> None:
    exact = bigquery_perm({"projectId": "mine", "datasetId": "*", "tableId": "*", "operation": "write"})
    ok, _ = run_one(tmp_path, INSERT, "runCode({d: 'shop', t: 'events'});", exact)
    assert not ok
    wild = bigquery_perm({"projectId": "*", "datasetId": "*", "tableId": "*", "operation": "write"})
    stored = "assertThat(runCode({d: 'shop', t: 'events'})).isEqualTo('inserted');"
    ok, message = run_one(tmp_path, INSERT, stored, wild)
    assert ok, message


def test_bigquery_insert_calls_the_legacy_success_callback(tmp_path: Path) -> None:
    code = """const BigQuery = require('BigQuery');
const logToConsole = require('logToConsole');
BigQuery.insert({datasetId: 'd', tableId: 't'}, [{a: 1}], {},
                () => logToConsole('stored'), () => logToConsole('failed'));
return 'done';"""
    perms = [*bigquery_perm({"projectId": "*", "datasetId": "*", "tableId": "*", "operation": "write"}),
             perm("logging", environments="all")]
    ok, message = run_one(tmp_path, code, "runCode({});\nassertApi('logToConsole').wasCalledWith('stored');\n"
                          "assertApi('logToConsole').wasNotCalledWith('failed');", perms)
    assert ok, message


def test_server_template_with_code_only_in_the_web_section_names_that_section() -> None:
    info = json.dumps({"type": "TAG", "id": "cvt_temp_public_id", "version": 1, "securityGroups": [],
                       "displayName": "Web section", "containerContexts": ["SERVER"]})
    text = (f"___INFO___\n\n{info}\n\n\n___TEMPLATE_PARAMETERS___\n\n[]\n\n\n"
            "___SANDBOXED_JS_FOR_WEB_TEMPLATE___\n\ndata.gtmOnSuccess();\n\n\n___WEB_PERMISSIONS___\n\n[]\n")
    problems = validate_template(text, "web.tpl")
    assert [p.path for p in problems] == ["___SANDBOXED_JS_FOR_SERVER___"]
    assert "___SANDBOXED_JS_FOR_WEB_TEMPLATE___" in problems[0].message


EARLY_READ = """const first = describe();
let later = 'set';
function describe() { return later === undefined ? 'undefined before its declaration' : later; }
return [first, describe()];"""


def test_a_top_level_let_read_before_its_declaration_is_undefined(tmp_path: Path) -> None:
    expected = json.dumps(["undefined before its declaration", "set"])
    ok, message = run_one(tmp_path, EARLY_READ, f"assertThat(runCode({{}})).isEqualTo({expected});", [])
    assert ok, message


def test_hoisting_keeps_nested_declarations_strings_and_positions() -> None:
    source = ("const a = 1; // const b\nlet c = 'let d'\nfunction f() { let e = 1; const g = 2; }\n"
              "for (let i = 0; i < 1; i++) { const k = i; }\nx.let = 1\nlet z = {let: 1};\n")
    out = hoist_top_level(source)
    assert len(out) == len(source)
    assert out.splitlines() == ["var   a = 1; // const b", "var c = 'let d'",
                                "function f() { let e = 1; const g = 2; }",
                                "for (let i = 0; i < 1; i++) { const k = i; }", "x.let = 1", "var z = {let: 1};"]


LISTENING_CLIENT = """
const addMessageListener = require('addMessageListener');
const JSON = require('JSON');
claimRequest();
const received = [];
addMessageListener('done', (type, message) => { received.push(message.tag); });
runContainer({event_name: 'purchase'}, () => {
  setResponseStatus(200);
  setResponseBody(JSON.stringify(received));
  returnResponse();
});
"""

SENDING_TAG = """const sendMessage = require('sendMessage');
const hasMessageListener = require('hasMessageListener');
if (!hasMessageListener('done') || hasMessageListener('other')) data.gtmOnFailure();
sendMessage('done', {tag: data.label});
sendMessage('other', {tag: 'not listened to'});
data.gtmOnSuccess();"""


def test_a_tag_message_reaches_the_listener_of_the_client_that_ran_the_container(tmp_path: Path) -> None:
    use_message = json.dumps([perm("use_message", allowedActions="any")])
    client_perms = json.dumps([*json.loads(PERMS_CLIENT), *json.loads(use_message)])
    client_path = tmp_path / "listening.tpl"
    client_path.write_text(client_tpl(LISTENING_CLIENT, client_perms), encoding="utf-8")
    info = json.dumps({"type": "TAG", "id": "cvt_temp_public_id", "version": 1, "securityGroups": [],
                       "displayName": "Sender", "containerContexts": ["SERVER"]})
    tag_path = tmp_path / "sender.tpl"
    fields = json.dumps([{"type": "TEXT", "name": "label", "displayName": "Label", "simpleValueType": True}])
    tag_path.write_text(f"___INFO___\n\n{info}\n\n\n___TEMPLATE_PARAMETERS___\n\n{fields}\n\n\n"
                        f"___SANDBOXED_JS_FOR_SERVER___\n\n{SENDING_TAG}\n\n\n"
                        f"___SERVER_PERMISSIONS___\n\n{use_message}\n", encoding="utf-8")
    data = container_dict([{"name": "Listening", "type": "template", "template": str(client_path), "priority": 10}],
                          "Listening")
    data["tags"] = [{"name": f"Sender {label}", "type": "template", "template": str(tag_path),
                     "parameters": {"label": label}, "firing_triggers": ["purchase from client"]}
                    for label in ("a", "b")]
    report = load_container(data).simulate("GET", "/any")
    assert report.response.status == 200, report.reason
    assert json.loads(report.response.body) == ["a", "b"]
    statuses = [(tag.name, tag.status) for event in report.events for tag in event.tags]
    assert statuses == [("Sender a", "success"), ("Sender b", "success")]  # hasMessageListener saw the client's


HEADERS = """
claimRequest();
const setResponseHeader = require('setResponseHeader');
setResponseStatus(200);
setResponseHeader('Content-Type', 'text/plain');
if (data.other) setResponseHeader('X-Other', '1');
setResponseBody('ok');
returnResponse();
"""


def response_client(tmp_path: Path, other: bool, **access: Any) -> Any:
    perms = [p for p in json.loads(PERMS_CLIENT) if p["instance"]["key"]["publicId"] != "access_response"]
    perms.append(perm("access_response", **access))
    path = tmp_path / "headers.tpl"
    path.write_text(client_tpl(HEADERS.replace("data.other", json.dumps(other)), json.dumps(perms)), encoding="utf-8")
    data = container_dict([{"name": "Headers", "type": "template", "template": str(path), "priority": 10}], "Headers")
    return load_container(data).simulate("GET", "/any")


def test_access_response_limits_headers_to_the_whitelist(tmp_path: Path) -> None:
    specific = {"writeResponseAccess": "specific", "writeHeaderAccess": "specific", "writeStatusAllowed": True,
                "writeHeadersAllowed": True, "writeBodyAllowed": True,
                "writeHeaderWhitelist": [{"headerName": "content-type"}]}
    report = response_client(tmp_path, False, **specific)
    assert (report.response.status, report.response.body) == (200, b"ok"), report.reason
    report = response_client(tmp_path, True, **specific)
    assert report.response.status == 502
    assert "X-Other" in (report.reason or "") and "access_response" in (report.reason or "")
    report = response_client(tmp_path, True, writeResponseAccess="any", writeHeaderAccess="specific")
    assert report.response.status == 200, report.reason  # response access "any" allows every write


def test_access_response_can_forbid_the_body(tmp_path: Path) -> None:
    report = response_client(tmp_path, False, writeResponseAccess="specific", writeBodyAllowed=False)
    assert report.response.status == 502
    assert "response body" in (report.reason or "")
