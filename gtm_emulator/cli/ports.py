"""Whether an address and port can be listened on, checked before a server is started.

``serve`` checks before gunicorn starts (gunicorn would print ``Connection in use`` lines and retry),
``demo`` before it creates its workspace; both then print one line and exit with status 2.
"""

from __future__ import annotations

import errno
import socket


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (None when it can). Binds and closes a probe socket
    with SO_REUSEADDR, as gunicorn and Werkzeug do, so a port in TIME_WAIT counts as free."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    family, kind, proto, _name, address = infos[0]
    probe = socket.socket(family, kind, proto)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(address)
        probe.listen(1)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return (f"cannot listen on {host}:{port}: the port is in use by another program; "
                    f"choose another with --port")
        return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    finally:
        probe.close()
    return None


def free_port(host: str, preferred: int) -> int:
    """``preferred`` when it is free on ``host``, else a free port chosen by the system."""
    if port_problem(host, preferred) is None:
        return preferred
    infos = socket.getaddrinfo(host or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.bind(address)
        return int(probe.getsockname()[1])
