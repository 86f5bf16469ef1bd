"""Top-level ``let`` / ``const`` of template code without a temporal dead zone.

In standard JavaScript a ``let`` or ``const`` binding cannot be read before its declaration has run
(a ``ReferenceError``). Published server templates read top-level bindings from functions that run
before the declaration (a helper called while computing an earlier ``const``), and they work in
sGTM, so GTM's sandboxed JavaScript evidently has no temporal dead zone for them: such a read gives
``undefined``. QuickJS does have one, so before compiling, :func:`hoist_top_level` turns each
top-level ``let`` / ``const`` keyword of the template body into ``var`` (padded with spaces, so
line and column numbers in error messages do not move).

Choices on uncertain points (``HOIST_TOP_LEVEL`` switches the rewrite off):

* Only declarations at the top level of the template body change (outside every brace, bracket and
  parenthesis). Declarations inside functions, blocks and ``for (...)`` heads keep their standard
  block scoping; whether GTM has a dead zone there is not known.
* A top-level ``const`` becomes assignable (GTM's behaviour on assigning a top-level ``const`` is
  not known; templates that work in GTM do not do it).
"""

from __future__ import annotations

from functools import lru_cache

HOIST_TOP_LEVEL = True

_OPEN = "([{"
_CLOSE = ")]}"
_IDENT = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")


def hoist_top_level(code: str) -> str:
    """``code`` with its top-level ``let`` / ``const`` keywords replaced by ``var`` of the same length."""
    if not HOIST_TOP_LEVEL:
        return code
    return _hoisted(code)


@lru_cache(maxsize=64)  # the same template's code is compiled again for every run
def _hoisted(code: str) -> str:
    out = list(code)
    depth = 0
    i = 0
    n = len(code)
    last = ""  # the last significant (non-space, non-comment) character before position i
    newline = False  # whether a line ended since then (a statement may end there)
    while i < n:
        ch = code[i]
        if ch == "/" and code.startswith("//", i):
            end = code.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch == "/" and code.startswith("/*", i):
            end = code.find("*/", i + 2)
            newline = newline or "\n" in code[i:end]
            i = n if end < 0 else end + 2
            continue
        if ch in "'\"`":
            i = _skip_string(code, i)
            last, newline = ch, False
            continue
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        elif ch in _IDENT:
            j = i
            while j < n and code[j] in _IDENT:
                j += 1
            word = code[i:j]
            starts_statement = last in ("", ";", "}", "{") or newline
            if depth == 0 and word in ("let", "const") and starts_statement and j < n and code[j] in " \t\r\n":
                out[i:j] = list("var".ljust(len(word)))
            last, newline = code[j - 1], False
            i = j
            continue
        if ch == "\n":
            newline = True
        elif not ch.isspace():
            last, newline = ch, False
        i += 1
    return "".join(out)


def _skip_string(code: str, start: int) -> int:
    """The position after the string literal (or template literal) opening at ``start``."""
    quote = code[start]
    i = start + 1
    n = len(code)
    while i < n:
        ch = code[i]
        if ch == "\\":
            i += 2
            continue
        if ch == quote:
            return i + 1
        if quote != "`" and ch == "\n":
            return i  # an unterminated string: let the engine report it
        i += 1
    return n
