"""The client contract: claim a request, turn it into events, build the response."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.report import EventReport
from ..core.request import Request, Response
from ..errors import ConfigError, Problem


@dataclass
class Claim:
    """A client's answer to "is this request yours?"; ``reason`` says why not."""

    claimed: bool
    reason: str = ""


@dataclass(slots=True)
class ClientRun:
    """What a client may use while it handles one request: the clock, randomness, notes."""

    now: float
    rng: random.Random
    warnings: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)


class Client:
    """Base class of clients. Subclasses set ``type`` and implement the three steps."""

    type: str = ""
    default_name: str = ""

    def __init__(self, name: str | None = None, priority: int = 0, settings: dict[str, Any] | None = None):
        self.name = name or self.default_name
        self.priority = priority
        self.settings = dict(settings or {})
        problems = self.check_settings(self.settings)
        if problems:
            raise ConfigError([Problem(f"client {self.name!r}", f"settings.{key}", message)
                               for key, message in problems])

    @classmethod
    def check_settings(cls, settings: dict[str, Any]) -> list[tuple[str, str]]:
        """Problems with ``settings``, as (key, message) pairs; the loader adds file and JSON path."""
        return []

    def claim(self, request: Request) -> Claim:
        raise NotImplementedError

    def events(self, request: Request, run: ClientRun) -> list[dict[str, Any]]:
        """The event data of every event in the request (raises RequestError for bad input)."""
        raise NotImplementedError

    def respond(self, request: Request, run: ClientRun, response: Response, events: list[EventReport]) -> None:
        """Fill in the response (status, headers, body) after every event has run."""
        response.status = 200

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, priority={self.priority})"


def header_value(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None, name: str) -> str | None:
    """A header of a mapping or of (name, value) pairs, any case; repeats joined (cookies with ``; ``)."""
    if not headers:
        return None
    if isinstance(headers, Mapping):
        found = headers.get(name)
        if found is not None:
            return found
        items: Iterable[tuple[str, str]] = headers.items()
    else:
        items = headers
    lname = name.lower()
    values = [v for k, v in items if k.lower() == lname]
    if not values:
        return None
    return ("; " if lname == "cookie" else ", ").join(values)


def as_bool(value: Any) -> bool | None:
    """A setting given as a boolean or as "true"/"false"; None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None
