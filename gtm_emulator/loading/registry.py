"""The one registry of client, tag and variable types: which ``type`` a container file may name,
and how the loader builds it.

Every built-in type is listed in this file, explicitly; importing a module never adds a type. To
add a type, write its class and add one builder here (see docs/architecture.md, "Adding a type").
Code outside the package (or a test) adds a type with :meth:`Registry.register`, or for a block
with :meth:`Registry.registered`, which removes it again.

A builder receives the :class:`~gtm_emulator.loading.loader.Loader` (to report problems with a JSON
path, resolve files and check ``{{variable}}`` references) and the entry's JSON object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ..clients.base import Client
from ..clients.ga4 import GA4Client
from ..clients.google_other import UniversalAnalyticsClient, UnsupportedClient, WebContainerClient
from ..clients.measurement_protocol import MeasurementProtocolClient
from ..core.container import Settings, TagConfig
from ..core.server_variables import FirestoreLookupVariable, UnsupportedVariable, VisitorRegionVariable
from ..core.variables import (
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
from ..errors import ConfigError
from ..tags.base import GOOGLE_TAG_TYPES, TagType
from ..tags.google import GA4Tag, NotEmulatedTag
from ..tags.tiktok import TikTokTag
from .tag_templates import TagTemplate, check_tag_parameters

if TYPE_CHECKING:
    from .loader import Loader

__all__ = [
    "CLIENTS",
    "TAGS",
    "VARIABLES",
    "ClientBuilder",
    "Registry",
    "TagBuilder",
    "VariableBuilder",
    "client_class",
    "declared_tag",
]

B = TypeVar("B")

ClientBuilder = Callable[["Loader", dict[str, Any], int], "Client | None"]
"""Builds a client from its entry (``clients[index]``); None after reporting problems."""
TagBuilder = Callable[["Loader", dict[str, Any], int, "TagTemplate | None"], "TagConfig | None"]
"""Builds a tag from its entry (``tags[index]``) and its JSON declaration if it has one."""
VariableBuilder = Callable[["Loader", dict[str, Any]], Variable]
"""Builds a variable from its entry; raises ConfigError for a problem of the whole entry."""


class Registry(Generic[B]):
    """Type name → builder, for one kind of thing (client, tag or variable)."""

    def __init__(self, kind: str, builders: Mapping[str, B]):
        self.kind = kind
        self._builders = dict(builders)

    def __contains__(self, name: object) -> bool:
        return name in self._builders

    def get(self, name: str) -> B | None:
        return self._builders.get(name)

    def names(self) -> list[str]:
        return sorted(self._builders)

    def register(self, name: str, builder: B) -> None:
        """Add a type. Replacing a type is refused: remove it first (or use :meth:`registered`)."""
        if name in self._builders:
            raise ValueError(f"{self.kind} type {name!r} is already registered")
        self._builders[name] = builder

    def unregister(self, name: str) -> None:
        del self._builders[name]

    @contextmanager
    def registered(self, name: str, builder: B) -> Iterator[None]:
        """The type exists inside the ``with`` block only."""
        self.register(name, builder)
        try:
            yield
        finally:
            self.unregister(name)


# ----------------------------------------------------------------------------- clients


def client_class(cls: type[Client]) -> ClientBuilder:
    """The builder of a Python client class: its settings are checked, then it is constructed."""

    def build(loader: Loader, data: dict[str, Any], index: int) -> Client | None:
        settings = data.get("settings") or {}
        problems = cls.check_settings(settings)
        for key, message in problems:
            loader.problem(("clients", index, "settings", key), message)
        if problems:
            return None
        try:
            return cls(data["name"], data.get("priority", 0), settings)
        except ConfigError as exc:
            for problem in exc.problems:
                loader.problem(("clients", index, "settings"), problem.message)
            return None

    return build


def template_client(loader: Loader, data: dict[str, Any], index: int) -> Client | None:
    """A client running a ``.tpl`` client template in the JavaScript sandbox."""
    template = loader.load_tpl(data.get("template"), ("clients", index, "template"), expect="CLIENT")
    if template is None:
        return None
    from ..clients.template_client import TemplateClient

    settings = data.get("settings") or {}
    loader.check_fields(template, settings, ("clients", index, "settings"), "setting")
    return TemplateClient(data["name"], data.get("priority", 0), settings, template=template)


# ----------------------------------------------------------------------------- tags


def declared_tag(make: Callable[[Settings], TagType]) -> TagBuilder:
    """The builder of a Python tag type: its parameters are checked against its JSON declaration."""

    def build(loader: Loader, data: dict[str, Any], index: int, declaration: TagTemplate | None) -> TagConfig:
        impl = make(loader.settings)
        params = dict(data.get("parameters") or {})
        secret_params = set(getattr(impl, "secret_params", frozenset()))
        if declaration is not None:
            params, problems = check_tag_parameters(declaration, params, loader.file, ("tags", index, "parameters"))
            loader.problems.extend(problems)
            secret_params |= declaration.secret_params
        tag_type = data.get("type") or (declaration.tag_type if declaration is not None else impl.type)
        return loader.finish_tag(data, index, tag_type, impl, params, frozenset(secret_params))

    return build


def template_tag(loader: Loader, data: dict[str, Any], index: int, declaration: TagTemplate | None) -> TagConfig | None:
    """A tag running a ``.tpl`` tag template in the JavaScript sandbox."""
    template = loader.load_tpl(data.get("template"), ("tags", index, "template"), expect="TAG")
    if template is None:
        return None
    from ..tags.template_tag import TemplateTag, referenced_defaults

    params = dict(data.get("parameters") or {})  # missing fields take their defaultValue at run time
    loader.check_fields(template, params, ("tags", index, "parameters"), "parameter")
    # a default that refers to variables ({{Event Name}}) is resolved per event, as GTM resolves field text
    for name, default in referenced_defaults(template).items():
        params.setdefault(name, default)
    return loader.finish_tag(data, index, "template", TemplateTag(template), params, frozenset())


def _not_emulated(type_name: str) -> TagBuilder:
    return declared_tag(lambda settings: NotEmulatedTag(type_name, fail=settings.not_emulated_tags_fail))


def _imported_not_emulated(loader: Loader, data: dict[str, Any], index: int,
                           declaration: TagTemplate | None) -> TagConfig:
    """An imported tag of a type the emulator does not know (``export_type``): it ends not_emulated."""
    impl = NotEmulatedTag("not_emulated", fail=loader.settings.not_emulated_tags_fail,
                          export_type=data.get("export_type"))
    return loader.finish_tag(data, index, "not_emulated", impl, dict(data.get("parameters") or {}), frozenset())


# ----------------------------------------------------------------------------- variables


def _event_data(loader: Loader, data: dict[str, Any]) -> Variable:
    return EventDataVariable(data["name"], data["key_path"], default=_default(data), format_value=_format(data))


def _constant(loader: Loader, data: dict[str, Any]) -> Variable:
    return ConstantVariable(data["name"], Template(data["value"]), format_value=_format(data))


def _lookup_table(loader: Loader, data: dict[str, Any]) -> Variable:
    rows = [(str(r["key"]), Template(r["value"])) for r in data["rows"]]
    return LookupTableVariable(data["name"], Template(data["input"]), rows, _default(data), format_value=_format(data))


def _regex_table(loader: Loader, data: dict[str, Any]) -> Variable:
    rows = [(r["pattern"], Template(r["value"])) for r in data["rows"]]
    return RegexTableVariable(
        data["name"], Template(data["input"]), rows, _default(data),
        full_matches_only=data.get("full_matches_only", True),
        replace_after_match=data.get("replace_after_match", True),
        ignore_case=data.get("ignore_case", True), format_value=_format(data),
    )


def _cookie(loader: Loader, data: dict[str, Any]) -> Variable:
    return CookieVariable(data["name"], data["cookie_name"], data.get("decode", True), format_value=_format(data))


def _query_parameter(loader: Loader, data: dict[str, Any]) -> Variable:
    return QueryParameterVariable(data["name"], data["parameter"], format_value=_format(data))


def _request_header(loader: Loader, data: dict[str, Any]) -> Variable:
    return RequestHeaderVariable(data["name"], data["header"], format_value=_format(data))


def _template_variable(loader: Loader, data: dict[str, Any]) -> Variable:
    template = loader.load_tpl(data["template"], ("variables",), expect="MACRO")
    if template is None:
        raise ConfigError([])
    from ..sandbox.variables import TemplateVariable

    params = {k: Template(v) for k, v in (data.get("parameters") or {}).items()}
    return TemplateVariable(data["name"], template, params, format_value=_format(data))


def _firestore_lookup(loader: Loader, data: dict[str, Any]) -> Variable:
    return FirestoreLookupVariable(
        data["name"], data.get("key_path", ""), document_path=data.get("document_path", ""),
        collection_path=data.get("collection_path", ""), conditions=data.get("conditions"), format_value=_format(data))


def _visitor_region(loader: Loader, data: dict[str, Any]) -> Variable:
    return VisitorRegionVariable(data["name"], data.get("country_header", ""), data.get("region_header", ""),
                                 format_value=_format(data))


def _unsupported_variable(loader: Loader, data: dict[str, Any]) -> Variable:
    return UnsupportedVariable(data["name"], str(data.get("export_type", "unknown")), format_value=_format(data))


def _default(data: dict[str, Any]) -> Template | None:
    return Template(data["default_value"]) if "default_value" in data else None


def _format(data: dict[str, Any]) -> FormatValue | None:
    return FormatValue.from_config(data.get("format_value"))


# ----------------------------------------------------------------------------- the registries

CLIENTS: Registry[ClientBuilder] = Registry("client", {
    "ga4": client_class(GA4Client),
    "measurement_protocol": client_class(MeasurementProtocolClient),
    "template": template_client,
    "gtm_web_container": client_class(WebContainerClient),
    "universal_analytics": client_class(UniversalAnalyticsClient),
    "unsupported": client_class(UnsupportedClient),
})

TAGS: Registry[TagBuilder] = Registry("tag", {
    "tiktok_events_api": declared_tag(lambda settings: TikTokTag()),
    "template": template_tag,
    "sgtmgaaw": declared_tag(lambda settings: GA4Tag()),
    **{name: _not_emulated(name) for name in GOOGLE_TAG_TYPES if name != "sgtmgaaw"},
    "not_emulated": _imported_not_emulated,
})

VARIABLES: Registry[VariableBuilder] = Registry("variable", {
    "event_data": _event_data,
    "constant": _constant,
    "lookup_table": _lookup_table,
    "regex_table": _regex_table,
    "cookie": _cookie,
    "query_parameter": _query_parameter,
    "request_header": _request_header,
    "template": _template_variable,
    "firestore_lookup": _firestore_lookup,
    "visitor_region": _visitor_region,
    "unsupported": _unsupported_variable,
})
