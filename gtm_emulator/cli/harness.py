"""The ``test`` and ``replay`` commands of ``gtm-emulator`` (added to the group by :func:`register`).

``gtm-emulator test PATH...`` runs scenario files (directories are searched for ``*.scenario.json``
and ``scenario_*.json``): exit 0 when every step passes, 1 when one fails, 2 when a file cannot be
read or is invalid (one ``FILE: JSON-PATH: message`` line per problem).

``gtm-emulator replay FILE`` runs recorded requests (NDJSON or HAR) and prints per tag how many events
it fired on; ``--against OTHER`` compares two containers event by event. Exit 0 (1 with
``--fail-on-diff`` when the containers differ), 2 when the file or a container cannot be read.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from .output import fail, print_problems


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


@click.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--junit-xml", "junit_file", type=click.Path(dir_okay=False), default=None,
              help="Also write the results as JUnit XML to this file.")
@click.option("-q", "--quiet", is_flag=True, help="Print only failures and the totals.")
def test_command(paths: tuple[str, ...], junit_file: str | None, quiet: bool) -> None:
    """Run scenario files (requests with expected tags, payloads and vendor outcomes)."""
    from ..harness.scenarios import find_scenarios, load_scenario, run_scenario

    files = find_scenarios(paths)
    if not files:
        fail(f"no scenario files in {', '.join(paths)} (names like *.scenario.json or scenario_*.json)")
    results = []
    errors: list[tuple[str, str]] = []
    for file in files:
        try:
            scenario = load_scenario(file)
            result = run_scenario(scenario)
        except ConfigError as exc:
            print_problems(exc.problems)
            errors.append((str(file), str(exc)))
            continue
        results.append(result)
        click.echo(f"{scenario.file}: {scenario.name}")
        for step in result.steps:
            if step.passed:
                if not quiet:
                    click.echo(f"  PASS {step.step.name}")
            else:
                click.echo(f"  FAIL {step.step.name}")
                click.echo(_indent(step.message(), "       "))
    steps = [s for r in results for s in r.steps]
    failed = sum(not s.passed for s in steps)
    totals = f"{len(steps)} steps, {len(steps) - failed} passed, {failed} failed"
    if errors:
        totals += f"; {len(errors)} file{'s' if len(errors) != 1 else ''} could not be run"
    click.echo(totals)
    if junit_file:
        from ..harness.scenarios import junit_xml

        try:
            Path(junit_file).write_text(junit_xml(results, errors), encoding="utf-8")
        except OSError as exc:
            fail(f"--junit-xml {junit_file}: {exc.strerror or exc}")
    sys.exit(2 if errors else (1 if failed else 0))


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Any]:
    """A progress bar on stderr when it is a terminal; otherwise nothing is drawn."""
    if not enabled:
        yield None
        return
    with click.progressbar(length=total, label="replaying", file=sys.stderr, show_pos=True,
                           show_percent=True) as bar:
        yield bar


def _load_replay_container(path: str | None, preview: bool) -> Any:
    from ..harness.replay import replay_container

    try:
        return replay_container(path, preview=preview)
    except ConfigError as exc:
        fail(problems=exc.problems)


@click.command("replay")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--container", "container", type=click.Path(dir_okay=False), default=None,
              help="Container JSON file (default: the bundled container).")
@click.option("--against", "against", type=click.Path(dir_okay=False), default=None,
              help="A second container: compare which tags fire, event by event.")
@click.option("--now", type=float, default=None,
              help="Clock for every request, as epoch seconds (default: each request's recorded time).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--fail-on-diff", is_flag=True, help="With --against: exit 1 when the containers differ.")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar (default: when stderr is a terminal).")
@click.option("--preview", is_flag=True,
              help="Run as GTM's Preview does (debug mode on). Default: as a published container serving "
                   "production traffic (debug and preview mode off).")
def replay_command(file: str, container: str | None, against: str | None, now: float | None, as_json: bool,
                   fail_on_diff: bool, progress: bool | None, preview: bool) -> None:
    """Replay recorded requests (NDJSON or HAR) through a container and summarise what fired."""
    from ..harness.replay import ReplayFileError, ReplaySource, compare, replay

    try:
        source = ReplaySource(file)
        total = len(source)
    except ReplayFileError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{file}: cannot read file: {exc.strerror or exc}")
    main = _load_replay_container(container, preview)
    other = _load_replay_container(against, preview) if against else None
    show_bar = sys.stderr.isatty() if progress is None else progress
    with _progress(total, show_bar) as bar:
        on_item = (lambda _item: bar.update(1)) if bar is not None else None
        if other is None:
            result: Any = replay(source, main, now=now, on_item=on_item)
        else:
            result = compare(source, main, other, label_a=container or "the bundled default container",
                             label_b=against or "", now=now, on_item=on_item)
    bad = result.bad_lines if other is None else result.summary_a.bad_lines
    errors = result.errors if other is None else result.summary_a.errors + result.summary_b.errors
    for item in bad:
        click.echo(f"skipped {item}", err=True)
    for item in errors:
        click.echo(f"emulator error at {item}", err=True)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(result.format())
    replayed = result.requests if other is None else result.summary_a.requests
    if not replayed:
        fail(f"{file}: no line could be replayed ({len(bad)} bad line{'s' if len(bad) != 1 else ''}); "
              "see the lines above" if bad else f"{file}: the file holds no request to replay")
    if other is not None and fail_on_diff and result.changed:
        sys.exit(1)


def register(cli: click.Group) -> None:
    """Add ``test`` and ``replay`` to the ``gtm-emulator`` group."""
    cli.add_command(test_command)
    cli.add_command(replay_command)
