"""Values crossing the Python/JavaScript boundary, as JSON text with markers.

JSON cannot carry ``undefined``, ``NaN``, infinities or functions, so both sides replace them with
one-key marker objects whose key starts with a NUL character (a key no real data uses):
``{"\\u0000u": 1}`` undefined, ``{"\\u0000n": "NaN"}`` a non-finite number, ``{"\\u0000f": 1}`` a
function, ``{"\\u0000c": 1}`` a cyclic reference.
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..core.js import UNDEFINED

U = "\u0000u"
N = "\u0000n"
F = "\u0000f"
C = "\u0000c"


class JsFunction:
    """A JavaScript function seen from Python (only its existence crosses the boundary)."""

    def __call__(self, *args: Any) -> Any:  # makes js.type_of() say "function"
        raise TypeError("a JavaScript function cannot be called from Python")

    def __repr__(self) -> str:
        return "JsFunction()"


class Cyclic:
    """A cyclic reference inside a value passed from JavaScript."""

    def __repr__(self) -> str:
        return "Cyclic()"


def _from_marker(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if U in obj:
            return UNDEFINED
        if N in obj:
            return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[obj[N]]
        if F in obj:
            return JsFunction()
        if C in obj:
            return Cyclic()
    return obj


def decode(text: str) -> Any:
    """JSON text from the JS side -> Python value (UNDEFINED, nan, JsFunction restored)."""
    return json.loads(text, object_hook=_from_marker)


def _prepare(value: Any) -> Any:
    if value is UNDEFINED:
        return {U: 1}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return {N: "NaN"}
        if math.isinf(value):
            return {N: "Infinity" if value > 0 else "-Infinity"}
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, (list, tuple)):
        return [_prepare(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _prepare(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, JsFunction):
        return {F: 1}
    return str(value)


def encode(value: Any) -> str:
    """Python value -> JSON text for the JS side."""
    return json.dumps(_prepare(value), ensure_ascii=False, allow_nan=False)
