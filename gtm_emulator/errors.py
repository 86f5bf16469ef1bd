"""The project's exception types. Each names what was wrong and where."""

from __future__ import annotations

from dataclasses import dataclass


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


class TagError(EmulatorError):
    """A tag failed (GTM's gtmOnFailure); the message goes into the tag's result."""
