"""Sandbox behaviour that published server templates rely on, checked against what GTM documents:
createRegex with String methods, read_request's query-parameter grant, send_http's Google domains,
{{Variable}} references in a client template's settings, setCookie from a variable template, text
before the first section of a .tpl file and unhandled promise rejections in template tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import ALL_PERMS, NOW, PURCHASE, client_tpl, perm, tag_context, tpl

from gtm_emulator import load_container
from gtm_emulator.errors import TagError
from gtm_emulator.sandbox import load_template
from gtm_emulator.sandbox.testing import run_tests
from gtm_emulator.tags.template_tag import TemplateTag
from gtm_emulator.vendors.transport import HttpResponse, MockTransport


def logged(code: str, permissions: list[dict[str, Any]] | None = None, **ctx_kw: Any) -> Any:
    """Run tag code that logs one JSON value; return it."""
    ctx = tag_context(**ctx_kw)
    full = f"const JSON = require('JSON'); const log = require('logToConsole');\n{code}\ndata.gtmOnSuccess();"
    TemplateTag(load_template(tpl(full, permissions=permissions))).run({}, ctx)
    return json.loads(ctx.console[-1])


# ------------------------------------------------------------------ createRegex and String methods

def test_create_regex_works_with_string_replace_match_split_and_search() -> None:
    got = logged("""
      const createRegex = require('createRegex');
      log(JSON.stringify([
        'ab+/c=='.replace(createRegex('=+$', 'g'), ''),
        'a1b22c333'.match(createRegex('[0-9]+', 'g')),
        'a, b,c'.split(createRegex(',\\\\s*')),
        'xyZ'.search(createRegex('z', 'i')),
        'AAA'.replace(createRegex('a', 'gi'), 'b'),
        'AAA'.replace(createRegex('a', 'i'), 'b'),
        require('testRegex')(createRegex('^ab+$'), 'abbb'),
      ]));""")
    assert got == ["ab+/c", ["1", "22", "333"], ["a", "b", "c"], 2, "bbb", "bAA", True]


def test_an_invalid_re2_pattern_still_gives_null() -> None:
    assert logged("log(JSON.stringify(require('createRegex')('(?<=a)b') === null));") is True


# ------------------------------------------------------------------ read_request: queryParameter grant

def test_read_request_specific_query_parameter_grant_uses_the_exported_key() -> None:
    grant = perm("read_request", requestAccess="specific", queryParameterAccess="specific",
                 queryParameterWhitelist=[{"queryParameter": "x"}])
    permissions = [p for p in ALL_PERMS if p["instance"]["key"]["publicId"] != "read_request"] + [grant]
    assert logged("log(JSON.stringify(require('getRequestQueryParameter')('x')));", permissions) == "1"
    with pytest.raises(TagError, match="query parameter 'v'"):
        logged("log(JSON.stringify(require('getRequestQueryParameter')('v')));", permissions)


# ------------------------------------------------------------------ send_http: allowGoogleDomains

def _google_transport() -> MockTransport:
    transport = MockTransport()

    def ok(method: str, path: str, headers: dict[str, str], body: bytes) -> HttpResponse:
        return HttpResponse(204)

    transport.mount("www.google-analytics.com", ok)
    transport.mount("vendor.example", ok)
    return transport


SEND = ("require('sendHttpRequest')('{url}', {{method: 'GET'}}).then((r) => {{ log(JSON.stringify(r.statusCode)); "
        "data.gtmOnSuccess(); }}, () => data.gtmOnFailure());")


def send_with(url: str, **params: Any) -> Any:
    permissions = [p for p in ALL_PERMS if p["instance"]["key"]["publicId"] != "send_http"]
    permissions.append(perm("send_http", allowedUrls="specific", urls=["https://allowed.example/*"], **params))
    ctx = tag_context(transport=_google_transport())
    code = "const JSON = require('JSON'); const log = require('logToConsole');\n" + SEND.format(url=url)
    TemplateTag(load_template(tpl(code, permissions=permissions))).run({}, ctx)
    return ctx


def test_send_http_allow_google_domains_allows_google_and_only_google() -> None:
    ctx = send_with("https://www.google-analytics.com/g/collect?v=2", allowGoogleDomains=True)
    assert ctx.console[-1] == "204"
    with pytest.raises(TagError, match="not allowed by send_http"):
        send_with("https://www.google-analytics.com/g/collect?v=2", allowGoogleDomains=False)
    with pytest.raises(TagError, match="not allowed by send_http"):
        send_with("https://vendor.example/x", allowGoogleDomains=True)
    with pytest.raises(TagError, match="not allowed by send_http"):
        send_with("https://google-analytics.com.vendor.example/x", allowGoogleDomains=True)


# ------------------------------------------------------------------ client settings with {{Variable}}

def test_variable_references_in_client_template_settings_are_resolved(tmp_path: Path) -> None:
    info = {"type": "CLIENT", "id": "cvt_temp_public_id", "version": 1, "securityGroups": [],
            "displayName": "Greeting Client", "containerContexts": ["SERVER"]}
    fields = [{"type": "TEXT", "name": "greeting", "displayName": "Greeting"}]
    body = client_tpl("claimRequest(); setResponseStatus(200); setResponseBody('said: ' + data.greeting); "
                      "returnResponse();")
    text = body.replace("___TEMPLATE_PARAMETERS___\n\n[]", "___TEMPLATE_PARAMETERS___\n\n" + json.dumps(fields))
    text = text.replace(json.dumps({**info, "displayName": "Inline Test Client"}), json.dumps(info))
    (tmp_path / "greet.tpl").write_text(text, "utf-8")
    container = load_container({
        "name": "c", "variables": [{"name": "Shop header", "type": "request_header", "header": "X-Shop"}],
        "clients": [{"name": "Greeter", "type": "template", "template": str(tmp_path / "greet.tpl"),
                     "settings": {"greeting": "hello {{Shop header}}"}}],
        "tags": []})
    report = container.simulate("GET", "/anything", headers={"X-Shop": "north"}, now=NOW)
    assert report.response.body == b"said: hello north"


# ------------------------------------------------------------------ setCookie from a variable template

def test_set_cookie_from_a_variable_template_reaches_the_response(tmp_path: Path) -> None:
    code = "require('setCookie')('from_var', 'v1', {path: '/', 'max-age': 60}); return 'value';"
    (tmp_path / "var.tpl").write_text(tpl(code, type_="MACRO"), "utf-8")
    (tmp_path / "tag.tpl").write_text(tpl("data.gtmOnSuccess();", fields=[{"type": "TEXT", "name": "x"}]), "utf-8")
    container = load_container({
        "name": "c", "clients": [{"name": "GA4", "type": "ga4"}],
        "variables": [{"name": "Cookie setter", "type": "template", "template": str(tmp_path / "var.tpl")}],
        "tags": [{"name": "T", "type": "template", "template": str(tmp_path / "tag.tpl"),
                  "parameters": {"x": "{{Cookie setter}}"}, "firing_triggers": ["All Events"]}],
        "settings": {"report_all_variables": False}})
    report = container.simulate("GET", PURCHASE, now=NOW)
    assert report.events[0].tags[0].status == "success"
    assert [(c.name, c.value, c.max_age) for c in report.response.set_cookies] == [("from_var", "v1", 60)]


# ------------------------------------------------------------------ text before ___INFO___

def test_a_licence_comment_before_the_first_section_is_ignored_with_a_warning() -> None:
    text = "// (c) Example Ltd., a made-up owner\n// SPDX-License-Identifier: MIT\n\n" + \
        tpl("data.gtmOnSuccess();")
    template = load_template(text)
    assert template.type == "TAG"
    assert any("text before the first section header" in w for w in template.warnings)


# ------------------------------------------------------------------ unhandled rejections in tests

def test_an_unhandled_rejection_in_a_scenario_is_a_warning_not_a_failure() -> None:
    code = "require('Promise').create((resolve, reject) => reject('nope')); data.gtmOnSuccess();"
    tests = ("scenarios:\n- name: rejects\n  code: |-\n    runCode({});\n    assertApi('gtmOnSuccess').wasCalled();\n"
             "- name: throws in a callback\n  code: |-\n    mock('callLater', (fn) => fn());\n    runCode({});\n")
    throwing = code + " require('callLater')(() => { throw new Error('late'); });"
    run = run_tests(load_template(tpl(code, tests=tests)))
    first = run.scenarios[0]
    assert first.passed and any("unhandled promise rejection" in w and "nope" in w for w in first.warnings)
    run = run_tests(load_template(tpl(throwing, tests=tests)))
    assert not run.scenarios[1].passed and "late" in run.scenarios[1].message
