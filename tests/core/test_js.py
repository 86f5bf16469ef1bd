"""JS value semantics: String(), Number(), truthiness, JSON.stringify (ECMAScript rules)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gtm_emulator.core import js
from gtm_emulator.core.js import UNDEFINED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0x1A", 26),
        ("0X1a", 26),
        ("0b101", 5),
        ("0o17", 15),
        (" 12 ", 12),
        ("\t\n12\r\n", 12),
        ("\u00a012\ufeff", 12),
        ("\u300012\u2028", 12),
        ("1e3", 1000),
        ("1E-2", 0.01),
        ("+.5e-3", 0.0005),
        (".5", 0.5),
        ("5.", 5),
        ("", 0),
        ("   ", 0),
        ("Infinity", math.inf),
        ("+Infinity", math.inf),
        ("-Infinity", -math.inf),
        ("-0", 0),
        ("007", 7),
        ("1e400", math.inf),
        ("0x20000000000001", 2**53),  # rounded to the nearest double, as JS does
    ],
)
def test_number_of_strings(text: str, expected: float) -> None:
    assert js.to_number(text) == expected


@pytest.mark.parametrize(
    "text",
    ["12abc", "abc", ".", "1e", "0x", "-0x1A", "+0x1A", "0x1G", "infinity", "inf", "NaN", "1_000", "1,000",
     "\u0663", "\uff11", "0b102", "--1", "1 2"],
)
def test_number_of_non_numeric_strings_is_nan(text: str) -> None:
    assert js.is_nan(js.to_number(text))


@pytest.mark.parametrize(
    ("value", "expected"),
    [([], 0), ([5], 5), (["7"], 7), ([None], 0), ([[3]], 3), (None, 0), (True, 1), (False, 0), (2.0, 2)],
)
def test_number_of_other_values(value: object, expected: float) -> None:
    assert js.to_number(value) == expected


@pytest.mark.parametrize("value", [UNDEFINED, [1, 2], {}, {"a": 1}, ["x"]])
def test_number_nan_values(value: object) -> None:
    assert js.is_nan(js.to_number(value))


def test_number_of_big_int_is_rounded_like_a_double() -> None:
    assert js.to_number(2**53 + 1) == 2**53
    assert js.to_number(10**400) == math.inf


def test_number_returns_int_for_integral_values() -> None:
    assert type(js.to_number("1e3")) is int
    assert type(js.to_number(4.0)) is int
    assert type(js.to_number("1.5")) is float


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (UNDEFINED, "undefined"),
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-0.0, "0"),
        (1, "1"),
        (-3, "-3"),
        (2.0, "2"),
        (1.5, "1.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (123456789012345680000.0, "123456789012345680000"),
        (1e-7, "1e-7"),
        (1.5e-7, "1.5e-7"),
        (1e-6, "0.000001"),
        (-1.5e-7, "-1.5e-7"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (5e-324, "5e-324"),
        (1e16, "10000000000000000"),
        (2**60, "1152921504606847000"),
        (10**21, "1e+21"),
        (math.nan, "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        ("text", "text"),
        ([], ""),
        ([1, [2, 3]], "1,2,3"),
        ([None, UNDEFINED, 1], ",,1"),
        ([True, "a", {"b": 1}], "true,a,[object Object]"),
        ({}, "[object Object]"),
        ({"a": 1}, "[object Object]"),
    ],
)
def test_string(value: object, expected: str) -> None:
    assert js.to_string(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(UNDEFINED, False), (None, False), (0, False), (math.nan, False), ("", False), (False, False),
     ([], True), ({}, True), ("0", True), (-1, True), ("false", True)],
)
def test_truthy(value: object, expected: bool) -> None:
    assert js.truthy(value) is expected


def test_stringify() -> None:
    assert js.stringify({"a": UNDEFINED, "b": [UNDEFINED, 1.0, math.nan], "c": 1e21}) == '{"b":[null,1,null],"c":1e+21}'
    assert js.stringify(UNDEFINED) is UNDEFINED


def test_undefined_is_a_singleton_and_falsy() -> None:
    import copy
    import pickle

    assert copy.deepcopy(UNDEFINED) is UNDEFINED
    assert pickle.loads(pickle.dumps({"x": UNDEFINED}))["x"] is UNDEFINED
    assert not UNDEFINED
    assert repr(UNDEFINED) == "UNDEFINED"


_json_like = st.recursive(
    st.none() | st.booleans() | st.integers(-10**22, 10**22) | st.floats() | st.text(max_size=8) | st.just(UNDEFINED),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(_json_like)
def test_stringify_fast_path_writes_what_the_js_exact_writer_writes(value: object) -> None:
    from gtm_emulator.core.js import stringify_exact

    out: list[str] = []
    expected = "".join(out) if stringify_exact(value, out) else UNDEFINED
    assert js.stringify(value) == expected


@settings(max_examples=300, deadline=None)
@given(_json_like)
def test_plain_keeps_the_value_and_its_json_text(value: object) -> None:
    checked = js.plain(value)
    data = checked.data if type(checked) is js.Plain else checked
    # the same data as drop_undefined (integral floats may become ints: equal values, same JS text)
    assert js.stringify(data) == js.stringify(js.drop_undefined(value)) == js.stringify(value)
    assert js.stringify(checked) == js.stringify(value)


def test_plain_marks_only_data_the_c_encoder_writes_like_js() -> None:
    assert type(js.plain({"a": 1.0, "b": UNDEFINED})) is js.Plain
    assert js.plain({"a": 1.0, "b": UNDEFINED}).data == {"a": 1}
    assert js.plain({"a": 1e21}) == {"a": 1e21}  # exponent form: not Plain, the JS-exact writer decides
    assert js.stringify(js.plain({"a": 1e21})) == '{"a":1e+21}'
