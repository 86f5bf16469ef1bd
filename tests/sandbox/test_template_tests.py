"""Running a template's own ___TESTS___ scenarios."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from helpers import TEMPLATES, tpl

from gtm_emulator.sandbox import load_template
from gtm_emulator.sandbox.testing import run_tests


def test_own_tag_template_tests_pass_and_junit_is_written(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    result = run_tests(TEMPLATES / "tiktok_track.tpl", junit)
    assert [(s.name, s.passed, s.message) for s in result.scenarios] == [
        ("Sends one event and succeeds", True, ""),
        ("Fails without a pixel id", True, ""),
        ("Fails when TikTok rejects", True, ""),
    ]
    assert result.ok
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("Test TikTok Track", "3", "0")


def test_a_wrong_expectation_fails_with_its_message(tmp_path: Path) -> None:
    result = run_tests(load_template(TEMPLATES / "email_domain.tpl"), tmp_path / "j.xml")
    assert [s.passed for s in result.scenarios] == [True, True, False]
    assert result.scenarios[2].message == "domain: expected \"b.example\" to equal \"c.example\""
    assert (result.passed, result.failed, result.ok) == (2, 1, False)
    failure = ET.parse(tmp_path / "j.xml").getroot().find("testsuite/testcase/failure")
    assert failure is not None and "c.example" in failure.get("message", "")
    assert "FAIL Deliberately wrong expectation" in result.summary()


SCENARIOS = """
scenarios:
- name: checks pass
  code: |-
    const r = runCode({n: 2});
    assertThat(r).isEqualTo({double: 4, list: [1, 2]});
    assertThat(r.list).isArray().hasLength(2).contains(2).doesNotContain(3);
    assertThat(r.nothing).isUndefined();
    assertThat(r.double).isDefined().isNumber().isGreaterThan(3).isLessThanOrEqualTo(4).isAnyOf(1, 4);
    assertThat(true).isTrue(); assertThat(false).isFalse(); assertThat('').isFalsy(); assertThat('').isEmpty();
    assertThat(null).isNull(); assertThat(0 / 0).isNaN(); assertThat(r).isNotEqualTo({double: 4});
    assertThat('abc').isString().contains('b'); assertThat(runCode).isFunction();
    assertApi('makeNumber').wasCalledWith(2);
    assertApi('makeNumber').wasNotCalledWith(3);
    assertApi('logToConsole').wasNotCalled();
- name: mock replaces an API with a value
  code: |-
    mock('makeNumber', 10);
    assertThat(runCode({n: 2}).double).isEqualTo(20);
- name: fail() fails
  code: fail('stop here');
- name: strict equality fails on copies
  code: |-
    assertThat({a: 1}).isStrictlyEqualTo({a: 1});
- name: exception escapes
  code: |-
    runCode({n: 1}).nope.nope;
- name: wasCalled fails when not called
  code: assertApi('sha256Sync').wasCalled();
- name: runaway test code times out
  code: |-
    while (true) {}
- name: mockObject replaces an object API
  code: |-
    mockObject('Math', {floor: () => 99});
    assertThat(runCode({n: 1}).double).isEqualTo(99);
"""


def test_assertions_mocks_and_failures() -> None:
    code = ("const makeNumber = require('makeNumber'); const Math = require('Math');\n"
            "return {double: Math.floor(makeNumber(data.n) * 2), list: [1, 2]};")
    template = load_template(tpl(code, type_="MACRO", tests=SCENARIOS))
    result = run_tests(template, time_limit=1.0)
    outcome = {s.name: (s.passed, s.message) for s in result.scenarios}
    assert outcome["checks pass"] == (True, "")
    assert outcome["mock replaces an API with a value"] == (True, "")
    assert outcome["fail() fails"] == (False, "stop here")
    assert outcome["strict equality fails on copies"][0] is False
    assert outcome["exception escapes"][0] is False
    assert outcome["exception escapes"][1].startswith("uncaught exception: TypeError")
    assert outcome["wasCalled fails when not called"] == (
        False, "expected sha256Sync to be called, but it was not")
    assert outcome["runaway test code times out"][0] is False
    assert "timed out" in outcome["runaway test code times out"][1]
    assert outcome["mockObject replaces an object API"] == (True, "")


def test_unmocked_environment_apis_are_noted_and_permissions_apply() -> None:
    tests = """
scenarios:
- name: unmocked event data
  code: |-
    runCode({});
    assertApi('gtmOnSuccess').wasCalled();
- name: mocked
  code: |-
    mock('getEventData', 'x');
    runCode({});
"""
    template = load_template(tpl("require('getEventData')('a'); data.gtmOnSuccess();", tests=tests))
    result = run_tests(template)
    assert [s.passed for s in result.scenarios] == [True, True]
    assert result.scenarios[0].unmocked == ["getEventData"]
    assert result.scenarios[1].unmocked == []
    denied = load_template(tpl("require('getEventData')('a'); data.gtmOnSuccess();", permissions=[], tests=tests))
    result = run_tests(denied)
    assert result.scenarios[0].passed is False and "read_event_data" in result.scenarios[0].message
    assert result.scenarios[1].passed is True  # mocked APIs bypass permissions


def test_callbacks_are_drained_before_run_code_returns() -> None:
    tests = """
scenarios:
- name: async success
  code: |-
    runCode({});
    assertApi('gtmOnSuccess').wasCalled();
    assertThat(log).isEqualTo(['sent', 'callback']);
setup: |-
  const log = [];
  mock('sendHttpRequest', (url, cb) => {
    log.push('sent');
    require('callLater')(() => { log.push('callback'); cb(200); });
  });
"""
    code = "require('sendHttpRequest')('https://x.example/', (s) => s === 200 ? data.gtmOnSuccess() : 0);"
    assert run_tests(load_template(tpl(code, tests=tests))).ok
