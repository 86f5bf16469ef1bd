"""Tag template declarations (``tag_templates/*.json``): the parameters a tag type takes.

A declaration lists each parameter with its type, default, whether it is required or secret, and
when it is enabled (``enabled_when``); :func:`check_tag_parameters` applies the defaults and checks
a tag's parameters against it (see docs/configuration.md, "Tag templates").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Problem
from .files import json_path, read_json, schema_problems

__all__ = ["BUNDLED_TEMPLATES", "TagTemplate", "check_tag_parameters", "load_tag_template", "param_enabled"]

# Tag types whose template declaration ships with the project (used when a tag names only a type).
BUNDLED_TEMPLATES = {"tiktok_events_api": "tag_templates/tiktok_events_api.json"}


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


def param_enabled(param: Mapping[str, Any], values: Mapping[str, Any]) -> bool:
    """Whether a declared parameter is enabled by the values of the others (its ``enabled_when``).

    >>> param_enabled({"enabled_when": {"mode": ["a", "b"]}}, {"mode": "c"})
    False
    """
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
        if not param_enabled(param, values):
            continue
        value = values.get(name)
        where = json_path((*base, name))
        label = param.get("label", name)
        if param.get("required") and (value is None or (isinstance(value, str) and not value.strip())):
            problems.append(Problem(file, where, f"{label} is required ({name!r} is missing or empty)"))
            continue
        if value is None:
            continue
        problems.extend(Problem(file, where, message) for message in _value_problems(param, label, value))
    return values, problems


def _value_problems(param: Mapping[str, Any], label: str, value: Any) -> list[str]:
    problems = []
    has_ref = isinstance(value, str) and "{{" in value
    if param["type"] == "select" and param.get("options") and not has_ref:
        allowed = [o["value"] for o in param["options"]]
        if value not in allowed:
            problems.append(f"{value!r} is not an option of {label}; expected one of: {', '.join(map(str, allowed))}")
    if param.get("pattern") and isinstance(value, str) and not has_ref and value:
        if not re.fullmatch(param["pattern"], value):
            message = param.get("pattern_message") or f"does not match {param['pattern']}"
            problems.append(f"{label}: {message} (got {value!r})")
    if param["type"] == "checkbox" and not isinstance(value, bool) and not has_ref:
        problems.append(f"{label} must be true or false")
    if param["type"] == "table" and not isinstance(value, list):
        problems.append(f"{label} must be a list of rows")
    return problems
