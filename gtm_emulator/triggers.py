"""The trigger engine: GTM's condition operators and Custom triggers (sgtm.md §5).

``evaluate(operator, left, right, negate, ignore_case)`` is the pure operator with GTM semantics:
string operators compare JS ``String()`` of both sides, regexes are RE2 searches, numeric operators
compare JS ``Number()`` of the typed values and are false when either side is NaN, and ``negate`` is
applied last. Conditions and triggers are compiled once at load; evaluating them leaves a trace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import js
from .js import UNDEFINED
from .regex import compile_pattern
from .report import ConditionTrace, TriggerTrace
from .variables import EventContext, Template, builtin_display_name

__all__ = [
    "NUMERIC_OPERATORS",
    "OPERATORS",
    "UNDEFINED",
    "Condition",
    "Trigger",
    "evaluate",
    "evaluate_with_error",
    "operator_name",
]

STRING_OPERATORS = ("equals", "contains", "starts_with", "ends_with", "matches_regex")
NUMERIC_OPERATORS = ("less", "less_or_equals", "greater", "greater_or_equals")
OPERATORS = STRING_OPERATORS + NUMERIC_OPERATORS

# Export (EQUALS), API camelCase (startsWith) and report names all map to the report name.
_ALIASES: dict[str, str] = {}
for _name in OPERATORS:
    _ALIASES[_name] = _name
    _ALIASES[_name.upper()] = _name
    _head, *_rest = _name.split("_")
    _ALIASES[_head + "".join(p.capitalize() for p in _rest)] = _name
_ALIASES.update({"MATCH_REGEX": "matches_regex", "matchRegex": "matches_regex"})

# Operators meaningful only in web containers.
WEB_ONLY_OPERATORS = {"CSS_SELECTOR", "cssSelector", "URL_MATCHES", "urlMatches"}


def operator_name(name: str) -> str | None:
    """The report name of an operator written in any accepted spelling, or None if unknown."""
    return _ALIASES.get(name)


def _compare_numbers(operator: str, left: Any, right: Any) -> bool:
    a = js.to_number(left)
    b = js.to_number(right)
    if a != a or b != b:  # NaN on either side
        return False
    if operator == "less":
        return a < b
    if operator == "less_or_equals":
        return a <= b
    if operator == "greater":
        return a > b
    return a >= b


def evaluate_with_error(
    operator: str, left: Any, right: Any, negate: bool = False, ignore_case: bool = False,
    regex: Any = None,
) -> tuple[bool, str | None]:
    """Like :func:`evaluate`, also returning the regex error when the pattern was invalid."""
    op = _ALIASES.get(operator)
    if op is None:
        raise ValueError(f"unknown operator {operator!r}; expected one of {', '.join(OPERATORS)}")
    error = None
    if op in NUMERIC_OPERATORS:
        result = _compare_numbers(op, left, right)
    else:
        lhs = left if isinstance(left, str) else js.to_string(left)
        rhs = right if isinstance(right, str) else js.to_string(right)
        if op == "equals":
            result = lhs == rhs
        elif op == "contains":
            result = rhs in lhs
        elif op == "starts_with":
            result = lhs.startswith(rhs)
        elif op == "ends_with":
            result = lhs.endswith(rhs)
        else:
            compiled = regex
            if compiled is None:
                compiled, error = compile_pattern(rhs, ignore_case)
            result = compiled is not None and compiled.search(lhs) is not None
    return (not result if negate else result), error


def evaluate(operator: str, left: Any, right: Any, negate: bool = False, ignore_case: bool = False) -> bool:
    """Evaluate one GTM condition ``left <operator> right`` with GTM's exact semantics."""
    return evaluate_with_error(operator, left, right, negate, ignore_case)[0]


@dataclass
class Condition:
    """``{{variable}} <operator> <value>``, compiled: the regex of a literal pattern is built once."""

    variable: str
    operator: str
    value: Template
    negate: bool = False
    ignore_case: bool = False
    left: Template | None = None
    _regex: Any = field(default=None, repr=False)
    _regex_error: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        op = operator_name(self.operator)
        if op is None:
            raise ValueError(f"unknown operator {self.operator!r}")
        self.operator = op
        if self.left is None:
            self.left = Template("{{" + self.variable + "}}")
        if op == "matches_regex" and self.value.is_literal:
            self._regex, self._regex_error = compile_pattern(js.to_string(self.value.raw), self.ignore_case)

    @property
    def references(self) -> tuple[str, ...]:
        assert self.left is not None
        return self.left.refs + self.value.refs

    def notes_for(self, left: Any, right: Any) -> list[str]:
        notes = []
        if self.operator in NUMERIC_OPERATORS:
            for side, operand in (("left", left), ("right", right)):
                if operand is None or isinstance(operand, bool):
                    notes.append(f"{side} operand {js.to_string(operand)} counts as the number "
                                 f"{js.to_string(js.to_number(operand))}")
                elif isinstance(operand, str) and operand.strip() == "":
                    notes.append(f"{side} operand is an empty string, which counts as the number 0")
            if self.negate:
                notes.append("negate on a numeric operator cannot be set in GTM's UI; applied anyway")
        elif self.ignore_case and self.operator != "matches_regex":
            notes.append("ignore_case only affects matches_regex; ignored")
        return notes

    def trace(self, ctx: EventContext) -> ConditionTrace:
        assert self.left is not None
        left = self.left.evaluate(ctx)
        right = self.value.evaluate(ctx)
        if self.operator == "matches_regex" and self.value.is_literal:
            result, error = evaluate_with_error(
                self.operator, left, right, self.negate, self.ignore_case, regex=self._regex
            )
            error = error or self._regex_error
        else:
            result, error = evaluate_with_error(self.operator, left, right, self.negate, self.ignore_case)
        return ConditionTrace(
            variable=builtin_display_name(self.variable),
            operator=self.operator,
            left=left,
            right=right,
            negate=self.negate,
            ignore_case=self.ignore_case,
            result=result,
            error=error,
            notes=self.notes_for(left, right),
        )

    def holds(self, ctx: EventContext) -> bool:
        assert self.left is not None
        left = self.left.evaluate(ctx)
        right = self.value.evaluate(ctx)
        regex = self._regex if self.value.is_literal else None
        return evaluate_with_error(self.operator, left, right, self.negate, self.ignore_case, regex)[0]

    def to_config(self) -> dict[str, Any]:
        out: dict[str, Any] = {"variable": self.variable, "operator": self.operator, "value": self.value.raw}
        if self.negate:
            out["negate"] = True
        if self.ignore_case:
            out["ignore_case"] = True
        return out


@dataclass
class Trigger:
    """A Custom trigger: All Events (no conditions) or Some Events (conditions AND-ed)."""

    name: str
    conditions: Sequence[Condition] = ()
    id: str | None = None

    @property
    def fires_on(self) -> str:
        return "some_events" if self.conditions else "all_events"

    def trace(self, ctx: EventContext, role: str = "firing") -> TriggerTrace:
        """Evaluate every condition (even after one fails, so the trace is complete)."""
        traces = [c.trace(ctx) for c in self.conditions]
        return TriggerTrace(self.name, role, all(t.result for t in traces), traces)

    def matches(self, ctx: EventContext) -> bool:
        return all(c.holds(ctx) for c in self.conditions)

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(r for c in self.conditions for r in c.references)

    def to_config(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "fires_on": self.fires_on}
        if self.conditions:
            out["conditions"] = [c.to_config() for c in self.conditions]
        return out
