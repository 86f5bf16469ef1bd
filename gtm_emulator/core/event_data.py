"""Event data: the dict a client builds for one event, and key paths into it.

Key paths are GTM's: parts separated by ``.``; a part is an object key or, for an array, a decimal
index (``items.0.item_id``). A missing step gives :data:`UNDEFINED`. A key that itself contains a
dot cannot be reached, as in sGTM's ``getEventData``. An array step must be a canonical decimal index
(``01`` and ``-1`` give undefined); a step into a string, number or boolean gives undefined.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .js import UNDEFINED, is_undefined

__all__ = ["UNDEFINED", "copy_event_data", "get_path", "is_undefined", "set_path", "split_path"]

EventData = dict[str, Any]


def split_path(key_path: str) -> tuple[str, ...]:
    return tuple(key_path.split("."))


def get_path(data: Any, key_path: str | tuple[str, ...]) -> Any:
    """The value at ``key_path`` in ``data``, or UNDEFINED when any step is missing."""
    parts = split_path(key_path) if isinstance(key_path, str) else key_path
    current = data
    for part in parts:
        if isinstance(current, Mapping):
            if part not in current:
                return UNDEFINED
            current = current[part]
        elif isinstance(current, (list, tuple)):
            if not _is_index(part):
                return UNDEFINED
            index = int(part)
            if index >= len(current):
                return UNDEFINED
            current = current[index]
        else:
            return UNDEFINED
    return current


def _is_index(part: str) -> bool:
    """A canonical array index, as a JS property lookup on an array needs: ``0``, ``12``; not
    ``01``, ``-1``, ``+1`` or non-ASCII digits."""
    return part.isascii() and part.isdigit() and (part == "0" or part[0] != "0")


def set_path(data: dict[str, Any], key_path: str, value: Any) -> None:
    """Set ``value`` at a dotted key path, creating intermediate objects."""
    parts = split_path(key_path)
    current = data
    for part in parts[:-1]:
        nxt = current.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            current[part] = nxt
        current = nxt
    current[parts[-1]] = value


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def _copy(value: Any) -> Any:
    kind = type(value)
    if kind is dict:  # the common shapes first, by exact type; leaves are not recursed into
        return {k: v if type(v) in _IMMUTABLE else _copy(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _IMMUTABLE else _copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool, tuple)) or value is UNDEFINED:
        return value
    return copy.deepcopy(value)


def copy_event_data(data: EventData) -> EventData:
    """A deep copy, so that one tag cannot change what another tag sees (JSON-shaped data is copied
    directly; anything else through ``copy.deepcopy``)."""
    copied: EventData = _copy(data)
    return copied
