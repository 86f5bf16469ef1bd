from __future__ import annotations

import http.client
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests
from helpers import PAGE_VIEW, PURCHASE, ROOT, free_port

from gtm_emulator import load_container
from gtm_emulator.server.app import create_app, current_container, set_container


@pytest.fixture
def client():
    app = create_app(load_container(), log_requests=False)
    return app.test_client()


def test_purchase_hit_fires_tiktok_and_mock_receives_it(client) -> None:
    resp = client.get(PURCHASE, headers={"User-Agent": "Mozilla/5.0 test", "Origin": "https://shop.example"})
    assert resp.status_code == 204
    assert resp.headers["access-control-allow-origin"] == "https://shop.example"
    events = client.get("/_mock/tiktok/_events").get_json()
    assert len(events) == 1
    assert events[0]["event"]["event"] == "CompletePayment"
    assert events[0]["event"]["user"]["user_agent"] == "Mozilla/5.0 test"


def test_page_view_fires_nothing(client) -> None:
    assert client.get(PAGE_VIEW).status_code == 204
    assert client.get("/_mock/tiktok/_events").get_json() == []


def test_healthz(client) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.data == b"ok\n"


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "reason"),
    [
        ("GET", "/g/collect?v=2&tid=G-1&cid=1&en=%zz", b"", 400, "malformed percent-encoding"),
        ("GET", "/g/collect?v=2&tid=G-1&cid=1&en=%ff", b"", 400, "invalid UTF-8"),
        ("POST", "/g/collect?v=2&tid=G-1&cid=1", b"en=purchase&ep.x=%e2%28%a1", 400, "invalid UTF-8"),
        ("POST", "/g/collect?v=2&tid=G-1&cid=1&en=x", b"x" * (10 * 1024 * 1024), 413, "too large"),
        ("GET", "/unknown/path", b"", 400, "no client claimed the request"),
        ("GET", "/g/collect?tid=G-1&en=x", b"", 400, "no v parameter"),
        ("GET", "/_emulator/nothing-here", b"", 404, "unknown emulator endpoint"),
    ],
)
def test_malformed_requests_get_a_4xx_with_a_reason_and_the_server_keeps_serving(
        client, method: str, url: str, body: bytes, status: int, reason: str) -> None:
    resp = client.open(url, method=method, data=body)
    assert resp.status_code == status
    assert reason in resp.get_data(as_text=True)
    assert client.get(PURCHASE).status_code == 204


def test_raw_invalid_utf8_bytes_in_the_query_are_a_400(client) -> None:
    # WSGI carries the raw query bytes as latin-1 text
    resp = client.get("/g/collect", environ_overrides={"QUERY_STRING": "v=2&tid=G-1&cid=1&en=\xff\xfe"})
    assert resp.status_code == 400 and "invalid UTF-8" in resp.get_data(as_text=True)


def test_one_log_line_per_request_with_vendor_status(client, caplog) -> None:
    app = create_app(load_container())
    with caplog.at_level(logging.INFO, logger="gtm_emulator"):
        app.test_client().get(PURCHASE)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line.startswith("GET /g/collect 204 client=GA4 events=1 fired=TikTok - purchase[success] vendor=200")


def test_vendor_rejection_is_marked_in_the_log_line() -> None:
    from gtm_emulator.server.app import summary_line

    config = json.loads((ROOT / "containers" / "default.json").read_text("utf-8"))
    config["mock_vendors"]["tiktok"]["pixels"] = {"CEMULATOR0PIXEL00001": ["another-token"]}
    config["triggers"] = [str(ROOT / "triggers" / "ga4_purchase.json")]
    config["tags"][0]["template"] = str(ROOT / "tag_templates" / "tiktok_events_api.json")
    report = load_container(config).simulate("GET", PURCHASE)
    line = summary_line(report, 1.0)
    assert "TikTok - purchase[success,REJECTED_BY_VENDOR]" in line and "(vendor rejected)" in line
    assert report.events[0].tags[0].vendor_rejected is True
    assert report.outgoing[0].vendor_ok is False


def test_container_can_be_swapped_while_serving() -> None:
    app = create_app(load_container(), log_requests=False)
    first = current_container(app)
    set_container(app, load_container(reuse=first))
    assert current_container(app) is not first
    app.test_client().get(PURCHASE)
    assert len(first.tiktok_mock.events) == 1  # the mock survived the reload


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`gtm-emulator serve` in a subprocess (gunicorn), on a free loopback port, with its store in a
    temporary folder (the default store, ./gtm-emulator.sqlite3, would land in the working tree)."""
    port = free_port()
    store = tmp_path_factory.mktemp("served") / "store.sqlite3"
    proc = subprocess.Popen([sys.executable, "-m", "gtm_emulator", "serve", "--port", str(port), "--store", str(store)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(base + "/healthz", timeout=0.5).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail("server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_served_end_to_end_over_http(served: str) -> None:
    assert requests.get(served + PURCHASE, timeout=5).status_code == 204
    assert requests.get(served + PAGE_VIEW, timeout=5).status_code == 204
    events = requests.get(served + "/_mock/tiktok/_events", timeout=5).json()
    assert [e["event"]["event"] for e in events] == ["CompletePayment"]
    host, port = served.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)  # sends the query exactly as written
    try:
        conn.request("GET", "/g/collect?v=2&tid=G&en=%zz")
        bad = conn.getresponse()
        assert bad.status == 400 and b"malformed percent-encoding" in bad.read()
    finally:
        conn.close()
    big = requests.post(served + "/g/collect?v=2&tid=G&en=x", data=b"x" * (10 * 1024 * 1024), timeout=10)
    assert big.status_code == 413
    assert requests.get(served + PURCHASE, timeout=5).status_code == 204


# ---------------------------------------------------------------------- the WSGI entry for container paths


def _environ(method: str, path: str, query: str = "", body: bytes = b"", **extra: object) -> dict[str, object]:
    import io

    environ: dict[str, object] = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.multithread": True,
        "wsgi.multiprocess": False, "wsgi.run_once": False, "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1",
    }
    environ.update(extra)
    return environ


def _call(app, environ: dict[str, object]) -> tuple[str, dict[str, str], bytes]:
    seen: list[tuple[str, list[tuple[str, str]]]] = []
    body = b"".join(app.wsgi_app(environ, lambda status, headers, exc_info=None: seen.append((status, headers))))
    status, headers = seen[0]
    return status, dict(headers), body


def test_head_answers_with_the_length_and_no_body(client) -> None:
    resp = client.open("/nope", method="HEAD")
    assert resp.status_code == 400 and resp.data == b""
    assert int(resp.headers["Content-Length"]) > 0


def test_unknown_methods_get_405_from_flask(client) -> None:
    resp = client.open("/g/collect?v=2", method="PROPFIND")
    assert resp.status_code == 405 and b"PROPFIND" in resp.data


def test_an_emulator_bug_is_a_500_without_traceback_and_the_server_goes_on(caplog) -> None:
    container = load_container()
    app = create_app(container, log_requests=False)

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    original = container.handle
    container.handle = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="gtm_emulator"):
        resp = app.test_client().get(PAGE_VIEW)
    assert resp.status_code == 500 and b"internal error in the emulator" in resp.data
    assert b"Traceback" not in resp.data and "RuntimeError: boom" in caplog.text
    container.handle = original  # type: ignore[method-assign]
    assert app.test_client().get(PAGE_VIEW).status_code == 204


def test_a_chunked_body_over_the_limit_is_413_before_the_container_sees_it() -> None:
    seen = []
    app = create_app(load_container(), log_requests=False, on_report=[lambda report, _ms: seen.append(report)])
    big = b"en=page_view\n" * 100_000  # 1.3 MB, over the 1 MiB default, sent without Content-Length
    status, headers, body = _call(app, _environ("POST", "/g/collect", "v=2&tid=G-1&cid=1.2", big,
                                                **{"wsgi.input_terminated": True}))
    assert status.startswith("413") and b"too large" in body and seen == []
    assert headers["Content-Length"] == str(len(body))


def test_a_204_has_no_body_and_no_content_type() -> None:
    app = create_app(load_container(), log_requests=False)
    status, headers, body = _call(app, _environ("GET", "/g/collect", PAGE_VIEW.split("?", 1)[1]))
    assert status == "204 NO CONTENT" and body == b"" and "Content-Type" not in headers


def test_reports_explain_when_a_hook_reads_them() -> None:
    from gtm_emulator.server.app import add_report_hook

    reports = []
    app = create_app(load_container(), log_requests=False)
    add_report_hook(app, lambda report, _ms: reports.append(report))
    app.test_client().get(PAGE_VIEW)
    conditions = reports[0].events[0].tags[0].triggers[0].conditions
    assert [c.variable for c in conditions] == ["Client Name", "Event Name"]


def test_a_chunked_body_under_the_limit_is_read_whole() -> None:
    seen = []
    app = create_app(load_container(), log_requests=False, on_report=[lambda report, _ms: seen.append(report)])
    body = b"en=page_view\n" * 20
    status, _, _ = _call(app, _environ("POST", "/g/collect", "v=2&tid=G-1&cid=1.2", body,
                                       **{"wsgi.input_terminated": True}))
    assert status.startswith("204") and seen[0].request.body == body and len(seen[0].events) == 20


def test_flask_routes_answer_an_oversized_body_like_the_container_paths(client) -> None:
    big = b"x" * 2_000_000
    through_flask = client.post("/_mock/tiktok/open_api/v1.3/event/track/", data=big)
    to_container = client.post("/g/collect?v=2&tid=G-1&cid=1.2", data=big)
    assert through_flask.status_code == to_container.status_code == 413
    assert through_flask.data == to_container.data == b"request body too large; the limit is 1048576 bytes\n"
    assert through_flask.headers["Content-Type"] == to_container.headers["Content-Type"]


def test_header_names_and_values_from_the_environ() -> None:
    from gtm_emulator.server import app as app_module

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/g/collect", "QUERY_STRING": "v=2",
               "HTTP_USER_AGENT": "Mozilla/5.0", "HTTP_X_CAF\u00c3\u00a9": "caf\u00c3\u00a9",
               "HTTP_X_BAD": "a\xffb", "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": "0"}
    headers = dict(app_module.request_from_environ(environ, b"").headers)
    assert headers["User-Agent"] == "Mozilla/5.0"
    assert headers["X-Caf\u00e3\u00a9"] == "caf\u00e9"  # a name title-cased as it was, a value decoded as UTF-8
    assert headers["X-Bad"] == "a\udcffb"  # a byte that is not UTF-8 kept as an escape
    assert headers["Content-Type"] == "text/plain" and headers["Content-Length"] == "0"


def test_the_header_name_memory_is_bounded() -> None:
    from gtm_emulator.server import app as app_module

    for n in range(app_module.MAX_HEADER_NAMES + 500):  # a client inventing header names
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", f"HTTP_X_ODD_{n}": "1"}
        assert dict(app_module.request_from_environ(environ, b"").headers) == {f"X-Odd-{n}": "1"}
    assert len(app_module._HEADER_NAMES) <= app_module.MAX_HEADER_NAMES
