"""Converting a GTM server-container export (``exportFormatVersion`` 2) into the native container.

``convert(export, source)`` returns ``(container, warnings)``: ``container`` is a dict in the format of
``schemas/container.schema.json``; ``warnings`` are ``FILE: JSON-PATH: message`` lines about what was
imported approximately or ignored. What cannot run raises :class:`~gtm_emulator.errors.ConfigError`
with every :class:`~gtm_emulator.errors.Problem` found (file, JSON path such as
``$.containerVersion.tag[3].type``, message).

Custom templates: the native format refers to templates by path, so each ``customTemplate`` that a
tag, variable or client uses becomes a ``.tpl`` file under ``templates/`` next to the converted
container (``templates/<slug>.tpl``, the path relative to the container file). Pass a dict as
``template_files`` to receive ``{relative path: .tpl text}``; :func:`write_conversion` writes the
container and those files. The TikTok gallery templates are not run as code by default: they become
the native ``tiktok_events_api`` tag with the matching profile (``TIKTOK_GALLERY``), their field
names kept, which sends byte for byte what the published template sends
(docs/tiktok.md, "Parity with the published templates").
``keep_templates=True`` runs such a template itself in the sandbox instead. Either way the
conversion's ``notes`` say, per tag, which of the two runs.

Choices on uncertain points (docs/templates.md, "Importing a container export"):

* Trigger ID ``2147479574`` is All Events; any other undefined ID ``>= 2147479000`` is All Events
  with a warning; other undefined IDs are problems.
* Cookie variables: type codes in ``COOKIE_TYPES``; query-parameter and request-header variables: the
  codes in ``QUERY_TYPES`` / ``HEADER_TYPES`` and the parameter keys tried in order in
  ``QUERY_NAME_KEYS`` / ``HEADER_NAME_KEYS``.
* A custom template is matched to ``cvt_<containerId>_<templateId>``, else to
  ``cvt_<galleryTemplateId>``, else (with a warning) to the only template whose slugged name matches.
* Google's GA4 tag (``sgtmgaaw``) imports as the emulated GA4 tag; the Google Ads, Floodlight and
  Conversion Linker tags import with their type and end ``not_emulated`` when they fire.
* Client templates import as ``type: template`` clients with their parameters as ``settings``; they
  run in the sandbox (:mod:`gtm_emulator.clients.template_client`).
* Transformations become the native ``transformations`` (:mod:`gtm_emulator.core.transformations`).
* A client, tag, trigger or variable type the emulator does not know never stops the import: it is
  imported as a placeholder (a client that claims nothing, a tag that ends ``not_emulated``, a
  trigger that never fires, a variable that is undefined) and named in a warning with its JSON path.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ..core.container import ALL_EVENTS, ALL_EVENTS_ID
from ..core.triggers import WEB_ONLY_OPERATORS, operator_name
from ..core.variables import BUILTIN_NAME_BY_TYPE
from ..errors import ConfigError, Problem
from ..tags.base import GOOGLE_TAG_TYPES

BUILTIN_TRIGGER_MIN = 2147479000
GA4_CLIENT_TYPES = ("gaaw_client",)
MP_CLIENT_TYPES = ("measurement_protocol", "mp_client")
WEB_CONTAINER_CLIENT_TYPES = ("gtm_client",)
UA_CLIENT_TYPES = ("ua_client", "uaaw_client")  # uncertain: no public export with this client was found
FIRESTORE_TYPES = ("fs",)
VISITOR_REGION_TYPES = ("vr", "visitorRegion", "VISITOR_REGION")  # uncertain type code
PAGEVIEW_TRIGGER_TYPES = ("SERVER_PAGEVIEW", "serverPageview")
PAGEVIEW_EVENT = "page_view"  # the event a server Page View trigger fires on
TRANSFORMATION_KINDS = {"tf_allow_params": "allow", "tf_exclude_params": "exclude", "tf_augment_event": "augment"}
COOKIE_TYPES = ("k", "cookie", "COOKIE")
QUERY_TYPES = ("qp", "query", "query_parameter", "queryParameter", "QUERY_PARAMETER", "rqp")
HEADER_TYPES = ("rh", "hd", "header", "request_header", "requestHeader", "REQUEST_HEADER")
QUERY_NAME_KEYS = ("queryParamName", "name", "queryParameter", "parameter", "key")
HEADER_NAME_KEYS = ("headerName", "name", "header", "key")
COOKIE_NAME_KEYS = ("name", "cookieName")
TIKTOK_GALLERY = {
    ("tiktok", "gtm-template-eapi"): "tiktok-official",
    ("stape-io", "tiktok-tag"): "stape",
}
# the gtmVersion each native profile reproduces (a template writing another one may behave differently)
TIKTOK_VERSIONS = {"tiktok-official": "s2s_0_2_01", "stape": "stape_2_0_1"}
TEMPLATE_DIR = "templates"
_FIRING_OPTIONS = {"ONCE_PER_EVENT": "once_per_event", "UNLIMITED": "unlimited", "ONCE_PER_LOAD": "once_per_event"}
_REF = re.compile(r"^\{\{\s*([^{}]+?)\s*\}\}$")


def param_value(param: Any) -> Any:
    """An export parameter object as the value a template's ``data`` would get (docs/templates.md, "Importing
    a container export"),
    leaving ``{{Var}}`` references in strings for the container to resolve."""
    if not isinstance(param, dict):
        return param
    ptype = param.get("type")
    if ptype == "LIST":
        return [param_value(p) for p in param.get("list") or []]
    if ptype == "MAP":
        return {str(p.get("key")): param_value(p) for p in param.get("map") or [] if isinstance(p, dict)}
    value = param.get("value", "")
    if ptype == "BOOLEAN":
        return str(value).lower() == "true"
    if ptype == "INTEGER":
        try:
            return int(str(value))
        except ValueError:
            return value
    return value


def params_dict(params: Any) -> dict[str, Any]:
    return {str(p.get("key")): param_value(p) for p in params or [] if isinstance(p, dict) and "key" in p}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "template"


class _Converter:
    def __init__(self, export: dict[str, Any], source: str, keep_templates: bool = False):
        self.export = export
        self.source = source
        self.keep_templates = keep_templates
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.files: dict[str, str] = {}
        self.cv: dict[str, Any] = {}
        self.templates: dict[str, tuple[int, dict[str, Any]]] = {}
        self.template_paths: dict[int, tuple[str, str]] = {}

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.source, path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{self.source}: {path}: {message}")

    # ------------------------------------------------------------------ top level
    def run(self) -> dict[str, Any]:
        export = self.export
        if not isinstance(export, dict):
            self.problem("$", "an export must be a JSON object")
            raise ConfigError(self.problems)
        if export.get("exportFormatVersion") != 2:
            self.problem("$.exportFormatVersion",
                         f"expected exportFormatVersion 2, got {export.get('exportFormatVersion')!r}")
        cv = export.get("containerVersion")
        if not isinstance(cv, dict):
            self.problem("$.containerVersion", "missing: this is not a GTM container export")
            raise ConfigError(self.problems)
        self.cv = cv
        container = cv.get("container") or {}
        usage = container.get("usageContext") or []
        if "SERVER" not in usage:
            self.problem("$.containerVersion.container.usageContext",
                         f"{usage!r} is not a server container; web exports cannot be run by the emulator")
            raise ConfigError(self.problems)
        self._index_templates()
        native: dict[str, Any] = {
            "name": str(container.get("name") or "imported container"),
            "container_id": str(container.get("publicId") or "GTM-EMULATOR"),
            "version": str(cv.get("containerVersionId", "0")),
            "notes": f"Imported from a GTM export ({export.get('exportTime', 'unknown time')}).",
            "clients": self._clients(),
            "variables": self._variables(),
        }
        self._builtins()
        triggers, trigger_names = self._triggers()
        native["triggers"] = triggers
        native["tags"] = self._tags(trigger_names)
        transformations = self._transformations({t["name"] for t in native["tags"]})
        if transformations:
            native["transformations"] = transformations
        if self.problems:
            raise ConfigError(self.problems)
        return native

    # ------------------------------------------------------------------ templates
    def _index_templates(self) -> None:
        container_id = str(self.cv.get("containerId", ""))
        for i, tpl in enumerate(self.cv.get("customTemplate") or []):
            if not isinstance(tpl, dict):
                continue
            tid = str(tpl.get("templateId", ""))
            self.templates[f"cvt_{container_id}_{tid}"] = (i, tpl)
            gallery = (tpl.get("galleryReference") or {}).get("galleryTemplateId")
            if gallery:
                self.templates[f"cvt_{gallery}"] = (i, tpl)

    def _find_template(self, type_name: str, path: str) -> tuple[int, dict[str, Any]] | None:
        if type_name in self.templates:
            return self.templates[type_name]
        candidates = [(i, t) for i, t in enumerate(self.cv.get("customTemplate") or [])
                      if isinstance(t, dict) and slug(str(t.get("name", ""))) in slug(type_name)]
        if len(candidates) == 1:
            self.warn(path, f"matched tag type {type_name!r} to custom template "
                            f"{candidates[0][1].get('name')!r} by name")
            return candidates[0]
        self.problem(path, f"custom template type {type_name!r} has no matching customTemplate in the export")
        return None

    def _custom_template_file(self, type_name: str, kind: str, path: str) -> str | None:
        """The ``.tpl`` path of the custom template behind ``cvt_…`` type ``type_name`` (problems recorded)."""
        found = self._find_template(type_name, path)
        if found is None:
            return None
        return self._template_path(found[0], found[1], kind, path)

    def _template_path(self, index: int, tpl: dict[str, Any], kind: str, path: str) -> str | None:
        """Validate the template text once and give its file path (relative to the container)."""
        from ..sandbox.tpl import load_template, validate_template

        if index in self.template_paths:
            cached_path, cached_kind = self.template_paths[index]
            if cached_kind != kind:
                self.problem(path, f"custom template {tpl.get('name')!r} is a {cached_kind} template, "
                                   f"used as a {kind}")
                return None
            return cached_path

        text = tpl.get("templateData")
        where = f"$.containerVersion.customTemplate[{index}].templateData"
        if not isinstance(text, str) or not text.strip():
            self.problem(where, "the custom template has no templateData")
            return None
        problems = validate_template(text, self.source)
        for p in problems:
            self.problem(f"{where}.{p.path}", p.message)
        if problems:
            return None
        ttype = load_template(text, self.source).type
        if ttype != kind:
            self.problem(path, f"custom template {tpl.get('name')!r} is a {ttype} template, used as a {kind}")
            return None
        name = f"{TEMPLATE_DIR}/{slug(str(tpl.get('name') or tpl.get('templateId') or 'template'))}.tpl"
        while name in self.files:
            name = name[:-4] + "_.tpl"
        self.files[name] = text
        self.template_paths[index] = (name, ttype)
        return name

    # ------------------------------------------------------------------ clients
    def _clients(self) -> list[dict[str, Any]]:
        out = []
        for i, client in enumerate(self.cv.get("client") or []):
            path = f"$.containerVersion.client[{i}]"
            ctype = client.get("type")
            params = params_dict(client.get("parameter"))
            native: dict[str, Any] = {"name": str(client.get("name") or f"client {i}")}
            priority = client.get("priority", 0)
            if isinstance(priority, dict):
                priority = param_value(priority)
            try:
                native["priority"] = int(priority or 0)
            except (TypeError, ValueError):
                self.problem(f"{path}.priority", f"not an integer: {priority!r}")
            if ctype in GA4_CLIENT_TYPES:
                native["type"] = "ga4"
                native["settings"] = self._ga4_settings(params, path)
            elif ctype in MP_CLIENT_TYPES:
                native["type"] = "measurement_protocol"
            elif ctype in WEB_CONTAINER_CLIENT_TYPES:
                native["type"] = "gtm_web_container"
                allowed = params.get("allowedContainerIds") or []
                native["settings"] = {"allowed_container_ids": allowed if isinstance(allowed, list) else []}
                self.warn(f"{path}.type", f"client {native['name']!r} (Google Tag Manager: Web Container) answers "
                                          "with a placeholder script: Google's gtm.js cannot be served offline")
                ignored = sorted(k for k in params if k != "allowedContainerIds")
                if ignored:
                    self.warn(f"{path}.parameter", f"Web Container client settings {', '.join(ignored)} have no "
                                                   "effect on the placeholder script")
            elif ctype in UA_CLIENT_TYPES:
                native["type"] = "universal_analytics"
                self.warn(f"{path}.type", f"client {native['name']!r} (Universal Analytics) builds approximate event "
                                          "data from v=1 hits")
            elif isinstance(ctype, str) and ctype.startswith("cvt_"):
                tpl_path = self._custom_template_file(ctype, "CLIENT", f"{path}.type")
                if tpl_path is None:
                    continue
                native.update({"type": "template", "template": tpl_path, "settings": params})
            else:
                native.update({"type": "unsupported", "settings": {"export_type": str(ctype)}})
                self.warn(f"{path}.type", f"client type {ctype!r} (client {native['name']!r}) is not emulated; "
                                          "imported as a client that claims no request")
            out.append(native)
        return out

    def _ga4_settings(self, params: dict[str, Any], path: str) -> dict[str, Any]:
        settings: dict[str, Any] = {}
        mapping = {"cookieManagement": "cookie_management", "cookieName": "cookie_name",
                   "cookieDomain": "cookie_domain", "cookiePath": "cookie_path"}
        for key, value in params.items():
            if key in mapping:
                settings[mapping[key]] = value
            elif key == "cookieMaxAgeInSec":
                try:
                    settings["cookie_max_age"] = int(str(value))
                except ValueError:
                    self.problem(f"{path}.parameter", f"cookieMaxAgeInSec is not an integer: {value!r}")
            elif key == "migrateFromJsClientId":
                settings["migrate_from_js_client_id"] = bool(value)
            elif key == "activateDefaultPaths":
                if value is False:
                    self.warn(f"{path}.parameter", "activateDefaultPaths is off; the emulator still claims /g/collect")
            elif key == "activateGtagSupport":
                if value:
                    self.warn(f"{path}.parameter", "gtag.js serving is not emulated (no network)")
            else:
                self.warn(f"{path}.parameter", f"GA4 client setting {key!r} ignored")
        return settings

    # ------------------------------------------------------------------ variables
    def _variables(self) -> list[dict[str, Any]]:
        out = []
        for i, var in enumerate(self.cv.get("variable") or []):
            path = f"$.containerVersion.variable[{i}]"
            vtype = var.get("type")
            name = str(var.get("name") or f"variable {i}")
            p = params_dict(var.get("parameter"))
            native: dict[str, Any] = {"name": name}
            if vtype == "ed":
                native.update({"type": "event_data", "key_path": str(p.get("keyPath", ""))})
                if not native["key_path"]:
                    self.problem(f"{path}.parameter", f"event data variable {name!r} has no keyPath")
                if p.get("setDefaultValue"):
                    native["default_value"] = p.get("defaultValue", "")
            elif vtype == "c":
                native.update({"type": "constant", "value": p.get("value", "")})
            elif vtype in ("smm", "remm"):
                rows = []
                for row in p.get("map") or []:
                    if isinstance(row, dict):
                        key = "key" if vtype == "smm" else "pattern"
                        rows.append({key: str(row.get("key", "")), "value": row.get("value", "")})
                native.update({"type": "lookup_table" if vtype == "smm" else "regex_table",
                               "input": str(p.get("input", "")), "rows": rows})
                if p.get("setDefaultValue"):
                    native["default_value"] = p.get("defaultValue", "")
                if vtype == "remm":
                    for src, dst in (("fullMatchesOnly", "full_matches_only"),
                                     ("replaceAfterMatch", "replace_after_match"), ("ignoreCase", "ignore_case")):
                        if src in p:
                            native[dst] = bool(p[src])
            elif vtype in COOKIE_TYPES:
                cookie = next((p[k] for k in COOKIE_NAME_KEYS if k in p), None)
                if not cookie:
                    self.problem(f"{path}.parameter", f"cookie variable {name!r} has no cookie name")
                    continue
                native.update({"type": "cookie", "cookie_name": str(cookie), "decode": bool(p.get("decodeCookie"))})
            elif vtype in QUERY_TYPES:
                qname = next((p[k] for k in QUERY_NAME_KEYS if k in p), None)
                if not qname:
                    self.problem(f"{path}.parameter", f"query parameter variable {name!r} has no parameter name")
                    continue
                native.update({"type": "query_parameter", "parameter": str(qname)})
            elif vtype in HEADER_TYPES:
                hname = next((p[k] for k in HEADER_NAME_KEYS if k in p), None)
                if not hname:
                    self.problem(f"{path}.parameter", f"request header variable {name!r} has no header name")
                    continue
                native.update({"type": "request_header", "header": str(hname)})
            elif vtype in FIRESTORE_TYPES:
                native.update(firestore_settings(p))
                self.warn(f"{path}.type", f"Firestore Lookup {name!r} reads the documents of the container setting "
                                          "firestore_file (undefined without it)")
            elif vtype in VISITOR_REGION_TYPES:
                native["type"] = "visitor_region"
                for src, dst in (("countryHeader", "country_header"), ("regionHeader", "region_header")):
                    if isinstance(p.get(src), str) and p[src]:
                        native[dst] = p[src]
            elif isinstance(vtype, str) and vtype.startswith("cvt_"):
                tpl_path = self._custom_template_file(vtype, "MACRO", f"{path}.type")
                if tpl_path is None:
                    continue
                native.update({"type": "template", "template": tpl_path, "parameters": p})
            else:
                native.update({"type": "unsupported", "export_type": str(vtype), "parameters": p})
                self.warn(f"{path}.type", f"variable type {vtype!r} (variable {name!r}) is not emulated; "
                                          "it resolves to undefined")
            fmt = self._format_value(var.get("formatValue"), f"{path}.formatValue")
            if fmt:
                native["format_value"] = fmt
            out.append(native)
        return out

    def _format_value(self, fmt: Any, path: str) -> dict[str, Any]:
        if not isinstance(fmt, dict) or not fmt:
            return {}
        out: dict[str, Any] = {}
        case = fmt.get("caseConversionType")
        if isinstance(case, dict):
            case = param_value(case)
        if case in ("LOWERCASE", "UPPERCASE"):
            out["case"] = case.lower()
        elif case not in (None, "", "NONE"):
            self.warn(path, f"unknown caseConversionType {case!r} ignored")
        for src, dst in (("convertNullToValue", "null_to"), ("convertUndefinedToValue", "undefined_to"),
                         ("convertTrueToValue", "true_to"), ("convertFalseToValue", "false_to")):
            if src in fmt:
                value = fmt[src]
                out[dst] = param_value(value) if isinstance(value, dict) else value
        return out

    def _builtins(self) -> None:
        for i, b in enumerate(self.cv.get("builtInVariable") or []):
            btype = b.get("type")
            if btype not in BUILTIN_NAME_BY_TYPE:
                self.warn(f"$.containerVersion.builtInVariable[{i}].type",
                          f"built-in variable type {btype!r} is not emulated; references resolve to undefined")
            elif b.get("name") and b["name"] != BUILTIN_NAME_BY_TYPE[btype]:
                self.warn(f"$.containerVersion.builtInVariable[{i}].name",
                          f"built-in {btype} is called {BUILTIN_NAME_BY_TYPE[btype]!r} in the emulator, "
                          f"not {b['name']!r}")

    # ------------------------------------------------------------------ triggers
    def _condition(self, cond: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(cond, dict):
            self.problem(path, "a condition must be an object")
            return None
        ctype = str(cond.get("type", ""))
        if ctype in WEB_ONLY_OPERATORS:
            self.problem(f"{path}.type", f"operator {ctype} exists only in web containers")
            return None
        op = operator_name(ctype)
        if op is None:
            self.problem(f"{path}.type", f"unknown condition operator {ctype!r}")
            return None
        p = params_dict(cond.get("parameter"))
        arg0 = str(p.get("arg0", ""))
        match = _REF.match(arg0)
        if not match:
            self.problem(f"{path}.parameter", f"left operand {arg0!r} is not a single {{{{Variable}}}} reference")
            return None
        variable = match.group(1)
        if variable == "_event":
            variable = "Event Name"
        right = p.get("arg1", "")
        out: dict[str, Any] = {"variable": variable, "operator": op,
                               "value": right if isinstance(right, (str, int, float, bool)) else str(right)}
        if p.get("negate") is True:
            out["negate"] = True
        if p.get("ignore_case") is True:
            out["ignore_case"] = True
            if op != "matches_regex":
                self.warn(path, f"ignore_case has no effect on {op}")
        return out

    def _triggers(self) -> tuple[list[dict[str, Any]], dict[str, str]]:
        out = []
        names: dict[str, str] = {}
        seen: set[str] = set()
        for i, trig in enumerate(self.cv.get("trigger") or []):
            path = f"$.containerVersion.trigger[{i}]"
            ttype = trig.get("type")
            name = str(trig.get("name") or f"trigger {i}")
            if name in seen or name == ALL_EVENTS:
                self.problem(f"{path}.name", f"duplicate trigger name {name!r}")
                continue
            conditions = []
            if ttype in ("CUSTOM_EVENT", "customEvent"):
                sources = [("customEventFilter", trig.get("customEventFilter")), ("filter", trig.get("filter"))]
            elif ttype in ("ALWAYS", "always"):
                sources = [("filter", trig.get("filter"))]
                if trig.get("customEventFilter"):
                    self.warn(f"{path}.customEventFilter", "ignored on an ALWAYS trigger")
            elif ttype in PAGEVIEW_TRIGGER_TYPES:
                sources = [("filter", trig.get("filter"))]
                conditions.append({"variable": "Event Name", "operator": "equals", "value": PAGEVIEW_EVENT})
            else:
                self.warn(f"{path}.type", f"trigger type {ttype!r} (trigger {name!r}) is not a server trigger type "
                                          "the emulator knows; imported as a trigger that never fires")
                native_never: dict[str, Any] = {"name": name, "fires_on": "all_events", "unsupported_type": str(ttype)}
                if "triggerId" in trig:
                    native_never["id"] = str(trig["triggerId"])
                    names[str(trig["triggerId"])] = name
                seen.add(name)
                out.append(native_never)
                continue
            ok = True
            for key, conds in sources:
                for j, cond in enumerate(conds or []):
                    converted = self._condition(cond, f"{path}.{key}[{j}]")
                    if converted is None:
                        ok = False
                    else:
                        conditions.append(converted)
            for key in ("waitForTags", "checkValidation", "autoEventFilter"):
                if trig.get(key):
                    self.warn(f"{path}.{key}", "web-only trigger setting ignored")
            if not ok:
                continue
            native: dict[str, Any] = {"name": name, "fires_on": "some_events" if conditions else "all_events"}
            if "triggerId" in trig:
                native["id"] = str(trig["triggerId"])
                names[str(trig["triggerId"])] = name
            if conditions:
                native["conditions"] = conditions
            seen.add(name)
            out.append(native)
        return out, names

    def _trigger_ref(self, tid: Any, names: dict[str, str], path: str) -> str | None:
        tid = str(tid)
        if tid in names:
            return names[tid]
        if tid == ALL_EVENTS_ID:
            return ALL_EVENTS
        if tid.isdigit() and int(tid) >= BUILTIN_TRIGGER_MIN:
            self.warn(path, f"trigger ID {tid} is not defined; treated as the built-in All Events trigger")
            return ALL_EVENTS
        self.problem(path, f"trigger ID {tid} is not defined in the export")
        return None

    # ------------------------------------------------------------------ transformations
    def _transformations(self, tag_names: set[str]) -> list[dict[str, Any]]:
        out = []
        for i, tf in enumerate(self.cv.get("transformation") or []):
            path = f"$.containerVersion.transformation[{i}]"
            if not isinstance(tf, dict):
                self.warn(path, "not an object; ignored")
                continue
            name = str(tf.get("name") or f"transformation {i}")
            kind = TRANSFORMATION_KINDS.get(str(tf.get("type")))
            p = params_dict(tf.get("parameter"))
            native: dict[str, Any] = {"name": name}
            if kind is None:
                native.update({"kind": "unsupported", "export_type": str(tf.get("type"))})
                self.warn(f"{path}.type", f"transformation type {tf.get('type')!r} ({name!r}) is not emulated; "
                                          "it changes nothing")
            else:
                native["kind"] = kind
            if kind == "allow":
                native["parameters"] = [str(r.get("allowedParams", "")) for r in p.get("allowedParamsTable") or []
                                        if isinstance(r, dict) and r.get("allowedParams")]
            elif kind == "exclude":
                native["parameters"] = [str(r.get("excludedParams", "")) for r in p.get("excludedParamsTable") or []
                                        if isinstance(r, dict) and r.get("excludedParams")]
            elif kind == "augment":
                rows = [r for r in p.get("augmentEventTable") or [] if isinstance(r, dict) and r.get("paramName")]
                native["set"] = [{"name": str(r["paramName"]), "value": r.get("paramValue", "")} for r in rows]
            if p.get("matchingConditionsEnabled") is True:
                conditions = []
                for j, row in enumerate(p.get("matchingConditionsTable") or []):
                    cond = self._transformation_condition(row, f"{path}.parameter.matchingConditionsTable[{j}]")
                    if cond is not None:
                        conditions.append(cond)
                if conditions:
                    native["conditions"] = conditions
                if p.get("booleanExpressionString"):
                    self.warn(f"{path}.parameter", "booleanExpressionString is not evaluated; the matching "
                                                   "conditions table is AND-ed")
            tags = []
            for j, row in enumerate(p.get("affectedTags") or []):
                ref = row.get("tagReference", row.get("tagName")) if isinstance(row, dict) else row
                if str(ref) not in tag_names:
                    self.warn(f"{path}.parameter.affectedTags[{j}]", f"no tag named {ref!r}; ignored")
                    continue
                tags.append(str(ref))
            types = [str(row.get("tagType")) for row in p.get("affectedTagTypes") or []
                     if isinstance(row, dict) and row.get("tagType")]
            if tags:
                native["affected_tags"] = tags
            if types:
                native["affected_tag_types"] = types
            if p.get("allTagsExcept") is True:
                native["all_tags_except"] = True
            priority = tf.get("priority", p.get("priority"))
            if priority not in (None, ""):
                try:
                    native["priority"] = int(str(param_value(priority) if isinstance(priority, dict) else priority))
                except ValueError:
                    self.warn(f"{path}.priority", f"not an integer: {priority!r}; 0 used")
            out.append(native)
        return out

    def _transformation_condition(self, row: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(row, dict):
            return None
        ref = str(row.get("variableReference") or "")
        match = _REF.match(ref)
        variable = match.group(1) if match else str(row.get("variableName") or "")
        if variable == "_event":
            variable = "Event Name"
        expression = str(row.get("expressionType") or "EQUALS")
        negate = expression.startswith("NOT_") or expression.startswith("DOES_NOT_")
        base = expression.removeprefix("NOT_").removeprefix("DOES_NOT_")
        op = operator_name(base) or operator_name(expression)
        if op is None or not variable:
            self.warn(path, f"matching condition {expression!r} on {ref or variable!r} not understood; ignored")
            return None
        out: dict[str, Any] = {"variable": variable, "operator": op, "value": str(row.get("expressionValue", ""))}
        if negate:
            out["negate"] = True
        return out

    # ------------------------------------------------------------------ tags
    def _native_note(self, name: str, tpl: dict[str, Any], profile: str) -> str:
        ref = tpl.get("galleryReference") or {}
        origin = f"{ref.get('owner')}/{ref.get('repository')}"
        note = (f"tag {name!r}: the published template {tpl.get('name')!r} ({origin}) runs natively as "
                f"tiktok_events_api, profile {profile!r} (--keep-templates runs the template itself)")
        version = TIKTOK_VERSIONS[profile]
        text = str(tpl.get("templateData") or "")
        if f"'{version}'" not in text and f'"{version}"' not in text:
            note += (f"; note: the export's template text does not carry gtmVersion {version!r}, the version the "
                     f"profile reproduces byte for byte")
        return note

    def _tags(self, trigger_names: dict[str, str]) -> list[dict[str, Any]]:
        out = []
        tag_names = {str(t.get("name")) for t in self.cv.get("tag") or [] if isinstance(t, dict)}
        for i, tag in enumerate(self.cv.get("tag") or []):
            path = f"$.containerVersion.tag[{i}]"
            name = str(tag.get("name") or f"tag {i}")
            ttype = tag.get("type")
            params = params_dict(tag.get("parameter"))
            native: dict[str, Any] = {"name": name}
            if ttype in GOOGLE_TAG_TYPES:
                native["type"] = ttype
                if ttype != "sgtmgaaw":
                    self.warn(f"{path}.type", f"Google tag type {ttype!r} is not emulated: when it fires its status "
                                              "is not_emulated, with what it would have read")
                if params:
                    native["parameters"] = params
            elif isinstance(ttype, str) and ttype.startswith("cvt_"):
                found = self._find_template(ttype, f"{path}.type")
                if found is None:
                    continue
                index, tpl = found
                ref = tpl.get("galleryReference") or {}
                profile = TIKTOK_GALLERY.get((str(ref.get("owner", "")), str(ref.get("repository", ""))))
                native["export_type"] = ttype
                if profile is not None and not self.keep_templates:
                    native["type"] = "tiktok_events_api"
                    native["parameters"] = {"profile": profile, **params}
                    self.notes.append(self._native_note(name, tpl, profile))
                else:
                    if profile is not None:
                        self.notes.append(f"tag {name!r}: the published template {tpl.get('name')!r} runs as the "
                                          f"template itself in the sandbox (--keep-templates)")
                    tpl_path = self._template_path(index, tpl, "TAG", f"{path}.type")
                    if tpl_path is None:
                        continue
                    native.update({"type": "template", "template": tpl_path, "parameters": params})
            else:
                native.update({"type": "not_emulated", "export_type": str(ttype)})
                if params:
                    native["parameters"] = params
                self.warn(f"{path}.type", f"tag type {ttype!r} (tag {name!r}) is not emulated: when it fires its "
                                          "status is not_emulated")
            firing = [self._trigger_ref(t, trigger_names, f"{path}.firingTriggerId[{j}]")
                      for j, t in enumerate(tag.get("firingTriggerId") or [])]
            blocking = [self._trigger_ref(t, trigger_names, f"{path}.blockingTriggerId[{j}]")
                        for j, t in enumerate(tag.get("blockingTriggerId") or [])]
            native["firing_triggers"] = [t for t in firing if t is not None]
            if blocking:
                native["blocking_triggers"] = [t for t in blocking if t is not None]
            if not firing:
                self.warn(f"{path}.firingTriggerId", f"tag {name!r} has no firing trigger and never fires")
            priority = tag.get("priority")
            if priority is not None:
                value = param_value(priority) if isinstance(priority, dict) else priority
                try:
                    native["priority"] = int(str(value))
                except ValueError:
                    self.problem(f"{path}.priority", f"not an integer: {value!r}")
            if tag.get("paused") in (True, "true"):
                native["paused"] = True
            option = tag.get("tagFiringOption")
            if option:
                if option not in _FIRING_OPTIONS:
                    self.problem(f"{path}.tagFiringOption", f"unknown firing option {option!r}")
                else:
                    native["firing_option"] = _FIRING_OPTIONS[option]
                    if option == "ONCE_PER_LOAD":
                        self.warn(f"{path}.tagFiringOption", "ONCE_PER_LOAD is web-only; treated as ONCE_PER_EVENT")
            for key, dst, flag in (("setupTag", "setup_tags", "stopOnSetupFailure"),
                                   ("teardownTag", "teardown_tags", "stopTeardownOnFailure")):
                steps = []
                for j, step in enumerate(tag.get(key) or []):
                    other = str((step or {}).get("tagName", ""))
                    if other not in tag_names:
                        self.problem(f"{path}.{key}[{j}].tagName", f"no tag named {other!r}")
                        continue
                    steps.append({"tag": other, "stop_on_failure": bool((step or {}).get(flag, False))})
                if steps:
                    native[dst] = steps
            consent = (tag.get("consentSettings") or {}).get("consentStatus", "NOT_SET")
            if consent != "NOT_SET":
                self.warn(f"{path}.consentSettings", f"consent status {consent} is a web feature; ignored")
            if tag.get("notes"):
                native["notes"] = str(tag["notes"])
            out.append(native)
        return out


def firestore_settings(p: dict[str, Any]) -> dict[str, Any]:
    """A Firestore Lookup's export parameters as the native variable (keys tried in order)."""
    native: dict[str, Any] = {"type": "firestore_lookup", "key_path": str(p.get("keyPath", ""))}
    lookup = str(p.get("lookupType", p.get("type", ""))).upper()
    if p.get("documentPath") and lookup != "COLLECTION":
        native["document_path"] = str(p["documentPath"])
    elif p.get("collectionPath"):
        native["collection_path"] = str(p["collectionPath"])
        conditions = []
        for row in p.get("queryConditions") or p.get("conditions") or []:
            if isinstance(row, dict):
                conditions.append({"field": str(row.get("field", row.get("fieldPath", ""))),
                                   "operator": str(row.get("operator", "==")), "value": row.get("value", "")})
        native["conditions"] = conditions
    return native


def convert(export: dict[str, Any], source: str, *, template_files: dict[str, str] | None = None,
            keep_templates: bool = False, notes: list[str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Export -> (native container dict, warnings). Raises ConfigError listing every problem.

    ``template_files``, when given, receives ``{path relative to the container: .tpl text}`` for the
    custom templates the container refers to. ``keep_templates`` runs the TikTok gallery templates as
    templates instead of the native tag; ``notes``, when given, receives one line per such tag saying
    which runs."""
    converter = _Converter(export, source, keep_templates)
    native = converter.run()
    if template_files is not None:
        template_files.update(converter.files)
    if notes is not None:
        notes.extend(converter.notes)
    return native, converter.warnings


def load_export(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read an export file; ConfigError when it is not JSON."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise ConfigError(Problem(str(p), "$", f"cannot read the export: {exc}")) from None
    if not isinstance(data, dict):
        raise ConfigError(Problem(str(p), "$", "an export must be a JSON object"))
    return data


def write_conversion(export_path: str | Path, out_path: str | Path, *, settings: dict[str, Any] | None = None,
                     keep_templates: bool = False, notes: list[str] | None = None
                     ) -> tuple[dict[str, Any], list[str]]:
    """Convert an export file and write the container JSON plus its ``templates/*.tpl`` next to it.
    ``settings`` are added to the container's settings (an export does not carry, e.g., the
    server container URL's ``path_prefix``); ``keep_templates`` and ``notes`` as in :func:`convert`."""
    files: dict[str, str] = {}
    native, warnings = convert(load_export(export_path), str(export_path), template_files=files,
                               keep_templates=keep_templates, notes=notes)
    if settings:
        native["settings"] = {**native.get("settings", {}), **settings}
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        target = out.parent / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    out.write_text(json.dumps(native, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return native, warnings
