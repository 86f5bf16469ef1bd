from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import NOW, PURCHASE, ROOT

from gtm_emulator import ConfigError, load_container
from gtm_emulator.loading.config import default_container_path, schema, validate_file


def default_config() -> dict[str, Any]:
    return json.loads(default_container_path().read_text("utf-8"))


def inline(config: dict[str, Any]) -> dict[str, Any]:
    """The default container with its trigger inlined and template path made absolute."""
    config = copy.deepcopy(config)
    config["triggers"] = [json.loads((ROOT / "triggers" / "ga4_purchase.json").read_text("utf-8"))]
    for tag in config["tags"]:
        tag["template"] = str(ROOT / "tag_templates" / "tiktok_events_api.json")
    return config


def problems_of(source: Any, **kw: Any) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_container(source, **kw)
    return [str(p) for p in info.value.problems]


def test_default_container_loads_and_reproduces_the_seed_setup() -> None:
    container = load_container()
    assert [c.name for c in container.clients] == ["GA4", "Measurement Protocol"]
    trigger = container.triggers["GA4 purchase"]
    assert [(c.variable, c.operator, c.value.raw) for c in trigger.conditions] == [
        ("Client Name", "equals", "GA4"), ("Event Name", "equals", "purchase")]
    (tag,) = container.tags
    assert tag.type == "tiktok_events_api" and tag.firing_triggers == ["GA4 purchase"]
    assert "access_token" in tag.secret_params


def test_schemas_carry_ids() -> None:
    for name in ("container", "trigger", "tag_template"):
        assert schema(name)["$id"].startswith("urn:gtm-emulator:schema:")


def test_validate_reports_all_three_problems_with_json_paths(write_json) -> None:
    config = default_config()
    trigger = json.loads((ROOT / "triggers" / "ga4_purchase.json").read_text("utf-8"))
    trigger["conditions"][1]["operator"] = "equal"                 # misspelled operator
    trigger["conditions"].append({"variable": "Order Total", "operator": "greater", "value": "0"})  # unknown var
    trigger_path = write_json("triggers/ga4_purchase.json", trigger)
    config["tags"][0]["parameters"].pop("pixel_code")               # missing pixel code
    config["tags"][0]["template"] = str(ROOT / "tag_templates" / "tiktok_events_api.json")
    path = write_json("containers/container.json", config)
    problems = validate_file(path)
    found = {(Path(p.file).name if p.file.endswith(".json") else p.file, p.path): p.message for p in problems}
    text = "\n".join(map(str, problems))
    assert "'equal' is not allowed" in found[("ga4_purchase.json", "$.conditions[1].operator")], text
    assert "unknown variable {{Order Total}}" in found[("ga4_purchase.json", "$.conditions[2].variable")], text
    assert "required" in found[("container.json", "$.tags[0].parameters.pixel_code")], text
    assert len(problems) == 3, text
    assert trigger_path.exists()


def test_unknown_variable_in_a_condition_is_reported_with_its_path(write_json) -> None:
    config = inline(default_config())
    config["triggers"][0]["conditions"].append({"variable": "Order Total", "operator": "greater", "value": "0"})
    problems = problems_of(config)
    assert any("$.triggers[0].conditions[2].variable" in p and "unknown variable {{Order Total}}" in p
               for p in problems)


def test_misspelled_operator_unknown_variable_and_missing_pixel_code_together(write_json) -> None:
    config = inline(default_config())
    config["triggers"][0]["conditions"][1]["operator"] = "equal"
    config["tags"][0]["parameters"]["event"] = "{{Evnt Name}}"
    config["tags"][0]["parameters"].pop("pixel_code")
    path = write_json("c.json", config)
    problems = validate_file(path)
    paths = {p.path for p in problems}
    assert "$.triggers[0].conditions[1].operator" in paths
    assert "$.tags[0].parameters.pixel_code" in paths
    assert "$.tags[0].parameters.event" in paths
    assert all(p.file == str(path) for p in problems)


def test_cli_style_lines_name_file_path_and_message(write_json) -> None:
    config = inline(default_config())
    config["tags"][0]["parameters"]["pixel_code"] = "lowercase-pixel"
    path = write_json("c.json", config)
    (problem,) = validate_file(path)
    assert str(problem).startswith(f"{path}: $.tags[0].parameters.pixel_code: Pixel ID:")


def test_env_substitution_default_and_missing() -> None:
    config = inline(default_config())
    config["variables"][0]["value"] = "${MY_TIKTOK_TOKEN}"
    problems = problems_of(config, env={})
    assert any("$.variables[0].value" in p and "MY_TIKTOK_TOKEN is not set" in p for p in problems)
    container = load_container(config, env={"MY_TIKTOK_TOKEN": "secret-token-123"})
    assert "secret-token-123" in container.secrets


def test_env_values_of_secret_names_are_masked_everywhere() -> None:
    config = inline(default_config())
    container = load_container(config, env={"TIKTOK_ACCESS_TOKEN": "tok-abcdef-123456"})
    report = container.simulate("GET", PURCHASE, now=NOW)
    dumped = json.dumps(report.to_dict())
    assert "tok-abcdef-123456" not in dumped
    assert report.outgoing[0].headers["Access-Token"] == "****"
    assert report.events[0].variables["TikTok access token"] == "****"
    # the mock accepted the real token (it was sent, only the report masks it)
    assert report.outgoing[0].vendor_ok is True


def test_invalid_re2_pattern_is_a_config_error() -> None:
    config = inline(default_config())
    config["triggers"][0]["conditions"].append(
        {"variable": "Page URL", "operator": "matches_regex", "value": "^https://(?=shop)"})
    problems = problems_of(config)
    assert any("$.triggers[0].conditions[2].value" in p and "invalid RE2 pattern" in p for p in problems)


def test_variable_cycle_is_a_config_error() -> None:
    config = inline(default_config())
    config["variables"] += [
        {"name": "A", "type": "constant", "value": "{{B}}"},
        {"name": "B", "type": "lookup_table", "input": "{{A}}", "rows": []},
    ]
    problems = problems_of(config)
    assert any("variable cycle: A -> B -> A" in p for p in problems)


def test_unknown_trigger_tag_type_and_parameter() -> None:
    config = inline(default_config())
    config["tags"][0]["firing_triggers"] = ["GA4 purchases"]
    config["tags"][0]["parameters"]["pixelcode"] = "X"
    config["tags"].append({"name": "Other", "type": "no_such_tag"})
    problems = problems_of(config)
    assert any("$.tags[0].firing_triggers[0]" in p and "unknown trigger 'GA4 purchases'" in p for p in problems)
    assert any("$.tags[0].parameters.pixelcode" in p and "did you mean 'pixel_code'" in p for p in problems)
    assert any("$.tags[1].type" in p and "unknown tag type 'no_such_tag'" in p for p in problems)


def test_sequencing_problems() -> None:
    config = inline(default_config())
    base = config["tags"][0]
    config["tags"] = [
        {**base, "name": "A", "setup_tags": [{"tag": "B"}]},
        {**base, "name": "B", "setup_tags": [{"tag": "A"}]},
        {**base, "name": "C", "teardown_tags": [{"tag": "Nope"}]},
    ]
    problems = problems_of(config)
    assert any("tag sequencing cycle" in p for p in problems)
    assert any("$.tags[2].teardown_tags[0].tag" in p and "unknown tag 'Nope'" in p for p in problems)


def test_schema_errors_name_unknown_keys_and_missing_keys() -> None:
    config = inline(default_config())
    config["clients"][0]["prority"] = 1
    del config["tags"][0]["name"]
    problems = problems_of(config)
    assert any(p.endswith("$.clients[0]: unknown key 'prority'") for p in problems)
    assert any("$.tags[0]: missing required key 'name'" in p for p in problems)


def test_bad_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"name": "x",\n "clients": [,]}', "utf-8")
    (problem,) = validate_file(path)
    assert problem.path == "$" and "line 2, column" in problem.message


def test_trigger_file_and_tag_template_file_validate_on_their_own() -> None:
    assert validate_file(ROOT / "triggers" / "ga4_purchase.json") == []
    assert validate_file(ROOT / "tag_templates" / "tiktok_events_api.json") == []
    assert validate_file(ROOT / "containers" / "default.json") == []


def test_all_events_trigger_is_built_in(write_json) -> None:
    config = inline(default_config())
    config["tags"][0]["firing_triggers"] = ["All Events"]
    container = load_container(config)
    report = container.simulate("GET", "/g/collect?v=2&tid=G-1&cid=1&en=page_view", now=NOW)
    assert report.fired("TikTok - purchase")


def test_registry_adds_a_type_for_a_block_only() -> None:
    from gtm_emulator.loading.registry import TAGS, declared_tag
    from gtm_emulator.tags.google import NotEmulatedTag

    assert "probe_type" not in TAGS
    with TAGS.registered("probe_type", declared_tag(lambda settings: NotEmulatedTag("probe_type"))):
        assert "probe_type" in TAGS
        with pytest.raises(ValueError, match="already registered"):
            TAGS.register("probe_type", declared_tag(lambda settings: NotEmulatedTag("probe_type")))
    assert "probe_type" not in TAGS


def test_every_deliberate_error_derives_from_emulator_error() -> None:
    import inspect

    from gtm_emulator import errors

    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass)
               if issubclass(c, BaseException) and c.__module__ == errors.__name__]
    assert len(classes) >= 15
    assert all(issubclass(c, errors.EmulatorError) for c in classes)
    # the builtin bases callers may rely on are kept
    assert issubclass(errors.ConditionError, ValueError) and issubclass(errors.PathSyntaxError, ValueError)
    assert issubclass(errors.EncodeError, ValueError) and issubclass(errors.BodyTooLarge, errors.RequestError)
    from gtm_emulator.sandbox.runtime import SandboxFailure
    from gtm_emulator.vendors.transport import TransportError

    assert SandboxFailure is errors.SandboxFailure and TransportError is errors.TransportError
