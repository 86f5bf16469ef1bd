"""Variables: built-in and user-defined, resolved lazily per event, and ``{{Var}}`` templates.

Resolution (docs/triggers.md, "Variables"): a variable is resolved on first use in an event and cached for the
rest of that event (a Random Number is the same everywhere in one event); every value resolved
through :meth:`EventContext.get` is listed in ``EventContext.resolved``, the event's variable view.

Interpolation (docs/triggers.md, "{{Variable}} references"): a parameter whose whole value is one ``{{Var}}``
gets the variable's typed
value; mixed text gets each reference through JS ``String()`` and concatenated. An unknown name
resolves to undefined at run time and leaves a warning in ``EventContext.warnings``.

A user-defined variable wins over a built-in of the same name (a server container may define its
own ``Page Path`` when the built-in is not enabled). Names in GTM are unique, so this order only
matters for hand-made configs.

Choices where the spec is uncertain (each a named constant or a parameter, easy to change):

- ``FORMAT_ORDER``: special-value replacements first, then case conversion (strings only).
- ``REGEX_TABLE_DEFAULTS``: RegEx Table defaults copied from the web UI (full matches only,
  replace after match, ignore case: all true).
- RegEx Table output with "replace after match" follows JS ``String.prototype.replace`` with a
  non-global pattern: only the first match is replaced and ``$1``, ``$&``, ``$$``, ``$``` and ``$'``
  are substituted.
- ``REQUEST_HOST`` uses ``X-Forwarded-Host``, else ``Host``, without the port.
- ``Container Version`` returns the configured version ID (not ``QUICK_PREVIEW``).
- Event Data key paths: an array step must be a canonical decimal index (``0``, ``12``; not
  ``01`` or ``-1``), as a JS property lookup on an array would require. A step into a string,
  number or boolean gives undefined.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..errors import RequestError, VariableCycleError
from . import graph, js
from .event_data import get_path, split_path
from .js import UNDEFINED
from .regex import compile_pattern, search_text
from .request import Request, first_values, parse_query

__all__ = [
    "BUILTINS",
    "BUILTIN_NAME_BY_API",
    "BUILTIN_NAME_BY_TYPE",
    "FORMAT_ORDER",
    "REGEX_TABLE_DEFAULTS",
    "Builtin",
    "ConstantVariable",
    "ContainerInfo",
    "CookieVariable",
    "EventContext",
    "EventDataVariable",
    "FormatValue",
    "LookupTableVariable",
    "QueryParameterVariable",
    "RegexTableVariable",
    "RequestHeaderVariable",
    "Template",
    "Variable",
    "VariableCycleError",
    "builtin_display_name",
    "builtin_name",
    "find_variable_cycles",
]

REF = re.compile(r"\{\{([^{}]+?)\}\}")

# Format Value: "replacements first, then case conversion" (docs/triggers.md, "Format Value"; the order is uncertain).
# Swap to ("case", "replace") to convert the case of the original value only.
FORMAT_ORDER: tuple[str, ...] = ("replace", "case")

# RegEx Table defaults (web UI values; uncertain for server).
REGEX_TABLE_DEFAULTS = {"full_matches_only": True, "replace_after_match": True, "ignore_case": True}

# ------------------------------------------------------------------------ the event context


@dataclass
class ContainerInfo:
    """What the container tells its variables about itself."""

    container_id: str = "GTM-EMULATOR"
    version: str = "0"
    environment_name: str = ""
    debug_mode: bool = True
    preview_mode: bool = True
    path_prefix: str = ""  # server-container path prefix, removed from Request Path
    client_types: dict[str, str] = field(default_factory=dict)  # client name -> client type


_MISSING: Any = object()


class EventContext:
    """Everything a variable, condition or tag may read for one event.

    ``EventContext(event_data, request, client_name, variables, info, now, rng)``. ``info`` and
    ``rng`` are created on first use when not given (a fresh context costs little, since the
    runtime makes one per event). ``resolved`` is the per-event cache and variable view;
    ``warnings`` collects what the report should show (unknown variables, cycles).
    """

    __slots__ = ("_info", "_query", "_rng", "_stack", "client_name", "event_data", "now", "request",
                 "resolved", "response", "variables", "warnings")

    def __init__(
        self,
        event_data: dict[str, Any],
        request: Request,
        client_name: str | None,
        variables: Mapping[str, Variable] | None = None,
        info: ContainerInfo | None = None,
        now: float = 0.0,
        rng: random.Random | None = None,
        resolved: dict[str, Any] | None = None,
        warnings: list[str] | None = None,
    ):
        self.event_data = event_data
        self.request = request
        self.client_name = client_name
        self.variables = variables if variables is not None else {}
        self._info = info
        self.now = now
        self._rng = rng
        self.resolved: dict[str, Any] = {} if resolved is None else resolved
        self.warnings: list[str] = [] if warnings is None else warnings
        self._stack: list[str] | None = None
        self._query: dict[str, str] | None = None
        self.response: Any = None  # the response of the request, when the event runs in a container

    @property
    def info(self) -> ContainerInfo:
        if self._info is None:
            self._info = ContainerInfo()
        return self._info

    @info.setter
    def info(self, value: ContainerInfo) -> None:
        self._info = value

    @property
    def rng(self) -> random.Random:
        if self._rng is None:
            self._rng = random.Random()
        return self._rng

    @rng.setter
    def rng(self, value: random.Random) -> None:
        self._rng = value

    def __repr__(self) -> str:
        return f"EventContext(client_name={self.client_name!r}, event_data={self.event_data!r})"

    def get(self, name: str) -> Any:
        """The value of the variable called ``name`` (cached for this event).

        Raises :class:`VariableCycleError` when ``name`` is already being resolved further up.
        """
        resolved = self.resolved
        value = resolved.get(name, _MISSING)
        if value is not _MISSING:
            return value
        variable = self.variables.get(name)
        if variable is None:
            builtin = BUILTINS.get(name) or BUILTINS_BY_TYPE.get(name)
            if builtin is None:
                self.warnings.append(f"unknown variable {{{{{name}}}}} resolved to undefined")
                resolved[name] = UNDEFINED
                return UNDEFINED
            value = builtin(self)
        else:
            stack = self._stack
            if stack is None:
                stack = self._stack = []
            if name in stack:
                raise VariableCycleError([*stack[stack.index(name):], name])
            stack.append(name)
            try:
                value = variable.resolve(self)
            finally:
                stack.pop()
        resolved[name] = value
        return value

    def query_params(self) -> dict[str, str]:
        """First value of each query parameter of the incoming request, decoded."""
        if self._query is None:
            try:
                self._query = first_values(parse_query(self.request.query))
            except RequestError:  # the client already reported a bad query; variables see none
                self._query = {}
        return self._query


# ------------------------------------------------------------------------ templates


class Template:
    """A compiled parameter value: literal, one typed ``{{Var}}`` reference, or mixed text.

    >>> Template("order-{{Transaction ID}}").refs
    ('Transaction ID',)
    >>> Template("GA4").is_literal
    True
    """

    __slots__ = ("kind", "parts", "raw", "refs")

    def __init__(self, raw: Any):
        self.raw = raw
        self.refs: tuple[str, ...] = ()
        self.parts: Any
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
        elif isinstance(raw, (list, tuple)):
            self.kind = "list"
            self.parts = [Template(item) for item in raw]
            self.refs = tuple(r for t in self.parts for r in t.refs)
            if not self.refs:
                self.kind, self.parts = "literal", raw
        elif isinstance(raw, dict):
            self.kind = "dict"
            self.parts = {k: Template(v) for k, v in raw.items()}
            self.refs = tuple(r for t in self.parts.values() for r in t.refs)
            if not self.refs:
                self.kind, self.parts = "literal", raw
        else:
            self.kind, self.parts = "literal", raw

    @classmethod
    def of(cls, value: Any) -> Template:
        """``value`` if it is already a Template, else a new Template of it."""
        return value if isinstance(value, Template) else cls(value)

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

    @property
    def ref(self) -> str | None:
        """The variable name when the whole value is one reference, else None."""
        return self.parts if self.kind == "ref" else None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Template) and type(self.raw) is type(other.raw) and self.raw == other.raw

    def __hash__(self) -> int:
        return hash(repr(self.raw))

    def __repr__(self) -> str:
        return f"Template({self.raw!r})"


# ------------------------------------------------------------------------ built-in variables


@dataclass(frozen=True)
class Builtin:
    """One built-in variable of a server container (docs/triggers.md, "Built-in variables").

    ``pure`` built-ins are functions of the event context alone, so reading one twice gives the
    same value; the trigger engine may read them directly. ``event_key`` names the event-data key
    a built-in returns unchanged, when it does.
    """

    name: str
    export_type: str
    api_name: str
    read: Callable[[EventContext], Any]
    pure: bool = True
    event_key: str | None = None


def _page_part(part: str) -> Callable[[EventContext], Any]:
    def read(ctx: EventContext) -> Any:
        location = ctx.event_data.get("page_location")
        if not isinstance(location, str) or not location:
            return UNDEFINED
        try:
            parts = urlsplit(location)
            hostname = parts.hostname
        except ValueError:
            return UNDEFINED
        if not parts.scheme or not parts.netloc:
            return UNDEFINED  # not an absolute URL: JS `new URL()` would throw
        if part == "path":
            return parts.path or "/"
        return hostname or UNDEFINED

    return read


def _event_key(key: str) -> Callable[[EventContext], Any]:
    def read(ctx: EventContext) -> Any:
        return ctx.event_data.get(key, UNDEFINED)

    return read


def _visitor_region(ctx: EventContext) -> Any:
    loc = ctx.event_data.get("event_location")
    return loc.get("region", UNDEFINED) if isinstance(loc, dict) else UNDEFINED


def _client_name(ctx: EventContext) -> Any:
    return ctx.client_name if ctx.client_name is not None else UNDEFINED


def strip_path_prefix(path: str, prefix: str) -> str:
    """The request path without the server container's URL path prefix (``/analytics/g/collect`` ->
    ``/g/collect`` for the prefix ``/analytics``). A path outside the prefix is returned unchanged;
    the prefix itself becomes ``/``."""
    prefix = prefix.rstrip("/")
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        return path[len(prefix):] or "/"
    return path


def _request_path(ctx: EventContext) -> Any:
    return strip_path_prefix(ctx.request.path, ctx.info.path_prefix)


def _request_host(ctx: EventContext) -> Any:
    return ctx.request.host or UNDEFINED


def _random_number(ctx: EventContext) -> Any:
    return ctx.rng.randint(0, 2147483647)


def _event(name: str, export: str, api: str, key: str) -> Builtin:
    return Builtin(name, export, api, _event_key(key), event_key=key)


_BUILTIN_LIST: tuple[Builtin, ...] = (
    _event("Event Name", "EVENT_NAME", "eventName", "event_name"),
    Builtin("Client Name", "CLIENT_NAME", "clientName", _client_name),
    Builtin("Request Path", "REQUEST_PATH", "requestPath", _request_path),
    Builtin("Request Method", "REQUEST_METHOD", "requestMethod", lambda c: c.request.method),
    Builtin("Request Host", "REQUEST_HOST", "requestHost", _request_host),
    Builtin("Query String", "QUERY_STRING", "queryString", lambda c: c.request.query),
    _event("Page URL", "SERVER_PAGE_LOCATION_URL", "serverPageLocationUrl", "page_location"),
    Builtin("Page Path", "SERVER_PAGE_LOCATION_PATH", "serverPageLocationPath", _page_part("path")),
    Builtin("Page Hostname", "SERVER_PAGE_LOCATION_HOSTNAME", "serverPageLocationHostname",
            _page_part("hostname")),
    Builtin("Container ID", "CONTAINER_ID", "containerId", lambda c: c.info.container_id),
    Builtin("Container Version", "CONTAINER_VERSION", "containerVersion", lambda c: c.info.version),
    Builtin("Debug Mode", "DEBUG_MODE", "debugMode", lambda c: c.info.debug_mode),
    Builtin("Environment Name", "ENVIRONMENT_NAME", "environmentName", lambda c: c.info.environment_name),
    Builtin("Random Number", "RANDOM_NUMBER", "randomNumber", _random_number, pure=False),
    Builtin("Visitor Region", "VISITOR_REGION", "visitorRegion", _visitor_region),
    _event("Analytics Client ID", "ANALYTICS_CLIENT_ID", "analyticsClientId", "client_id"),
    _event("Analytics Session ID", "ANALYTICS_SESSION_ID", "analyticsSessionId", "ga_session_id"),
    _event("Analytics Session Number", "ANALYTICS_SESSION_NUMBER", "analyticsSessionNumber", "ga_session_number"),
)

# `{{_event}}` appears in exports' customEventFilter; it reads event_name and shows as Event Name.
_EVENT_ALIAS = Builtin("_event", "EVENT_NAME", "eventName", _event_key("event_name"), event_key="event_name")

BUILTIN_SPECS: dict[str, Builtin] = {b.name: b for b in (*_BUILTIN_LIST, _EVENT_ALIAS)}
BUILTINS: dict[str, Callable[[EventContext], Any]] = {k: b.read for k, b in BUILTIN_SPECS.items()}
BUILTIN_NAME_BY_TYPE: dict[str, str] = {b.export_type: b.name for b in _BUILTIN_LIST}
BUILTIN_NAME_BY_API: dict[str, str] = {b.api_name: b.name for b in _BUILTIN_LIST}
BUILTINS_BY_TYPE: dict[str, Callable[[EventContext], Any]] = {
    t: BUILTINS[name] for t, name in BUILTIN_NAME_BY_TYPE.items()
}


def builtin_name(spelling: str) -> str | None:
    """The UI name of a built-in given its UI name, export type or API enum; None if unknown.

    >>> builtin_name("CLIENT_NAME"), builtin_name("clientName"), builtin_name("Client Name")
    ('Client Name', 'Client Name', 'Client Name')
    """
    if spelling in BUILTIN_SPECS and not spelling.startswith("_"):
        return spelling
    return BUILTIN_NAME_BY_TYPE.get(spelling) or BUILTIN_NAME_BY_API.get(spelling)


def builtin_display_name(name: str) -> str:
    """``_event`` is shown as ``Event Name`` in traces."""
    return "Event Name" if name == "_event" else name


# ------------------------------------------------------------------------ user-defined variables


def _optional_template(value: Any) -> Template | None:
    return None if value is None else Template.of(value)


def _param_value(value: Any) -> Any:
    """An export member written either as a parameter object or as a plain value."""
    if isinstance(value, dict) and "type" in value:
        return value.get("value", "")
    return value


class FormatValue:
    """``formatValue`` (docs/triggers.md, "Format Value"): special-value replacements, then case conversion.

    >>> FormatValue(case="lowercase", undefined_to="(none)").apply(UNDEFINED, None)
    '(none)'
    """

    __slots__ = ("case", "false_to", "null_to", "true_to", "undefined_to")

    def __init__(
        self,
        case: str | None = None,
        null_to: Any = None,
        undefined_to: Any = None,
        true_to: Any = None,
        false_to: Any = None,
    ):
        if case is not None:
            case = case.lower()
            if case in ("", "none"):
                case = None
            elif case not in ("lowercase", "uppercase"):
                raise ValueError(f"unknown case conversion {case!r}; expected lowercase or uppercase")
        self.case = case
        self.null_to = _optional_template(null_to)
        self.undefined_to = _optional_template(undefined_to)
        self.true_to = _optional_template(true_to)
        self.false_to = _optional_template(false_to)

    @classmethod
    def from_config(cls, obj: Mapping[str, Any] | None) -> FormatValue | None:
        """Native (``case``, ``null_to``...) or export (``caseConversionType``, ``convertNullToValue``...)
        form; None when nothing is set."""
        if not obj:
            return None
        fv = cls(
            case=obj.get("case", obj.get("caseConversionType")),
            null_to=_param_value(obj.get("null_to", obj.get("convertNullToValue"))),
            undefined_to=_param_value(obj.get("undefined_to", obj.get("convertUndefinedToValue"))),
            true_to=_param_value(obj.get("true_to", obj.get("convertTrueToValue"))),
            false_to=_param_value(obj.get("false_to", obj.get("convertFalseToValue"))),
        )
        return fv

    def to_config(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.case:
            out["case"] = self.case
        for key in ("null_to", "undefined_to", "true_to", "false_to"):
            template = getattr(self, key)
            if template is not None:
                out[key] = template.raw
        return out

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(r for t in (self.null_to, self.undefined_to, self.true_to, self.false_to) if t for r in t.refs)

    def apply(self, value: Any, ctx: EventContext | None) -> Any:
        for step in FORMAT_ORDER:
            value = self._replace(value, ctx) if step == "replace" else self._case(value)
        return value

    def _case(self, value: Any) -> Any:
        if self.case and isinstance(value, str):
            return value.lower() if self.case == "lowercase" else value.upper()
        return value

    def _replace(self, value: Any, ctx: EventContext | None) -> Any:
        replacement = None
        if value is None:
            replacement = self.null_to
        elif value is UNDEFINED:
            replacement = self.undefined_to
        elif value is True:
            replacement = self.true_to
        elif value is False:
            replacement = self.false_to
        if replacement is None:
            return value
        if ctx is None:
            if not replacement.is_literal:
                raise ValueError("a replacement with {{references}} needs an event context")
            return replacement.raw
        return replacement.evaluate(ctx)

    def __repr__(self) -> str:
        return f"FormatValue({self.to_config()!r})"


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
        """Names of the variables this one reads (for reference checks and cycle detection)."""
        own = self._own_references()
        return own + self.format_value.refs if self.format_value is not None else own

    def _own_references(self) -> tuple[str, ...]:
        return ()

    def problems(self) -> list[str]:
        """Configuration problems (for example an invalid RE2 pattern); empty when fine."""
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def _refs(*templates: Template | None) -> tuple[str, ...]:
    return tuple(r for t in templates if t is not None for r in t.refs)


class EventDataVariable(Variable):
    """Event Data (``ed``): the value at a dotted key path; ``default`` when it is undefined.

    The key path may itself contain ``{{references}}`` (it is a TEMPLATE in GTM).
    """

    type = "event_data"

    def __init__(self, name: str, key_path: str, default: Any = None, **kw: Any):
        super().__init__(name, **kw)
        self.key_path = key_path
        self._path = Template(key_path)
        self._parts = split_path(key_path) if self._path.is_literal else None
        self.default = _optional_template(default)

    def compute(self, ctx: EventContext) -> Any:
        parts = self._parts
        if parts is None:
            parts = split_path(js.to_string(self._path.evaluate(ctx)))
        value = get_path(ctx.event_data, parts)
        if value is UNDEFINED and self.default is not None:
            return self.default.evaluate(ctx)
        return value

    def _own_references(self) -> tuple[str, ...]:
        return _refs(self._path, self.default)


class ConstantVariable(Variable):
    """Constant (``c``): the interpolated value."""

    type = "constant"

    def __init__(self, name: str, value: Any, **kw: Any):
        super().__init__(name, **kw)
        self.value = Template.of(value)

    def compute(self, ctx: EventContext) -> Any:
        return self.value.evaluate(ctx)

    def _own_references(self) -> tuple[str, ...]:
        return self.value.refs


class LookupTableVariable(Variable):
    """Lookup Table (``smm``): ``String(input)`` compared exactly with each key, first hit wins."""

    type = "lookup_table"

    def __init__(
        self, name: str, input: Any, rows: Iterable[tuple[Any, Any]], default: Any = None, **kw: Any,
    ):
        super().__init__(name, **kw)
        self.input = Template.of(input)
        self.rows: list[tuple[Template, Template]] = [(Template.of(k), Template.of(v)) for k, v in rows]
        self.default = _optional_template(default)
        # Literal keys go into a dict (first occurrence wins); keys with references are tried in order.
        self._static = all(k.is_literal for k, _ in self.rows)
        self.table: dict[str, Template] = {}
        if self._static:
            for key, value in self.rows:
                self.table.setdefault(js.to_string(key.raw), value)

    def compute(self, ctx: EventContext) -> Any:
        text = js.to_string(self.input.evaluate(ctx))
        if self._static:
            hit = self.table.get(text)
        else:
            hit = next((v for k, v in self.rows if js.to_string(k.evaluate(ctx)) == text), None)
        if hit is not None:
            return hit.evaluate(ctx)
        return self.default.evaluate(ctx) if self.default is not None else UNDEFINED

    def _own_references(self) -> tuple[str, ...]:
        return _refs(self.input, *(t for row in self.rows for t in row), self.default)


class RegexTableVariable(Variable):
    """RegEx Table (``remm``): RE2 patterns tried in order on ``String(input)``; first hit wins."""

    type = "regex_table"

    def __init__(
        self, name: str, input: Any, rows: Iterable[tuple[str, Any]], default: Any = None,
        full_matches_only: bool = REGEX_TABLE_DEFAULTS["full_matches_only"],
        replace_after_match: bool = REGEX_TABLE_DEFAULTS["replace_after_match"],
        ignore_case: bool = REGEX_TABLE_DEFAULTS["ignore_case"], **kw: Any,
    ):
        super().__init__(name, **kw)
        self.input = Template.of(input)
        self.default = _optional_template(default)
        self.full_matches_only = full_matches_only
        self.replace_after_match = replace_after_match
        self.ignore_case = ignore_case
        self.rows: list[tuple[str, Any, Template]] = []
        self.errors: list[str] = []
        for pattern, value in rows:
            anchored = f"^(?:{pattern})$" if full_matches_only else pattern
            compiled, error = compile_pattern(pattern, ignore_case)
            if compiled is not None:
                compiled, error = compile_pattern(anchored, ignore_case)
            if error:
                self.errors.append(f"row {len(self.rows)}: {error}")
            self.rows.append((pattern, compiled, Template.of(value)))

    def compute(self, ctx: EventContext) -> Any:
        text = js.to_string(self.input.evaluate(ctx))
        for _pattern, compiled, value in self.rows:
            if compiled is None:
                continue
            match = search_text(compiled, text)
            if match is not None:
                out = value.evaluate(ctx)
                if self.replace_after_match:
                    start, end = match.span()
                    groups = [match.group(i) for i in range(compiled.groups + 1)]
                    replacement = js_replacement(js.to_string(out), groups, text, start, end)
                    return text[:start] + replacement + text[end:]
                return out
        return self.default.evaluate(ctx) if self.default is not None else UNDEFINED

    def problems(self) -> list[str]:
        return list(self.errors)

    def _own_references(self) -> tuple[str, ...]:
        return _refs(self.input, *(v for _, _, v in self.rows), self.default)


def js_replacement(template: str, groups: list[str | None], text: str, start: int, end: int) -> str:
    """Expand a JS ``String.prototype.replace`` replacement string.

    ``groups[0]`` is the whole match. ``$$`` → ``$``; ``$&`` → the match; ``$``` → text before it;
    ``$'`` → text after it; ``$n`` / ``$nn`` → group n (empty when it did not take part); a ``$``
    that starts none of these stays as it is.

    >>> js_replacement("[$1|$2|$$|$&]", ["ab", "a", None], "xaby", 1, 3)
    '[a||$|ab]'
    """
    out: list[str] = []
    count = len(groups) - 1
    i, n = 0, len(template)
    while i < n:
        ch = template[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "&":
            out.append(groups[0] or "")
            i += 2
        elif nxt == "`":
            out.append(text[:start])
            i += 2
        elif nxt == "'":
            out.append(text[end:])
            i += 2
        elif "0" <= nxt <= "9":
            two = template[i + 1:i + 3]
            if len(two) == 2 and two.isdigit() and two.isascii() and 1 <= int(two) <= count:
                out.append(groups[int(two)] or "")
                i += 3
            elif 1 <= int(nxt) <= count:
                out.append(groups[int(nxt)] or "")
                i += 2
            else:
                out.append("$")
                i += 1
        else:
            out.append("$")
            i += 1
    return "".join(out)


class CookieVariable(Variable):
    """Cookie Value: the first value of the request cookie, percent-decoded when ``decode``."""

    type = "cookie"

    def __init__(self, name: str, cookie_name: str, decode: bool = True, **kw: Any):
        super().__init__(name, **kw)
        self.cookie_name = cookie_name
        self.decode = decode

    def compute(self, ctx: EventContext) -> Any:
        values = ctx.request.cookie_values(self.cookie_name, decode=self.decode)
        return values[0] if values else UNDEFINED


class QueryParameterVariable(Variable):
    """Query Parameter: the first value of that parameter of the incoming request, decoded."""

    type = "query_parameter"

    def __init__(self, name: str, parameter: str, **kw: Any):
        super().__init__(name, **kw)
        self.parameter = parameter

    def compute(self, ctx: EventContext) -> Any:
        return ctx.query_params().get(self.parameter, UNDEFINED)


class RequestHeaderVariable(Variable):
    """Request Header: ``getRequestHeader`` (case-insensitive name, repeats joined with ``", "``)."""

    type = "request_header"

    def __init__(self, name: str, header: str, **kw: Any):
        super().__init__(name, **kw)
        self.header = header

    def compute(self, ctx: EventContext) -> Any:
        value = ctx.request.header(self.header)
        return UNDEFINED if value is None else value


def find_variable_cycles(variables: Mapping[str, Variable]) -> list[list[str]]:
    """Every reference cycle between user-defined variables, each as ``[a, b, ..., a]``.

    Used at load time so that ``validate`` reports cycles; at run time a cycle raises
    :class:`VariableCycleError` instead of recursing forever.

    >>> a = ConstantVariable("A", "{{B}}"); b = ConstantVariable("B", "x{{A}}")
    >>> find_variable_cycles({"A": a, "B": b})
    [['A', 'B', 'A']]
    """
    return graph.find_cycles({name: variable.references() for name, variable in variables.items()})
