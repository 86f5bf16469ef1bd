"""Hypothesis strategies for event data: the values a client puts into an event, and whole events.

Values are JS values as Python holds them (see :mod:`gtm_emulator.core.js`): strings (any unicode,
including numbers written as strings), ints and floats (NaN and infinities optional), booleans,
``None`` (null), :data:`UNDEFINED`, arrays and nested objects.

>>> from hypothesis import given
>>> @given(event_data_dicts())
... def test_event_name_is_a_string(data):
...     assert isinstance(data["event_name"], str)
>>> test_event_name_is_a_string()
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from gtm_emulator.core.js import UNDEFINED

__all__ = [
    "COMMON_EVENT_NAMES",
    "event_data_dicts",
    "event_data_values",
    "event_names",
    "js_numbers",
    "numeric_strings",
    "scalar_values",
]

COMMON_EVENT_NAMES = ("page_view", "view_item", "add_to_cart", "begin_checkout", "purchase", "scroll",
                      "sign_up", "login", "search", "generate_lead")

_KEY_ALPHABET = st.characters(codec="utf-8", exclude_characters=".")


def js_numbers(allow_nan: bool = True, allow_infinity: bool = True) -> st.SearchStrategy[int | float]:
    """JS numbers: integers within the safe range and floats.

    >>> from hypothesis import given
    >>> @given(js_numbers(allow_nan=False))
    ... def test(n): assert n == n
    """
    return st.one_of(
        st.integers(min_value=-(2**53), max_value=2**53),
        st.floats(allow_nan=allow_nan, allow_infinity=allow_infinity),
    )


def numeric_strings() -> st.SearchStrategy[str]:
    """Numbers written as strings, as GA4 hits carry them: ``"12"``, ``" 3.5 "``, ``"1e3"``,
    ``"0x1A"``, ``""``, ``"Infinity"``, ``"12abc"``.

    >>> from hypothesis import given
    >>> @given(numeric_strings())
    ... def test(s): assert isinstance(s, str)
    """
    plain = js_numbers(allow_nan=False).map(lambda n: repr(n) if isinstance(n, float) else str(n))
    padded = st.tuples(st.sampled_from(["", " ", "\t", "\n"]), plain, st.sampled_from(["", " ", "\n"]))
    return st.one_of(
        plain,
        padded.map("".join),
        st.sampled_from(["", " ", "0x1A", "0b101", "0o17", "1e3", "-0", ".5", "5.", "Infinity", "-Infinity",
                         "NaN", "12abc", "1,000", "1_000", "+7"]),
    )


def scalar_values() -> st.SearchStrategy[Any]:
    """One scalar event-data value: string, number, boolean, null (None) or UNDEFINED.

    >>> from hypothesis import given
    >>> @given(scalar_values())
    ... def test(v): assert not isinstance(v, (list, dict))
    """
    return st.one_of(
        st.text(max_size=12),
        st.sampled_from(COMMON_EVENT_NAMES),
        numeric_strings(),
        js_numbers(),
        st.booleans(),
        st.none(),
        st.just(UNDEFINED),
    )


def event_data_values(max_depth: int = 2) -> st.SearchStrategy[Any]:
    """Any event-data value: scalars, arrays and objects nested up to ``max_depth``.

    >>> from hypothesis import given
    >>> @given(event_data_values())
    ... def test(v): pass
    """
    return st.recursive(
        scalar_values(),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.text(_KEY_ALPHABET, min_size=1, max_size=8), inner, max_size=4),
        ),
        max_leaves=8 if max_depth > 0 else 1,
    )


def event_names() -> st.SearchStrategy[str]:
    """Mostly the common GA4 event names, sometimes any short text."""
    return st.one_of(st.sampled_from(COMMON_EVENT_NAMES), st.text(min_size=1, max_size=12))


@st.composite
def event_data_dicts(draw: st.DrawFn, extra_keys: bool = True) -> dict[str, Any]:
    """An event-data dict with ``event_name``, usually the common GA4 keys, and random extra keys.

    >>> from hypothesis import given
    >>> @given(event_data_dicts())
    ... def test(data): assert "event_name" in data
    """
    data: dict[str, Any] = {"event_name": draw(event_names())}
    if draw(st.booleans()):
        data["client_id"] = f"{draw(st.integers(0, 10**9))}.{draw(st.integers(0, 10**9))}"
        data["page_location"] = draw(st.sampled_from(["https://shop.example/", "https://shop.example/p/1?x=1",
                                                      "https://Other.Example/Path", "not a url"]))
        data["currency"] = draw(st.sampled_from(["EUR", "USD", "eur", ""]))
        data["value"] = draw(st.one_of(js_numbers(), numeric_strings()))
    if draw(st.booleans()):
        data["items"] = draw(st.lists(st.fixed_dictionaries(
            {"item_id": st.text(max_size=6), "price": js_numbers(allow_nan=False), "quantity": st.integers(0, 9)}),
            max_size=3))
    if extra_keys:
        extra = draw(st.dictionaries(st.text(_KEY_ALPHABET, min_size=1, max_size=8), event_data_values(),
                                     max_size=3))
        for key, value in extra.items():
            data.setdefault(key, value)
    return data
