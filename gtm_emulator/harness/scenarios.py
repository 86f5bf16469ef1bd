"""Scenario files: requests with expectations, in JSON (schema ``schemas/scenario.schema.json``).

::

    {
      "$schema": "https://…/scenario.schema.json",
      "name": "Checkout reaches TikTok",
      "container": "../containers/shop.json",
      "steps": [
        {"name": "a purchase is sent as CompletePayment",
         "request": {"url": "/g/collect?v=2&tid=G-1&cid=1.2&en=purchase&cu=EUR&epn.value=30"},
         "expect": {"status": 204, "fired": ["TikTok - purchase"],
                    "payload": {"TikTok - purchase": {"data[0].event": "CompletePayment",
                                                      "data[0].properties": {"currency": "EUR"}}},
                    "vendor_ok": {"TikTok - purchase": true}}},
        {"request": {"url": "/g/collect?v=2&tid=G-1&cid=1.2&en=page_view"},
         "expect": {"not_fired": ["TikTok - purchase"]}}
      ]
    }

Choices (each a named constant or documented default):

- ``container`` is relative to the scenario file; without it the bundled default container runs.
  The container is loaded once per scenario with the mock vendor, so ``vendor_ok`` is the verdict of
  the in-process mock TikTok API (a wrong token or pixel is refused), and steps share its state.
- The clock: ``request.now``, else the scenario's ``now``, else ``DEFAULT_NOW``, so payloads that
  carry a time (``event_time``) are the same on every run.
- ``payload`` keys are paths into the body a tag sent (see :mod:`gtm_emulator.harness.assertions`); the value
  at each path is subset-matched. Some request of the tag must match every path.
- Files named like ``SCENARIO_PATTERNS`` are scenarios for pytest's collection and for directories
  given to ``gtm-emulator test``.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from ..core.report import Report
from ..errors import ConfigError, Problem
from .assertions import (
    PathSyntaxError,
    check_fired,
    check_not_fired,
    check_payload,
    check_status,
    check_vendor_ok,
    describe_report,
    parse_path,
)

SCENARIO_PATTERNS = ("*.scenario.json", "scenario_*.json")
DEFAULT_NOW = 1_700_000_000.0


def is_scenario_file(path: str | os.PathLike[str]) -> bool:
    name = Path(path).name
    return any(fnmatch.fnmatch(name, pattern) for pattern in SCENARIO_PATTERNS)


def find_scenarios(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files given, and scenario files (by name) inside directories given, in a stable order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.json") if p.is_file() and is_scenario_file(p)))
        else:
            found.append(path)
    return found


@dataclass
class Step:
    index: int
    name: str
    request: dict[str, Any]
    expect: dict[str, Any]

    @property
    def json_path(self) -> str:
        return f"$.steps[{self.index}]"


@dataclass
class Scenario:
    name: str
    file: str
    container: Path | None
    now: float
    steps: list[Step]
    data: dict[str, Any] = field(default_factory=dict)


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario file; :class:`ConfigError` lists every problem with its JSON path."""
    from ..loading.config import read_json, schema_problems

    display = str(path)
    data = read_json(Path(path), display)
    problems = schema_problems("scenario", data, display)
    if problems:
        raise ConfigError(problems)
    for index, step in enumerate(data["steps"]):
        for tag, paths in (step.get("expect", {}).get("payload") or {}).items():
            for key in paths:
                try:
                    parse_path(key)
                except PathSyntaxError as exc:
                    problems.append(Problem(display, f"$.steps[{index}].expect.payload[{json.dumps(tag)}]",
                                            str(exc)))
        body = step["request"].get("body_base64")
        if body is not None:
            try:
                base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                problems.append(Problem(display, f"$.steps[{index}].request.body_base64", "not valid base64"))
    container: Path | None = None
    if data.get("container"):
        container = (Path(path).resolve().parent / data["container"]).resolve()
        if not container.is_file():
            problems.append(Problem(display, "$.container", f"container file {data['container']!r} not found "
                                                            f"(paths are relative to the scenario file)"))
    if problems:
        raise ConfigError(problems)
    steps = [Step(i, s.get("name") or f"step {i + 1}", s["request"], s.get("expect") or {})
             for i, s in enumerate(data["steps"])]
    name = data.get("name") or Path(path).name
    return Scenario(name=name, file=display, container=container, now=float(data.get("now", DEFAULT_NOW)),
                    steps=steps, data=data)


# ---------------------------------------------------------------------------------------------- running


@dataclass
class StepResult:
    step: Step
    failures: list[str]
    report: Report | None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures

    def message(self) -> str:
        """Every failed expectation, then the whole report explained (tags, triggers, conditions)."""
        if self.passed:
            return ""
        lines = [f"- {f}" if "\n" not in f else "- " + f.replace("\n", "\n  ") for f in self.failures]
        if self.report is not None:
            lines.append("what the container did:")
            lines.extend("  " + line for line in describe_report(self.report).splitlines())
        return "\n".join(lines)


@dataclass
class ScenarioResult:
    scenario: Scenario
    steps: list[StepResult]

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.steps)


def load_scenario_container(scenario: Scenario) -> Any:
    from ..loading.config import load_container

    return load_container(scenario.container)


def build_request(step: Step, default_now: float) -> tuple[dict[str, Any], float]:
    """Keyword arguments for ``Container.simulate`` and the clock of a step."""
    req = step.request
    headers = dict(req.get("headers") or {})
    body: bytes = b""
    if "body_base64" in req:
        body = base64.b64decode(req["body_base64"])
    elif isinstance(req.get("body"), (dict, list)):
        body = json.dumps(req["body"]).encode("utf-8")
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    elif isinstance(req.get("body"), str):
        body = req["body"].encode("utf-8")
    kwargs = {
        "method": req.get("method") or ("POST" if body else "GET"),
        "url": req["url"],
        "headers": headers,
        "body": body,
        "cookies": dict(req.get("cookies") or {}),
        "remote_addr": req.get("remote_addr", "127.0.0.1"),
    }
    return kwargs, float(req.get("now", default_now))


def check_step(report: Report, expect: dict[str, Any]) -> list[str]:
    """The failed expectations of one step (empty when all hold)."""
    failures: list[str | None] = []
    if "status" in expect:
        failures.append(check_status(report, expect["status"], explain=False))
    for tag in expect.get("fired", []):
        failures.append(check_fired(report, tag, explain=False))
    for tag in expect.get("not_fired", []):
        failures.append(check_not_fired(report, tag, explain=False))
    for tag, paths in (expect.get("payload") or {}).items():
        failures.append(check_payload(report, tag, paths=paths, explain=False))
    for tag, ok in (expect.get("vendor_ok") or {}).items():
        failures.append(check_vendor_ok(report, tag, ok, explain=False))
    return [f for f in failures if f is not None]


def run_step(container: Any, step: Step, default_now: float) -> StepResult:
    started = time.perf_counter()
    kwargs, now = build_request(step, default_now)
    try:
        report = container.simulate(kwargs.pop("method"), kwargs.pop("url"), now=now, **kwargs)
    except ValueError as exc:  # a URL that cannot be split (e.g. a broken IPv6 host)
        return StepResult(step, [f"the request cannot be built: {exc}"], None, time.perf_counter() - started)
    return StepResult(step, check_step(report, step.expect), report, time.perf_counter() - started)


def run_scenario(scenario: Scenario, container: Any = None) -> ScenarioResult:
    """Run every step, in order, on one container (loaded from the scenario when not given)."""
    if container is None:
        container = load_scenario_container(scenario)
    return ScenarioResult(scenario, [run_step(container, step, scenario.now) for step in scenario.steps])


# ---------------------------------------------------------------------------------------------- JUnit XML


def junit_xml(results: Iterable[ScenarioResult], errors: Iterable[tuple[str, str]] = ()) -> str:
    """JUnit XML: a testsuite per scenario, a testcase per step; files that could not be read as errors."""
    root = ElementTree.Element("testsuites", name="gtm-emulator scenarios")
    total = failures = error_count = 0
    seconds = 0.0
    for result in results:
        suite_failures = sum(not s.passed for s in result.steps)
        suite_seconds = sum(s.seconds for s in result.steps)
        suite = ElementTree.SubElement(root, "testsuite", name=result.scenario.name, file=result.scenario.file,
                                       tests=str(len(result.steps)), failures=str(suite_failures), errors="0",
                                       skipped="0", time=f"{suite_seconds:.6f}")
        for step_result in result.steps:
            case = ElementTree.SubElement(suite, "testcase", classname=result.scenario.name,
                                          name=step_result.step.name, file=result.scenario.file,
                                          time=f"{step_result.seconds:.6f}")
            if not step_result.passed:
                failure = ElementTree.SubElement(case, "failure", message=step_result.failures[0].splitlines()[0])
                failure.text = step_result.message()
        total += len(result.steps)
        failures += suite_failures
        seconds += suite_seconds
    for file, message in errors:
        suite = ElementTree.SubElement(root, "testsuite", name=file, file=file, tests="1", failures="0",
                                       errors="1", skipped="0", time="0")
        case = ElementTree.SubElement(suite, "testcase", classname=file, name="load", file=file, time="0")
        error = ElementTree.SubElement(case, "error", message=message.splitlines()[0] if message else "error")
        error.text = message
        total += 1
        error_count += 1
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", str(error_count))
    root.set("time", f"{seconds:.6f}")
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"
