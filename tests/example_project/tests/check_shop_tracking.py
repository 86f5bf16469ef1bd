"""The shop's tracking tests, written against the gtm-emulator pytest plugin (no conftest needed).

The plugin gives the fixtures ``gtm_container`` (the container named in pyproject.toml),
``tiktok_mock`` and ``emulator_server``; gtm_emulator.harness.assertions gives the assertions.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtm_emulator.harness.assertions import (
    assert_payload,
    assert_status,
    assert_tag_fired,
    assert_tag_not_fired,
    assert_vendor_ok,
)

NOW = 1_700_000_000
HIT = "/g/collect?v=2&tid=G-SHOP01&cid=555.1700000000"


def test_purchase_reaches_tiktok(gtm_container: Any, tiktok_mock: Any) -> None:
    report = gtm_container.simulate("GET", f"{HIT}&en=purchase&cu=EUR&epn.value=59.8", now=NOW,
                                    remote_addr="203.0.113.20")
    assert_status(report, 204)
    assert_tag_fired(report, "TikTok - purchase")
    assert_tag_not_fired(report, "TikTok - add to cart")
    assert_payload(report, "TikTok - purchase", {"event_source": "web", "event_source_id": "CSHOPEXAMPLE00000001"},
                   paths={"data[0].event": "CompletePayment", "data[0].event_time": NOW,
                          "data[0].properties": {"currency": "EUR", "value": 59.8}})
    assert_vendor_ok(report, "TikTok - purchase")
    # what the mock TikTok Events API accepted
    assert [(e.pixel_code, e.event["event"]) for e in tiktok_mock.events] == [
        ("CSHOPEXAMPLE00000001", "CompletePayment")]


def test_page_views_send_nothing(gtm_container: Any, tiktok_mock: Any) -> None:
    report = gtm_container.simulate("GET", f"{HIT}&en=page_view", now=NOW)
    assert_tag_not_fired(report, "TikTok - purchase")
    assert_tag_not_fired(report, "TikTok - add to cart")
    assert tiktok_mock.events == []


def test_internal_traffic_is_blocked(gtm_container: Any) -> None:
    dl = quote("https://shop.internal/checkout", safe="")
    report = gtm_container.simulate("GET", f"{HIT}&en=purchase&dl={dl}", now=NOW)
    assert_tag_not_fired(report, "TikTok - purchase")
    assert report.tag_results("TikTok - purchase")[0].status == "blocked"


def test_batched_hit_over_http(emulator_server: Any, tiktok_mock: Any) -> None:
    body = "en=add_to_cart&cu=EUR&epn.value=29.9\nen=purchase&cu=EUR&epn.value=29.9"
    response = requests.post(emulator_server.url + HIT, data=body, timeout=5)
    assert response.status_code == 204
    report = emulator_server.last_report
    assert_tag_fired(report, "TikTok - add to cart")
    assert_tag_fired(report, "TikTok - purchase")
    assert sorted(e.event["event"] for e in tiktok_mock.events) == ["AddToCart", "CompletePayment"]


@pytest.mark.gtm_container(None)
def test_the_bundled_default_container_too(gtm_container: Any) -> None:
    report = gtm_container.simulate("GET", f"{HIT}&en=purchase", now=NOW)
    assert_tag_fired(report, "TikTok - purchase")
    assert gtm_container.name != "Shop: GA4 to TikTok"


EVENT_NAMES = st.one_of(
    st.sampled_from(["purchase", "add_to_cart", "page_view", "Purchase", "purchase ", "view_item"]),
    st.text(min_size=1, max_size=20),
)


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=EVENT_NAMES)
def test_each_tag_fires_exactly_on_its_event(gtm_container: Any, name: str) -> None:
    report = gtm_container.simulate("GET", f"{HIT}&en={quote(name, safe='')}", now=NOW)
    assert report.fired("TikTok - purchase") == (name == "purchase")
    assert report.fired("TikTok - add to cart") == (name == "add_to_cart")
