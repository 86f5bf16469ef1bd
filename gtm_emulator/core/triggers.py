"""The trigger engine: GTM's condition operators and Custom triggers (docs/triggers.md, "Operators").

``evaluate(operator, left, right, negate, ignore_case)`` is the pure operator with GTM semantics:

- ``equals``, ``contains``, ``starts_with``, ``ends_with`` compare JS ``String()`` of both sides,
  case-sensitively (an empty right operand is contained in, starts and ends every string);
- ``matches_regex`` is an RE2 *search* of the right operand (as a pattern) in the left; an invalid
  pattern (including look-around and back-references, which Python's ``re`` would accept) gives
  the base result false and an error in the trace;
- ``less``, ``less_or_equals``, ``greater``, ``greater_or_equals`` compare JS ``Number()`` of the
  *typed* values and are false when either side is NaN;
- ``negate`` is applied last, so "does not match RegEx" with an invalid pattern is true.

Choices where the spec is uncertain (each a named constant, easy to change):

- ``NUMERIC_COERCION = "number"``: numeric operators use plain JS ``Number()``: ``""`` and
  whitespace count as 0, ``null`` as 0, booleans as 1/0. The trace notes such operands. Set it to
  ``"string"`` (before building conditions) to coerce through ``String()`` first, which makes null
  and booleans NaN.
- ``IGNORE_CASE_ONLY_REGEX = True``: ``ignore_case`` affects only ``matches_regex``; elsewhere it
  is ignored and the trace (and :attr:`Condition.warnings`) say so.
- ``APPLY_NUMERIC_NEGATE = True``: ``negate`` on a numeric operator (not settable in GTM's UI)
  is applied, with a warning.

Conditions and triggers are compiled once. A literal pattern is compiled with RE2 when the
condition is built; :meth:`Trigger.matches` is a function generated for the trigger's conditions,
which reads pure built-in variables (Client Name, Event Name...) straight from the event context and
compares string operands inline. It short-circuits and, for speed, does not list the pure built-ins
it read in ``ctx.resolved``; :meth:`Trigger.trace` evaluates every condition through
``ctx.get`` and records everything, and is what the report uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..errors import ConditionError
from . import js
from .js import UNDEFINED
from .regex import compile_pattern, search_text
from .report import ConditionTrace, TriggerTrace
from .statuses import TriggerRole
from .variables import BUILTIN_SPECS, EventContext, Template, VariableCycleError, builtin_display_name

__all__ = [
    "NUMERIC_OPERATORS",
    "OPERATORS",
    "STRING_OPERATORS",
    "UNDEFINED",
    "Condition",
    "ConditionError",
    "Trigger",
    "evaluate",
    "evaluate_with_error",
    "operator_name",
]

NUMERIC_COERCION = "number"
IGNORE_CASE_ONLY_REGEX = True
APPLY_NUMERIC_NEGATE = True

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
WEB_ONLY_OPERATORS = frozenset({"CSS_SELECTOR", "cssSelector", "URL_MATCHES", "urlMatches"})

# Trigger types of an export (docs/templates.md, "Importing a container export") that the server container evaluates.
_EXPORT_TRIGGER_TYPES = frozenset({"ALWAYS", "always", "CUSTOM_EVENT", "customEvent"})


def operator_name(name: str) -> str | None:
    """The report name of an operator written in any accepted spelling, or None if unknown.

    >>> operator_name("MATCH_REGEX"), operator_name("startsWith"), operator_name("less_or_equals")
    ('matches_regex', 'starts_with', 'less_or_equals')
    """
    return _ALIASES.get(name)


def _to_number(value: Any) -> Any:
    """An operand of a numeric operator as a number, per ``NUMERIC_COERCION``."""
    if value.__class__ is int or value.__class__ is float:
        return value
    if NUMERIC_COERCION == "string" and not isinstance(value, str):
        return js.to_number(js.to_string(value))
    return js.to_number(value)


def _compare_numbers(operator: str, left: Any, right: Any) -> bool:
    a: float = _to_number(left)
    b: float = _to_number(right)
    if a != a or b != b:  # NaN on either side
        return False
    if operator == "less":
        return a < b
    if operator == "less_or_equals":
        return a <= b
    if operator == "greater":
        return a > b
    return a >= b


def _string_test(op: str, lhs: str, rhs: str, ignore_case: bool, regex: Any) -> tuple[bool, str | None]:
    if op == "equals":
        return lhs == rhs, None
    if op == "contains":
        return rhs in lhs, None
    if op == "starts_with":
        return lhs.startswith(rhs), None
    if op == "ends_with":
        return lhs.endswith(rhs), None
    error = None
    compiled = regex
    if compiled is None:
        compiled, error = compile_pattern(rhs, ignore_case)
    return compiled is not None and search_text(compiled, lhs) is not None, error


def evaluate_with_error(
    operator: str, left: Any, right: Any, negate: bool = False, ignore_case: bool = False,
    regex: Any = None,
) -> tuple[bool, str | None]:
    """Like :func:`evaluate`, also returning the regex error when the pattern was invalid.

    ``regex`` is an already compiled pattern for ``right`` (conditions compile literal patterns once).
    """
    op = _ALIASES.get(operator)
    if op is None:
        raise ConditionError(f"unknown operator {operator!r}; expected one of {', '.join(OPERATORS)}")
    if op in NUMERIC_OPERATORS:
        result, error = _compare_numbers(op, left, right), None
    else:
        lhs = left if left.__class__ is str else js.to_string(left)
        rhs = right if right.__class__ is str else js.to_string(right)
        result, error = _string_test(op, lhs, rhs, ignore_case, regex)
    return (not result if negate else result), error


def evaluate(operator: str, left: Any, right: Any, negate: bool = False, ignore_case: bool = False) -> bool:
    """Evaluate one GTM condition ``left <operator> right`` with GTM's exact semantics.

    >>> evaluate("equals", UNDEFINED, "undefined"), evaluate("contains", [1, 2], "1,2")
    (True, True)
    >>> evaluate("less", "", 5), evaluate("greater", "abc", 0), evaluate("matches_regex", "x", "(?=x)", negate=True)
    (True, False, True)
    """
    return evaluate_with_error(operator, left, right, negate, ignore_case)[0]


def _describe(value: Any) -> str:
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, str):
        return repr(value)
    return js.to_string(value) if not isinstance(value, (list, tuple, dict)) else js.type_of(value)


def _params(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Export ``parameter`` list → {key: value}."""
    out: dict[str, Any] = {}
    for param in obj.get("parameter") or []:
        if isinstance(param, Mapping) and "key" in param:
            out[str(param["key"])] = param.get("value", "")
    return out


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    if value is None:
        return False
    raise ConditionError(f"{where} must be a boolean, got {value!r}")


class Condition:
    """``{{variable}} <operator> <value>``, compiled once.

    ``value`` is the right operand (a :class:`Template`; may contain ``{{references}}``). ``left``
    defaults to the lone reference ``{{variable}}``; an export's ``arg0`` may be any template.
    A condition is immutable once built.

    >>> c = Condition("Event Name", "EQUALS", Template("purchase"))
    >>> c.operator, c.to_config()
    ('equals', {'variable': 'Event Name', 'operator': 'equals', 'value': 'purchase'})
    """

    __slots__ = (
        "_frozen",
        "_numeric_right",
        "_regex",
        "_right_string",
        "_warnings",
        "ignore_case",
        "left",
        "negate",
        "operator",
        "regex_error",
        "value",
        "variable",
    )

    def __init__(
        self,
        variable: str,
        operator: str,
        value: Template | Any,
        negate: bool = False,
        ignore_case: bool = False,
        left: Template | None = None,
    ):
        op = operator_name(operator)
        if op is None:
            if operator in WEB_ONLY_OPERATORS:
                raise ConditionError(f"operator {operator!r} is not meaningful on a server container")
            raise ConditionError(f"unknown operator {operator!r}; expected one of {', '.join(OPERATORS)}")
        set_ = object.__setattr__
        set_(self, "_frozen", False)
        self.variable = variable
        self.operator = op
        self.value = Template.of(value)
        self.negate = bool(negate)
        self.ignore_case = bool(ignore_case)
        self.left = left if left is not None else Template("{{" + variable + "}}")
        self._regex: Any = None
        self.regex_error: str | None = None
        self._right_string: str | None = None
        self._numeric_right: Any = None
        if self.value.is_literal:
            self._right_string = js.to_string(self.value.raw)
            self._numeric_right = _to_number(self.value.raw)
            if op == "matches_regex":
                self._regex, self.regex_error = compile_pattern(self._right_string, self.ignore_case)
        self._warnings = self._compute_warnings()
        set_(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(f"Condition is immutable; build a new one instead of setting {name!r}")
        object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ config

    @classmethod
    def from_config(cls, obj: Mapping[str, Any]) -> Condition:
        """Build from the native shape ``{"variable", "operator", "value", "negate"?, "ignore_case"?}``
        or from an export filter ``{"type": "EQUALS", "parameter": [arg0, arg1, negate?, ignore_case?]}``.
        Operators may be spelled as in reports, exports or the API."""
        if "variable" in obj:
            variable = str(obj["variable"])
            left = Template(variable) if "{{" in variable else None
            return cls(
                variable,
                str(obj.get("operator", "")),
                Template(obj.get("value", "")),
                negate=_as_bool(obj.get("negate", False), "negate"),
                ignore_case=_as_bool(obj.get("ignore_case", False), "ignore_case"),
                left=left,
            )
        if "type" in obj:
            params = _params(obj)
            if "arg0" not in params:
                raise ConditionError("condition has no arg0 parameter")
            arg0 = str(params["arg0"])
            left_template = Template(arg0)
            ref = left_template.ref
            variable = ref if ref is not None and arg0.strip() == "{{" + ref + "}}" else arg0
            return cls(
                variable,
                str(obj["type"]),
                Template(params.get("arg1", "")),
                negate=_as_bool(params.get("negate", False), "negate"),
                ignore_case=_as_bool(params.get("ignore_case", False), "ignore_case"),
                left=left_template if variable == arg0 else None,
            )
        raise ConditionError("condition needs 'variable', 'operator' and 'value'")

    def to_config(self) -> dict[str, Any]:
        """The native JSON shape (``negate`` and ``ignore_case`` only when true)."""
        own_left = self.left.ref == self.variable and self.left.kind == "ref"
        out: dict[str, Any] = {
            "variable": self.variable if own_left else js.to_string(self.left.raw),
            "operator": self.operator,
            "value": self.value.raw,
        }
        if self.negate:
            out["negate"] = True
        if self.ignore_case:
            out["ignore_case"] = True
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Condition) and self.to_config() == other.to_config()

    def __hash__(self) -> int:
        return hash(repr(sorted(self.to_config().items())))

    def __repr__(self) -> str:
        return f"Condition({self.to_config()!r})"

    # ------------------------------------------------------------------ facts

    @property
    def references(self) -> tuple[str, ...]:
        return self.left.refs + self.value.refs

    @property
    def warnings(self) -> list[str]:
        """What a loader should warn about (allowed, but not what GTM's UI can produce)."""
        return list(self._warnings)

    def _compute_warnings(self) -> tuple[str, ...]:
        out = []
        if self.negate and self.operator in NUMERIC_OPERATORS:
            out.append(f"negate on {self.operator} cannot be set in GTM's UI; "
                       + ("it is applied" if APPLY_NUMERIC_NEGATE else "it is ignored"))
        if self.ignore_case and self.operator != "matches_regex" and IGNORE_CASE_ONLY_REGEX:
            out.append(f"ignore_case only affects matches_regex; ignored on {self.operator}")
        return tuple(out)

    @property
    def problems(self) -> list[str]:
        """Load-time errors: an invalid literal RE2 pattern."""
        return [self.regex_error] if self.regex_error else []

    # ------------------------------------------------------------------ evaluation

    def _negate(self) -> bool:
        return self.negate and (APPLY_NUMERIC_NEGATE or self.operator not in NUMERIC_OPERATORS)

    def test(self, left: Any, right: Any) -> tuple[bool, str | None]:
        """The result for resolved operands, and the regex error if any."""
        op = self.operator
        ignore_case = self.ignore_case and (op == "matches_regex" or not IGNORE_CASE_ONLY_REGEX)
        if op in NUMERIC_OPERATORS:
            number = self._numeric_right if self._right_string is not None else right
            result, error = _compare_numbers(op, left, number), None
        else:
            lhs = left if left.__class__ is str else js.to_string(left)
            if self._right_string is not None:
                rhs = self._right_string
                regex = self._regex
                error = self.regex_error
                if op == "matches_regex":
                    result = regex is not None and search_text(regex, lhs) is not None
                else:
                    result = _string_test(op, lhs, rhs, ignore_case, None)[0]
            else:
                rhs = right if right.__class__ is str else js.to_string(right)
                result, error = _string_test(op, lhs, rhs, ignore_case, None)
            if ignore_case and op != "matches_regex":
                result = _string_test(op, lhs.lower(), rhs.lower(), False, None)[0]
        return (not result if self._negate() else result), error

    def test_left(self, left: Any) -> bool:
        """The result for a resolved left operand; only for a literal right operand."""
        return self.test(left, self.value.raw)[0]

    def _left_value(self, ctx: EventContext) -> tuple[Any, str | None]:
        return _operand(self.left, ctx, f"{{{{{self.variable}}}}}")

    def _right_value(self, ctx: EventContext) -> tuple[Any, str | None]:
        return _operand(self.value, ctx, "right operand")

    def holds(self, ctx: EventContext) -> bool:
        left, _ = self._left_value(ctx)
        right, _ = self._right_value(ctx)
        return self.test(left, right)[0]

    def notes_for(self, left: Any, right: Any) -> list[str]:
        notes = []
        op = self.operator
        if op in NUMERIC_OPERATORS:
            for side, operand in (("left", left), ("right", right)):
                if operand is None or isinstance(operand, bool):
                    notes.append(f"{side} operand {js.to_string(operand)} counts as the number "
                                 f"{js.to_string(_to_number(operand))}")
                elif isinstance(operand, str) and operand.strip(js.WHITESPACE) == "":
                    notes.append(f"{side} operand is an empty string, which counts as the number 0")
                elif js.is_nan(_to_number(operand)):
                    notes.append(f"{side} operand {_describe(operand)} is not a number (NaN): "
                                 "the comparison is false")
        else:
            if not isinstance(left, str):
                notes.append(f"left operand {_describe(left)} is compared as the string {js.to_string(left)!r}")
            if not isinstance(right, str):
                notes.append(f"right operand {_describe(right)} is compared as the string "
                             f"{js.to_string(right)!r}")
        if self._warnings:
            notes.extend(self._warnings)
        return notes

    def trace(self, ctx: EventContext) -> ConditionTrace:
        """Evaluate with full detail: both operands, result, regex error, notes."""
        left, left_error = self._left_value(ctx)
        right, right_error = self._right_value(ctx)
        result, error = self.test(left, right)
        return ConditionTrace(
            variable=builtin_display_name(self.variable),
            operator=self.operator,
            left=left,
            right=right,
            negate=self.negate,
            ignore_case=self.ignore_case,
            result=result,
            error=error if left_error is None and right_error is None else
            "; ".join(e for e in (left_error, right_error, error) if e) or None,
            notes=self.notes_for(left, right),
        )

    # ------------------------------------------------------------------ code generation

    def _emit(self, i: int, ns: dict[str, Any]) -> list[str]:
        """Python lines that load the left operand into ``v`` and ``return False`` when the
        condition does not hold. Values are passed through ``ns``; no user text enters the code."""
        lines: list[str] = []
        ns[f"C{i}"] = self
        ref = self.left.ref
        spec = BUILTIN_SPECS.get(ref) if ref is not None else None
        if spec is not None and spec.pure:
            ns[f"N{i}"] = ref
            lines.append(f"if N{i} in variables: v = ctx.get(N{i})")
            lines.append("else:")
            if spec.event_key is not None:
                ns[f"K{i}"] = spec.event_key
                lines.append(f"    v = ctx.event_data.get(K{i}, UNDEFINED)")
            elif spec.name == "Client Name":
                lines.append("    v = ctx.client_name")
                lines.append("    if v is None: v = UNDEFINED")
            else:
                ns[f"B{i}"] = spec.read
                lines.append(f"    v = B{i}(ctx)")
        elif ref is not None:
            ns[f"N{i}"] = ref
            lines.append(f"v = ctx.get(N{i})")
        else:
            ns[f"L{i}"] = self.left.evaluate
            lines.append(f"v = L{i}(ctx)")

        op = self.operator
        negate = self._negate()
        if self._right_string is None:
            ns[f"R{i}"] = self.value.evaluate
            lines.append(f"if not C{i}.test(v, R{i}(ctx))[0]: return False")
            return lines
        if op in NUMERIC_OPERATORS or (self.ignore_case and op != "matches_regex" and not IGNORE_CASE_ONLY_REGEX):
            lines.append(f"if not C{i}.test_left(v): return False")
            return lines
        ns[f"S{i}"] = self._right_string
        if op == "equals":
            if negate:
                lines.append(f"if v == S{i} or (v.__class__ is not str and not C{i}.test_left(v)): return False")
            else:
                lines.append(f"if v != S{i} and (v.__class__ is str or not C{i}.test_left(v)): return False")
            return lines
        if op == "contains":
            expr = f"S{i} in v"
        elif op == "starts_with":
            expr = f"v.startswith(S{i})"
        elif op == "ends_with":
            expr = f"v.endswith(S{i})"
        elif self._regex is None:
            expr = "False"
        else:
            ns[f"X{i}"] = self._regex
            expr = f"SEARCH(X{i}, v) is not None"
        lines.append("if v.__class__ is str:")
        lines.append(f"    if {expr}: return False" if negate else f"    if not ({expr}): return False")
        lines.append(f"elif not C{i}.test_left(v): return False")
        return lines


def _compile_matcher(conditions: tuple[Condition, ...]) -> Callable[[EventContext], bool]:
    """One Python function testing all ``conditions`` in order (short-circuiting)."""
    if not conditions:
        return _always
    ns: dict[str, Any] = {"UNDEFINED": UNDEFINED, "SEARCH": search_text, "VariableCycleError": VariableCycleError}
    body = ["variables = ctx.variables"]
    for i, condition in enumerate(conditions):
        body.extend(condition._emit(i, ns))
    body.append("return True")
    ns["SLOW"] = lambda ctx: all(c.holds(ctx) for c in conditions)
    source = "def match(ctx):\n    try:\n" + "".join(f"        {line}\n" for line in body)
    source += "    except VariableCycleError:\n        return SLOW(ctx)\n"
    exec(compile(source, "<trigger conditions>", "exec"), ns)  # generated from fixed fragments only
    match: Callable[[EventContext], bool] = ns["match"]
    return match


def _always(ctx: EventContext) -> bool:
    return True


class Trigger:
    """A Custom trigger: All Events (no conditions) or Some Events (conditions AND-ed).

    >>> t = Trigger("GA4 purchase", [Condition("Client Name", "equals", Template("GA4")),
    ...                              Condition("Event Name", "equals", Template("purchase"))])
    >>> t.fires_on, Trigger.from_config(t.to_config()) == t
    ('some_events', True)
    """

    __slots__ = ("_conditions", "id", "matches", "name", "notes")

    def __init__(self, name: str, conditions: Iterable[Condition] = (), id: str | None = None,
                 notes: str | None = None):
        self.name = name
        self.id = id
        self.notes = notes
        self.conditions = conditions

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self._conditions

    @conditions.setter
    def conditions(self, conditions: Iterable[Condition]) -> None:
        self._conditions = tuple(conditions)
        # matches(ctx) -> bool: whether every condition holds (generated, short-circuiting).
        self.matches: Callable[[EventContext], bool] = _compile_matcher(self._conditions)

    @property
    def fires_on(self) -> str:
        return "some_events" if self._conditions else "all_events"

    def trace(self, ctx: EventContext, role: TriggerRole = "firing") -> TriggerTrace:
        """Evaluate every condition (even after one fails, so the trace is complete)."""
        traces = [c.trace(ctx) for c in self._conditions]
        return TriggerTrace(self.name, role, all(t.result for t in traces), traces)

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(r for c in self._conditions for r in c.references)

    @property
    def warnings(self) -> list[str]:
        return [f"conditions[{i}]: {w}" for i, c in enumerate(self._conditions) for w in c.warnings]

    @property
    def problems(self) -> list[str]:
        return [f"conditions[{i}]: {p}" for i, c in enumerate(self._conditions) for p in c.problems]

    # ------------------------------------------------------------------ config

    @classmethod
    def from_config(cls, obj: Mapping[str, Any]) -> Trigger:
        """Build from the native trigger JSON (trigger.schema.json) or from an export trigger
        (``triggerId``, ``type`` ALWAYS / CUSTOM_EVENT, ``customEventFilter``, ``filter``).

        Raises :class:`ConditionError` naming the condition that cannot be built.
        """
        if "fires_on" in obj or "conditions" in obj:
            raw_conditions = obj.get("conditions") or []
            if obj.get("fires_on") == "all_events" and raw_conditions:
                raise ConditionError("fires_on all_events takes no conditions")
            where = "conditions"
        elif "type" in obj:
            kind = obj["type"]
            if kind not in _EXPORT_TRIGGER_TYPES:
                raise ConditionError(f"trigger type {kind!r} is not supported on a server container")
            raw_conditions = [*(obj.get("customEventFilter") or []), *(obj.get("filter") or [])]
            where = "filter"
        else:
            raise ConditionError("trigger needs 'fires_on' (native) or 'type' (export)")
        conditions = []
        for index, raw in enumerate(raw_conditions):
            try:
                conditions.append(Condition.from_config(raw))
            except ConditionError as exc:
                raise ConditionError(f"{where}[{index}]: {exc}") from None
        trigger_id = obj.get("id", obj.get("triggerId"))
        return cls(
            str(obj.get("name", "")),
            conditions,
            id=None if trigger_id is None else str(trigger_id),
            notes=obj.get("notes"),
        )

    def to_config(self) -> dict[str, Any]:
        """The native JSON shape; ``Trigger.from_config(t.to_config()) == t``."""
        out: dict[str, Any] = {"name": self.name}
        if self.id is not None:
            out["id"] = self.id
        if self.notes is not None:
            out["notes"] = self.notes
        out["fires_on"] = self.fires_on
        if self._conditions:
            out["conditions"] = [c.to_config() for c in self._conditions]
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Trigger) and self.to_config() == other.to_config()

    def __hash__(self) -> int:
        return hash((self.name, self.id, self._conditions))

    def __repr__(self) -> str:
        return f"Trigger({self.name!r}, {list(self._conditions)!r}, id={self.id!r})"


def _operand(template: Template, ctx: EventContext, what: str) -> tuple[Any, str | None]:
    """An operand's value; a variable cycle makes it undefined, with a warning naming ``what``."""
    try:
        return template.evaluate(ctx), None
    except VariableCycleError as exc:
        message = f"{exc}; {what} treated as undefined"
        ctx.warnings.append(message)
        return UNDEFINED, message


class UnsupportedTrigger(Trigger):
    """An imported trigger of a type the emulator does not know: it never fires, and its trace says why."""

    __slots__ = ("export_type",)

    def __init__(self, name: str, export_type: str, id: str | None = None, notes: str | None = None):
        super().__init__(name, (), id=id, notes=notes)
        self.export_type = export_type
        self.matches = lambda ctx: False

    def trace(self, ctx: EventContext, role: TriggerRole = "firing") -> TriggerTrace:
        note = ConditionTrace("trigger type", "equals", self.export_type, "a server trigger type", False, False,
                              False, error=f"trigger type {self.export_type!r} is not emulated; it never fires")
        return TriggerTrace(self.name, role, False, [note])

    def to_config(self) -> dict[str, Any]:
        return {**super().to_config(), "unsupported_type": self.export_type}
