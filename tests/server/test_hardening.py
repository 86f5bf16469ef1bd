"""Defects found by an adversarial review of ``serve`` and the template sandbox: each test here
failed on the code before its fix."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import ALL_PERMS, ROOT, perm, tag_context, tpl

from gtm_emulator.core.outbound_url import UnsafeUrl, parse_outbound
from gtm_emulator.errors import TagError
from gtm_emulator.sandbox import load_template
from gtm_emulator.sandbox.permissions import url_allowed
from gtm_emulator.tags.template_tag import TemplateTag
from gtm_emulator.vendors.transport import LiveTransport, TransportError

TIKTOK_PATTERN = "http://business-api.tiktok.com/open_api/*"


class Listener:
    """A loopback TCP listener that records every connection it gets (and answers nothing)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._handle(conn)

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(1)
        try:
            self.received.append(conn.recv(65536))
        except OSError:
            self.received.append(b"")
        conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


# ---------------------------------------------------------------- SSRF through the allow-lists


def bypass_url(port: int) -> str:
    return f"http://127.0.0.1:{port}\\@business-api.tiktok.com/open_api/x"


def run_template(code: str, perms: list[dict[str, Any]], transport: Any, **kw: Any) -> Any:
    ctx = tag_context(transport=transport)
    tag = TemplateTag(load_template(tpl(code, permissions=perms)), **kw)
    try:
        tag.run({}, ctx)
    except TagError as exc:
        ctx.console.append(f"TagError: {exc}")
    return ctx


@pytest.mark.parametrize("enforce", ["error", "off"])
def test_backslash_userinfo_url_never_reaches_the_loopback_listener(listener: Listener, enforce: str) -> None:
    url = bypass_url(listener.port)
    code = ("const send = require('sendHttpRequest');\n"
            f"send('{url.replace(chr(92), chr(92) * 2)}', {{method: 'POST', headers: {{'Access-Token': 'SECRET'}}}}, "
            "'{}').then((r) => { if (r.statusCode) data.gtmOnSuccess(); else data.gtmOnFailure(); }, "
            "() => data.gtmOnFailure());")
    perms = [perm("send_http", allowedUrls="specific", urls=[TIKTOK_PATTERN])]
    transport = LiveTransport(allowed_hosts=["business-api.tiktok.com"])
    ctx = run_template(code, perms, transport, enforce=enforce)
    listener.thread.join(0.3)
    assert listener.received == []
    assert any("TagError" in line for line in ctx.console), ctx.console


def test_live_transport_refuses_the_bypass_url_itself(listener: Listener) -> None:
    transport = LiveTransport(allowed_hosts=["business-api.tiktok.com"])
    with pytest.raises(TransportError, match="backslash") as info:
        transport.send("POST", bypass_url(listener.port), {"Access-Token": "SECRET"}, b"{}", 2.0)
    assert info.value.reason == "failed"
    listener.thread.join(0.3)
    assert listener.received == []


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:1\\@business-api.tiktok.com/open_api/x",
    "http://user@business-api.tiktok.com/open_api/x",
    "http://business-api.tiktok.com@127.0.0.1/open_api/x",
    "http://business-api.tiktok.com:080/open_api/x",
    "http://business-api.tiktok.com:/open_api/x",
    "http://business-api.tiktok.com:99999/open_api/x",
    "http://business-api.tiktok.com./open_api/x",
    "http://business-api%2etiktok.com/open_api/x",
    "http://bücher.example/open_api/x",
    "http://business-api.tiktok.com/open_api/../admin",
    "http://business-api.tiktok.com/open_api/%2E%2E/admin",
    "http://127.1/open_api/x",
    "http://2130706433/open_api/x",
    "http://business-api.tiktok.com\t/open_api/x",
    "ftp://business-api.tiktok.com/open_api/x",
])
def test_ambiguous_urls_are_refused_everywhere(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        parse_outbound(url)
    assert not url_allowed(url, TIKTOK_PATTERN)
    assert not url_allowed(url, "*://*/*")


def test_plain_urls_keep_working() -> None:
    parsed = parse_outbound("HTTPS://Business-API.tiktok.com/open_api/v1.3/event/track/?a=1#frag")
    assert parsed.url == "https://business-api.tiktok.com/open_api/v1.3/event/track/?a=1"
    assert url_allowed("https://business-api.tiktok.com/open_api/v1.3/event/track/",
                       "https://business-api.tiktok.com/open_api/*")
    assert parse_outbound("http://[::1]:8080/x").netloc == "[::1]:8080"
    assert parse_outbound("http://127.0.0.1:8080/x").port == 8080


# ---------------------------------------------------------------- cookies: parsed once per request


def test_cookie_header_is_parsed_once_per_request_however_many_cookies(monkeypatch: pytest.MonkeyPatch) -> None:
    from gtm_emulator.core import request as request_module

    calls = {"parse": 0}
    real = request_module.parse_cookie_header

    def counting(header: str) -> list[tuple[str, str]]:
        calls["parse"] += 1
        return real(header)

    monkeypatch.setattr(request_module, "parse_cookie_header", counting)
    headers = [("Cookie", "; ".join(f"c{h}_{i}=v%20{i}" for i in range(110))) for h in range(10)]
    req = request_module.Request.build("GET", "/g/collect", headers=headers)
    cookies = req.cookies()
    req.to_dict()
    req.cookie_values("c0_1")
    assert cookies["c0_1"] == "v 1" and cookies["c9_109"] == "v 109"
    assert calls["parse"] <= 10  # at most once per Cookie header, not once per cookie name


def test_cookie_count_is_bounded() -> None:
    from gtm_emulator.core.request import MAX_COOKIES, Request

    header = "; ".join(f"k{i}=v" for i in range(MAX_COOKIES + 500))
    req = Request.build("GET", "/", headers={"Cookie": header})
    assert len(req.cookies()) == MAX_COOKIES


# ---------------------------------------------------------------- every answered hit is stored


def test_hit_with_invalid_utf8_user_agent_is_stored_and_its_tag_runs(tmp_path: Any) -> None:
    from werkzeug.test import Client

    from gtm_emulator import load_container
    from gtm_emulator.server.app import create_app
    from gtm_emulator.server.store import SQLiteStore

    with SQLiteStore(tmp_path / "store.sqlite3") as store:
        app = create_app(load_container(), store=store, log_requests=False)
        answer = Client(app).get("/g/collect?v=2&tid=G-TEST&cid=1.2&en=purchase&cu=EUR&epn.value=3",
                                 headers={"User-Agent": "UA \xff x"})
        assert answer.status_code == 204
        assert store.summary()["requests"] == 1
        record = store.get_request(store.summary()["last_id"])
        assert "UA \ufffd x" in record["request"]["headers"]["User-Agent"]
        tag = record["events"][0]["tags"][0]
        assert tag["status"] == "success", tag.get("error")


# ---------------------------------------------------------------- chunked bodies


class _Raising:
    def __init__(self, exc: BaseException):
        self.exc = exc

    def read(self, *_: Any) -> bytes:
        raise self.exc


def _chunked_answer(exc: BaseException, caplog: pytest.LogCaptureFixture) -> tuple[int, bytes]:
    """A chunked POST whose body stream raises ``exc`` (what gunicorn's chunk reader raises)."""
    from werkzeug.test import EnvironBuilder

    from gtm_emulator import load_container
    from gtm_emulator.server.app import create_app

    app = create_app(load_container(), log_requests=False)
    environ = EnvironBuilder(method="POST", path="/g/collect", query_string="v=2&tid=G-TEST&cid=1.2&en=page_view",
                             headers={"Transfer-Encoding": "chunked"}).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": _Raising(exc), "wsgi.input_terminated": True})
    started: list[str] = []
    with caplog.at_level("INFO", logger="gtm_emulator"):
        body = b"".join(app.wsgi_app(environ, lambda status, headers, *_: started.append(status)))
    return int(started[0].split()[0]), body


@pytest.mark.parametrize("size", [b"zz", b"-5"])
def test_malformed_chunk_size_is_a_400_not_an_internal_error(size: bytes, caplog: pytest.LogCaptureFixture) -> None:
    from gunicorn.http.errors import InvalidChunkSize

    status, body = _chunked_answer(InvalidChunkSize(size), caplog)
    assert status == 400 and b"malformed request body" in body
    assert not any("internal error" in r.getMessage() for r in caplog.records)


def test_abandoned_chunked_body_is_not_logged_as_an_internal_error(caplog: pytest.LogCaptureFixture) -> None:
    from gunicorn.http.errors import NoMoreData

    status, _ = _chunked_answer(NoMoreData(b""), caplog)
    assert status == 400
    assert not any(r.levelname == "ERROR" for r in caplog.records)
    assert any("closed the connection" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- response headers and cookies


@pytest.mark.parametrize("call", [
    "require('setResponseHeader')('x-a', 'v\\r\\nSet-Cookie: evil=1')",
    "require('setResponseHeader')('x-a\\nb', 'v')",
    "require('setCookie')('n', 'v\\r\\nx', {path: '/'}, true)",
    "require('setCookie')('n\\n', 'v', {path: '/'})",
    "require('setCookie')('n', 'v', {path: '/\\r\\nx'})",
])
def test_cr_lf_in_response_header_or_cookie_is_refused_in_the_sandbox(call: str) -> None:


    from gtm_emulator.core.request import Response

    response = Response()
    ctx = tag_context(response=response)
    tag = TemplateTag(load_template(tpl(f"{call}; data.gtmOnSuccess();", permissions=ALL_PERMS)))
    with pytest.raises(TagError, match=r"contains (CR|LF)"):
        tag.run({}, ctx)
    assert all("\r" not in v and "\n" not in v for v in response.headers.values())
    assert all("\r" not in c.header_value() and "\n" not in c.header_value() for c in response.set_cookies)


# ---------------------------------------------------------------- a redirect is not a delivery


def test_vendor_redirect_marks_the_tag_rejected() -> None:
    from gtm_emulator.vendors.transport import HttpResponse, MockTransport

    transport = MockTransport({"business-api.tiktok.com": lambda *a: HttpResponse(
        302, {"location": "https://login.example/"}, b"")})
    ctx = tag_context(transport=transport)
    response = ctx.send_http("POST", "https://business-api.tiktok.com/open_api/v1.3/event/track/", {}, b"{}")
    assert response is not None and response.status == 302
    assert ctx.vendor_rejected
    assert ctx.outgoing[0].vendor_ok is False
    assert any("redirect" in w for w in ctx.outgoing[0].warnings)


# ---------------------------------------------------------------- permissions enforced in Python


def _run_with(code: str, perms: list[dict[str, Any]]) -> Any:
    ctx = tag_context()
    tag = TemplateTag(load_template(tpl(code, permissions=perms)))
    with pytest.raises(TagError) as info:
        tag.run({}, ctx)
    return info.value


def test_internal_send_message_call_needs_use_message() -> None:
    error = _run_with("__sandbox.call('__sendMessage', ['t', {a: 1}]); data.gtmOnSuccess();", [])
    assert "use_message" in str(error)
    error = _run_with("__sandbox.call('__listen', ['t']); data.gtmOnSuccess();", [])
    assert "use_message" in str(error)
    error = _run_with("__sandbox.call('__mocked', ['x']); data.gtmOnSuccess();", [])
    assert "internal" in str(error)


def test_send_event_to_google_analytics_needs_access_response() -> None:
    error = _run_with("require('sendEventToGoogleAnalytics')({event_name: 'x'}); data.gtmOnSuccess();", [])
    assert "access_response" in str(error)
    specific = [perm("access_response", writeResponseAccess="specific", writeHeaderAccess="specific",
                     writeHeaderWhitelist=[])]
    error = _run_with("require('sendEventToGoogleAnalytics')({event_name: 'x'}); data.gtmOnSuccess();", specific)
    assert "access_response" in str(error)
    ctx = tag_context()
    tag = TemplateTag(load_template(tpl("require('sendEventToGoogleAnalytics')({event_name: 'x'}); "
                                        "data.gtmOnSuccess();", permissions=[perm("access_response")])))
    tag.run({}, ctx)


# ---------------------------------------------------------------- the mock's de-duplication memory


def test_mock_dedup_memory_is_bounded() -> None:
    from gtm_emulator.vendors import tiktok_mock

    cap = tiktok_mock.DEDUP_MAX_IDS
    mock = tiktok_mock.TikTokMock(require_hashed_pii=False)
    clock = [1_700_000_000.0]
    mock.clock = lambda: clock[0]
    for start in range(0, cap + 5000, 1000):
        events = [{"event": "Purchase", "event_time": int(clock[0]), "event_id": f"id-{start + i}",
                   "user": {"ttclid": "x"}} for i in range(1000)]
        body = json.dumps({"event_source": "web", "event_source_id": "PIXEL", "data": events}).encode()
        mock.handle("POST", tiktok_mock.TRACK_PATH, {"Access-Token": "t"}, body)
    assert 0 < len(mock._seen) <= cap


# ---------------------------------------------------------------- Measurement Protocol api_secret


def test_mp_api_secret_is_masked_in_store_and_recording(tmp_path: Any) -> None:
    from werkzeug.test import Client

    from gtm_emulator import load_container
    from gtm_emulator.harness.recorder import Recorder
    from gtm_emulator.server.app import create_app
    from gtm_emulator.server.store import RequestFilter, SQLiteStore

    secret = "Zq9SuperSecretApiKey77"
    recording = tmp_path / "rec.ndjson"
    config = json.loads((ROOT / "containers" / "default.json").read_text())
    config["clients"].append({"name": "MP", "type": "measurement_protocol", "priority": 1})
    container = load_container(config, base_dir=ROOT / "containers")
    with SQLiteStore(tmp_path / "store.sqlite3") as store:
        recorder = Recorder(recording)
        app = create_app(container, store=store, log_requests=False, on_report=[recorder.hook])
        body = json.dumps({"client_id": "1.2", "events": [{"name": "page_view", "params": {}}]})
        answer = Client(app).post(f"/mp/collect?measurement_id=G-TEST&api_secret={secret}", data=body,
                                  headers={"Content-Type": "application/json"})
        recorder.close()
        assert answer.status_code < 300
        record = store.get_request(store.summary()["last_id"])
        assert secret not in json.dumps(record)
        assert secret not in json.dumps(store.list_requests(RequestFilter()))
    assert recording.read_text() and secret not in recording.read_text()


# ---------------------------------------------------------------- CSRF, DNS rebinding, the mock's token


def _served(tmp_path: Any, **kw: Any) -> Any:
    from werkzeug.test import Client

    from gtm_emulator import load_container
    from gtm_emulator.server.app import create_app
    from gtm_emulator.server.store import SQLiteStore

    store = SQLiteStore(tmp_path / "store.sqlite3")
    app = create_app(load_container(), store=store, log_requests=False, **kw)
    client = Client(app)
    assert client.get("/g/collect?v=2&tid=G-TEST&cid=1.2&en=page_view").status_code == 204
    return client, store


@pytest.mark.parametrize("origin", ["null", "https://evil.example", "http://localhost:1"])
def test_cross_site_reset_is_refused(tmp_path: Any, origin: str) -> None:
    client, store = _served(tmp_path)
    answer = client.post("/_emulator/api/reset", headers={"Origin": origin})
    assert answer.status_code == 403
    assert store.summary()["requests"] == 1
    assert client.post("/_emulator/api/reset", headers={"Origin": "http://localhost"}).status_code == 200
    store.close()


def test_cross_site_fetch_metadata_is_refused(tmp_path: Any) -> None:
    client, store = _served(tmp_path)
    assert client.post("/_emulator/api/reset", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert store.summary()["requests"] == 1
    store.close()


def test_rebound_host_can_neither_read_nor_reset(tmp_path: Any) -> None:
    client, store = _served(tmp_path)
    rebound = {"Host": "rebind.attacker.example"}
    assert client.get("/_emulator/api/requests", headers=rebound).status_code == 403
    assert client.post("/_emulator/api/reset", headers=rebound).status_code == 403
    assert client.get("/_mock/tiktok/_events", headers=rebound).status_code == 403
    assert store.summary()["requests"] == 1
    for host in ("localhost", "127.0.0.1:8080", "[::1]:9"):
        assert client.get("/_emulator/api/summary", headers={"Host": host}).status_code == 200
    assert client.get("/g/collect?v=2&tid=G-TEST&cid=1.2&en=page_view", headers=rebound).status_code == 204
    store.close()


def test_bound_address_is_an_accepted_host(tmp_path: Any) -> None:
    client, store = _served(tmp_path, bind_host="192.0.2.10", token="tok-123456")
    headers = {"Host": "192.0.2.10:8080", "X-Emulator-Token": "tok-123456"}
    assert client.get("/_emulator/api/summary", headers=headers).status_code == 200
    assert client.get("/_emulator/api/summary", headers={**headers, "Host": "other.example"}).status_code == 403
    store.close()


def test_mock_inspection_endpoints_need_the_token_beyond_loopback(tmp_path: Any) -> None:
    client, store = _served(tmp_path, bind_host="0.0.0.0", token="tok-123456")
    host = {"Host": "203.0.113.7:8080"}
    for method, path in [("GET", "/_mock/tiktok/_events"), ("GET", "/_mock/tiktok/_requests"),
                         ("POST", "/_mock/tiktok/_reset"), ("POST", "/_mock/tiktok/_access_token"),
                         ("POST", "/_mock/tiktok/_inject")]:
        answer = client.open(path, method=method, headers=host, json={"pixel_code": "C" * 20})
        assert answer.status_code == 401, path
    ok = client.get("/_mock/tiktok/_events", headers={**host, "X-Emulator-Token": "tok-123456"})
    assert ok.status_code == 200
    store.close()


def test_standalone_mock_guards_its_inspection_paths() -> None:
    """``mock-tiktok`` bound beyond loopback: its own /_events, /_requests, /_reset and /_access_token
    need the token; a foreign Host and cross-site state changes are refused; the Events API stays open."""
    from werkzeug.test import Client

    from gtm_emulator.vendors.tiktok_mock import TRACK_PATH, TikTokMock, create_app

    client = Client(create_app(TikTokMock(require_hashed_pii=False), bind_host="0.0.0.0", token="tok-123456"))
    host = {"Host": "203.0.113.7:8081"}
    for method, path in [("GET", "/_events"), ("GET", "/_requests"), ("POST", "/_reset"),
                         ("POST", "/_access_token")]:
        answer = client.open(path, method=method, headers=host, json={"pixel_code": "C" * 20})
        assert answer.status_code == 401, path
    assert client.get("/_events", headers={**host, "X-Emulator-Token": "tok-123456"}).status_code == 200
    crossed = client.post("/_reset", headers={**host, "X-Emulator-Token": "tok-123456", "Origin": "null"})
    assert crossed.status_code == 403
    track = client.post(TRACK_PATH, headers={**host, "Access-Token": "t"},
                        json={"event_source": "web", "event_source_id": "PIXEL", "data": []})
    assert track.status_code == 200


def test_standalone_mock_on_loopback_refuses_a_rebound_host() -> None:
    from werkzeug.test import Client

    from gtm_emulator.vendors.tiktok_mock import TikTokMock, create_app

    client = Client(create_app(TikTokMock(), bind_host="127.0.0.1"))
    assert client.get("/_events", headers={"Host": "127.0.0.1:8081"}).status_code == 200
    assert client.get("/_events", headers={"Host": "rebind.attacker.example"}).status_code == 403


# ---------------------------------------------------------------- deadlines and answer sizes


class SlowVendor(Listener):
    """A loopback HTTP server that answers in a hostile way: ``mode`` is ``hang`` (never answers),
    ``drip`` (headers, then one body byte every 50 ms, forever) or ``huge`` (an endless chunked body)."""

    def __init__(self, mode: str, declared: int | None = None):
        self.mode, self.declared = mode, declared
        super().__init__()

    def _handle(self, conn: socket.socket) -> None:
        threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        import time

        try:
            conn.recv(65536)
            if self.mode == "drip":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                while not self.stop.is_set():
                    conn.sendall(b"x")
                    time.sleep(0.05)
            elif self.mode == "huge":
                length = f"Content-Length: {self.declared}\r\n" if self.declared else "Transfer-Encoding: chunked\r\n"
                conn.sendall(f"HTTP/1.1 200 OK\r\n{length}\r\n".encode())
                piece = b"y" * 65536
                while not self.stop.is_set():
                    conn.sendall(piece if self.declared else b"10000\r\n" + piece + b"\r\n")
            else:
                self.stop.wait(30)
        except OSError:
            pass
        finally:
            conn.close()



def _in_thread(fn: Any, limit: float) -> tuple[bool, Any]:
    """Run ``fn`` in a thread; (whether it finished within ``limit`` seconds, its result or exception)."""
    out: list[Any] = []

    def target() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # the test inspects it
            out.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    return (not thread.is_alive()), (out[0] if out else None)


def test_a_hanging_vendor_holds_at_most_max_in_flight_calls() -> None:
    """Calls to a vendor that never answers take at most ``max_in_flight`` threads; the next call to
    it fails at once (the server's other threads stay free), and calls to other hosts still go."""
    import time

    vendor = SlowVendor("hang")
    other = SlowVendor("drip")
    try:
        transport = LiveTransport(max_in_flight=2)
        url = f"http://127.0.0.1:{vendor.port}/"
        waiting = [threading.Thread(target=lambda: _in_thread(
            lambda: transport.send("GET", url, {}, b"", 3.0), 5), daemon=True) for _ in range(2)]
        for thread in waiting:
            thread.start()
        time.sleep(0.5)  # both are connected and waiting for an answer
        started = time.monotonic()
        done, result = _in_thread(lambda: transport.send("GET", url, {}, b"", 3.0), 5)
        assert done and time.monotonic() - started < 1.0
        assert isinstance(result, TransportError) and "already waiting" in str(result)
        done, result = _in_thread(lambda: transport.send("GET", f"http://localhost:{other.port}/", {}, b"", 0.5), 5)
        assert done and isinstance(result, TransportError) and "already waiting" not in str(result)
        for thread in waiting:
            thread.join(5)
        done, result = _in_thread(lambda: transport.send("GET", url, {}, b"", 0.3), 5)
        assert done and "already waiting" not in str(result)  # the slots were given back
    finally:
        vendor.close()
        other.close()


def test_a_fast_vendor_over_the_in_flight_limit_queues_briefly_instead_of_failing() -> None:
    import http.server
    import time

    class Quick(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep(0.05)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quick)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        transport = LiveTransport(max_in_flight=1)
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        results: list[Any] = []
        calls = [threading.Thread(target=lambda: results.append(_in_thread(
            lambda: transport.send("GET", url, {}, b"", 3.0), 5)[1])) for _ in range(3)]
        for call in calls:
            call.start()
        for call in calls:
            call.join(10)
        assert [getattr(r, "status", r) for r in results] == [200, 200, 200]
    finally:
        server.shutdown()
        server.server_close()


def test_dripping_vendor_is_cut_at_the_deadline() -> None:
    vendor = SlowVendor("drip")
    try:
        transport = LiveTransport()
        done, result = _in_thread(lambda: transport.send("GET", f"http://127.0.0.1:{vendor.port}/", {}, b"", 1.0),
                                  limit=6)
        assert done, "the transport kept reading a dripping answer past its 1 s timeout"
        assert isinstance(result, TransportError) and result.reason == "timed_out"
    finally:
        vendor.close()


@pytest.mark.parametrize("declared", [None, 300 * 1024 * 1024])
def test_huge_vendor_answer_is_refused_not_read_whole(monkeypatch: pytest.MonkeyPatch, declared: int | None) -> None:
    from gtm_emulator.vendors import transport as transport_module

    monkeypatch.setattr(transport_module, "MAX_RESPONSE_BYTES", 1024 * 1024, raising=False)
    vendor = SlowVendor("huge", declared)
    try:
        transport = LiveTransport()
        done, result = _in_thread(lambda: transport.send("GET", f"http://127.0.0.1:{vendor.port}/", {}, b"", 5.0),
                                  limit=8)
        assert done
        assert isinstance(result, TransportError), result
        assert result.reason == "failed" and "limit" in str(result)
    finally:
        vendor.close()


def test_template_http_timeout_is_capped_by_its_time_limit() -> None:
    vendor = SlowVendor("hang")
    try:
        code = (f"require('sendHttpRequest')('http://127.0.0.1:{vendor.port}/x', {{timeout: 60000}}).then("
                "() => data.gtmOnSuccess(), () => data.gtmOnFailure());")
        ctx = tag_context(transport=LiveTransport())
        tag = TemplateTag(load_template(tpl(code)), time_limit=1.0)
        done, result = _in_thread(lambda: tag.run({}, ctx), limit=8)
        assert done, "a 60 s sendHttpRequest timeout held the tag past its 1 s time limit"
        assert isinstance(result, TagError)
        assert ctx.outgoing and "timed_out" in (ctx.outgoing[0].error or "")
    finally:
        vendor.close()


def test_http_call_after_the_tag_budget_is_not_sent(listener: Listener) -> None:
    import time

    ctx = tag_context(transport=LiveTransport())
    ctx.deadline = time.monotonic() - 1
    assert ctx.send_http("GET", f"http://127.0.0.1:{listener.port}/", {}, b"") is None
    assert "timed_out" in (ctx.outgoing[0].error or "")
    listener.thread.join(0.3)
    assert listener.received == []


# ---------------------------------------------------------------- memory outside the JS heap


def test_console_of_a_template_logging_megabytes_is_capped() -> None:
    code = ("const log = require('logToConsole'); let s = 'x'; while (s.length < 1048576) s = s + s;\n"
            "for (let i = 0; i < 8; i++) log(s); for (let i = 0; i < 2000; i++) log('line ' + i);\n"
            "data.gtmOnSuccess();")
    ctx = tag_context()
    TemplateTag(load_template(tpl(code)), time_limit=20).run({}, ctx)
    assert sum(len(line) for line in ctx.console) < 200_000
    assert len(ctx.console) <= 502
    assert "console limit" in ctx.console[-1]


def test_stored_report_size_is_capped(tmp_path: Any) -> None:
    from gtm_emulator import load_container
    from gtm_emulator.server.store import MAX_REPORT_CHARS, SQLiteStore

    report = load_container().simulate("GET", "/g/collect?v=2&tid=G-TEST&cid=1.2&en=page_view").to_dict()
    report["events"][0]["console"] = ["y" * 1_000_000] * 12
    with SQLiteStore(tmp_path / "s.sqlite3") as store:
        rid = store.add(report)
        record = store.get_request(rid)
        assert len(json.dumps(record, ensure_ascii=False)) <= MAX_REPORT_CHARS + 10_000
        assert "over the limit" in record["report_truncated"]
