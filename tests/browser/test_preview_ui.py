"""The Preview UI in a real headless Chromium: hits sent to a live server show up without a reload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import rejecting_container
from playwright.sync_api import expect

from gtm_emulator.server.app import current_container, set_container

pytestmark = pytest.mark.browser

PURCHASE = "/g/collect?v=2&tid=G-TEST&cid=1.2&en=purchase&cu=EUR&epn.value=10"
PAGE_VIEW = "/g/collect?v=2&tid=G-TEST&cid=1.2&en=page_view"
TAG = "TikTok - purchase"


def send(server: Any, path: str) -> int:
    """Send a hit; return the id the store gave it (it is stored before the response returns)."""
    status, _ = server.get(path)
    assert status == 204
    return int(server.api("/requests?limit=1")["requests"][0]["id"])


def wait_for_detail(page: Any, request_id: int) -> None:
    expect(page.locator("#detail-heading")).to_contain_text(f"#{request_id}:")


def open_card(card: Any) -> None:
    card.locator(":scope > summary").first.click()
    assert card.get_attribute("open") is not None


def test_fired_and_not_fired_with_outgoing(live_server: Any, page: Any, artifacts: Path) -> None:
    page.goto(live_server.base_url + "/_emulator/")
    page.get_by_role("heading", name="Requests").wait_for()
    assert page.locator("#empty").is_visible()

    purchase_id = send(live_server, PURCHASE)
    page_view_id = send(live_server, PAGE_VIEW)

    # Both appear without a reload, newest first, each with its event.
    page.locator(f'.ev-btn[data-request-id="{page_view_id}"]').wait_for()
    page.locator(f'.ev-btn[data-request-id="{purchase_id}"]').wait_for()
    items = page.locator("#request-list > li")
    assert items.count() == 2
    assert items.nth(0).get_attribute("data-request-id") == str(page_view_id)
    assert "purchase" in page.locator(f'.ev-btn[data-request-id="{purchase_id}"]').inner_text()
    assert page.locator("#empty").is_hidden()
    expect(page.locator('[data-total="requests"]')).to_have_text("2")

    # The purchase event: the TikTok tag fired and succeeded, every condition ticked.
    page.locator(f'.ev-btn[data-request-id="{purchase_id}"]').click()
    tags_tab = page.get_by_role("tab", name="Tags")
    wait_for_detail(page, purchase_id)
    assert tags_tab.get_attribute("aria-selected") == "true"
    fired = page.locator("#panel-tags .tags-fired")
    assert "Succeeded: 1 · Failed: 0" in fired.locator("h3").inner_text()
    card = fired.locator(f'details[data-tag="{TAG}"]')
    assert card.get_attribute("data-status") == "success"
    assert page.locator(f'#panel-tags .tags-not-fired details[data-tag="{TAG}"]').count() == 0
    open_card(card)
    rows = card.locator("table.conditions tbody tr")
    assert rows.count() == 2
    assert card.locator('tr[data-result="false"]').count() == 0
    assert rows.nth(1).locator(".actual").inner_text() == '"purchase"'
    page.screenshot(path=str(artifacts / "purchase-tags-fired.png"), full_page=True)

    # The outgoing TikTok request: payload, the vendor's answer, the token masked.
    page.get_by_role("tab", name="Request").click()
    assert page.get_by_role("tab", name="Request").get_attribute("aria-selected") == "true"
    assert page.locator("#panel-tags").is_hidden()
    outgoing = page.locator("#panel-request details.outgoing")
    assert outgoing.count() == 1
    assert "✓ Accepted by vendor" in outgoing.locator(":scope > summary").inner_text()
    open_card(outgoing)
    payload = json.loads(outgoing.locator("pre.payload").inner_text())
    assert payload["event_source_id"] == "CEMULATOR0PIXEL00001"
    assert payload["data"][0]["event"] == "CompletePayment"
    assert payload["data"][0]["properties"]["value"] == 10
    answer = json.loads(outgoing.locator("pre.vendor-response").inner_text())
    assert answer["code"] == 0 and answer["message"] == "OK"
    headers_text = outgoing.locator("table").first.inner_text()
    assert "Access-Token" in headers_text and "****" in headers_text
    assert "3e0c3fd7f678648665e3b09eb2a045339905fd2b" not in page.content()
    page.screenshot(path=str(artifacts / "purchase-outgoing.png"), full_page=True)

    # The page_view event: the tag did not fire; the Event Name condition is marked ✗ with both operands.
    page.locator(f'.ev-btn[data-request-id="{page_view_id}"]').click()
    wait_for_detail(page, page_view_id)
    assert tags_tab.get_attribute("aria-selected") == "true"
    assert "No tag fired" in page.locator("#panel-tags .tags-fired").inner_text()
    card = page.locator(f'#panel-tags .tags-not-fired details[data-tag="{TAG}"]')
    assert card.get_attribute("data-status") == "not_fired"
    summary_text = card.locator(":scope > summary").inner_text()
    assert "{{Event Name}} equals \"purchase\"" in summary_text and '"page_view"' in summary_text
    open_card(card)
    failing = card.locator('tr[data-result="false"]')
    assert failing.count() == 1
    assert failing.locator(".mark").inner_text() == "✗"
    assert failing.locator("td").nth(1).inner_text() == "{{Event Name}}"
    assert failing.locator(".expected").inner_text() == '"purchase"'
    assert failing.locator(".actual").inner_text() == '"page_view"'
    passing = card.locator('tr[data-result="true"]')
    assert passing.count() == 1 and passing.locator(".mark").inner_text() == "✓"
    page.screenshot(path=str(artifacts / "page-view-tag-not-fired.png"), full_page=True)

    # The other tabs show the selected event.
    page.get_by_role("tab", name="Event Data").click()
    assert '"event_name": "page_view"' in page.locator("#panel-event pre").inner_text()
    page.get_by_role("tab", name="Variables").click()
    variables = page.locator("#panel-variables").inner_text()
    assert "Event Name" in variables and "page_view" in variables and "****" in variables
    page.get_by_role("tab", name="Console").click()
    assert page.locator("#panel-console").is_visible()


def test_vendor_rejection_is_marked(live_server: Any, page: Any, artifacts: Path) -> None:
    page.goto(live_server.base_url + "/_emulator/")
    page.locator("#request-list > li").first.wait_for()
    original = current_container(live_server.app)
    set_container(live_server.app, rejecting_container())
    try:
        rejected_id = send(live_server, PURCHASE)
    finally:
        set_container(live_server.app, original)

    button = page.locator(f'.ev-btn[data-request-id="{rejected_id}"]')
    button.wait_for()
    assert "rejected by vendor" in button.inner_text()
    expect(page.locator('[data-total="tags_rejected_by_vendor"]')).to_have_text("1")
    button.click()
    wait_for_detail(page, rejected_id)

    card = page.locator(f'#panel-tags .tags-fired details[data-tag="{TAG}"]')
    assert card.get_attribute("data-status") == "success"  # GTM's own status stays "success"...
    assert "✗ Rejected by vendor" in card.locator(":scope > summary").inner_text()  # ...but the rejection is marked
    assert "Rejected by vendor: 1" in page.locator("#panel-tags .tags-fired h3").inner_text()
    open_card(card)
    assert "refused its data" in card.locator(".callout.bad").first.inner_text()
    page.screenshot(path=str(artifacts / "vendor-rejected-tag.png"), full_page=True)

    page.get_by_role("tab", name="Request").click()
    outgoing = page.locator("#panel-request details.outgoing")
    assert "✗ Rejected by vendor" in outgoing.locator(":scope > summary").inner_text()
    open_card(outgoing)
    callout = outgoing.locator(".callout.bad").inner_text()
    assert "HTTP 200" in callout and "40001" in callout
    assert json.loads(outgoing.locator("pre.vendor-response").inner_text())["code"] == 40001
    page.screenshot(path=str(artifacts / "vendor-rejected-outgoing.png"), full_page=True)
