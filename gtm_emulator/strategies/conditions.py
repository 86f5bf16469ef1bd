"""Hypothesis strategies for trigger conditions and triggers.

A condition is ``{{variable}} <operator> <value>`` with ``negate`` and ``ignore_case``; values are
what users type: words, numbers, empty strings, RE2 patterns (valid and invalid), and sometimes a
``{{Variable}}`` reference. Triggers are lists of such conditions.

>>> from hypothesis import given
>>> from gtm_emulator.core.triggers import Trigger
>>> @given(triggers())
... def test_config_round_trip(trigger):
...     assert Trigger.from_config(trigger.to_config()) == trigger
>>> test_config_round_trip()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from gtm_emulator.core.triggers import NUMERIC_OPERATORS, OPERATORS, STRING_OPERATORS, Condition, Trigger
from gtm_emulator.core.variables import Template
from gtm_emulator.strategies.event_data import COMMON_EVENT_NAMES, js_numbers, numeric_strings

__all__ = [
    "DEFAULT_VARIABLES",
    "condition_values",
    "conditions",
    "operators",
    "regex_patterns",
    "triggers",
]

DEFAULT_VARIABLES = ("Event Name", "Client Name", "Page URL", "Page Path", "Page Hostname", "Request Path",
                     "Request Method", "Analytics Client ID")

_VALID_PATTERNS = ("^purchase$", "purchase", "^page_", "_item$", "(?i)PURCHASE", "^$", "", ".*", "a|b",
                   "[0-9]+", r"^\d{2,}$", r"shop\.example", "^https://", "(view|add)_", "é", "^.{0,3}$")
# Valid in Python's re, invalid in RE2 (look-around, back-references, possessive), or invalid anywhere.
_INVALID_PATTERNS = ("(?=a)", "(?!a)b", "(?<=a)b", r"(a)\1", "a++", "[", "(", "a{2,1}", r"\Z", "*a")


def operators(kind: str = "any") -> st.SearchStrategy[str]:
    """Operator report names: ``kind`` is ``"any"``, ``"string"`` or ``"numeric"``."""
    choices = {"any": OPERATORS, "string": STRING_OPERATORS, "numeric": NUMERIC_OPERATORS}[kind]
    return st.sampled_from(choices)


def regex_patterns(valid_only: bool = False) -> st.SearchStrategy[str]:
    """RE2 patterns: anchored and unanchored; unless ``valid_only``, also invalid ones.

    >>> from gtm_emulator.core.regex import compile_pattern
    >>> from hypothesis import given
    >>> @given(regex_patterns(valid_only=True))
    ... def test(p): assert compile_pattern(p)[1] is None
    """
    valid = st.one_of(st.sampled_from(_VALID_PATTERNS), st.sampled_from(COMMON_EVENT_NAMES))
    return valid if valid_only else st.one_of(valid, st.sampled_from(_INVALID_PATTERNS))


def condition_values(operator: str | None = None, references: Sequence[str] = ()) -> st.SearchStrategy[Any]:
    """Right operands suited to ``operator`` (all kinds when None); ``references`` adds
    ``{{Name}}`` values for those variable names."""
    text = st.one_of(st.sampled_from(COMMON_EVENT_NAMES), st.text(max_size=8), st.just(""),
                     st.sampled_from(["GA4", "undefined", "null", "true", "[object Object]"]))
    if operator == "matches_regex":
        base: st.SearchStrategy[Any] = regex_patterns()
    elif operator in NUMERIC_OPERATORS:
        base = st.one_of(numeric_strings(), js_numbers(allow_nan=False))
    else:
        base = st.one_of(text, numeric_strings(), js_numbers(allow_nan=False), st.booleans())
        if operator is None:
            base = st.one_of(base, regex_patterns())
    if references:
        base = st.one_of(base, st.sampled_from(["{{" + name + "}}" for name in references]))
    return base


@st.composite
def conditions(
    draw: st.DrawFn,
    variables: Sequence[str] = DEFAULT_VARIABLES,
    operator: str | None = None,
    value: Any = None,
    negate: bool | None = None,
    ignore_case: bool | None = None,
    references: Sequence[str] = (),
) -> Condition:
    """A :class:`Condition` on one of ``variables``. Fix any of ``operator``, ``value``, ``negate``,
    ``ignore_case`` by passing it; otherwise it is drawn. ``ignore_case`` is drawn only for
    ``matches_regex`` (GTM's UI offers it nowhere else), ``negate`` only for string operators.

    >>> from hypothesis import given
    >>> @given(conditions(operator="contains", negate=False))
    ... def test(c): assert c.operator == "contains" and not c.negate
    """
    variable = draw(st.sampled_from(list(variables)))
    op = operator if operator is not None else draw(operators())
    right = value if value is not None else draw(condition_values(op, references))
    if negate is None:
        negate = draw(st.booleans()) if op in STRING_OPERATORS else False
    if ignore_case is None:
        ignore_case = draw(st.booleans()) if op == "matches_regex" else False
    return Condition(variable, op, Template(right), negate=negate, ignore_case=ignore_case)


@st.composite
def triggers(
    draw: st.DrawFn,
    variables: Sequence[str] = DEFAULT_VARIABLES,
    min_conditions: int = 0,
    max_conditions: int = 4,
    references: Sequence[str] = (),
) -> Trigger:
    """A :class:`Trigger` with ``min_conditions``..``max_conditions`` conditions (0 = All Events).

    >>> from hypothesis import given
    >>> @given(triggers(min_conditions=1))
    ... def test(t): assert t.fires_on == "some_events"
    """
    conds = draw(st.lists(conditions(variables, references=references), min_size=min_conditions,
                          max_size=max_conditions))
    name = draw(st.text(min_size=1, max_size=12))
    trigger_id = draw(st.one_of(st.none(), st.integers(1, 10**6).map(str)))
    return Trigger(name, conds, id=trigger_id)
