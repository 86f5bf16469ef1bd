"""The ``gtm-emulator`` command line (README.md's command table; docs/architecture.md, "Where each concept lives").

Bad input never gives a traceback: a one-line error naming the file, JSON path or parameter, and
exit status 2.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import click

from .. import __version__
from ..errors import ConfigError, EmulatorError
from .output import fail, print_problems
from .ports import port_problem


def load(container: str | None, vendor: str = "mock", gtm_export: str | None = None,
         path_prefix: str | None = None, keep_templates: bool = False, **kw: Any) -> Any:
    from ..loading.config import load_container, load_gtm_export

    if container and gtm_export:
        fail("give either --container or --gtm-export, not both")
    if keep_templates and not gtm_export:
        fail("--keep-templates goes with --gtm-export (a container file already says what each tag runs)")
    try:
        if gtm_export:
            loaded = load_gtm_export(gtm_export, vendor=vendor, keep_templates=keep_templates, **kw)
            for warning in loaded.load_warnings:
                click.echo(f"warning: {warning}", err=True)
            for note in loaded.load_notes:
                click.echo(f"note: {note}", err=True)
        else:
            loaded = load_container(container, vendor=vendor, **kw)
        if path_prefix is not None:
            loaded.set_path_prefix(path_prefix)
        return loaded
    except ConfigError as exc:
        fail(problems=exc.problems)


class _Group(click.Group):
    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Each command's whole first sentence, wrapped (click would cut it with '...')."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=1_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            fail(problems=exc.problems)
        except EmulatorError as exc:
            fail(str(exc))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gtm-emulator")
def cli() -> None:
    """A local server-side Google Tag Manager container: run, inspect and test it offline."""


GTM_EXPORT_OPTION = click.option(
    "--gtm-export", "gtm_export", type=click.Path(dir_okay=False), default=None,
    help="Run a GTM server-container export (exportFormatVersion 2) directly, instead of --container.",
)

KEEP_TEMPLATES_OPTION = click.option(
    "--keep-templates", "keep_templates", is_flag=True,
    help="Run the published TikTok templates of an export (TikTok's, stape's) as templates in the sandbox, "
         "instead of the native TikTok tag that sends the same bytes faster.",
)


def _check_path_prefix(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"(/[^/?#]+)*/?", value):
        raise click.BadParameter(f"{value!r} is not a URL path such as /analytics")
    return value.rstrip("/") if value else value


PATH_PREFIX_OPTION = click.option(
    "--path-prefix", "path_prefix", default=None, callback=_check_path_prefix, metavar="PATH",
    help="Path of the server container's URL (/analytics for https://example.com/analytics), removed from "
         "Request Path and getRequestPath; overrides the container setting path_prefix.",
)

CONTAINER_OPTION = click.option(
    "--container", "container", type=click.Path(dir_okay=False), default=None,
    help="Container JSON file (default: the bundled container, GA4 purchase -> TikTok).",
)


@cli.command()
@CONTAINER_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option("--vendor", type=click.Choice(["mock", "live", "record"]), default="mock", show_default=True,
              help="mock: TikTok requests go to the built-in mock TikTok API; live: to TikTok itself "
                   "(or to --tiktok-url); record: nothing is sent, each call is answered as accepted.")
@click.option("--tiktok-url", default=None, metavar="URL",
              help="With --vendor live: send TikTok requests to this base URL instead of "
                   "https://business-api.tiktok.com (e.g. a mock started with `gtm-emulator mock-tiktok`).")
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="Worker processes. Default: one per core (1 with --store :memory:). With the mock vendor "
                   "and more than one worker, the mock TikTok and GA4 endpoints run in one process of their "
                   "own that every worker shares; --workers 1 keeps them in the worker.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256), help="Threads per worker.")
@click.option("--quiet", is_flag=True, help="No log line per request.")
@click.option("--store", "store_path", default="gtm-emulator.sqlite3", show_default=True,
              help="Preview log (SQLite file) shown at /_emulator/; ':memory:' keeps nothing (needs --workers 1); "
                   "'none' logs nothing and serves no Preview (for load).")
@click.option("--retention", default=10_000, show_default=True, type=click.IntRange(1),
              help="Requests kept in the Preview log.")
@click.option("--retention-size", "retention_size", default=None, metavar="SIZE",
              help="Also keep the Preview log's rows under this size (e.g. 200MB, 2GB): the oldest go first.")
@click.option("--token", default=None,
              help="Token required by /_emulator/ (default: a random one when --host is not a loopback address).")
@click.option("--record", type=click.Path(dir_okay=False), default=None,
              help="Append every request the container handles to this NDJSON file (for `gtm-emulator replay`).")
@GTM_EXPORT_OPTION
@KEEP_TEMPLATES_OPTION
@PATH_PREFIX_OPTION
def serve(container: str | None, host: str, port: int, vendor: str, tiktok_url: str | None, workers: int | None,
          threads: int, quiet: bool, store_path: str, retention: int, retention_size: str | None, token: str | None,
          record: str | None, gtm_export: str | None, keep_templates: bool, path_prefix: str | None) -> None:
    """Run the container as an HTTP server (gunicorn), with the Preview UI at /_emulator/."""
    from ..loading.config import make_transport
    from ..server.app import ReportHook, create_app
    from ..server.preview import generate_token, is_loopback, preview_url
    from ..server.store import SQLiteStore
    from ..server.wsgi import configure_logging, run_gunicorn
    from ..vendors.transport import LiveTransport

    busy = port_problem(host, port)  # before anything else: a busy port is one line and exit 2
    if busy:
        fail(busy)
    configure_logging()
    if tiktok_url and vendor != "live":
        fail("--tiktok-url goes with --vendor live")
    if store_path == ":memory:" and workers is not None and workers > 1:
        fail("--store :memory: works with --workers 1 only")
    from ..harness.parallel import default_workers

    cores = default_workers()
    chosen = workers
    try:
        retention_bytes = parse_size(retention_size) if retention_size else None
    except ValueError as exc:
        fail(f"--retention-size {retention_size}: {exc}")
    early = None
    if vendor == "mock" and store_path != ":memory:" and (workers or cores) > 1:
        from ..vendors.shared import spawn_mock_process

        early = spawn_mock_process()  # the mock vendors' process starts while the container loads
        # stopped when serve ends, after its workers, whichever way (an error below, or gunicorn's exit)
        click.get_current_context().call_on_close(early.stop)
    writer = None
    if store_path not in ("none", ":memory:"):
        from ..server.store_process import spawn_store_process

        writer = spawn_store_process()  # the Preview store's process starts while the container loads
        click.get_current_context().call_on_close(writer.stop)
    transport = make_transport("live", mock_base_url=tiktok_url)[0] if tiktok_url else None
    loaded = load(container, vendor=vendor, transport=transport, gtm_export=gtm_export, path_prefix=path_prefix,
                  keep_templates=keep_templates)
    why = ""
    if chosen is None:
        why = "; 1 because --store :memory:" if store_path == ":memory:" else ""
        workers = 1 if why else cores
    assert workers is not None
    shared = None
    if loaded.tiktok_mock is not None:
        if workers > 1:
            # The mock vendors' state (generated tokens, injected answers, what they received) must
            # be one for every worker: they move to one process of their own, started before the fork.
            from ..vendors.shared import MockProcessError, share_mock_vendors

            try:
                shared = share_mock_vendors(loaded, early)
            except (MockProcessError, OSError) as exc:
                fail(f"could not start the mock vendors' process: {exc}")
            if shared is not early:
                click.get_current_context().call_on_close(shared.stop)
            why += f"; the mock vendors run in one process that the workers share, pid {shared.pid}"
        else:
            why += "; the mock vendors run in the worker"
    if early is not None and shared is None:
        early.stop()  # --workers 1 after all
    token = token or (None if is_loopback(host) else generate_token())
    store = None
    if store_path != "none":
        try:
            store = SQLiteStore(store_path, retention=retention, retention_bytes=retention_bytes, background=True)
        except Exception as exc:  # an unusable path or a file that is not a database
            fail(f"--store {store_path}: {exc}")
        if writer is not None:
            from ..server.store_process import share_store_writes
            from ..vendors.shared import MockProcessError

            try:
                share_store_writes(store, writer)
            except (MockProcessError, OSError) as exc:
                fail(f"could not start the Preview store's process: {exc}")
    hooks: list[ReportHook] = []
    if record:
        from ..harness.recorder import Recorder

        hooks.append(Recorder(record).hook)
    if isinstance(loaded.transport, LiveTransport):  # a hanging vendor keeps two threads free for the rest
        loaded.transport.max_in_flight = max(1, threads - 2)
    app = create_app(loaded, log_requests=not quiet, store=store, token=token, on_report=hooks, bind_host=host)
    where = gtm_export or container or "the bundled default container"
    click.echo(f"gtm-emulator {__version__}: serving {loaded.name!r} ({where}) on http://{host}:{port}", err=True)
    click.echo(f"  workers: {workers} x {threads} threads ({cores} core{'s' if cores != 1 else ''}{why})", err=True)
    if store is not None:
        written = f", indexed when a core is idle by pid {writer.pid}" if writer is not None else ""
        click.echo(f"  Preview: {preview_url(host, port, token)}  (log: {store_path}{written})", err=True)
    else:
        click.echo("  Preview: off (--store none)", err=True)
    if record:
        click.echo(f"  recording requests to {record} (replay with `gtm-emulator replay {record}`)", err=True)
    click.echo(f"  clients: {', '.join(c.name for c in loaded.clients)}; tags: "
               f"{', '.join(t.name for t in loaded.tags)}; vendor: {vendor}", err=True)
    if loaded.tiktok_mock is not None:
        click.echo(f"  mock TikTok Events API: http://{host}:{port}/_mock/tiktok/_events lists what it received",
                   err=True)
    run_gunicorn(app, host, port, workers=workers, threads=threads,
                 on_worker_exit=store.close if store is not None else None)


_SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30,
               "K": 10**3, "M": 10**6, "G": 10**9}


def parse_size(text: str) -> int:
    """Bytes from ``500MB``, ``2GB``, ``64MiB`` or a plain number."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).upper() if match else ""
    if not match or unit not in _SIZE_UNITS:
        raise ValueError("expected a size such as 200MB, 2GB or 512MiB")
    size = int(float(match.group(1)) * _SIZE_UNITS[unit])
    if size < 65_536:
        raise ValueError("the smallest size is 64KiB")
    return size


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def validate(paths: tuple[str, ...]) -> None:
    """Validate container, trigger and tag-template JSON files, GTM exports and .tpl templates."""
    from ..loading.config import validate_file

    failed = False
    for path in paths:
        if not Path(path).exists():
            click.echo(f"{path}: $: file not found")
            failed = True
            continue
        problems = validate_file(path)
        if problems:
            failed = True
            print_problems(problems, err=False)
        else:
            click.echo(f"{path}: ok")
    sys.exit(2 if failed else 0)


@cli.command("mock-tiktok")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8081, show_default=True, type=click.IntRange(0, 65535), help="Port to bind.")
@click.option("--pixel", "pixels", multiple=True, metavar="PIXEL=TOKEN",
              help="A pixel code and an access token the mock accepts for it (repeatable). Without any, "
                   "it accepts any non-empty token for any pixel.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Threads of its one worker process (the mock keeps what it received in memory).")
@click.option("--token", default=None,
              help="Token required by the inspection and setup paths (/_events, /_requests, /_reset, "
                   "/_access_token); default: a random one when --host is not a loopback address.")
@click.option("--allow-unhashed-pii", is_flag=True,
              help="Accept personal data that is not SHA-256 hashed (with a warning) instead of answering 40062.")
@click.option("--strict", is_flag=True, help="Also refuse value/price/quantity of the wrong type (40002).")
def mock_tiktok(host: str, port: int, pixels: tuple[str, ...], threads: int, token: str | None,
                allow_unhashed_pii: bool, strict: bool) -> None:
    """Run the mock TikTok Events API on its own (POST /open_api/v1.3/event/track/).

    Like TikTok, it refuses unhashed personal data (40062) unless --allow-unhashed-pii is given."""
    from ..server.guard import TOKEN_HEADER
    from ..server.preview import generate_token, is_loopback
    from ..server.wsgi import configure_logging, run_gunicorn
    from ..vendors.tiktok_mock import TikTokMock, create_app

    busy = port_problem(host, port)  # before anything else: a busy port is one line and exit 2
    if busy:
        fail(busy)
    configure_logging()
    config: dict[str, list[str]] = {}
    for item in pixels:
        code, sep, access_token = item.partition("=")
        if not sep or not code or not access_token:
            fail(f"--pixel {item!r}: expected PIXEL=TOKEN")
        config.setdefault(code, []).append(access_token)
    token = token or (None if is_loopback(host) else generate_token())
    app = create_app(TikTokMock.from_config({"pixels": config, "require_hashed_pii": not allow_unhashed_pii,
                                             "strict": strict}), bind_host=host, token=token)
    pii = "unhashed PII accepted with a warning" if allow_unhashed_pii else "unhashed PII refused (40062)"
    click.echo(f"mock TikTok Events API on http://{host}:{port}/open_api/v1.3/event/track/ "
               f"({len(config)} pixel(s); {pii})", err=True)
    if token:
        click.echo(f"  inspection and setup paths need the token: {TOKEN_HEADER}: {token}", err=True)
    run_gunicorn(app, host, port, workers=1, threads=threads)


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
@click.option("--vendor", type=click.Choice(["mock", "record", "live"]), default="mock", show_default=True,
              help="mock: TikTok requests go to the built-in mock TikTok API (other hosts fail, as offline); "
                   "record: nothing is sent, every call is answered as accepted; live: really sent.")
@GTM_EXPORT_OPTION
@KEEP_TEMPLATES_OPTION
@PATH_PREFIX_OPTION
@click.argument("url")
def simulate(container: str | None, method: str | None, data_file: str | None, data: str | None,
             headers: tuple[str, ...], cookies: tuple[str, ...], remote_addr: str, now: float | None,
             explain: bool, vendor: str, gtm_export: str | None, keep_templates: bool, path_prefix: str | None,
             url: str) -> None:
    """Run one request through the container in-process and print the report as JSON."""
    body = b""
    if data_file is not None:
        try:
            body = Path(data_file).read_bytes()
        except OSError as exc:
            fail(f"--data-file {data_file}: {exc.strerror or exc}")
    elif data is not None:
        body = data.encode("utf-8")
    loaded = load(container, vendor=vendor, gtm_export=gtm_export, path_prefix=path_prefix,
                  keep_templates=keep_templates)
    report = loaded.simulate(
        method or ("POST" if body else "GET"), url,
        headers=dict(_parse_header(h) for h in headers), body=body,
        cookies=dict(_parse_cookie(c) for c in cookies), remote_addr=remote_addr, now=now,
    )
    if explain:
        click.echo(report.explain())
    else:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))


@cli.command("import")
@click.argument("export", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Where to write the container JSON (default: next to the export, <name>.container.json); "
                   "custom templates go to a templates/ folder beside it.")
@KEEP_TEMPLATES_OPTION
@PATH_PREFIX_OPTION
def import_(export: str, output: str | None, keep_templates: bool, path_prefix: str | None) -> None:
    """Convert a GTM server-container export into the project's container JSON.

    The published TikTok templates (TikTok's, stape's) become the native TikTok tag, which sends the
    same bytes; --keep-templates keeps them as templates run in the sandbox. The output says which."""
    from ..loading.gtm_export import write_conversion

    out = Path(output) if output else Path(export).with_suffix(".container.json")
    notes: list[str] = []
    native, warnings = write_conversion(export, out, settings={"path_prefix": path_prefix} if path_prefix else None,
                                        keep_templates=keep_templates, notes=notes)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{out}: {len(native.get('tags', []))} tags, {len(native.get('triggers', []))} triggers, "
               f"{len(native.get('variables', []))} variables, {len(native.get('clients', []))} clients")
    for note in notes:
        click.echo(f"  {note}")


@cli.command("tiktok-parity")
@click.option("--templates", "folder", default=None, metavar="DIR",
              help="Folder with the published TikTok templates (.tpl); default: $GTM_EMULATOR_PUBLISHED_TEMPLATES.")
@click.option("--examples", default=5000, show_default=True, type=click.IntRange(1),
              help="Generated (hit, setting) cases per profile.")
@click.option("--profile", "profiles", multiple=True, type=click.Choice(["tiktok-official", "stape"]),
              help="Only this profile (repeatable; default: every template found).")
@click.option("--seed", default=0, show_default=True, type=int, help="Hypothesis seed (same seed, same cases).")
@click.option("--show", default=5, show_default=True, type=click.IntRange(0), help="Differing cases shown per profile.")
def tiktok_parity(folder: str | None, examples: int, profiles: tuple[str, ...], seed: int, show: int) -> None:
    """Run the published TikTok templates in the sandbox beside the native tag on generated cases and
    report every difference by field (exit 1 when there is one)."""
    try:
        from ..harness import tiktok_parity as harness
    except ImportError as exc:  # Hypothesis comes with the test extra
        fail(f"the parity harness needs Hypothesis (pip install 'gtm-emulator[test]'): {exc}")
    folder = folder or harness.configured_folder()
    if not folder:
        fail(f"give --templates DIR or set {harness.ENV_VAR} to a folder with the published templates")
    try:
        found = harness.find_templates(folder)
    except FileNotFoundError as exc:
        fail(str(exc))
    wanted = list(profiles) or sorted(found)
    if not wanted:
        fail(f"{folder}: no published TikTok template found (looked for gtmVersion "
             f"{', '.join(harness.PUBLISHED)} in *.tpl files)")
    total = examples * len(wanted)
    with click.progressbar(length=total, label="cases", file=sys.stderr) as bar:
        def step(_profile: str, _count: int) -> None:
            bar.update(1)

        try:
            results = harness.run(folder, examples=examples, profiles=wanted, seed=seed, keep=show, progress=step)
        except FileNotFoundError as exc:
            fail(str(exc))
    click.echo(harness.format_report(results, verbose=show > 0))
    sys.exit(1 if any(r.differing for r in results) else 0)


@cli.command("template-test")
@click.argument("templates", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--junit-xml", type=click.Path(dir_okay=False), default=None, help="Write JUnit XML here.")
def template_test(templates: tuple[str, ...], junit_xml: str | None) -> None:
    """Run the ___TESTS___ scenarios of .tpl templates outside GTM (exit 1 when one fails)."""
    from ..sandbox import load_template
    from ..sandbox.testing import run_tests

    failed = False
    for index, path in enumerate(templates):
        if not Path(path).exists():
            fail(f"{path}: file not found")
        junit = None
        if junit_xml:
            junit = junit_xml if len(templates) == 1 else str(Path(junit_xml).with_suffix(f".{index}.xml"))
        result = run_tests(load_template(Path(path)), junit_path=junit)
        for scenario in result.scenarios:
            mark = "PASS" if scenario.passed else "FAIL"
            click.echo(f"{path}: {mark} {scenario.name}" + (f": {scenario.message}" if scenario.message else ""))
            for warning in scenario.warnings:
                click.echo(f"{path}:   warning: {warning}")
        failed = failed or not result.ok
        click.echo(f"{path}: {result.passed} scenarios passed, {result.failed} failed")
    sys.exit(1 if failed else 0)


def _register_extensions() -> None:
    from .demo import register as register_demo
    from .harness import register as register_harness

    register_harness(cli)
    register_demo(cli)


_register_extensions()


def main() -> None:
    cli(prog_name="gtm-emulator")


if __name__ == "__main__":
    main()
