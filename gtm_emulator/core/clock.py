"""The clock of the container run in progress, and what a re-run replaces.

A run's ``now`` is an input (``simulate --now``), and in-process mock vendors read the time through
:func:`run_now`, so that everything they stamp (TikTok's ``request_id``) is reproducible too.
Outside a run, it is the wall clock.

A re-run (``Container.handle(..., replay=transport)``: Preview explaining a stored request) sends
every outgoing call to the transport it was given (:func:`run_transport`) and gives templates a
copy of their ``templateDataStorage`` (:func:`run_storage`), so that explaining a request changes
nothing the container keeps between requests.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

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


def run_transport(default: T) -> T:
    """The transport of the run on this thread: ``default`` (the container's), or a re-run's own."""
    replay = getattr(_local, "transport", None)
    return default if replay is None else replay


def run_storage(storage: dict[str, Any]) -> dict[str, Any]:
    """A template's ``templateDataStorage`` for the run on this thread: the kept one, or in a re-run a
    copy (what the re-run writes is dropped) that notes on the re-run's transport
    (``storage_read = True``) when it is read: the re-run sees the storage as it is now, not as it
    was when the request ran."""
    replay = getattr(_local, "transport", None)
    return storage if replay is None else _ReadNoted(copy.deepcopy(storage), replay)


class _ReadNoted(dict[str, Any]):
    __slots__ = ("_replay",)

    def __init__(self, data: dict[str, Any], replay: Any):
        super().__init__(data)
        self._replay = replay

    def get(self, key: str, default: Any = None) -> Any:
        try:
            self._replay.storage_read = True
        except AttributeError:
            pass
        return super().get(key, default)
