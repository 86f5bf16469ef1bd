"""The gunicorn worker ``serve`` runs: gunicorn's threaded worker, hardened against slow clients.

gunicorn's ``gthread`` worker hands a connection to a thread as soon as its first bytes arrive;
the thread then reads the rest of the request. A client that sends one header line every two
seconds holds that thread as long as it likes, and a handful of them hold every thread (no other
request, not even ``/healthz``, is answered). This worker changes two things:

* **Request heads are read by the event loop**, not by a thread: the main loop collects the bytes
  of a request line and its headers without blocking and hands the connection to a thread only
  once the head is complete (``\\r\\n\\r\\n``), or larger than ``MAX_HEAD_BYTES`` (then gunicorn's own
  limits answer). A head not complete within ``HEAD_TIMEOUT_S`` closes the connection. Slow
  heads cost a socket and a buffer, never a thread.
* **A request body has a deadline**, ``BODY_TIMEOUT_S`` from the moment the thread takes the
  request, checked before every read (and each read waits at most ``BODY_TIMEOUT_S``), so a client
  sending a byte at a time holds a thread at most twice that; then the connection is closed.

* **Ctrl-C (SIGINT) and SIGQUIT stop the worker at once**, also when they arrive while the main
  thread holds the thread pool's lock (handing a request to a thread): gunicorn's own handler shuts
  the pool down from the signal handler, which waits for that lock, held by the thread it
  interrupted, until the arbiter kills the worker (its unwritten Preview records with it).
* ``GET /healthz`` is answered by the event loop itself (the same ``ok`` the app answers), so a
  health check passes while every thread waits on a slow vendor (at most the tag deadlines).

The limits are plain constants, easy to change.
"""

from __future__ import annotations

import logging
import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn.http.errors import NoMoreData
from gunicorn.workers.base import Worker
from gunicorn.workers.gthread import TConn, ThreadWorker

HEAD_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 15.0
MAX_HEAD_BYTES = 128 * 1024
HEALTH_REQUESTS = (b"GET /healthz ", b"GET /healthz?")  # answered by the loop itself (the app's answer)
HEALTH_ANSWER = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n"
                 b"Connection: close\r\n\r\nok\n")

log = logging.getLogger("gtm_emulator")


class DeadlineSocket:
    """A client socket whose reads share one deadline (set per request by the worker)."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self.deadline: float | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def setblocking(self, flag: bool) -> None:
        # blocking, for a thread, means: each call waits at most BODY_TIMEOUT_S
        if flag:
            self._sock.settimeout(BODY_TIMEOUT_S)
        else:
            self._sock.setblocking(False)

    def _read(self, method: str, *args: Any) -> Any:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            log.info("closing a connection whose request was not received within %g s", BODY_TIMEOUT_S)
            raise NoMoreData(b"")
        try:
            return getattr(self._sock, method)(*args)
        except TimeoutError:
            raise NoMoreData(b"") from None

    def recv(self, *args: Any) -> bytes:
        return self._read("recv", *args)

    def recv_into(self, *args: Any) -> int:
        return self._read("recv_into", *args)


class HardenedThreadWorker(ThreadWorker):
    """``gthread`` with request heads read by the event loop and a deadline per body."""

    def init_process(self) -> None:
        self.reading_heads: dict[Any, float] = {}  # connection -> when its head must be complete
        super().init_process()

    def accept(self, listener: Any) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError:
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, DeadlineSocket(client_sock), client_addr, listener.getsockname())
        self._read_head(conn)

    def on_client_socket_readable(self, conn: Any, client: Any) -> None:
        """A kept-alive connection has a new request: read its head in the loop too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read_head(conn)

    def _read_head(self, conn: Any) -> None:
        conn.sock.setblocking(False)
        conn.head = b""
        self.reading_heads[conn] = time.monotonic() + HEAD_TIMEOUT_S
        if self._on_head_bytes(conn, None, registered=False):  # often the whole head is there already
            self.poller.register(conn.sock._sock, selectors.EVENT_READ, partial(self._on_head_bytes, conn))

    def _on_head_bytes(self, conn: Any, _fileobj: Any, registered: bool = True) -> bool:
        """Read what the client has sent of the head; True while it is incomplete (keep waiting)."""
        try:
            chunk = conn.sock._sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            chunk = b""
        if not chunk:
            self._drop_head_reader(conn, registered)
            return False
        conn.head += chunk
        if b"\r\n\r\n" not in conn.head and len(conn.head) <= MAX_HEAD_BYTES:
            return True
        if registered:
            self.poller.unregister(conn.sock._sock)
        del self.reading_heads[conn]
        if conn.head.startswith(HEALTH_REQUESTS):
            self._answer_health(conn)
        else:
            conn.data_ready = True
            self.enqueue_req(conn)
        return False

    def _answer_health(self, conn: Any) -> None:
        """``GET /healthz`` from the event loop: a health check is answered even while every thread
        waits on a slow vendor or a slow body."""
        try:
            conn.sock._sock.send(HEALTH_ANSWER)
        except OSError:
            pass
        self.nr_conns -= 1
        conn.close()

    def _drop_head_reader(self, conn: Any, registered: bool = True) -> None:
        self.reading_heads.pop(conn, None)
        if registered:
            try:
                self.poller.unregister(conn.sock._sock)
            except (KeyError, ValueError, OSError):
                pass
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c, deadline in self.reading_heads.items() if deadline <= now]:
            log.info("closing a connection whose request head was not complete within %g s", HEAD_TIMEOUT_S)
            self._drop_head_reader(conn)

    def handle_quit(self, sig: Any, frame: Any) -> None:
        lock = getattr(self.tpool, "_shutdown_lock", None)
        if lock is not None and not lock.acquire(blocking=False):
            # this thread holds it (the signal interrupted ThreadPoolExecutor.submit): exit without
            # shutting the pool down here; leaving submit releases the lock, and the interpreter's
            # exit stops the pool's threads
            Worker.handle_quit(self, sig, frame)
            return
        if lock is not None:
            lock.release()
        super().handle_quit(sig, frame)

    def handle(self, conn: Any) -> Any:
        head = getattr(conn, "head", b"")
        conn.head = b""
        conn.sock.deadline = time.monotonic() + BODY_TIMEOUT_S
        conn.sock.setblocking(True)
        if head:
            conn.init()
            conn.parser.unreader.unread(head)
        return super().handle(conn)
