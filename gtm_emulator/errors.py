"""The project's exception types: every error raised on purpose derives from :class:`EmulatorError`.

Each names what was wrong and where. Where a caller may reasonably expect a builtin type, the class
keeps it as a second base (``ConditionError`` and ``PathSyntaxError`` are ``ValueError`` s). The
tree (docs/architecture.md, "Errors")::

    EmulatorError
    ├── ConfigError            a container, trigger, tag-template or .tpl file is invalid (all problems)
    ├── RequestError           an incoming request answered with a 4xx
    │   └── BodyTooLarge       the body is over the size limit (413)
    ├── TagError               a tag failed (gtmOnFailure)
    ├── TransportError         an outgoing request got no HTTP answer (failed / timed_out)
    ├── SandboxFailure         template code could not run to completion
    ├── SandboxThrow           a sandbox API throws a JS Error into the template
    ├── PermissionDenied       a sandbox API call the template's permissions do not allow
    ├── VariableCycleError     a variable needs its own value
    ├── ConditionError         a trigger condition that cannot be built (also ValueError)
    ├── EncodeError            event data no GA4 hit can carry (also ValueError)
    ├── PathSyntaxError        a body path that cannot be parsed (also ValueError)
    ├── ReplayFileError        a replay file that cannot be read
    └── ScenarioStepFailed     a scenario step's expectations did not hold (also AssertionError)

The classes are defined here and imported by the modules that raise them (``gtm_emulator.vendors.
transport.TransportError`` and the like stay importable where they were).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .core.statuses import SandboxFailureKind, TransportFailureReason

__all__ = [
    "BodyTooLarge",
    "ConditionError",
    "ConfigError",
    "EmulatorError",
    "EncodeError",
    "PathSyntaxError",
    "PermissionDenied",
    "Problem",
    "ReplayFileError",
    "RequestError",
    "SandboxFailure",
    "SandboxThrow",
    "ScenarioStepFailed",
    "TagError",
    "TransportError",
    "VariableCycleError",
]


class EmulatorError(Exception):
    """Base class of every error gtm_emulator raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One configuration problem: the file, the JSON path inside it, and what is wrong."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"


class ConfigError(EmulatorError):
    """A container, tag-template or trigger file is invalid. Carries every problem found."""

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class RequestError(EmulatorError):
    """An incoming request that cannot be processed: answered with a 4xx and this reason."""

    def __init__(self, status: int, reason: str):
        self.status = status
        self.reason = reason
        super().__init__(f"{status}: {reason}")


class BodyTooLarge(RequestError):
    """The body is longer than the limit (by its Content-Length, or as it was read)."""

    def __init__(self, reason: str = "request body too large"):
        super().__init__(413, reason)


class TagError(EmulatorError):
    """A tag failed (GTM's gtmOnFailure); the message goes into the tag's result."""


class NotEmulated(TagError):
    """The tag fired but the emulator cannot do its work (a Google Ads, Floodlight or Conversion
    Linker tag, or an imported type it does not know); ``would_read`` says what it would have used.
    The tag's status is ``not_emulated``, never ``success``."""

    def __init__(self, message: str, would_read: dict[str, Any]):
        super().__init__(message)
        self.would_read = would_read


class TransportError(EmulatorError):
    """The request got no HTTP answer. ``reason`` is ``failed`` or ``timed_out`` (as sGTM says)."""

    def __init__(self, reason: TransportFailureReason, detail: str):
        self.reason: TransportFailureReason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class SandboxFailure(EmulatorError):
    """The template code could not run to completion (syntax error, exception, limit)."""

    def __init__(self, kind: SandboxFailureKind, message: str):
        self.kind: SandboxFailureKind = kind
        super().__init__(message)


class SandboxThrow(EmulatorError):
    """Thrown into the template as a JS ``Error`` with this message."""


class PermissionDenied(EmulatorError):
    """A sandbox API call that the template's permissions do not allow."""


class VariableCycleError(EmulatorError):
    """A variable needs its own value (directly or through others) while being resolved."""

    def __init__(self, cycle: list[str]):
        self.cycle = list(cycle)
        super().__init__("variable cycle: " + " -> ".join(self.cycle))


class ConditionError(EmulatorError, ValueError):
    """A trigger condition that cannot be built (unknown operator…)."""


class EncodeError(EmulatorError, ValueError):
    """The event data has a value that no GA4 hit can carry."""


class PathSyntaxError(EmulatorError, ValueError):
    """A path into a body that cannot be parsed (names the path and the position)."""


class ReplayFileError(EmulatorError):
    """A replay file that cannot be read at all (missing, not NDJSON or HAR)."""


class ScenarioStepFailed(EmulatorError, AssertionError):
    """A step's expectations did not hold (the item shows the step's message, no traceback)."""
