"""Forms of the walkthrough: a tag template's fields laid out as GTM shows them, and the form values
turned back into tag parameters and trigger conditions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.variables import BUILTINS
from ..loading.config import TagTemplate
from ..loading.config import param_enabled as enabled
from .workspace import OPERATOR_CHOICES, operator_choice

FIELD_PREFIX = "p_"
MAX_CONDITIONS = 20
# Built-in variables offered in a condition's variable list, the two of the setup guide first.
FIRST_VARIABLES = ("Client Name", "Event Name")


@dataclass
class Section:
    """A group of fields (GTM's collapsible sections); ``name`` None is the unnamed top section."""

    name: str | None
    label: str | None = None
    help: str | None = None
    params: list[dict[str, Any]] = field(default_factory=list)


def effective_values(template: TagTemplate, values: Mapping[str, Any]) -> dict[str, Any]:
    """The template's defaults overlaid with ``values``: what decides which fields are enabled."""
    merged = {name: p["default"] for name, p in template.by_name.items() if "default" in p}
    merged.update(values)
    return merged


def sections(template: TagTemplate, values: Mapping[str, Any] | None = None) -> list[Section]:
    """The template's fields in order, grouped by their ``group`` (a ``group`` parameter gives the
    section its label and help); ``label`` parameters are kept as text lines in place. Only the
    fields enabled for ``values`` (defaults included) are shown, as GTM hides fields whose enabling
    conditions do not hold."""
    top = Section(None)
    out = [top]
    by_name: dict[str, Section] = {}
    current = effective_values(template, values or {})
    for param in template.parameters:
        if param["type"] != "group" and not enabled(param, current):
            continue
        if param["type"] == "group":
            section = by_name.get(param["name"])
            if section is None:
                section = by_name[param["name"]] = Section(param["name"])
                out.append(section)
            section.label, section.help = param.get("label"), param.get("help")
            continue
        group = param.get("group")
        if group:
            section = by_name.get(group)
            if section is None:
                section = by_name[group] = Section(group, label=group)
                out.append(section)
            section.params.append(param)
        else:
            top.params.append(param)
    return [s for s in out if s.params or s.name is not None]


def split_essential(sections_: list[Section], keep_out: tuple[str, ...] = ("profile",)
                    ) -> tuple[list[dict[str, Any]], list[Section]]:
    """The fields a marketer fills in (the enabled required ones, e.g. Pixel ID and Access Token),
    and the other sections (without those fields), which the page folds away."""
    essential: list[dict[str, Any]] = []
    rest: list[Section] = []
    for section in sections_:
        others = []
        for param in section.params:
            if param.get("required") and param["name"] not in keep_out and param["type"] != "label":
                essential.append(param)
            else:
                others.append(param)
        if others:
            rest.append(Section(section.name, section.label, section.help, others))
    return essential, rest


def display_value(param: Mapping[str, Any], values: Mapping[str, Any]) -> Any:
    """What a field shows: the saved value, else the template's default."""
    if param["name"] in values:
        return values[param["name"]]
    return param.get("default", "")


def params_from_form(template: TagTemplate, form: Mapping[str, str], keep: Mapping[str, Any]
                     ) -> tuple[dict[str, Any], dict[str, str]]:
    """Tag parameters from the posted fields. ``keep`` holds saved parameters the form does not edit
    (tables, or names the template does not declare). Returns (parameters, field -> error key)."""
    params: dict[str, Any] = {}
    errors: dict[str, str] = {}
    declared = template.by_name
    for name, value in keep.items():
        if name not in declared or declared[name]["type"] == "table":
            params[name] = value
    posted = {name: (form.get(FIELD_PREFIX + name) or "").strip() for name in declared}
    current = effective_values(template, {k: v for k, v in posted.items() if v})
    for name, param in declared.items():
        key = FIELD_PREFIX + name
        kind = param["type"]
        if kind == "table" or not enabled(param, current):
            continue  # fields of another profile (or switched off) are not saved
        if kind == "checkbox":
            if (key in form) != bool(param.get("default", False)):
                params[name] = key in form
            continue
        raw = (form.get(key) or "").strip()
        if not raw:
            continue
        if kind == "number" and "{{" not in raw:
            try:
                number = float(raw)
            except ValueError:
                errors[name] = "not_a_number"
                continue
            params[name] = int(number) if number.is_integer() else number
        else:
            params[name] = raw
    return params, errors


def variable_choices(user_variables: list[str]) -> list[str]:
    builtins = [n for n in BUILTINS if not n.startswith("_") and n not in FIRST_VARIABLES]
    return [*FIRST_VARIABLES, *sorted(user_variables), *builtins]


def conditions_from_form(form: Mapping[str, str]
                         ) -> tuple[list[dict[str, Any]], list[dict[str, str]], dict[str, str]]:
    """Trigger conditions from the rows ``cond-<i>-variable|operator|value``.

    Returns (conditions, rows, field -> error key). ``rows`` are the posted rows that are not blank
    (a row with neither a variable nor a value is left out), in order; error keys name a row by its
    place in ``rows`` (``cond-<i>-variable``). A row with a value but no variable is an error, never
    silently dropped: it would leave the trigger without that condition. When there are errors,
    ``conditions`` is empty (nothing may be saved)."""
    conditions: list[dict[str, Any]] = []
    rows: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    for posted in range(MAX_CONDITIONS):
        variable = (form.get(f"cond-{posted}-variable") or "").strip()
        value = form.get(f"cond-{posted}-value") or ""
        choice = form.get(f"cond-{posted}-operator") or "equals"
        if not variable and not value.strip():
            continue
        row = len(rows)
        rows.append({"variable": variable, "operator": choice, "value": value})
        if not variable:
            errors[f"cond-{row}-variable"] = "error_condition_variable"
            continue
        spec = OPERATOR_CHOICES.get(choice)
        if spec is None:
            errors[f"cond-{row}-operator"] = "unknown_operator"
            continue
        operator, negate, ignore_case = spec
        condition: dict[str, Any] = {"variable": variable, "operator": operator, "value": value}
        if negate:
            condition["negate"] = True
        if ignore_case:
            condition["ignore_case"] = True
        conditions.append(condition)
    return ([] if errors else conditions), rows, errors


def condition_rows(trigger: Mapping[str, Any] | None, extra: int = 0, minimum: int = 2) -> list[dict[str, str]]:
    """The rows the trigger form shows: the saved conditions, then ``extra`` blank rows, and blank rows
    up to ``minimum`` (a saved trigger with two conditions shows exactly those two)."""
    rows = []
    for cond in (trigger or {}).get("conditions") or []:
        choice = operator_choice(cond.get("operator", ""), bool(cond.get("negate")), bool(cond.get("ignore_case")))
        rows.append({"variable": str(cond.get("variable", "")), "operator": choice or "equals",
                     "value": str(cond.get("value", ""))})
    while len(rows) < minimum or extra > 0:
        rows.append({"variable": "", "operator": "equals", "value": ""})
        extra -= 1
    return rows
