"""Operator conformance table, derived from GTM's documented condition semantics (sgtm.md §5.3).

Each row: operator, left (typed value), right, negate, ignore_case, expected result, and the rule
it checks. String operators compare JS String() of both sides; matches_regex is an RE2 search;
numeric operators compare JS Number() of the typed values and are false on NaN; negate is last.
"""

from __future__ import annotations

import math

import pytest

from gtm_emulator.core.triggers import UNDEFINED, evaluate, evaluate_with_error

NAN = math.nan
INF = math.inf

# (operator, left, right, negate, ignore_case, expected, rule)
CASES: list[tuple[str, object, object, bool, bool, bool, str]] = [
    # --- equals: exact, case-sensitive, on String() of both sides
    ("equals", "purchase", "purchase", False, False, True, "identical strings"),
    ("equals", "Purchase", "purchase", False, False, False, "case-sensitive"),
    ("equals", "purchase ", "purchase", False, False, False, "no trimming"),
    ("equals", UNDEFINED, "undefined", False, False, True, "undefined is the string 'undefined'"),
    ("equals", UNDEFINED, "", False, False, False, "undefined is not empty"),
    ("equals", None, "null", False, False, True, "null is the string 'null'"),
    ("equals", None, "", False, False, False, "null is not empty"),
    ("equals", True, "true", False, False, True, "booleans as 'true'"),
    ("equals", False, "false", False, False, True, "booleans as 'false'"),
    ("equals", True, "1", False, False, False, "true is not '1' for string operators"),
    ("equals", 1, "1", False, False, True, "number vs numeric string"),
    ("equals", 1.0, "1", False, False, True, "integral float has no decimal point"),
    ("equals", 1.5, "1.50", False, False, False, "compared as strings, not numbers"),
    ("equals", "1.50", 1.5, False, False, False, "right number is String()ed"),
    ("equals", 0.1 + 0.2, "0.30000000000000004", False, False, True, "shortest round-trip digits"),
    ("equals", 1e21, "1e+21", False, False, True, "exponent form from 1e21"),
    ("equals", 1e-7, "1e-7", False, False, True, "JS exponent form, no zero padding"),
    ("equals", -0.0, "0", False, False, True, "-0 prints as 0"),
    ("equals", NAN, "NaN", False, False, True, "NaN prints as NaN"),
    ("equals", [], "", False, False, True, "empty array is the empty string"),
    ("equals", ["a", "b"], "a,b", False, False, True, "arrays join with commas"),
    ("equals", [1, [2, 3]], "1,2,3", False, False, True, "nested arrays flatten"),
    ("equals", [None, UNDEFINED], ",", False, False, True, "null/undefined elements are empty"),
    ("equals", {"a": 1}, "[object Object]", False, False, True, "objects print as [object Object]"),
    ("equals", "", "", False, False, True, "empty equals empty"),
    ("equals", "GA4", "GA4", True, False, False, "negated equals"),
    ("equals", UNDEFINED, "undefined", True, False, False, "does not equal undefined, when undefined"),
    ("equals", "x", "undefined", True, False, True, "does not equal undefined, when set"),
    ("equals", "ABC", "abc", False, True, False, "ignore_case does not affect equals"),
    # --- contains
    ("contains", "GA4 client", "GA4", False, False, True, "substring"),
    ("contains", "ga4", "GA4", False, False, False, "case-sensitive"),
    ("contains", "anything", "", False, False, True, "empty right operand is contained"),
    ("contains", "", "", False, False, True, "empty contains empty"),
    ("contains", UNDEFINED, "def", False, False, True, "'undefined' contains 'def'"),
    ("contains", UNDEFINED, "x", True, False, True, "does not contain on a missing value tests 'undefined'"),
    ("contains", None, "ul", False, False, True, "'null' contains 'ul'"),
    ("contains", [1, 2, 3], "2,3", False, False, True, "array joined"),
    ("contains", 12345, 234, False, False, True, "numbers as strings"),
    ("contains", {"a": 1}, "object", False, False, True, "object string"),
    ("contains", "abc", "", True, False, False, "negated with empty right is false"),
    ("contains", "ABC", "b", False, True, False, "ignore_case ignored for contains"),
    # --- starts_with / ends_with
    ("starts_with", "page_view", "page", False, False, True, "prefix"),
    ("starts_with", "page_view", "Page", False, False, False, "case-sensitive"),
    ("starts_with", "page_view", "", False, False, True, "empty prefix"),
    ("starts_with", "page_view", "view", False, False, False, "not a prefix"),
    ("starts_with", UNDEFINED, "undef", False, False, True, "undefined as a string"),
    ("starts_with", 3.14, "3.", False, False, True, "number as a string"),
    ("starts_with", "page_view", "page", True, False, False, "does not start with"),
    ("ends_with", "add_to_cart", "cart", False, False, True, "suffix"),
    ("ends_with", "add_to_cart", "Cart", False, False, False, "case-sensitive"),
    ("ends_with", "add_to_cart", "", False, False, True, "empty suffix"),
    ("ends_with", None, "ll", False, False, True, "null as a string"),
    ("ends_with", [1, 2], ",2", False, False, True, "array as a string"),
    ("ends_with", "x.html", ".html", True, False, False, "does not end with"),
    # --- matches_regex: RE2, search semantics
    ("matches_regex", "purchase", "purchase", False, False, True, "literal pattern"),
    ("matches_regex", "my_purchase_event", "purchase", False, False, True, "unanchored: matches anywhere"),
    ("matches_regex", "my_purchase_event", "^purchase$", False, False, False, "anchored: full match only"),
    ("matches_regex", "purchase", "^purchase$", False, False, True, "anchored full match"),
    ("matches_regex", "purchase", "^pur", False, False, True, "anchored at start"),
    ("matches_regex", "repurchase", "^pur", False, False, False, "start anchor respected"),
    ("matches_regex", "PURCHASE", "purchase", False, False, False, "case-sensitive by default"),
    ("matches_regex", "PURCHASE", "purchase", False, True, True, "ignore_case"),
    ("matches_regex", "PURCHASE", "^purchase$", True, True, False, "negated ignore_case match"),
    ("matches_regex", "PURCHASE", "(?i)purchase", False, False, True, "inline flag"),
    ("matches_regex", "anything", "", False, False, True, "empty pattern matches everything"),
    ("matches_regex", "", "^$", False, False, True, "empty string full match"),
    ("matches_regex", UNDEFINED, "^undefined$", False, False, True, "undefined as a string"),
    ("matches_regex", None, "^null$", False, False, True, "null as a string"),
    ("matches_regex", 42, r"^\d+$", False, False, True, "number as a string"),
    ("matches_regex", "https://shop.example/p", r"^https://shop\.example/", False, False, True, "escaped dots"),
    ("matches_regex", "https://shopxexample/p", r"^https://shop\.example/", False, False, False, "escaped dot"),
    ("matches_regex", "a\nb", "^b", False, False, False, "no multiline: ^ is start of text"),
    ("matches_regex", "\u0663", r"\d", False, False, False, r"RE2 \d is ASCII"),
    ("matches_regex", "ÉTÉ", "été", False, True, True, "unicode case folding"),
    ("matches_regex", "view_item", "view|add", False, False, True, "alternation"),
    ("matches_regex", "abc", "(?=a)", False, False, False, "look-ahead is invalid RE2: false"),
    ("matches_regex", "abc", "(?=a)", True, False, True, "negated invalid pattern: true"),
    ("matches_regex", "ab", "(?<=a)b", False, False, False, "look-behind is invalid RE2"),
    ("matches_regex", "aa", r"(a)\1", False, False, False, "back-reference is invalid RE2"),
    ("matches_regex", "aa", r"(a)\1", True, False, True, "negated back-reference: true"),
    ("matches_regex", "aaa", "a++", False, False, False, "possessive quantifier invalid"),
    ("matches_regex", "[", "[", False, False, False, "unterminated class invalid"),
    ("matches_regex", "x", "(", True, True, True, "negated unbalanced parenthesis"),
    # --- numeric: JS Number() of typed values, NaN -> false
    ("less", 1, 2, False, False, True, "1 < 2"),
    ("less", 2, 2, False, False, False, "2 < 2 is false"),
    ("less_or_equals", 2, 2, False, False, True, "2 <= 2"),
    ("greater", 3, 2, False, False, True, "3 > 2"),
    ("greater_or_equals", 2, 3, False, False, False, "2 >= 3 is false"),
    ("less", "10", "9", False, False, False, "numeric, not lexicographic"),
    ("greater", "10", 9, False, False, True, "numeric string vs number"),
    ("less", " 12 ", 13, False, False, True, "whitespace around numbers"),
    ("greater", "0x1A", 25, False, False, True, "hex string is 26"),
    ("equals", "0x1A", 26, False, False, False, "but equals compares strings"),
    ("greater_or_equals", "1e3", 1000, False, False, True, "exponent string"),
    ("less", "", 5, False, False, True, "empty string is 0"),
    ("greater", "", -1, False, False, True, "empty string is 0 (greater)"),
    ("less", "   ", 1, False, False, True, "whitespace-only is 0"),
    ("less", 5, "", False, False, False, "empty right operand is 0"),
    ("less", None, 1, False, False, True, "null is 0"),
    ("greater", True, 0, False, False, True, "true is 1"),
    ("less", False, 1, False, False, True, "false is 0"),
    ("less", UNDEFINED, 1, False, False, False, "undefined is NaN"),
    ("greater_or_equals", UNDEFINED, 0, False, False, False, "undefined is NaN (>=)"),
    ("less", "12abc", 100, False, False, False, "partly numeric string is NaN"),
    ("greater", "abc", 0, False, False, False, "text is NaN"),
    ("less_or_equals", NAN, NAN, False, False, False, "NaN never compares"),
    ("greater", 1, NAN, False, False, False, "NaN on the right"),
    ("less", [], 1, False, False, True, "[] is 0"),
    ("less", [5], 6, False, False, True, "[5] is 5"),
    ("less", [1, 2], 6, False, False, False, "[1,2] is NaN"),
    ("less", {}, 1, False, False, False, "objects are NaN"),
    ("less", "Infinity", INF, False, False, False, "Infinity is not less than Infinity"),
    ("greater", "Infinity", 1e308, False, False, True, "Infinity string"),
    ("less", "-Infinity", -1e308, False, False, True, "-Infinity string"),
    ("less", -0.0, 0, False, False, False, "-0 equals 0"),
    ("less_or_equals", 0.1 + 0.2, 0.3, False, False, False, "float arithmetic as in JS"),
    ("greater", 2, 1, True, False, False, "negate applies to numeric operators too"),
    ("less", UNDEFINED, 1, True, False, True, "negated NaN comparison is true"),
    ("less", "1", "2", False, True, True, "ignore_case irrelevant for numbers"),
]


def test_table_is_large_enough() -> None:
    assert len(CASES) >= 80


@pytest.mark.parametrize(
    ("operator", "left", "right", "negate", "ignore_case", "expected", "rule"),
    CASES,
    ids=[f"{i:03d}-{c[0]}-{c[6]}" for i, c in enumerate(CASES)],
)
def test_operator(
    operator: str, left: object, right: object, negate: bool, ignore_case: bool, expected: bool, rule: str
) -> None:
    assert evaluate(operator, left, right, negate=negate, ignore_case=ignore_case) is expected, rule


@pytest.mark.parametrize("spelling", ["MATCH_REGEX", "matchRegex", "matches_regex"])
def test_operator_spellings_agree(spelling: str) -> None:
    assert evaluate(spelling, "purchase", "^pur") is True


@pytest.mark.parametrize("pattern", ["(?=a)", r"(a)\1", "a++", "[", "(?<!a)b"])
def test_invalid_pattern_reports_an_error(pattern: str) -> None:
    result, error = evaluate_with_error("matches_regex", "abc", pattern)
    assert result is False
    assert error is not None and "invalid RE2 pattern" in error


def test_valid_pattern_has_no_error() -> None:
    assert evaluate_with_error("matches_regex", "abc", "^a") == (True, None)
