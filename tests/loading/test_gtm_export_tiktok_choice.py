"""Importing an export with a published TikTok template: the output says whether the tag runs as the
native tag or as the template, and ``--keep-templates`` runs the template itself."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from helpers import DATA

from gtm_emulator.cli.main import cli
from gtm_emulator.loading.config import load_gtm_export
from gtm_emulator.loading.gtm_export import convert, load_export

EXPORT = DATA / "exports" / "tiktok_parity_export.json"  # carries a stand-in for TikTok's gallery template
NATIVE_TAG = "TikTok (native)"


def test_convert_notes_say_which_runs() -> None:
    notes: list[str] = []
    native, _ = convert(load_export(EXPORT), "e.json", notes=notes)
    tag = next(t for t in native["tags"] if t["name"] == NATIVE_TAG)
    assert tag["type"] == "tiktok_events_api" and tag["parameters"]["profile"] == "tiktok-official"
    [note] = notes
    assert note.startswith(f"tag {NATIVE_TAG!r}: the published template 'TikTok Events API (Official)' "
                           "(tiktok/gtm-template-eapi) runs natively as tiktok_events_api, profile 'tiktok-official'")
    assert "does not carry" not in note
    # a template text of another version is still mapped, and the note says what the profile reproduces
    data = load_export(EXPORT)
    for tpl in data["containerVersion"]["customTemplate"]:
        tpl["templateData"] = tpl["templateData"].replace("s2s_0_2_01", "s2s_0_1_10")
    notes.clear()
    convert(data, "e.json", notes=notes)
    assert "does not carry gtmVersion 's2s_0_2_01'" in notes[0]


def test_keep_templates_runs_the_template_itself() -> None:
    notes: list[str] = []
    files: dict[str, str] = {}
    native, _ = convert(load_export(EXPORT), "e.json", keep_templates=True, notes=notes, template_files=files)
    tag = next(t for t in native["tags"] if t["name"] == NATIVE_TAG)
    assert tag["type"] == "template" and files[tag["template"]].startswith("___INFO___")
    assert notes == [f"tag {NATIVE_TAG!r}: the published template 'TikTok Events API (Official)' runs as the "
                     "template itself in the sandbox (--keep-templates)"]
    container = load_gtm_export(EXPORT, keep_templates=True)
    assert container.load_notes == notes
    assert {t.name: t.type for t in container.tags}[NATIVE_TAG] == "template"


def test_import_command_prints_the_choice(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    result = CliRunner().invoke(cli, ["import", str(EXPORT), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "runs natively as tiktok_events_api" in result.output
    kept = CliRunner().invoke(cli, ["import", str(EXPORT), "-o", str(out), "--keep-templates"])
    assert kept.exit_code == 0 and "runs as the template itself" in kept.output
    tags = {t["name"]: t for t in json.loads(out.read_text())["tags"]}
    assert tags[NATIVE_TAG]["type"] == "template" and (tmp_path / tags[NATIVE_TAG]["template"]).is_file()


def test_simulate_with_keep_templates_fires_the_template(tmp_path: Path) -> None:
    hit = "/g/collect?v=2&tid=G-TEST&cid=1.2&en=purchase&cu=EUR&epn.value=5"
    result = CliRunner().invoke(cli, ["simulate", "--gtm-export", str(EXPORT), "--keep-templates", "--now",
                                      "1700000000", hit])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    tags = {t["name"]: t for t in report["events"][0]["tags"]}
    assert tags[NATIVE_TAG]["type"] == "template" and tags[NATIVE_TAG]["status"] == "success"
    assert "note: tag 'TikTok (native)'" in result.stderr


def test_keep_templates_needs_an_export() -> None:
    result = CliRunner().invoke(cli, ["simulate", "--keep-templates", "/g/collect?v=2&en=x"])
    assert result.exit_code == 2 and "--keep-templates goes with --gtm-export" in result.output
