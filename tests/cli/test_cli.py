from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import PAGE_VIEW, PURCHASE, ROOT

from gtm_emulator.cli.main import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_simulate_purchase_prints_report_with_masked_token() -> None:
    code, out, _ = run("simulate", PURCHASE.replace("/g/collect", "/g/collect"), "--now", "1700000000")
    assert code == 0
    report = json.loads(out)
    assert report["client"] == "GA4" and report["response"]["status"] == 204
    (event,) = report["events"]
    (tag,) = event["tags"]
    assert tag["name"] == "TikTok - purchase" and tag["fired"] is True and tag["status"] == "success"
    (outgoing,) = event["outgoing"]
    assert outgoing["headers"]["Access-Token"] == "****"
    assert outgoing["body"]["data"][0]["event_time"] == 1700000000
    assert outgoing["vendor_ok"] is True
    assert "3e0c3fd7f678648665e3b09eb2a045339905fd2b" not in out


def test_simulate_page_view_shows_the_failed_condition_with_both_operands() -> None:
    code, out, _ = run("simulate", PAGE_VIEW)
    assert code == 0
    (tag,) = json.loads(out)["events"][0]["tags"]
    assert tag["fired"] is False and tag["status"] == "not_fired"
    failed = [c for t in tag["triggers"] for c in t["conditions"] if not c["result"]]
    assert failed == [{"variable": "Event Name", "operator": "equals", "left": "page_view", "right": "purchase",
                       "negate": False, "ignore_case": False, "result": False}]


def test_simulate_post_with_headers_cookies_and_full_url(tmp_path: Path) -> None:
    body = tmp_path / "body.txt"
    body.write_text("en=page_view\nen=purchase\n")
    code, out, _ = run("simulate", "-X", "POST", "--data-file", str(body), "-H", "User-Agent: cli-test",
                       "--cookie", "ttclid=E.C.P.abc", "--remote-addr", "203.0.113.7",
                       "https://sgtm.shop.example/g/collect?v=2&tid=G-1&cid=1.2")
    assert code == 0
    report = json.loads(out)
    assert [e["event_data"]["event_name"] for e in report["events"]] == ["page_view", "purchase"]
    purchase = report["events"][1]
    assert purchase["event_data"]["user_agent"] == "cli-test"
    assert purchase["event_data"]["ip_override"] == "203.0.113.7"
    assert purchase["outgoing"][0]["body"]["data"][0]["user"]["ttclid"] == "E.C.P.abc"
    ttclid = [c for c in report["response"]["set_cookies"] if c["name"] == "ttclid"]
    assert ttclid and ttclid[0]["domain"] == "shop.example"


def test_simulate_explain() -> None:
    code, out, _ = run("simulate", "--explain", PAGE_VIEW)
    assert code == 0
    assert "✗ {{Event Name}} equals 'purchase' (value: 'page_view')" in out


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    code, _, err = run("simulate", "--container", str(tmp_path / "missing.json"), PAGE_VIEW)
    assert code == 2 and err.strip() == f"{tmp_path / 'missing.json'}: $: file not found"
    code, _, err = run("simulate", "-H", "no colon here", PAGE_VIEW)
    assert code == 2 and "expected 'Name: value'" in err
    code, _, err = run("simulate", "--data-file", str(tmp_path / "nope.txt"), PAGE_VIEW)
    assert code == 2 and "--data-file" in err and "Traceback" not in err


def test_validate_ok_and_problems(tmp_path: Path) -> None:
    code, out, _ = run("validate", str(ROOT / "containers" / "default.json"),
                       str(ROOT / "triggers" / "ga4_purchase.json"))
    assert code == 0 and out.count(": ok") == 2
    bad = tmp_path / "trigger.json"
    bad.write_text(json.dumps({"name": "t", "fires_on": "some_events",
                               "conditions": [{"variable": "Event Name", "operator": "equal", "value": "x"}]}))
    code, out, _ = run("validate", str(bad), str(tmp_path / "none.json"))
    assert code == 2
    assert f"{bad}: $.conditions[0].operator: 'equal' is not allowed; expected one of: equals" in out
    assert f"{tmp_path / 'none.json'}: $: file not found" in out


def test_python_dash_m_entry_point() -> None:
    proc = subprocess.run([sys.executable, "-m", "gtm_emulator", "--version"], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0 and "gtm-emulator" in proc.stdout


EXPORT = ROOT / "tests" / "data" / "exports" / "server_export.json"
TEMPLATES = ROOT / "tests" / "data" / "templates"


def test_simulate_a_gtm_export_directly() -> None:
    code, out, err = run("simulate", "--gtm-export", str(EXPORT), "--explain",
                         "/g/collect?v=2&tid=G-1&cid=1.2&en=purchase&cu=EUR&epn.value=10")
    assert code == 0, err
    assert "TikTok via template: success" in out
    assert "GA4 forward: success" in out  # Google's GA4 tag is emulated (the mock GA4 endpoint)
    assert "not emulated" not in err  # nothing in this export is left unemulated


def test_import_writes_a_container_that_validates(tmp_path: Path) -> None:
    out = tmp_path / "shop.json"
    code, stdout, _ = run("import", str(EXPORT), "-o", str(out))
    assert code == 0 and stdout.startswith(f"{out}: ")
    assert (tmp_path / "templates").is_dir()
    code, stdout, _ = run("validate", str(out))
    assert code == 0 and stdout.strip() == f"{out}: ok"


def test_container_and_export_together_is_an_error() -> None:
    code, _, err = run("simulate", "--container", "a.json", "--gtm-export", str(EXPORT), PAGE_VIEW)
    assert code == 2 and "either --container or --gtm-export" in err


def test_template_test_reports_each_scenario_and_fails_on_a_failure(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    code, out, _ = run("template-test", str(TEMPLATES / "tiktok_track.tpl"), "--junit-xml", str(junit))
    assert code == 0 and "3 scenarios passed, 0 failed" in out
    assert "<testsuite" in junit.read_text()
    code, out, _ = run("template-test", str(TEMPLATES / "email_domain.tpl"))
    assert code == 1 and "FAIL Deliberately wrong expectation" in out


def test_validate_accepts_tpl_files(tmp_path: Path) -> None:
    code, out, _ = run("validate", str(TEMPLATES / "tiktok_track.tpl"))
    assert code == 0 and out.strip().endswith(": ok")
    broken = tmp_path / "broken.tpl"
    broken.write_text("___INFO___\n\n{not json\n")
    code, out, _ = run("validate", str(broken))
    assert code == 2 and f"{broken}: ___INFO___" in out


def _prefix_container(tmp_path: Path) -> Path:
    """A TikTok tag that fires only when Request Path, with the container's path prefix removed, is /g/collect."""
    data = {
        "name": "prefixed",
        "clients": [{"name": "GA4", "type": "ga4"}],
        "triggers": [{"name": "collect path", "fires_on": "some_events", "conditions": [
            {"variable": "Request Path", "operator": "equals", "value": "/g/collect"}]}],
        "tags": [{"name": "TikTok", "type": "tiktok_events_api", "firing_triggers": ["collect path"],
                  "parameters": {"pixel_code": "CPREFIX0PIXEL0000001", "access_token": "token-1234"}}],
    }
    path = tmp_path / "prefixed.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_simulate_path_prefix_is_removed_from_request_path(tmp_path: Path) -> None:
    container = str(_prefix_container(tmp_path))
    url = "/analytics/g/collect?v=2&tid=G-1&cid=1.2&en=purchase"
    code, out, err = run("simulate", "--container", container, "--path-prefix", "/analytics/", url)
    assert code == 0, err
    assert json.loads(out)["events"][0]["tags"][0]["status"] == "success"
    code, out, err = run("simulate", "--container", container, url)
    assert code == 0, err
    assert json.loads(out)["events"][0]["tags"][0]["status"] == "not_fired"
    code, _, err = run("simulate", "--container", container, "--path-prefix", "analytics?x", url)
    assert code == 2 and "is not a URL path" in err


def test_import_path_prefix_goes_into_the_settings(tmp_path: Path) -> None:
    out = tmp_path / "shop.json"
    code, _, err = run("import", str(EXPORT), "-o", str(out), "--path-prefix", "/metrics")
    assert code == 0, err
    assert json.loads(out.read_text())["settings"]["path_prefix"] == "/metrics"
    assert run("validate", str(out))[0] == 0


def test_simulate_vendor_record_answers_every_call_as_accepted(tmp_path: Path) -> None:
    code, out, err = run("simulate", "--vendor", "record", "--now", "1700000000", PURCHASE)
    assert code == 0, err
    outgoing = json.loads(out)["events"][0]["outgoing"]
    assert len(outgoing) == 1 and outgoing[0]["vendor_ok"] is True
    assert outgoing[0]["response"]["body"]["message"] == "OK (recorded, not sent)"
    code, _, err = run("simulate", "--vendor", "nope", PURCHASE)
    assert code == 2 and "--vendor" in err


@pytest.mark.parametrize(("flags", "require_hashed", "strict"), [
    ((), True, False), (("--allow-unhashed-pii",), False, False), (("--strict",), True, True),
])
def test_mock_tiktok_refuses_unhashed_pii_unless_told(monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...],
                                                      require_hashed: bool, strict: bool) -> None:
    from gtm_emulator.server import wsgi
    from gtm_emulator.vendors import tiktok_mock

    made: list[tiktok_mock.TikTokMock] = []
    monkeypatch.setattr(tiktok_mock, "create_app", lambda mock, **guard: made.append(mock) or object())
    monkeypatch.setattr(wsgi, "run_gunicorn", lambda *args, **kwargs: None)
    monkeypatch.setattr(wsgi, "configure_logging", lambda *args, **kwargs: None)
    result = CliRunner().invoke(cli, ["mock-tiktok", "--port", "0", "--pixel", "C0PIXEL=tok", *flags])
    assert result.exit_code == 0, result.output
    [mock] = made
    assert (mock.require_hashed_pii, mock.strict, mock.pixels) == (require_hashed, strict, {"C0PIXEL": {"tok"}})
    assert ("refused (40062)" in result.output) is require_hashed
