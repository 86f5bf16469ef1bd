"""Variables: built-in and user-defined, resolved lazily per event, and ``{{Var}}`` templates.

Resolution follows sgtm.md §6: a variable is resolved on first use in an event and cached for the
rest of that event (a Random Number is the same everywhere in one event); every resolved value is
listed in the event's variable view. A parameter whose whole value is one ``{{Var}}`` gets the
variable's typed value; mixed text gets each reference through JS ``String()``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import js
from .event_data import get_path, split_path
from .js import UNDEFINED
from .request import Request, first_values, parse_query

REF = re.compile(r"\{\{([^{}]+?)\}\}")

# ------------------------------------------------------------------------ the event context


@dataclass
class ContainerInfo:
    container_id: str = "GTM-EMULATOR"
    version: str = "0"
    environment_name: str = ""
    debug_mode: bool = True
    preview_mode: bool = True


class VariableCycleError(Exception):
    pass


@dataclass
class EventContext:
    """Everything a variable, condition or tag may read for one event."""

    event_data: dict[str, Any]
    request: Request
    client_name: str | None
    variables: Mapping[str, Variable]
    info: ContainerInfo = field(default_factory=ContainerInfo)
    now: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    resolved: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    _stack: list[str] = field(default_factory=list)
    _query: dict[str, str] | None = None

    def get(self, name: str) -> Any:
        """The value of the variable called ``name`` (cached for this event)."""
        if name in self.resolved:
            return self.resolved[name]
        variable = self.variables.get(name)
        if variable is None:
            builtin = BUILTINS.get(name) or BUILTINS_BY_TYPE.get(name)
            if builtin is None:
                self.warnings.append(f"unknown variable {{{{{name}}}}} resolved to undefined")
                self.resolved[name] = UNDEFINED
                return UNDEFINED
            value = builtin(self)
        else:
            if name in self._stack:
                raise VariableCycleError(" -> ".join([*self._stack, name]))
            self._stack.append(name)
            try:
                value = variable.resolve(self)
            finally:
                self._stack.pop()
        self.resolved[name] = value
        return value

    def query_params(self) -> dict[str, str]:
        if self._query is None:
            try:
                self._query = first_values(parse_query(self.request.query))
            except Exception:  # the client already reported a bad query; variables see none
                self._query = {}
        return self._query


# ------------------------------------------------------------------------ templates


class Template:
    """A compiled parameter value: literal, one typed ``{{Var}}`` reference, or mixed text."""

    __slots__ = ("kind", "parts", "raw", "refs")

    def __init__(self, raw: Any):
        self.raw = raw
        self.refs: tuple[str, ...] = ()
        if isinstance(raw, str):
            pieces = REF.split(raw)
            if len(pieces) == 1:
                self.kind, self.parts = "literal", raw
            elif len(pieces) == 3 and pieces[0] == "" and pieces[2] == "":
                name = pieces[1].strip()
                self.kind, self.parts = "ref", name
                self.refs = (name,)
            else:
                self.kind = "mixed"
                self.parts = tuple(p if i % 2 == 0 else p.strip() for i, p in enumerate(pieces))
                self.refs = tuple(p.strip() for p in pieces[1::2])
        elif isinstance(raw, list):
            self.kind = "list"
            self.parts = [Template(item) for item in raw]
            self.refs = tuple(r for t in self.parts for r in t.refs)
        elif isinstance(raw, dict):
            self.kind = "dict"
            self.parts = {k: Template(v) for k, v in raw.items()}
            self.refs = tuple(r for t in self.parts.values() for r in t.refs)
        else:
            self.kind, self.parts = "literal", raw

    def evaluate(self, ctx: EventContext) -> Any:
        kind = self.kind
        if kind == "literal":
            return self.parts
        if kind == "ref":
            return ctx.get(self.parts)
        if kind == "mixed":
            return "".join(
                p if i % 2 == 0 else js.to_string(ctx.get(p)) for i, p in enumerate(self.parts)
            )
        if kind == "list":
            return [t.evaluate(ctx) for t in self.parts]
        return {k: t.evaluate(ctx) for k, t in self.parts.items()}

    @property
    def is_literal(self) -> bool:
        return not self.refs

    def __repr__(self) -> str:
        return f"Template({self.raw!r})"


# ------------------------------------------------------------------------ built-in variables


def _page_part(part: str) -> Callable[[EventContext], Any]:
    def read(ctx: EventContext) -> Any:
        location = ctx.event_data.get("page_location")
        if not isinstance(location, str) or not location:
            return UNDEFINED
        try:
            parts = urlsplit(location)
        except ValueError:
            return UNDEFINED
        if part == "path":
            return parts.path or "/"
        return parts.hostname or UNDEFINED

    return read


def _event_key(key: str) -> Callable[[EventContext], Any]:
    return lambda ctx: ctx.event_data.get(key, UNDEFINED)


def _visitor_region(ctx: EventContext) -> Any:
    loc = ctx.event_data.get("event_location")
    return loc.get("region", UNDEFINED) if isinstance(loc, dict) else UNDEFINED


# name in the UI -> (export type, reader)
_BUILTIN_TABLE: dict[str, tuple[str, Callable[[EventContext], Any]]] = {
    "Event Name": ("EVENT_NAME", _event_key("event_name")),
    "_event": ("EVENT_NAME", _event_key("event_name")),
    "Client Name": ("CLIENT_NAME", lambda c: c.client_name if c.client_name is not None else UNDEFINED),
    "Request Path": ("REQUEST_PATH", lambda c: c.request.path),
    "Request Method": ("REQUEST_METHOD", lambda c: c.request.method),
    "Request Host": ("REQUEST_HOST", lambda c: c.request.host or UNDEFINED),
    "Query String": ("QUERY_STRING", lambda c: c.request.query),
    "Page URL": ("SERVER_PAGE_LOCATION_URL", _event_key("page_location")),
    "Page Path": ("SERVER_PAGE_LOCATION_PATH", _page_part("path")),
    "Page Hostname": ("SERVER_PAGE_LOCATION_HOSTNAME", _page_part("hostname")),
    "Container ID": ("CONTAINER_ID", lambda c: c.info.container_id),
    "Container Version": ("CONTAINER_VERSION", lambda c: c.info.version),
    "Debug Mode": ("DEBUG_MODE", lambda c: c.info.debug_mode),
    "Environment Name": ("ENVIRONMENT_NAME", lambda c: c.info.environment_name),
    "Random Number": ("RANDOM_NUMBER", lambda c: c.rng.randint(0, 2147483647)),
    "Visitor Region": ("VISITOR_REGION", _visitor_region),
    "Analytics Client ID": ("ANALYTICS_CLIENT_ID", _event_key("client_id")),
    "Analytics Session ID": ("ANALYTICS_SESSION_ID", _event_key("ga_session_id")),
    "Analytics Session Number": ("ANALYTICS_SESSION_NUMBER", _event_key("ga_session_number")),
}

BUILTINS: dict[str, Callable[[EventContext], Any]] = {k: v[1] for k, v in _BUILTIN_TABLE.items()}
BUILTIN_NAME_BY_TYPE: dict[str, str] = {
    v[0]: k for k, v in _BUILTIN_TABLE.items() if not k.startswith("_")
}
BUILTINS_BY_TYPE: dict[str, Callable[[EventContext], Any]] = {
    t: BUILTINS[name] for t, name in BUILTIN_NAME_BY_TYPE.items()
}


def builtin_display_name(name: str) -> str:
    """``_event`` is shown as ``Event Name`` in traces."""
    return "Event Name" if name == "_event" else name


# ------------------------------------------------------------------------ user-defined variables


@dataclass
class FormatValue:
    case: str | None = None  # "lowercase" | "uppercase"
    null_to: Template | None = None
    undefined_to: Template | None = None
    true_to: Template | None = None
    false_to: Template | None = None

    def apply(self, value: Any, ctx: EventContext) -> Any:
        if value is None and self.null_to is not None:
            value = self.null_to.evaluate(ctx)
        elif value is UNDEFINED and self.undefined_to is not None:
            value = self.undefined_to.evaluate(ctx)
        elif value is True and self.true_to is not None:
            value = self.true_to.evaluate(ctx)
        elif value is False and self.false_to is not None:
            value = self.false_to.evaluate(ctx)
        if isinstance(value, str) and self.case:
            value = value.lower() if self.case == "lowercase" else value.upper()
        return value


class Variable:
    """A user-defined variable. Subclasses implement :meth:`compute`."""

    type: str = ""

    def __init__(self, name: str, format_value: FormatValue | None = None):
        self.name = name
        self.format_value = format_value

    def compute(self, ctx: EventContext) -> Any:
        raise NotImplementedError

    def resolve(self, ctx: EventContext) -> Any:
        value = self.compute(ctx)
        if self.format_value is not None:
            value = self.format_value.apply(value, ctx)
        return value

    def references(self) -> tuple[str, ...]:
        return ()


class EventDataVariable(Variable):
    type = "event_data"

    def __init__(self, name: str, key_path: str, default: Template | None = None, **kw: Any):
        super().__init__(name, **kw)
        self.key_path = key_path
        self._parts = split_path(key_path)
        self.default = default

    def compute(self, ctx: EventContext) -> Any:
        value = get_path(ctx.event_data, self._parts)
        if value is UNDEFINED and self.default is not None:
            return self.default.evaluate(ctx)
        return value

    def references(self) -> tuple[str, ...]:
        return self.default.refs if self.default else ()


class ConstantVariable(Variable):
    type = "constant"

    def __init__(self, name: str, value: Template, **kw: Any):
        super().__init__(name, **kw)
        self.value = value

    def compute(self, ctx: EventContext) -> Any:
        return self.value.evaluate(ctx)

    def references(self) -> tuple[str, ...]:
        return self.value.refs


class LookupTableVariable(Variable):
    type = "lookup_table"

    def __init__(
        self, name: str, input: Template, rows: list[tuple[str, Template]], default: Template | None = None,
        **kw: Any,
    ):
        super().__init__(name, **kw)
        self.input = input
        self.rows = rows
        self.table = {}
        for key, value in rows:
            self.table.setdefault(key, value)
        self.default = default

    def compute(self, ctx: EventContext) -> Any:
        key = js.to_string(self.input.evaluate(ctx))
        hit = self.table.get(key)
        if hit is not None:
            return hit.evaluate(ctx)
        return self.default.evaluate(ctx) if self.default is not None else UNDEFINED

    def references(self) -> tuple[str, ...]:
        refs = list(self.input.refs)
        for _, value in self.rows:
            refs.extend(value.refs)
        if self.default:
            refs.extend(self.default.refs)
        return tuple(refs)


class RegexTableVariable(Variable):
    type = "regex_table"

    def __init__(
        self, name: str, input: Template, rows: list[tuple[str, Template]], default: Template | None = None,
        full_matches_only: bool = True, replace_after_match: bool = True, ignore_case: bool = True, **kw: Any,
    ):
        super().__init__(name, **kw)
        from .regex import compile_pattern

        self.input = input
        self.default = default
        self.full_matches_only = full_matches_only
        self.replace_after_match = replace_after_match
        self.rows = []
        for pattern, value in rows:
            anchored = f"^(?:{pattern})$" if full_matches_only else pattern
            compiled, _error = compile_pattern(anchored, ignore_case)
            self.rows.append((pattern, compiled, value))

    def compute(self, ctx: EventContext) -> Any:
        text = js.to_string(self.input.evaluate(ctx))
        for _pattern, compiled, value in self.rows:
            if compiled is None:
                continue
            match = compiled.search(text)
            if match:
                out = value.evaluate(ctx)
                if self.replace_after_match and isinstance(out, str):
                    out = _substitute(out, match)
                    return text[: match.start()] + out + text[match.end():]
                return out
        return self.default.evaluate(ctx) if self.default is not None else UNDEFINED

    def references(self) -> tuple[str, ...]:
        refs = list(self.input.refs)
        for _, _, value in self.rows:
            refs.extend(value.refs)
        if self.default:
            refs.extend(self.default.refs)
        return tuple(refs)


def _substitute(template: str, match: Any) -> str:
    """``$1``… in a RegEx Table output, as JS ``String.replace`` does."""

    def repl(m: re.Match[str]) -> str:
        index = int(m.group(1))
        try:
            return match.group(index) or ""
        except IndexError:
            return m.group(0)

    return re.sub(r"\$(\d)", repl, template)


class CookieVariable(Variable):
    type = "cookie"

    def __init__(self, name: str, cookie_name: str, decode: bool = True, **kw: Any):
        super().__init__(name, **kw)
        self.cookie_name = cookie_name
        self.decode = decode

    def compute(self, ctx: EventContext) -> Any:
        values = ctx.request.cookie_values(self.cookie_name, decode=self.decode)
        return values[0] if values else UNDEFINED


class QueryParameterVariable(Variable):
    type = "query_parameter"

    def __init__(self, name: str, parameter: str, **kw: Any):
        super().__init__(name, **kw)
        self.parameter = parameter

    def compute(self, ctx: EventContext) -> Any:
        return ctx.query_params().get(self.parameter, UNDEFINED)


class RequestHeaderVariable(Variable):
    type = "request_header"

    def __init__(self, name: str, header: str, **kw: Any):
        super().__init__(name, **kw)
        self.header = header

    def compute(self, ctx: EventContext) -> Any:
        value = ctx.request.header(self.header)
        return UNDEFINED if value is None else value


VARIABLE_TYPES: dict[str, type[Variable]] = {
    cls.type: cls
    for cls in (
        EventDataVariable, ConstantVariable, LookupTableVariable, RegexTableVariable,
        CookieVariable, QueryParameterVariable, RequestHeaderVariable,
    )
}
