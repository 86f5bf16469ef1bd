"""Scenario files: schema, loading errors with JSON paths, running steps, `gtm-emulator test`, JUnit XML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import click
import pytest
from click.testing import CliRunner

from gtm_emulator.errors import ConfigError
from gtm_emulator.harness.scenarios import (
    DEFAULT_NOW,
    find_scenarios,
    is_scenario_file,
    junit_xml,
    load_scenario,
    run_scenario,
)
from gtm_emulator.loading.config import schema

Q = "/g/collect?v=2&tid=G-1&cid=1.2"
PIXEL = "CSHOP0PIXEL000000001"
TOKEN = "tok-shop-123456"

PASSING: dict[str, Any] = {
    "name": "Checkout",
    "steps": [
        {"name": "purchase reaches TikTok",
         "request": {"url": f"{Q}&en=purchase&cu=EUR&epn.value=30", "remote_addr": "203.0.113.9"},
         "expect": {"status": 204, "fired": ["TikTok - purchase"],
                    "payload": {"TikTok - purchase": {"data[0].event": "CompletePayment",
                                                      "data[0].properties": {"currency": "EUR", "value": 30},
                                                      "data[0].user.ip": "203.0.113.9",
                                                      "data[0].event_time": int(DEFAULT_NOW)}},
                    "vendor_ok": {"TikTok - purchase": True}}},
        {"name": "a batched POST",
         "request": {"method": "POST", "url": Q, "body": "en=page_view\nen=purchase", "now": 1690000000},
         "expect": {"fired": ["TikTok - purchase"],
                    "payload": {"TikTok - purchase": {"data[0].event_time": 1690000000}}}},
        {"request": {"url": f"{Q}&en=page_view"}, "expect": {"not_fired": ["TikTok - purchase"]}},
        {"name": "not GA4", "request": {"url": "/other"}, "expect": {"status": 400}},
    ],
}


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def shop_container(tmp_path: Path, pixels: dict[str, list[str]] | None = None) -> Path:
    data = {
        "name": "shop",
        "clients": [{"name": "GA4", "type": "ga4"}],
        "triggers": [{"name": "cart", "fires_on": "some_events", "conditions": [
            {"variable": "Event Name", "operator": "equals", "value": "add_to_cart"}]}],
        "tags": [{"name": "TikTok - cart", "type": "tiktok_events_api", "firing_triggers": ["cart"],
                  "parameters": {"pixel_code": PIXEL, "access_token": TOKEN, "event": "{{Event Name}}"}}],
        "mock_vendors": {"tiktok": {"pixels": pixels if pixels is not None else {PIXEL: [TOKEN]}}},
    }
    (tmp_path / "containers").mkdir(exist_ok=True)
    return write(tmp_path / "containers" / "shop.json", data)


def test_schema_has_an_id_and_the_example_validates() -> None:
    import jsonschema

    scenario_schema = schema("scenario")
    assert scenario_schema["$id"] == "urn:gtm-emulator:schema:scenario"
    jsonschema.Draft202012Validator.check_schema(scenario_schema)
    jsonschema.validate(PASSING, scenario_schema)


def test_names_that_are_scenario_files() -> None:
    assert is_scenario_file("checkout.scenario.json") and is_scenario_file("dir/scenario_checkout.json")
    assert not is_scenario_file("checkout.json") and not is_scenario_file("scenario_x.yaml")


def test_a_passing_scenario(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path / "a.scenario.json", PASSING))
    assert [s.name for s in scenario.steps] == ["purchase reaches TikTok", "a batched POST", "step 3", "not GA4"]
    result = run_scenario(scenario)
    assert [s.failures for s in result.steps] == [[], [], [], []]
    assert result.passed
    assert result.steps[0].report is not None and result.steps[0].report.fired("TikTok - purchase")


def test_a_failing_step_names_each_failed_expectation(tmp_path: Path) -> None:
    data = {"steps": [{"request": {"url": f"{Q}&en=page_view"},
                       "expect": {"status": 200, "fired": ["TikTok - purchase"], "not_fired": ["TikTok - purchase"],
                                  "payload": {"TikTok - purchase": {"event_source": "web"}},
                                  "vendor_ok": {"TikTok - purchase": True}}}]}
    result = run_scenario(load_scenario(write(tmp_path / "f.scenario.json", data)))
    (step,) = result.steps
    assert step.failures == [
        "expected response status 200, got 204",
        "tag 'TikTok - purchase' did not fire",
        "tag 'TikTok - purchase' sent no request",
        "tag 'TikTok - purchase' sent no request to a vendor",
    ]
    message = step.message()
    assert message.startswith("- expected response status 200, got 204\n- tag 'TikTok - purchase' did not fire\n")
    assert "what the container did:" in message
    assert '✗ {{Event Name}} equals "purchase": false (left "page_view", right "purchase")' in message


def test_container_relative_to_the_scenario_and_vendor_refusal(tmp_path: Path) -> None:
    shop_container(tmp_path, pixels={PIXEL: ["some-other-token"]})
    data = {"container": "../containers/shop.json", "steps": [
        {"request": {"url": f"{Q}&en=add_to_cart"}, "expect": {"vendor_ok": {"TikTok - cart": False}}},
        {"request": {"url": f"{Q}&en=add_to_cart"}, "expect": {"vendor_ok": {"TikTok - cart": True}}},
    ]}
    (tmp_path / "scenarios").mkdir()
    scenario = load_scenario(write(tmp_path / "scenarios" / "v.scenario.json", data))
    assert scenario.container == (tmp_path / "containers" / "shop.json").resolve()
    result = run_scenario(scenario)
    assert result.steps[0].passed
    assert result.steps[1].failures[0].startswith("expected the vendor to accept the requests of tag 'TikTok - cart'")
    assert '"code": 40105' in result.steps[1].failures[0]  # the mock TikTok API does not know the token


def test_request_bodies_json_base64_and_cookies(tmp_path: Path) -> None:
    data = {"steps": [
        {"request": {"method": "POST", "url": "/mp/collect", "body": {"events": []}}, "expect": {"status": 400}},
        {"request": {"url": Q, "body_base64": "ZW49cHVyY2hhc2U=", "cookies": {"FPID": "x"},
                     "headers": {"User-Agent": "UA"}},
         "expect": {"fired": ["TikTok - purchase"],
                    "payload": {"TikTok - purchase": {"data[0].user.user_agent": "UA"}}}},
    ]}
    result = run_scenario(load_scenario(write(tmp_path / "b.scenario.json", data)))
    assert result.steps[1].failures == []
    report = result.steps[1].report
    assert report is not None
    assert report.request.method == "POST" and report.request.body == b"en=purchase"
    assert report.request.cookies() == {"FPID": "x"}
    first = result.steps[0].report
    assert first is not None and first.request.header("Content-Type") == "application/json"


@pytest.mark.parametrize(("data", "problem"), [
    ({"steps": []}, "$.steps: [] should be non-empty"),
    ({"steps": [{"request": {}}]}, "$.steps[0].request: missing required key 'url'"),
    ({"steps": [{"request": {"url": "/"}, "expect": {"fires": ["x"]}}]}, "$.steps[0].expect: unknown key 'fires'"),
    ({"steps": [{"request": {"url": "/"}, "expect": {"status": "204"}}]},
     "$.steps[0].expect.status: '204' is not of type integer"),
    ({"steps": [{"request": {"url": "/"}, "expect": {"payload": {"T": {"data[": 1}}}}]},
     '$.steps[0].expect.payload["T"]: cannot parse path'),
    ({"steps": [{"request": {"url": "/", "body_base64": "!!"}}]}, "$.steps[0].request.body_base64: not valid base64"),
    ({"container": "nope.json", "steps": [{"request": {"url": "/"}}]},
     "$.container: container file 'nope.json' not found (paths are relative to the scenario file)"),
    ("[1,", "$: invalid JSON at line 1, column 4"),
])
def test_invalid_files_list_problems_with_json_paths(tmp_path: Path, data: Any, problem: str) -> None:
    path = write(tmp_path / "x.scenario.json", data)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert any(str(p).startswith(f"{path}: {problem}") for p in info.value.problems), info.value.problems


def test_find_scenarios_in_directories(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.scenario.json", "sub/scenario_a.json", "container.json", "sub/notes.txt"):
        write(tmp_path / name, PASSING)
    explicit = write(tmp_path / "explicit.json", PASSING)
    assert find_scenarios([tmp_path, explicit]) == [tmp_path / "b.scenario.json", tmp_path / "sub/scenario_a.json",
                                                   explicit]


def test_junit_xml_shape(tmp_path: Path) -> None:
    data = {"name": "Mixed", "steps": [PASSING["steps"][2], {"name": "wrong", **{
        k: v for k, v in PASSING["steps"][2].items() if k != "expect"}, "expect": {"fired": ["TikTok - purchase"]}}]}
    result = run_scenario(load_scenario(write(tmp_path / "m.scenario.json", data)))
    root = ElementTree.fromstring(junit_xml([result], [("broken.scenario.json", "broken.scenario.json: $: bad")]))
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == ("testsuites", "3", "1", "1")
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "Mixed"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["step 1", "wrong"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == "tag 'TikTok - purchase' did not fire"
    assert "what the container did:" in (failure.text or "")
    error = root.findall("testsuite")[1].find("testcase/error")
    assert error is not None and error.get("message") == "broken.scenario.json: $: bad"


# ---------------------------------------------------------------------------------------------- CLI




def test_cli_test_passes_with_exit_0(cli: click.Group, tmp_path: Path) -> None:
    path = write(tmp_path / "ok.scenario.json", PASSING)
    result = CliRunner().invoke(cli, ["test", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{path}: Checkout", "  PASS purchase reaches TikTok", "  PASS a batched POST", "  PASS step 3",
        "  PASS not GA4", "4 steps, 4 passed, 0 failed"]


def test_cli_test_fails_with_exit_1_and_writes_junit(cli: click.Group, tmp_path: Path) -> None:
    write(tmp_path / "ok.scenario.json", PASSING)
    write(tmp_path / "bad.scenario.json", {"name": "Bad", "steps": [
        {"name": "page view fires", "request": {"url": f"{Q}&en=page_view"},
         "expect": {"fired": ["TikTok - purchase"]}}]})
    junit = tmp_path / "out" / "junit.xml"
    junit.parent.mkdir()
    result = CliRunner().invoke(cli, ["test", str(tmp_path), "--junit-xml", str(junit), "-q"])
    assert result.exit_code == 1
    out = result.stdout
    assert "  FAIL page view fires\n       - tag 'TikTok - purchase' did not fire\n" in out
    assert "PASS" not in out  # --quiet
    assert out.endswith("5 steps, 4 passed, 1 failed\n")
    root = ElementTree.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures")) == ("5", "1")


def test_cli_test_bad_file_exits_2(cli: click.Group, tmp_path: Path) -> None:
    good = write(tmp_path / "ok.scenario.json", PASSING)
    bad = write(tmp_path / "bad.scenario.json", {"steps": [{"request": {}}]})
    junit = tmp_path / "j.xml"
    result = CliRunner().invoke(cli, ["test", str(good), str(bad), "--junit-xml", str(junit)])
    assert result.exit_code == 2
    assert f"{bad}: $.steps[0].request: missing required key 'url'" in result.stderr
    assert result.stdout.endswith("4 steps, 4 passed, 0 failed; 1 file could not be run\n")
    assert ElementTree.parse(junit).getroot().get("errors") == "1"
    missing = CliRunner().invoke(cli, ["test", str(tmp_path / "none.scenario.json")])
    assert missing.exit_code == 2 and "none.scenario.json: $: file not found" in missing.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = CliRunner().invoke(cli, ["test", str(empty)])
    assert nothing.exit_code == 2 and "no scenario files in" in nothing.stderr
    assert "Traceback" not in result.output + missing.output + nothing.output


def test_cli_test_bad_container_in_a_scenario_exits_2(cli: click.Group, tmp_path: Path) -> None:
    write(tmp_path / "broken.json", {"name": "x", "tags": [{"name": "t", "type": "nope"}]})
    path = write(tmp_path / "c.scenario.json", {"container": "broken.json", "steps": [{"request": {"url": "/"}}]})
    result = CliRunner().invoke(cli, ["test", str(path)])
    assert result.exit_code == 2
    assert "broken.json: $: missing required key 'clients'" in result.stderr
