"""Served throughput and latency of GA4 hits through ``gtm-emulator serve``.

Baseline: a bare Flask app answering 204 to every request, on the same gunicorn settings (workers,
threads). ``serve`` answers container paths from its WSGI entry without Flask's routing and request
objects, so it can outrun that baseline; a second reference, a bare WSGI callable answering 204 (no
framework at all), shows what the emulator's own work costs.

Subjects: the default container with the vendor recorded (nothing sent), and with the mock TikTok
API called over HTTP (a second process started with ``gtm-emulator mock-tiktok``), both with
``--store none`` (no Preview log: what a load or CI run needs); and, for the record, the default
``serve`` that also writes every report to the SQLite Preview log.

Two loads: the simple one (GET hits, one event each, 80 % page_view and 20 % purchase with items,
ids reused from a small pool) and a realistic one: unique client ids, transaction ids and event ids
on every hit, a fifth of the hits batched POSTs of 2-5 events, and the headers and cookies a browser
sends (User-Agent, Accept-Language, Referer, Origin, the _ga/FPID/_ttp/_fbp cookies).

The default ``serve`` with the mock vendor (the bundled container, its TikTok tag answered by the
mock TikTok API) is measured at 1 worker, where the mock vendors run inside the worker, against the
cores' count of workers, where they run in one process of their own that every worker calls: with
``--store none`` and with the Preview store, simple and realistic hits (``--only mock-workers`` runs
only this comparison, about a minute).

A round in which one worker of a server did more than 90 % of the work is run again (at most three
rounds): wrk opens its connections at once and keeps them, and now and then one gunicorn worker
accepts every one, so that the round measures one core and gunicorn's accept luck instead of the
subject. It happens to bare Flask and to ``serve`` alike; the notes say how many rounds were run
again for which server.

Load comes from ``wrk`` (Debian package ``wrk``) on loopback, bounded in time; without ``wrk`` a
small threaded Python client is used instead (and says so: it saturates sooner, so its ratios are
closer to 1 than the truth). The hit mix is 80 % page_view (no tag fires) and 20 % purchase with
items (the TikTok tag fires).
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, format_table

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "3e0c3fd7f678648665e3b09eb2a045339905fd2b"
PIXEL = "CEMULATOR0PIXEL00001"
WORKERS, THREADS = max(1, len(os.sched_getaffinity(0))), 4  # the machine's cores, as `serve` defaults to
HITS = [
    "/g/collect?v=2&tid=G-BENCH&cid=1{n}.17&sid=1700000000&sct=1&en=page_view&dl=https%3A%2F%2Fshop.example%2Fp{n}"
    "&dt=Product%20{n}&ul=en-us&sr=1920x1080",
] * 4 + [
    "/g/collect?v=2&tid=G-BENCH&cid=1{n}.17&sid=1700000000&sct=1&en=purchase&cu=EUR&epn.value=25"
    "&ep.transaction_id=T{n}&pr1=idSKU-1~nmMug~pr12.5~qt2&dl=https%3A%2F%2Fshop.example%2Fthanks",
]

BARE_APP = """
import sys
from flask import Flask, Response
from gtm_emulator.server.wsgi import run_gunicorn
app = Flask("bare")
@app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
@app.route("/<path:path>", methods=["GET", "POST"])
def any_path(path):
    return Response(status=204)
run_gunicorn(app, "127.0.0.1", int(sys.argv[1]), workers=int(sys.argv[2]), threads=int(sys.argv[3]))
"""


BARE_WSGI = """
import sys
from gtm_emulator.server.wsgi import run_gunicorn
def app(environ, start_response):
    start_response("204 NO CONTENT", [])
    return [b""]
run_gunicorn(app, "127.0.0.1", int(sys.argv[1]), workers=int(sys.argv[2]), threads=int(sys.argv[3]))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, path: str = "/healthz", timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


@contextmanager
def process(args: list[str], port: int, ready_path: str = "/healthz",
            pid_out: list[int] | None = None) -> Iterator[None]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    if pid_out is not None:
        pid_out.append(proc.pid)
    try:
        wait_ready(port, ready_path)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def lua_script(directory: str) -> str:
    paths = [hit.format(n=n) for n in range(50) for hit in HITS]
    lines = ",\n".join('  "' + p.replace('"', '\\"') + '"' for p in paths)
    script = (
        "local paths = {\n" + lines + "\n}\n"
        "local i = 0\n"
        "request = function()\n  i = i + 1\n  return wrk.format('GET', paths[(i % #paths) + 1])\nend\n"
    )
    path = os.path.join(directory, "hits.lua")
    Path(path).write_text(script)
    return path


REALISTIC_LUA = r"""
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
local n = 0
local agents = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
}
local function event(kind, id)
  if kind == "purchase" then
    return "en=purchase&cu=EUR&epn.value=49.90&ep.transaction_id=T" .. id .. "&ep.event_id=E" .. id ..
      "&pr1=idSKU-1~nmMug~pr12.5~qt2&pr2=idSKU-7~nmCap~pr24.9~qt1&ep.email=shopper" .. id .. "%40example.com"
  end
  return "en=" .. kind .. "&dl=https%3A%2F%2Fshop.example%2Fp%2F" .. id .. "&dt=Product&ep.event_id=E" .. id
end
request = function()
  n = n + 1
  local id = tid .. "x" .. n
  local base = "/g/collect?v=2&tid=G-BENCH&gtm=45je4&cid=" .. n .. "." .. (1700000000 + n) ..
    "&sid=1700000000&sct=1&ul=de-de&sr=1920x1080&_s=" .. n
  local headers = {
    ["User-Agent"] = agents[(n % 2) + 1],
    ["Accept-Language"] = "de-DE,de;q=0.9,en;q=0.8",
    ["Referer"] = "https://shop.example/p/" .. n,
    ["Origin"] = "https://shop.example",
    ["Cookie"] = "_ga=GA1.1." .. n .. ".1700000000; FPID=FPID2.2.x" .. id .. "; _ttp=ttp" .. id ..
      "; _fbp=fb.1.1700000000." .. n,
  }
  if n % 5 == 0 then
    headers["Content-Type"] = "text/plain;charset=UTF-8"
    local body = event("page_view", id .. "a") .. "\n" .. event("view_item", id .. "b") .. "\n" ..
      event("add_to_cart", id .. "c")
    if n % 10 == 0 then body = body .. "\n" .. event("purchase", id .. "d") end
    return wrk.format("POST", base, headers, body)
  end
  local kind = (n % 5 == 1) and "purchase" or "page_view"
  return wrk.format("GET", base .. "&" .. event(kind, id), headers)
end
"""


def realistic_script(directory: str) -> str:
    path = os.path.join(directory, "realistic.lua")
    Path(path).write_text(REALISTIC_LUA)
    return path


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(port: int, seconds: float, script: str) -> tuple[float, float, float]:
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{max(1, int(seconds))}s", "--latency", "-s", script, f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True, timeout=seconds + 30,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} non-2xx answers during the load run")
    return rate, _ms(*p50.groups()), _ms(*p99.groups())  # type: ignore[union-attr]


def run_python_load(port: int, seconds: float) -> tuple[float, float, float]:
    paths = [hit.format(n=n) for n in range(50) for hit in HITS]
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        i = offset
        while time.monotonic() < stop:
            start = time.perf_counter()
            conn.request("GET", paths[i % len(paths)])
            resp = conn.getresponse()
            resp.read()
            if resp.status >= 300:
                raise RuntimeError(f"answer {resp.status}")
            mine.append((time.perf_counter() - start) * 1000)
            i += 7
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return len(latencies) / seconds, latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]


def _cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def worker_pids(master: int) -> list[int]:
    """The server's worker processes: the children of ``master`` that run its own command line (the
    mock vendors' and the Preview store's processes run another)."""
    try:
        with open(f"/proc/{master}/cmdline", "rb") as f:
            own = f.read()
        kids = [int(k) for k in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []
    out = []
    for kid in kids:
        try:
            with open(f"/proc/{kid}/cmdline", "rb") as f:
                if f.read() == own:
                    out.append(kid)
        except OSError:
            pass
    return out


UNBALANCED_SHARE = 0.9  # a round in which one worker did more than this share of the work is run again
ROUND_TRIES = 3
repeated_rounds: dict[int, int] = {}  # master pid -> rounds run again (printed in the notes)


def measure(port: int, seconds: float, script: str | None, master: int | None = None) -> tuple[float, float, float]:
    """One load round. With ``master`` (a server of several workers): when one worker took (nearly)
    every connection of the round, so that it measured one core and gunicorn's accept luck rather
    than the subject, the round is run again (at most ``ROUND_TRIES`` rounds; it happens to any
    server, bare Flask included, because wrk opens its connections at once and keeps them)."""
    result = (0.0, 0.0, 0.0)
    for _ in range(ROUND_TRIES):
        workers = worker_pids(master) if master is not None and sys.platform.startswith("linux") else []
        before = [_cpu_ticks(w) for w in workers]
        result = run_wrk(port, seconds, script) if script else run_python_load(port, seconds)
        used = [_cpu_ticks(w) - b for w, b in zip(workers, before, strict=True)]
        if len(used) < 2 or sum(used) <= 0 or max(used) <= UNBALANCED_SHARE * sum(used):
            return result
        assert master is not None
        repeated_rounds[master] = repeated_rounds.get(master, 0) + 1
    return result


def repeated_note(masters: dict[str, int]) -> str:
    counts = {name: repeated_rounds.get(pid, 0) for name, pid in masters.items()}
    if not any(counts.values()):
        return "no round had one worker taking every connection"
    return "rounds run again because one worker took every connection: " + ", ".join(
        f"{name} {n}" for name, n in counts.items() if n)


def run_mock_workers(tmp: str, seconds: float, repeats: int, script: str | None,
                     realistic: str | None) -> list[Row]:
    """The default ``serve`` with the mock vendor: the cores' count of workers sharing one mock
    process, against one worker with the mock vendors inside it; medians of interleaved runs."""
    py = sys.executable
    serve = [py, "-m", "gtm_emulator", "serve", "--quiet", "--threads", str(THREADS)]
    subjects = {f"{store}-{workers}": workers for store in ("none", "stored") for workers in (1, WORKERS)}
    ports = {name: free_port() for name in subjects}
    loads = {"simple": script, **({"realistic": realistic} if realistic else {})}
    results: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    masters: dict[str, int] = {}
    with ExitStack() as stack:
        for name, workers in subjects.items():
            store = "none" if name.startswith("none") else os.path.join(tmp, f"{name}.sqlite3")
            pid: list[int] = []
            stack.enter_context(process([*serve, "--workers", str(workers), "--port", str(ports[name]),
                                         "--store", store], ports[name], pid_out=pid))
            masters[name] = pid[0]
        for name in subjects:  # warm-up
            measure(ports[name], 1.0, script)
        for _ in range(repeats):  # interleaved, so that machine load affects all alike
            for load, lua in loads.items():
                for name in subjects:
                    if lua is None and load != "simple":
                        continue
                    results.setdefault((name, load), []).append(measure(ports[name], seconds, lua, masters[name]))

    def med(name: str, load: str, index: int = 0) -> float:
        return statistics.median(r[index] for r in results[(name, load)])

    note = (f"{WORKERS} workers x {THREADS} threads against 1 x {THREADS}, {seconds:g} s x {repeats}, interleaved; "
            f"{repeated_note(masters)}")
    rows = []
    for load in loads:
        for store, label in (("none", "no store"), ("stored", "Preview")):
            many, one = f"{store}-{WORKERS}", f"{store}-1"
            rows.append(Row(f"mock vendor {WORKERS}/1 workers, {load}, {label}", "r/s", med(many, load),
                            med(one, load), None, note=note if not rows else ""))
        rows.append(Row(f"mock vendor {WORKERS}/1 workers, {load}, p99", "ms",
                        med(f"none-{WORKERS}", load, 2), med("none-1", load, 2), None, higher_is_better=False))
    return rows


def run(quick: bool = False, only: str | None = None) -> list[Row]:
    seconds = 1.0 if quick else 5.0
    if only == "mock-workers":
        with tempfile.TemporaryDirectory() as tmp:
            script = lua_script(tmp) if shutil.which("wrk") else None
            realistic = realistic_script(tmp) if script else None
            return run_mock_workers(tmp, seconds if quick else 3.0, 1 if quick else 3, script, realistic)
    repeats = 1 if quick else 3
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        script = lua_script(tmp) if shutil.which("wrk") else None
        realistic = realistic_script(tmp) if script else None
        bare_file = os.path.join(tmp, "bare.py")
        Path(bare_file).write_text(BARE_APP)
        wsgi_file = os.path.join(tmp, "bare_wsgi.py")
        Path(wsgi_file).write_text(BARE_WSGI)
        ports = {name: free_port() for name in ("bare", "wsgi", "record", "mockhttp", "mock", "stored")}
        names = ("bare", "wsgi", "record", "mockhttp", "stored")
        results: dict[str, list[tuple[float, float, float]]] = {k: [] for k in names}
        real_names = ("bare", "record", "stored")
        real: dict[str, list[tuple[float, float, float]]] = {k: [] for k in real_names}
        serve = [py, "-m", "gtm_emulator", "serve", "--quiet", "--workers", str(WORKERS), "--threads", str(THREADS)]
        pids: dict[str, list[int]] = {name: [] for name in names}
        with process([py, bare_file, str(ports["bare"]), str(WORKERS), str(THREADS)], ports["bare"], "/",
                     pid_out=pids["bare"]), \
                process([py, wsgi_file, str(ports["wsgi"]), str(WORKERS), str(THREADS)], ports["wsgi"], "/",
                        pid_out=pids["wsgi"]), \
                process([*serve, "--port", str(ports["record"]), "--vendor", "record", "--store", "none"],
                        ports["record"], pid_out=pids["record"]), \
                process([*serve, "--port", str(ports["stored"]), "--vendor", "record", "--store",
                         os.path.join(tmp, "preview.sqlite3")], ports["stored"], pid_out=pids["stored"]), \
                process([py, "-m", "gtm_emulator", "mock-tiktok", "--port", str(ports["mock"]), "--pixel",
                         f"{PIXEL}={TOKEN}"], ports["mock"], "/open_api/v1.3/event/track/"), \
                process([*serve, "--port", str(ports["mockhttp"]), "--vendor", "live", "--tiktok-url",
                         f"http://127.0.0.1:{ports['mock']}", "--store", "none"], ports["mockhttp"],
                        pid_out=pids["mockhttp"]):
            masters = {name: pid[0] for name, pid in pids.items()}
            for name in names:  # warm-up
                measure(ports[name], 1.0, script)
            for _ in range(repeats):  # interleaved, so that machine load affects all alike
                for name in names:
                    results[name].append(measure(ports[name], seconds, script, masters[name]))
                if realistic:
                    for name in real_names:
                        real[name].append(measure(ports[name], seconds, realistic, masters[name]))
            waiting = spooled(os.path.join(tmp, "preview.sqlite3"))
            first, second = (timed_read(ports["stored"]) for _ in range(2))
        mock_rows = run_mock_workers(tmp, seconds if quick else 3.0, repeats, script, realistic)

    def med(name: str, index: int, table: dict[str, list[tuple[float, float, float]]] = results) -> float:
        return statistics.median(r[index] for r in table[name])

    load = "wrk -t2 -c16" if script else "Python client, 8 threads (no wrk: ratios understated)"
    note = f"{WORKERS} workers x {THREADS} threads, {load}, {seconds:g} s x {repeats}; {repeated_note(masters)}"
    rows = [
        Row("served hits/s, vendor recorded", "r/s", med("record", 0), med("bare", 0), 0.7, note=note),
        Row("served hits/s, mock TikTok over HTTP", "r/s", med("mockhttp", 0), med("bare", 0), 0.4),
        Row("served hits/s, recorded + Preview store", "r/s", med("stored", 0), med("bare", 0), 0.7,
            note="the default `serve` (Preview store on, written in the background), vendor recorded"),
        Row("served hits/s, vendor recorded, vs bare WSGI", "r/s", med("record", 0), med("wsgi", 0), None,
            note="reference: a WSGI callable answering 204, no framework"),
        Row("bare Flask vs bare WSGI", "r/s", med("bare", 0), med("wsgi", 0), None),
        Row("p50 latency, vendor recorded", "ms", med("record", 1), med("bare", 1), None, higher_is_better=False),
        Row("p99 latency, vendor recorded", "ms", med("record", 2), med("bare", 2), None, higher_is_better=False),
        Row("p99 latency, recorded + Preview store", "ms", med("stored", 2), med("bare", 2), None,
            higher_is_better=False),
        Row("p50 latency, mock TikTok over HTTP", "ms", med("mockhttp", 1), med("bare", 1), None,
            higher_is_better=False),
        Row("p99 latency, mock TikTok over HTTP", "ms", med("mockhttp", 2), med("bare", 2), None,
            higher_is_better=False),
    ]
    if realistic:
        rows += [
            Row("realistic hits/s, --store none", "r/s", med("record", 0, real), med("bare", 0, real), 0.7,
                note="unique ids, 1/5 batched POSTs of 3-4 events, browser headers and cookies"),
            Row("realistic hits/s, Preview store", "r/s", med("stored", 0, real), med("bare", 0, real), 0.7),
            Row("realistic p99, --store none", "ms", med("record", 2, real), med("bare", 2, real), None,
                higher_is_better=False),
            Row("realistic p99, Preview store", "ms", med("stored", 2, real), med("bare", 2, real), None,
                higher_is_better=False),
        ]
    rows.append(Row("Preview read right after the load", "ms", first * 1000, second * 1000, None,
                    higher_is_better=False,
                    note=f"GET /_emulator/api/summary: the first read indexes the {waiting} hits the rounds left "
                         "in the spool; baseline: the read after it"))
    return rows + mock_rows


def spooled(store: str) -> int:
    """Hits waiting in the Preview store's spool (appended by the workers, not indexed yet)."""
    from gtm_emulator.server import spool

    with sqlite3.connect(store) as conn:  # how far each file is indexed
        offsets = {str(name): int(at) for name, at in conn.execute("SELECT file, offset FROM spool")}
    return sum(frame.items for f in spool.scan(spool.spool_dir(store), offsets) for frame in f.frames)


def timed_read(port: int) -> float:
    """Seconds a Preview read takes (GET /_emulator/api/summary)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/_emulator/api/summary")
        answer = conn.getresponse()
        answer.read()
        if answer.status != 200:
            raise RuntimeError(f"the Preview read answered {answer.status}")
    finally:
        conn.close()
    return time.perf_counter() - started


if __name__ == "__main__":
    chosen = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    print(format_table(run(quick="--quick" in sys.argv, only=chosen)))
