"""Replay: NDJSON and HAR reading, bad lines, determinism, per-tag counts, --against, the CLI."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any, ClassVar

import click
import pytest
from click.testing import CliRunner

from gtm_emulator import load_container
from gtm_emulator.harness.replay import (
    DEFAULT_NOW,
    BadLine,
    RecordedRequest,
    ReplayFileError,
    ReplaySource,
    compare,
    replay,
    replay_container,
    run_one,
)

PIXEL = "CSHOP0PIXEL000000001"
TOKEN = "tok-shop-123456"
Q = "/g/collect?v=2&tid=G-1&cid=1.2"


def container_data(events_regex: str = "^purchase$") -> dict[str, Any]:
    return {
        "name": "shop",
        "clients": [{"name": "GA4", "type": "ga4"}],
        "triggers": [{"name": "conversions", "fires_on": "some_events", "conditions": [
            {"variable": "Event Name", "operator": "matches_regex", "value": events_regex}]}],
        "tags": [{"name": "TikTok", "type": "tiktok_events_api", "firing_triggers": ["conversions"],
                  "parameters": {"pixel_code": PIXEL, "access_token": TOKEN, "event": "{{Event Name}}"}}],
        "mock_vendors": {"tiktok": {"pixels": {PIXEL: [TOKEN]}}},
    }


def write_ndjson(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


TRAFFIC = [
    {"method": "GET", "url": f"{Q}&en=purchase&cu=EUR&epn.value=10", "time": 1700000100},
    {"method": "GET", "url": f"{Q}&en=add_to_cart"},
    {"method": "POST", "url": Q, "body": "en=view_item\nen=add_to_cart\nen=purchase"},
    {"method": "GET", "url": "/favicon.ico"},
]


@pytest.fixture
def traffic(tmp_path: Path) -> Path:
    return write_ndjson(tmp_path / "traffic.ndjson", TRAFFIC)


# ---------------------------------------------------------------------------------------------- reading


def test_ndjson_lines_become_requests(tmp_path: Path) -> None:
    path = write_ndjson(tmp_path / "t.ndjson", [
        {"method": "post", "url": f"{Q}", "headers": {"User-Agent": "UA"}, "body": "en=x", "remote_addr": "203.0.113.9",
         "time": 1.5},
        "",
        {"method": "GET", "url": "https://sgtm.example/g/collect?v=2", "headers": [["A", "1"], ["A", "2"]],
         "cookies": {"FPID": "abc"}, "scheme": "https"},
        {"method": "POST", "url": "/bin", "headers": [{"name": "X", "value": "y"}],
         "body_base64": base64.b64encode(b"\xff\x01").decode()},
    ])
    source = ReplaySource(path)
    assert source.format == "ndjson" and len(source) == 3
    first, second, third = list(source)
    assert isinstance(first, RecordedRequest) and isinstance(second, RecordedRequest)
    assert isinstance(third, RecordedRequest)
    assert (first.method, first.url, first.headers, first.body, first.remote_addr, first.time, first.source) == (
        "POST", Q, [("User-Agent", "UA")], b"en=x", "203.0.113.9", 1.5, f"{path}:1")
    assert second.source == f"{path}:3"
    req = second.to_request()
    assert req.header("A") == "1, 2" and req.cookies() == {"FPID": "abc"} and req.host == "sgtm.example"
    assert req.is_https
    assert third.body == b"\xff\x01" and third.time is None


@pytest.mark.parametrize(("line", "message"), [
    ("{not json", "invalid JSON at column 2"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('{"url": "/x"}', "missing 'method'"),
    ('{"method": "GET"}', "missing 'url'"),
    ('{"method": "GET", "url": "/x", "headers": "h"}', "headers must be an object or a list"),
    ('{"method": "GET", "url": "/x", "headers": [["a"]]}', "headers[0] is not a [name, value] pair"),
    ('{"method": "GET", "url": "/x", "body_base64": "***"}', "'body_base64' is not valid base64"),
    ('{"method": "GET", "url": "/x", "time": "yesterday"}', "'time' must be epoch seconds"),
    ('{"method": "GET", "url": "/x", "body": 5}', "'body' must be a string"),
    ('{"method": "GET", "url": "/x", "scheme": "ftp"}', "'scheme' must be http or https"),
])
def test_bad_lines_are_reported_with_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = write_ndjson(tmp_path / "bad.ndjson", [TRAFFIC[0], line])
    items = list(ReplaySource(path))
    assert isinstance(items[0], RecordedRequest)
    assert isinstance(items[1], BadLine)
    assert str(items[1]).startswith(f"{path}:2: ")
    assert message in items[1].message


def test_non_utf8_line_is_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.ndjson"
    path.write_bytes(b'{"method": "GET", "url": "/\xe9"}\n')
    (item,) = list(ReplaySource(path))
    assert isinstance(item, BadLine) and item.message == "not UTF-8 text"


def har(entries: list[Any]) -> dict[str, Any]:
    return {"log": {"version": "1.2", "creator": {"name": "browser", "version": "1"}, "entries": entries}}


HAR_ENTRY = {
    "startedDateTime": "2023-11-14T22:13:20.000Z",
    "request": {
        "method": "POST", "url": "https://sgtm.shop.example/g/collect?v=2&tid=G-1&cid=1.2",
        "headers": [{"name": ":authority", "value": "sgtm.shop.example"}, {"name": "User-Agent", "value": "UA"}],
        "cookies": [{"name": "FPID", "value": "FPID2.2.x"}],
        "postData": {"mimeType": "text/plain", "text": "en=purchase&cu=EUR&epn.value=5"},
    },
}


def test_har_entries_become_requests(tmp_path: Path) -> None:
    path = tmp_path / "session.har"
    path.write_text(json.dumps(har([HAR_ENTRY, {"request": {"url": "/x"}}, "junk"])), encoding="utf-8")
    source = ReplaySource(path)
    assert source.format == "har" and len(source) == 3
    good, bad1, bad2 = list(source)
    assert isinstance(good, RecordedRequest)
    assert good.headers == [("User-Agent", "UA"), ("Cookie", "FPID=FPID2.2.x")]  # no pseudo-headers
    assert good.body == b"en=purchase&cu=EUR&epn.value=5"
    assert good.time == 1700000000.0
    assert str(bad1) == f"{path}: $.log.entries[1]: request has no 'method'"
    assert str(bad2) == f"{path}: $.log.entries[2]: entry has no 'request' object"
    report = run_one(replay_container(), good, None)
    assert report.fired("TikTok - purchase")
    assert report.outgoing[0].body["data"][0]["event_time"] == 1700000000


def test_har_keeps_the_cookie_header_over_the_cookie_list(tmp_path: Path) -> None:
    entry = copy.deepcopy(HAR_ENTRY)
    entry["request"]["headers"].append({"name": "Cookie", "value": "FPID=from-header"})
    entry["request"]["postData"] = {"params": [{"name": "en", "value": "page view"}]}
    path = tmp_path / "pretty.json"  # not named .har: recognised by its content
    path.write_text(json.dumps(har([entry]), indent=2), encoding="utf-8")
    (item,) = list(ReplaySource(path))
    assert isinstance(item, RecordedRequest)
    assert item.to_request().cookies() == {"FPID": "from-header"}
    assert item.body == b"en=page%20view"


def test_unreadable_files_raise_replay_file_error(tmp_path: Path) -> None:
    with pytest.raises(ReplayFileError, match=r"missing\.ndjson: file not found"):
        ReplaySource(tmp_path / "missing.ndjson")
    broken = tmp_path / "broken.har"
    broken.write_text('{"log": ', encoding="utf-8")
    with pytest.raises(ReplayFileError, match=r"broken.har:1: not a HAR file \(invalid JSON"):
        ReplaySource(broken)
    no_entries = tmp_path / "x.har"
    no_entries.write_text('{"log": {}}', encoding="utf-8")
    with pytest.raises(ReplayFileError, match=r"\$.log.entries: a HAR file needs a list of entries"):
        ReplaySource(no_entries)


# ---------------------------------------------------------------------------------------------- replaying


def test_replay_counts_requests_events_and_tags(traffic: Path) -> None:
    summary = replay(ReplaySource(traffic), replay_container())
    assert summary.to_dict() == {
        "requests": 4, "events": 5, "responses": {"204": 3, "400": 1}, "not_claimed": 1, "bad_lines": 0,
        "errors": 0, "tags": {"TikTok - purchase": {"fired": 2, "failed": 0, "vendor_rejected": 0, "blocked": 0}},
    }
    text = summary.format()
    assert "requests: 4\nresponses: 204 x3, 400 x1\nnot claimed by any client: 1\nevents: 5\n" in text
    assert text.splitlines()[-1].split() == ["TikTok", "-", "purchase", "2", "0", "0", "0"]


def test_replay_counts_failures_and_vendor_rejections() -> None:
    data = container_data("^(purchase|add_to_cart)$")
    data["mock_vendors"]["tiktok"]["pixels"] = {PIXEL: ["another-token"]}  # TikTok refuses the tag's token
    items = [RecordedRequest("GET", f"{Q}&en={e}") for e in ("purchase", "add_to_cart", "page_view")]
    summary = replay(items, load_container(data))
    assert summary.tags["TikTok"].to_dict() == {"fired": 2, "failed": 0, "vendor_rejected": 2, "blocked": 0}


def test_replay_is_deterministic_and_uses_the_recorded_clock(traffic: Path) -> None:
    first = replay(ReplaySource(traffic), replay_container()).to_dict()
    assert replay(ReplaySource(traffic), replay_container()).to_dict() == first
    items = [i for i in ReplaySource(traffic) if isinstance(i, RecordedRequest)]
    container = replay_container()
    recorded = run_one(container, items[0], None)
    assert recorded.outgoing[0].body["data"][0]["event_time"] == 1700000100
    unrecorded = run_one(container, items[2], None)
    assert unrecorded.outgoing[0].body["data"][0]["event_time"] == int(DEFAULT_NOW)
    fixed = run_one(container, items[0], 1234567890)
    assert fixed.outgoing[0].body["data"][0]["event_time"] == 1234567890
    again = run_one(replay_container(), items[0], None)
    assert again.to_dict()["events"][0]["outgoing"][0]["body"] == recorded.to_dict()["events"][0]["outgoing"][0][
        "body"]


def test_replay_sends_nothing_to_a_vendor() -> None:
    container = replay_container()
    assert container.tiktok_mock is None
    replay([RecordedRequest("GET", f"{Q}&en=purchase")], container)
    assert container.transport.count == 1 and container.transport.calls == []  # recorded, not kept


def test_replay_counts_emulator_errors_and_goes_on() -> None:
    class Broken:
        tags: ClassVar[list[Any]] = []

        def handle(self, request: Any, now: float, explain: bool = True) -> Any:
            raise RuntimeError("boom")

    summary = replay([RecordedRequest("GET", "/a", source="f:1"), BadLine("f:2", "bad")], Broken())
    assert [str(e) for e in summary.errors] == ["f:1: RuntimeError: boom"]
    assert [str(b) for b in summary.bad_lines] == ["f:2: bad"]
    assert summary.requests == 0


def test_replay_counts_a_url_that_cannot_be_split_as_a_bad_line() -> None:
    summary = replay([RecordedRequest("GET", "http://[::1/x", source="f:7")], replay_container())
    assert summary.requests == 0
    assert str(summary.bad_lines[0]).startswith("f:7: cannot build the request:")


# ---------------------------------------------------------------------------------------------- comparing


def test_compare_counts_more_and_fewer_events_with_examples(tmp_path: Path) -> None:
    rows = [{"method": "GET", "url": f"{Q}&en=add_to_cart&_p={n}"} for n in range(7)]
    rows += [{"method": "GET", "url": f"{Q}&en=purchase"}, {"method": "GET", "url": f"{Q}&en=refund"}]
    path = write_ndjson(tmp_path / "t.ndjson", rows)
    a = load_container(container_data("^(purchase|refund)$"), vendor="record")
    b = load_container(container_data("^(purchase|add_to_cart)$"), vendor="record")
    comp = compare(ReplaySource(path), a, b, label_a="a.json", label_b="b.json")
    diff = comp.tags["TikTok"]
    assert (diff.fired_a, diff.fired_b, diff.more, diff.fewer) == (2, 8, 7, 1)
    assert len(diff.examples_more) == 5
    assert diff.examples_more[0] == f'GET {Q}&en=add_to_cart&_p=0 event 0 "add_to_cart" ({path}:1)'
    assert diff.examples_fewer == [f'GET {Q}&en=refund event 0 "refund" ({path}:9)']
    text = comp.format()
    assert "TikTok: fires on 7 more events, and on 1 fewer event (A: 2, B: 8)" in text
    assert text.count("\n  + ") == 5 and text.count("\n  - ") == 1
    assert comp.changed


def test_compare_of_equal_containers_finds_no_difference(traffic: Path) -> None:
    comp = compare(ReplaySource(traffic), replay_container(), replay_container())
    assert not comp.changed
    assert comp.format().endswith("TikTok - purchase: no change (fires on 2 events)\nno differences")


def test_compare_reports_tags_present_in_one_container_only(traffic: Path) -> None:
    b_data = container_data()
    b_data["tags"][0]["name"] = "TikTok v2"
    comp = compare(ReplaySource(traffic), replay_container(), load_container(b_data, vendor="record"))
    assert comp.tags["TikTok - purchase"].fewer == 2 and not comp.tags["TikTok - purchase"].in_b
    assert comp.tags["TikTok v2"].more == 2 and not comp.tags["TikTok v2"].in_a
    assert "TikTok v2 (only in B): fires on 2 more events (A: 0, B: 2)" in comp.format()


# ---------------------------------------------------------------------------------------------- CLI




def test_cli_replay_prints_the_summary(cli: click.Group, tmp_path: Path) -> None:
    path = write_ndjson(tmp_path / "t.ndjson", [*TRAFFIC, "oops"])
    result = CliRunner().invoke(cli, ["replay", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("requests: 4 (1 bad line skipped)\n")
    assert f"skipped {path}:5: invalid JSON at column 1" in result.stderr
    assert "Traceback" not in result.output
    assert "replaying" not in result.stderr  # no progress bar when stderr is not a terminal


def test_cli_replay_json_and_now(cli: click.Group, traffic: Path) -> None:
    result = CliRunner().invoke(cli, ["replay", str(traffic), "--json", "--now", "1700000000"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["tags"]["TikTok - purchase"]["fired"] == 2


def test_cli_replay_against(cli: click.Group, traffic: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps(container_data("^(purchase|add_to_cart)$")), encoding="utf-8")
    result = CliRunner().invoke(cli, ["replay", str(traffic), "--against", str(other)])
    assert result.exit_code == 0, result.output
    assert "A: the bundled default container\nB: " in result.stdout
    assert "TikTok - purchase (only in A): fires on 2 fewer events (A: 2, B: 0)" in result.stdout
    assert "TikTok (only in B): fires on 4 more events (A: 0, B: 4)" in result.stdout
    failing = CliRunner().invoke(cli, ["replay", str(traffic), "--against", str(other), "--fail-on-diff"])
    assert failing.exit_code == 1
    same = CliRunner().invoke(cli, ["replay", str(traffic), "--against", str(other), "--container", str(other),
                                    "--fail-on-diff"])
    assert same.exit_code == 0 and "no differences" in same.stdout


def test_cli_replay_bad_inputs_exit_2_without_traceback(cli: click.Group, traffic: Path, tmp_path: Path) -> None:
    missing = CliRunner().invoke(cli, ["replay", str(tmp_path / "none.ndjson")])
    assert missing.exit_code == 2 and "none.ndjson: file not found" in missing.stderr
    bad_container = tmp_path / "bad.json"
    bad_container.write_text('{"name": "x", "tags": [{"name": "t"}]}', encoding="utf-8")
    result = CliRunner().invoke(cli, ["replay", str(traffic), "--container", str(bad_container)])
    assert result.exit_code == 2
    assert f"{bad_container}: $.tags[0]" in result.stderr
    assert "Traceback" not in result.output


def test_cli_replay_progress_bar_when_asked(cli: click.Group, traffic: Path) -> None:
    result = CliRunner().invoke(cli, ["replay", str(traffic), "--progress"])
    assert result.exit_code == 0
    assert "replaying" in result.stderr  # click draws only the label when the stream is not a terminal


def _debug_blocked_data() -> dict[str, Any]:
    """The shop container with a blocking trigger on {{Debug Mode}}, a common production guard."""
    data = container_data()
    data["triggers"].append({"name": "in debug mode", "fires_on": "some_events", "conditions": [
        {"variable": "Debug Mode", "operator": "equals", "value": "true"}]})
    data["tags"][0]["blocking_triggers"] = ["in debug mode"]
    data["settings"] = {"debug_mode": True, "preview_mode": True}
    return data


def test_replay_runs_as_a_published_container_unless_preview_is_asked(traffic: Path) -> None:
    production = replay(ReplaySource(traffic), replay_container(_debug_blocked_data()))
    assert production.tags["TikTok"].fired == 2 and production.tags["TikTok"].blocked == 0
    preview = replay(ReplaySource(traffic), replay_container(_debug_blocked_data(), preview=True))
    assert preview.tags["TikTok"].fired == 0 and preview.tags["TikTok"].blocked == 2


def test_cli_replay_preview_flag(cli: click.Group, traffic: Path, tmp_path: Path) -> None:
    path = tmp_path / "guarded.json"
    path.write_text(json.dumps(_debug_blocked_data()), encoding="utf-8")
    default = CliRunner().invoke(cli, ["replay", str(traffic), "--container", str(path), "--json"])
    preview = CliRunner().invoke(cli, ["replay", str(traffic), "--container", str(path), "--json", "--preview"])
    assert default.exit_code == 0 and preview.exit_code == 0, default.output + preview.output
    assert json.loads(default.stdout)["tags"]["TikTok"] == {"fired": 2, "failed": 0, "vendor_rejected": 0,
                                                            "blocked": 0}
    assert json.loads(preview.stdout)["tags"]["TikTok"]["blocked"] == 2
