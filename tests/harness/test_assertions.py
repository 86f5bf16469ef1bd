"""The assertion helpers of gtm_emulator.harness.assertions and the threaded EmulatorServer."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import requests

from gtm_emulator import load_container
from gtm_emulator.core.report import Report
from gtm_emulator.harness.assertions import (
    MISSING,
    EmulatorServer,
    PathSyntaxError,
    assert_payload,
    assert_status,
    assert_tag_fired,
    assert_tag_not_fired,
    assert_vendor_ok,
    describe_report,
    parse_path,
    subset_mismatches,
    value_at,
)
from gtm_emulator.vendors.transport import MockTransport

NOW = 1_700_000_000
PIXEL_OK = "CSHOP0PIXEL000000001"
PIXEL_FOREIGN = "CSHOP0PIXEL000000002"
TOKEN = "tok-shop-123456"

SHOP: dict[str, Any] = {
    "name": "shop",
    "clients": [{"name": "GA4", "type": "ga4"}],
    "variables": [
        {"name": "token", "type": "constant", "value": TOKEN},
        {"name": "Value", "type": "event_data", "key_path": "value"},
    ],
    "triggers": [
        {"name": "big purchase", "fires_on": "some_events", "conditions": [
            {"variable": "Event Name", "operator": "equals", "value": "purchase"},
            {"variable": "Value", "operator": "greater", "value": "10"}]},
        {"name": "cart", "fires_on": "some_events", "conditions": [
            {"variable": "Event Name", "operator": "matches_regex", "value": "^ADD_TO_CART$", "ignore_case": True}]},
        {"name": "internal", "fires_on": "some_events", "conditions": [
            {"variable": "Page Hostname", "operator": "ends_with", "value": ".internal"}]},
    ],
    "tags": [
        {"name": "TikTok - purchase", "type": "tiktok_events_api", "firing_triggers": ["big purchase"],
         "blocking_triggers": ["internal"],
         "parameters": {"pixel_code": PIXEL_OK, "access_token": "{{token}}", "event": "{{Event Name}}"}},
        {"name": "TikTok - cart", "type": "tiktok_events_api", "firing_triggers": ["cart"],
         "parameters": {"pixel_code": PIXEL_FOREIGN, "access_token": "{{token}}", "event": "{{Event Name}}"}},
    ],
    "mock_vendors": {"tiktok": {"pixels": {PIXEL_OK: [TOKEN]}}},
}


def shop() -> Any:
    return load_container(copy.deepcopy(SHOP))


def hit(container: Any, query: str, **kw: Any) -> Report:
    report: Report = container.simulate("GET", "/g/collect?v=2&tid=G-1&cid=1.2&" + query, now=NOW, **kw)
    return report


# ---------------------------------------------------------------------------------------------- paths


@pytest.mark.parametrize(("path", "parts"), [
    ("data", ["data"]),
    ("data[0].event", ["data", 0, "event"]),
    ("$.data[0].properties.contents[1].content_id", ["data", 0, "properties", "contents", 1, "content_id"]),
    ('user["x.y"].z', ["user", "x.y", "z"]),
    ("$['a[b]']", ["a[b]"]),
    ("x-ga-mp2-user_properties.tier", ["x-ga-mp2-user_properties", "tier"]),
])
def test_parse_path(path: str, parts: list[Any]) -> None:
    assert parse_path(path) == parts


@pytest.mark.parametrize("path", ["", "$", "a[", "a[x]", "a..b", "a]"])
def test_parse_path_rejects_malformed_paths(path: str) -> None:
    with pytest.raises(PathSyntaxError, match="path"):
        parse_path(path)


def test_get_path_returns_missing_for_absent_keys_and_indexes() -> None:
    body = {"data": [{"event": "CompletePayment", "n": None}]}
    assert value_at(body, "data[0].event") == "CompletePayment"
    assert value_at(body, "data[0].n") is None
    assert value_at(body, "data[1].event") is MISSING
    assert value_at(body, "data[0].event.x") is MISSING
    assert value_at(body, "nope") is MISSING


# ---------------------------------------------------------------------------------------------- subset


def test_subset_matches_extra_keys_and_numbers_of_either_kind() -> None:
    actual = {"a": 1, "b": {"c": [1, 2], "d": "x"}, "e": True}
    assert subset_mismatches(actual, {"a": 1.0, "b": {"c": [1, 2]}}) == []
    assert subset_mismatches(actual, {}) == []


def test_subset_reports_each_difference_with_its_path() -> None:
    actual = {"a": 1, "b": {"c": [1, 2], "d": "x"}, "e": True}
    problems = subset_mismatches(actual, {"a": 2, "b": {"c": [1], "d": "x", "z": 0}, "e": 1})
    assert problems == [
        "$.a: expected 2, got 1",
        "$.b.c: expected an array of 1 items, got 2: [1, 2]",
        "$.b.z: missing (expected 0)",
        "$.e: expected 1, got true",
    ]


def test_subset_compares_list_elements_in_order() -> None:
    assert subset_mismatches([{"id": "a", "q": 1}, {"id": "b"}], [{"id": "a"}, {"id": "c"}]) == [
        '$[1].id: expected "c", got "b"']
    assert subset_mismatches("text", {"k": 1}) == ['$: expected an object {"k": 1}, got string "text"']


# ---------------------------------------------------------------------------------------------- fired


def test_assert_tag_fired_passes_and_fails_with_every_tag_listed() -> None:
    container = shop()
    assert_tag_fired(hit(container, "en=purchase&epn.value=30"), "TikTok - purchase")
    report = hit(container, "en=purchase&epn.value=5")
    with pytest.raises(AssertionError) as info:
        assert_tag_fired(report, "TikTok - purchase")
    message = str(info.value)
    assert message.splitlines()[0] == "tag 'TikTok - purchase' did not fire"
    assert "GET /g/collect?v=2&tid=G-1&cid=1.2&en=purchase&epn.value=5 -> 204 (client: GA4)" in message
    # every tag with its status, the failed condition with both operands; the condition that held is not listed
    assert "'TikTok - purchase' (tiktok_events_api): not_fired" in message
    assert "'TikTok - cart' (tiktok_events_api): not_fired" in message
    assert '✗ {{Value}} greater "10": false (left 5, right "10")' in message
    assert '{{Event Name}} equals "purchase"' not in message
    assert '✗ {{Event Name}} matches_regex (ignore case) "^ADD_TO_CART$": false (left "purchase"' in message


def test_assert_tag_fired_names_a_blocking_trigger() -> None:
    report = hit(shop(), "en=purchase&epn.value=30&dl=https%3A%2F%2Fshop.internal%2F")
    assert report.tag_results("TikTok - purchase")[0].status == "blocked"
    with pytest.raises(AssertionError, match="blocking trigger 'internal': matched, so the tag is blocked"):
        assert_tag_fired(report, "TikTok - purchase")


def test_assert_tag_fired_on_an_unknown_tag_lists_the_tags() -> None:
    report = hit(shop(), "en=purchase&epn.value=30")
    with pytest.raises(AssertionError, match="no tag named 'TikTok' in the report; its tags: 'TikTok - purchase', "
                                             "'TikTok - cart'"):
        assert_tag_fired(report, "TikTok")


def test_assert_tag_fired_on_a_refused_request_gives_the_reason() -> None:
    report = shop().simulate("GET", "/g/collect?tid=G-1&en=purchase", now=NOW)
    with pytest.raises(AssertionError) as info:
        assert_tag_fired(report, "TikTok - purchase")
    assert "-> 400 (client: none claimed it); no client claimed the request" in str(info.value)
    assert "no events: the request was refused" in str(info.value)


def test_assert_tag_not_fired_names_the_events_it_fired_on() -> None:
    container = shop()
    assert_tag_not_fired(hit(container, "en=page_view"), "TikTok - purchase")
    report = container.simulate("POST", "/g/collect?v=2&tid=G-1&cid=1.2",
                                body="en=page_view\nen=purchase&epn.value=50", now=NOW)
    with pytest.raises(AssertionError) as info:
        assert_tag_not_fired(report, "TikTok - purchase")
    message = str(info.value)
    assert message.startswith("tag 'TikTok - purchase' fired on event 1 (\"purchase\"), expected it not to fire")
    assert 'event 0 ("page_view"):' in message and 'event 1 ("purchase"):' in message


# ---------------------------------------------------------------------------------------------- payload


def test_assert_payload_subset_and_paths() -> None:
    report = hit(shop(), "en=purchase&epn.value=30&cu=EUR")
    assert_payload(report, "TikTok - purchase", {"event_source": "web", "data": [{"event": "CompletePayment"}]})
    assert_payload(report, "TikTok - purchase", paths={"data[0].properties": {"currency": "EUR", "value": 30},
                                                       "event_source_id": PIXEL_OK})


def test_assert_payload_failure_lists_each_difference() -> None:
    report = hit(shop(), "en=purchase&epn.value=30&cu=EUR")
    with pytest.raises(AssertionError) as info:
        assert_payload(report, "TikTok - purchase", paths={"data[0].properties.currency": "USD",
                                                           "data[0].properties.coupon": "X"})
    lines = str(info.value).splitlines()
    assert lines[0] == "no request of tag 'TikTok - purchase' has the expected payload"
    assert lines[1].startswith('  request 1 of 1 (event 0 "purchase", POST https://business-api.tiktok.com/')
    assert lines[2:] == ['    $.data[0].properties.currency: expected "USD", got "EUR"',
                         '    $.data[0].properties.coupon: missing (expected "X")']


def test_assert_payload_when_the_tag_sent_nothing_explains_why() -> None:
    report = hit(shop(), "en=page_view")
    with pytest.raises(AssertionError) as info:
        assert_payload(report, "TikTok - purchase", {"event_source": "web"})
    assert str(info.value).startswith("tag 'TikTok - purchase' sent no request\n")
    assert '✗ {{Event Name}} equals "purchase": false (left "page_view", right "purchase")' in str(info.value)


def test_assert_payload_needs_something_to_compare() -> None:
    report = hit(shop(), "en=purchase&epn.value=30")
    with pytest.raises(TypeError):
        assert_payload(report, "TikTok - purchase")
    with pytest.raises(PathSyntaxError):
        assert_payload(report, "TikTok - purchase", paths={"data[": 1})


# ---------------------------------------------------------------------------------------------- vendor, status


def test_assert_vendor_ok_shows_the_vendor_answer() -> None:
    container = shop()
    assert_vendor_ok(hit(container, "en=purchase&epn.value=30"), "TikTok - purchase")
    report = hit(container, "en=add_to_cart")  # its pixel is not allowed for the token: TikTok says 40001
    assert report.fired("TikTok - cart")
    with pytest.raises(AssertionError) as info:
        assert_vendor_ok(report, "TikTok - cart")
    message = str(info.value)
    assert message.startswith("expected the vendor to accept the requests of tag 'TikTok - cart'")
    assert '-> 200 {"code": 40001' in message and ": refused" in message


def test_assert_vendor_ok_when_the_tag_did_not_fire() -> None:
    with pytest.raises(AssertionError, match="tag 'TikTok - purchase' sent no request to a vendor"):
        assert_vendor_ok(hit(shop(), "en=page_view"), "TikTok - purchase")


def test_assert_status() -> None:
    container = shop()
    assert_status(hit(container, "en=page_view"), 204)
    with pytest.raises(AssertionError, match="expected response status 204, got 400"):
        assert_status(container.simulate("GET", "/elsewhere", now=NOW), 204)


def test_describe_report_shows_a_failed_tag_with_its_error() -> None:
    # a transport with no vendor mounted: the request gets no answer and the tag fails
    report = hit(load_container(copy.deepcopy(SHOP), transport=MockTransport()), "en=purchase&epn.value=30")
    text = describe_report(report)
    tag = report.tag_results("TikTok - purchase")[0]
    assert tag.status == "failure" and tag.error
    assert f"'TikTok - purchase' (tiktok_events_api): failure\n    error: {tag.error}" in text
    assert "event/track/ -> no answer (failed: no mock vendor for host 'business-api.tiktok.com'" in text


# ---------------------------------------------------------------------------------------------- server


def test_emulator_server_serves_the_container_and_stops() -> None:
    container = shop()
    with EmulatorServer(container) as server:
        assert server.url.startswith("http://127.0.0.1:")
        resp = requests.get(server.url + "/g/collect?v=2&tid=G-1&cid=1.2&en=purchase&epn.value=30", timeout=5)
        assert resp.status_code == 204
        assert requests.get(server.url + "/healthz", timeout=5).text == "ok\n"
        assert len(server.reports) == 1  # the health check is not a container request
        assert_tag_fired(server.last_report, "TikTok - purchase")
        assert [e.event["event"] for e in container.tiktok_mock.events] == ["CompletePayment"]
        url = server.url
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/healthz", timeout=2)
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url


def test_emulator_server_last_report_before_any_request() -> None:
    server = EmulatorServer(shop())
    with pytest.raises(AssertionError, match="no container request yet"):
        _ = server.last_report
