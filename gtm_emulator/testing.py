"""Public assertion helpers and the test server for pytest and other runners.

The implementation lives in :mod:`gtm_emulator.harness.assertions`, whose ``__all__`` is this
module's public API; this module is the stable import path.
"""

from .harness import assertions as _assertions
from .harness.assertions import *  # noqa: F403  (the names listed in its __all__)

__all__ = list(_assertions.__all__)
