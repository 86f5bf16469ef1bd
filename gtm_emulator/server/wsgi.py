"""Serving the Flask app on gunicorn (a production WSGI server), configured from Python."""

from __future__ import annotations

import logging
import sys
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


def run_gunicorn(app: Flask, host: str, port: int, workers: int = 1, threads: int = 8,
                 timeout: int = 60, access_log: bool = False) -> None:
    """Run ``app`` on gunicorn until interrupted. ``threads`` > 1 uses the gthread worker."""
    from gunicorn.app.base import BaseApplication

    class _Application(BaseApplication):
        def __init__(self) -> None:
            self.options: dict[str, Any] = {
                "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread" if threads > 1 else "sync",
                "timeout": timeout,
                "graceful_timeout": 5,
                "accesslog": "-" if access_log else None,
                "errorlog": "-",
                "loglevel": "warning",
            }
            super().__init__()

        def load_config(self) -> None:
            for key, value in self.options.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    _Application().run()
