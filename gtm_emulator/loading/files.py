"""Files the loader reads: bundled files, the JSON Schemas, JSON documents, and how problems name a place.

A problem names a place inside a JSON document with a JSON path (``$.tags[0].parameters.pixel_code``)
built by :func:`json_path`; every schema violation becomes one :class:`~gtm_emulator.errors.Problem`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jsonschema

from ..errors import ConfigError, Problem

__all__ = [
    "FileKind",
    "bundled_path",
    "default_container_path",
    "detect_kind",
    "json_path",
    "read_json",
    "schema",
    "schema_problems",
    "unique",
]

FileKind = Literal["gtm_export", "trigger", "tag_template", "container", "unknown"]
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")


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
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema(name))


def json_path(parts: Iterable[Any]) -> str:
    """The JSON path of a place in a document.

    >>> json_path(("tags", 0, "parameters", "pixel code"))
    '$.tags[0].parameters["pixel code"]'
    """
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(str(part)):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
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
    return str(error.message)


def schema_problems(name: str, data: Any, file: str) -> list[Problem]:
    """Every violation of the named schema, with its JSON path."""
    errors = sorted(_validator(name).iter_errors(data), key=lambda e: list(e.absolute_path))
    return [Problem(file, json_path(error.absolute_path), _schema_message(error)) for error in errors]


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


def detect_kind(data: Any) -> FileKind:
    """Which kind of file a parsed JSON document is.

    >>> detect_kind({"name": "t", "fires_on": "page_view"})
    'trigger'
    """
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
