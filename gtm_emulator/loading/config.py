"""Loading and validating configuration: containers, triggers and tag templates (JSON).

Every problem is reported with the file, the JSON path and the rule broken, and all problems of a
file set are collected before :class:`ConfigError` is raised, so one ``validate`` run lists them
all. Strings (and object keys) may hold ``${ENV_NAME}`` or ``${ENV_NAME:-default}``. A value
substituted from a variable whose name says it is a secret (TOKEN, SECRET, KEY, PASSWORD, AUTH…)
is masked in every report; so is every value of a tag parameter that its template marks secret.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from ..clients.base import Client
from ..clients.ga4 import GA4Client
from ..clients.measurement_protocol import MeasurementProtocolClient
from ..core.clock import run_now
from ..core.container import ALL_EVENTS, ALL_EVENTS_ID, Container, SequenceStep, Settings, TagConfig
from ..core.triggers import Condition, ConditionError, Trigger
from ..core.variables import (
    BUILTINS,
    BUILTINS_BY_TYPE,
    ConstantVariable,
    CookieVariable,
    EventDataVariable,
    FormatValue,
    LookupTableVariable,
    QueryParameterVariable,
    RegexTableVariable,
    RequestHeaderVariable,
    Template,
    Variable,
)
from ..errors import ConfigError, Problem
from ..tags import base as tag_base
from ..tags import tiktok as _tiktok  # noqa: F401  (registers the tag type)
from ..vendors.tiktok_mock import HOST as TIKTOK_HOST
from ..vendors.tiktok_mock import TikTokMock
from ..vendors.transport import LiveTransport, MockTransport, RecordingTransport, Transport

CLIENT_TYPES: dict[str, type[Client]] = {"ga4": GA4Client, "measurement_protocol": MeasurementProtocolClient}
VENDOR_MODES = ("mock", "live", "record")
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# ${ENV} values whose variable name says it holds a secret are masked in every report.
SECRET_ENV_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|AUTH|CREDENTIAL", re.IGNORECASE)

# Tag types whose template declaration ships with the project (used when a tag names only a type).
BUNDLED_TEMPLATES = {"tiktok_events_api": "tag_templates/tiktok_events_api.json"}


# ----------------------------------------------------------------------------- bundled files


def bundled_path(*parts: str) -> Path:
    """A file that ships with the project: inside the installed package, or in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    for base in (package / "bundled", package.parent):
        candidate = base.joinpath(*parts)
        if candidate.exists():
            return candidate
    raise FileNotFoundError("/".join(parts))


def default_container_path() -> Path:
    return bundled_path("containers", "default.json")


@cache
def schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in ``gtm_emulator/schemas`` (``container``, ``trigger``, ``tag_template``)."""
    text = resources.files("gtm_emulator.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(name))


# ----------------------------------------------------------------------------- helpers


def json_path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if re.fullmatch(r"[A-Za-z_$][\w$]*", str(part))
                                                         else f"[{json.dumps(part)}]")
    return out


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)
        return f"{error.instance!r} is not allowed; expected one of: {allowed}"
    if error.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        return f"missing required key {missing.group(1)!r}" if missing else error.message
    if error.validator == "additionalProperties":
        extra = re.findall(r"'([^']+)'", error.message.split("(")[-1])
        return f"unknown key{'s' if len(extra) > 1 else ''} {', '.join(repr(e) for e in extra)}"
    if error.validator == "anyOf" and isinstance(error.instance, dict) and "name" in error.instance:
        return "a tag needs a 'type' or a 'template'"
    if error.validator == "type":
        return f"{error.instance!r} is not of type {error.validator_value}"
    return error.message


def schema_problems(name: str, data: Any, file: str) -> list[Problem]:
    """Every violation of the named schema, with its JSON path."""
    problems = []
    for error in sorted(_validator(name).iter_errors(data), key=lambda e: list(e.absolute_path)):
        problems.append(Problem(file, json_path(error.absolute_path), _schema_message(error)))
    return problems


def read_json(path: Path, display: str | None = None) -> Any:
    """Parse a JSON file; a syntax error names the line and column."""
    name = display or str(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(Problem(name, "$", "file not found")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(Problem(name, "$", f"cannot read file: {exc}")) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(Problem(name, "$", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")) \
            from None


def substitute_env(data: Any, env: Mapping[str, str], file: str, problems: list[Problem],
                   secrets: set[str], path: tuple[Any, ...] = ()) -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string (object keys included)."""
    if isinstance(data, str):
        if "${" not in data:
            return data

        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            value = env.get(name)
            if value is None:
                if default is None:
                    problems.append(Problem(file, json_path(path), f"environment variable {name} is not set "
                                            f"(write ${{{name}:-default}} to give a default)"))
                    return ""
                value = default
            if SECRET_ENV_NAME.search(name):
                secrets.add(value)
            return value

        return ENV_REF.sub(repl, data)
    if isinstance(data, dict):
        return {substitute_env(k, env, file, problems, secrets, (*path, k)): substitute_env(
                    v, env, file, problems, secrets, (*path, k)) for k, v in data.items()}
    if isinstance(data, list):
        return [substitute_env(v, env, file, problems, secrets, (*path, i)) for i, v in enumerate(data)]
    return data


def unique(problems: list[Problem]) -> list[Problem]:
    """One problem per (file, JSON path): the first one found (the schema's) is kept."""
    seen: set[tuple[str, str]] = set()
    out = []
    for problem in problems:
        key = (problem.file, problem.path)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


def detect_kind(data: Any) -> str:
    """Which kind of file a parsed JSON document is."""
    if isinstance(data, dict):
        if "exportFormatVersion" in data:
            return "gtm_export"
        if "fires_on" in data or ("conditions" in data and "tags" not in data):
            return "trigger"
        if "tag_type" in data:
            return "tag_template"
        if "tags" in data or "clients" in data:
            return "container"
    return "unknown"


# ----------------------------------------------------------------------------- the loader


@dataclass
class TagTemplate:
    """A tag template declaration (``tag_templates/*.json``)."""

    id: str
    tag_type: str
    parameters: list[dict[str, Any]]
    file: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def by_name(self) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in self.parameters if p["type"] not in ("group", "label")}

    @property
    def secret_params(self) -> frozenset[str]:
        return frozenset(p["name"] for p in self.parameters if p.get("secret"))


def load_tag_template(path: Path, display: str | None = None) -> TagTemplate:
    name = display or str(path)
    data = read_json(path, name)
    problems = schema_problems("tag_template", data, name)
    if problems:
        raise ConfigError(problems)
    return TagTemplate(id=data["id"], tag_type=data["tag_type"], parameters=data["parameters"], file=name, data=data)


def _enabled(param: dict[str, Any], values: Mapping[str, Any]) -> bool:
    for other, allowed in (param.get("enabled_when") or {}).items():
        if values.get(other) not in allowed:
            return False
    return True


def check_tag_parameters(template: TagTemplate, params: dict[str, Any], file: str, base: tuple[Any, ...]
                         ) -> tuple[dict[str, Any], list[Problem]]:
    """Apply the template's defaults and validate the tag's parameters against its declaration."""
    problems: list[Problem] = []
    declared = template.by_name
    values = dict(params)
    for name, param in declared.items():
        if name not in values and "default" in param:
            values[name] = param["default"]
    for name in params:
        if name not in declared:
            close = [d for d in declared if d.lower().replace("_", "") == name.lower().replace("_", "")]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(Problem(file, json_path((*base, name)),
                                    f"unknown parameter {name!r} for template {template.id!r}{hint}"))
    for name, param in declared.items():
        if not _enabled(param, values):
            continue
        value = values.get(name)
        where = json_path((*base, name))
        label = param.get("label", name)
        if param.get("required") and (value is None or (isinstance(value, str) and not value.strip())):
            problems.append(Problem(file, where, f"{label} is required ({name!r} is missing or empty)"))
            continue
        if value is None:
            continue
        has_ref = isinstance(value, str) and "{{" in value
        if param["type"] == "select" and param.get("options") and not has_ref:
            allowed = [o["value"] for o in param["options"]]
            if value not in allowed:
                problems.append(Problem(file, where, f"{value!r} is not an option of {label}; "
                                                     f"expected one of: {', '.join(map(str, allowed))}"))
        if param.get("pattern") and isinstance(value, str) and not has_ref and value:
            if not re.fullmatch(param["pattern"], value):
                message = param.get("pattern_message") or f"does not match {param['pattern']}"
                problems.append(Problem(file, where, f"{label}: {message} (got {value!r})"))
        if param["type"] == "checkbox" and not isinstance(value, bool) and not has_ref:
            problems.append(Problem(file, where, f"{label} must be true or false"))
        if param["type"] == "table" and not isinstance(value, list):
            problems.append(Problem(file, where, f"{label} must be a list of rows"))
    return values, problems


class _Loader:
    def __init__(self, file: str, base_dir: Path, env: Mapping[str, str]):
        self.file = file
        self.base_dir = base_dir
        self.env = env
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.secrets: set[str] = set()

    def problem(self, path: tuple[Any, ...], message: str, file: str | None = None) -> None:
        self.problems.append(Problem(file or self.file, json_path(path), message))

    def resolve(self, ref: str) -> tuple[Path, str]:
        path = Path(ref)
        if not path.is_absolute():
            path = (self.base_dir / path).resolve()
        return path, ref

    # ---------------------------------------------------------------- pieces

    def build_variable(self, data: dict[str, Any]) -> Variable:
        format_value = FormatValue.from_config(data.get("format_value"))
        name, kind = data["name"], data["type"]
        default = Template(data["default_value"]) if "default_value" in data else None
        if kind == "event_data":
            return EventDataVariable(name, data["key_path"], default=default, format_value=format_value)
        if kind == "constant":
            return ConstantVariable(name, Template(data["value"]), format_value=format_value)
        if kind == "lookup_table":
            rows = [(str(r["key"]), Template(r["value"])) for r in data["rows"]]
            return LookupTableVariable(name, Template(data["input"]), rows, default, format_value=format_value)
        if kind == "regex_table":
            rows = [(r["pattern"], Template(r["value"])) for r in data["rows"]]
            return RegexTableVariable(
                name, Template(data["input"]), rows, default,
                full_matches_only=data.get("full_matches_only", True),
                replace_after_match=data.get("replace_after_match", True),
                ignore_case=data.get("ignore_case", True), format_value=format_value,
            )
        if kind == "cookie":
            return CookieVariable(name, data["cookie_name"], data.get("decode", True), format_value=format_value)
        if kind == "query_parameter":
            return QueryParameterVariable(name, data["parameter"], format_value=format_value)
        if kind == "request_header":
            return RequestHeaderVariable(name, data["header"], format_value=format_value)
        if kind == "template":
            template = self.load_tpl(data["template"], ("variables",), expect="MACRO")
            if template is None:
                raise ConfigError([])
            from ..sandbox.variables import TemplateVariable

            params = {k: Template(v) for k, v in (data.get("parameters") or {}).items()}
            return TemplateVariable(name, template, params, format_value=format_value)
        raise ConfigError(Problem(self.file, "$", f"variable type {kind!r} is not supported yet"))

    def build_trigger(self, data: dict[str, Any], file: str, path: tuple[Any, ...],
                      variables: Mapping[str, Variable] | None = None) -> Trigger | None:
        conditions = []
        raw_conditions = data.get("conditions")
        for index, cond in enumerate(raw_conditions if isinstance(raw_conditions, list) else []):
            if not isinstance(cond, dict) or not {"variable", "operator", "value"} <= cond.keys():
                continue  # the schema check has reported it
            try:
                condition = Condition.from_config(cond)
            except ConditionError as exc:
                self.problem((*path, "conditions", index, "operator"), str(exc), file)
                continue
            if condition.regex_error:
                self.problem((*path, "conditions", index, "value"), condition.regex_error, file)
            for warning in condition.warnings:
                self.warnings.append(f"{file}: {json_path((*path, 'conditions', index))}: {warning}")
            if variables is not None:
                self.check_refs(condition.left.refs, (*path, "conditions", index, "variable"), variables, file)
                self.check_refs(condition.value.refs, (*path, "conditions", index, "value"), variables, file)
            conditions.append(condition)
        return Trigger(name=str(data.get("name", "")), conditions=conditions, id=data.get("id"))

    def load_trigger_file(self, ref: str, path: tuple[Any, ...]) -> tuple[dict[str, Any] | None, str]:
        file_path, display = self.resolve(ref)
        try:
            data = read_json(file_path, display)
        except ConfigError as exc:
            self.problems.extend(exc.problems)
            return None, display
        data = substitute_env(data, self.env, display, self.problems, self.secrets)
        problems = schema_problems("trigger", data, display)
        self.problems.extend(problems)
        if problems and not (isinstance(data, dict) and isinstance(data.get("name"), str)):
            return None, display
        return data, display  # built even with schema problems, so that every problem is reported

    def load_tpl(self, ref: str, path: tuple[Any, ...], expect: str) -> Any:
        """A ``.tpl`` template (sandboxed JavaScript), or None after recording the problems."""
        from ..sandbox import load_template

        file_path, display = self.resolve(ref)
        try:
            template = load_template(file_path, display)
        except FileNotFoundError:
            self.problem(path, f"template file {ref!r} not found")
            return None
        except ConfigError as exc:
            self.problems.extend(exc.problems)
            return None
        if template.type != expect:
            kinds = {"TAG": "tag", "MACRO": "variable", "CLIENT": "client"}
            self.problem(path, f"{ref!r} is a {kinds.get(template.type, template.type)} template, not a "
                               f"{kinds.get(expect, expect)} template")
            return None
        return template

    def build_template_client(self, cdata: dict[str, Any], index: int, seen: set[str]) -> Client | None:
        """A client running a ``.tpl`` client template in the JavaScript sandbox."""
        if cdata["name"] in seen:
            self.problem(("clients", index, "name"), f"duplicate client name {cdata['name']!r}")
        seen.add(cdata["name"])
        ref = cdata.get("template")
        if not ref:
            self.problem(("clients", index, "template"), "a client of type 'template' needs 'template': the .tpl file")
            return None
        template = self.load_tpl(ref, ("clients", index, "template"), expect="CLIENT")
        if template is None:
            return None
        from ..clients.template_client import TemplateClient

        settings = cdata.get("settings") or {}
        known = template.field_names()
        for name in settings:
            if name not in known:
                self.problem(("clients", index, "settings", name), f"unknown setting {name!r}: the template "
                             f"{template.display_name!r} has the fields {', '.join(sorted(known)) or '(none)'}")
        return TemplateClient(cdata["name"], cdata.get("priority", 0), settings, template=template)

    # ---------------------------------------------------------------- the container

    def load(self, raw: Any, vendor: str, transport: Transport | None, reuse: Container | None = None) -> Container:
        data = substitute_env(raw, self.env, self.file, self.problems, self.secrets)
        if detect_kind(data) == "gtm_export":
            raise ConfigError(Problem(self.file, "$", "this is a GTM container export; run it with `--gtm-export "
                                      "FILE` or convert it with `gtm-emulator import`"))
        problems = schema_problems("container", data, self.file)
        if problems:
            raise ConfigError(problems + self.problems)

        settings = Settings(**(data.get("settings") or {}))

        # clients
        clients: list[Client] = []
        seen_clients: set[str] = set()
        for index, cdata in enumerate(data["clients"]):
            if cdata["type"] == "template" or str(cdata.get("template", "")).endswith(".tpl"):
                client = self.build_template_client(cdata, index, seen_clients)
                if client is not None:
                    clients.append(client)
                continue
            cls = CLIENT_TYPES.get(cdata["type"])
            if cls is None:
                self.problem(("clients", index, "type"), f"client type {cdata['type']!r} is not supported here")
                continue
            if cdata["name"] in seen_clients:
                self.problem(("clients", index, "name"), f"duplicate client name {cdata['name']!r}")
            seen_clients.add(cdata["name"])
            setting_problems = cls.check_settings(cdata.get("settings") or {})
            for key, message in setting_problems:
                self.problem(("clients", index, "settings", key), message)
            if setting_problems:
                continue
            try:
                clients.append(cls(cdata["name"], cdata.get("priority", 0), cdata.get("settings") or {}))
            except ConfigError as exc:
                for problem in exc.problems:
                    self.problem(("clients", index, "settings"), problem.message)

        # variables
        variables: dict[str, Variable] = {}
        for index, vdata in enumerate(data.get("variables") or []):
            name = vdata["name"]
            if name in variables:
                self.problem(("variables", index, "name"), f"duplicate variable name {name!r}")
            if name in BUILTINS:
                self.problem(("variables", index, "name"), f"{name!r} is the name of a built-in variable")
            try:
                variables[name] = self.build_variable(vdata)
            except ConfigError as exc:
                self.problems.extend(Problem(p.file, json_path(("variables", index, "type")), p.message)
                                     for p in exc.problems)
        for index, vdata in enumerate(data.get("variables") or []):
            variable = variables.get(vdata["name"])
            if variable is not None:
                self.check_refs(variable.references(), ("variables", index), variables)
            if isinstance(variable, RegexTableVariable):
                for row_index, (pattern, compiled, _value) in enumerate(variable.rows):
                    if compiled is None:
                        self.problem(("variables", index, "rows", row_index, "pattern"),
                                     f"invalid RE2 pattern {pattern!r}")
        self.check_cycles(variables, data.get("variables") or [])

        # triggers
        triggers: dict[str, Trigger] = {}
        for index, entry in enumerate(data.get("triggers") or []):
            if isinstance(entry, str):
                tdata, tfile = self.load_trigger_file(entry, ("triggers", index))
                tpath: tuple[Any, ...] = ()
            else:
                tdata, tfile, tpath = entry, self.file, ("triggers", index)
                problems = schema_problems("trigger", entry, self.file)
                self.problems.extend(Problem(p.file, json_path(tpath) + p.path[1:], p.message) for p in problems)
                if problems and not isinstance(entry.get("name"), str):
                    tdata = None
            if tdata is None:
                continue
            trigger = self.build_trigger(tdata, tfile, tpath, variables)
            if trigger is None:
                continue
            if trigger.name in triggers or trigger.name == ALL_EVENTS:
                self.problem((*tpath, "name"), f"duplicate trigger name {trigger.name!r}", tfile)
            triggers[trigger.name] = trigger
        trigger_ids = {t.id: t.name for t in triggers.values() if t.id}

        # tags
        tags: list[TagConfig] = []
        templates_cache: dict[str, TagTemplate] = {}
        for index, tdata in enumerate(data["tags"]):
            tag = self.build_tag(tdata, index, variables, triggers, trigger_ids, templates_cache, settings)
            if tag is not None:
                if any(t.name == tag.name for t in tags):
                    self.problem(("tags", index, "name"), f"duplicate tag name {tag.name!r}")
                tags.append(tag)
        self.check_sequences(tags, data["tags"])

        vendors: dict[str, Any] = {}
        mock_cfg = (data.get("mock_vendors") or {}).get("tiktok") or {}
        if self.problems:
            raise ConfigError(unique(self.problems))

        if reuse is not None:
            transport, vendors = reuse.transport, reuse.vendors
            mock = vendors.get("tiktok")
            if mock is not None:
                for code, tokens in (mock_cfg.get("pixels") or {}).items():
                    mock.pixels.setdefault(code, set()).update(tokens)
        elif transport is None:
            transport, vendors = make_transport(vendor, mock_cfg)
        for user in (*variables.values(), *clients):  # template variables and clients send through it too
            if hasattr(user, "transport"):
                user.transport = transport
        container = Container(
            name=data["name"], clients=clients, tags=tags, triggers=triggers, variables=variables,
            container_id=data.get("container_id", "GTM-EMULATOR"), version=data.get("version", "0"),
            settings=settings, transport=transport, secrets=self.secrets, source=self.file, config=data,
            vendors=vendors, load_warnings=self.warnings,
        )
        for client in clients:  # client templates read the container's ID, modes and path prefix
            if hasattr(client, "info"):
                client.info = container.info
        return container

    def check_refs(self, refs: tuple[str, ...], path: tuple[Any, ...], variables: Mapping[str, Variable],
                   file: str | None = None) -> None:
        for ref in refs:
            if ref not in variables and ref not in BUILTINS and ref not in BUILTINS_BY_TYPE:
                known = sorted(set(variables) | {b for b in BUILTINS if not b.startswith("_")})
                self.problem(path, f"unknown variable {{{{{ref}}}}}; defined and built-in variables: "
                                   f"{', '.join(known)}", file)

    def check_cycles(self, variables: Mapping[str, Variable], raw: list[dict[str, Any]]) -> None:
        index_of = {v["name"]: i for i, v in enumerate(raw)}
        state: dict[str, int] = {}

        def visit(name: str, chain: list[str]) -> None:
            if state.get(name) == 2 or name not in variables:
                return
            if state.get(name) == 1:
                cycle = [*chain[chain.index(name):], name]
                self.problem(("variables", index_of[name]), "variable cycle: " + " -> ".join(cycle))
                return
            state[name] = 1
            for ref in variables[name].references():
                visit(ref, [*chain, name])
            state[name] = 2

        for name in variables:
            visit(name, [])

    def tag_template_for(self, tdata: dict[str, Any], index: int, cache: dict[str, TagTemplate]
                         ) -> TagTemplate | None:
        ref = tdata.get("template")
        if ref is None:
            bundled = BUNDLED_TEMPLATES.get(tdata.get("type", ""))
            if bundled is None:
                return None
            path, display = bundled_path(*bundled.split("/")), bundled
        else:
            path, display = self.resolve(ref)
        key = str(path)
        if key not in cache:
            try:
                cache[key] = load_tag_template(path, display)
            except ConfigError as exc:
                if ref is not None and any(p.message == "file not found" for p in exc.problems):
                    self.problem(("tags", index, "template"), f"tag template file {ref!r} not found")
                else:
                    self.problems.extend(exc.problems)
                return None
        return cache[key]

    def build_tag(self, tdata: dict[str, Any], index: int, variables: Mapping[str, Variable],
                  triggers: Mapping[str, Trigger], trigger_ids: Mapping[str, str],
                  cache: dict[str, TagTemplate], settings: Settings) -> TagConfig | None:
        path = ("tags", index)
        if tdata.get("type") == "template" or str(tdata.get("template", "")).endswith(".tpl"):
            return self.build_template_tag(tdata, index, variables, triggers, trigger_ids)
        template = self.tag_template_for(tdata, index, cache)
        if tdata.get("template") and template is None:
            return None
        tag_type = tdata.get("type") or (template.tag_type if template else "")
        if template and tdata.get("type") and tdata["type"] != template.tag_type:
            self.problem((*path, "type"), f"type {tdata['type']!r} does not match the template's tag_type "
                                          f"{template.tag_type!r}")
        impl: Any
        if tag_type in tag_base.TAG_TYPES:
            impl = tag_base.TAG_TYPES[tag_type]()
        elif tag_type in tag_base.GOOGLE_TAG_TYPES:
            impl = tag_base.NotEmulatedTag(tag_type, fail=settings.not_emulated_tags_fail)
        else:
            known = sorted(set(tag_base.TAG_TYPES) | set(tag_base.GOOGLE_TAG_TYPES))
            self.problem((*path, "type"), f"unknown tag type {tag_type!r}; known types: {', '.join(known)}")
            return None
        params = dict(tdata.get("parameters") or {})
        secret_params = set(getattr(impl, "secret_params", frozenset()))
        if template is not None:
            params, problems = check_tag_parameters(template, params, self.file, (*path, "parameters"))
            self.problems.extend(problems)
            secret_params |= template.secret_params
        return self.finish_tag(tdata, index, tag_type, impl, params, frozenset(secret_params), variables, triggers,
                               trigger_ids)

    def build_template_tag(self, tdata: dict[str, Any], index: int, variables: Mapping[str, Variable],
                           triggers: Mapping[str, Trigger], trigger_ids: Mapping[str, str]) -> TagConfig | None:
        """A tag running a ``.tpl`` tag template in the JavaScript sandbox."""
        ref = tdata.get("template")
        if not ref:
            self.problem(("tags", index, "template"), "a tag of type 'template' needs 'template': the .tpl file")
            return None
        template = self.load_tpl(ref, ("tags", index, "template"), expect="TAG")
        if template is None:
            return None
        from ..tags.template_tag import TemplateTag, referenced_defaults

        params = dict(tdata.get("parameters") or {})  # missing fields take their defaultValue at run time
        known = template.field_names()
        for name in params:
            if name not in known:
                self.problem(("tags", index, "parameters", name), f"unknown parameter {name!r}: the template "
                             f"{template.display_name!r} has the fields {', '.join(sorted(known)) or '(none)'}")
        # a default that refers to variables ({{Event Name}}) is resolved per event, as GTM resolves field text
        for name, default in referenced_defaults(template).items():
            params.setdefault(name, default)
        return self.finish_tag(tdata, index, "template", TemplateTag(template), params, frozenset(), variables,
                               triggers, trigger_ids)

    def finish_tag(self, tdata: dict[str, Any], index: int, tag_type: str, impl: Any, params: dict[str, Any],
                   secret_params: frozenset[str], variables: Mapping[str, Variable],
                   triggers: Mapping[str, Trigger], trigger_ids: Mapping[str, str]) -> TagConfig:
        path = ("tags", index)
        compiled = {}
        for key, value in params.items():
            compiled[key] = Template(value)
            self.check_refs(compiled[key].refs, (*path, "parameters", key), variables)
        firing: list[str] = []
        blocking: list[str] = []
        for role_key, out in (("firing_triggers", firing), ("blocking_triggers", blocking)):
            for tindex, ref in enumerate(tdata.get(role_key) or []):
                name = self.trigger_name(ref, triggers, trigger_ids)
                if name is None:
                    self.problem((*path, role_key, tindex), f"unknown trigger {ref!r}; defined triggers: "
                                 f"{', '.join(sorted(triggers)) or 'none'} (and the built-in {ALL_EVENTS!r})")
                else:
                    out.append(name)
        return TagConfig(
            name=tdata["name"], type=tag_type, impl=impl, params=compiled, firing_triggers=firing,
            blocking_triggers=blocking, priority=tdata.get("priority", 0), paused=tdata.get("paused", False),
            firing_option=tdata.get("firing_option", "once_per_event"),
            setup_tags=[SequenceStep(s["tag"], s.get("stop_on_failure", False)) for s in tdata.get("setup_tags", [])],
            teardown_tags=[SequenceStep(s["tag"], s.get("stop_on_failure", False))
                           for s in tdata.get("teardown_tags", [])],
            secret_params=secret_params,
        )

    @staticmethod
    def trigger_name(ref: str, triggers: Mapping[str, Trigger], ids: Mapping[str, str]) -> str | None:
        if ref in triggers:
            return ref
        if ref in ids:
            return ids[ref]
        if ref in (ALL_EVENTS, ALL_EVENTS_ID):
            return ALL_EVENTS
        return None

    def check_sequences(self, tags: list[TagConfig], raw: list[dict[str, Any]]) -> None:
        by_name = {t.name: t for t in tags}
        index_of = {t["name"]: i for i, t in enumerate(raw)}
        for tag in tags:
            for key, steps in (("setup_tags", tag.setup_tags), ("teardown_tags", tag.teardown_tags)):
                for sindex, step in enumerate(steps):
                    if step.tag not in by_name:
                        self.problem(("tags", index_of[tag.name], key, sindex, "tag"), f"unknown tag {step.tag!r}")
                    elif step.tag == tag.name:
                        self.problem(("tags", index_of[tag.name], key, sindex, "tag"), "a tag cannot sequence itself")
        state: dict[str, int] = {}

        def visit(name: str, chain: list[str]) -> None:
            if state.get(name) == 2 or name not in by_name:
                return
            if state.get(name) == 1:
                cycle = [*chain[chain.index(name):], name]
                self.problem(("tags", index_of[name]), "tag sequencing cycle: " + " -> ".join(cycle))
                return
            state[name] = 1
            tag = by_name[name]
            for step in (*tag.setup_tags, *tag.teardown_tags):
                visit(step.tag, [*chain, name])
            state[name] = 2

        for tag in tags:
            visit(tag.name, [])


def make_transport(vendor: str, tiktok_config: Mapping[str, Any] | None = None,
                   mock_base_url: str | None = None) -> tuple[Transport, dict[str, Any]]:
    """The transport for a vendor mode, and the in-process mock vendors it talks to."""
    if vendor == "mock":
        mock = TikTokMock.from_config(tiktok_config or {})
        mock.clock = run_now
        transport = MockTransport()
        transport.mount(TIKTOK_HOST, mock.handle)
        return transport, {"tiktok": mock}
    if vendor == "record":
        return RecordingTransport(), {}
    if vendor == "live":
        rewrite = {f"https://{TIKTOK_HOST}": mock_base_url} if mock_base_url else None
        return LiveTransport(allowed_hosts=[TIKTOK_HOST], rewrite=rewrite), {}
    raise ConfigError(Problem("--vendor", "$", f"unknown vendor mode {vendor!r}; expected one of: "
                                               f"{', '.join(VENDOR_MODES)}"))


def load_container(
    source: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    vendor: str = "mock",
    transport: Transport | None = None,
    env: Mapping[str, str] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
    reuse: Container | None = None,
) -> Container:
    """Load and validate a container (a path, or a dict); None loads the bundled default container.

    ``vendor`` is ``mock`` (the in-process mock TikTok API, the default), ``live`` (TikTok itself) or
    ``record`` (nothing is sent; calls are recorded). ``reuse`` keeps the transport and mock vendors
    of a container already running (their state survives a reload; the new file's mock pixels and
    tokens are added). Raises :class:`ConfigError` listing every problem with its file and JSON path.
    """
    env = os.environ if env is None else env
    if source is None:
        source = default_container_path()
    if isinstance(source, Mapping):
        loader = _Loader("<container>", Path(base_dir or "."), env)
        return loader.load(dict(source), vendor, transport, reuse)
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigError(Problem("<container>", "$", f"a container is a JSON object or a file path, "
                                                      f"not {type(source).__name__}"))
    path = Path(source)
    raw = read_json(path, str(source))
    loader = _Loader(str(source), Path(base_dir) if base_dir else path.resolve().parent, env)
    return loader.load(raw, vendor, transport, reuse)


def load_gtm_export(
    path: str | os.PathLike[str], *, vendor: str = "mock", transport: Transport | None = None,
    env: Mapping[str, str] | None = None, keep_templates: bool = False,
) -> Container:
    """Run a GTM server-container export directly: converted in memory, its custom templates
    written to a temporary folder that lives as long as the container. The conversion's warnings
    are in ``container.load_warnings``, its notes (which TikTok tags run natively, which as their
    template) in ``container.load_notes``; ``keep_templates`` runs the TikTok gallery templates
    themselves instead of the native tag."""
    import shutil
    import tempfile
    import weakref

    from .gtm_export import convert, load_export

    files: dict[str, str] = {}
    notes: list[str] = []
    native, warnings = convert(load_export(path), str(path), template_files=files, keep_templates=keep_templates,
                               notes=notes)
    folder = tempfile.mkdtemp(prefix="gtm-emulator-export-")
    try:
        for rel, text in files.items():
            target = Path(folder) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        container = load_container(native, vendor=vendor, transport=transport, env=env, base_dir=folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    weakref.finalize(container, shutil.rmtree, folder, True)  # removed with the container
    container.source = str(path)
    container.load_warnings = list(warnings) + container.load_warnings
    container.load_notes = notes
    return container


def validate_file(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> list[Problem]:
    """Every problem of one container, trigger, tag-template, ``.tpl`` or GTM export file (empty when valid)."""
    display = str(path)
    env = os.environ if env is None else env
    if str(path).endswith(".tpl"):
        from ..sandbox import validate_template

        try:
            text = Path(path).read_text("utf-8-sig")
        except OSError as exc:
            return [Problem(display, "$", f"cannot read file: {exc.strerror or exc}")]
        return validate_template(text, display)
    try:
        data = read_json(Path(path), display)
    except ConfigError as exc:
        return exc.problems
    kind = detect_kind(data)
    if kind == "container":
        try:
            load_container(path, env=env, transport=RecordingTransport())
        except ConfigError as exc:
            return exc.problems
        return []
    if kind == "trigger":
        loader = _Loader(display, Path(path).resolve().parent, env)
        problems = schema_problems("trigger", data, display)
        if isinstance(data, dict):
            loader.build_trigger(data, display, ())
        return unique(problems + loader.problems)
    if kind == "tag_template":
        return schema_problems("tag_template", data, display)
    if kind == "gtm_export":
        try:
            load_gtm_export(path, env=env, transport=RecordingTransport())
        except ConfigError as exc:
            return exc.problems
        return []
    return [Problem(display, "$", "not a container, trigger or tag-template file (no 'tags', 'fires_on' or "
                                  "'tag_type' key)")]
