"""Public entry point of the trigger engine: GTM's condition operators with GTM's coercion rules.

The engine itself lives in :mod:`gtm_emulator.core.triggers`; this module is the stable import path.

>>> from gtm_emulator.triggers import evaluate
>>> evaluate("equals", 10, "10.0")       # GTM compares as strings
False
>>> evaluate("greater", "10", 9)       # and as numbers for the numeric operators
True
"""

from .core.triggers import OPERATORS, Condition, ConditionError, Trigger, evaluate

__all__ = ["OPERATORS", "Condition", "ConditionError", "Trigger", "evaluate"]
