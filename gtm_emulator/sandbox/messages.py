"""Messages between the templates of one request (``addMessageListener`` / ``sendMessage``).

In sGTM a tag usually sends a message back to the client that ran the container: the client's
listener runs synchronously inside the tag's ``sendMessage`` call. Each template here runs in its own
engine, so a :class:`MessageBus` joins the sandboxes that are open while a client template runs its
events: a ``sendMessage`` call reaches the listener of its own template and the listeners of every
other open sandbox on the bus (the client's, and tags' that are still running), and
``hasMessageListener`` counts their listeners too.

Choices on uncertain points:

* The bus exists while a client template's events run (``request_scope`` in the template client).
  Requests claimed by the built-in clients have no bus, so messages stay within one template run.
* A listener in another template that throws is an error of that template (the sender is not told).
* ``message`` must be an object (as for a listener in the same template); anything else is dropped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

_local = threading.local()


class Member(Protocol):
    """A sandbox on the bus: it names the message types it listens to and can run a listener."""

    def listens(self, message_type: str) -> bool: ...

    def eval(self, source: str) -> Any: ...


class MessageBus:
    """The open sandboxes of one request that may exchange messages."""

    def __init__(self) -> None:
        self.members: list[Member] = []

    def join(self, member: Member) -> None:
        if member not in self.members:
            self.members.append(member)

    def leave(self, member: Member) -> None:
        if member in self.members:
            self.members.remove(member)

    def deliver(self, sender: Member, message_type: str, message: Any) -> int:
        """Run the listeners of ``message_type`` in the other members; the number reached."""
        if not isinstance(message, dict):
            return 0
        reached = 0
        for member in list(self.members):
            if member is sender or not member.listens(message_type):
                continue
            member.eval(f"__sandbox.deliver({json.dumps(message_type)}, {json.dumps(json.dumps(message))}); 0")
            reached += 1
        return reached


def current() -> MessageBus | None:
    """The bus of the request running on this thread, if any."""
    return getattr(_local, "bus", None)


@contextmanager
def request_scope() -> Iterator[MessageBus]:
    """Open a bus for this thread (or join the one already open) for the duration of the block."""
    bus = current()
    if bus is not None:
        yield bus
        return
    _local.bus = bus = MessageBus()
    try:
        yield bus
    finally:
        _local.bus = None
