"""gtm_emulator: a local server-side Google Tag Manager container.

>>> from gtm_emulator import load_container
>>> container = load_container()                      # the bundled default container
>>> report = container.simulate("GET", "/g/collect?v=2&tid=G-1&cid=1.2&en=purchase", now=1700000000)
>>> report.fired("TikTok - purchase")
True
"""

from __future__ import annotations

from .core.container import Container
from .core.report import Report
from .errors import ConfigError, EmulatorError, Problem, RequestError, TagError
from .loading.config import load_container

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Container",
    "EmulatorError",
    "Problem",
    "Report",
    "RequestError",
    "TagError",
    "__version__",
    "load_container",
]
