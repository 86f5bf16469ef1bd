"""The mock vendors in one process of their own, shared by every worker of ``serve``.

With one worker, ``serve`` keeps the mock TikTok Events API and the mock GA4 endpoint inside it
(:func:`~gtm_emulator.loading.vendors.make_transport`). With several, each worker would hold a share
of their state: the access tokens generated at ``/_mock/tiktok/_access_token``, injected answers, the
received requests and events, the de-duplication memory. So ``serve`` starts them in one process of
their own before gunicorn forks its workers (:func:`share_mock_vendors`):

* the process listens on a Unix socket in a private directory (mode 0700) and answers only
  connections that first present a random per-run token (other users cannot reach the socket;
  other processes of the same user cannot use it without the token);
* every worker's transport sends the mock vendors' calls there, and the ``/_mock/tiktok/…`` and
  ``/_mock/ga4/…`` endpoints of the serve port read and change the same state, through
  :class:`RemoteTikTokMock` and :class:`RemoteGA4Mock` (the same blueprints, so the same paths,
  answers and guard);
* each call carries the run's clock (:func:`~gtm_emulator.core.clock.run_now` of the calling
  thread) and the mock process answers it at that time: request ids, the ``event_time`` warnings
  and the de-duplication window follow the run's ``now`` as they do in one process;
* it stops with ``serve``: terminated after the workers at a clean shutdown, and when ``serve`` is
  killed its standard input (a pipe that only ``serve`` and its workers hold) reaches its end and
  it exits: no orphan process;
* if it dies, every call fails with the reason (a tag fails, never succeeds), and ``serve`` logs it.

The wire format, one frame per call and per answer: two 4-byte big-endian lengths, a JSON header of
the first length, then a body of the second (the vendor request's or answer's bytes).
"""

from __future__ import annotations

import io
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ..core.clock import run_now, running_at
from ..errors import TransportError
from .transport import DEFAULT_TIMEOUT_S, HttpResponse, MockTransport

log = logging.getLogger("gtm_emulator")

_LENGTHS = struct.Struct(">II")
MAX_FRAME_BYTES = 1024 * 1024 * 1024  # a frame announcing more is refused (both sides)
START_TIMEOUT_S = 30.0  # the mock process must be listening within this
INSPECT_TIMEOUT_S = 10.0  # the /_mock/ inspection and setup endpoints' calls
CONNECT_TIMEOUT_S = 2.0
MARGIN_S = 0.5  # a vendor call waits this much longer than its timeout for the answer


class MockProcessError(RuntimeError):
    """A process `serve` starts beside its workers (the mock vendors', the Preview store's) could not start."""


def frame(head: Mapping[str, Any], body: bytes = b"") -> bytes:
    data = json.dumps(head, separators=(",", ":"), default=str).encode("utf-8")
    return _LENGTHS.pack(len(data), len(body)) + data + body


def read_frame(stream: BinaryIO | io.BufferedIOBase) -> tuple[dict[str, Any], bytes]:
    """One frame from a buffered stream; EOFError at the end of the stream."""
    prefix = stream.read(_LENGTHS.size)
    if len(prefix) < _LENGTHS.size:
        raise EOFError
    head_len, body_len = _LENGTHS.unpack(prefix)
    if head_len + body_len > MAX_FRAME_BYTES:
        raise ValueError(f"a frame of {head_len + body_len} bytes is over the limit of {MAX_FRAME_BYTES}")
    head = stream.read(head_len)
    body = stream.read(body_len) if body_len else b""
    if len(head) < head_len or len(body) < body_len:
        raise EOFError
    parsed = json.loads(head.decode("utf-8"))
    if not isinstance(parsed, dict):
        raise ValueError("a frame's header is not a JSON object")
    return parsed, body


# ---------------------------------------------------------------------------- the mock process


class _Vendors:
    """What the mock process holds: the mock vendors, and the answer to each operation."""

    name = "mock vendors"

    def __init__(self, tiktok_config: Mapping[str, Any]):
        from ..loading.vendors import make_transport

        self.vendors = make_transport("mock", tiktok_config)[1]  # the same mocks as in one process

    def dispatch(self, head: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
        op = head.get("op")
        tiktok = self.vendors["tiktok"]
        if op == "call":
            vendor = self.vendors[head["vendor"]]
            with running_at(float(head["now"])):  # the calling run's clock
                resp = vendor.handle(head["method"], head["path"], head["headers"], body)
            return {"status": resp.status, "headers": resp.headers}, resp.body
        if op == "events":
            return {}, _json([e.to_dict() for e in tiktok.events])
        if op == "requests":
            return {}, _json(tiktok.requests)
        if op == "hits":
            ga4 = self.vendors["ga4"]
            return {}, _json({"hits": ga4.hits, "rejected": ga4.rejected})
        if op == "reset":
            self.vendors[head["vendor"]].reset()
            return {}, b""
        if op == "access_token":
            return {"access_token": tiktok.generate_access_token(str(head["pixel_code"]))}, b""
        if op == "inject":
            tiktok.inject(**head["answer"])
            return {}, b""
        raise ValueError(f"unknown operation {op!r}")


def _json(value: Any) -> bytes:
    return json.dumps(value, default=str).encode("utf-8")


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        import hmac

        try:
            hello, _ = read_frame(self.rfile)
        except (EOFError, ValueError, OSError):
            return
        if not hmac.compare_digest(str(hello.get("token", "")).encode(), self.server.token.encode()):
            return  # not one of this serve's workers
        self.wfile.write(frame({"ok": True}))
        while True:
            try:
                head, body = read_frame(self.rfile)
            except (EOFError, OSError):
                return
            except ValueError as exc:
                self.wfile.write(frame({"error": str(exc)}))
                return
            try:
                reply = self.server.dispatcher.dispatch(head, body)
            except Exception as exc:  # a bug in a mock: the caller's tag fails with it, the process serves on
                print(f"gtm-emulator {self.server.dispatcher.name}: error answering {head.get('op')!r}:\n"
                      f"{traceback.format_exc()}",
                      file=sys.stderr, flush=True)
                reply = {"error": f"{type(exc).__name__}: {exc}"}, b""
            try:
                self.wfile.write(frame(*reply))
            except OSError:
                return


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, token: str, dispatcher: Any):
        self.token = token
        self.dispatcher = dispatcher  # answers each operation: dispatch(head, body) -> (head, body)
        super().__init__(path, _Handler)


def serve_child(prefix: str, make: Callable[[dict[str, Any]], Any]) -> None:
    """The body of a process ``serve`` starts beside its workers (the mock vendors, the Preview
    store's writer): one line of JSON on standard input (``token`` and the rest of the
    configuration, given to ``make``, which returns the object whose ``dispatch(head, body)``
    answers each operation), then it serves on a Unix socket in a private directory until its
    standard input ends or it receives SIGTERM; then the object's ``close()``, if it has one, runs."""
    import tempfile

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops serve, which stops this after its workers

    def stop(_signum: int, _frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    config = json.loads(sys.stdin.buffer.readline() or b"null")
    if not isinstance(config, dict):
        return  # serve went away before sending the configuration
    directory = tempfile.mkdtemp(prefix=prefix)  # mode 0700: this user only
    path = os.path.join(directory, "child.sock")
    dispatcher = None
    try:
        dispatcher = make(config)
        server = _Server(path, str(config["token"]), dispatcher)
        threading.Thread(target=server.serve_forever, name=prefix.strip("-"), daemon=True).start()
        sys.stdout.write(json.dumps({"socket": path, "pid": os.getpid()}) + "\n")
        sys.stdout.flush()
        while sys.stdin.buffer.read(65536):  # until serve and every worker are gone
            pass
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        close = getattr(dispatcher, "close", None)
        if close is not None:
            close()


def main() -> None:
    """The mock process (``tiktok`` in its configuration: the mock's settings)."""
    from ..clients import ga4  # noqa: F401  (imported while serve loads the container: the mocks need them)
    from ..loading import vendors  # noqa: F401

    serve_child("gtm-emulator-mocks-", lambda config: _Vendors(config.get("tiktok") or {}))


# ---------------------------------------------------------------------------- the workers' side


class Link:
    """A connection per thread (and per process: a forked worker opens its own) to a child process
    (the mock vendors' process unless ``what`` says otherwise)."""

    def __init__(self, path: str, token: str, pid: int, what: str = "the mock vendors' process"):
        self.path = path
        self.token = token
        self.pid = pid
        self.what = what
        self._local = threading.local()
        self._reported = False
        self._opened: list[tuple[int, socket.socket, BinaryIO]] = []  # to close them all (close())
        self._lock = threading.Lock()

    def _gone(self, exc: BaseException) -> str:
        why = "refused" if isinstance(exc, (ConnectionRefusedError, FileNotFoundError)) else \
            "closed" if isinstance(exc, (EOFError, ConnectionResetError, BrokenPipeError)) else type(exc).__name__
        text = f"{self.what} (pid {self.pid}) is not answering (connection {why}): it has stopped, see serve's log"
        if self.what == "the mock vendors' process":
            text += "; restart serve to get the mock TikTok and GA4 endpoints back"
        return text

    def _connect(self) -> tuple[socket.socket, BinaryIO]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        reader = None
        try:
            sock.settimeout(CONNECT_TIMEOUT_S)
            sock.connect(self.path)
            reader = sock.makefile("rb")
            sock.sendall(frame({"token": self.token}))
            answer, _ = read_frame(reader)
            if not answer.get("ok"):
                raise EOFError
        except BaseException:
            _close(sock, reader)
            raise
        with self._lock:
            self._opened.append((os.getpid(), sock, reader))
        return sock, reader

    def close(self) -> None:
        """Close every connection this process opened."""
        with self._lock:
            opened, self._opened = self._opened, []
        for pid, sock, reader in opened:
            if pid == os.getpid():
                _close(sock, reader)

    def call(self, head: Mapping[str, Any], body: bytes = b"", timeout: float = INSPECT_TIMEOUT_S,
             ) -> tuple[dict[str, Any], bytes]:
        """Send one operation and wait for its answer; TransportError when there is none."""
        held = getattr(self._local, "conn", None)
        try:
            if held is None or held[0] != os.getpid():
                held = self._local.conn = (os.getpid(), *self._connect())
            _pid, sock, reader = held
            sock.settimeout(timeout + MARGIN_S)
            sock.sendall(frame(head, body))
            answer, data = read_frame(reader)
        except TimeoutError:
            self._drop()  # its answer may still come: the connection cannot be reused
            raise TransportError("timed_out", f"no answer from {self.what} within {timeout:g} s") from None
        except (OSError, EOFError, ValueError) as exc:
            self._drop()
            reason = self._gone(exc)
            if not self._reported:
                self._reported = True
                log.error("%s", reason)
            raise TransportError("failed", reason) from None
        self._reported = False
        if "error" in answer:
            raise TransportError("failed", f"{self.what} could not answer: {answer['error']}")
        return answer, data

    def _drop(self) -> None:
        held = getattr(self._local, "conn", None)
        self._local.conn = None
        if held is not None and held[0] == os.getpid():
            _close(held[1], held[2])
            with self._lock:
                self._opened = [entry for entry in self._opened if entry[1] is not held[1]]


def _close(sock: socket.socket, reader: BinaryIO | None) -> None:
    if reader is not None:
        reader.close()
    sock.close()


@dataclass
class _RemoteVendor:
    link: Link
    vendor: str = ""

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes,
               timeout: float = DEFAULT_TIMEOUT_S) -> HttpResponse:
        head = {"op": "call", "vendor": self.vendor, "method": method, "path": path, "headers": dict(headers),
                "now": run_now()}
        answer, data = self.link.call(head, bytes(body), timeout)
        return HttpResponse(int(answer["status"]), dict(answer["headers"]), data)

    def reset(self) -> None:
        self.link.call({"op": "reset", "vendor": self.vendor})

    def _list(self, op: str) -> Any:
        return json.loads(self.link.call({"op": op})[1])


class RemoteRecord(dict[str, Any]):
    """An accepted event as the mock process listed it (``to_dict()``, as :class:`AcceptedEvent`)."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self)


@dataclass
class RemoteTikTokMock(_RemoteVendor):
    """The mock TikTok Events API in the mock process, with the interface the endpoints use."""

    vendor: str = "tiktok"

    @property
    def events(self) -> list[RemoteRecord]:
        return [RemoteRecord(e) for e in self._list("events")]

    @property
    def test_events(self) -> list[RemoteRecord]:
        return [e for e in self.events if e.get("test")]

    @property
    def requests(self) -> list[dict[str, Any]]:
        requests: list[dict[str, Any]] = self._list("requests")
        return requests

    def generate_access_token(self, pixel_code: str) -> str:
        return str(self.link.call({"op": "access_token", "pixel_code": pixel_code})[0]["access_token"])

    def inject(self, **answer: Any) -> None:
        if isinstance(answer.get("body"), bytes):
            answer["body"] = answer["body"].decode("utf-8", "replace")
        self.link.call({"op": "inject", "answer": answer})


@dataclass
class RemoteGA4Mock(_RemoteVendor):
    """The mock GA4 collection endpoint in the mock process."""

    vendor: str = "ga4"

    @property
    def hits(self) -> list[dict[str, Any]]:
        hits: list[dict[str, Any]] = self._list("hits")["hits"]
        return hits

    @property
    def rejected(self) -> list[dict[str, Any]]:
        rejected: list[dict[str, Any]] = self._list("hits")["rejected"]
        return rejected


def tiktok_config(mock: Any) -> dict[str, Any]:
    """The configuration that rebuilds ``mock`` (a :class:`TikTokMock`) elsewhere."""
    return {"pixels": {code: sorted(tokens) for code, tokens in mock.pixels.items()}, "strict": mock.strict,
            "require_hashed_pii": mock.require_hashed_pii, "rate_limit_per_second": mock.rate_limit_per_second}


@dataclass
class ChildProcess:
    """A process ``serve`` started beside its workers (:func:`serve_child`), as ``serve`` sees it."""

    proc: subprocess.Popen[bytes]
    socket_path: str
    token: str
    stopping: threading.Event = field(default_factory=threading.Event)
    links: list[Link] = field(default_factory=list)
    what: str = "a helper process"  # how serve's log names it

    @property
    def pid(self) -> int:
        return self.proc.pid

    def link(self) -> Link:
        link = Link(self.socket_path, self.token, self.pid, self.what)
        self.links.append(link)
        return link

    def start(self, config: Mapping[str, Any]) -> None:
        """Send the token and ``config``, and wait until the process listens."""
        import select

        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps({**config, "token": self.token}).encode("utf-8") + b"\n")
            line = b""
            deadline = time.monotonic() + START_TIMEOUT_S
            while not line.endswith(b"\n"):
                ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    raise MockProcessError(f"it did not start within {START_TIMEOUT_S:g} s")
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    raise MockProcessError("it stopped while starting (see the error above)")
                line += chunk
            started = json.loads(line)
            if not isinstance(started, dict) or "socket" not in started:
                raise MockProcessError(f"unexpected start-up line {line!r}")
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        self.socket_path = str(started["socket"])

    def watch(self, consequence: str) -> None:
        """Log, in serve's log, when the process stops before serve does (and ``consequence``)."""
        def run() -> None:
            # os.read on the raw pipe: this thread holds no lock that a forked worker would inherit held
            assert self.proc.stdout is not None
            while os.read(self.proc.stdout.fileno(), 4096):
                pass
            if not self.stopping.is_set():
                log.error("%s (pid %s) has stopped: %s", self.what, self.pid, consequence)

        threading.Thread(target=run, name="child-process-watch", daemon=True).start()

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the process (after serve's workers have stopped) and remove its socket."""
        self.stopping.set()
        for link in self.links:
            link.close()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # gunicorn's handler, left behind, would reap it
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass
        if self.socket_path:
            shutil.rmtree(os.path.dirname(self.socket_path), ignore_errors=True)


def spawn_child(module: str, what: str) -> ChildProcess:
    """Start ``python -m module`` (a :func:`serve_child`); it imports what it needs meanwhile, then
    waits for :meth:`ChildProcess.start`."""
    # unbuffered pipes: no buffer lock for a forked worker to inherit (and wait for as it exits)
    proc = subprocess.Popen([sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    return ChildProcess(proc, "", secrets.token_hex(20), what=what)


MockProcess = ChildProcess  # the mock vendors' process


def spawn_mock_process() -> MockProcess:
    """Start the mock process (``serve`` spawns it before loading the container, so that both
    start-ups overlap); :func:`share_mock_vendors` configures it."""
    return spawn_child("gtm_emulator.vendors.shared", "the mock vendors' process")


def start_mock_process(config: Mapping[str, Any]) -> MockProcess:
    """Start the mock process with the TikTok mock's ``config`` and wait until it listens."""
    process = spawn_mock_process()
    process.start({"tiktok": dict(config)})
    return process


def share_mock_vendors(container: Any, process: MockProcess | None = None) -> MockProcess:
    """Move ``container``'s mock vendors into one process of their own (a new one, or ``process``):
    its transport and its ``tiktok_mock``/``ga4_mock`` then reach that process (``serve`` calls this
    before gunicorn forks its workers)."""
    transport = container.transport
    if not isinstance(transport, MockTransport) or "tiktok" not in container.vendors:
        raise MockProcessError("the container does not run with the mock vendors")
    watch = process is None or not process.socket_path
    if process is None:
        process = spawn_mock_process()
    if not process.socket_path:
        process.start({"tiktok": tiktok_config(container.vendors["tiktok"])})
    link = process.link()
    remote: dict[str, _RemoteVendor] = {"tiktok": RemoteTikTokMock(link), "ga4": RemoteGA4Mock(link)}
    for name, handler in list(transport.handlers.items()):
        owner = next((key for key, mock in container.vendors.items()
                      if getattr(handler, "__self__", None) is mock), None)
        if owner in remote:
            transport.mount(name, remote[owner].handle, timed=True)
    container.vendors.update(remote)
    if watch:
        process.watch("tags' calls to the mock TikTok and GA4 endpoints fail from now on (each with the reason); "
                      "restart serve")
    return process


if __name__ == "__main__":
    main()
