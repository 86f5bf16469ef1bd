"""Hypothesis strategies for the inputs a container meets (public API).

- GA4 traffic: :func:`ga4_hits` (whole ``/g/collect`` requests, GET or batched POST, with the event
  data parsing them must give), :func:`ga4_event_data`, :func:`ga4_items`.
- Event data: :func:`event_data` (event-data dicts) and :func:`event_values` (single values:
  strings, JS numbers, booleans, null, undefined, nested objects), :func:`numeric_strings`.
- Trigger conditions: :func:`conditions`, :func:`triggers`, :func:`operators`,
  :func:`regex_patterns` (valid and invalid RE2).

See docs/testing.md for property tests written with them.
"""

from __future__ import annotations

from .conditions import DEFAULT_VARIABLES, condition_values, conditions, operators, regex_patterns, triggers
from .event_data import (
    COMMON_EVENT_NAMES,
    event_data_dicts,
    event_data_values,
    event_names,
    js_numbers,
    numeric_strings,
    scalar_values,
)
from .hits import GA4Hit, ga4_event_data, ga4_hits, ga4_items, ga4_numbers, ga4_text

# Short names used in the documentation.
event_data = event_data_dicts
event_values = event_data_values

__all__ = [
    "COMMON_EVENT_NAMES",
    "DEFAULT_VARIABLES",
    "GA4Hit",
    "condition_values",
    "conditions",
    "event_data",
    "event_data_dicts",
    "event_data_values",
    "event_names",
    "event_values",
    "ga4_event_data",
    "ga4_hits",
    "ga4_items",
    "ga4_numbers",
    "ga4_text",
    "js_numbers",
    "numeric_strings",
    "operators",
    "regex_patterns",
    "scalar_values",
    "triggers",
]
