"""The permissions a template declares in ``___SERVER_PERMISSIONS___`` (docs/templates.md, "Permissions").

:class:`Permissions` turns the declarations into plain Python values and answers, for each sandbox
API call, whether the template may make it. A refused call raises :class:`PermissionDenied`;
depending on the enforcement mode the sandbox then throws in JS (``error``, like GTM), records a
warning and lets the call proceed (``warn``) or does not check at all (``off``).

Choices on uncertain points (each easy to change):

* ``DEFAULT_ENFORCEMENT`` is ``error``: GTM throws on every violation and the tag fails. The
  reference suggests ``warn`` as the emulator's default; the project chose GTM's behaviour so that a
  template that would fail in production fails locally too. Pass ``enforce="warn"`` to relax it.
* ``read_request`` with ``requestAccess: specific``: headers follow ``headersAllowed`` /
  ``headerAccess`` / ``headerWhitelist``; query parameters follow ``queryParametersAllowed`` /
  ``queryParameterAccess`` / ``queryParameterWhitelist``; body, path, method and remote address follow
  ``bodyAllowed``, ``pathAllowed``, ``requestMethodAllowed``, ``remoteAddressAllowed``. A flag that is
  not declared at all is treated as allowed (the real parameter names are not all known). A
  query-parameter grant names its parameter under ``queryParameter`` (what GTM exports carry) or
  ``queryParameterName`` (``QUERY_PARAMETER_KEYS``).
* ``send_http`` with ``allowGoogleDomains: true`` also allows https requests to Google's domains
  (``GOOGLE_DOMAINS`` and their subdomains: an approximation of "Google domains", which GTM does not list).
* ``read_event_data`` key patterns: ``*`` matches any run of characters, and a pattern ``a.b`` also
  grants the keys below it (``a.b.c``). ``getAllEventData`` needs ``eventDataAccess: any``.
* ``get_client_name`` is not required (it is uncertain that the permission exists).
* ``access_bigquery``: a call must match one ``allowedTables`` entry (``projectId``, ``datasetId``,
  ``tableId``, each ``*`` or exact; ``operation`` ``write`` for ``BigQuery.insert``); a declaration with
  no table entries allows no table. A missing ``projectId`` in the call (GTM then uses the project
  the container runs in) matches only a ``*`` entry (``BIGQUERY_DEFAULT_PROJECT``).
* ``access_response`` with ``writeResponseAccess: specific`` checks status, header (against
  ``writeHeaderWhitelist`` when ``writeHeaderAccess`` is ``specific``) and body writes;
  ``setPixelResponse`` counts as a status and body write (its fixed headers are not checked).
* ``queryPermission(permission, ...args)`` answers from the declarations whatever the enforcement
  mode; an unknown permission answers ``false``. Its arguments per permission are in
  ``Permissions.query``.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any
from urllib.parse import urlsplit

from ..errors import PermissionDenied

ENFORCEMENT_MODES = ("off", "warn", "error")
# The key that names a query parameter in read_request's queryParameterWhitelist: templates exported
# by GTM carry ``queryParameter``; ``queryParameterName`` is accepted too.
QUERY_PARAMETER_KEYS = ("queryParameter", "queryParameterName")
# What send_http's ``allowGoogleDomains`` lets a template reach (each domain and its subdomains).
GOOGLE_DOMAINS = ("google.com", "googleapis.com", "google-analytics.com", "googletagmanager.com",
                  "doubleclick.net", "googleadservices.com", "googlesyndication.com", "gstatic.com",
                  "googleusercontent.com", "withgoogle.com", "youtube.com", "googletagservices.com")
DEFAULT_ENFORCEMENT = "error"
BIGQUERY_DEFAULT_PROJECT = ""  # what an omitted projectId is compared with (only "*" matches it)


def param_value(value: Any) -> Any:
    """A permission parameter value (type codes 1 string, 2 list, 3 map, 8 boolean) as Python."""
    if not isinstance(value, dict):
        return value
    code = value.get("type")
    if code == 1:
        return value.get("string", "")
    if code == 2:
        return [param_value(v) for v in value.get("listItem") or []]
    if code == 3:
        keys = value.get("mapKey") or []
        vals = value.get("mapValue") or []
        return {param_value(k): param_value(v) for k, v in zip(keys, vals, strict=False)}
    if code == 8:
        return bool(value.get("boolean"))
    for key in ("string", "boolean", "listItem"):
        if key in value:
            return param_value({"type": {"string": 1, "boolean": 8, "listItem": 2}[key], key: value[key]})
    return None


def parse_permissions(raw: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``[{instance: {key: {publicId}, param: [...]}}]`` -> ``{publicId: {param key: value}}``."""
    out: dict[str, dict[str, Any]] = {}
    for entry in raw or []:
        instance = entry.get("instance", {}) if isinstance(entry, dict) else {}
        pid = instance.get("key", {}).get("publicId")
        if not isinstance(pid, str):
            continue
        params: dict[str, Any] = {}
        for p in instance.get("param") or []:
            if isinstance(p, dict) and "key" in p:
                params[p["key"]] = param_value(p.get("value"))
        out[pid] = params
    return out


def url_allowed(url: str, pattern: str) -> bool:
    """``send_http`` URL patterns: scheme and host must match (``*`` within the host matches
    sub-domains), and the path must match with ``*`` as any run of characters. A pattern ending in
    ``/`` grants that path prefix."""
    try:
        u = urlsplit(url)
        p = urlsplit(pattern)
    except ValueError:
        return False
    if (u.scheme or "").lower() != (p.scheme or "").lower():
        return False
    host_pattern = (p.hostname or "").lower()
    host = (u.hostname or "").lower()
    if not _glob(host, host_pattern):
        if not (host_pattern.startswith("*.") and host == host_pattern[2:]):
            return False
    if p.port is not None and p.port != u.port:
        return False
    path_pattern = p.path or "/"
    path = u.path or "/"
    if "*" not in path_pattern:
        return path.startswith(path_pattern) if path_pattern.endswith("/") else path == path_pattern
    return _glob(path, path_pattern)


def _glob(text: str, pattern: str) -> bool:
    regex = "".join(".*" if ch == "*" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


def key_allowed(key: str, patterns: list[Any]) -> bool:
    for pattern in patterns:
        pattern = str(pattern)
        if _glob(key, pattern) or key.startswith(pattern + "."):
            return True
    return False


def _specific_list(values: Any, *item_keys: str) -> list[str]:
    """The names of a specific-access list: each item is a name or a map holding it under the first
    of ``item_keys`` present."""
    out = []
    for v in values or []:
        if isinstance(v, dict):
            out.append(str(next((v[k] for k in item_keys if k in v), "")))
        else:
            out.append(str(v))
    return out


def is_google_domain(url: str) -> bool:
    """Whether an https URL's host is one of ``GOOGLE_DOMAINS`` or a subdomain of one."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and any(host == d or host.endswith("." + d) for d in GOOGLE_DOMAINS)


class Permissions:
    """The declared permissions of one template, with one check per gated API."""

    def __init__(self, raw: list[dict[str, Any]], enforce: str = DEFAULT_ENFORCEMENT):
        if enforce not in ENFORCEMENT_MODES:
            raise ValueError(f"enforce must be one of {', '.join(ENFORCEMENT_MODES)}, not {enforce!r}")
        self.granted = parse_permissions(raw)
        self.enforce = enforce

    def _need(self, pid: str, api: str) -> dict[str, Any]:
        if pid not in self.granted:
            raise PermissionDenied(f"{api}: the template does not declare the {pid!r} permission")
        return self.granted[pid]

    def require(self, pid: str, api: str) -> None:
        self._need(pid, api)

    # ------------------------------------------------------------------ event data
    def read_event_data(self, api: str, key: str | None) -> None:
        params = self._need("read_event_data", api)
        if params.get("eventDataAccess", "any") == "any":
            return
        if key is None:
            raise PermissionDenied(f"{api}: read_event_data allows specific keys only, not all event data")
        if not key_allowed(key, params.get("keyPatterns") or []):
            raise PermissionDenied(f"{api}: reading event data key {key!r} is not allowed by read_event_data")

    # ------------------------------------------------------------------ request
    def read_request(self, api: str, what: str, name: str | None = None) -> None:
        """``what``: header, query, body, path, method, remote_address, query_string."""
        params = self._need("read_request", api)
        if params.get("requestAccess", "any") == "any":
            return
        flags = {"body": "bodyAllowed", "path": "pathAllowed", "method": "requestMethodAllowed",
                 "remote_address": "remoteAddressAllowed", "query_string": "queryParametersAllowed"}
        if what in flags:
            if params.get(flags[what]) is False:
                raise PermissionDenied(f"{api}: read_request does not allow reading the request {what}")
            return
        if what == "header":
            if params.get("headersAllowed") is False:
                raise PermissionDenied(f"{api}: read_request does not allow reading request headers")
            if params.get("headerAccess", "any") == "specific":
                allowed = [h.lower() for h in _specific_list(params.get("headerWhitelist"), "headerName")]
                if (name or "").lower() not in allowed:
                    raise PermissionDenied(f"{api}: reading request header {name!r} is not allowed by read_request")
            return
        if what == "query":
            if params.get("queryParametersAllowed") is False:
                raise PermissionDenied(f"{api}: read_request does not allow reading query parameters")
            if params.get("queryParameterAccess", "any") == "specific":
                allowed = _specific_list(params.get("queryParameterWhitelist"), *QUERY_PARAMETER_KEYS)
                if name is None or name not in allowed:
                    what_name = "all query parameters" if name is None else f"query parameter {name!r}"
                    raise PermissionDenied(f"{api}: reading {what_name} is not allowed by read_request")

    # ------------------------------------------------------------------ cookies
    def get_cookies(self, api: str, name: str) -> None:
        params = self._need("get_cookies", api)
        if params.get("cookieAccess", "any") == "any":
            return
        if name not in [str(n) for n in params.get("cookieNames") or []]:
            raise PermissionDenied(f"{api}: reading cookie {name!r} is not allowed by get_cookies")

    def set_cookies(self, api: str, name: str, options: dict[str, Any]) -> None:
        params = self._need("set_cookies", api)
        opts = {str(k).lower(): v for k, v in (options or {}).items()}
        domain = str(opts.get("domain") or "")
        path = str(opts.get("path") or "/")
        secure = bool(opts.get("secure"))
        session = "max-age" not in opts and "expires" not in opts
        for rule in params.get("allowedCookies") or []:
            if not isinstance(rule, dict):
                continue
            if not _wild(str(rule.get("name", "")), name):
                continue
            if not _wild(str(rule.get("domain", "*")), domain):
                continue
            if not _wild(str(rule.get("path", "*")), path):
                continue
            rs = str(rule.get("secure", "any")).lower()
            if (rs == "secure" and not secure) or (rs in ("non_secure", "non-secure") and secure):
                continue
            rsess = str(rule.get("session", "any")).lower()
            if (rsess == "session" and not session) or (rsess in ("non_session", "non-session") and session):
                continue
            return
        raise PermissionDenied(f"{api}: setting cookie {name!r} (domain {domain or 'host-only'!r}, path {path!r}) "
                               "is not allowed by set_cookies")

    # ------------------------------------------------------------------ http
    def send_http(self, api: str, url: str) -> None:
        params = self._need("send_http", api)
        if params.get("allowedUrls", "any") == "any":
            return
        if params.get("allowGoogleDomains") is True and is_google_domain(url):
            return
        if not any(url_allowed(url, str(p)) for p in params.get("urls") or []):
            raise PermissionDenied(f"{api}: sending to {url!r} is not allowed by send_http")

    def access_response(self, api: str, what: str, header: str | None = None) -> None:
        """``what``: status, header or body. With ``writeResponseAccess: specific`` the flags
        ``writeStatusAllowed`` / ``writeHeadersAllowed`` / ``writeBodyAllowed`` apply (an undeclared flag
        allows, as for ``read_request``), and ``writeHeaderAccess: specific`` limits headers to
        ``writeHeaderWhitelist`` (names compared case-insensitively)."""
        params = self._need("access_response", api)
        if params.get("writeResponseAccess", "any") == "any":
            return
        flag = {"status": "writeStatusAllowed", "header": "writeHeadersAllowed", "body": "writeBodyAllowed"}[what]
        if params.get(flag) is False:
            raise PermissionDenied(f"{api}: access_response does not allow writing the response {what}")
        if what == "header" and params.get("writeHeaderAccess", "any") == "specific":
            allowed = [h.lower() for h in _specific_list(params.get("writeHeaderWhitelist"), "headerName")]
            if (header or "").lower() not in allowed:
                raise PermissionDenied(f"{api}: writing response header {header!r} is not allowed by access_response")

    def bigquery(self, api: str, operation: str, project: str, dataset: str, table: str) -> None:
        params = self._need("access_bigquery", api)
        for rule in params.get("allowedTables") or []:
            if not isinstance(rule, dict):
                continue
            if str(rule.get("operation", "write")).lower() != operation:
                continue
            wanted = [(rule.get("projectId", "*"), project), (rule.get("datasetId", "*"), dataset),
                      (rule.get("tableId", "*"), table)]
            if all(str(pattern) == "*" or str(pattern) == value for pattern, value in wanted):
                return
        where = ".".join(part or "(default project)" for part in (project, dataset, table))
        raise PermissionDenied(f"{api}: {operation} to BigQuery table {where!r} is not allowed by access_bigquery")

    def query(self, pid: str, args: list[Any]) -> bool:
        """``queryPermission(pid, ...args)``: whether the declarations allow the call the arguments
        describe (``read_request`` takes a component such as ``header`` and a name; ``send_http`` a URL;
        ``get_cookies`` a name; ``set_cookies`` a name and options; ``read_event_data`` a key path;
        ``access_bigquery`` an operation, project, dataset and table). Never raises."""
        def arg(i: int) -> str:
            return str(args[i]) if i < len(args) and args[i] is not None else ""

        api = "queryPermission"
        try:
            if pid == "read_event_data":
                self.read_event_data(api, arg(0) or None)
            elif pid == "read_request":
                component = {"queryParameter": "query", "queryString": "query_string",
                             "remoteAddress": "remote_address", "requestMethod": "method"}.get(arg(0), arg(0))
                self.read_request(api, component, arg(1) or None)
            elif pid == "send_http":
                self.send_http(api, arg(0))
            elif pid == "get_cookies":
                self.get_cookies(api, arg(0))
            elif pid == "set_cookies":
                options = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
                self.set_cookies(api, arg(0), options)
            elif pid == "access_response" and arg(0) in ("status", "header", "body"):
                self.access_response(api, arg(0), arg(1) or None)
            elif pid == "access_bigquery":
                self.bigquery(api, arg(0) or "write", arg(1), arg(2), arg(3))
            else:
                self._need(pid, api)
        except PermissionDenied:
            return False
        return True

    def logging(self, api: str, debug: bool) -> bool:
        """Whether ``logToConsole`` output is shown: needs ``logging``; ``environments: debug`` shows
        it only in preview/debug mode."""
        params = self._need("logging", api)
        env = str(params.get("environments", "debug")).lower()
        return debug or env == "all"


def _wild(pattern: str, value: str) -> bool:
    if pattern in ("*", "any", ""):
        return True
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())
