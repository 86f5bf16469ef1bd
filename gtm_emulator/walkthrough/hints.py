"""What the walkthrough points out about a saved trigger or tag, before the test purchase shows it.

Each hint is a :class:`Hint`: a level (``warning``: the user should act; ``info``: good to know), a
text key of :mod:`.i18n` with its values, and the condition row it belongs to (None for the form).

- An empty condition value: the condition only holds when the variable is empty.
- Matching is case-sensitive (GTM's operators, except "matches RegEx (ignore case)"):
  ``Event Name equals Purchase`` (or matches RegEx ``^Purchase$``) never matches the
  ``purchase`` a GA4 client makes; a Client Name that differs only in case from a client's name (or
  names no client at all) never matches either.
- The tag's access token is not one the mock Events Manager made for the tag's pixel: the mock
  TikTok API answers 40105 (token unknown) or 40001 (token of another pixel).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .workspace import Pixel, operator_choice

CASE_SENSITIVE = ("equals", "contains", "starts_with", "ends_with")


@dataclass
class Hint:
    level: str  # "warning" or "info"
    key: str
    values: dict[str, Any] = field(default_factory=dict)
    row: int | None = None


def condition_hints(conditions: Iterable[Mapping[str, Any]], client_names: Iterable[str]) -> list[Hint]:
    """Hints for the conditions of a saved trigger (rows numbered as the form shows them)."""
    clients = list(client_names)
    hints: list[Hint] = []
    for row, cond in enumerate(conditions):
        variable = str(cond.get("variable", ""))
        value = cond.get("value", "")
        text = value if isinstance(value, str) else str(value)
        operator = str(cond.get("operator", ""))
        choice = operator_choice(operator, bool(cond.get("negate")), bool(cond.get("ignore_case"))) or operator
        if text == "":
            hints.append(Hint("warning", "hint_empty_value", {"variable": variable, "operator": choice}, row))
            continue
        regex = operator == "matches_regex" and not cond.get("ignore_case")
        if (operator not in CASE_SENSITIVE and not regex) or "{{" in text:
            continue
        letters = re.sub(r"\\.", "", text) if regex else text  # \D, \S, … are not capitals to match
        if variable == "Event Name" and letters != letters.lower():
            hints.append(Hint("warning", "hint_case_event", {"value": text, "lower": text.lower()}, row))
        elif variable == "Client Name" and operator == "equals" and text not in clients:
            same = next((c for c in clients if c.lower() == text.lower()), None)
            if same is not None:
                hints.append(Hint("warning", "hint_case_client", {"value": text, "client": same}, row))
            else:
                hints.append(Hint("warning", "hint_unknown_client",
                                  {"value": text, "clients": ", ".join(clients) or "—"}, row))
    return hints


def token_hint(params: Mapping[str, Any], pixels: Iterable[Pixel]) -> Hint | None:
    """A warning when the tag's literal access token is not accepted for its pixel by the mock."""
    token = params.get("access_token")
    code = params.get("pixel_code")
    if not isinstance(token, str) or not token or "{{" in token or not isinstance(code, str):
        return None
    by_code = {p.code: p for p in pixels}
    pixel = by_code.get(code)
    if pixel is None or token in pixel.tokens:
        return None
    other = next((p for p in by_code.values() if token in p.tokens), None)
    if other is not None:
        return Hint("warning", "hint_token_other_pixel", {"pixel": code, "other": other.code})
    if pixel.tokens:
        return Hint("warning", "hint_token_not_generated", {"pixel": code, "last4": pixel.tokens[-1][-4:]})
    return Hint("warning", "hint_token_no_token_yet", {"pixel": code})
