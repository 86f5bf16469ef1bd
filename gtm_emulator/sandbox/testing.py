"""Running a template's own ``___TESTS___`` outside GTM (docs/templates.md, "Template tests (___TESTS___)"),
with JUnit XML output.

Each scenario runs in a fresh sandbox: the ``setup`` code, the scenario's code and the ``teardown``
code run as one function body (names declared in ``setup`` are visible to the scenario). The test
APIs ``runCode``, ``mock``, ``mockObject``, ``assertApi``, ``assertThat`` and ``fail`` are globals.
A scenario fails when an assertion fails, ``fail()`` is called, an exception escapes or a limit is
reached; otherwise it passes.

Choices on uncertain points:

* ``runCode`` drains pending callbacks, ``callLater`` tasks and promise reactions before it returns.
* Unmocked APIs use the emulator's normal fakes: empty event data, a ``GET /`` request, preview mode,
  outgoing HTTP to the in-process mock vendors (the mock TikTok API). Each environment API called
  without a mock is listed in the scenario's ``unmocked`` notes.
* Permissions are enforced for unmocked APIs, like in GTM; mocked APIs bypass them.
* An error thrown inside a callback that nothing caught fails the scenario.
* A promise rejected with no rejection handler (``UNHANDLED_REJECTION_FAILS``, default False) does not
  fail the scenario: it is a warning of the scenario (shown by ``template-test``). In JavaScript an
  unhandled rejection never throws into the code that caused it, so ``runCode`` returns normally;
  GTM's test runner fails a scenario on a failed assertion, ``fail()`` or an exception, and does not
  document anything for rejections. Set the constant to True to make them failures.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from ..core.request import Request, Response, cookie_setter
from ..vendors.transport import MockTransport, Transport
from .apis import SandboxEnv
from .permissions import DEFAULT_ENFORCEMENT
from .runtime import DEFAULT_TIME_LIMIT_S, Sandbox, SandboxFailure
from .tpl import CustomTemplate, load_template
from .values import decode

TEST_NOW = 1_700_000_000.0  # the fake clock of template tests (seconds)
UNHANDLED_REJECTION = "unhandled promise rejection: "  # how the sandbox reports one (prelude.js)
UNHANDLED_REJECTION_FAILS = False

@dataclass
class TemplateTestResult:
    name: str
    passed: bool
    message: str = ""
    duration_ms: float = 0.0
    console: list[str] = field(default_factory=list)
    unmocked: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "message": self.message,
                "duration_ms": round(self.duration_ms, 3), "console": self.console,
                "unmocked": self.unmocked, "warnings": self.warnings}


@dataclass
class TestRunResult:
    template: str
    file: str
    scenarios: list[TemplateTestResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(1 for s in self.scenarios if s.passed)

    @property
    def failed(self) -> int:
        return sum(1 for s in self.scenarios if not s.passed)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def to_dict(self) -> dict[str, Any]:
        return {"template": self.template, "file": self.file, "passed": self.passed, "failed": self.failed,
                "scenarios": [s.to_dict() for s in self.scenarios]}

    def summary(self) -> str:
        lines = [f"{'PASS' if s.passed else 'FAIL'} {s.name}" + (f": {s.message}" if s.message else "")
                 for s in self.scenarios]
        lines.append(f"{self.passed} passed, {self.failed} failed")
        return "\n".join(lines)

    def junit_xml(self) -> str:
        suite = ET.Element("testsuite", {
            "name": self.template, "tests": str(len(self.scenarios)), "failures": str(self.failed),
            "errors": "0", "skipped": "0",
            "time": f"{sum(s.duration_ms for s in self.scenarios) / 1000:.3f}",
        })
        for s in self.scenarios:
            case = ET.SubElement(suite, "testcase", {"classname": self.template, "name": s.name,
                                                     "time": f"{s.duration_ms / 1000:.3f}"})
            if not s.passed:
                failure = ET.SubElement(case, "failure", {"message": s.message})
                failure.text = s.message
            out = s.console + [f"unmocked API called: {name}" for name in s.unmocked]
            if out:
                ET.SubElement(case, "system-out").text = "\n".join(out)
        root = ET.Element("testsuites")
        root.append(suite)
        return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _default_transport() -> Transport:
    from ..vendors.tiktok_mock import HOST, TikTokMock

    transport = MockTransport()
    transport.mount(HOST, TikTokMock().handle)
    return transport


def _test_env(transport: Transport) -> SandboxEnv:
    request = Request.build("GET", "/")
    response = Response()
    return SandboxEnv(
        request=request,
        now=TEST_NOW,
        rng=random.Random(0),
        send=lambda method, url, headers, body, timeout: transport.send(method, url, headers, body, timeout),
        set_cookie=cookie_setter(response, request),
        response=response,
    )


def run_template_test(template: CustomTemplate, name: str, code: str, *, transport: Transport | None = None,
                 enforce: str = DEFAULT_ENFORCEMENT, time_limit: float = DEFAULT_TIME_LIMIT_S) -> TemplateTestResult:
    env = _test_env(transport or _default_transport())
    result = TemplateTestResult(name=name, passed=False, console=env.console, warnings=env.warnings)
    started = time.monotonic()
    body = "\n".join(part for part in (template.setup, code, template.teardown) if part)
    try:
        with Sandbox(template, env, enforce=enforce, time_limit=time_limit, test_mode=True) as sandbox:
            sandbox.eval(f"__sandbox.installTestApi({json.dumps(template.type == 'TAG')}); 0")
            try:
                sandbox.eval("__sandbox.scenario = (function () {" + body + "\n}); 0")
            except SandboxFailure as exc:
                if exc.kind == "exception":
                    raise SandboxFailure("syntax", f"the test code does not compile: {exc}") from None
                raise
            outcome = decode(sandbox.eval("__sandbox.runScenario(__sandbox.scenario)"))
            result.unmocked = [n for n in sandbox.host.unmocked if n not in sandbox.host.mocked]
    except SandboxFailure as exc:
        result.message = str(exc)
        result.duration_ms = (time.monotonic() - started) * 1000
        return result
    result.duration_ms = (time.monotonic() - started) * 1000
    if not outcome.get("ok"):
        message = str(outcome.get("message", ""))
        result.message = message if outcome.get("assertion") else f"uncaught exception: {message}"
        return result
    errors = []
    for error in outcome.get("errors") or []:
        if str(error).startswith(UNHANDLED_REJECTION) and not UNHANDLED_REJECTION_FAILS:
            result.warnings.append(str(error))
        else:
            errors.append(error)
    if errors:
        result.message = f"uncaught error in a callback: {errors[0]}"
        return result
    result.passed = True
    return result


def run_tests(template: CustomTemplate | str | Path, junit_path: str | Path | None = None, *,
              transport: Transport | None = None, enforce: str = DEFAULT_ENFORCEMENT,
              time_limit: float = DEFAULT_TIME_LIMIT_S) -> TestRunResult:
    """Run every ``___TESTS___`` scenario of a template; optionally write JUnit XML."""
    if not isinstance(template, CustomTemplate):
        template = load_template(template)
    run = TestRunResult(template=template.display_name, file=template.file)
    for scenario in template.scenarios:
        run.scenarios.append(run_template_test(template, scenario.name, scenario.code, transport=transport,
                                          enforce=enforce, time_limit=time_limit))
    if junit_path is not None:
        Path(junit_path).write_text(run.junit_xml(), encoding="utf-8")
    return run
