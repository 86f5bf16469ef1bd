"""Hostile input and vendor faults: every answer is a 2xx or a 4xx with a reason, and a failing
vendor ends as a failed tag while the container keeps answering.

The fast subset runs by default; ``pytest --full`` runs 100,000 generated inputs per fuzz test.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any
from urllib.parse import quote

import pytest
from helpers import NOW, PAGE_VIEW, PURCHASE, free_port
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtm_emulator import ConfigError, load_container
from gtm_emulator.harness.assertions import ThreadedServer
from gtm_emulator.server.app import create_app
from gtm_emulator.vendors.tiktok_mock import HOST
from gtm_emulator.vendors.transport import HttpResponse, LiveTransport, MockTransport, TransportError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])


def sized(full: bool) -> settings:
    return settings(FUZZ, max_examples=100_000 if full else 150)


@pytest.fixture(scope="module")
def app_client() -> Any:
    return create_app(load_container(), log_requests=False).test_client()


def assert_answer_ok(resp: Any) -> None:
    assert resp.status_code < 500, resp.get_data(as_text=True)
    if resp.status_code >= 400:
        assert resp.get_data(as_text=True).strip(), "a 4xx must carry a reason"


param_names = st.sampled_from(["v", "tid", "cid", "en", "ep.x", "epn.value", "pr1", "pr201", "cu", "dl", "_et",
                               "uafvl", "uamb", "sid", "_uip", "up.a", "upn.b", "gcs", "dma", "richsstsse"])
raw_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
raw_pieces = st.one_of(raw_text.map(lambda t: quote(t, safe="~")), st.sampled_from(["%", "%zz", "%ff", "%e2%28",
                                                                                     "+", "&", "=", "~~", "%00"]))


@st.composite
def hostile_queries(draw: st.DrawFn) -> str:
    parts = ["v=2"] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 8))):
        parts.append(f"{draw(param_names)}={''.join(draw(st.lists(raw_pieces, max_size=4)))}")
    return "&".join(parts)


def test_fuzz_g_collect_get(app_client: Any, full_size: bool) -> None:
    @sized(full_size)
    @given(query=hostile_queries())
    def check(query: str) -> None:
        assert_answer_ok(app_client.get("/g/collect", environ_overrides={"QUERY_STRING": query}))

    check()


def test_fuzz_g_collect_batched_post(app_client: Any, full_size: bool) -> None:
    @sized(full_size)
    @given(query=hostile_queries(), lines=st.lists(st.one_of(hostile_queries(), st.binary(max_size=60)), max_size=6))
    def check(query: str, lines: list[Any]) -> None:
        body = b"\n".join(x if isinstance(x, bytes) else x.encode() for x in lines)
        assert_answer_ok(app_client.post("/g/collect", data=body, environ_overrides={"QUERY_STRING": query}))

    check()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


def test_fuzz_mp_collect(app_client: Any, full_size: bool) -> None:
    @sized(full_size)
    @given(body=st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200),
                          st.fixed_dictionaries({"client_id": st.text(max_size=5), "events": json_values})
                          .map(lambda v: json.dumps(v).encode())),
           debug=st.booleans())
    def check(body: bytes, debug: bool) -> None:
        path = "/debug/mp/collect" if debug else "/mp/collect"
        resp = app_client.post(path, data=body, environ_overrides={"QUERY_STRING": "measurement_id=G-1&api_secret=x"})
        assert_answer_ok(resp)

    check()


def test_fuzz_config_loading(full_size: bool) -> None:
    base = {"name": "x", "clients": [{"name": "GA4", "type": "ga4"}], "tags": []}

    @sized(full_size)
    @given(doc=st.one_of(json_values, st.fixed_dictionaries({}, optional={
        "name": json_values, "clients": json_values, "tags": json_values, "triggers": json_values,
        "variables": json_values, "settings": json_values}),
        st.builds(lambda extra: {**base, **extra}, st.dictionaries(
            st.sampled_from(["triggers", "variables", "tags", "settings", "mock_vendors"]), json_values))))
    def check(doc: Any) -> None:
        try:
            load_container(doc, env={})
        except ConfigError as exc:
            assert exc.problems and all(p.path.startswith("$") and p.message for p in exc.problems)

    check()


# ------------------------------------------------------------------------------------ vendor faults


def faulty_container(handler: Any) -> Any:
    transport = MockTransport()
    transport.mount(HOST, handler)
    return load_container(transport=transport)


def envelope(code: int, message: str) -> HttpResponse:
    return HttpResponse(200, {"content-type": "application/json"},
                        json.dumps({"code": code, "message": message, "request_id": "X", "data": {}}).encode())


def raise_timeout(*_: Any) -> HttpResponse:
    raise TransportError("timed_out", "no answer within 15 s")


@pytest.mark.parametrize(
    ("handler", "status", "vendor_ok", "error_part"),
    [
        (raise_timeout, "failure", False, "got no HTTP answer"),
        (lambda *_: HttpResponse(503, {}, b"<html>Service Unavailable</html>"), "failure", False, "HTTP 503"),
        (lambda *_: HttpResponse(502, {"content-type": "text/html"}, b"<html>nginx</html>"), "failure", False,
         "HTTP 502"),
        (lambda *_: envelope(40100, "Too many requests. Please retry in some time."), "success", False, None),
        (lambda *_: HttpResponse(200, {"content-type": "application/json"}, b"{not json"), "success", False, None),
    ],
)
def test_vendor_faults_end_as_reported_results(handler: Any, status: str, vendor_ok: bool,
                                               error_part: str | None) -> None:
    container = faulty_container(handler)
    report = container.simulate("GET", PURCHASE, now=NOW)
    assert report.response.status == 204
    (tag,) = report.events[0].tags
    assert tag.status == status
    assert report.outgoing[0].vendor_ok is vendor_ok
    if error_part:
        assert error_part in (tag.error or "")
    else:
        assert tag.vendor_rejected and tag.warnings
    # the container keeps answering other hits
    assert container.simulate("GET", PAGE_VIEW).response.status == 204


def test_connection_refused_is_a_failed_tag() -> None:
    port = free_port()  # nothing listens there
    transport = LiveTransport(allowed_hosts=[HOST], rewrite={f"https://{HOST}": f"http://127.0.0.1:{port}"})
    report = load_container(transport=transport).simulate("GET", PURCHASE, now=NOW)
    (tag,) = report.events[0].tags
    assert tag.status == "failure"
    assert "failed" in (report.outgoing[0].error or "")


def test_slow_vendor_times_out_and_other_hits_keep_their_latency() -> None:
    """A vendor slower than the HTTP timeout fails the tag; meanwhile other hits are answered."""
    from flask import Flask

    slow = Flask("slow")

    @slow.post("/open_api/v1.3/event/track/")
    def track() -> Any:
        time.sleep(3)
        return {"code": 0}

    server = ThreadedServer(slow).start()
    try:
        config = json.loads(json.dumps(load_container().config))
        config["settings"] = {"http_timeout_seconds": 0.5}
        from helpers import ROOT

        config["triggers"] = [str(ROOT / "triggers" / "ga4_purchase.json")]
        config["tags"][0]["template"] = str(ROOT / "tag_templates" / "tiktok_events_api.json")
        transport = LiveTransport(allowed_hosts=[HOST],
                                  rewrite={f"https://{HOST}": server.url})
        container = load_container(config, transport=transport)
        app = create_app(container, log_requests=False)
        results: dict[str, Any] = {}

        def slow_hit() -> None:
            started = time.perf_counter()
            results["report"] = container.simulate("GET", PURCHASE, now=NOW)
            results["slow_seconds"] = time.perf_counter() - started

        thread = threading.Thread(target=slow_hit)
        thread.start()
        time.sleep(0.05)
        client = app.test_client()
        started = time.perf_counter()
        for _ in range(20):
            assert client.get(PAGE_VIEW).status_code == 204
        fast_seconds = time.perf_counter() - started
        thread.join(timeout=10)
        assert not thread.is_alive(), "the hit waiting for the slow vendor hung"
        (tag,) = results["report"].events[0].tags
        assert tag.status == "failure"
        assert "timed_out" in (results["report"].outgoing[0].error or "")
        assert results["slow_seconds"] < 2.5  # bounded by the 0.5 s timeout, not the vendor's 3 s
        assert fast_seconds < results["slow_seconds"] + 0.5
    finally:
        server.stop()


# ---------------------------------------------------------------- slow clients, cookie-heavy hits, hostile templates

SERVE_SCRIPT = """
import sys
from gtm_emulator import load_container
from gtm_emulator.server.app import create_app
from gtm_emulator.server.wsgi import HARDENED_WORKER, run_gunicorn
app = create_app(load_container(vendor="record"), log_requests=False)
run_gunicorn(app, "127.0.0.1", int(sys.argv[1]), workers=1, threads=int(sys.argv[2]),
             worker_class=sys.argv[3] if len(sys.argv) > 3 else HARDENED_WORKER)
"""


def served(threads: int, worker_class: str | None = None) -> tuple[Any, int]:
    """``serve``'s gunicorn set-up in a subprocess on a free loopback port; (process, port)."""
    import subprocess
    import sys

    port = free_port()
    args = [sys.executable, "-c", SERVE_SCRIPT, str(port), str(threads)] + ([worker_class] if worker_class else [])
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not start")


def slow_client_run(port: int, slow: int, seconds: float, line_every: float = 2.0) -> list[float]:
    """Open ``slow`` connections that send one header line every ``line_every`` seconds; meanwhile
    time GET /healthz and a page_view hit on fresh connections. Returns those latencies (a request
    that got no answer within 5 s counts as 5 s)."""
    import http.client

    stop = threading.Event()

    def slowloris() -> None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET /g/collect?v=2 HTTP/1.1\r\nHost: localhost\r\n")
                n = 0
                while not stop.wait(line_every):
                    sock.sendall(f"X-Slow-{n}: {'a' * 20}\r\n".encode())
                    n += 1
        except OSError:
            pass

    threads = [threading.Thread(target=slowloris, daemon=True) for _ in range(slow)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    latencies = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for path in ("/healthz", PAGE_VIEW):
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", path)
                conn.getresponse().read()
                conn.close()
                latencies.append(time.perf_counter() - started)
            except OSError:
                latencies.append(5.0)
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(line_every + 1)
    return latencies


def test_slow_clients_do_not_starve_the_server(full_size: bool) -> None:
    """8 connections sending one header line every 2 s, against 4 threads: health checks and hits
    keep being answered promptly (gunicorn's plain gthread worker stalls them all)."""
    proc, port = served(threads=4)
    try:
        latencies = slow_client_run(port, slow=16 if full_size else 8, seconds=20 if full_size else 6)
    finally:
        proc.terminate()
        proc.wait(10)
    latencies.sort()
    assert latencies and latencies[-1] < 1.0, f"slowest answer {latencies[-1]:.2f} s"


def test_cookie_heavy_hits_cost_linear_work(full_size: bool) -> None:
    """Requests with many Cookie headers of many cookies: answered, stored reports hold the cookies,
    and the work grows with the cookie count, not its square."""
    from gtm_emulator.core.request import Request

    container = load_container()
    rounds = 40 if full_size else 8
    for n in range(rounds):
        headers = [("Cookie", "; ".join(f"c{h}_{i}_{n}=v{i}" for i in range(110))) for h in range(90)]
        report = container.handle(Request.build("GET", PAGE_VIEW, headers=headers), now=NOW)
        assert report.response.status == 204
        assert len(report.request.to_dict()["cookies"]) > 1000


HOSTILE_TEMPLATES = [
    # (code, what the failure must mention)
    ("while (true) {}", "timed out"),
    # QuickJS sometimes cannot even allocate its out-of-memory error and throws null
    ("const a = []; while (true) a.push('x'.repeat(1000));", ("memory", "threw")),
    ("function f() { return f(); } f();", "stack"),
    ("const log = require('logToConsole'); let s = 'x'; while (s.length < 4194304) s = s + s; "
     "for (let i = 0; i < 30; i++) log(s); data.gtmOnSuccess();", None),
    ("require('setResponseHeader')('x-a', 'v\\r\\nSet-Cookie: a=b'); data.gtmOnSuccess();", "CR"),
    ("__sandbox.call('__sendMessage', ['t', {a: 1}]); data.gtmOnSuccess();", "use_message"),
    ("require('sendHttpRequest')('http://127.0.0.1:1\\\\@business-api.tiktok.com/open_api/x', "
     "{timeout: 60000}).then(() => data.gtmOnSuccess(), () => data.gtmOnFailure());", None),
]


@pytest.mark.parametrize(("code", "mention"), HOSTILE_TEMPLATES)
def test_hostile_template_is_contained(code: str, mention: str | tuple[str, ...] | None) -> None:
    """A template that loops, allocates, recurses, logs megabytes, splits headers, calls internals
    or tries an allow-list bypass: the tag ends within its limit, the report stays small."""
    from helpers import ALL_PERMS, tag_context, tpl

    from gtm_emulator.errors import TagError
    from gtm_emulator.sandbox import load_template
    from gtm_emulator.tags.template_tag import TemplateTag

    ctx = tag_context(transport=LiveTransport(allowed_hosts=[HOST]))
    tag = TemplateTag(load_template(tpl(code, permissions=ALL_PERMS)), time_limit=2.0)
    started = time.monotonic()
    try:
        tag.run({}, ctx)
        error = ""
    except TagError as exc:
        error = str(exc)
    assert time.monotonic() - started < 10
    assert sum(len(line) for line in ctx.console) < 1_000_000
    if mention:
        assert any(word in error for word in ((mention,) if isinstance(mention, str) else mention)), error


def test_health_check_answers_while_every_thread_waits() -> None:
    """Every thread held by a request whose body never comes (as by a slow vendor): /healthz is
    still answered at once."""
    import http.client

    proc, port = served(threads=2)
    held = []
    try:
        for _ in range(4):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"POST /g/collect?v=2 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n")
            held.append(sock)
        time.sleep(0.5)
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/healthz")
        answer = conn.getresponse()
        assert (answer.status, answer.read()) == (200, b"ok\n")
        conn.close()
        assert time.perf_counter() - started < 1.0
    finally:
        for sock in held:
            sock.close()
        proc.terminate()
        proc.wait(10)
