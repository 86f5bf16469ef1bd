"""Serving the Flask app on gunicorn (a production WSGI server), configured from Python."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from flask import Flask


def configure_logging(level: int = logging.INFO) -> None:
    logger = logging.getLogger("gtm_emulator")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


HARDENED_WORKER = "gtm_emulator.server.gworker.HardenedThreadWorker"


def run_gunicorn(app: Flask, host: str, port: int, workers: int = 1, threads: int = 8,
                 timeout: int = 60, access_log: bool = False, worker_class: str = HARDENED_WORKER,
                 on_worker_exit: Callable[[], None] | None = None) -> None:
    """Run ``app`` on gunicorn until interrupted, with ``threads`` threads per worker process.

    The default worker is gunicorn's threaded worker hardened against slow clients (request heads
    read by the event loop, a total deadline per body: :mod:`.gworker`). ``on_worker_exit`` runs in
    each worker process as it stops (a clean shutdown)."""
    from gunicorn.app.base import BaseApplication

    class _Application(BaseApplication):
        def __init__(self) -> None:
            self.options: dict[str, Any] = {
                "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": worker_class,
                "timeout": timeout,
                "graceful_timeout": 5,
                "accesslog": "-" if access_log else None,
                "errorlog": "-",
                "loglevel": "warning",
                "worker_exit": (lambda _arbiter, _worker: on_worker_exit()) if on_worker_exit else None,
            }
            super().__init__()

        def load_config(self) -> None:
            for key, value in self.options.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    _Application().run()
