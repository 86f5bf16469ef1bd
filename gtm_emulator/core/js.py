"""JavaScript value semantics, as the sGTM sandbox applies them.

sGTM runs templates and conditions in a JavaScript sandbox, so the emulator must convert values the
way ECMAScript does, not the way Python does. Python values stand for JS values like this:

====================  =====================
JS                    Python
====================  =====================
undefined             :data:`UNDEFINED`
null                  ``None``
boolean               ``bool``
number                ``int`` (integral) or ``float``
string                ``str``
array                 ``list`` (or ``tuple``)
object                ``dict``
====================  =====================

Negative zero: ``Number("-0")`` is ``-0`` in JS; here it becomes ``0``. No condition, ``String()``
or ``JSON.stringify`` result can tell them apart, so the difference is not observable.

The functions here are the sandbox's ``makeString`` (JS ``String()``), ``makeNumber`` (JS
``Number()``), truthiness, and ``JSON.stringify`` with JS number formatting.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any, Final


class _Undefined:
    """The JavaScript ``undefined`` value: a key that is not there, a variable with no value."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False

    def __copy__(self) -> _Undefined:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Undefined:
        return self

    def __reduce__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Final = _Undefined()

NAN = float("nan")

# Largest integer a JS number holds exactly; larger Python ints are rounded as JS would round them.
MAX_SAFE_INTEGER: Final = 2**53


def is_undefined(value: object) -> bool:
    return value is UNDEFINED


def type_of(value: object) -> str:
    """The sandbox's ``getType``: distinguishes ``array`` and ``null`` unlike ``typeof``."""
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if callable(value):
        return "function"
    return "object"


def truthy(value: object) -> bool:
    """JS truthiness: ``undefined``, ``null``, ``false``, ``0``, ``NaN`` and ``""`` are falsy;
    empty arrays and empty objects are truthy."""
    kind = type(value)
    if kind is str:  # the common cases first, by exact type
        return value != ""
    if kind is dict or kind is list:
        return True
    if value is UNDEFINED or value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return not (value == 0 or value != value)
    if isinstance(value, str):
        return value != ""
    return True


def or_chain(*values: object) -> object:
    """``a || b || c``: the first truthy value, else the last one (JS semantics)."""
    last: object = UNDEFINED
    for last in values:
        if truthy(last):
            return last
    return last


def number_to_string(value: float | int) -> str:
    """JS ``Number.prototype.toString()`` for a number (ECMAScript Number::toString, radix 10)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return str(value)
        try:
            return number_to_string(float(value))
        except OverflowError:
            return "Infinity" if value > 0 else "-Infinity"
    if value != value:
        return "NaN"
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    if value == 0:
        return "0"
    if value < 0:
        return "-" + number_to_string(-value)
    # repr() gives the shortest digits that round-trip, as JS does; only the layout differs.
    _sign, digits_t, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digits_t)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    # value = 0.<digits> x 10^n
    n = len("".join(map(str, digits_t))) + exponent
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    exp = ("+" if e >= 0 else "-") + str(abs(e))
    if k == 1:
        return digits + "e" + exp
    return digits[0] + "." + digits[1:] + "e" + exp


def to_string(value: object) -> str:
    """JS ``String(value)`` (the sandbox's ``makeString``)."""
    if isinstance(value, str):
        return value
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_to_string(value)
    if isinstance(value, (list, tuple)):
        return ",".join("" if item is None or item is UNDEFINED else to_string(item) for item in value)
    if callable(value):
        return "function () { [native code] }"
    return "[object Object]"


_WS = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
      "\u2028\u2029\u202f\u205f\u3000\ufeff"
# StrDecimalLiteral of ECMAScript: ASCII digits only (Python's float() would accept other scripts'
# digits and underscores), an optional sign, "Infinity" spelled exactly.
WHITESPACE: Final = _WS  # what JS String.prototype.trim() and Number() strip
_DECIMAL = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|Infinity)\Z")

_RADIX = re.compile(r"0(?:([xX])([0-9a-fA-F]+)|([oO])([0-7]+)|([bB])([01]+))\Z")


def string_to_number(text: str) -> float | int:
    """JS ``Number(text)`` for a string; integral finite results come back as ``int``."""
    stripped = text.strip(_WS)
    if stripped == "":
        return 0
    if _DECIMAL.match(stripped):
        result = float(stripped.replace("Infinity", "inf"))
        return normalize_number(result)
    radix = _RADIX.match(stripped)
    if radix:
        groups = radix.groups()
        if groups[1]:
            return _js_int(int(groups[1], 16))
        if groups[3]:
            return _js_int(int(groups[3], 8))
        return _js_int(int(groups[5], 2))
    return NAN


def _js_int(value: int) -> float | int:
    """An integer as a JS number holds it: beyond 2**53 it is rounded to the nearest double."""
    if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return value
    try:
        return normalize_number(float(value))
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def to_number(value: object) -> float | int:
    """JS ``Number(value)`` (the sandbox's ``makeNumber``). Returns ``int`` for integral results."""
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, int):
        return _js_int(value)
    if isinstance(value, float):
        return normalize_number(value)
    if isinstance(value, str):
        return string_to_number(value)
    if value is None:
        return 0
    if value is UNDEFINED:
        return NAN
    if isinstance(value, (list, tuple)):
        return string_to_number(to_string(value))
    return NAN


def to_integer(value: object) -> int | float:
    """The sandbox's ``makeInteger``: ``Number(value)`` truncated toward zero (NaN stays NaN)."""
    number = to_number(value)
    if isinstance(number, int):
        return number
    if number != number or number in (math.inf, -math.inf):
        return number
    return int(number)


def normalize_number(value: float) -> float | int:
    """Store an integral finite float as ``int`` (so JSON shows ``2``, not ``2.0``)."""
    if value != value or value in (math.inf, -math.inf):
        return value
    if value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


def is_nan(value: object) -> bool:
    return isinstance(value, float) and value != value


# ---------------------------------------------------------------- JSON.stringify


def _json_number(value: float | int) -> str:
    if isinstance(value, float) and (value != value or value in (math.inf, -math.inf)):
        return "null"
    return number_to_string(value)


def stringify_exact(value: object, out: list[str]) -> bool:
    """Append the JSON text of ``value``; return False when the value is dropped (undefined)."""
    if value is UNDEFINED or callable(value):
        return False
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, (int, float)):
        out.append(_json_number(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            if not stringify_exact(item, out):
                out.append("null")
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in js_key_order(value).items():
            if item is UNDEFINED or callable(item):
                continue
            if not first:
                out.append(",")
            first = False
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            stringify_exact(item, out)
        out.append("}")
    else:
        out.append(json.dumps(str(value), ensure_ascii=False))
    return True


class _NeedsSlowPath(Exception):
    """A value whose JSON text Python's encoder would write differently from JS."""


_INDEX = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_MAX_INDEX = 2**32 - 2


def _is_index(key: Any) -> bool:
    """Whether ``key`` is an array index, which a JS object lists before its other keys."""
    return type(key) is str and key[:1] in _DIGITS and _INDEX.match(key) is not None and int(key) <= _MAX_INDEX


_DIGITS = frozenset("0123456789")


def js_key_order(value: dict[Any, Any]) -> dict[Any, Any]:
    """``value`` with its keys in JS property order: array indices ascending, then the other keys
    in insertion order (what ``JSON.stringify`` and ``for … in`` see)."""
    indices = sorted((k for k in value if _is_index(k)), key=int)
    if not indices:
        return value
    out = {k: value[k] for k in indices}
    out.update((k, v) for k, v in value.items() if k not in out)
    return out


def _plain(value: Any) -> Any:
    """``value`` as plain JSON data whose ``json.dumps`` text equals JS ``JSON.stringify``'s, or
    :class:`_NeedsSlowPath` (exponent-form or non-finite numbers, non-string keys, other types)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is dict:
        out = {}
        indexed = False
        for key, item in value.items():
            if item is UNDEFINED:
                continue
            if type(key) is not str:
                raise _NeedsSlowPath
            if "0" <= key < ":":  # starts with a digit (no slice allocated)
                indexed = True
            out[key] = item if type(item) is str else _plain(item)
        return js_key_order(out) if indexed else out
    if kind is list or kind is tuple:
        return [item if type(item) is str else None if item is UNDEFINED else _plain(item) for item in value]
    if kind is int:
        if -(2**53) <= value <= 2**53:
            return value
        raise _NeedsSlowPath  # a JS number is a double: larger integers are written rounded
    if kind is float:
        if value != value or value in (math.inf, -math.inf):
            raise _NeedsSlowPath
        if value.is_integer():
            if abs(value) < 2**53:
                return int(value)
            raise _NeedsSlowPath  # JS writes the shortest digits padded with zeros, not the exact integer
        if "e" in repr(value):
            raise _NeedsSlowPath
        return value
    raise _NeedsSlowPath  # subclasses, callables and other objects: the JS-exact writer decides


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class Plain:
    """JSON data known to be plain: ``json.dumps`` of ``data`` is JS ``JSON.stringify``'s text."""

    __slots__ = ("data",)

    def __init__(self, data: Any):
        self.data = data

    def __eq__(self, other: object) -> bool:
        return type(other) is Plain and other.data == self.data

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Plain({self.data!r})"


def plain(value: object) -> Any:
    """``value`` with undefined object members dropped (as :func:`drop_undefined`), as a
    :class:`Plain` when its JSON text can be written by the C encoder (integral floats become ints,
    which JS writes the same way), else as the :func:`drop_undefined` copy. Pass the result to
    :func:`stringify` to write it without a second walk."""
    if value is not UNDEFINED and not callable(value):
        try:
            return Plain(_plain(value))
        except _NeedsSlowPath:
            pass
    return drop_undefined(value)


def stringify(value: object) -> str | _Undefined:
    """JS ``JSON.stringify(value)``: undefined members dropped, JS number formatting, compact.

    Plain data goes through the C JSON encoder; values whose text would differ (numbers in
    exponent form, NaN, callables…) through the JS-exact writer below. A :class:`Plain` is written
    directly."""
    if type(value) is Plain:
        return _ENCODER.encode(value.data)
    if value is not UNDEFINED and not callable(value):
        try:
            return _ENCODER.encode(_plain(value))
        except _NeedsSlowPath:
            pass
    out: list[str] = []
    if not stringify_exact(value, out):
        return UNDEFINED
    return "".join(out)


def drop_undefined(value: object) -> Any:
    """A copy of ``value`` with undefined object members removed (what a JSON round trip keeps)."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if isinstance(value, dict):
        return {k: v if type(v) is str else drop_undefined(v) for k, v in value.items() if v is not UNDEFINED}
    if isinstance(value, (list, tuple)):
        return [v if type(v) is str else None if v is UNDEFINED else drop_undefined(v) for v in value]
    return value
