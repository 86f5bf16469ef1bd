"""The sandbox APIs implemented in Python (docs/templates.md, "Supported sandbox APIs and fidelity"), on top
of the project's core.

:class:`SandboxEnv` is what one template run may see and do: event data, the incoming request, the
clock, the random source, outgoing HTTP, cookies, the response, the console and the template's
storage. :class:`Host` dispatches the JS side's calls (``__host(name, argsJson)``), checks the
template's permissions and never lets a Python exception escape into the engine.

Choices on uncertain points (named constants, easy to change):

* ``ENVIRONMENT_MODE``: ``getContainerVersion().environmentMode`` is ``"debug"`` in preview/debug and
  ``"live"`` otherwise.
* ``makeInteger`` truncates toward zero (``gtm_emulator.core.js.to_integer``).
* ``fromBase64`` accepts the standard and the URL-safe alphabet, with or without padding, and decodes
  the bytes as UTF-8 (invalid sequences become U+FFFD).
* The legacy callback form of ``sendHttpRequest`` gets status 0, ``{}`` and ``""`` on a network
  failure or timeout (done on the JS side).
* ``hmacSha256`` keys come from ``SandboxEnv.hmac_keys`` (``{keyId: secret}``); an unknown key throws.
* ``setResponseStatus`` with a code outside ``RESPONSE_STATUS_RANGE`` (100-599) throws into the
  template. sGTM's Node server cannot send such a status either (its exact reaction is not documented);
  here a client template then ends as a 502 with the reason, instead of a broken status line. A
  published client that copies the status of a failed ``sendHttpGet`` (0) hits this.
* Google Cloud APIs are fakes: ``BigQuery.insert`` records the rows and resolves, ``Firestore`` is an
  in-memory document store per environment, ``getGoogleAuth`` returns a dummy object. Each use adds a
  note saying a fake was used.
* ``BigQuery.insert`` also takes the first sandbox release's callbacks,
  ``insert(connection, rows, options, onSuccess, onFailure)``: ``onSuccess()`` runs when the fake insert
  succeeds (``LEGACY_BIGQUERY_CALLBACKS`` in ``prelude.js``), besides the returned promise resolving.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from ..core import js
from ..core.event_data import get_path
from ..core.js import UNDEFINED
from ..core.regex import compile_pattern
from ..core.request import Request, client_address, decode_component_lenient, registrable_domain
from ..core.url import parse_url as url_parts
from ..core.variables import strip_path_prefix
from ..errors import SandboxThrow
from ..vendors.transport import DEFAULT_TIMEOUT_S, HttpResponse, TransportError
from .permissions import PermissionDenied, Permissions
from .values import decode, encode

ENVIRONMENT_MODE = {True: "debug", False: "live"}

# (method, url, headers, body, timeout seconds) -> response, or TransportError
SendFn = Callable[[str, str, dict[str, str], bytes, float], HttpResponse]


@dataclass
class SandboxEnv:
    """What a template run may read and do."""

    event_data: dict[str, Any] = field(default_factory=dict)
    request: Request | None = None
    client_name: str | None = None
    container_id: str = "GTM-EMULATOR"
    version: str = "0"
    environment_name: str = ""
    debug_mode: bool = True
    preview_mode: bool = True
    now: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    send: SendFn | None = None
    set_cookie: Callable[[str, str, dict[str, Any], bool], None] | None = None
    response: Any = None
    storage: dict[str, Any] = field(default_factory=dict)
    firestore: dict[str, dict[str, Any]] = field(default_factory=dict)
    hmac_keys: dict[str, str] = field(default_factory=dict)
    trusted_proxies: tuple[str, ...] = ()
    path_prefix: str = ""  # the server container URL's path, removed by getRequestPath
    pixel_urls: list[str] | None = None  # where sendPixelFromBrowser puts URLs; None: not supported here
    pixel_refusal: str = "the request does not support sendPixelFromBrowser"  # the note when it is None
    http_timeout: float = DEFAULT_TIMEOUT_S
    is_client: bool = False
    client: Any = None  # a client run's hooks: claim_request(), return_response(), run_container(event)
    console: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    bigquery_rows: list[dict[str, Any]] = field(default_factory=list)
    analytics_events: list[Any] = field(default_factory=list)


# APIs whose result depends on the environment; in template tests an unmocked call is noted.
ENV_APIS = frozenset({
    "getAllEventData", "getEventData", "getClientName", "getContainerVersion", "getRequestMethod",
    "getRequestPath", "getRequestQueryString", "getRequestQueryParameter", "getRequestQueryParameters",
    "getRequestHeader", "getRequestBody", "getRemoteAddress", "getCookieValues", "setCookie",
    "sendHttpRequest", "getTimestampMillis", "getTimestamp", "generateRandom", "BigQuery.insert",
    "Firestore.read", "Firestore.write", "Firestore.query", "sendEventToGoogleAnalytics",
    "setResponseStatus", "setResponseHeader", "setResponseBody", "setPixelResponse", "returnResponse",
    "claimRequest",
})

_URI_RESERVED = set(";/?:@&=+$,#")
_ENCODE_URI_SAFE = "-_.!~*'();/?:@&=+$,#"
_ENCODE_COMPONENT_SAFE = "-_.!~*'()"
RESPONSE_STATUS_RANGE = (100, 599)
_PIXEL = base64.b64decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")


def _opt(options: Any, key: str, default: Any = None) -> Any:
    return options.get(key, default) if isinstance(options, dict) else default


def decode_uri(text: str, component: bool) -> Any:
    """JS ``decodeURI`` / ``decodeURIComponent``; UNDEFINED on malformed input."""
    if not component:
        # keep escapes of reserved characters, as decodeURI does
        def keep(m: re.Match[str]) -> str:
            ch = chr(int(m.group(1), 16))
            return "\u0000" + m.group(0)[1:] if ch in _URI_RESERVED else m.group(0)

        protected = re.sub(r"%([0-9A-Fa-f]{2})", keep, text)
        if "\u0000" in text:
            return UNDEFINED
        decoded = decode_component_lenient(protected)
        return UNDEFINED if decoded is None else decoded.replace("\u0000", "%")
    decoded = decode_component_lenient(text)
    return UNDEFINED if decoded is None else decoded


def encode_uri(text: str, component: bool) -> Any:
    try:
        return quote(text.encode("utf-8"), safe=_ENCODE_COMPONENT_SAFE if component else _ENCODE_URI_SAFE)
    except UnicodeEncodeError:  # lone surrogate: JS throws URIError
        return UNDEFINED


def parse_url(url: Any) -> Any:
    """``parseUrl``: the parts of :func:`gtm_emulator.core.url.parse_url`, UNDEFINED for a relative or bad URL."""
    parts = url_parts(url)
    return UNDEFINED if parts is None else parts


def make_table_map(rows: Any, key_column: Any, value_column: Any) -> Any:
    if not isinstance(rows, list):
        return None
    out: dict[str, Any] = {}
    for row in rows:
        if isinstance(row, dict) and key_column in row:
            out[js.to_string(row[key_column])] = row.get(value_column, UNDEFINED)
    return out or None


class Host:
    """Dispatches the sandbox's calls into Python."""

    def __init__(self, env: SandboxEnv, permissions: Permissions, storage_key: str = "",
                 test_mode: bool = False):
        self.env = env
        self.perms = permissions
        self.test_mode = test_mode
        self.regexes: list[dict[str, Any]] = []
        self.mocked: set[str] = set()
        self.listening: set[str] = set()
        self.on_message: Callable[[str, Any], Any] | None = None  # set by a sandbox on a message bus
        self.listened_elsewhere: Callable[[str], bool] | None = None
        self.unmocked: list[str] = []
        self.apis: dict[str, Callable[..., Any]] = {
            "__permission": self._permission,
            "__mocked": self._mocked,
            "__listen": lambda message_type: self.listening.add(js.to_string(message_type)),
            "__sendMessage": self._send_message,
            "__listenedElsewhere": lambda message_type: bool(self.listened_elsewhere
                                                             and self.listened_elsewhere(js.to_string(message_type))),
            "queryPermission": lambda pid=UNDEFINED, *args: self.perms.query(js.to_string(pid), list(args)),
            "getAllEventData": self.get_all_event_data,
            "getEventData": self.get_event_data,
            "getClientName": lambda: env.client_name if env.client_name is not None else UNDEFINED,
            "getContainerVersion": self.get_container_version,
            "getRequestMethod": lambda: self._req("getRequestMethod", "method").method,
            "getRequestPath": lambda: strip_path_prefix(self._req("getRequestPath", "path").path, env.path_prefix),
            "getRequestQueryString": lambda: self._req("getRequestQueryString", "query_string").query,
            "getRequestQueryParameter": self.get_query_parameter,
            "getRequestQueryParameters": self.get_query_parameters,
            "getRequestHeader": self.get_request_header,
            "getRequestBody": self.get_request_body,
            "getRemoteAddress": lambda: client_address(self._req("getRemoteAddress", "remote_address"),
                                                       env.trusted_proxies),
            "getCookieValues": self.get_cookie_values,
            "isRequestMpv1": lambda: False,
            "isRequestMpv2": self.is_request_mpv2,
            "extractEventsFromMpv1": self._not_mp,
            "extractEventsFromMpv2": self.extract_events_from_mpv2,
            "setCookie": self.set_cookie,
            "sendHttpRequest": self.send_http_request,
            "sha256Sync": self.sha256_sync,
            "hmacSha256": self.hmac_sha256,
            "toBase64": self.to_base64,
            "fromBase64": self.from_base64,
            "encodeUri": lambda t=UNDEFINED: encode_uri(js.to_string(t), False),
            "encodeUriComponent": lambda t=UNDEFINED: encode_uri(js.to_string(t), True),
            "decodeUri": lambda t=UNDEFINED: decode_uri(js.to_string(t), False),
            "decodeUriComponent": lambda t=UNDEFINED: decode_uri(js.to_string(t), True),
            "parseUrl": lambda u=UNDEFINED, *_: parse_url(u),
            "computeEffectiveTldPlusOne": self.etld_plus_one,
            "makeString": lambda v=UNDEFINED, *_: js.to_string(v),
            "makeNumber": lambda v=UNDEFINED, *_: js.to_number(v),
            "makeInteger": lambda v=UNDEFINED, *_: js.to_integer(v),
            "makeTableMap": lambda rows=UNDEFINED, k=UNDEFINED, v=UNDEFINED, *_: make_table_map(rows, k, v),
            "getTimestampMillis": lambda: int(env.now * 1000),
            "getTimestamp": lambda: int(env.now * 1000),
            "generateRandom": self.generate_random,
            "logToConsole": self.log_to_console,
            "claimRequest": self.claim_request,
            "returnResponse": self.return_response,
            "setResponseStatus": self.set_response_status,
            "setResponseHeader": self.set_response_header,
            "setResponseBody": self.set_response_body,
            "setPixelResponse": self.set_pixel_response,
            "sendPixelFromBrowser": self.send_pixel_from_browser,
            "getGoogleAuth": self.get_google_auth,
            "createRegex": self.create_regex,
            "testRegex": self.test_regex,
            "runContainer": self.run_container,
            "addEventCallback": self.add_event_callback,
            "sendEventToGoogleAnalytics": self.send_event_to_ga,
            "templateDataStorage.getItemCopy": self.storage_get,
            "templateDataStorage.setItemCopy": self.storage_set,
            "templateDataStorage.removeItem": self.storage_remove,
            "templateDataStorage.clear": self.storage_clear,
            "BigQuery.insert": self.bigquery_insert,
            "Firestore.read": self.firestore_read,
            "Firestore.write": self.firestore_write,
            "Firestore.query": self.firestore_query,
        }

    # ------------------------------------------------------------------ dispatch
    def dispatch(self, name: str, args_json: str) -> str:
        """Called from JS; returns ``{"v": value}`` or ``{"e": message}`` as JSON text. Never raises."""
        try:
            fn = self.apis.get(name)
            if fn is None:
                return encode({"e": f"{name} is not supported by the emulator"})
            args = decode(args_json)
            if self.test_mode and name in ENV_APIS and name not in self.unmocked:
                self.unmocked.append(name)
            return encode({"v": fn(*args)})
        except PermissionDenied as exc:
            return encode({"e": f"Permission denied: {exc}"})
        except SandboxThrow as exc:
            return encode({"e": str(exc)})
        except Exception as exc:  # a bug or bad input must not crash the engine
            return encode({"e": f"{name} failed: {type(exc).__name__}: {exc}"})

    def check(self, fn: Callable[..., None], *args: Any) -> None:
        """Run a permission check under the enforcement mode."""
        if self.perms.enforce == "off":
            return
        try:
            fn(*args)
        except PermissionDenied as exc:
            if self.perms.enforce == "error":
                raise
            self.env.warnings.append(f"permission not declared (allowed in warn mode): {exc}")

    def _permission(self, pid: str, api: str) -> None:
        self.check(self.perms.require, pid, api)

    def _mocked(self, name: str) -> None:
        self.mocked.add(name)

    def _send_message(self, message_type: Any, message: Any) -> None:
        if self.on_message is not None:
            self.on_message(js.to_string(message_type), message)

    # ------------------------------------------------------------------ event data, container
    def get_all_event_data(self) -> Any:
        self.check(self.perms.read_event_data, "getAllEventData", None)
        return copy.deepcopy(self.env.event_data)

    def get_event_data(self, key: Any = UNDEFINED, *_: Any) -> Any:
        key_path = js.to_string(key)
        self.check(self.perms.read_event_data, "getEventData", key_path)
        return copy.deepcopy(get_path(self.env.event_data, key_path))

    def get_container_version(self) -> Any:
        self.check(self.perms.require, "read_container_data", "getContainerVersion")
        env = self.env
        return {"containerId": env.container_id, "debugMode": env.debug_mode,
                "environmentName": env.environment_name,
                "environmentMode": ENVIRONMENT_MODE[env.debug_mode or env.preview_mode],
                "previewMode": env.preview_mode, "version": env.version}

    # ------------------------------------------------------------------ request
    def _req(self, api: str, what: str, name: str | None = None) -> Request:
        self.check(self.perms.read_request, api, what, name)
        if self.env.request is None:
            return Request.build("GET", "/")
        return self.env.request

    def _query_pairs(self, request: Request) -> list[tuple[str, str]]:
        pairs = []
        for piece in request.query.split("&") if request.query else []:
            if not piece:
                continue
            name, _, value = piece.partition("=")
            key = decode_component_lenient(name.replace("+", " "))
            val = decode_component_lenient(value.replace("+", " "))
            pairs.append((name if key is None else key, value if val is None else val))
        return pairs

    def get_query_parameter(self, name: Any = UNDEFINED, *_: Any) -> Any:
        key = js.to_string(name)
        request = self._req("getRequestQueryParameter", "query", key)
        for k, v in self._query_pairs(request):
            if k == key:
                return v
        return UNDEFINED

    def get_query_parameters(self) -> Any:
        request = self._req("getRequestQueryParameters", "query", None)
        out: dict[str, Any] = {}
        for k, v in self._query_pairs(request):
            if k in out:
                prev = out[k]
                out[k] = [*prev, v] if isinstance(prev, list) else [prev, v]
            else:
                out[k] = v
        return out

    def get_request_header(self, name: Any = UNDEFINED, *_: Any) -> Any:
        key = js.to_string(name)
        value = self._req("getRequestHeader", "header", key).header(key)
        return UNDEFINED if value is None else value

    def get_request_body(self) -> Any:
        request = self._req("getRequestBody", "body")
        return request.body.decode("utf-8", "replace") if request.body else UNDEFINED

    def get_cookie_values(self, name: Any = UNDEFINED, no_decode: Any = False, *_: Any) -> Any:
        key = js.to_string(name)
        self.check(self.perms.get_cookies, "getCookieValues", key)
        if self.env.request is None:
            return []
        return self.env.request.cookie_values(key, decode=not js.truthy(no_decode))

    def is_request_mpv2(self) -> bool:
        request = self.env.request
        return bool(request and request.method == "POST" and request.path.endswith("/mp/collect"))

    def _not_mp(self) -> Any:
        raise SandboxThrow("the request is not a Measurement Protocol request")

    def extract_events_from_mpv2(self) -> Any:
        if not self.is_request_mpv2():
            self._not_mp()
        request = self.env.request
        assert request is not None
        from ..clients import measurement_protocol

        events = measurement_protocol.parse(request.method, request.path, request.query, request.body,
                                            dict(request.headers), request.remote_addr)
        return events

    # ------------------------------------------------------------------ response side
    def set_cookie(self, name: Any = UNDEFINED, value: Any = UNDEFINED, options: Any = UNDEFINED,
                   no_encode: Any = False, *_: Any) -> None:
        opts = options if isinstance(options, dict) else {}
        opts = {k: v for k, v in opts.items() if v is not UNDEFINED}
        self.check(self.perms.set_cookies, "setCookie", js.to_string(name), opts)
        if self.env.set_cookie is None:
            self.env.warnings.append(f"setCookie({js.to_string(name)!r}): no response to set it on")
            return
        self.env.set_cookie(js.to_string(name), js.to_string(value), opts, js.truthy(no_encode))

    def _response(self, api: str, *writes: str, header: str | None = None) -> Any:
        self.check(self.perms.require, "access_response", api)
        for what in writes:
            self.check(self.perms.access_response, api, what, header)
        if self.env.response is None:
            raise SandboxThrow(f"{api}: there is no response to write")
        return self.env.response

    def set_response_status(self, code: Any = UNDEFINED, *_: Any) -> None:
        response = self._response("setResponseStatus", "status")
        status = int(js.to_integer(code))
        low, high = RESPONSE_STATUS_RANGE
        if not low <= status <= high:
            raise SandboxThrow(f"setResponseStatus: {js.to_string(code)} is not an HTTP status code "
                               f"({low}-{high})")
        response.status = status

    def set_response_header(self, name: Any = UNDEFINED, value: Any = UNDEFINED, *_: Any) -> None:
        response = self._response("setResponseHeader", "header", header=js.to_string(name))
        key = js.to_string(name).lower()
        if value is None or value is UNDEFINED:
            response.headers.pop(key, None)
        else:
            response.headers[key] = js.to_string(value)

    def set_response_body(self, body: Any = UNDEFINED, encoding: Any = "utf8", *_: Any) -> None:
        response = self._response("setResponseBody", "body")
        text = js.to_string(body)
        enc = js.to_string(encoding).lower() if encoding is not UNDEFINED else "utf8"
        if enc == "base64":
            response.body = base64.b64decode(text + "=" * (-len(text) % 4))
        elif enc == "hex":
            response.body = bytes.fromhex(text)
        elif enc in ("latin1", "binary"):
            response.body = text.encode("latin-1", "replace")
        elif enc == "ascii":
            response.body = text.encode("ascii", "replace")
        elif enc in ("utf16le", "ucs2"):
            response.body = text.encode("utf-16-le")
        else:
            response.body = text.encode("utf-8")

    def set_pixel_response(self) -> None:
        response = self._response("setPixelResponse", "status", "body")
        response.status = 200
        response.body = _PIXEL
        response.headers.update({"content-type": "image/gif", "cache-control": "no-store, no-cache, must-revalidate",
                                 "pragma": "no-cache", "expires": "Fri, 01 Jan 1990 00:00:00 GMT"})

    def claim_request(self) -> None:
        if not self.env.is_client or self.env.client is None:
            raise SandboxThrow("claimRequest can only be called by a client")
        self.env.client.claim_request()

    def return_response(self) -> None:
        self.check(self.perms.require, "return_response", "returnResponse")
        if self.env.client is None:
            self.env.notes.append("returnResponse called; the emulator sends the response when the client finishes")
            return
        self.env.client.return_response()

    def run_container(self, event: Any = UNDEFINED, *_: Any) -> Any:
        self.check(self.perms.require, "run_container", "runContainer")
        if not self.env.is_client or self.env.client is None:
            raise SandboxThrow("runContainer can only be called by a client")
        return self.env.client.run_container(event)

    def send_pixel_from_browser(self, url: Any = UNDEFINED, *_: Any) -> bool:
        self.check(self.perms.require, "send_pixel_from_browser", "sendPixelFromBrowser")
        target = js.to_string(url)
        if self.env.pixel_urls is None:
            self.env.notes.append(f"sendPixelFromBrowser({target!r}) returned false: {self.env.pixel_refusal}")
            return False
        self.env.pixel_urls.append(target)
        self.env.notes.append(f"sendPixelFromBrowser({target!r}): the URL goes to the browser in the GA4 "
                              "client's event-stream reply")
        return True

    def add_event_callback(self) -> None:
        self.check(self.perms.require, "read_event_metadata", "addEventCallback")

    def send_event_to_ga(self, event: Any = UNDEFINED, *_: Any) -> Any:
        self.env.analytics_events.append(event)
        self.env.notes.append("sendEventToGoogleAnalytics: faked (event recorded, nothing sent)")
        return {}

    # ------------------------------------------------------------------ outgoing HTTP
    def send_http_request(self, url: Any = UNDEFINED, options: Any = UNDEFINED, body: Any = UNDEFINED) -> Any:
        target = js.to_string(url)
        self.check(self.perms.send_http, "sendHttpRequest", target)
        method = js.to_string(_opt(options, "method", "GET")).upper()
        headers_in = _opt(options, "headers", {})
        headers = {str(k): js.to_string(v) for k, v in (headers_in.items() if isinstance(headers_in, dict) else [])
                   if v is not UNDEFINED}
        timeout_ms = _opt(options, "timeout", UNDEFINED)
        timeout = self.env.http_timeout
        if timeout_ms is not UNDEFINED and js.to_number(timeout_ms) == js.to_number(timeout_ms):
            timeout = max(0.001, float(js.to_number(timeout_ms)) / 1000)
        payload = b"" if body is UNDEFINED or body is None else js.to_string(body).encode("utf-8")
        if self.env.send is None:
            self.env.warnings.append(f"sendHttpRequest({target!r}): no transport; the request failed")
            return {"reason": "failed"}
        try:
            resp = self.env.send(method, target, headers, payload, timeout)
        except TransportError as exc:
            return {"reason": exc.reason}
        return {"statusCode": resp.status, "headers": {k.lower(): v for k, v in resp.headers.items()},
                "body": resp.body.decode("utf-8", "replace")}

    # ------------------------------------------------------------------ hashing, encoding
    def sha256_sync(self, value: Any = UNDEFINED, options: Any = UNDEFINED, *_: Any) -> str:
        digest = hashlib.sha256(js.to_string(value).encode("utf-8", "surrogatepass")).digest()
        if _opt(options, "outputEncoding") == "hex":
            return digest.hex()
        return base64.b64encode(digest).decode("ascii")

    def hmac_sha256(self, value: Any = UNDEFINED, key_id: Any = UNDEFINED, options: Any = UNDEFINED,
                    *_: Any) -> str:
        key = self.env.hmac_keys.get(js.to_string(key_id))
        if key is None:
            raise SandboxThrow(f"hmacSha256: no key {js.to_string(key_id)!r} configured")
        digest = hmac.new(key.encode("utf-8"), js.to_string(value).encode("utf-8"), hashlib.sha256).digest()
        encoding = _opt(options, "outputEncoding", "base64url")
        if encoding == "hex":
            return digest.hex()
        if encoding == "base64":
            return base64.b64encode(digest).decode("ascii")
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def to_base64(self, value: Any = UNDEFINED, options: Any = UNDEFINED, *_: Any) -> str:
        raw = js.to_string(value).encode("utf-8", "surrogatepass")
        if js.truthy(_opt(options, "urlEncoding", False)):
            return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
        return base64.b64encode(raw).decode("ascii")

    def from_base64(self, value: Any = UNDEFINED, *_: Any) -> Any:
        if not isinstance(value, str):
            return UNDEFINED
        text = value.strip().replace("-", "+").replace("_", "/")
        if not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", text):
            return UNDEFINED
        text = text.rstrip("=")
        if len(text) % 4 == 1:
            return UNDEFINED
        try:
            raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            return UNDEFINED
        return raw.decode("utf-8", "replace")

    def etld_plus_one(self, value: Any = UNDEFINED, *_: Any) -> Any:
        if value is None or value is UNDEFINED:
            return value
        text = js.to_string(value).strip()
        if "://" in text:
            try:
                text = urlsplit(text).hostname or ""
            except ValueError:
                return ""
        host = text.lower().rstrip(".")
        if not host or not re.fullmatch(r"[a-z0-9_.-]+", host) or ".." in host:
            return ""
        return registrable_domain(host)

    # ------------------------------------------------------------------ misc
    def generate_random(self, low: Any = UNDEFINED, high: Any = UNDEFINED, *_: Any) -> int:
        a = js.to_integer(low)
        b = js.to_integer(high)
        if not isinstance(a, int) or not isinstance(b, int) or a > b:
            raise SandboxThrow("generateRandom: min and max must be integers with min <= max")
        return self.env.rng.randint(a, b)

    def log_to_console(self, *args: Any) -> None:
        if self.perms.enforce != "off":
            try:
                shown = self.perms.logging("logToConsole", self.env.debug_mode or self.env.preview_mode)
            except PermissionDenied as exc:
                if self.perms.enforce == "error":
                    raise
                self.env.warnings.append(f"permission not declared (allowed in warn mode): {exc}")
                shown = True
            if not shown:
                return
        parts = []
        for a in args:
            if isinstance(a, str):
                parts.append(a)
            elif isinstance(a, (dict, list)):
                text = js.stringify(a)
                parts.append(text if isinstance(text, str) else js.to_string(a))
            else:
                parts.append(js.to_string(a))
        self.env.console.append(" ".join(parts))

    def get_google_auth(self, *_: Any) -> Any:
        self.check(self.perms.require, "use_google_credentials", "getGoogleAuth")
        self.env.notes.append("getGoogleAuth: faked (no Google credentials in the emulator)")
        return {"type": "emulator-fake-google-auth"}

    def create_regex(self, pattern: Any = UNDEFINED, flags: Any = UNDEFINED, *_: Any) -> Any:
        flag_text = "" if flags is UNDEFINED or flags is None else js.to_string(flags)
        compiled, _error = compile_pattern(js.to_string(pattern), "i" in flag_text)
        if compiled is None:
            return None
        self.regexes.append({"re": compiled, "global": "g" in flag_text, "last": 0})
        return {"__regex": len(self.regexes) - 1, "source": js.to_string(pattern), "flags": flag_text}

    def test_regex(self, regex: Any = UNDEFINED, text: Any = UNDEFINED, *_: Any) -> bool:
        if not isinstance(regex, dict) or not isinstance(regex.get("__regex"), int) \
                or not 0 <= regex["__regex"] < len(self.regexes):
            raise SandboxThrow("testRegex: the first argument must come from createRegex")
        entry = self.regexes[regex["__regex"]]
        subject = js.to_string(text)
        if not entry["global"]:
            return entry["re"].search(subject) is not None
        start = entry["last"]
        match = entry["re"].search(subject, start) if start <= len(subject) else None
        if match is None:
            entry["last"] = 0
            return False
        entry["last"] = match.end() if match.end() > match.start() else match.end() + 1
        return True

    # ------------------------------------------------------------------ storage and Google Cloud fakes
    def storage_get(self, key: Any = UNDEFINED, *_: Any) -> Any:
        self.check(self.perms.require, "access_template_storage", "templateDataStorage.getItemCopy")
        value = self.env.storage.get(js.to_string(key), None)
        return copy.deepcopy(value)

    def storage_set(self, key: Any = UNDEFINED, value: Any = UNDEFINED, *_: Any) -> None:
        self.check(self.perms.require, "access_template_storage", "templateDataStorage.setItemCopy")
        if value is None or value is UNDEFINED:
            self.env.storage.pop(js.to_string(key), None)
        else:
            self.env.storage[js.to_string(key)] = copy.deepcopy(value)

    def storage_remove(self, key: Any = UNDEFINED, *_: Any) -> None:
        self.check(self.perms.require, "access_template_storage", "templateDataStorage.removeItem")
        self.env.storage.pop(js.to_string(key), None)

    def storage_clear(self) -> None:
        self.check(self.perms.require, "access_template_storage", "templateDataStorage.clear")
        self.env.storage.clear()

    def bigquery_insert(self, connection: Any = UNDEFINED, rows: Any = UNDEFINED, options: Any = UNDEFINED,
                        *_: Any) -> Any:
        table = connection if isinstance(connection, dict) else {}
        names = [js.to_string(table[k]) if table.get(k) not in (None, UNDEFINED) else ""
                 for k in ("projectId", "datasetId", "tableId")]
        self.check(self.perms.bigquery, "BigQuery.insert", "write", *names)
        self.env.bigquery_rows.append({"table": table, "rows": rows if isinstance(rows, list) else []})
        self.env.notes.append("BigQuery.insert: faked (rows recorded, nothing sent to Google Cloud)")
        return UNDEFINED

    def firestore_read(self, path: Any = UNDEFINED, *_: Any) -> Any:
        self.check(self.perms.require, "access_firestore", "Firestore.read")
        self.env.notes.append("Firestore: faked with an in-memory document store")
        doc = self.env.firestore.get(js.to_string(path))
        if doc is None:
            return {"error": {"reason": "not_found", "message": f"no document {js.to_string(path)}"}}
        return {"value": {"id": js.to_string(path).rsplit("/", 1)[-1], "data": copy.deepcopy(doc)}}

    def firestore_write(self, path: Any = UNDEFINED, data: Any = UNDEFINED, options: Any = UNDEFINED,
                        *_: Any) -> Any:
        self.check(self.perms.require, "access_firestore", "Firestore.write")
        self.env.notes.append("Firestore: faked with an in-memory document store")
        key = js.to_string(path)
        if key.count("/") % 2 == 0:  # a collection: generate a document ID
            key = f"{key}/{self.env.rng.getrandbits(64):016x}"
        current = self.env.firestore.get(key, {}) if js.truthy(_opt(options, "merge", False)) else {}
        self.env.firestore[key] = {**current, **(data if isinstance(data, dict) else {})}
        return {"value": key.rsplit("/", 1)[-1]}

    def firestore_query(self, collection: Any = UNDEFINED, queries: Any = UNDEFINED, options: Any = UNDEFINED,
                        *_: Any) -> Any:
        self.check(self.perms.require, "access_firestore", "Firestore.query")
        prefix = js.to_string(collection).rstrip("/") + "/"
        limit = int(js.to_integer(_opt(options, "limit", 5)))
        ops: dict[str, Callable[[Any, Any], bool]] = {
            "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
        }
        out = []
        for path, doc in self.env.firestore.items():
            if not path.startswith(prefix) or "/" in path[len(prefix):]:
                continue
            ok = True
            for q in queries if isinstance(queries, list) else []:
                if not (isinstance(q, list) and len(q) == 3 and q[1] in ops):
                    return {"error": {"reason": "invalid_query", "message": f"unsupported condition {q!r}"}}
                value = get_path(doc, js.to_string(q[0]))
                try:
                    ok = ok and value is not UNDEFINED and ops[q[1]](value, q[2])
                except TypeError:
                    ok = False
            if ok:
                out.append({"id": path[len(prefix):], "data": copy.deepcopy(doc)})
            if len(out) >= limit:
                break
        return {"value": out}
