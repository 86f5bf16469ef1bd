"""Recording incoming requests as NDJSON, for ``gtm-emulator replay``.

One JSON object a line::

    {"method": "POST", "url": "/g/collect?v=2&tid=G-1", "headers": [["User-Agent", "…"]],
     "body": "en=page_view", "remote_addr": "203.0.113.7", "time": 1700000000.25}

- ``url`` is the path with its raw query; ``scheme`` is added when it is not ``http``.
- ``headers`` is a list of ``[name, value]`` pairs, so repeated headers keep their order (a reader
  also accepts an object).
- The body is ``body`` when it is UTF-8 text, else ``body_base64``; an empty body is left out.
- ``time`` is epoch seconds when the request arrived; replay uses it as the container's clock.

Appends are safe from many threads and many processes (gunicorn workers): each line is written by
one ``write`` on a file opened with ``O_APPEND``, under a thread lock and, where the platform has
it, an exclusive ``flock`` on the file.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..core.report import Report
from ..core.request import Request

try:  # POSIX only; elsewhere appends are serialised per process only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# Paths the recorder never writes (the emulator's own endpoints).
SKIPPED_PREFIXES = ("/_emulator", "/_mock", "/healthz")
# The WSGI recorder does not read (nor record) bodies longer than this; the app refuses them anyway.
MAX_WSGI_BODY_BYTES = 1_048_576


def request_to_record(request: Request, when: float | None = None) -> dict[str, Any]:
    """The NDJSON object of one request."""
    record: dict[str, Any] = {"method": request.method, "url": request.url}
    if request.scheme and request.scheme != "http":
        record["scheme"] = request.scheme
    record["headers"] = [[k, v] for k, v in request.headers]
    if request.body:
        try:
            record["body"] = request.body.decode("utf-8")
        except UnicodeDecodeError:
            record["body_base64"] = base64.b64encode(request.body).decode("ascii")
    record["remote_addr"] = request.remote_addr
    record["time"] = round(time.time() if when is None else when, 6)
    return record


def _line(record: dict[str, Any]) -> bytes:
    # ensure_ascii keeps each line pure ASCII: surrogate escapes from non-UTF-8 URLs survive too.
    return (json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")


class Recorder:
    """Appends every request the container handles to an NDJSON file.

    Use ``recorder.hook`` as a report hook of the Flask app (``create_app(c, on_report=[recorder.hook])``),
    or wrap any WSGI app with ``recorder.wsgi(app)`` to record at the WSGI level.
    """

    def __init__(self, path: str | os.PathLike[str], clock: Callable[[], float] = time.time,
                 skip_prefixes: Iterable[str] = SKIPPED_PREFIXES, max_body_bytes: int = MAX_WSGI_BODY_BYTES):
        self.path = Path(path)
        self.max_body_bytes = max_body_bytes
        self.clock = clock
        self.skip_prefixes = tuple(skip_prefixes)
        self.count = 0
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None

    # ------------------------------------------------------------------ writing

    def _descriptor(self) -> int:
        pid = os.getpid()
        if self._fd is None or self._pid != pid:  # (re)open after a fork: each process its own descriptor
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._pid = pid
        return self._fd

    def write(self, record: dict[str, Any]) -> None:
        """Append one record as one line."""
        data = _line(record)
        with self._lock:
            fd = self._descriptor()
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            finally:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            self.count += 1

    def record(self, request: Request, when: float | None = None) -> None:
        if request.path.startswith(self.skip_prefixes):
            return
        self.write(request_to_record(request, self.clock() if when is None else when))

    def hook(self, report: Report, _elapsed_ms: float = 0.0) -> None:
        """A report hook (``create_app(on_report=[...])``): records the request of the report."""
        self.record(report.request)

    hook.wants_explanation = False  # type: ignore[attr-defined]  # it reads the request only (app.plain_report_hook)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None
            self._pid = None

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ WSGI level

    def wsgi(self, app: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a WSGI app: record each request (body read once and handed on) before the app runs."""
        from io import BytesIO

        from ..server.app import request_from_environ

        def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            path = environ.get("PATH_INFO") or "/"
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            if not path.startswith(self.skip_prefixes) and length <= self.max_body_bytes:
                body = environ["wsgi.input"].read(length) if length > 0 else b""
                environ["wsgi.input"] = BytesIO(body)
                self.record(request_from_environ(environ, body))
            return app(environ, start_response)

        return middleware
