"""The inspection API under /_emulator/api/, the UI page, the token and the 404 listing."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from gtm_emulator import load_container
from gtm_emulator.loading.config import default_container_path
from gtm_emulator.server.app import create_app, set_container
from gtm_emulator.server.preview import (
    ENDPOINTS,
    TOKEN_COOKIE,
    TOKEN_HEADER,
    generate_token,
    install_preview,
    is_loopback,
    preview_url,
)
from gtm_emulator.server.store import SQLiteStore

TAG = "TikTok - purchase"
PURCHASE = "/g/collect?v=2&tid=G-TEST&cid=1.2&en=purchase&cu=EUR&epn.value=10"
PAGE_VIEW = "/g/collect?v=2&tid=G-TEST&cid=1.2&en=page_view"
SECRET = "3e0c3fd7f678648665e3b09eb2a045339905fd2b"


def build(store: SQLiteStore, token: str | None = None) -> Flask:
    app = create_app(load_container(), log_requests=False)
    install_preview(app, store, token=token)
    return app


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "api.sqlite3") as s:
        yield s


@pytest.fixture
def app(store: SQLiteStore) -> Flask:
    return build(store)


@pytest.fixture
def client(app: Flask) -> Any:
    return app.test_client()


def rejecting_container() -> Any:
    path = default_container_path()
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["tags"][0]["parameters"]["pixel_code"] = "COTHER0PIXEL00000002"
    return load_container(raw, base_dir=path.parent)


def send_mix(app: Flask, client: Any) -> dict[str, int]:
    """purchase, page_view, an unclaimed request, a purchase the vendor rejects; their ids."""
    ids = {}
    for name, path in [("purchase", PURCHASE), ("page_view", PAGE_VIEW), ("unclaimed", "/nothing")]:
        client.get(path)
        ids[name] = client.get("/_emulator/api/requests?limit=1").get_json()["requests"][0]["id"]
    original = app.extensions["gtm_emulator"]["container"]
    set_container(app, rejecting_container())
    client.get(PURCHASE)
    set_container(app, original)
    ids["rejected"] = client.get("/_emulator/api/requests?limit=1").get_json()["requests"][0]["id"]
    return ids


def listed(client: Any, query: str) -> list[int]:
    resp = client.get("/_emulator/api/requests" + query)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return [r["id"] for r in resp.get_json()["requests"]]


def test_index_lists_the_endpoints_and_the_container(client: Any) -> None:
    for path in ("/_emulator/api/", "/_emulator/api"):
        resp = client.get(path)
        assert resp.status_code == 200 and resp.mimetype == "application/json"
        data = resp.get_json()
        assert data["endpoints"] == ENDPOINTS
        assert data["container"]["name"] == "Default container: GA4 purchase to TikTok"
        assert data["store"] == {"retention": 10_000, "persistent": True}
    paths = {e["path"] for e in ENDPOINTS}
    assert {"/_emulator/", "/_emulator/api/requests", "/_emulator/api/requests/<id>", "/_emulator/api/outgoing",
            "/_emulator/api/summary", "/_emulator/api/reset"} <= paths


def test_a_hit_is_stored_before_its_response_returns(client: Any) -> None:
    resp = client.get(PURCHASE)
    assert resp.status_code == 204
    [item] = client.get("/_emulator/api/requests").get_json()["requests"]
    assert item["status"] == 204 and item["client"] == "GA4" and item["events"][0]["tags_fired"] == [TAG]
    full = client.get(f"/_emulator/api/requests/{item['id']}").get_json()
    assert full["events"][0]["tags"][0]["status"] == "success"
    assert full["events"][0]["outgoing"][0]["response"]["body"]["code"] == 0
    assert full["request"]["path"] == "/g/collect" and full["response"]["status"] == 204
    assert SECRET not in json.dumps(full)


def test_request_filters(app: Flask, client: Any) -> None:
    ids = send_mix(app, client)
    everything = sorted(ids.values(), reverse=True)
    assert listed(client, "") == everything
    assert listed(client, "?event=purchase") == [ids["rejected"], ids["purchase"]]
    assert listed(client, "?event=page_view") == [ids["page_view"]]
    assert listed(client, f"?tag={TAG}") == [ids["rejected"], ids["purchase"]]
    assert listed(client, f"?tag={TAG}&tag_status=not_fired") == [ids["page_view"]]
    assert listed(client, "?tag_status=rejected") == [ids["rejected"]]
    assert listed(client, "?tag_status=failure") == []
    assert listed(client, "?status=400") == [ids["unclaimed"]]
    assert listed(client, "?status=2xx") == [ids["rejected"], ids["page_view"], ids["purchase"]]
    assert listed(client, "?client=GA4") == [ids["rejected"], ids["page_view"], ids["purchase"]]
    assert listed(client, "?client=") == [ids["unclaimed"]]
    assert listed(client, "?rejected=true") == [ids["rejected"]]
    assert listed(client, "?rejected=false") == [ids["unclaimed"], ids["page_view"], ids["purchase"]]
    assert listed(client, f"?after={ids['page_view']}") == [ids["rejected"], ids["unclaimed"]]
    assert listed(client, "?limit=1&offset=1") == everything[1:2]
    assert listed(client, "?since=0") == everything
    assert listed(client, "?since=2999-01-01T00:00:00Z") == []
    first = client.get(f"/_emulator/api/requests/{ids['purchase']}").get_json()["time"]
    assert listed(client, f"?since={first}") == everything


@pytest.mark.parametrize("query, words", [
    ("?status=great", "status"),
    ("?since=yesterday", "since"),
    ("?after=x", "after"),
    ("?limit=-1", "limit"),
    ("?rejected=maybe", "rejected"),
    ("?tag_status=nice", "tag_status"),
    ("?event_name=purchase", "unknown parameter event_name"),
])
def test_bad_filters_are_400_naming_the_parameter(client: Any, query: str, words: str) -> None:
    resp = client.get("/_emulator/api/requests" + query)
    assert resp.status_code == 400 and resp.mimetype == "application/json"
    assert words in resp.get_json()["error"]


def test_one_request_and_missing_ones(app: Flask, client: Any) -> None:
    ids = send_mix(app, client)
    data = client.get(f"/_emulator/api/requests/{ids['unclaimed']}").get_json()
    assert data["client"] is None and data["status"] == 400 and data["events"] == []
    assert data["response"]["status"] == 400
    missing = client.get("/_emulator/api/requests/999999")
    assert missing.status_code == 404 and "999999" in missing.get_json()["error"]
    assert client.get("/_emulator/api/requests/abc").status_code == 400
    assert client.get(f"/_emulator/api/requests/{ids['purchase']}?x=1").status_code == 400


def test_outgoing_with_filters(app: Flask, client: Any) -> None:
    ids = send_mix(app, client)
    out = client.get("/_emulator/api/outgoing").get_json()
    assert out["count"] == 2
    assert [o["request_id"] for o in out["outgoing"]] == [ids["rejected"], ids["purchase"]]
    rejected = client.get("/_emulator/api/outgoing?vendor_ok=false").get_json()["outgoing"]
    assert [o["request_id"] for o in rejected] == [ids["rejected"]]
    assert rejected[0]["vendor_ok"] is False and rejected[0]["response"]["body"]["code"] == 40001
    accepted = client.get("/_emulator/api/outgoing?vendor_ok=true").get_json()["outgoing"]
    assert [o["request_id"] for o in accepted] == [ids["purchase"]]
    assert accepted[0]["headers"]["Access-Token"] == "****"
    assert accepted[0]["body"]["data"][0]["event"] == "CompletePayment"
    assert client.get(f"/_emulator/api/outgoing?tag={TAG}").get_json()["count"] == 2
    assert client.get("/_emulator/api/outgoing?tag=Nope").get_json()["count"] == 0
    assert client.get(f"/_emulator/api/outgoing?request={ids['purchase']}").get_json()["count"] == 1
    assert client.get(f"/_emulator/api/outgoing?request={ids['page_view']}").get_json()["count"] == 0
    assert client.get("/_emulator/api/outgoing?limit=1").get_json()["count"] == 1
    assert client.get("/_emulator/api/outgoing?limit=1&offset=1").get_json()["outgoing"][0]["request_id"] == \
        ids["purchase"]
    assert client.get("/_emulator/api/outgoing?vendor_ok=perhaps").status_code == 400
    assert client.get("/_emulator/api/outgoing?status=200").status_code == 400


def test_summary_and_reset(app: Flask, client: Any) -> None:
    send_mix(app, client)
    summary = client.get("/_emulator/api/summary").get_json()
    assert summary["requests"] == 4
    assert summary["events"] == 3
    assert summary["tags_fired"] == 2
    assert summary["tags_failed"] == 0
    assert summary["tags_rejected_by_vendor"] == 1
    assert summary["outgoing"] == 2 and summary["outgoing_not_ok"] == 1
    wrong_method = client.get("/_emulator/api/reset")
    assert wrong_method.status_code == 405 and "POST" in wrong_method.get_json()["error"]
    assert client.get("/_emulator/api/summary").get_json()["requests"] == 4
    cross_site = client.post("/_emulator/api/reset", headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    assert client.get("/_emulator/api/summary").get_json()["requests"] == 4
    same_site = client.post("/_emulator/api/reset", headers={"Origin": "http://localhost"})
    assert same_site.status_code == 200 and same_site.get_json() == {"deleted": 4}
    after = client.get("/_emulator/api/summary").get_json()
    assert after["requests"] == 0 and after["tags_fired"] == 0
    assert client.get("/_emulator/api/requests").get_json()["requests"] == []
    assert client.get("/_emulator/api/outgoing").get_json()["outgoing"] == []


def test_unknown_paths_list_the_endpoints(client: Any) -> None:
    api = client.get("/_emulator/api/nope")
    assert api.status_code == 404 and api.mimetype == "application/json"
    assert api.get_json()["endpoints"] == ENDPOINTS and "/_emulator/api/nope" in api.get_json()["error"]
    assert client.post("/_emulator/api/requests/1/extra").status_code == 404
    other = client.get("/_emulator/whatever")
    assert other.status_code == 404 and other.mimetype == "text/plain"
    text = other.get_data(as_text=True)
    for endpoint in ENDPOINTS:
        assert endpoint["path"] in text


def test_ui_page(client: Any) -> None:
    assert client.get("/_emulator").status_code == 308
    resp = client.get("/_emulator/")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assert "Default container: GA4 purchase to TikTok" in html
    assert 'role="tablist"' in html and 'aria-selected="true"' in html
    for name in ("Request", "Tags", "Variables", "Event Data", "Console"):
        assert f">{name}</button>" in html
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "<script>" not in html  # no inline script (the CSP forbids it)
    for asset, kind in (("preview.js", "javascript"), ("preview.css", "css")):
        static = client.get(f"/_emulator/static/{asset}")
        assert static.status_code == 200 and kind in static.mimetype
        static.close()


def test_container_name_is_escaped(tmp_path: Path) -> None:
    path = default_container_path()
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["name"] = "<script>alert(1)</script>"
    app = create_app(load_container(raw, base_dir=path.parent), log_requests=False)
    with SQLiteStore(tmp_path / "x.sqlite3") as store:
        install_preview(app, store)
        html = app.test_client().get("/_emulator/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# ---------------------------------------------------------------------- token


def test_token_protects_every_emulator_path(store: SQLiteStore) -> None:
    token = generate_token()
    client = build(store, token=token).test_client()
    assert client.get(PURCHASE).status_code == 204  # the container itself needs no token
    for path in ("/_emulator/", "/_emulator/api/", "/_emulator/api/requests", "/_emulator/api/summary",
                 "/_emulator/api/outgoing", "/_emulator/api/requests/1", "/_emulator/api/nope",
                 "/_emulator/static/preview.js"):
        resp = client.get(path)
        assert resp.status_code == 401, path
        assert TOKEN_HEADER in resp.get_data(as_text=True)
    assert client.post("/_emulator/api/reset").status_code == 401
    assert client.get("/_emulator/api/summary", headers={TOKEN_HEADER: token + "x"}).status_code == 401
    assert client.get("/_emulator/api/summary?token=wrong").status_code == 401
    ok = client.get("/_emulator/api/summary", headers={TOKEN_HEADER: token})
    assert ok.status_code == 200 and ok.get_json()["requests"] == 1
    assert client.get(f"/_emulator/api/requests?token={token}&event=purchase").get_json()["count"] == 1
    assert client.post("/_emulator/api/reset", headers={TOKEN_HEADER: token}).get_json() == {"deleted": 1}


def test_token_in_the_address_once_sets_a_cookie_for_the_ui(store: SQLiteStore) -> None:
    token = generate_token()
    client = build(store, token=token).test_client()
    first = client.get(f"/_emulator/?token={token}")
    assert first.status_code == 303 and first.headers["Location"] == "/_emulator/"
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith(f"{TOKEN_COOKIE}={token}") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/_emulator/").status_code == 200  # the cookie now does it
    assert client.get("/_emulator/api/requests").status_code == 200
    static = client.get("/_emulator/static/preview.css")
    assert static.status_code == 200
    static.close()
    stranger = build(store, token=token).test_client()
    assert stranger.get("/_emulator/").status_code == 401


def test_token_helpers() -> None:
    tokens = {generate_token() for _ in range(50)}
    assert len(tokens) == 50 and all(len(t) >= 32 for t in tokens)
    for host in ("127.0.0.1", "127.1.2.3", "localhost", "LOCALHOST", "::1", "[::1]", "::ffff:127.0.0.1"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "", "::", "192.168.1.10", "10.0.0.1", "example.com", "[::]", "fe80::1"):
        assert not is_loopback(host), host
    assert preview_url("127.0.0.1", 8080) == "http://127.0.0.1:8080/_emulator/"
    assert preview_url("0.0.0.0", 80, "abc") == "http://127.0.0.1:80/_emulator/?token=abc"
    assert preview_url("::1", 8080) == "http://[::1]:8080/_emulator/"
    with pytest.raises(ValueError):
        install_preview(create_app(load_container(), log_requests=False), SQLiteStore(":memory:"), token="")


# ---------------------------------------------------------------------- persistence and concurrency


def test_records_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "restart.sqlite3"
    with SQLiteStore(path) as first:
        client = build(first).test_client()
        client.get(PURCHASE)
        client.get(PAGE_VIEW)
        before = client.get("/_emulator/api/requests").get_json()["requests"]
    with SQLiteStore(path) as second:  # a new server process on the same file
        client = build(second).test_client()
        assert client.get("/_emulator/api/requests").get_json()["requests"] == before
        assert client.get("/_emulator/api/summary").get_json()["tags_fired"] == 1
        client.get(PURCHASE)
        assert client.get("/_emulator/api/summary").get_json()["requests"] == 3


def test_concurrent_hits_on_a_real_server_lose_nothing(store: SQLiteStore) -> None:
    app = build(store)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    threads, per_thread = 8, 25
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(per_thread):
            path = PURCHASE if (n + i) % 2 else PAGE_VIEW
            try:
                with urllib.request.urlopen(base + path + f"&_n={n}-{i}", timeout=10) as resp:
                    with lock:
                        statuses.append(resp.status)
            except (urllib.error.URLError, OSError) as exc:
                errors.append(exc)

    try:
        pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        with urllib.request.urlopen(base + "/_emulator/api/summary", timeout=10) as resp:
            summary = json.loads(resp.read())
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    sent = threads * per_thread
    assert errors == [] and statuses == [204] * sent
    assert summary["requests"] == sent
    assert summary["events"] == sent
    assert summary["tags_fired"] == sent // 2
    stored = store.list_requests(limit=1000)
    assert len({r["id"] for r in stored}) == sent
    assert len({r["url"] for r in stored}) == sent  # every distinct hit is there once


def test_container_endpoint_describes_the_container_with_secrets_masked(tmp_path: Path) -> None:
    from gtm_emulator.server.preview import describe_container

    raw = json.loads(default_container_path().read_text(encoding="utf-8"))
    raw["tags"][0]["parameters"]["access_token"] = "9" * 40  # a literal secret, not a variable
    raw["container_id"], raw["version"] = "GTM-ABC123", "42"
    container = load_container(raw, base_dir=default_container_path().parent)
    described = describe_container(container)
    assert (described["id"], described["version"]) == ("GTM-ABC123", "42")
    (tag,) = described["tags"]
    assert tag["parameters"]["access_token"] == "****" and tag["parameters"]["pixel_code"] == "{{TikTok pixel code}}"
    assert tag["firing_triggers"] == ["GA4 purchase"]
    assert {"name": "TikTok pixel code", "type": "constant"} in described["variables"]
    assert "Request Path" in described["builtins"] and "_event" not in described["builtins"]
    assert "9" * 40 not in json.dumps(described)
