"""The differential harness itself (``gtm_emulator.harness.tiktok_parity``): it must report a difference
by field when the native tag and a template differ, as a module and as ``gtm-emulator tiktok-parity``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gtm_emulator.harness import tiktok_parity as harness

STUB = """___INFO___

{"type": "TAG", "id": "cvt_temp_public_id", "version": 1, "securityGroups": [],
 "displayName": "Stub that sends nothing", "containerContexts": ["SERVER"]}


___TEMPLATE_PARAMETERS___

[{"type": "TEXT", "name": "pixel_code", "displayName": "Pixel", "simpleValueType": true}]


___SANDBOXED_JS_FOR_SERVER___

const gtmVersion = 's2s_0_2_01';
data.gtmOnSuccess();


___SERVER_PERMISSIONS___

[]
"""


def test_the_harness_reports_differences_by_field(tmp_path: Path) -> None:
    (tmp_path / "stub.tpl").write_text(STUB, encoding="utf-8")
    found = harness.find_templates(tmp_path)
    assert list(found) == ["tiktok-official"]
    case = harness.Case(event_data={"event_name": "purchase"}, params={"pixel_code": "P"})
    diffs = harness.check_case("tiktok-official", found["tiktok-official"], case)
    assert [d.field for d in diffs] == ["request.count", "console"]  # the native tag sent and logged it
    [result] = harness.run(tmp_path, examples=5, profiles=["tiktok-official"])
    assert result.cases == 5 and result.differing >= 1 and "request.count" in harness.format_report([result])


def test_compare_names_the_first_differing_json_path() -> None:
    def sent(body: bytes) -> list[dict[str, Any]]:
        return [{"method": "POST", "url": "u", "headers": {}, "body": body}]

    a = harness.Outcome(sent(b'{"a":{"b":1,"c":2}}'), [], "success", [])
    b = harness.Outcome(sent(b'{"a":{"c":2,"b":1}}'), [], "success", ["x"])
    fields = [d.field for d in harness.compare(a, b)]
    assert fields == ["request[0].body at .a (key order)", "console"]


def test_the_harness_command_reports_and_fails_on_a_difference(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from gtm_emulator.cli.main import cli

    monkeypatch.delenv(harness.ENV_VAR, raising=False)
    missing = CliRunner().invoke(cli, ["tiktok-parity"])
    assert missing.exit_code == 2 and harness.ENV_VAR in missing.output
    (tmp_path / "stub.tpl").write_text(STUB, encoding="utf-8")
    result = CliRunner().invoke(cli, ["tiktok-parity", "--templates", str(tmp_path), "--examples", "3", "--show", "1"])
    assert result.exit_code == 1
    assert "tiktok-official: 3 cases against" in result.stdout and "request.count" in result.stdout
