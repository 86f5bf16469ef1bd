"""The ``gtm-emulator`` command line: ``main`` (the group and its core commands), ``harness``
(``test``, ``replay``) and ``demo`` (the walkthrough)."""

from .main import main

__all__ = ["main"]
