"""How every command reports an error: one line per problem on stderr, and exit status 2."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import NoReturn

import click

from ..errors import Problem

__all__ = ["EXIT_USAGE", "fail", "print_problems"]

EXIT_USAGE = 2  # bad input: a file, a JSON path or an option is wrong


def print_problems(problems: Iterable[Problem | str], *, err: bool = True) -> None:
    """One ``FILE: JSON-PATH: message`` line per problem."""
    for problem in problems:
        click.echo(str(problem), err=err)


def fail(message: str | None = None, problems: Iterable[Problem] = ()) -> NoReturn:
    """Print the problems, then ``gtm-emulator: message`` (when given), and exit with status 2."""
    print_problems(problems)
    if message:
        click.echo(f"gtm-emulator: {message}", err=True)
    sys.exit(EXIT_USAGE)
