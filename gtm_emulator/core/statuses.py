"""Every status the emulator reports, as ``Literal`` types (one place; the values are the JSON ones).

>>> from typing import get_args
>>> get_args(TagStatus)
('success', 'failure', 'not_fired', 'paused', 'blocked', 'not_emulated')
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "BLOCKED",
    "FAILURE",
    "NOT_EMULATED",
    "NOT_FIRED",
    "PAUSED",
    "SUCCESS",
    "FiringOption",
    "RunStatus",
    "SandboxFailureKind",
    "TagStatus",
    "TransportFailureReason",
    "TriggerRole",
    "VendorMode",
]

TagStatus = Literal["success", "failure", "not_fired", "paused", "blocked", "not_emulated"]
"""What became of a tag for one event (``TagResult.status``)."""

SUCCESS: Final = "success"
FAILURE: Final = "failure"
NOT_FIRED: Final = "not_fired"
PAUSED: Final = "paused"
BLOCKED: Final = "blocked"
NOT_EMULATED: Final = "not_emulated"  # the tag fired, but the emulator cannot do its work (Google Ads, Floodlight, ...)

RunStatus = Literal["success", "failure"]
"""How a sandboxed template run ended (gtmOnSuccess / gtmOnFailure)."""

SandboxFailureKind = Literal["syntax", "exception", "timeout", "memory", "stack", "crash"]
"""Why sandboxed template code could not run to completion (``crash``: the worker process died)."""

TransportFailureReason = Literal["failed", "timed_out"]
"""Why an outgoing request got no HTTP answer (the words sGTM's sendHttpRequest uses)."""

TriggerRole = Literal["firing", "blocking"]
"""How a trigger is attached to a tag."""

FiringOption = Literal["once_per_event", "unlimited"]
"""Whether a tag may fire more than once per event (a setup or teardown tag run again)."""

VendorMode = Literal["mock", "live", "record"]
"""Where tags send their requests: the in-process mock vendors, the real ones, or nowhere (recorded)."""
