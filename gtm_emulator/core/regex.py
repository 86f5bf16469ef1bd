"""RE2 patterns, as sGTM evaluates them (``matches RegEx`` conditions, RegEx Tables, createRegex).

RE2 has no look-around and no back-references; a pattern that Python's ``re`` would accept but RE2
rejects is invalid here too, as it is in Google's tagging server. Matching is a search (the
pattern may match anywhere), case-sensitive unless ``ignore_case``.

Text that holds lone surrogates (bytes that were not valid UTF-8, kept as escapes) cannot be given
to RE2 as UTF-8; such characters are matched as U+FFFD instead (positions stay the same).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2

__all__ = ["compile_pattern", "search", "search_text"]

_SURROGATES = re.compile("[\ud800-\udfff]")


@lru_cache(maxsize=4096)
def compile_pattern(pattern: str, ignore_case: bool = False) -> tuple[Any | None, str | None]:
    """Compile ``pattern`` with RE2: ``(regex, None)``, or ``(None, reason)`` when invalid."""
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False
    try:
        return re2.compile(pattern, options), None
    except (re2.error, TypeError, ValueError, UnicodeError) as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return None, f"invalid RE2 pattern {pattern!r}: {detail}"


def search_text(compiled: Any, text: str) -> Any:
    """``compiled.search(text)`` (a match object or None), tolerating lone surrogates in ``text``."""
    try:
        return compiled.search(text)
    except UnicodeEncodeError:
        return compiled.search(_SURROGATES.sub("\ufffd", text))


def search(pattern: str, text: str, ignore_case: bool = False) -> bool:
    """RE2 search semantics: the pattern matches anywhere in ``text``. Raises ValueError if invalid."""
    compiled, error = compile_pattern(pattern, ignore_case)
    if compiled is None:
        raise ValueError(error)
    return search_text(compiled, text) is not None
