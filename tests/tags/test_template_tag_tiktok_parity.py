"""A tag template of our own, imported from a GTM export, posts to the mock TikTok API exactly as the
native ``tiktok-official`` tag does.

The export (tests/data/exports/tiktok_parity_export.json) holds the GA4 client, a GA4-purchase trigger
and two tags with the same fields: one running the template tests/data/templates/tiktok_events_v13.tpl
in the sandbox, one the TikTok Events API (Official) gallery template, which the importer maps to the
native tag. Both fire on the same GA4 purchase hit; the requests the mock receives are compared field by
field and byte for byte. The clock is fixed (``now``), so ``event_time`` is the same; nothing differs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import DATA, NOW

from gtm_emulator.core.report import Report
from gtm_emulator.loading.config import load_gtm_export
from gtm_emulator.loading.gtm_export import load_export
from gtm_emulator.vendors.tiktok_mock import HOST, TikTokMock
from gtm_emulator.vendors.transport import HttpResponse, MockTransport

EXPORT = DATA / "exports" / "tiktok_parity_export.json"
TEMPLATE = DATA / "templates" / "tiktok_events_v13.tpl"
PIXEL, TOKEN = "CPARITY0PIXEL0000001", "parity-token"
OWN, NATIVE = "TikTok (own template)", "TikTok (native)"

# A GA4 purchase with items, a click ID in the page URL, a same-site referrer, user-provided data,
# client hints, an event ID, a search term and the TikTok cookies.
RICH_HIT = (
    "/g/collect?v=2&tid=G-TEST&cid=555.666&en=purchase&cu=EUR&epn.value=0"
    "&dl=" + "https%3A%2F%2Fshop.example%2Fcheckout%3Fttclid%3DCLICK-123%26x%3D1"
    + "&dr=" + "https%3A%2F%2Fshop.example%2Fcart"
    + "&uid=User-7&ep.event_id=evt-42&ep.search_term=running%20shoes&ep.email=%20Ana%40Example.COM%20"
    "&uaa=x86&uab=64&uam=&uamb=0&uap=Linux&uapv=6.1&uafvl=Chromium%3B120.0.0.0%7CNot_A%20Brand%3B8.0.0.0"
    "&pr1=idSKU-1~nmTrail%20Shoe~pr59.5~qt2~caShoes~brAcme&pr2=idSKU-2~nmSock~pr4.25~qt3"
)
HEADERS = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Parity/1.0", "X-Forwarded-For": "203.0.113.9"}
COOKIES = {"_ttp": "ttp-cookie-1"}
PLAIN_HIT = "/g/collect?v=2&tid=G-TEST&cid=1.2&en=purchase&cu=USD&epn.value=12.5"


class Recorder:
    """The mock TikTok API, with every request it received kept as sent."""

    def __init__(self) -> None:
        self.mock = TikTokMock(pixels={PIXEL: {TOKEN}})
        self.received: list[dict[str, Any]] = []

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> HttpResponse:
        self.received.append({"method": method, "path": path, "headers": dict(headers), "body": body})
        return self.mock.handle(method, path, headers, body)


def fire(path: str, **kw: Any) -> tuple[Report, Recorder]:
    recorder = Recorder()
    transport = MockTransport()
    transport.mount(HOST, recorder.handle)
    container = load_gtm_export(EXPORT, transport=transport)
    report = container.simulate("GET", "https://sgtm.shop.example" + path, now=NOW, **kw)
    return report, recorder


def test_the_export_carries_the_fixture_template_unchanged() -> None:
    templates = {t["name"]: t for t in load_export(EXPORT)["containerVersion"]["customTemplate"]}
    assert templates["Test TikTok Events API v1.3"]["templateData"] == TEMPLATE.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", [RICH_HIT, PLAIN_HIT], ids=["rich", "plain"])
def test_own_template_sends_what_the_native_tag_sends(path: str) -> None:
    report, recorder = fire(path, headers=HEADERS, cookies=COOKIES)
    [event] = report.events
    statuses = {t.name: (t.type, t.status, t.vendor_rejected) for t in event.tags}
    assert statuses == {OWN: ("template", "success", False), NATIVE: ("tiktok_events_api", "success", False)}
    by_tag = {o.tag: o for o in event.outgoing}
    assert set(by_tag) == {OWN, NATIVE}
    own, native = by_tag[OWN], by_tag[NATIVE]
    # what the report shows: URL, method, headers (token masked), body, the mock's verdict
    assert (own.method, own.url) == (native.method, native.url) == \
        ("POST", "https://business-api.tiktok.com/open_api/v1.3/event/track/")
    assert own.headers == native.headers == {"Content-Type": "application/json", "Access-Token": "****"}
    assert own.vendor_ok is native.vendor_ok is True
    assert own.response is not None and native.response is not None
    assert own.response["body"]["code"] == native.response["body"]["code"] == 0
    # what the mock received, in tag order: own template first (config order), then the native tag
    assert len(recorder.received) == 2
    mine, theirs = recorder.received
    assert (mine["method"], mine["path"]) == (theirs["method"], theirs["path"])
    assert mine["headers"]["Access-Token"] == theirs["headers"]["Access-Token"] == TOKEN
    assert mine["headers"]["Content-Type"] == theirs["headers"]["Content-Type"] == "application/json"
    sent_mine, sent_theirs = json.loads(mine["body"]), json.loads(theirs["body"])
    assert_same(sent_mine, sent_theirs, "body")
    assert mine["body"] == theirs["body"]  # same fields, same order, same number formatting
    # the mock stored both events
    assert [e.event["event"] for e in recorder.mock.events] == ["CompletePayment", "CompletePayment"]
    # cookies: both write the same ttclid cookie when there is a click ID
    names = [c.name for c in report.response.set_cookies]
    assert names == (["ttclid"] if path == RICH_HIT else [])


def assert_same(mine: Any, theirs: Any, where: str) -> None:
    """Field by field, so a difference names its path."""
    if isinstance(theirs, dict):
        assert isinstance(mine, dict), where
        assert list(mine) == list(theirs), f"{where}: keys {list(mine)} != {list(theirs)}"
        for key in theirs:
            assert_same(mine[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(mine, list) and len(mine) == len(theirs), where
        for index, (a, b) in enumerate(zip(mine, theirs, strict=True)):
            assert_same(a, b, f"{where}[{index}]")
    else:
        assert (type(mine), mine) == (type(theirs), theirs), f"{where}: {mine!r} != {theirs!r}"


def test_the_rich_hit_exercises_every_part_of_the_payload() -> None:
    """The comparison above is only as good as the hit: check the payload really holds each part."""
    _, recorder = fire(RICH_HIT, headers=HEADERS, cookies=COOKIES)
    body = json.loads(recorder.received[0]["body"])
    event = body["data"][0]
    assert event["event_id"] == "evt-42"
    assert set(event["user"]) >= {"email", "external_id", "ttclid", "ttp", "ip", "user_agent"}
    assert event["user"]["ttclid"] == "CLICK-123" and event["user"]["ttp"] == "ttp-cookie-1"
    assert len(event["user"]["email"]) == 64
    assert event["page"] == {"url": "https://shop.example/checkout?ttclid=CLICK-123&x=1",
                             "referrer": "https://shop.example/cart"}
    assert event["device"]
    props = event["properties"]
    assert [c["content_id"] for c in props["contents"]] == ["SKU-1", "SKU-2"]
    assert props["value"] == 59.5 * 2 + 4.25 * 3  # summed from the items: the hit's value is 0
    assert props["query"] == "running shoes"
