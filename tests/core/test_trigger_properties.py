"""Properties of the trigger engine over generated conditions, triggers and event data."""

from __future__ import annotations

import json
import math
from typing import Any

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from gtm_emulator.core import js
from gtm_emulator.core.request import Request
from gtm_emulator.core.triggers import NUMERIC_OPERATORS, Condition, Trigger, evaluate
from gtm_emulator.core.variables import EventContext, EventDataVariable, Template, Variable
from gtm_emulator.strategies.conditions import DEFAULT_VARIABLES, conditions, operators, regex_patterns, triggers
from gtm_emulator.strategies.event_data import event_data_dicts, event_data_values, js_numbers, numeric_strings

SETTINGS = settings(max_examples=150, deadline=None)
REQUEST = Request.build("POST", "https://sgtm.example/g/collect?v=2")
USER_VARIABLES: dict[str, Variable] = {
    "Value": EventDataVariable("Value", "value"),
    "Currency": EventDataVariable("Currency", "currency", default=Template("EUR")),
    "First Item": EventDataVariable("First Item", "items.0.item_id"),
}
VARIABLE_NAMES = (*DEFAULT_VARIABLES, *USER_VARIABLES)


def make_ctx(event: dict[str, Any], client: str | None) -> EventContext:
    return EventContext(event, REQUEST, client, USER_VARIABLES)


clients = st.sampled_from(["GA4", "Data Client", None])


@SETTINGS
@given(operators(), event_data_values(), event_data_values(), st.booleans())
def test_negation_duality(operator: str, left: Any, right: Any, ignore_case: bool) -> None:
    assert evaluate(operator, left, right, negate=True, ignore_case=ignore_case) is not evaluate(
        operator, left, right, negate=False, ignore_case=ignore_case)


@SETTINGS
@given(conditions(VARIABLE_NAMES, negate=False), event_data_dicts(), clients)
def test_negated_condition_holds_exactly_when_the_plain_one_does_not(
    condition: Condition, event: dict[str, Any], client: str | None
) -> None:
    negated = Condition(condition.variable, condition.operator, condition.value, negate=True,
                        ignore_case=condition.ignore_case)
    plain = Trigger("p", [condition]).matches(make_ctx(event, client))
    assert Trigger("n", [negated]).matches(make_ctx(event, client)) is (not plain)


@SETTINGS
@given(event_data_values(), st.one_of(event_data_values(), st.just(None)), st.data())
def test_equals_implies_contains_starts_and_ends(left: Any, right: Any, data: st.DataObject) -> None:
    if data.draw(st.booleans()):
        right = js.to_string(left)  # make equality happen often
    if evaluate("equals", left, right):
        assert evaluate("contains", left, right)
        assert evaluate("starts_with", left, right)
        assert evaluate("ends_with", left, right)
        assert evaluate("matches_regex", left, "^" + re2.escape(js.to_string(right)) + "$")


@SETTINGS
@given(triggers(VARIABLE_NAMES), event_data_dicts(), clients)
def test_trigger_fires_exactly_when_all_conditions_hold(
    trigger: Trigger, event: dict[str, Any], client: str | None
) -> None:
    each = [c.holds(make_ctx(event, client)) for c in trigger.conditions]
    expected = all(each)
    assert trigger.matches(make_ctx(event, client)) is expected
    trace = trigger.trace(make_ctx(event, client))
    assert trace.matched is expected
    assert [t.result for t in trace.conditions] == each


@SETTINGS
@given(triggers(VARIABLE_NAMES, min_conditions=2), event_data_dicts(), clients, st.randoms(use_true_random=False))
def test_condition_order_does_not_matter(
    trigger: Trigger, event: dict[str, Any], client: str | None, rnd: Any
) -> None:
    shuffled = list(trigger.conditions)
    rnd.shuffle(shuffled)
    reordered = Trigger(trigger.name, shuffled)
    assert reordered.matches(make_ctx(event, client)) is trigger.matches(make_ctx(event, client))
    assert reordered.trace(make_ctx(event, client)).matched is trigger.trace(make_ctx(event, client)).matched


@SETTINGS
@given(regex_patterns(valid_only=True), st.one_of(st.text(max_size=20), event_data_values()), st.booleans(),
       st.booleans())
def test_matches_regex_agrees_with_re2_search(pattern: str, left: Any, ignore_case: bool, negate: bool) -> None:
    options = re2.Options()
    options.case_sensitive = not ignore_case
    expected = re2.compile(pattern, options).search(js.to_string(left)) is not None
    assert evaluate("matches_regex", left, pattern, negate=negate, ignore_case=ignore_case) is (expected != negate)
    condition = Condition("Value", "matches_regex", Template(pattern), negate=negate, ignore_case=ignore_case)
    event = {"value": left} if left is not js.UNDEFINED else {}
    assert Trigger("t", [condition]).matches(make_ctx(event, "GA4")) is (expected != negate)


@SETTINGS
@given(st.sampled_from(NUMERIC_OPERATORS), js_numbers(), js_numbers())
def test_numeric_operators_agree_with_float_comparison(operator: str, left: float, right: float) -> None:
    a, b = float(left), float(right)
    expected = {"less": a < b, "less_or_equals": a <= b, "greater": a > b, "greater_or_equals": a >= b}[operator]
    if math.isnan(a) or math.isnan(b):
        expected = False
    assert evaluate(operator, left, right) is expected
    # numbers written as strings compare the same way
    assert evaluate(operator, js.to_string(left), js.to_string(right)) is expected


@SETTINGS
@given(st.sampled_from(NUMERIC_OPERATORS), st.one_of(event_data_values(), numeric_strings()),
       st.one_of(event_data_values(), numeric_strings()))
def test_numeric_operators_are_false_when_either_side_is_nan(operator: str, left: Any, right: Any) -> None:
    a, b = js.to_number(left), js.to_number(right)
    if js.is_nan(a) or js.is_nan(b):
        assert evaluate(operator, left, right) is False
    else:
        assert evaluate(operator, left, right) is evaluate(operator, float(a), float(b))


@SETTINGS
@given(triggers(VARIABLE_NAMES, references=("Event Name", "Value")))
def test_configuration_survives_dump_and_reload(trigger: Trigger) -> None:
    config = trigger.to_config()
    assert Trigger.from_config(config) == trigger
    reloaded = Trigger.from_config(json.loads(json.dumps(config)))
    assert reloaded == trigger
    assert reloaded.to_config() == config


@SETTINGS
@given(triggers(VARIABLE_NAMES, references=("Event Name", "Value")), event_data_dicts(), clients)
def test_reloaded_trigger_decides_the_same(trigger: Trigger, event: dict[str, Any], client: str | None) -> None:
    reloaded = Trigger.from_config(json.loads(json.dumps(trigger.to_config())))
    assert reloaded.matches(make_ctx(event, client)) is trigger.matches(make_ctx(event, client))


@SETTINGS
@given(conditions(VARIABLE_NAMES, references=("Event Name", "Value")), event_data_dicts(), clients)
def test_fast_path_agrees_with_evaluate(condition: Condition, event: dict[str, Any], client: str | None) -> None:
    ctx = make_ctx(event, client)
    left = condition.left.evaluate(ctx)
    right = condition.value.evaluate(ctx)
    expected = evaluate(condition.operator, left, right, condition.negate, condition.ignore_case)
    assert Trigger("t", [condition]).matches(make_ctx(event, client)) is expected
    assert condition.trace(make_ctx(event, client)).result is expected
