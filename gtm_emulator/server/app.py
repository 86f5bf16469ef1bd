"""The Flask adapter: every path goes to the container, except the emulator's own endpoints.

Reserved paths, answered before any client sees the request:

- ``GET /healthz``: 200 ``ok`` (as the real tagging server image answers).
- ``/_mock/tiktok/…``: the mock TikTok Events API (``POST /_mock/tiktok/open_api/v1.3/event/track/``
  and ``GET /_mock/tiktok/_events``), when the container runs with the mock vendor.
- ``/_emulator/…``: the inspection API and Preview UI, when a store is attached.

Every other request becomes a :class:`~gtm_emulator.core.request.Request` for the container. Bodies over
the container's ``max_body_bytes`` are refused with 413 before they are read.

The app's WSGI entry sends container requests straight to the container, without Flask's routing,
request context and response objects (the per-request cost of a tagging server is what it handles
per hit); the emulator's endpoints and methods other than GET, POST, PUT, PATCH, DELETE, OPTIONS and
HEAD (405) go through Flask. A 204 answer carries no body and no ``Content-Type``.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, request
from werkzeug.http import HTTP_STATUS_CODES

from ..core.container import Container
from ..core.report import Report
from ..core.request import Request, display_text
from .body import BodyTooLarge, BodyUnreadable, read_body
from .guard import make_guard, send_refusal

log = logging.getLogger("gtm_emulator")

ReportHook = Callable[[Report, float], None]
RESERVED_PREFIXES = ("/_emulator", "/_mock", "/healthz")
CONTAINER_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")  # others: 405
INTERNAL_ERROR = b"internal error in the emulator (see the server log)\n"
_STATUS_LINES: dict[int, str] = {}


def _status_line(status: int) -> str:
    line = _STATUS_LINES.get(status)
    if line is None:
        line = _STATUS_LINES[status] = f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"
    return line


def _too_large(limit: int) -> tuple[int, list[tuple[str, str]], bytes]:
    return 413, [("Content-Type", "text/plain; charset=utf-8")], \
        f"request body too large; the limit is {limit} bytes\n".encode()


_HEADER_NAMES: dict[str, str] = {}  # environ key -> header name ("HTTP_USER_AGENT" -> "User-Agent")
MAX_HEADER_NAMES = 1024  # names remembered; past that (odd names from clients) each is worked out again


def _header_name(key: str) -> str:
    name = _HEADER_NAMES.get(key)
    if name is None:
        name = (key[5:] if key.startswith("HTTP_") else key).replace("_", "-").title()
        if len(_HEADER_NAMES) < MAX_HEADER_NAMES:
            _HEADER_NAMES[key] = name
    return name


def wsgi_text(value: str) -> str:
    """A WSGI (latin-1) string as the UTF-8 text it carries; bytes that are not UTF-8 kept as escapes."""
    return value if value.isascii() else value.encode("latin-1").decode("utf-8", "surrogateescape")


def request_from_environ(environ: dict[str, Any], body: bytes) -> Request:
    """A container Request from a WSGI environ (raw query kept; bytes that are not UTF-8 kept as escapes)."""
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((_header_name(key), wsgi_text(value)))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append((_header_name(key), value))
    return Request(
        method=environ.get("REQUEST_METHOD", "GET").upper(),
        path=wsgi_text(environ.get("PATH_INFO") or "/"),
        query=wsgi_text(environ.get("QUERY_STRING", "")),
        headers=tuple(headers),
        body=body,
        remote_addr=environ.get("REMOTE_ADDR") or "",
        scheme=environ.get("wsgi.url_scheme", "http"),
    )


def summary_line(report: Report, elapsed_ms: float) -> str:
    """One log line per request: client, events, tags fired, vendor status."""
    req = report.request
    parts = [f"{req.method} {display_text(req.path)} {report.response.status}", f"client={report.client or '-'}",
             f"events={len(report.events)}"]
    fired = [t for t in report.iter_tags() if t.fired]
    if fired:
        tags = []
        for tag in fired:
            mark: str = tag.status
            if tag.vendor_rejected:
                mark += ",REJECTED_BY_VENDOR"
            tags.append(f"{tag.name}[{mark}]")
        parts.append("fired=" + " ".join(tags))
    else:
        parts.append("fired=none")
    vendor = [o for o in report.outgoing]
    if vendor:
        statuses = []
        for out in vendor:
            status = out.response["status"] if out.response else (out.error or "no answer")
            statuses.append(f"{status}{'' if out.vendor_ok else ' (vendor rejected)'}")
        parts.append("vendor=" + ", ".join(str(s) for s in statuses))
    if report.reason:
        parts.append(f"reason={report.reason!r}")
    parts.append(f"{elapsed_ms:.1f}ms")
    return " ".join(parts)


def create_app(
    container: Container,
    *,
    on_report: list[ReportHook] | None = None,
    max_body_bytes: int | None = None,
    log_requests: bool = True,
    now: Callable[[], float] | None = None,
    store: Any = None,
    token: str | None = None,
    explain: bool | None = None,
    bind_host: str | None = None,
    allowed_hosts: Iterable[str] = (),
) -> Flask:
    """The Flask app serving ``container``. ``on_report`` hooks receive each report (the store,
    the recorder); they run before the response is returned, so results are there when it is.
    With a ``store``, the Preview UI and the inspection API are served under ``/_emulator/``
    (requiring ``token`` when one is given).

    The emulator's own endpoints (``/_emulator/``, ``/_mock/``) answer only to a loopback ``Host``,
    ``bind_host`` (the address served on) or one of ``allowed_hosts``, refuse cross-site state changes,
    and with a ``token`` the mock's inspection endpoints need it too (see :mod:`.guard`).

    ``explain`` asks for reports that explain every decision (each condition traced, every variable
    resolved); by default it is on when a report hook may show them (hooks that only read what
    happened, like the recorder's, say so with :func:`plain_report_hook`), and off otherwise. The
    Preview store does not need it: it explains a request when it is read (:mod:`.rerun`). What
    fires, what is sent and every answer are the same either way."""
    app = Flask("gtm_emulator", static_folder=None)  # /static/... belongs to the container, like every path
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes or container.settings.max_body_bytes
    # The container is looked up per request, so it can be swapped (``set_container``) after an edit.
    hooks_given = list(on_report or [])
    state: dict[str, Any] = {"container": container, "hooks": hooks_given, "explain_asked": explain,
                             "explain": explain if explain is not None else any(map(wants_explanation, hooks_given))}
    app.extensions["gtm_emulator"] = state
    hooks: list[ReportHook] = state["hooks"]

    mock = container.tiktok_mock
    if mock is not None:
        from ..vendors.tiktok_mock import blueprint

        app.register_blueprint(blueprint(mock), url_prefix="/_mock/tiktok")
    if container.ga4_mock is not None:
        from ..vendors.ga4_mock import blueprint as ga4_blueprint

        app.register_blueprint(ga4_blueprint(container.ga4_mock), url_prefix="/_mock/ga4")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok\n", mimetype="text/plain")

    @app.errorhandler(413)
    def too_large(_error: Exception) -> Response:
        status, headers, body = _too_large(app.config["MAX_CONTENT_LENGTH"])
        return Response(body, status=status, headers=headers)

    @app.errorhandler(405)
    def not_allowed(_error: Exception) -> Response:
        return Response(f"method {request.method} not allowed on {request.path}\n", status=405, mimetype="text/plain")

    def reserved_404(path: str) -> Response:
        endpoints = sorted({str(rule) for rule in app.url_map.iter_rules()
                            if str(rule).startswith(RESERVED_PREFIXES) and "static" not in rule.endpoint})
        body = f"unknown emulator endpoint {path}; endpoints:\n" + "".join(f"  {e}\n" for e in endpoints)
        return Response(body, status=404, mimetype="text/plain")

    def answer(environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """The container's answer to one request: status, headers and body."""
        started = time.perf_counter()
        limit = app.config["MAX_CONTENT_LENGTH"]
        try:
            body = read_body(environ, limit)  # a chunked body past the limit is refused, not cut short
        except BodyTooLarge:
            return _too_large(limit)
        except BodyUnreadable as exc:
            (log.info if exc.abandoned else log.warning)("%s %s: %s", environ.get("REQUEST_METHOD"),
                                                         display_text(environ.get("PATH_INFO") or "/"), exc)
            return 400, [("Content-Type", "text/plain; charset=utf-8")], f"bad request: {exc}\n".encode()
        creq = request_from_environ(environ, body)
        try:
            report = state["container"].handle(creq, now=now() if now else None, explain=state["explain"])
        except Exception:  # a bug in the emulator: logged, answered without a traceback
            log.error("internal error handling %s %s\n%s", creq.method, creq.path, traceback.format_exc())
            return 500, [("Content-Type", "text/plain; charset=utf-8")], INTERNAL_ERROR
        elapsed_ms = (time.perf_counter() - started) * 1000
        for hook in hooks:
            try:
                hook(report, elapsed_ms)
            except Exception:
                log.error("report hook failed:\n%s", traceback.format_exc())
        if log_requests:
            log.info(summary_line(report, elapsed_ms))
        response = report.response
        headers = list(response.headers.items())
        headers += [("Set-Cookie", cookie.header_value()) for cookie in response.set_cookies]
        return response.status, headers, response.body

    def handle(path: str = "") -> Response:
        """The Flask view for container paths (requests the WSGI entry below passes to Flask)."""
        if request.path.startswith(("/_emulator", "/_mock")):
            return reserved_404(request.path)
        status, headers, body = answer(request.environ)
        return Response(body, status=status, headers=headers)

    flask_wsgi = app.wsgi_app
    guard = make_guard(bind_host, token, allowed_hosts)

    def wsgi_entry(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Requests for the container skip Flask's routing and request objects: the one hot path of
        a tagging server. The emulator's own endpoints (and unknown methods) go to Flask."""
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method not in CONTAINER_METHODS or (environ.get("PATH_INFO") or "/").startswith(RESERVED_PREFIXES):
            refused = guard(environ)
            if refused is not None:
                return send_refusal(refused, start_response)
            return flask_wsgi(environ, start_response)
        try:
            status, headers, body = answer(environ)
        except Exception:  # never a traceback to the client
            log.error("internal error\n%s", traceback.format_exc())
            status, headers, body = 500, [("Content-Type", "text/plain; charset=utf-8")], INTERNAL_ERROR
        if status != 204 and status != 304 and not 100 <= status < 200:
            headers.append(("Content-Length", str(len(body))))
        else:
            body = b""
        start_response(_status_line(status), headers)
        return [b"" if method == "HEAD" else body]

    app.wsgi_app = wsgi_entry  # type: ignore[method-assign]

    if store is not None:
        from .preview import install_preview

        install_preview(app, store, token=token)

    app.add_url_rule("/", "container_root", handle, methods=list(CONTAINER_METHODS))
    app.add_url_rule("/<path:path>", "container", handle, methods=list(CONTAINER_METHODS))
    return app


def current_container(app: Flask) -> Container:
    container: Container = app.extensions["gtm_emulator"]["container"]
    return container


def set_container(app: Flask, container: Container) -> None:
    """Serve ``container`` from the next request on (after the user changed the configuration).
    The time of the swap is kept (``container_since``): Preview says when a request ran on an
    earlier configuration than the one it describes."""
    app.extensions["gtm_emulator"]["container"] = container
    app.extensions["gtm_emulator"]["container_since"] = time.time()


def container_since(app: Flask) -> float | None:
    """When the container now served was swapped in with ``set_container`` (None: served from the start)."""
    since: float | None = app.extensions["gtm_emulator"].get("container_since")
    return since


def plain_report_hook(hook: Callable[..., None]) -> Callable[..., None]:
    """Mark a report hook that reads only what happened (statuses, outgoing calls, the request), so
    that reports need not explain every decision for it."""
    hook.wants_explanation = False  # type: ignore[attr-defined]
    return hook


def wants_explanation(hook: ReportHook) -> bool:
    """Whether reports given to ``hook`` must explain every decision (unless it is marked with
    :func:`plain_report_hook`, a hook may show them)."""
    return bool(getattr(hook, "wants_explanation", True))


def add_report_hook(app: Flask, hook: ReportHook) -> None:
    """Give ``hook`` every report from now on (reports then explain every decision, unless the hook
    is marked with :func:`plain_report_hook`)."""
    state = app.extensions["gtm_emulator"]
    state["hooks"].append(hook)
    if wants_explanation(hook) and state["explain_asked"] is None:
        state["explain"] = True
