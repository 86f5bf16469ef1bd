"""The command line as a newcomer meets it: a busy port, `validate` with several problems, a replay
file with nothing to replay, the top-level help and the options of `mock-tiktok`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from gtm_emulator.cli import demo as cli_demo
from gtm_emulator.cli.main import cli
from gtm_emulator.cli.ports import free_port, port_problem


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another program is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def test_port_problem_and_free_port(busy_port: int) -> None:
    problem = port_problem("127.0.0.1", busy_port)
    assert problem is not None and "in use" in problem and str(busy_port) in problem
    other = free_port("127.0.0.1", busy_port)
    assert other != busy_port and port_problem("127.0.0.1", other) is None


def test_serve_on_a_busy_port_is_one_line_and_exit_2(busy_port: int, tmp_path: Path) -> None:
    """Checked before gunicorn starts: no 'serving on' line, no gunicorn retries."""
    result = subprocess.run([sys.executable, "-m", "gtm_emulator", "serve", "--port", str(busy_port),
                             "--store", "none"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("gtm-emulator: cannot listen on 127.0.0.1:") and "in use" in lines[0]
    assert "Connection in use" not in result.stderr


def test_mock_tiktok_on_a_busy_port_is_one_line_and_exit_2(busy_port: int) -> None:
    result = CliRunner().invoke(cli, ["mock-tiktok", "--port", str(busy_port)])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "in use" in result.stderr


def test_demo_on_a_busy_port_fails_before_making_its_workspace(busy_port: int, tmp_path: Path) -> None:
    target = tmp_path / "ws"
    result = CliRunner().invoke(cli_demo.demo, ["--workspace", str(target), "--port", str(busy_port), "--no-open"])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "in use" in result.stderr
    assert not target.exists()


def test_demo_without_a_port_takes_a_free_one(monkeypatch: pytest.MonkeyPatch, busy_port: int,
                                             tmp_path: Path) -> None:
    monkeypatch.setattr(cli_demo, "DEMO_PORT", busy_port)  # the demo's own default port, taken
    served: list[int] = []

    def fake_serve(server: object) -> None:
        served.append(server.server_port)  # type: ignore[attr-defined]
        server.server_close()  # type: ignore[attr-defined]

    monkeypatch.setattr(cli_demo, "serve_until_interrupted", fake_serve)
    monkeypatch.setattr("gtm_emulator.server.wsgi.configure_logging", lambda: None)
    result = CliRunner().invoke(cli_demo.demo, ["--workspace", str(tmp_path / "ws"), "--no-open"])
    assert result.exit_code == 0, result.output
    assert served and served[0] != busy_port
    assert f":{served[0]}/_emulator/walkthrough/" in result.stderr
    assert f":{served[0]}/_emulator/" in result.stderr and "Preview" in result.stderr


FOUR_PROBLEMS = {
    "name": "four problems",
    "clients": [{"name": "GA4", "type": "ga4"}, {"name": "Other", "type": "no-such-client"}],
    "triggers": [{"name": "Regex", "fires_on": "some_events",
                  "conditions": [{"variable": "Event Name", "operator": "matches_regex", "value": "(["}]}],
    "tags": [
        {"name": "A", "type": "tiktok_events_api", "firing_triggers": ["No such trigger"],
         "parameters": {"pixel_code": "CDEMOSHOP0PIXEL00001", "access_token": "t" * 40}},
        {"name": "B", "type": "tiktok_events_api", "parametrs": {}, "firing_triggers": ["Regex"]},
    ],
}


def test_validate_reports_every_problem_at_once(tmp_path: Path) -> None:
    """Schema problems (a bad client type, a misspelt key) no longer hide the others (a bad regex,
    an unknown trigger)."""
    path = tmp_path / "container.json"
    path.write_text(json.dumps(FOUR_PROBLEMS), encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4, lines
    where = [line.split(": ")[1] for line in lines]
    assert sorted(where) == ["$.clients[1].type", "$.tags[0].firing_triggers[0]", "$.tags[1]",
                             "$.triggers[0].conditions[0].value"]


def test_validate_does_not_call_a_reference_to_a_broken_entry_unknown(tmp_path: Path) -> None:
    data = json.loads(json.dumps(FOUR_PROBLEMS))
    data["tags"][0]["setup_tags"] = [{"tag": "B"}]  # B has a schema problem, but it exists
    path = tmp_path / "container.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    out = CliRunner().invoke(cli, ["validate", str(path)]).stdout
    assert "unknown tag 'B'" not in out and out.count("\n") == 4


def test_replay_of_a_file_without_a_valid_line_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ndjson"
    bad.write_text("not json\n{\"also\": \"not a request\"}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["replay", str(bad)])
    assert result.exit_code == 2
    assert "no line could be replayed (2 bad lines)" in result.stderr
    empty = tmp_path / "empty.ndjson"
    empty.write_text("", encoding="utf-8")
    result = CliRunner().invoke(cli, ["replay", str(empty)])
    assert result.exit_code == 2 and "no request to replay" in result.stderr


def test_top_level_help_shows_whole_command_summaries() -> None:
    out = CliRunner().invoke(cli, ["--help"], terminal_width=80).stdout
    assert "..." not in out.split("Commands:")[1]
    assert "Run the mock TikTok Events API on its own (POST" in out
    assert "/open_api/v1.3/event/track/)." in out
    for name, command in cli.commands.items():
        summary = command.get_short_help_str(limit=1_000)
        assert " ".join(out.split()).count(" ".join(summary.split())) == 1, name


def test_every_option_of_mock_tiktok_has_help() -> None:
    command = cli.commands["mock-tiktok"]
    for param in command.params:
        if param.name != "help":
            assert getattr(param, "help", None), param.name
