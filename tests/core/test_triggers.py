"""Conditions and triggers: compilation, traces, config round trips, the fast path."""

from __future__ import annotations

import random
from typing import Any

import pytest

from gtm_emulator.core.report import ConditionTrace, TriggerTrace
from gtm_emulator.core.request import Request
from gtm_emulator.core.triggers import UNDEFINED, Condition, ConditionError, Trigger, evaluate, operator_name
from gtm_emulator.core.variables import (
    ConstantVariable,
    EventContext,
    EventDataVariable,
    Template,
    Variable,
    VariableCycleError,
)
from gtm_emulator.errors import EmulatorError

REQUEST = Request.build("POST", "https://sgtm.shop.example/g/collect?v=2&tid=G-1")


def ctx(event: dict[str, Any] | None = None, client: str | None = "GA4",
        variables: dict[str, Variable] | None = None) -> EventContext:
    return EventContext(event if event is not None else {"event_name": "purchase"}, REQUEST, client,
                        variables or {}, rng=random.Random(1))


def seed() -> Trigger:
    return Trigger("GA4 purchase", [
        Condition("Client Name", "equals", Template("GA4")),
        Condition("Event Name", "equals", Template("purchase")),
    ])


def test_undefined_is_exported_from_triggers() -> None:
    from gtm_emulator.core import js

    assert UNDEFINED is js.UNDEFINED


@pytest.mark.parametrize(
    ("spelling", "name"),
    [("equals", "equals"), ("EQUALS", "equals"), ("STARTS_WITH", "starts_with"), ("startsWith", "starts_with"),
     ("endsWith", "ends_with"), ("MATCH_REGEX", "matches_regex"), ("matchRegex", "matches_regex"),
     ("LESS_OR_EQUALS", "less_or_equals"), ("lessOrEquals", "less_or_equals"),
     ("greaterOrEquals", "greater_or_equals"), ("GREATER", "greater"), ("nope", None), ("CSS_SELECTOR", None)],
)
def test_operator_name(spelling: str, name: str | None) -> None:
    assert operator_name(spelling) == name


def test_unknown_operator_is_an_error() -> None:
    with pytest.raises(ConditionError, match="unknown operator 'like'"):
        Condition("Event Name", "like", Template("x"))
    with pytest.raises(ConditionError, match="not meaningful on a server container"):
        Condition("Event Name", "CSS_SELECTOR", Template("x"))
    with pytest.raises(ValueError):
        evaluate("like", "a", "a")
    assert issubclass(ConditionError, EmulatorError)


def test_seed_trigger_matches_and_traces() -> None:
    trigger = seed()
    assert trigger.matches(ctx()) is True
    assert trigger.matches(ctx({"event_name": "page_view"})) is False
    assert trigger.matches(ctx(client="Data Client")) is False
    trace = trigger.trace(ctx({"event_name": "page_view"}), "blocking")
    assert isinstance(trace, TriggerTrace)
    assert (trace.name, trace.role, trace.matched) == ("GA4 purchase", "blocking", False)
    assert [(c.variable, c.left, c.right, c.result) for c in trace.conditions] == [
        ("Client Name", "GA4", "GA4", True), ("Event Name", "page_view", "purchase", False)]


def test_trace_evaluates_every_condition_even_after_a_failure() -> None:
    trace = seed().trace(ctx({"event_name": "purchase"}, client="Other"))
    assert len(trace.conditions) == 2
    assert [c.result for c in trace.conditions] == [False, True]
    assert trace.matched is False


def test_all_events_trigger_matches_everything() -> None:
    trigger = Trigger("All Events")
    assert trigger.fires_on == "all_events"
    assert trigger.matches(ctx({})) is True
    assert trigger.trace(ctx({})).matched is True


def test_missing_client_name_is_undefined() -> None:
    condition = Condition("Client Name", "equals", Template("undefined"))
    assert Trigger("t", [condition]).matches(ctx(client=None)) is True
    assert condition.trace(ctx(client=None)).left is UNDEFINED


def test_trace_records_resolved_variables_in_the_context() -> None:
    context = ctx()
    seed().trace(context)
    assert context.resolved == {"Client Name": "GA4", "Event Name": "purchase"}


def test_event_underscore_alias_shows_as_event_name() -> None:
    condition = Condition("_event", "equals", Template("purchase"))
    trace = condition.trace(ctx())
    assert trace.variable == "Event Name" and trace.result is True


def test_trace_notes_for_numeric_operands() -> None:
    cond = Condition("Value", "less", Template(""))
    trace = cond.trace(ctx({"value": None}, variables={"Value": EventDataVariable("Value", "value")}))
    assert trace.result is False  # null -> 0, "" -> 0, 0 < 0 is false
    assert any("null counts as the number 0" in n for n in trace.notes)
    assert any("right operand is an empty string" in n for n in trace.notes)
    trace = Condition("Flag", "greater", Template("0")).trace(
        ctx({"flag": True}, variables={"Flag": EventDataVariable("Flag", "flag")}))
    assert trace.result is True
    assert any("true counts as the number 1" in n for n in trace.notes)
    trace = Condition("Event Name", "greater", Template("1")).trace(ctx())
    assert any("not a number (NaN)" in n for n in trace.notes)


def test_trace_notes_for_string_coercion() -> None:
    trace = Condition("Missing", "contains", Template("x")).trace(
        ctx(variables={"Missing": EventDataVariable("Missing", "nope")}))
    assert any("undefined is compared as the string 'undefined'" in n for n in trace.notes)


def test_trace_records_regex_error_and_negation() -> None:
    cond = Condition("Event Name", "matches_regex", Template("(?=p)"), negate=True)
    assert cond.problems and "invalid RE2 pattern" in cond.problems[0]
    trace = cond.trace(ctx())
    assert trace.result is True
    assert trace.error is not None and "invalid RE2 pattern" in trace.error
    assert trace.to_dict()["error"] == trace.error


def test_regex_error_for_interpolated_pattern() -> None:
    variables: dict[str, Variable] = {"Pattern": ConstantVariable("Pattern", Template("(a)\\1"))}
    cond = Condition("Event Name", "matches_regex", Template("{{Pattern}}"))
    assert cond.problems == []  # not known until run time
    trace = cond.trace(ctx(variables=variables))
    assert trace.result is False and trace.error and "invalid RE2" in trace.error
    assert Trigger("t", [cond]).matches(ctx(variables=variables)) is False


def test_literal_regex_compiled_once_at_construction() -> None:
    cond = Condition("Event Name", "matches_regex", Template("^pur"), ignore_case=True)
    assert cond._regex is not None
    assert cond._regex.search("PURCHASE") is not None


def test_right_operand_with_references_is_interpolated() -> None:
    variables: dict[str, Variable] = {"Wanted": ConstantVariable("Wanted", Template("purchase"))}
    cond = Condition("Event Name", "equals", Template("{{Wanted}}"))
    assert cond.references == ("Event Name", "Wanted")
    assert Trigger("t", [cond]).matches(ctx(variables=variables)) is True
    mixed = Condition("Page URL", "equals", Template("https://{{Request Host}}/x"))
    assert mixed.holds(ctx({"page_location": "https://sgtm.shop.example/x"})) is True


def test_numeric_right_literal_keeps_type() -> None:
    assert Trigger("t", [Condition("V", "greater", Template(5))]).matches(
        ctx({"v": "6"}, variables={"V": EventDataVariable("V", "v")})) is True
    assert Trigger("t", [Condition("V", "equals", Template(5))]).matches(
        ctx({"v": 5.0}, variables={"V": EventDataVariable("V", "v")})) is True


def test_warnings_for_negated_numeric_and_ignore_case_on_strings() -> None:
    assert "cannot be set in GTM's UI" in Condition("V", "less", Template("1"), negate=True).warnings[0]
    assert "only affects matches_regex" in Condition("V", "contains", Template("a"), ignore_case=True).warnings[0]
    assert Condition("V", "matches_regex", Template("a"), ignore_case=True).warnings == []
    trigger = Trigger("t", [Condition("V", "less", Template("1"), negate=True)])
    assert trigger.warnings[0].startswith("conditions[0]: ")


def test_conditions_are_immutable() -> None:
    cond = Condition("Event Name", "equals", Template("x"))
    with pytest.raises(AttributeError):
        cond.negate = True  # type: ignore[misc]


def test_replacing_conditions_recompiles_matches() -> None:
    trigger = seed()
    trigger.conditions = [Condition("Event Name", "equals", Template("page_view"))]
    assert trigger.matches(ctx({"event_name": "page_view"}, client="Other")) is True


def test_user_variable_shadowing_a_builtin_wins_in_both_paths() -> None:
    variables: dict[str, Variable] = {"Event Name": ConstantVariable("Event Name", Template("purchase"))}
    trigger = Trigger("t", [Condition("Event Name", "equals", Template("purchase"))])
    context = ctx({"event_name": "page_view"}, variables=variables)
    assert trigger.matches(context) is True
    assert trigger.trace(ctx({"event_name": "page_view"}, variables=variables)).matched is True


def test_random_number_is_cached_per_event() -> None:
    context = ctx()
    cond = Condition("Random Number", "greater_or_equals", Template("0"))
    trace = cond.trace(context)
    assert trace.result is True
    assert context.resolved["Random Number"] == trace.left
    assert Condition("Random Number", "equals", Template(str(trace.left))).holds(context) is True


def test_variable_cycle_in_a_condition_becomes_a_warning() -> None:
    variables: dict[str, Variable] = {
        "A": ConstantVariable("A", Template("{{B}}")),
        "B": ConstantVariable("B", Template("x{{A}}")),
    }
    context = ctx(variables=variables)
    with pytest.raises(VariableCycleError):
        context.get("A")
    trigger = Trigger("t", [Condition("A", "equals", Template("undefined"))])
    context = ctx(variables=variables)
    assert trigger.matches(context) is True
    assert any("variable cycle: A -> B -> A" in w for w in context.warnings)
    trace = trigger.trace(ctx(variables=variables))
    assert trace.conditions[0].error and "variable cycle" in trace.conditions[0].error


@pytest.mark.parametrize(
    ("operator", "left", "right", "negate"),
    [("contains", "add_to_cart", "to", False), ("contains", 12, "1", True), ("starts_with", UNDEFINED, "un", False),
     ("ends_with", ["a", "b"], "b", True), ("matches_regex", None, "^nu", False), ("equals", True, "true", True),
     ("equals", 3, "3", False), ("less", "2", "10", False), ("matches_regex", "x", "(?=x)", True)],
)
def test_fast_path_agrees_with_trace(operator: str, left: Any, right: Any, negate: bool) -> None:
    variables: dict[str, Variable] = {"V": EventDataVariable("V", "v")}
    trigger = Trigger("t", [Condition("V", operator, Template(right), negate=negate)])
    event = {"v": left} if left is not UNDEFINED else {}
    expected = evaluate(operator, left, right, negate)
    assert trigger.matches(ctx(event, variables=variables)) is expected
    assert trigger.trace(ctx(event, variables=variables)).matched is expected
    # the same through a pure built-in read directly by the fast path
    builtin = Trigger("t", [Condition("Page URL", operator, Template(right), negate=negate)])
    page = {"page_location": left} if left is not UNDEFINED else {}
    assert builtin.matches(ctx(page)) is expected


# ---------------------------------------------------------------- configuration


def test_condition_from_native_config() -> None:
    cond = Condition.from_config({"variable": "Page URL", "operator": "MATCH_REGEX", "value": "^https://",
                                  "negate": True, "ignore_case": True})
    assert (cond.variable, cond.operator, cond.negate, cond.ignore_case) == ("Page URL", "matches_regex", True, True)
    assert cond.to_config() == {"variable": "Page URL", "operator": "matches_regex", "value": "^https://",
                                "negate": True, "ignore_case": True}


def test_condition_from_export_filter() -> None:
    cond = Condition.from_config({"type": "MATCH_REGEX", "parameter": [
        {"type": "TEMPLATE", "key": "arg0", "value": "{{Page URL}}"},
        {"type": "TEMPLATE", "key": "arg1", "value": "^https://shop\\.example/"},
        {"type": "BOOLEAN", "key": "ignore_case", "value": "true"},
        {"type": "BOOLEAN", "key": "negate", "value": "true"}]})
    assert cond.to_config() == {"variable": "Page URL", "operator": "matches_regex",
                                "value": "^https://shop\\.example/", "negate": True, "ignore_case": True}
    assert cond.holds(ctx({"page_location": "https://SHOP.example/a"})) is False
    assert cond.holds(ctx({"page_location": "http://shop.example/a"})) is True


def test_condition_with_mixed_left_operand_round_trips() -> None:
    cond = Condition.from_config({"type": "EQUALS", "parameter": [
        {"type": "TEMPLATE", "key": "arg0", "value": "{{Client Name}}/{{Event Name}}"},
        {"type": "TEMPLATE", "key": "arg1", "value": "GA4/purchase"}]})
    assert cond.holds(ctx()) is True
    again = Condition.from_config(cond.to_config())
    assert again == cond and again.holds(ctx()) is True


def test_trigger_from_native_config_round_trips() -> None:
    config = {"name": "GA4 purchase", "id": "12", "notes": "seed", "fires_on": "some_events", "conditions": [
        {"variable": "Client Name", "operator": "equals", "value": "GA4"},
        {"variable": "Event Name", "operator": "equals", "value": "purchase", "negate": False,
         "ignore_case": False}]}
    trigger = Trigger.from_config(config)
    assert trigger.id == "12" and trigger.notes == "seed"
    assert trigger.matches(ctx()) is True
    dumped = trigger.to_config()
    assert dumped["conditions"][1] == {"variable": "Event Name", "operator": "equals", "value": "purchase"}
    assert Trigger.from_config(dumped) == trigger
    assert Trigger.from_config(dumped).to_config() == dumped


def test_trigger_from_export() -> None:
    export = {"triggerId": "12", "name": "GA4 purchase", "type": "CUSTOM_EVENT",
              "customEventFilter": [{"type": "EQUALS", "parameter": [
                  {"type": "TEMPLATE", "key": "arg0", "value": "{{_event}}"},
                  {"type": "TEMPLATE", "key": "arg1", "value": "purchase"}]}],
              "filter": [{"type": "CONTAINS", "parameter": [
                  {"type": "TEMPLATE", "key": "arg0", "value": "{{Client Name}}"},
                  {"type": "TEMPLATE", "key": "arg1", "value": "GA4"}]}]}
    trigger = Trigger.from_config(export)
    assert trigger.id == "12" and len(trigger.conditions) == 2
    assert trigger.matches(ctx()) is True
    assert trigger.matches(ctx({"event_name": "page_view"})) is False
    assert Trigger.from_config({"name": "all", "type": "always"}).fires_on == "all_events"
    with pytest.raises(ConditionError, match="not supported on a server container"):
        Trigger.from_config({"name": "x", "type": "triggerGroup"})


def test_trigger_config_errors_name_the_condition() -> None:
    with pytest.raises(ConditionError, match=r"conditions\[1\]: unknown operator"):
        Trigger.from_config({"name": "t", "fires_on": "some_events", "conditions": [
            {"variable": "A", "operator": "equals", "value": "x"},
            {"variable": "A", "operator": "like", "value": "x"}]})
    with pytest.raises(ConditionError, match="takes no conditions"):
        Trigger.from_config({"name": "t", "fires_on": "all_events", "conditions": [
            {"variable": "A", "operator": "equals", "value": "x"}]})


def test_trigger_references_and_problems() -> None:
    trigger = Trigger("t", [Condition("A", "matches_regex", Template("(")),
                            Condition("B", "equals", Template("{{C}}"))])
    assert trigger.references == ("A", "B", "C")
    assert trigger.problems[0].startswith("conditions[0]: invalid RE2 pattern")


def test_condition_trace_to_dict_shape() -> None:
    trace = Condition("Event Name", "equals", Template("purchase")).trace(ctx())
    assert isinstance(trace, ConditionTrace)
    assert trace.to_dict() == {"variable": "Event Name", "operator": "equals", "left": "purchase",
                               "right": "purchase", "negate": False, "ignore_case": False, "result": True}


def test_numeric_coercion_setting_can_route_through_string(monkeypatch: pytest.MonkeyPatch) -> None:
    from gtm_emulator.core import triggers

    assert evaluate("less", None, 1) is True  # default: plain Number(null) == 0
    monkeypatch.setattr(triggers, "NUMERIC_COERCION", "string")
    assert evaluate("less", None, 1) is False  # Number("null") is NaN
    assert evaluate("greater", True, 0) is False
    assert evaluate("less", "", 1) is True  # strings are unchanged
    trace = Condition("Flag", "greater", Template("0")).trace(
        ctx({"flag": True}, variables={"Flag": EventDataVariable("Flag", "flag")}))
    assert trace.result is False and any("NaN" in n for n in trace.notes)
