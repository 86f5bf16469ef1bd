"""The clock of the container run in progress.

A run's ``now`` is an input (``simulate --now``), and in-process mock vendors read the time through
:func:`run_now`, so that everything they stamp (TikTok's ``request_id``) is reproducible too.
Outside a run, it is the wall clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

_local = threading.local()


def run_now() -> float:
    """``now`` of the run on this thread, else ``time.time()``."""
    now = getattr(_local, "now", None)
    return time.time() if now is None else now


def state() -> threading.local:
    """The thread-local whose ``now`` attribute :func:`run_now` reads (for hot paths that set and
    restore it themselves instead of entering :func:`running_at`)."""
    return _local


@contextmanager
def running_at(now: float) -> Iterator[None]:
    previous = getattr(_local, "now", None)
    _local.now = now
    try:
        yield
    finally:
        _local.now = previous
