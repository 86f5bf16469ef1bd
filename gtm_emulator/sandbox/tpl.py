"""Reading and validating GTM custom-template files (``.tpl``; docs/templates.md, "The .tpl file").

A ``.tpl`` file is a sequence of sections, each opened by a header line ``___NAME___`` on a line of
its own. :func:`parse_sections` splits the text; :func:`validate_template` checks it and returns
:class:`~gtm_emulator.errors.Problem` objects whose path starts with the section name
(``___INFO___.type``); :func:`load_template` returns a :class:`CustomTemplate` or raises
:class:`~gtm_emulator.errors.ConfigError`.

Choices on points the reference marks uncertain:

* ``TRANSFORMATION`` is accepted as a template type when loading (``KNOWN_TYPES``), but only
  ``TAG``, ``MACRO`` and ``CLIENT`` templates can be run.
* Unknown sections, unknown field types and unknown validator types are warnings
  (:attr:`CustomTemplate.warnings`), never errors.
* Text before the first section header (a licence comment, a title) is ignored with a warning
  (``PREAMBLE_ALLOWED``). Files that GTM exports start with a header, and GTM does not document
  what its Import does with leading text; ignoring it lets such published templates load.
* A missing ``___SERVER_PERMISSIONS___`` section is an empty permission list, as GTM's editor writes
  templates that use no permissioned API (seen in published gallery templates).
* A ``SERVER`` template whose code is only in ``___SANDBOXED_JS_FOR_WEB_TEMPLATE___`` (with
  ``___WEB_PERMISSIONS___``) is rejected, with a problem naming the web section: it is not known
  that a server container runs web sections, and their permissions are web permissions.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Problem

HEADER = re.compile(r"^___([A-Z_]+)___$")
PREAMBLE_ALLOWED = True  # text before the first ___SECTION___ header (a licence comment) is ignored, with a warning

KNOWN_SECTIONS = (
    "TERMS_OF_SERVICE", "INFO", "TEMPLATE_PARAMETERS", "SANDBOXED_JS_FOR_SERVER",
    "SANDBOXED_JS_FOR_WEB_TEMPLATE", "SERVER_PERMISSIONS", "WEB_PERMISSIONS", "TESTS", "NOTES",
)
KNOWN_TYPES = ("TAG", "MACRO", "CLIENT", "TRANSFORMATION")
RUNNABLE_TYPES = ("TAG", "MACRO", "CLIENT")
FIELD_TYPES = ("TEXT", "SELECT", "RADIO", "CHECKBOX", "SIMPLE_TABLE", "PARAM_TABLE", "GROUP", "LABEL")
VALUELESS_FIELDS = ("GROUP", "LABEL")
VALIDATOR_TYPES = (
    "NON_EMPTY", "REGEX", "STRING_LENGTH", "POSITIVE_NUMBER", "NUMBER", "NON_NEGATIVE_NUMBER",
    "TABLE_ROW_COUNT",
)


@dataclass
class TestScenario:
    name: str
    code: str


@dataclass
class CustomTemplate:
    """A parsed ``.tpl`` file: a custom template (GTM's term), run in the sandbox. Not to be confused with
    :class:`gtm_emulator.core.variables.Template`, a string with ``{{variable}}`` references."""

    file: str
    sections: dict[str, str]
    info: dict[str, Any]
    fields: list[dict[str, Any]]
    permissions: list[dict[str, Any]]
    code: str
    scenarios: list[TestScenario] = field(default_factory=list)
    setup: str = ""
    teardown: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def type(self) -> str:
        return str(self.info.get("type", ""))

    @property
    def display_name(self) -> str:
        return str(self.info.get("displayName") or self.info.get("id") or self.file)

    @property
    def storage_key(self) -> str:
        """Identity of the template for ``templateDataStorage``."""
        return f"{self.info.get('id', '')}|{self.display_name}|{self.file}"

    def field_defaults(self) -> dict[str, Any]:
        """Top-level ``data`` key -> ``defaultValue`` for every value field that declares one."""
        out: dict[str, Any] = {}
        for f in iter_fields(self.fields):
            name = f.get("name")
            if f.get("type") in VALUELESS_FIELDS or not isinstance(name, str) or "defaultValue" not in f:
                continue
            out.setdefault(name, f["defaultValue"])
        return out

    def field_names(self) -> set[str]:
        return {f["name"] for f in iter_fields(self.fields)
                if f.get("type") not in VALUELESS_FIELDS and isinstance(f.get("name"), str)}


def iter_fields(fields: list[Any]) -> list[dict[str, Any]]:
    """Every field, depth first, including group sub-fields and sub-fields of radio/select items
    (they are all top-level keys of ``data``, docs/templates.md, "The .tpl file")."""
    out: list[dict[str, Any]] = []

    def walk(items: Any) -> None:
        if not isinstance(items, list):
            return
        for f in items:
            if not isinstance(f, dict):
                continue
            out.append(f)
            walk(f.get("subParams"))
            for key in ("radioItems", "selectItems"):
                for item in f.get(key) or []:
                    if isinstance(item, dict):
                        walk(item.get("subParams"))

    walk(fields)
    return out


def parse_sections(text: str) -> tuple[dict[str, str], list[str]]:
    """Split ``.tpl`` text into ``{NAME: content}`` (BOM stripped, trailing blank lines removed).
    Returns the sections and the text before the first header, if any (a problem)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    sections: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    preamble: list[str] = []

    def close() -> None:
        if current is None:
            return
        body = list(lines)
        if body and body[0].strip() == "":
            body = body[1:]
        while body and body[-1].strip() == "":
            body.pop()
        sections[current] = "\n".join(body)

    for line in text.splitlines():
        match = HEADER.match(line.rstrip("\r"))
        if match:
            close()
            current = match.group(1)
            lines = []
        elif current is None:
            if line.strip():
                preamble.append(line)
        else:
            lines.append(line.rstrip("\r"))
    close()
    return sections, preamble


def _json_section(sections: dict[str, str], name: str, kind: type, file: str,
                  problems: list[Problem]) -> Any:
    raw = sections.get(name)
    if raw is None:
        return None
    if raw.strip() == "" and kind is list:
        return []
    try:
        value = json.loads(raw)
    except ValueError as exc:
        problems.append(Problem(file, f"___{name}___", f"not valid JSON: {exc}"))
        return None
    if not isinstance(value, kind):
        problems.append(Problem(file, f"___{name}___", f"must be a JSON {'array' if kind is list else 'object'}"))
        return None
    return value


def _parse_tests(raw: str, file: str, problems: list[Problem]) -> tuple[list[TestScenario], str, str]:
    import yaml

    try:
        doc = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        problems.append(Problem(file, "___TESTS___", f"not valid YAML: {str(exc).splitlines()[0]}"))
        return [], "", ""
    if doc is None:
        return [], "", ""
    if not isinstance(doc, dict):
        problems.append(Problem(file, "___TESTS___", "must be a YAML mapping with 'scenarios'"))
        return [], "", ""
    scenarios: list[TestScenario] = []
    items = doc.get("scenarios") or []
    if not isinstance(items, list):
        problems.append(Problem(file, "___TESTS___.scenarios", "must be a list"))
        items = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("code", ""), str):
            problems.append(Problem(file, f"___TESTS___.scenarios[{i}]", "must be {name, code}"))
            continue
        scenarios.append(TestScenario(str(item.get("name") or f"scenario {i + 1}"), item.get("code") or ""))
    setup = doc.get("setup") or ""
    teardown = doc.get("teardown") or ""
    for key, value in (("setup", setup), ("teardown", teardown)):
        if not isinstance(value, str):
            problems.append(Problem(file, f"___TESTS___.{key}", "must be JavaScript text"))
    return scenarios, setup if isinstance(setup, str) else "", teardown if isinstance(teardown, str) else ""


def _check_fields(fields: list[Any], file: str, problems: list[Problem], warnings: list[str]) -> None:
    def walk(items: list[Any], path: str) -> None:
        for i, f in enumerate(items):
            here = f"{path}[{i}]"
            if not isinstance(f, dict):
                problems.append(Problem(file, here, "a field must be a JSON object"))
                continue
            ftype = f.get("type")
            if ftype not in FIELD_TYPES:
                warnings.append(f"{file}: {here}.type: unknown field type {ftype!r}")
            if ftype not in VALUELESS_FIELDS and not isinstance(f.get("name"), str):
                problems.append(Problem(file, f"{here}.name", "a value field needs a string name"))
            for j, v in enumerate(f.get("valueValidators") or []):
                vtype = v.get("type") if isinstance(v, dict) else None
                if vtype not in VALIDATOR_TYPES:
                    warnings.append(f"{file}: {here}.valueValidators[{j}].type: unknown validator type {vtype!r}")
            if isinstance(f.get("subParams"), list):
                walk(f["subParams"], f"{here}.subParams")
            for key in ("radioItems", "selectItems"):
                for j, item in enumerate(f.get(key) or []):
                    if isinstance(item, dict) and isinstance(item.get("subParams"), list):
                        walk(item["subParams"], f"{here}.{key}[{j}].subParams")

    walk(fields, "___TEMPLATE_PARAMETERS___")


def _check_permissions(perms: list[Any], file: str, problems: list[Problem]) -> None:
    for i, p in enumerate(perms):
        key = p.get("instance", {}).get("key", {}) if isinstance(p, dict) else None
        if not isinstance(key, dict) or not isinstance(key.get("publicId"), str):
            problems.append(Problem(file, f"___SERVER_PERMISSIONS___[{i}].instance.key.publicId",
                                    "missing permission ID"))


def _build(text: str, file: str) -> tuple[CustomTemplate | None, list[Problem]]:
    problems: list[Problem] = []
    warnings: list[str] = []
    sections, preamble = parse_sections(text)
    if preamble:
        if PREAMBLE_ALLOWED:
            warnings.append(f"{file}: text before the first section header ignored ({len(preamble)} line(s), "
                            f"starting {preamble[0].strip()[:40]!r})")
        else:
            problems.append(Problem(file, "$", "text before the first section header"))
    for name in sections:
        if name not in KNOWN_SECTIONS:
            warnings.append(f"{file}: ___{name}___: unknown section kept and ignored")
    info = _json_section(sections, "INFO", dict, file, problems)
    if "INFO" not in sections:
        problems.append(Problem(file, "___INFO___", "required section is missing"))
    contexts: list[Any] = []
    if info is not None:
        ttype = info.get("type")
        if ttype not in KNOWN_TYPES:
            problems.append(Problem(file, "___INFO___.type", f"unknown template type {ttype!r}"))
        contexts = info.get("containerContexts") or []
        if not isinstance(contexts, list) or "SERVER" not in contexts:
            problems.append(Problem(
                file, "___INFO___.containerContexts",
                f"{contexts!r} does not contain SERVER: web templates cannot run in a server container"))
    fields = _json_section(sections, "TEMPLATE_PARAMETERS", list, file, problems)
    if fields is not None:
        _check_fields(fields, file, problems, warnings)
    if "SANDBOXED_JS_FOR_SERVER" not in sections:
        why = "required section is missing"
        if "SANDBOXED_JS_FOR_WEB_TEMPLATE" in sections:
            # Some published SERVER templates keep their code (and permissions) in the web sections;
            # the emulator does not run web sections as server code (see the module docstring).
            why += (" (the code is in ___SANDBOXED_JS_FOR_WEB_TEMPLATE___, the web section; a server"
                    " container runs ___SANDBOXED_JS_FOR_SERVER___ with ___SERVER_PERMISSIONS___)")
        problems.append(Problem(file, "___SANDBOXED_JS_FOR_SERVER___", why))
    elif not sections["SANDBOXED_JS_FOR_SERVER"].strip():
        problems.append(Problem(file, "___SANDBOXED_JS_FOR_SERVER___", "the code section is empty"))
    # A template whose code needs no permission (only makeNumber, getType, Math, ...) is saved by
    # GTM's editor without a ___SERVER_PERMISSIONS___ section: that means "no permissions".
    perms = _json_section(sections, "SERVER_PERMISSIONS", list, file, problems)
    if perms is not None:
        _check_permissions(perms, file, problems)
    scenarios, setup, teardown = _parse_tests(sections.get("TESTS", ""), file, problems)
    if problems:
        return None, problems
    template = CustomTemplate(
        file=file,
        sections=sections,
        info=info or {},
        fields=fields or [],
        permissions=perms or [],
        code=sections.get("SANDBOXED_JS_FOR_SERVER", ""),
        scenarios=scenarios,
        setup=setup,
        teardown=teardown,
        warnings=warnings,
    )
    return template, []


def validate_template(text: str, file: str = "<template>") -> list[Problem]:
    """Every problem of a ``.tpl`` text (docs/templates.md, "The .tpl file"); empty when it can be loaded."""
    return _build(text, file)[1]


def load_template(path_or_text: str | Path, file: str | None = None) -> CustomTemplate:
    """Parse a ``.tpl`` file (a path) or ``.tpl`` text; raises ConfigError naming each problem."""
    text: str
    if isinstance(path_or_text, Path) or ("\n" not in path_or_text and "___" not in path_or_text):
        path = Path(path_or_text)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(Problem(str(path), "$", f"cannot read template: {exc}")) from None
        file = file or str(path)
    else:
        text = str(path_or_text)
        file = file or "<template>"
    template, problems = _build(text, file)
    if template is None:
        raise ConfigError(problems)
    return template
