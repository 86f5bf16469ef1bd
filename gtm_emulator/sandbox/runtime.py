"""Running a template's server code in an embedded JavaScript engine (QuickJS).

Each run gets a **fresh engine context**: the prelude (:mod:`.prelude`) is evaluated, the template
code is compiled as the body of ``function (data, require) { … }`` (so a top-level ``return`` works,
docs/templates.md, "Execution model"; its top-level ``let`` / ``const`` have no temporal dead zone, see :mod:`.hoist`),
and then called. Callbacks, ``callLater`` tasks and promise reactions are queued
on the JS side and drained by the host inside the same limits.

Limits (a runaway template can never hang the server):

* ``time_limit`` (seconds, wall clock, default :data:`DEFAULT_TIME_LIMIT_S`) covers the whole run,
  including draining callbacks; the engine is interrupted when it is reached.
* ``memory_limit`` (bytes, default :data:`DEFAULT_MEMORY_LIMIT`) caps the engine's heap.
* ``stack_limit`` (bytes) caps recursion depth.

A tag that neither calls ``data.gtmOnSuccess()`` nor ``data.gtmOnFailure()`` is a failure. Because
every outgoing request answers synchronously (the transport), a run whose queues are empty can never
complete later, so the emulator reports it at once instead of waiting for the time limit; the
message says that sGTM would time the tag out. An uncaught exception in a callback fails the tag if
it had not completed yet (the first completion counts; later ones are warnings).

``addEventCallback`` (``EventCallbacks``): a tag run that registered event callbacks keeps its
engine context (and worker process) open after the tag completed; the container calls the callbacks
once all tags of the event have finished, in that same context, with a fresh time budget, and then
releases the worker. A run stopped by a limit cannot keep its callbacks (its worker was killed).

Engine contexts are used only on the thread that created them (the engine is not thread-safe).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.js import UNDEFINED
from ..core.statuses import RunStatus
from ..errors import SandboxFailure
from . import messages
from .apis import Host, SandboxEnv
from .hoist import hoist_top_level
from .permissions import DEFAULT_ENFORCEMENT, Permissions
from .prelude import PRELUDE
from .tpl import CustomTemplate
from .values import decode

DEFAULT_TIME_LIMIT_S = 5.0
DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024
DEFAULT_STACK_LIMIT = 512 * 1024
WORKER_SCRIPT = Path(__file__).with_name("worker.py")


@dataclass
class RunOutcome:
    """What one run of a template produced."""

    status: RunStatus
    error: str | None = None
    value: Any = UNDEFINED
    console: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    callbacks: EventCallbacks | None = None  # the run's open sandbox, when it registered event callbacks


def _clean(message: str) -> str:
    """First line of an engine error, without the engine's own stack frames."""
    lines = [ln for ln in str(message).splitlines() if ln.strip() and not ln.strip().startswith("at ")]
    return lines[0].strip() if lines else str(message).strip()


class Worker:
    """One sandbox worker process (see :mod:`.worker`)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(WORKER_SCRIPT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.fd = self.proc.stdout.fileno()
        self.buffer = b""

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode("utf-8")
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(struct.pack(">I", len(data)) + data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self.close()
            raise SandboxFailure("crash", "the sandbox worker process died") from None

    def receive(self, deadline: float, limit: float) -> dict[str, Any]:
        while True:
            if len(self.buffer) >= 4:
                (size,) = struct.unpack(">I", self.buffer[:4])
                if len(self.buffer) >= 4 + size:
                    frame = self.buffer[4:4 + size]
                    self.buffer = self.buffer[4 + size:]
                    result = json.loads(frame.decode("utf-8"))
                    assert isinstance(result, dict)
                    return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                raise SandboxFailure("timeout", f"timed out: the template ran longer than {limit:g} s")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.close()
                raise SandboxFailure("crash", "the sandbox worker process died")
            self.buffer += chunk

    def request(self, message: dict[str, Any], deadline: float, limit: float,
                host: Callable[[str, str], str] | None = None) -> Any:
        """Send one op and serve host calls until its answer arrives (or the deadline passes)."""
        self.send(message)
        while True:
            reply = self.receive(deadline, limit)
            if "call" in reply:
                answer = host(reply["call"], reply.get("args", "[]")) if host else '{"e": "no host"}'
                self.send({"r": answer})
                continue
            if "err" in reply:
                kind = reply["err"]
                text = str(reply.get("msg", ""))
                if kind == "memory":
                    raise SandboxFailure("memory", "out of memory")
                if kind == "stack":
                    raise SandboxFailure("stack", "stack overflow: the template recursed too deeply")
                raise SandboxFailure("exception", _clean(text))
            return reply.get("ok")


class WorkerPool:
    """Idle workers, reused between runs; a worker that timed out is killed and replaced."""

    def __init__(self, max_idle: int = 4):
        self.max_idle = max_idle
        self.idle: list[Worker] = []
        self.lock = threading.Lock()
        atexit.register(self.shutdown)

    def acquire(self) -> Worker:
        with self.lock:
            while self.idle:
                worker = self.idle.pop()
                if worker.alive:
                    return worker
                worker.close()
        return Worker()

    def release(self, worker: Worker) -> None:
        if not worker.alive:
            worker.close()
            return
        with self.lock:
            if len(self.idle) < self.max_idle:
                self.idle.append(worker)
                return
        worker.close()

    def shutdown(self) -> None:
        with self.lock:
            workers, self.idle = self.idle, []
        for worker in workers:
            worker.close()


POOL = WorkerPool()


class Sandbox:
    """One fresh engine context holding one template, ready to run. Use as a context manager."""

    def __init__(
        self,
        template: CustomTemplate,
        env: SandboxEnv,
        *,
        enforce: str = DEFAULT_ENFORCEMENT,
        time_limit: float = DEFAULT_TIME_LIMIT_S,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        stack_limit: int = DEFAULT_STACK_LIMIT,
        test_mode: bool = False,
    ):
        self.template = template
        self.env = env
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self.started = time.monotonic()
        self.deadline = self.started + time_limit
        self.host = Host(env, Permissions(template.permissions, enforce), template.storage_key, test_mode)
        self.bus: messages.MessageBus | None = None
        self.worker: Worker | None = POOL.acquire()
        try:
            self.worker.request({"op": "new", "memory": memory_limit, "stack": stack_limit},
                                self.deadline, time_limit)
            self.eval("(" + PRELUDE.strip().rstrip(";") + ")(__hostCall); delete globalThis.__hostCall; 0")
            try:
                code = hoist_top_level(template.code)
                self.eval("__sandbox.main = (function (data, require) {" + code + "\n}); 0")
            except SandboxFailure as exc:
                if exc.kind == "exception":
                    raise SandboxFailure("syntax", f"the template code does not compile: {exc}") from None
                raise
        except BaseException:
            self.close()
            raise
        bus = None if test_mode else messages.current()
        if bus is not None:
            self.join_bus(bus)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def join_bus(self, bus: messages.MessageBus) -> None:
        """Exchange ``sendMessage`` messages with the other sandboxes on ``bus`` (see :mod:`.messages`)."""
        self.bus = bus
        self.host.on_message = lambda message_type, message: bus.deliver(self, message_type, message)
        self.host.listened_elsewhere = lambda message_type: any(
            member is not self and member.listens(message_type) for member in bus.members)
        bus.join(self)

    def listens(self, message_type: str) -> bool:
        """Whether this template added a listener for ``message_type`` (for the message bus)."""
        return self.worker is not None and message_type in self.host.listening

    def close(self) -> None:
        if self.bus is not None:
            self.bus.leave(self)
        worker, self.worker = self.worker, None
        if worker is not None:
            POOL.release(worker)

    def eval(self, source: str) -> Any:
        if self.worker is None:
            raise SandboxFailure("crash", "the sandbox is closed")
        try:
            return self.worker.request({"op": "eval", "src": source}, self.deadline, self.time_limit,
                                       self.host.dispatch)
        except SandboxFailure as exc:
            if exc.kind == "memory":
                raise SandboxFailure(
                    "memory", f"out of memory: the template exceeded {self.memory_limit // (1024 * 1024)} MB"
                ) from None
            raise

    def drain(self) -> None:
        self.eval("__sandbox.drain(); 0")

    def state(self) -> dict[str, Any]:
        result = decode(self.eval("__sandbox.state()"))
        assert isinstance(result, dict)
        return result

    def elapsed_ms(self) -> float:
        return (time.monotonic() - self.started) * 1000


class EventCallbacks:
    """A finished tag run whose sandbox stays open because it called ``addEventCallback``: the
    callbacks are JS functions of that run, so they can only run in its engine context. The owner
    calls :meth:`run` once all tags of the event have finished, then :meth:`close` (the worker goes
    back to the pool). The callbacks get a fresh time budget (the run's time limit)."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox: Sandbox | None = sandbox

    def run(self, event_id: int | None, container_id: str, data: dict[str, Any]) -> tuple[int, list[str]]:
        """Call the callbacks registered for ``event_id`` (``None``: a tag's) as
        ``cb(containerId, data)`` and drain what they start; returns (how many ran, their errors).
        Raises SandboxFailure when a limit stops them."""
        sandbox = self.sandbox
        if sandbox is None:
            raise SandboxFailure("crash", "the sandbox is closed")
        sandbox.deadline = time.monotonic() + sandbox.time_limit
        return call_event_callbacks(sandbox, event_id, container_id, data)

    def close(self) -> None:
        sandbox, self.sandbox = self.sandbox, None
        if sandbox is not None:
            sandbox.close()

    def __del__(self) -> None:  # never leak a worker when the owner forgot to close
        try:
            self.close()
        except Exception:
            pass


def call_event_callbacks(sandbox: Sandbox, event_id: int | None, container_id: str,
                         data: dict[str, Any]) -> tuple[int, list[str]]:
    """Call, in ``sandbox``, the ``addEventCallback`` callbacks registered for ``event_id`` (``None``:
    unbound, a tag's; a number: the client's ``runContainer`` event bound with ``bindToEvent``) as
    ``cb(containerId, data)``; returns (how many ran, the errors they threw)."""
    result = decode(sandbox.eval(
        f"__sandbox.runEventCallbacks({json.dumps(event_id)}, {json.dumps(container_id)}, {fields_literal(data)})"))
    return int(result.get("n", 0)), [str(e) for e in result.get("errors") or []]


def fields_literal(params: dict[str, Any]) -> str:
    from .values import encode

    return json.dumps(encode(params))


def run_tag_code(template: CustomTemplate, params: dict[str, Any], env: SandboxEnv, *, keep_callbacks: bool = False,
                 **limits: Any) -> RunOutcome:
    """Run a tag template once; the outcome says success or failure and why.

    ``keep_callbacks``: when the run registered ``addEventCallback`` callbacks (and its engine is
    still usable: it completed or threw, no limit was hit), its sandbox stays open as
    ``outcome.callbacks`` for the caller to run them at the end of the event and close."""
    outcome = RunOutcome(status="failure", console=env.console, warnings=env.warnings, notes=env.notes)
    started = time.monotonic()
    sandbox: Sandbox | None = None
    state: dict[str, Any] | None = None
    try:
        sandbox = Sandbox(template, env, **limits)
        try:
            sandbox.eval(f"__sandbox.runTag({fields_literal(params)}); 0")
        except SandboxFailure as exc:
            if exc.kind != "exception":
                raise
            outcome.error = f"the template threw: {exc}"
            env.console.append(f"ERROR: {outcome.error}")
        if outcome.error is None:
            sandbox.drain()
            state = sandbox.state()
            pending = int(state.get("callbacks") or 0)
        else:
            pending = int(sandbox.eval("__sandbox.eventCallbacks.length") or 0)
        if keep_callbacks and pending:
            outcome.callbacks = EventCallbacks(sandbox)
            sandbox = None
        elif pending:
            env.notes.append("addEventCallback: the tag ran outside a container run, so there is no end of an "
                             "event to call the callback at; it was not called")
    except SandboxFailure as exc:
        outcome.error = str(exc)
        env.console.append(f"ERROR: {outcome.error}")
        return outcome
    finally:
        if sandbox is not None:
            sandbox.close()
        outcome.duration_ms = (time.monotonic() - started) * 1000
    if state is None:
        return outcome
    done = state.get("done")
    errors = [str(e) for e in state.get("errors") or []]
    for late in state.get("late") or []:
        env.warnings.append(f"data.gtm{'OnSuccess' if late == 'success' else 'OnFailure'}() called again after "
                            "the tag had completed; ignored")
    if done is None:
        if errors:
            outcome.error = f"a callback threw: {errors[0]}"
        else:
            outcome.error = ("the tag finished without calling data.gtmOnSuccess() or data.gtmOnFailure() "
                             "(sGTM would time it out)")
        env.console.append(f"ERROR: {outcome.error}")
        return outcome
    for e in errors:
        env.warnings.append(f"an uncaught error after the tag completed: {e}")
    if done == "success":
        outcome.status = "success"
    else:
        outcome.error = "the template called data.gtmOnFailure()"
    return outcome


def run_value_code(template: CustomTemplate, params: dict[str, Any], env: SandboxEnv, **limits: Any) -> RunOutcome:
    """Run a variable template once; ``value`` is its return value (a returned promise is awaited)."""
    outcome = RunOutcome(status="failure", console=env.console, warnings=env.warnings, notes=env.notes)
    started = time.monotonic()
    try:
        with Sandbox(template, env, **limits) as sandbox:
            sandbox.eval(f"__sandbox.runValue({fields_literal(params)}); 0")
            sandbox.drain()
            result = decode(sandbox.eval("__sandbox.finishValue()"))
    except SandboxFailure as exc:
        outcome.error = str(exc) if exc.kind != "exception" else f"the template threw: {exc}"
        return outcome
    finally:
        outcome.duration_ms = (time.monotonic() - started) * 1000
    if "e" in result:
        outcome.error = f"the variable's promise was rejected: {result['e']}"
        return outcome
    outcome.status = "success"
    outcome.value = result.get("v", UNDEFINED)
    return outcome
