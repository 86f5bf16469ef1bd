"""The ``gtm-emulator`` command line (interfaces.md).

Bad input never gives a traceback: a one-line error naming the file, JSON path or parameter, and
exit status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from . import __version__
from .errors import ConfigError, EmulatorError


def fail(message: str) -> NoReturn:
    click.echo(f"gtm-emulator: {message}", err=True)
    sys.exit(2)


def load(container: str | None, vendor: str = "mock", **kw: Any) -> Any:
    from .config import load_container

    try:
        return load_container(container, vendor=vendor, **kw)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(2)


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            sys.exit(2)
        except EmulatorError as exc:
            fail(str(exc))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gtm-emulator")
def cli() -> None:
    """A local server-side Google Tag Manager container: run, inspect and test it offline."""


CONTAINER_OPTION = click.option(
    "--container", "container", type=click.Path(dir_okay=False), default=None,
    help="Container JSON file (default: the bundled container, GA4 purchase -> TikTok).",
)


@cli.command()
@CONTAINER_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option("--vendor", type=click.Choice(["mock", "live"]), default="mock", show_default=True,
              help="mock: TikTok requests go to the built-in mock TikTok API; live: to TikTok itself.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes (each keeps its own mock vendor state).")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Threads per worker.")
def serve(container: str | None, host: str, port: int, vendor: str, workers: int, threads: int) -> None:
    """Run the container as an HTTP server (gunicorn)."""
    from .server.app import create_app
    from .server.wsgi import configure_logging, run_gunicorn

    configure_logging()
    loaded = load(container, vendor=vendor)
    app = create_app(loaded)
    where = container or "the bundled default container"
    click.echo(f"gtm-emulator {__version__}: serving {loaded.name!r} ({where}) on http://{host}:{port}", err=True)
    click.echo(f"  clients: {', '.join(c.name for c in loaded.clients)}; tags: "
               f"{', '.join(t.name for t in loaded.tags)}; vendor: {vendor}", err=True)
    if loaded.tiktok_mock is not None:
        click.echo(f"  mock TikTok Events API: http://{host}:{port}/_mock/tiktok/_events lists what it received",
                   err=True)
    run_gunicorn(app, host, port, workers=workers, threads=threads)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def validate(paths: tuple[str, ...]) -> None:
    """Validate container, trigger and tag-template JSON files."""
    from .config import validate_file

    failed = False
    for path in paths:
        if not Path(path).exists():
            click.echo(f"{path}: $: file not found")
            failed = True
            continue
        problems = validate_file(path)
        if problems:
            failed = True
            for problem in problems:
                click.echo(str(problem))
        else:
            click.echo(f"{path}: ok")
    sys.exit(2 if failed else 0)


def _parse_header(value: str) -> tuple[str, str]:
    name, sep, rest = value.partition(":")
    if not sep or not name.strip():
        fail(f"-H {value!r}: expected 'Name: value'")
    return name.strip(), rest.strip()


def _parse_cookie(value: str) -> tuple[str, str]:
    name, sep, rest = value.partition("=")
    if not sep or not name.strip():
        fail(f"--cookie {value!r}: expected name=value")
    return name.strip(), rest


@cli.command()
@CONTAINER_OPTION
@click.option("-X", "--request", "method", default=None, help="HTTP method (default GET, or POST with a body).")
@click.option("--data-file", type=click.Path(dir_okay=False), default=None, help="Request body from a file.")
@click.option("-d", "--data", default=None, help="Request body text.")
@click.option("-H", "--header", "headers", multiple=True, help="Request header 'Name: value' (repeatable).")
@click.option("--cookie", "cookies", multiple=True, help="Request cookie name=value (repeatable).")
@click.option("--remote-addr", default="127.0.0.1", show_default=True, help="Client IP address of the request.")
@click.option("--now", type=float, default=None, help="Clock, as epoch seconds (for reproducible reports).")
@click.option("--explain", is_flag=True, help="Print a readable explanation instead of JSON.")
@click.argument("url")
def simulate(container: str | None, method: str | None, data_file: str | None, data: str | None,
             headers: tuple[str, ...], cookies: tuple[str, ...], remote_addr: str, now: float | None,
             explain: bool, url: str) -> None:
    """Run one request through the container in-process and print the report as JSON."""
    body = b""
    if data_file is not None:
        try:
            body = Path(data_file).read_bytes()
        except OSError as exc:
            fail(f"--data-file {data_file}: {exc.strerror or exc}")
    elif data is not None:
        body = data.encode("utf-8")
    loaded = load(container)
    report = loaded.simulate(
        method or ("POST" if body else "GET"), url,
        headers=dict(_parse_header(h) for h in headers), body=body,
        cookies=dict(_parse_cookie(c) for c in cookies), remote_addr=remote_addr, now=now,
    )
    if explain:
        click.echo(report.explain())
    else:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))


def main() -> None:
    cli(prog_name="gtm-emulator")


if __name__ == "__main__":
    main()
