"""The container loader: turns a parsed container file into a :class:`~gtm_emulator.core.container.Container`.

:meth:`Loader.load` runs one step per section of the file (clients, variables, triggers, tags, then
the vendors); each step records every problem it finds with its JSON path and goes on, so that one
``validate`` run lists them all. The types a section may name come from :mod:`.registry`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..clients.base import Client
from ..core.container import ALL_EVENTS, ALL_EVENTS_ID, Container, SequenceStep, Settings, TagConfig
from ..core.graph import find_cycles
from ..core.triggers import Condition, ConditionError, Trigger, UnsupportedTrigger
from ..core.variables import BUILTINS, BUILTINS_BY_TYPE, RegexTableVariable, Template, Variable, find_variable_cycles
from ..errors import ConfigError, Problem
from ..vendors.transport import Transport
from . import registry
from .env import substitute_env
from .files import bundled_path, detect_kind, json_path, read_json, schema_problems, unique
from .tag_templates import BUNDLED_TEMPLATES, TagTemplate, load_tag_template
from .vendors import make_transport

__all__ = ["Loader"]

_TEMPLATE_KINDS = {"TAG": "tag", "MACRO": "variable", "CLIENT": "client"}
# A schema problem inside one entry of these lists: the entry is left out and the rest still checked.
_ENTRY_PATH = re.compile(r"^\$\.(clients|variables|tags)\[(\d+)\]")


class Loader:
    """Loads one container file. ``problems`` collects what is wrong; ``load`` raises them all at the end."""

    def __init__(self, file: str, base_dir: Path, env: Mapping[str, str]):
        self.file = file
        self.base_dir = base_dir
        self.env = env
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.secrets: set[str] = set()
        self.settings = Settings()
        self.variables: dict[str, Variable] = {}
        self.triggers: dict[str, Trigger] = {}
        self.trigger_ids: dict[str, str] = {}
        self._declarations: dict[str, TagTemplate] = {}
        self.broken_names: dict[str, set[str]] = {}  # section -> names of entries left out (schema problems)

    # ---------------------------------------------------------------- helpers for the sections and builders

    def problem(self, path: tuple[Any, ...], message: str, file: str | None = None) -> None:
        self.problems.append(Problem(file or self.file, json_path(path), message))

    def without_broken_entries(self, data: Any, problems: list[Problem]) -> dict[str, Any]:
        """The container without the clients, variables and tags that break the schema (each replaced by
        None, so the others keep their indexes), so that the other entries are still checked and every
        problem of the file is reported at once. The names of the left-out entries are remembered, so
        references to them are not reported as unknown. A problem outside one of those entries (a
        missing top-level key, a list that is not a list) stops here: ConfigError with the schema problems."""
        broken: dict[str, set[int]] = {}
        for problem in problems:
            match = _ENTRY_PATH.match(problem.path)
            if match is None or not isinstance(data, dict):
                raise ConfigError(problems + self.problems)
            broken.setdefault(match.group(1), set()).add(int(match.group(2)))
        self.problems.extend(problems)
        kept = dict(data)
        for section, indexes in broken.items():
            entries = data.get(section)
            if not isinstance(entries, list):
                raise ConfigError(self.problems)
            for index in indexes:
                name = entries[index].get("name") if isinstance(entries[index], dict) else None
                if isinstance(name, str):
                    self.broken_names.setdefault(section, set()).add(name)
            kept[section] = [None if i in indexes else e for i, e in enumerate(entries)]
        return kept

    def resolve(self, ref: str) -> tuple[Path, str]:
        path = Path(ref)
        if not path.is_absolute():
            path = (self.base_dir / path).resolve()
        return path, ref

    def check_refs(self, refs: tuple[str, ...], path: tuple[Any, ...], file: str | None = None) -> None:
        """Report every ``{{name}}`` that is neither a defined nor a built-in variable."""
        for ref in refs:
            if ref not in self.variables and ref not in BUILTINS and ref not in BUILTINS_BY_TYPE and \
                    ref not in self.broken_names.get("variables", ()):
                known = sorted(set(self.variables) | {b for b in BUILTINS if not b.startswith("_")})
                self.problem(path, f"unknown variable {{{{{ref}}}}}; defined and built-in variables: "
                                   f"{', '.join(known)}", file)

    def load_tpl(self, ref: str | None, path: tuple[Any, ...], expect: str) -> Any:
        """A ``.tpl`` template (sandboxed JavaScript), or None after recording the problems."""
        kind = _TEMPLATE_KINDS.get(expect, expect)
        if not ref:
            self.problem(path, f"a {kind} of type 'template' needs 'template': the .tpl file")
            return None
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
            self.problem(path, f"{ref!r} is a {_TEMPLATE_KINDS.get(template.type, template.type)} template, not a "
                               f"{kind} template")
            return None
        return template

    def check_fields(self, template: Any, values: Mapping[str, Any], path: tuple[Any, ...], what: str) -> None:
        """Report every key of ``values`` that is not a field of the ``.tpl`` template."""
        known = template.field_names()
        for name in values:
            if name not in known:
                self.problem((*path, name), f"unknown {what} {name!r}: the template {template.display_name!r} "
                                            f"has the fields {', '.join(sorted(known)) or '(none)'}")

    def trigger_name(self, ref: str) -> str | None:
        if ref in self.triggers:
            return ref
        if ref in self.trigger_ids:
            return self.trigger_ids[ref]
        if ref in (ALL_EVENTS, ALL_EVENTS_ID):
            return ALL_EVENTS
        return None

    def finish_tag(self, data: dict[str, Any], index: int, tag_type: str, impl: Any, params: dict[str, Any],
                   secret_params: frozenset[str]) -> TagConfig:
        """The tag's configuration: parameters compiled, trigger references resolved."""
        path = ("tags", index)
        compiled = {}
        for key, value in params.items():
            compiled[key] = Template(value)
            self.check_refs(compiled[key].refs, (*path, "parameters", key))
        firing: list[str] = []
        blocking: list[str] = []
        for role_key, out in (("firing_triggers", firing), ("blocking_triggers", blocking)):
            for tindex, ref in enumerate(data.get(role_key) or []):
                name = self.trigger_name(ref)
                if name is None and ref in self.broken_names.get("triggers", ()):
                    continue
                if name is None:
                    self.problem((*path, role_key, tindex), f"unknown trigger {ref!r}; defined triggers: "
                                 f"{', '.join(sorted(self.triggers)) or 'none'} (and the built-in {ALL_EVENTS!r})")
                else:
                    out.append(name)
        return TagConfig(
            name=data["name"], type=tag_type, impl=impl, params=compiled, firing_triggers=firing,
            blocking_triggers=blocking, priority=data.get("priority", 0), paused=data.get("paused", False),
            firing_option=data.get("firing_option", "once_per_event"),
            setup_tags=[SequenceStep(s["tag"], s.get("stop_on_failure", False)) for s in data.get("setup_tags", [])],
            teardown_tags=[SequenceStep(s["tag"], s.get("stop_on_failure", False))
                           for s in data.get("teardown_tags", [])],
            secret_params=secret_params, export_type=data.get("export_type"),
        )

    # ---------------------------------------------------------------- the container

    def load(self, raw: Any, vendor: str, transport: Transport | None, reuse: Container | None = None) -> Container:
        data = substitute_env(raw, self.env, self.file, self.problems, self.secrets)
        if detect_kind(data) == "gtm_export":
            raise ConfigError(Problem(self.file, "$", "this is a GTM container export; run it with `--gtm-export "
                                      "FILE` or convert it with `gtm-emulator import`"))
        problems = schema_problems("container", data, self.file)
        if problems:
            data = self.without_broken_entries(data, problems)
        self.settings = Settings(**(data.get("settings") or {}))
        clients = self.load_clients(data["clients"])
        self.load_variables(data.get("variables") or [])
        self.load_triggers(data.get("triggers") or [])
        tags = self.load_tags(data["tags"])
        transformations = self.load_transformations(data.get("transformations") or [], tags)
        self.connect_outside_world()
        if self.problems:
            raise ConfigError(unique(self.problems))
        transport, vendors = self.connect_vendors(data, vendor, transport, reuse, clients)
        container = Container(
            name=data["name"], clients=clients, tags=tags, triggers=self.triggers, variables=self.variables,
            container_id=data.get("container_id", "GTM-EMULATOR"), version=data.get("version", "0"),
            settings=self.settings, transport=transport, secrets=self.secrets, source=self.file, config=data,
            vendors=vendors, load_warnings=self.warnings, transformations=transformations,
        )
        for client in clients:  # client templates read the container's ID, modes, path prefix and variables
            if hasattr(client, "info"):
                client.info = container.info
            if hasattr(client, "variables"):
                client.variables = self.variables
        return container

    def load_clients(self, entries: list[dict[str, Any] | None]) -> list[Client]:
        clients: list[Client] = []
        seen: set[str] = set()
        for index, cdata in enumerate(entries):
            if cdata is None:  # left out: it breaks the schema (reported)
                continue
            is_template = cdata["type"] == "template" or str(cdata.get("template", "")).endswith(".tpl")
            kind = "template" if is_template else cdata["type"]
            build = registry.CLIENTS.get(kind)
            if build is None:
                self.problem(("clients", index, "type"), f"client type {cdata['type']!r} is not supported here")
                continue
            if cdata["name"] in seen:
                self.problem(("clients", index, "name"), f"duplicate client name {cdata['name']!r}")
            seen.add(cdata["name"])
            client = build(self, cdata, index)
            if client is not None:
                clients.append(client)
        return clients

    def load_variables(self, entries: list[dict[str, Any] | None]) -> None:
        variables = self.variables
        for index, vdata in enumerate(entries):
            if vdata is None:  # left out: it breaks the schema (reported)
                continue
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
        for index, vdata in enumerate(entries):
            if vdata is None:
                continue
            variable = variables.get(vdata["name"])
            if variable is not None:
                self.check_refs(variable.references(), ("variables", index))
            if isinstance(variable, RegexTableVariable):
                for row_index, (pattern, compiled, _value) in enumerate(variable.rows):
                    if compiled is None:
                        self.problem(("variables", index, "rows", row_index, "pattern"),
                                     f"invalid RE2 pattern {pattern!r}")
        index_of = {v["name"]: i for i, v in enumerate(entries) if v is not None}
        for cycle in find_variable_cycles(variables):
            self.problem(("variables", index_of[cycle[0]]), "variable cycle: " + " -> ".join(cycle))

    def build_variable(self, data: dict[str, Any]) -> Variable:
        build = registry.VARIABLES.get(data["type"])
        if build is None:
            raise ConfigError(Problem(self.file, "$", f"variable type {data['type']!r} is not supported yet"))
        return build(self, data)

    def load_triggers(self, entries: list[Any]) -> None:
        for index, entry in enumerate(entries):
            if isinstance(entry, str):
                tdata, tfile = self.load_trigger_file(entry)
                tpath: tuple[Any, ...] = ()
            else:
                tdata, tfile, tpath = entry, self.file, ("triggers", index)
                problems = schema_problems("trigger", entry, self.file)
                self.problems.extend(Problem(p.file, json_path(tpath) + p.path[1:], p.message) for p in problems)
                if problems and not isinstance(entry.get("name"), str):
                    tdata = None
            if tdata is None:
                continue
            trigger = self.build_trigger(tdata, tfile, tpath, check_refs=True)
            if trigger.name in self.triggers or trigger.name == ALL_EVENTS:
                self.problem((*tpath, "name"), f"duplicate trigger name {trigger.name!r}", tfile)
            self.triggers[trigger.name] = trigger
        self.trigger_ids = {t.id: t.name for t in self.triggers.values() if t.id}

    def build_trigger(self, data: dict[str, Any], file: str, path: tuple[Any, ...], check_refs: bool = False
                      ) -> Trigger:
        if data.get("unsupported_type"):
            return UnsupportedTrigger(str(data.get("name", "")), str(data["unsupported_type"]), id=data.get("id"))
        conditions = []
        raw_conditions = data.get("conditions")
        for index, cond in enumerate(raw_conditions if isinstance(raw_conditions, list) else []):
            if not isinstance(cond, dict) or not {"variable", "operator", "value"} <= cond.keys():
                continue  # the schema check has reported it
            where = (*path, "conditions", index)
            try:
                condition = Condition.from_config(cond)
            except ConditionError as exc:
                self.problem((*where, "operator"), str(exc), file)
                continue
            if condition.regex_error:
                self.problem((*where, "value"), condition.regex_error, file)
            for warning in condition.warnings:
                self.warnings.append(f"{file}: {json_path(where)}: {warning}")
            if check_refs:
                self.check_refs(condition.left.refs, (*where, "variable"), file)
                self.check_refs(condition.value.refs, (*where, "value"), file)
            conditions.append(condition)
        return Trigger(name=str(data.get("name", "")), conditions=conditions, id=data.get("id"))

    def load_trigger_file(self, ref: str) -> tuple[dict[str, Any] | None, str]:
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

    def load_tags(self, entries: list[dict[str, Any] | None]) -> list[TagConfig]:
        tags: list[TagConfig] = []
        for index, tdata in enumerate(entries):
            if tdata is None:  # left out: it breaks the schema (reported)
                continue
            tag = self.build_tag(tdata, index)
            if tag is not None:
                if any(t.name == tag.name for t in tags):
                    self.problem(("tags", index, "name"), f"duplicate tag name {tag.name!r}")
                tags.append(tag)
        self.check_sequences(tags, entries)
        return tags

    def build_tag(self, tdata: dict[str, Any], index: int) -> TagConfig | None:
        path = ("tags", index)
        if tdata.get("type") == "template" or str(tdata.get("template", "")).endswith(".tpl"):
            return registry.TAGS.get("template")(self, tdata, index, None)  # type: ignore[misc]
        declaration = self.tag_declaration(tdata, index)
        if tdata.get("template") and declaration is None:
            return None
        tag_type = tdata.get("type") or (declaration.tag_type if declaration else "")
        if declaration and tdata.get("type") and tdata["type"] != declaration.tag_type:
            self.problem((*path, "type"), f"type {tdata['type']!r} does not match the template's tag_type "
                                          f"{declaration.tag_type!r}")
        build = registry.TAGS.get(tag_type)
        if build is None:
            self.problem((*path, "type"), f"unknown tag type {tag_type!r}; known types: "
                                          f"{', '.join(registry.TAGS.names())}")
            return None
        return build(self, tdata, index, declaration)

    def tag_declaration(self, tdata: dict[str, Any], index: int) -> TagTemplate | None:
        """The tag's JSON declaration: its ``template`` file, or the one bundled for its type."""
        ref = tdata.get("template")
        if ref is None:
            bundled = BUNDLED_TEMPLATES.get(tdata.get("type", ""))
            if bundled is None:
                return None
            path, display = bundled_path(*bundled.split("/")), bundled
        else:
            path, display = self.resolve(ref)
        key = str(path)
        if key not in self._declarations:
            try:
                self._declarations[key] = load_tag_template(path, display)
            except ConfigError as exc:
                if ref is not None and any(p.message == "file not found" for p in exc.problems):
                    self.problem(("tags", index, "template"), f"tag template file {ref!r} not found")
                else:
                    self.problems.extend(exc.problems)
                return None
        return self._declarations[key]

    def check_sequences(self, tags: list[TagConfig], raw: list[dict[str, Any] | None]) -> None:
        by_name = {t.name: t for t in tags}
        index_of = {t["name"]: i for i, t in enumerate(raw) if t is not None}
        for tag in tags:
            for key, steps in (("setup_tags", tag.setup_tags), ("teardown_tags", tag.teardown_tags)):
                for sindex, step in enumerate(steps):
                    if step.tag in self.broken_names.get("tags", ()):
                        continue  # it exists, with problems of its own
                    if step.tag not in by_name:
                        self.problem(("tags", index_of[tag.name], key, sindex, "tag"), f"unknown tag {step.tag!r}")
                    elif step.tag == tag.name:
                        self.problem(("tags", index_of[tag.name], key, sindex, "tag"), "a tag cannot sequence itself")
        edges = {t.name: [s.tag for s in (*t.setup_tags, *t.teardown_tags)] for t in tags}
        for cycle in find_cycles(edges):
            self.problem(("tags", index_of[cycle[0]]), "tag sequencing cycle: " + " -> ".join(cycle))

    def load_transformations(self, entries: list[dict[str, Any]], tags: list[TagConfig]) -> list[Any]:
        from ..core.transformations import Transformation

        names = {t.name for t in tags}
        out = []
        for index, tdata in enumerate(entries):
            path = ("transformations", index)
            try:
                transformation = Transformation.from_config(tdata)
            except (ConditionError, KeyError, TypeError, ValueError) as exc:
                self.problem(path, f"transformation cannot be built: {exc}")
                continue
            for tag_name in sorted(transformation.affected_tags - names):
                self.problem((*path, "affected_tags"), f"unknown tag {tag_name!r}")
            self.check_refs(transformation.references, path)
            if transformation.kind == "unsupported":
                self.warnings.append(f"{self.file}: {json_path(path)}: transformation {transformation.name!r} of "
                                     f"type {tdata.get('export_type', '?')!r} is not emulated; it changes nothing")
            out.append(transformation)
        return out

    def connect_outside_world(self) -> None:
        """Firestore Lookup variables get the documents of ``firestore_file``; Visitor Region variables
        the ``visitor_region`` default."""
        from ..core import server_variables as sv

        store = None
        if self.settings.firestore_file:
            path = Path(self.settings.firestore_file)
            try:
                store = sv.FirestoreStore.from_file(path if path.is_absolute() else self.base_dir / path)
            except ConfigError as exc:
                self.problems.extend(exc.problems)
        for variable in self.variables.values():
            if isinstance(variable, sv.FirestoreLookupVariable):
                variable.store = store
            elif isinstance(variable, sv.VisitorRegionVariable):
                variable.default = self.settings.visitor_region

    def connect_vendors(self, data: dict[str, Any], vendor: str, transport: Transport | None,
                        reuse: Container | None, clients: list[Client]) -> tuple[Transport, dict[str, Any]]:
        """The transport and mock vendors; template variables and clients send through it too."""
        vendors: dict[str, Any] = {}
        mock_cfg = (data.get("mock_vendors") or {}).get("tiktok") or {}
        if reuse is not None:
            transport, vendors = reuse.transport, reuse.vendors
            mock = vendors.get("tiktok")
            if mock is not None:
                for code, tokens in (mock_cfg.get("pixels") or {}).items():
                    mock.pixels.setdefault(code, set()).update(tokens)
        elif transport is None:
            transport, vendors = make_transport(vendor, mock_cfg)
        for user in (*self.variables.values(), *clients):
            if hasattr(user, "transport"):
                user.transport = transport
        return transport, vendors
