"""``gtm-emulator demo``: the setup walkthrough on a demo workspace (register with ``register(cli)``).

The demo is served with Werkzeug's threaded server (``werkzeug.serving.make_server``), not gunicorn:

- the walkthrough keeps its state in the one process that serves it (the mock TikTok API that
  accepts the generated token, the container swapped in after each save, the reports the live test
  shows); gunicorn's forked workers would each hold their own copy;
- the server is bound before the browser is opened, and ``--port 0`` gives the real port to print;
- it runs on every laptop a consultant may demo from, Windows included (gunicorn does not).

It is meant for one presenter on 127.0.0.1, not for traffic; ``gtm-emulator serve`` stays the way
to run a container under load.
"""

from __future__ import annotations

import threading
import webbrowser
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from .output import fail
from .ports import free_port, port_problem

DISPLAY_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}
# The port the demo tries first when none is given: not the 8080 of `serve` (which may be running
# beside it); when it is taken, the system picks a free one.
DEMO_PORT = 8765
PREVIEW_RETENTION = 1_000


def build_demo_app(workspace_dir: str | Path, lang: str = "en", reset: bool = False,
                   preview_token: str | None = None) -> tuple[Any, Any]:
    """The Flask app serving the demo workspace with the walkthrough mounted at
    ``/_emulator/walkthrough/`` and Preview at ``/_emulator/`` (an in-memory log of the last
    ``PREVIEW_RETENTION`` requests), and the workspace (created when missing, reset to its starting
    state when ``reset``). ``preview_token``: what Preview asks for (see ``server.preview``)."""
    from ..loading.config import load_container
    from ..server.app import create_app
    from ..server.store import SQLiteStore
    from ..walkthrough import Workspace, install_walkthrough

    workspace = Workspace(workspace_dir)
    if not workspace.ensure() and reset:
        workspace.reset()
    container = load_container(workspace.container_path)
    app = create_app(container, store=SQLiteStore(":memory:", retention=PREVIEW_RETENTION), token=preview_token)
    install_walkthrough(app, workspace, lang=lang)
    return app, workspace


def walkthrough_url(host: str, port: int, lang: str) -> str:
    from ..walkthrough import PREFIX

    shown = DISPLAY_HOSTS.get(host, f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}{PREFIX}/?lang={lang}"


def make_server(app: Any, host: str, port: int) -> Any:
    from werkzeug.serving import make_server as werkzeug_server

    return werkzeug_server(host, port, app, threaded=True)


def serve_until_interrupted(server: Any) -> None:
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@click.command()
@click.option("--workspace", "workspace_dir", type=click.Path(file_okay=False), default="gtm-demo-workspace",
              show_default=True, help="Folder of the demo workspace (created when missing, reused otherwise).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=None, type=click.IntRange(0, 65535),
              help=f"Port to bind (0: any free port). Default: {DEMO_PORT}, or any free port when it is taken.")
@click.option("--open/--no-open", "open_browser", default=True, show_default=True,
              help="Open the walkthrough in the default browser.")
@click.option("--lang", type=click.Choice(["en", "nl"]), default="en", show_default=True,
              help="Language the pages start in (switchable on the page).")
@click.option("--reset", is_flag=True, help="Put the workspace back in its starting state first.")
def demo(workspace_dir: str, host: str, port: int | None, open_browser: bool, lang: str, reset: bool) -> None:
    """Run the setup walkthrough (the four TikTok server-side steps) on a demo workspace."""
    from .. import __version__
    from ..server.preview import generate_token, is_loopback, preview_url
    from ..server.wsgi import configure_logging

    # The port is checked before anything is written, so a busy port leaves no workspace behind.
    if port is None:
        port = free_port(host, DEMO_PORT)
    else:
        busy = port_problem(host, port) if port else None
        if busy:
            fail(busy)
    configure_logging()  # one summary line per hit, as `serve` prints
    token = None if is_loopback(host) else generate_token()
    try:
        app, workspace = build_demo_app(workspace_dir, lang=lang, reset=reset, preview_token=token)
    except ConfigError as exc:
        fail("the demo workspace is not valid; fix it or start again with --reset", exc.problems)
    try:
        server = make_server(app, host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    url = walkthrough_url(host, server.server_port, lang)
    click.echo(f"gtm-emulator {__version__}: setup walkthrough at {url}", err=True)
    click.echo(f"  Preview of the same requests: {preview_url(host, server.server_port, token)}", err=True)
    click.echo(f"  workspace: {workspace.container_path}", err=True)
    click.echo(f"  the same container runs with: gtm-emulator serve --container {workspace.container_path}",
               err=True)
    click.echo("  press Ctrl+C to stop", err=True)
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    serve_until_interrupted(server)


def register(cli: click.Group) -> None:
    """Add ``demo`` to the ``gtm-emulator`` command group."""
    cli.add_command(demo)
