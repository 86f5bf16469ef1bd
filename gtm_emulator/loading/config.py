"""Loading and validating configuration: containers, triggers and tag templates (JSON).

The entry points: :func:`load_container`, :func:`load_gtm_export` and :func:`validate_file`. The work
is split by concern: :mod:`.files` (bundled files, schemas, JSON paths), :mod:`.env` (``${ENV}``
substitution), :mod:`.tag_templates` (tag declarations), :mod:`.registry` (the client, tag and
variable types), :mod:`.loader` (the container, section by section) and :mod:`.vendors` (transports).

Every problem is reported with the file, the JSON path and the rule broken, and all problems of a
file set are collected before :class:`ConfigError` is raised, so one ``validate`` run lists them
all (see docs/configuration.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core.container import Container
from ..errors import ConfigError, Problem
from ..vendors.transport import RecordingTransport, Transport
from .env import ENV_REF, SECRET_ENV_NAME, substitute_env
from .files import (
    bundled_path,
    default_container_path,
    detect_kind,
    json_path,
    read_json,
    schema,
    schema_problems,
    unique,
)
from .loader import Loader
from .tag_templates import BUNDLED_TEMPLATES, TagTemplate, check_tag_parameters, load_tag_template, param_enabled
from .vendors import VENDOR_MODES, make_transport

__all__ = [
    "BUNDLED_TEMPLATES",
    "ENV_REF",
    "SECRET_ENV_NAME",
    "VENDOR_MODES",
    "TagTemplate",
    "bundled_path",
    "check_tag_parameters",
    "default_container_path",
    "detect_kind",
    "json_path",
    "load_container",
    "load_gtm_export",
    "load_tag_template",
    "make_transport",
    "param_enabled",
    "read_json",
    "schema",
    "schema_problems",
    "substitute_env",
    "unique",
    "validate_file",
]


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
        loader = Loader("<container>", Path(base_dir or "."), env)
        return loader.load(dict(source), vendor, transport, reuse)
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigError(Problem("<container>", "$", f"a container is a JSON object or a file path, "
                                                      f"not {type(source).__name__}"))
    path = Path(source)
    raw = read_json(path, str(source))
    loader = Loader(str(source), Path(base_dir) if base_dir else path.resolve().parent, env)
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
        loader = Loader(display, Path(path).resolve().parent, env)
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
