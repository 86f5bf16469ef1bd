"""Server variable types that read the world outside the request: Firestore Lookup and Visitor
Region, and the placeholder for an imported variable type the emulator does not know.

* :class:`FirestoreLookupVariable` (export type ``fs``) answers from a :class:`FirestoreStore`: a
  local JSON file (container setting ``firestore_file``, path relative to the container file) or
  documents given in code (``FirestoreStore({...})``). The file maps document paths
  (``collection/document``, nested collections allowed) to documents. A document lookup returns the
  value at ``key_path`` of that document; a collection query returns it from the first document
  (in path order) whose fields satisfy every condition (Firestore's "query" lookup type). No store,
  no document or no field -> undefined.
* :class:`VisitorRegionVariable` (export type in ``gtm_export.VISITOR_REGION_TYPES``) returns
  ``{"country": ..., "region": ...}`` from the geo headers that Google documents for server-side
  tagging (``GEO_HEADERS``: a Google Cloud load balancer's ``X-Gclb-Country``/``X-Gclb-Region``,
  App Engine's ``X-Appengine-Country``/``X-Appengine-Region``), else from the headers the variable
  names, else from the container setting ``visitor_region`` (a fixed ``{country, region}``),
  else undefined.
* :class:`UnsupportedVariable`: a variable of an unknown type; it resolves to undefined and says
  so in the event's warnings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Problem
from . import js
from .event_data import get_path, split_path
from .js import UNDEFINED
from .variables import EventContext, Template, Variable

# (country header, region header), tried in order.
GEO_HEADERS = (("x-gclb-country", "x-gclb-region"), ("x-appengine-country", "x-appengine-region"))

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b, "EQUALS": lambda a, b: a == b, "equals": lambda a, b: a == b,
    "!=": lambda a, b: a != b, "NOT_EQUALS": lambda a, b: a != b,
    "<": lambda a, b: _cmp(a, b) < 0, "<=": lambda a, b: _cmp(a, b) <= 0,
    ">": lambda a, b: _cmp(a, b) > 0, ">=": lambda a, b: _cmp(a, b) >= 0,
    "array-contains": lambda a, b: isinstance(a, list) and b in a,
}


def _cmp(a: Any, b: Any) -> int:
    try:
        return int((a > b) - (a < b))
    except TypeError:
        a_num, b_num = js.to_number(a), js.to_number(b)
        return (a_num > b_num) - (a_num < b_num)


class FirestoreStore:
    """Documents by path, read by Firestore Lookup variables (and nothing else)."""

    def __init__(self, documents: Mapping[str, Any] | None = None, source: str = "firestore documents"):
        self.documents: dict[str, Any] = {str(k).strip("/"): v for k, v in (documents or {}).items()}
        self.source = source

    @classmethod
    def from_file(cls, path: str | Path) -> FirestoreStore:
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(Problem(str(p), "$", f"cannot read the Firestore documents: {exc}")) from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise ConfigError(Problem(str(p), "$", "expected an object of document path -> document object"))
        return cls(data, str(p))

    def document(self, path: str) -> Any:
        return self.documents.get(path.strip("/"), UNDEFINED)

    def query(self, collection: str, conditions: list[tuple[str, str, Any]]) -> Any:
        prefix = collection.strip("/") + "/"
        for doc_path in sorted(self.documents):
            rest = doc_path[len(prefix):] if doc_path.startswith(prefix) else None
            if not rest or "/" in rest:
                continue
            doc = self.documents[doc_path]
            if all(_OPERATORS.get(op, _OPERATORS["=="])(get_path(doc, split_path(field)), value)
                   for field, op, value in conditions):
                return doc
        return UNDEFINED


class FirestoreLookupVariable(Variable):
    type = "firestore_lookup"

    def __init__(self, name: str, key_path: str, document_path: str = "", collection_path: str = "",
                 conditions: list[Mapping[str, Any]] | None = None, **kw: Any):
        super().__init__(name, **kw)
        self.key_path = key_path
        self.document_path = Template(document_path) if document_path else None
        self.collection_path = Template(collection_path) if collection_path else None
        self.conditions = [(str(c.get("field", "")), str(c.get("operator", "==")), Template.of(c.get("value", "")))
                           for c in conditions or []]
        self.store: FirestoreStore | None = None

    def compute(self, ctx: EventContext) -> Any:
        if self.store is None:
            ctx.warnings.append(f"Firestore Lookup {self.name!r}: no Firestore documents configured "
                                "(container setting firestore_file); resolved to undefined")
            return UNDEFINED
        if self.document_path is not None:
            doc = self.store.document(js.to_string(self.document_path.evaluate(ctx)))
        elif self.collection_path is not None:
            conditions = [(f, op, v.evaluate(ctx)) for f, op, v in self.conditions]
            doc = self.store.query(js.to_string(self.collection_path.evaluate(ctx)), conditions)
        else:
            return UNDEFINED
        if doc is UNDEFINED or not self.key_path:
            return doc
        return get_path(doc, split_path(self.key_path))

    def _own_references(self) -> tuple[str, ...]:
        templates = [t for t in (self.document_path, self.collection_path) if t is not None]
        templates += [v for _, _, v in self.conditions]
        return tuple(r for t in templates for r in t.refs)


class VisitorRegionVariable(Variable):
    type = "visitor_region"

    def __init__(self, name: str, country_header: str = "", region_header: str = "", **kw: Any):
        super().__init__(name, **kw)
        self.headers = [*GEO_HEADERS]
        if country_header or region_header:
            self.headers.insert(0, (country_header.lower(), region_header.lower()))
        self.default: dict[str, Any] | None = None

    def compute(self, ctx: EventContext) -> Any:
        for country_h, region_h in self.headers:
            country = ctx.request.header(country_h) if country_h else None
            region = ctx.request.header(region_h) if region_h else None
            if country or region:
                out = {"country": country or "", "region": region or ""}
                return out
        if self.default:
            return dict(self.default)
        return UNDEFINED


class UnsupportedVariable(Variable):
    type = "unsupported"

    def __init__(self, name: str, export_type: str, **kw: Any):
        super().__init__(name, **kw)
        self.export_type = export_type

    def compute(self, ctx: EventContext) -> Any:
        ctx.warnings.append(f"variable {self.name!r} has type {self.export_type!r}, which the emulator does not "
                            "emulate; resolved to undefined")
        return UNDEFINED
