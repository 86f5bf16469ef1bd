"""The transport's deadline watchdog: one thread that calls what is due and skips what was cancelled."""

from __future__ import annotations

import threading
import time

from gtm_emulator.vendors.transport import Watchdog


def test_due_calls_run_in_deadline_order_and_cancelled_ones_never() -> None:
    watchdog = Watchdog()
    ran: list[str] = []
    done = threading.Event()
    now = time.monotonic()
    watchdog.call_at(now + 0.15, lambda: (ran.append("late"), done.set()))
    cancelled = watchdog.call_at(now + 0.05, lambda: ran.append("cancelled"))
    watchdog.call_at(now + 0.10, lambda: ran.append("early"))
    watchdog.cancel(cancelled)
    assert done.wait(5)
    assert ran == ["early", "late"]


def test_a_failing_call_does_not_stop_later_ones() -> None:
    watchdog = Watchdog()
    done = threading.Event()

    def boom() -> None:
        raise OSError("already closed")

    now = time.monotonic()
    watchdog.call_at(now + 0.01, boom)
    watchdog.call_at(now + 0.05, done.set)
    assert done.wait(5)
