"""The mock TikTok Events API, case by case (tiktok.md §3, §7, §9)."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest

from gtm_emulator.vendors.tiktok_mock import (
    HOST,
    TRACK_PATH,
    WARNINGS_HEADER,
    TikTokMock,
    blueprint,
    create_app,
    schema,
)
from gtm_emulator.vendors.transport import HttpResponse, MockTransport, TransportError

PIXEL = "C0ABCDEFGHIJKLMNOPQR"
OTHER_PIXEL = "C0ZZZZZZZZZZZZZZZZZZ"
HEX = "a" * 64
NOW = 1_700_000_000.0


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_mock(**kw: Any) -> tuple[TikTokMock, str]:
    mock = TikTokMock(clock=Clock(), **kw)
    return mock, mock.generate_access_token(PIXEL)


def event(**extra: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {"event": "Purchase", "event_time": int(NOW), "event_id": "order-1",
                          "page": {"url": "https://shop.example/"}, "user": {"email": HEX},
                          "properties": {"currency": "EUR", "value": 10}}
    ev.update(extra)
    return ev


def payload(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"event_source": "web", "event_source_id": PIXEL, "data": [event()]}
    body.update(extra)
    return body


def send(mock: TikTokMock, token: str | None, body: Any, path: str = TRACK_PATH) -> HttpResponse:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Access-Token"] = token
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return mock.handle("POST", path, headers, raw)


def answer(resp: HttpResponse) -> tuple[int, str]:
    assert resp.status == 200
    env = resp.json()
    assert set(env) == {"code", "message", "request_id", "data"}
    assert re.fullmatch(r"\d{14}[0-9A-F]{22}", env["request_id"])
    return env["code"], env["message"]


def warnings_of(resp: HttpResponse) -> list[str]:
    return json.loads(resp.headers.get(WARNINGS_HEADER.lower(), "[]"))


def test_accepts_a_valid_event_and_keeps_it() -> None:
    mock, token = make_mock()
    assert answer(send(mock, token, payload())) == (0, "OK")
    assert len(mock.events) == 1 and mock.events[0].pixel_code == PIXEL and not mock.events[0].test
    assert mock.requests[0]["headers"]["Access-Token"] == "****"


def test_test_events_are_marked() -> None:
    mock, token = make_mock()
    resp = send(mock, token, payload(test_event_code="TEST123"))
    assert answer(resp)[0] == 0
    assert mock.events[0].test and mock.test_events == mock.events
    assert mock.events[0].to_dict()["test"] is True
    assert any("test event" in w for w in warnings_of(resp))


# ---------------------------------------------------------------------- auth


def test_40104_empty_or_missing_token() -> None:
    mock, _ = make_mock()
    assert answer(send(mock, None, payload()))[0] == 40104
    assert answer(send(mock, "  ", payload()))[0] == 40104


def test_40105_unknown_token_in_tiktoks_words() -> None:
    mock, _ = make_mock()
    assert answer(send(mock, "not-a-token", payload())) == (40105, "Access token is incorrect or has been revoked.")


def test_40001_token_for_another_pixel() -> None:
    mock, token = make_mock()
    code, message = answer(send(mock, token, payload(event_source_id=OTHER_PIXEL)))
    assert code == 40001
    assert message == (f"No permission to operate pixel code: {OTHER_PIXEL}. You must be an admin or operator of "
                       f"this advertiser account.")


def test_no_configured_tokens_accepts_any() -> None:
    mock = TikTokMock(clock=Clock())
    assert answer(send(mock, "anything", payload()))[0] == 0


def test_from_config() -> None:
    mock = TikTokMock.from_config({"pixels": {PIXEL: ["t1"]}, "rate_limit_per_second": 2, "strict": True})
    assert mock.pixels == {PIXEL: {"t1"}} and mock.rate_limit_per_second == 2 and mock.strict
    assert answer(send(mock, "t1", payload()))[0] == 0
    assert answer(send(mock, "t2", payload()))[0] == 40105


def test_generated_tokens_are_distinct_per_pixel() -> None:
    mock, token = make_mock()
    other = mock.generate_access_token(OTHER_PIXEL)
    assert token != other and len(token) >= 32
    assert answer(send(mock, other, payload(event_source_id=OTHER_PIXEL)))[0] == 0
    assert answer(send(mock, other, payload()))[0] == 40001


# ---------------------------------------------------------------------- body checks, in order


def test_40000_body_not_an_object() -> None:
    mock, token = make_mock()
    assert answer(send(mock, token, [1, 2]))[0] == 40000
    assert answer(send(mock, token, b"{not json"))[0] == 40000


@pytest.mark.parametrize(("body", "message"), [
    ({"event_source_id": PIXEL, "data": [event()]},
     "Invalid value for event_source: missing data for required field."),
    ({"event_source": "email", "event_source_id": PIXEL, "data": [event()]},
     "Invalid value for event_source: must be one of: web, app, offline, crm."),
    ({"event_source": "web", "event_source_id": 12345, "data": [event()]},
     "Invalid value for event_source_id: not a valid string."),
    ({"event_source": "web", "event_source_id": PIXEL},
     "Invalid value for data: missing data for required field."),
    ({"event_source": "web", "event_source_id": PIXEL, "data": {}}, "Invalid value for data: not a valid list."),
    ({"event_source": "web", "event_source_id": PIXEL, "data": []},
     "Invalid value for data: must contain at least 1 event."),
    (payload(data=[{"event_time": 1}]), "Invalid value for data.0.event: missing data for required field."),
    (payload(data=[event(event="")]), "Invalid value for data.0.event: must not be empty."),
    (payload(data=[event(event=7)]), "Invalid value for data.0.event: not a valid string."),
    (payload(data=[event(event_time="1700000000")]), "Invalid value for data.0.event_time: not a valid integer."),
    (payload(data=[event(event_time=1.5)]), "Invalid value for data.0.event_time: not a valid integer."),
    (payload(data=[event(), event(event_time=None)]), "Invalid value for data.1.event_time: not a valid integer."),
    (payload(data=[event(event_id=1001)]), "Invalid value for event_id: not a valid string."),
    (payload(data=[event(properties={"contents": [{"content_id": "a"}, {"content_id": 2}]})]),
     "data.0.properties.contents.1.content_id: Not a valid string"),
    (payload(data=[event(user="x")]), "Invalid value for data.0.user: not a valid object."),
    (payload(data=[event(properties={"contents": "[]"})]),
     "Invalid value for data.0.properties.contents: not a valid list."),
])
def test_40002_with_field_path(body: dict[str, Any], message: str) -> None:
    mock, token = make_mock()
    assert answer(send(mock, token, body)) == (40002, message)
    assert mock.events == []


def test_first_failure_decides() -> None:
    mock, token = make_mock()
    body = {"event_source": "nope", "event_source_id": 5, "data": [event(event_time="x", event_id=3)]}
    assert answer(send(mock, token, body))[1].startswith("Invalid value for event_source:")
    body = payload(data=[event(event_id=3, event_time="x")])
    assert answer(send(mock, token, body))[1] == "Invalid value for data.0.event_time: not a valid integer."
    # permission is checked before the events
    assert answer(send(mock, token, payload(event_source_id=OTHER_PIXEL, data=[event(event_id=3)])))[0] == 40001


def test_40061_more_than_1000_events_rejects_the_whole_request() -> None:
    mock, token = make_mock()
    assert answer(send(mock, token, payload(data=[event(event_id=str(i)) for i in range(1000)])))[0] == 0
    mock.reset()
    code, message = answer(send(mock, token, payload(data=[event(event_id=str(i)) for i in range(1001)])))
    assert code == 40061 and "1001" in message
    assert mock.events == []


def test_unhashed_pii_default_is_the_same_in_code_config_and_docs() -> None:
    from pathlib import Path

    assert TikTokMock().require_hashed_pii and TikTokMock.from_config({}).require_hashed_pii
    docs = (Path(__file__).resolve().parents[2] / "docs" / "tiktok.md").read_text(encoding="utf-8")
    assert '"require_hashed_pii": true' in docs and "Unhashed personal data is refused by default" in docs
    assert "Lenient mode by default" not in docs


def test_40062_by_default_and_a_warning_when_the_check_is_off() -> None:
    body = payload(data=[event(user={"email": "jane@example.com", "phone": HEX})])
    default, token = make_mock()
    assert answer(send(default, token, body)) == (
        40062, "Invalid value for data.0.user.email: personal data must be SHA-256 hashed (64 hexadecimal characters).")
    lenient, token = make_mock(require_hashed_pii=False)
    resp = send(lenient, token, body)
    assert answer(resp)[0] == 0
    assert any("40062" in w and "data.0.user.email" in w for w in warnings_of(resp))


def test_number_types_are_errors_only_in_strict_mode() -> None:
    body = payload(data=[event(properties={"value": "25", "currency": "EUR"})])
    default, token = make_mock()
    resp = send(default, token, body)
    assert answer(resp)[0] == 0
    assert any("data.0.properties.value" in w for w in warnings_of(resp))
    strict, token = make_mock(strict=True)
    code, message = answer(send(strict, token, body))
    assert code == 40002 and "data.0.properties.value" in message


@pytest.mark.parametrize("field", ["email", "phone", "external_id", "first_name", "last_name", "zip_code"])
def test_40062_each_hashed_field(field: str) -> None:
    mock, token = make_mock(strict=True)
    code, message = answer(send(mock, token, payload(data=[event(user={field: "plain"})])))
    assert code == 40062 and f"data.0.user.{field}:" in message
    assert answer(send(mock, token, payload(data=[event(user={field: [HEX, "B" * 64]})])))[0] == 0
    assert answer(send(mock, token, payload(data=[event(user={field: [HEX, "plain"]})])))[0] == 40062


def test_strict_number_types() -> None:
    mock, token = make_mock(strict=True)
    assert answer(send(mock, token, payload(data=[event(properties={"value": "10"})]))) == (
        40002, "Invalid value for data.0.properties.value: not a valid number.")
    body = payload(data=[event(properties={"contents": [{"content_id": "a", "price": 1, "quantity": 1.5}]})])
    assert answer(send(mock, token, body)) == (
        40002, "Invalid value for data.0.properties.contents.0.quantity: not a valid integer.")


def test_40100_rate_limit() -> None:
    clock = Clock()
    mock = TikTokMock(clock=clock, rate_limit_per_second=2)
    token = mock.generate_access_token(PIXEL)
    codes = [answer(send(mock, token, payload(data=[event(event_id=str(i))])))[0] for i in range(3)]
    assert codes == [0, 0, 40100]
    assert answer(send(mock, token, payload()))[1] == "Too many requests. Please retry in some time."
    clock.now += 1.01
    assert answer(send(mock, token, payload(data=[event(event_id="late")])))[0] == 0


# ---------------------------------------------------------------------- warnings


def test_dedup_warning_within_48_hours() -> None:
    clock = Clock()
    mock = TikTokMock(clock=clock)
    token = mock.generate_access_token(PIXEL)
    assert not any("deduplicate" in w for w in warnings_of(send(mock, token, payload())))
    clock.now += 3600
    resp = send(mock, token, payload())
    assert answer(resp)[0] == 0  # TikTok does not error on duplicates
    assert any("TikTok would deduplicate this event" in w for w in warnings_of(resp))
    # another event name with the same id is not a duplicate
    other = send(mock, token, payload(data=[event(event="AddToCart")]))
    assert not any("deduplicate" in w for w in warnings_of(other))
    clock.now += 49 * 3600
    assert not any("deduplicate" in w for w in warnings_of(send(mock, token, payload())))


def test_event_warnings() -> None:
    mock, token = make_mock()
    ev = {"event": "CompletePayment", "event_time": int(NOW) * 1000, "user": {},
          "properties": {"currency": "eur"}}
    warnings = warnings_of(send(mock, token, payload(data=[ev])))
    text = " | ".join(warnings)
    for fragment in ("legacy event name 'CompletePayment'", "milliseconds", "'eur' is lower case", "page.url",
                     "poor match quality", "event_id: missing on a purchase event"):
        assert fragment in text
    ev2 = event(event="my_event", event_time=int(NOW) - 8 * 86400, properties={"currency": "XXX"})
    text2 = " | ".join(warnings_of(send(mock, token, payload(data=[ev2]))))
    assert "custom event 'my_event'" in text2 and "7 days old" in text2 and "'XXX' is not in" in text2
    ev3 = event(event_time=int(NOW) + 3600, user={"email": "A" * 64})
    text3 = " | ".join(warnings_of(send(mock, token, payload(data=[ev3]))))
    assert "in the future" in text3 and "upper-case hex" in text3


# ---------------------------------------------------------------------- legacy endpoints


def test_legacy_track_and_batch_accepted_with_warning() -> None:
    mock, token = make_mock()
    single = {"pixel_code": PIXEL, "event": "CompletePayment", "timestamp": "2020-09-17T19:49:27Z",
              "context": {"ad": {"callback": "E.C.P.x"}}}
    resp = send(mock, token, single, "/open_api/v1.3/pixel/track/")
    assert answer(resp)[0] == 0 and any("legacy" in w for w in warnings_of(resp))
    batch = {"pixel_code": PIXEL, "batch": [{"type": "track", "event": "ViewContent"}] * 2}
    assert answer(send(mock, token, batch, "/open_api/v1.2/pixel/batch/"))[0] == 0
    assert [e.endpoint for e in mock.events] == ["/pixel/track/", "/pixel/batch/", "/pixel/batch/"]
    assert answer(send(mock, token, {"pixel_code": PIXEL, "batch": [{"event": 1}]},
                       "/open_api/v1.3/pixel/batch/")) == (40002, "Batch.0.event: Not a valid string")
    too_many = {"pixel_code": PIXEL, "batch": [{"event": "ViewContent"}] * 51}
    assert answer(send(mock, token, too_many, "/open_api/v1.3/pixel/batch/"))[0] == 40061


def test_unknown_path_and_method() -> None:
    mock, _ = make_mock()
    assert mock.handle("POST", "/open_api/v1.3/event/nope/", {}, b"{}").status == 404
    assert mock.handle("GET", TRACK_PATH, {}, b"").status == 405


# ---------------------------------------------------------------------- faults


def test_inject_http_error_then_recovers() -> None:
    mock, token = make_mock()
    mock.inject(status=502, times=2)
    for _ in range(2):
        resp = send(mock, token, payload())
        assert resp.status == 502 and b"nginx" in resp.body
    assert answer(send(mock, token, payload()))[0] == 0
    assert [r["status"] for r in mock.requests] == [502, 502, 200]
    assert len(mock.events) == 1


def test_inject_business_code_and_malformed_body() -> None:
    mock, token = make_mock()
    mock.inject(code=50002)
    mock.inject(code=40100, message="slow down")
    mock.inject(malformed=True)
    assert answer(send(mock, token, payload())) == (50002, "Request timed out.")
    assert answer(send(mock, token, payload())) == (40100, "slow down")
    resp = send(mock, token, payload())
    assert resp.status == 200
    with pytest.raises(ValueError):
        resp.json()
    assert mock.events == []


def test_inject_delay_times_out_through_the_transport() -> None:
    mock, token = make_mock()
    slept: list[float] = []
    mock.sleep = slept.append
    mock.inject(delay=3.0)
    assert answer(send(mock, token, payload()))[0] == 0 and slept == [3.0]
    real, token2 = make_mock()
    real.inject(delay=0.05)
    transport = MockTransport({HOST: real.handle})
    with pytest.raises(TransportError) as info:
        transport.send("POST", "https://business-api.tiktok.com" + TRACK_PATH, {"Access-Token": token2},
                       json.dumps(payload()).encode(), timeout=0.01)
    assert info.value.reason == "timed_out"


def test_reset_clears_state() -> None:
    mock, token = make_mock()
    mock.inject(status=503)
    send(mock, token, payload())
    send(mock, token, payload())
    mock.reset()
    assert mock.events == [] and mock.requests == []
    assert answer(send(mock, token, payload()))[0] == 0  # no fault left, no dedup memory
    assert not any("deduplicate" in w for w in warnings_of(send(mock, token, payload(data=[event(event_id="z")]))))


def test_thread_safety() -> None:
    mock, token = make_mock()

    def worker(n: int) -> None:
        for i in range(25):
            send(mock, token, payload(data=[event(event_id=f"{n}-{i}")]))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(mock.events) == 200 and len(mock.requests) == 200
    assert len({e.event["event_id"] for e in mock.events}) == 200


def test_schema_file_is_a_valid_json_schema() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema())
    assert schema()["properties"]["data"]["maxItems"] == 1000


# ---------------------------------------------------------------------- over HTTP (Flask test client)


def test_blueprint_serves_the_api_and_setup_routes() -> None:
    from flask import Flask

    mock = TikTokMock(clock=Clock())
    app = Flask("t")
    app.register_blueprint(blueprint(mock), url_prefix="/tiktok")
    client = app.test_client()
    bad = client.post("/tiktok/_access_token", json={"pixel_code": "short"})
    assert bad.status_code == 400
    token = client.post("/tiktok/_access_token", json={"pixel_code": PIXEL}).get_json()["access_token"]
    resp = client.post("/tiktok" + TRACK_PATH, json=payload(), headers={"Access-Token": token})
    assert resp.status_code == 200 and resp.get_json()["code"] == 0
    resp = client.post("/tiktok" + TRACK_PATH, json=payload(), headers={"Access-Token": "wrong"})
    assert resp.get_json()["code"] == 40105
    assert [e["pixel_code"] for e in client.get("/tiktok/_events").get_json()] == [PIXEL]
    assert len(client.get("/tiktok/_requests").get_json()) == 2
    assert client.post("/tiktok/_reset").get_json() == {"ok": True}
    assert mock.events == []


def test_create_app_standalone() -> None:
    app = create_app()
    mock = app.config["TIKTOK_MOCK"]
    resp = app.test_client().post(TRACK_PATH, json=payload(), headers={"Access-Token": "any"})
    assert resp.get_json()["code"] == 0 and len(mock.events) == 1


def test_standalone_app_answers_track_calls_as_the_blueprint_does() -> None:
    """create_app answers POSTs to the API paths from its WSGI entry, and every other request through
    Flask: both give the same answers as the blueprint alone."""
    from flask import Flask

    fast_app = create_app(TikTokMock(clock=Clock()))
    plain_app = Flask("t")
    plain_app.register_blueprint(blueprint(TikTokMock(clock=Clock())))
    for app in (fast_app, plain_app):
        client = app.test_client()
        ok = client.post(TRACK_PATH + "?x=1", json=payload(), headers={"Access-Token": "any"})
        assert ok.status_code == 200 and ok.get_json()["code"] == 0
        assert ok.headers["Content-Length"] == str(len(ok.data))
        assert client.post(TRACK_PATH, data=b"{", headers={"Access-Token": "any"}).get_json()["code"] != 0
        assert client.post(TRACK_PATH, json=payload()).get_json()["code"] == 40104  # no token
        assert client.get(TRACK_PATH).status_code == 405  # GET goes to Flask, then to the mock
        assert [r["path"] for r in client.get("/_requests").get_json()] == [TRACK_PATH + "?x=1", TRACK_PATH,
                                                                            TRACK_PATH]  # not the 405
        assert client.get("/_requests").get_json()[0]["headers"]["Access-Token"] == "****"
    fast_mock = fast_app.config["TIKTOK_MOCK"]
    assert len(fast_mock.events) == 1 and fast_mock.events[0].pixel_code == PIXEL


def test_standalone_app_refuses_bodies_over_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from gtm_emulator.vendors import tiktok_mock

    monkeypatch.setattr(tiktok_mock, "MAX_BODY_BYTES", 1000)
    app = create_app(TikTokMock(clock=Clock()))
    mock = app.config["TIKTOK_MOCK"]
    big = b'{"data": [' + b" " * 2000 + b"]}"
    seen: list[str] = []
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": TRACK_PATH, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(big), "wsgi.input_terminated": True, "HTTP_ACCESS_TOKEN": "any"}
    body = b"".join(app.wsgi_app(environ, lambda status, headers, exc_info=None: seen.append(status)))
    assert seen == ["413 REQUEST ENTITY TOO LARGE"] and b"at most 1000 bytes" in body  # chunked: read, refused
    assert mock.requests == []
    small = app.test_client().post(TRACK_PATH, json=payload(), headers={"Access-Token": "any"})
    assert small.status_code == 200 and len(mock.requests) == 1
