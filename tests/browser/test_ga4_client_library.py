"""A GA4 client library from the npm registry, in a real Chromium, sends hits to ``serve``.

The page loads ``@analytics-debugger/ga4mp`` (``.ci/run`` installs it; ``GA4MP_JS`` may point at
another copy of ``dist/ga4mp.umd.min.js``) and tracks a ``view_item`` against the live server. The
event data the GA4 client builds is compared with expectations written from event data that real
sGTM containers recorded (docs/clients.md, "Evidence"): the key names and types, ``client_hints``
with all eight ``ua*`` fields followed by ``brands`` from the ``Sec-CH-UA`` header,
``x-sst-system_properties.request_start_time_ms``, items with ``item_category2``..``5``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
GA4MP = Path(os.environ.get("GA4MP_JS") or ROOT / "node_modules/@analytics-debugger/ga4mp/dist/ga4mp.umd.min.js")

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Linen Shirt – Shop</title><script src="/static/ga4mp.js"></script></head>
<body><h1>Linen Shirt</h1><script>
  const tracker = ga4mp(["G-BROWSER1"], {client_id: "1234567890.1716800000", session_id: "1716800001",
                                         session_number: 3, endpoint: "%(base)s/g/collect"});
  tracker.trackEvent("view_item", {currency: "EUR", value: 40.95, items: [{
    item_id: "SKU_1042", item_name: "Linen Shirt", item_category: "Men", item_category2: "Shirts",
    item_category3: "2024 collection", price: 40.95, quantity: 1, color: "blue"}]});
</script></body></html>"""


@pytest.fixture(scope="module")
def library() -> str:
    if not GA4MP.is_file():
        pytest.skip(f"{GA4MP} is missing: .ci/run installs @analytics-debugger/ga4mp from the npm registry")
    return GA4MP.read_text(encoding="utf-8")


def _wait_for_hit(server: Any, measurement_id: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for summary in server.api("/requests?limit=20")["requests"]:
            detail = server.api(f"/requests/{summary['id']}")
            if f"tid={measurement_id}" in detail["request"]["query"]:
                return detail
        time.sleep(0.1)
    raise AssertionError(f"no hit for {measurement_id} reached the server within {timeout} s")


def test_ga4mp_in_chromium_gives_the_event_data_sgtm_records(live_server: Any, page: Any, library: str) -> None:
    base = live_server.base_url
    page.route(base + "/shop/linen-shirt", lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=PAGE % {"base": base}))
    page.route(base + "/static/ga4mp.js", lambda route: route.fulfill(
        status=200, content_type="text/javascript", body=library))
    page.goto(base + "/shop/linen-shirt")
    browser = page.evaluate("""async () => {
        const ua = navigator.userAgentData;
        const high = await ua.getHighEntropyValues(["architecture", "bitness", "fullVersionList", "platform",
                                                    "platformVersion"]);
        return {userAgent: navigator.userAgent, brands: ua.brands, mobile: ua.mobile, high: high,
                screen: screen.width + "x" + screen.height, language: navigator.language.toLowerCase()};
    }""")
    detail = _wait_for_hit(live_server, "G-BROWSER1")
    assert detail["request"]["method"] == "POST" and detail["status"] == 204  # sendBeacon
    [event] = detail["events"]
    data = event["event_data"]

    start = data["x-sst-system_properties"].pop("request_start_time_ms")
    assert isinstance(start, int) and abs(start / 1000 - time.time()) < 60
    assert data.pop("x-sst-system_properties") == {}

    high = browser["high"]
    expected = {
        "x-ga-protocol_version": "2",
        "x-ga-measurement_id": "G-BROWSER1",
        "client_id": "1234567890.1716800000",
        "x-ga-request_count": 1,
        "ga_session_id": "1716800001",
        "ga_session_number": 3,
        "page_location": base + "/shop/linen-shirt",
        "page_referrer": "",
        "page_title": "Linen Shirt – Shop",
        "language": browser["language"],
        "screen_resolution": browser["screen"],
        "x-ga-mp2-seg": "1",
        "currency": "EUR",
        "event_name": "view_item",
        "client_hints": {
            "architecture": high["architecture"],
            "bitness": high["bitness"],
            # ga4mp encodes the joined list once more than gtag does, so no separator survives the
            # first decoding: read as gtag's encoding, the list is one brand with no version
            "full_version_list": [{"brand": "|".join(f"{b['brand']};{b['version']}" for b in high["fullVersionList"]),
                                   "version": ""}],
            "mobile": browser["mobile"],
            "model": "0",  # ga4mp sends userAgentData.mobile (false -> 0) when the model is empty
            "platform": high["platform"],
            "platform_version": high["platformVersion"],
            "wow64": False,
            "brands": [{"brand": b["brand"], "version": b["version"]} for b in browser["brands"]],
        },
        "items": [{"item_id": "SKU_1042", "item_name": "Linen Shirt", "item_category": "Men",
                   "item_category2": "Shirts", "item_category3": "2024 collection", "price": 40.95, "quantity": 1,
                   "color": "blue"}],
        "value": 40.95,
        "ip_override": "127.0.0.1",
        "user_agent": browser["userAgent"],
    }
    assert data == expected
    assert any("uafvl" in w and "no ';'" in w for w in detail["warnings"])
