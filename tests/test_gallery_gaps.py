"""Gaps found by running published Community Template Gallery templates; each is checked here with the
project's own minimal templates: a template without a permissions section, and a client that sets an
impossible response status."""

from __future__ import annotations

import json
from pathlib import Path

from test_template_client import client_tpl, container_dict

from gtm_emulator.config import load_container
from gtm_emulator.sandbox import load_template, validate_template
from gtm_emulator.sandbox.testing import run_tests


def variable_tpl(code: str, scenario: str) -> str:
    """A variable template with no ___SERVER_PERMISSIONS___ section, as GTM's editor saves one whose
    code uses no permissioned API."""
    info = json.dumps({"type": "MACRO", "id": "cvt_temp_public_id", "version": 1, "securityGroups": [],
                       "displayName": "No permissions", "containerContexts": ["SERVER"]})
    indented = "\n".join("    " + line for line in scenario.splitlines())
    return (f"___INFO___\n\n{info}\n\n\n___TEMPLATE_PARAMETERS___\n\n[]\n\n\n"
            f"___SANDBOXED_JS_FOR_SERVER___\n\n{code}\n\n\n"
            f"___TESTS___\n\nscenarios:\n- name: only\n  code: |-\n{indented}\n")


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
