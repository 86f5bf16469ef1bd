"""Preview: the inspection API (JSON) and the Preview web UI, both served under ``/_emulator/``.

``install_preview(app, store, token=None)`` plugs them into an app made by ``create_app``: it
registers the routes and adds ``store.hook`` to the app's report hooks, so each request is in the
store before its HTTP response is returned (a test never needs to poll).

Endpoints (``ENDPOINTS`` lists them; an unknown ``/_emulator/…`` path answers 404 with that list,
as JSON under ``/_emulator/api/``):

- ``GET  /_emulator/``                     the Preview UI
- ``GET  /_emulator/api/``                 this list, and the container being served
- ``GET  /_emulator/api/requests``         requests, newest first (filters below)
- ``GET  /_emulator/api/requests/<id>``    one request in full (the report; docs/preview.md, "The inspection API")
- ``GET  /_emulator/api/outgoing``         outgoing HTTP requests with the vendor's answers
- ``GET  /_emulator/api/summary``          counts: requests, events, tags fired/failed/rejected
- ``POST /_emulator/api/reset``            deletes every record

Safety: with a ``token``, every ``/_emulator/`` request needs it, in the ``X-Emulator-Token``
header, or once as ``?token=…``, which sets a cookie (HttpOnly, SameSite=Strict) and, for the
UI page, redirects to the same address without the token. The CLI passes a token from
``generate_token()`` when the server binds an address that is not loopback (``is_loopback``).
A request whose ``Host`` is not a loopback name or the bound address, and a POST from another
site (``Origin`` of another host, or ``null``), are refused (403) before any handler runs
(:mod:`.guard`), so neither a web site open in the same browser nor a DNS-rebinding page can read
or reset the store. The UI page is sent with a strict Content-Security-Policy
and writes every value it shows as text, never as HTML.

Choices (easy to change): ``TOKEN_HEADER``, ``TOKEN_COOKIE``, ``POLL_INTERVAL_MS`` (how often the
UI asks for new requests; polling keeps it working behind any WSGI server, where SSE would hold a
worker thread per open tab).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from ..core.report import MASK, Report, json_safe, mask_secrets
from ..core.variables import BUILTINS
from ..errors import RequestError
from .app import add_report_hook, container_since, current_container, plain_report_hook
from .guard import TOKEN_COOKIE, TOKEN_HEADER, TOKEN_PARAM, is_loopback, offered_token, token_matches
from .rerun import Containers, explain_stored

__all__ = ["TOKEN_COOKIE", "TOKEN_HEADER", "TOKEN_PARAM", "generate_token", "install_preview", "is_loopback",
           "preview_url"]
from .store import RequestFilter, SQLiteStore, parse_since

PREFIX = "/_emulator"
API_PREFIX = PREFIX + "/api"
POLL_INTERVAL_MS = 1000
EXTENSION_KEY = "gtm_emulator_preview"

_HERE = Path(__file__).parent

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

REQUEST_PARAMS = {
    "event": "event name: requests with an event of that name",
    "tag": "tag name: requests where that tag fired (or had tag_status)",
    "tag_status": "success | failure | not_fired | paused | blocked | not_emulated | fired | rejected",
    "status": "HTTP status of the response: 204, or a class like 2xx / 4xx",
    "since": "epoch seconds or ISO 8601 time: requests received at or after it",
    "after": "request id: only newer requests (for polling)",
    "client": "name of the claiming client; empty for requests no client claimed",
    "rejected": "true: a vendor rejected some tag's data; false: none did",
    "limit": "at most this many (default 100, at most 1000)",
    "offset": "skip this many (paging)",
}
OUTGOING_PARAMS = {
    "tag": "tag name that sent the request",
    "vendor_ok": "true | false: whether the vendor accepted it",
    "request": "id of the incoming request",
    "limit": "at most this many (default 100, at most 1000)",
    "offset": "skip this many",
}

ENDPOINTS: list[dict[str, Any]] = [
    {"method": "GET", "path": PREFIX + "/", "description": "the Preview web UI"},
    {"method": "GET", "path": API_PREFIX + "/", "description": "this list of endpoints"},
    {"method": "GET", "path": API_PREFIX + "/requests", "description": "requests, newest first",
     "params": REQUEST_PARAMS},
    {"method": "GET", "path": API_PREFIX + "/requests/<id>", "description": "one request in full"},
    {"method": "GET", "path": API_PREFIX + "/outgoing",
     "description": "outgoing HTTP requests with the vendor's answers, newest first", "params": OUTGOING_PARAMS},
    {"method": "GET", "path": API_PREFIX + "/container",
     "description": "the container being served: ID, version, clients, tags with their settings (secrets "
                    "masked), variables with their types, built-in variables"},
    {"method": "GET", "path": API_PREFIX + "/summary",
     "description": "counts: requests, events, tags fired, failed, rejected by the vendor"},
    {"method": "POST", "path": API_PREFIX + "/reset", "description": "delete every record"},
]


# ---------------------------------------------------------------------- helpers for the CLI


def generate_token() -> str:
    """A random token for the UI and the API (URL-safe, 192 bits)."""
    return secrets.token_urlsafe(24)


def preview_url(host: str, port: int, token: str | None = None) -> str:
    """The address of the UI to print at start-up (with the token when there is one)."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else ("::1" if host == "::" else host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    url = f"http://{shown}:{port}{PREFIX}/"
    return url + (f"?{urlencode({TOKEN_PARAM: token})}" if token else "")


# ---------------------------------------------------------------------- responses


def json_response(data: Any, status: int = 200) -> Response:
    resp = Response(json.dumps(data, ensure_ascii=False, indent=1), status=status, mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


def _error(status: int, message: str, **extra: Any) -> Response:
    return json_response({"error": message, **extra}, status)


def _limit(value: str | None, default: int = 100) -> int:
    limit = _int_param("limit", value)
    return default if limit is None else limit


def _int_param(name: str, value: str | None, minimum: int = 0) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise RequestError(400, f"{name}={value!r}: expected a whole number") from None
    if number < minimum:
        raise RequestError(400, f"{name}={value!r}: must be at least {minimum}")
    return number


def _bool_param(name: str, value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    text = value.strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    raise RequestError(400, f"{name}={value!r}: expected true or false")


def _check_params(allowed: dict[str, str]) -> None:
    unknown = sorted(set(request.args) - set(allowed) - {TOKEN_PARAM})
    if unknown:
        raise RequestError(400, f"unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                                f"known: {', '.join(allowed)}")


def request_filter(args: Any) -> RequestFilter:
    """A :class:`RequestFilter` from query parameters (RequestError 400 on a bad value)."""
    since = args.get("since")
    client = args.get("client")
    return RequestFilter(
        event=args.get("event") or None,
        tag=args.get("tag") or None,
        tag_status=args.get("tag_status") or None,
        status=args.get("status") or None,
        since=parse_since(since) if since else None,
        after=_int_param("after", args.get("after")),
        client=client,
        rejected=_bool_param("rejected", args.get("rejected")),
        limit=_limit(args.get("limit")),
        offset=_int_param("offset", args.get("offset")) or 0,
    )


# ---------------------------------------------------------------------- the container's configuration


def _configured(value: Any, secret: bool, secrets: set[str]) -> Any:
    """A tag setting as Preview shows it: a secret parameter's literal value as ****, and any
    secret of the container (``${ENV}`` values marked secret) masked wherever it appears."""
    if secret and isinstance(value, str) and value and "{{" not in value:
        return MASK
    return mask_secrets(json_safe(value), secrets)


def describe_container(container: Any) -> dict[str, Any]:
    """What Tag Assistant shows of the container: its ID and version, each tag's settings as the
    container file sets them, each variable with its type, and the built-in variables (the emulator
    has every built-in enabled)."""
    info = container.info
    # What the container file sets (without the template's defaults for fields of other profiles).
    configured = {t.get("name"): t.get("parameters") for t in (container.config or {}).get("tags") or []
                  if isinstance(t, dict) and isinstance(t.get("parameters"), dict)}

    def parameters(tag: Any) -> dict[str, Any]:
        raw = configured.get(tag.name)
        if raw is None:
            raw = {name: template.raw for name, template in tag.params.items()}
        return {name: _configured(value, name in tag.secret_params, container.secrets) for name, value in raw.items()}

    return {
        "name": container.name, "id": info.container_id, "version": info.version,
        "environment": info.environment_name, "debug_mode": info.debug_mode, "preview_mode": info.preview_mode,
        "clients": [{"name": c.name, "type": getattr(c, "type", type(c).__name__), "priority": c.priority}
                    for c in container.clients],
        "tags": [{"name": tag.name, "type": tag.type, "paused": tag.paused,
                  "firing_triggers": list(tag.firing_triggers), "blocking_triggers": list(tag.blocking_triggers),
                  "parameters": parameters(tag)}
                 for tag in container.tags],
        "triggers": sorted(container.triggers),
        "variables": [{"name": name, "type": variable.type or type(variable).__name__}
                      for name, variable in container.variables.items()],
        "builtins": [name for name in BUILTINS if not name.startswith("_")],
    }


# ---------------------------------------------------------------------- token check


def _token_guard(token: str | None) -> Any:
    def guard() -> BaseResponse | None:
        # Host and Origin are checked before Flask for every emulator endpoint (guard.make_guard)
        if token is None:
            return None
        if not token_matches(offered_token(request.environ), token):
            message = (f"this emulator is reachable from other machines, so {PREFIX}/ needs the token printed at "
                       f"start-up: open {PREFIX}/?{TOKEN_PARAM}=TOKEN once, or send the header {TOKEN_HEADER}")
            if request.path.startswith(API_PREFIX):
                return _error(401, message)
            return Response(message + "\n", status=401, mimetype="text/plain")
        from_query = request.args.get(TOKEN_PARAM)
        if from_query is not None and request.method == "GET":
            if request.path.startswith(API_PREFIX) or request.path.startswith(PREFIX + "/static/"):
                return None
            rest = [(k, v) for k, v in request.args.items(multi=True) if k != TOKEN_PARAM]
            target = request.path + (f"?{urlencode(rest)}" if rest else "")
            resp = redirect(target, code=303)
            resp.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict", path=PREFIX,
                            secure=request.is_secure)
            return resp
        return None

    return guard


# ---------------------------------------------------------------------- blueprint


def preview_blueprint(store: SQLiteStore, token: str | None = None) -> Blueprint:
    """The routes of the inspection API and the UI over ``store``."""
    bp = Blueprint("gtm_emulator_preview", __name__, url_prefix=PREFIX,
                   template_folder=str(_HERE / "templates"), static_folder=str(_HERE / "static" / "preview"),
                   static_url_path="/static")
    bp.before_request(_token_guard(token))

    @bp.errorhandler(RequestError)
    def bad_request(exc: RequestError) -> Response:
        return _error(exc.status, exc.reason)

    @bp.after_request
    def headers(resp: Response) -> Response:
        resp.headers.setdefault("X-Frame-Options", "DENY")
        return resp

    def not_found() -> Response:
        if request.path.startswith(API_PREFIX):
            return _error(404, f"unknown endpoint {request.method} {request.path}", endpoints=ENDPOINTS)
        lines = [f"unknown emulator endpoint {request.path}; endpoints:"]
        lines += [f"  {e['method']:<5} {e['path']}  {e['description']}" for e in ENDPOINTS]
        return Response("\n".join(lines) + "\n", status=404, mimetype="text/plain")

    @bp.route("/", methods=["GET"])
    def ui() -> Response:
        container = current_container(_app())
        html = render_template("preview/index.html", container_name=container.name,
                               container_id=container.info.container_id, container_version=container.info.version,
                               api=API_PREFIX,
                               poll_ms=POLL_INTERVAL_MS, static=PREFIX + "/static")
        resp = Response(html, mimetype="text/html")
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    @bp.route("/api", methods=["GET"])
    @bp.route("/api/", methods=["GET"])
    def index() -> Response:
        container = current_container(_app())
        return json_response({
            "container": {"name": container.name, "id": container.info.container_id,
                          "version": container.info.version},
            "store": {"retention": store.retention, "persistent": not store.memory},
            "endpoints": ENDPOINTS,
        })

    @bp.route("/api/requests", methods=["GET"])
    def requests_list() -> Response:
        _check_params(REQUEST_PARAMS)
        flt = request_filter(request.args)
        items = store.list_requests(flt)
        return json_response({"requests": items, "count": len(items), "limit": min(flt.limit, 1000),
                              "offset": flt.offset})

    @bp.route("/api/requests/<rid>", methods=["GET"])
    def request_one(rid: str) -> Response:
        _check_params({})
        number = _int_param("id", rid)
        record = store.get_request(number) if number is not None else None
        if record is None:
            return _error(404, f"no request with id {rid} in the store (it may be older than the retention "
                               f"limit of {store.retention}, or the store was reset)")
        return json_response(record)

    @bp.route("/api/outgoing", methods=["GET"])
    def outgoing() -> Response:
        _check_params(OUTGOING_PARAMS)
        args = request.args
        items = store.list_outgoing(
            tag=args.get("tag") or None, vendor_ok=_bool_param("vendor_ok", args.get("vendor_ok")),
            request_id=_int_param("request", args.get("request")),
            limit=_limit(args.get("limit")),
            offset=_int_param("offset", args.get("offset")) or 0,
        )
        return json_response({"outgoing": items, "count": len(items)})

    @bp.route("/api/container", methods=["GET"])
    def container_view() -> Response:
        _check_params({})
        app = _app()
        return json_response({**describe_container(current_container(app)), "since": container_since(app)})

    @bp.route("/api/summary", methods=["GET"])
    def summary() -> Response:
        _check_params({})
        return json_response(store.summary())

    @bp.route("/api/reset", methods=["GET", "POST"])
    def reset() -> Response:
        if request.method != "POST":
            return _error(405, f"use POST {API_PREFIX}/reset to delete every record")
        return json_response({"deleted": store.reset()})

    @bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
    def unknown(rest: str) -> Response:
        return not_found()

    return bp


def _app() -> Flask:
    from flask import current_app

    return current_app._get_current_object()  # type: ignore[attr-defined]


def install_preview(app: Flask, store: SQLiteStore, token: str | None = None) -> None:
    """Serve the inspection API and the Preview UI on ``app`` over ``store``, and save every report in it.

    ``token``: when set, every ``/_emulator/`` request must carry it (see the module docstring).
    """
    if token is not None and not token:
        raise ValueError("the preview token must not be empty")
    app.register_blueprint(preview_blueprint(store, token))

    def bare_prefix() -> BaseResponse:
        return redirect(PREFIX + "/" + (f"?{request.query_string.decode()}" if request.query_string else ""),
                        code=308)

    app.add_url_rule(PREFIX, "gtm_emulator_preview_bare", bare_prefix, methods=["GET"])
    state = app.extensions["gtm_emulator"]
    containers = Containers(lambda: current_container(app))

    def keep(report: Report, elapsed_ms: float) -> None:
        """Stores the report: as it is when it already explains itself, else as an outcome that
        is explained when it is read (server/rerun.py)."""
        store.hook(report, elapsed_ms, None if state["explain"] else containers.key(current_container(app)))

    store.explainer = lambda stored: explain_stored(stored, containers.find(str(stored["rerun"].get("container"))))
    add_report_hook(app, plain_report_hook(keep))
    app.extensions[EXTENSION_KEY] = {"store": store, "token": token}
