"""RE2 patterns, as sGTM evaluates them (``matches RegEx`` conditions, RegEx Tables, createRegex).

RE2 has no look-around and no back-references; a pattern that Python's ``re`` would accept but RE2
rejects is invalid here too, as it is in Google's tagging server.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import re2


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str, ignore_case: bool = False) -> tuple[Any | None, str | None]:
    """Compile ``pattern`` with RE2: ``(regex, None)``, or ``(None, reason)`` when invalid."""
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False
    try:
        return re2.compile(pattern, options), None
    except (re2.error, TypeError, ValueError) as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return None, f"invalid RE2 pattern {pattern!r}: {detail}"


def search(pattern: str, text: str, ignore_case: bool = False) -> bool:
    """RE2 search semantics: the pattern matches anywhere in ``text``. Raises ValueError if invalid."""
    compiled, error = compile_pattern(pattern, ignore_case)
    if compiled is None:
        raise ValueError(error)
    return compiled.search(text) is not None
