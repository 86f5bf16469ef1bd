"""The sandbox worker process: one QuickJS engine, driven over stdin/stdout.

The ``quickjs`` binding cannot call Python functions while its own time limit is set, so the limit
lives outside: the engine runs in this separate process, and the parent kills it when a run passes
its deadline (a runaway loop can never block the server). Every sandbox API call is relayed to the
parent, which answers it.

This file is run as a script and imports nothing from the package. Frames are a 4-byte big-endian
length followed by JSON. Parent -> worker: ``{"op": "new", "memory": bytes, "stack": bytes}``,
``{"op": "eval", "src": text}``, ``{"r": text}`` (the answer to a host call). Worker -> parent:
``{"call": name, "args": text}``, ``{"ok": value}``, ``{"err": kind, "msg": text}``.
"""

from __future__ import annotations

import json
import os
import struct
import sys
from typing import Any

import quickjs

IN = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, "raw") else sys.stdin.buffer
OUT = sys.stdout.buffer


def send(message: dict[str, Any]) -> None:
    data = json.dumps(message).encode("utf-8")
    OUT.write(struct.pack(">I", len(data)) + data)
    OUT.flush()


def read_exact(n: int) -> bytes:
    chunks: list[bytes] = []
    while n:
        chunk = IN.read(n)
        if not chunk:
            os._exit(0)
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def receive() -> dict[str, Any]:
    (size,) = struct.unpack(">I", read_exact(4))
    return json.loads(read_exact(size).decode("utf-8"))


def host_call(name: str, args: str) -> str:
    try:
        send({"call": name, "args": args})
        reply = receive()
        return str(reply.get("r", '{"e": "no answer from the host"}'))
    except Exception:  # never raise into the engine
        os._exit(3)


def plain(value: object) -> object:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return None


def main() -> None:
    ctx: Any = None
    while True:
        message = receive()
        op = message.get("op")
        if op == "new":
            ctx = quickjs.Context()
            ctx.set_memory_limit(int(message.get("memory", 64 << 20)))
            ctx.set_max_stack_size(int(message.get("stack", 512 << 10)))
            ctx.add_callable("__hostCall", host_call)
            send({"ok": None})
        elif op == "eval":
            if ctx is None:
                send({"err": "exception", "msg": "no engine context"})
                continue
            try:
                send({"ok": plain(ctx.eval(message["src"]))})
            except quickjs.StackOverflow as exc:
                send({"err": "stack", "msg": str(exc)})
            except quickjs.JSException as exc:
                text = str(exc)
                kind = "memory" if "out of memory" in text else "stack" if "stack overflow" in text else "exception"
                send({"err": kind, "msg": text})
            except Exception as exc:
                send({"err": "exception", "msg": f"{type(exc).__name__}: {exc}"})
        elif op == "exit":
            return
        else:
            send({"err": "exception", "msg": f"unknown op {op!r}"})


if __name__ == "__main__":
    main()
