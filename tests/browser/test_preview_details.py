"""Preview in headless Chromium, as Tag Assistant shows a container: its ID and version, each tag's
configured properties, every variable with its type and the built-ins, a vendor's rejection said
once and apart from other warnings, console lines that wrap, an unclaimed request said once."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from helpers import rejecting_container
from playwright.sync_api import expect

from gtm_emulator.core.variables import BUILTINS
from gtm_emulator.server.app import current_container, set_container

pytestmark = pytest.mark.browser

TAG = "TikTok - purchase"
SECRET = "3e0c3fd7f678648665e3b09eb2a045339905fd2b"  # the bundled container's access token
PURCHASE = "/g/collect?v=2&tid=G-TEST&cid=1.2&en=purchase&cu=EUR&epn.value=10"


def send(server: Any, path: str, expect_status: int = 204) -> int:
    try:
        status, _ = server.get(path)
    except Exception as exc:  # urllib raises for 4xx
        status = getattr(exc, "code", None)
    assert status == expect_status
    return int(server.api("/requests?limit=1")["requests"][0]["id"])


def open_event(page: Any, request_id: int) -> None:
    page.locator(f'.ev-btn[data-request-id="{request_id}"]').first.click()
    expect(page.locator("#detail-heading")).to_contain_text(f"#{request_id}:")


def test_container_version_tag_properties_and_every_variable(live_server: Any, page: Any, artifacts: Path) -> None:
    page.goto(live_server.base_url + "/_emulator/")
    meta = page.locator("#container-meta")
    expect(meta.locator("[data-meta='id']")).to_have_text("ID GTM-EMULATOR")
    expect(meta.locator("[data-meta='version']")).to_have_text("Version 1")
    expect(meta.locator("[data-meta='counts']")).to_have_text("2 clients, 1 tag, 1 trigger, 2 variables")

    rid = send(live_server, PURCHASE)
    open_event(page, rid)
    card = page.locator(f'#panel-tags details[data-tag="{TAG}"]')
    card.locator(":scope > summary").click()
    props = card.locator("table.properties")
    pixel = props.locator("tr[data-property='pixel_code'] td")
    expect(pixel.nth(1)).to_have_text("{{TikTok pixel code}}")
    expect(pixel.nth(2)).to_have_text("CEMULATOR0PIXEL00001")
    expect(props.locator("tr[data-property='access_token'] td").nth(2)).to_have_text("****")
    expect(props.locator("tr[data-property='event'] td").nth(2)).to_have_text("purchase")
    expect(props.locator("tr[data-property='profile'] td").nth(1)).to_have_text("tiktok-official")
    expect(card.locator("[data-note='changed']")).to_have_count(0)  # ran on the container it describes

    page.get_by_role("tab", name="Variables").click()
    table = page.locator("#panel-variables table.variables")
    constant = table.locator("tr[data-variable='TikTok pixel code'] td")
    expect(constant.nth(1)).to_have_text("constant")
    expect(constant.nth(2)).to_have_text("CEMULATOR0PIXEL00001")
    expect(table.locator("tr[data-variable='TikTok access token'] td").nth(2)).to_have_text("****")
    builtins = [name for name in BUILTINS if not name.startswith("_")]
    expect(table.locator("tr[data-type='Built-in']")).to_have_count(len(builtins))
    path_row = table.locator("tr[data-variable='Request Path'] td")
    expect(path_row.nth(1)).to_have_text("Built-in")
    expect(path_row.nth(2)).to_have_text("/g/collect")  # a built-in no trigger or tag used still has its value
    expect(table.locator("tr[data-variable='Container Version'] td").nth(2)).to_have_text("1")
    expect(table.locator("tr[data-variable='Page URL'] td").nth(2)).to_have_text("undefined")
    assert SECRET not in page.content()
    page.screenshot(path=str(artifacts / "variables-tab.png"), full_page=True)


def test_rejection_banner_is_not_joined_with_other_warnings(live_server: Any, page: Any, artifacts: Path) -> None:
    page.goto(live_server.base_url + "/_emulator/")
    original = current_container(live_server.app)
    set_container(live_server.app, rejecting_container())
    try:  # an e-mail with a space in front: a warning of its own, unrelated to the rejection
        rid = send(live_server, PURCHASE + "&ep.email=" + quote(" Klant@Example.nl"))
    finally:
        set_container(live_server.app, original)
    open_event(page, rid)
    card = page.locator(f'#panel-tags details[data-tag="{TAG}"]')
    card.locator(":scope > summary").click()
    banner = card.locator(".callout.rejection")
    expect(banner).to_have_count(1)
    expect(banner).to_contain_text("code 40001")
    assert "whitespace" not in banner.inner_text()
    warnings = card.locator(".card-body > .callout.warn")
    expect(warnings).to_have_count(1)
    expect(warnings).to_have_text("user email has surrounding whitespace before hashing")
    assert "40001" not in warnings.inner_text()
    notes = card.locator(".card-body > .callout.info")
    expect(notes.first).to_contain_text("legacy TikTok event name 'CompletePayment'")
    # the container was swapped back after this request: its properties are today's, and Preview says so
    expect(card.locator("[data-note='changed']")).to_have_count(1)
    page.screenshot(path=str(artifacts / "rejection-banner.png"), full_page=True)


def test_console_lines_wrap(live_server: Any, page: Any) -> None:
    page.goto(live_server.base_url + "/_emulator/")
    rid = send(live_server, PURCHASE + "&dl=" + quote("https://shop.example/" + "x" * 3000))  # in the logged body
    open_event(page, rid)
    page.get_by_role("tab", name="Console").click()
    lines = page.locator("#panel-console .console li")
    expect(lines.first).to_be_visible()
    assert max(len(text) for text in lines.all_inner_texts()) > 2000  # a long line is there...
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width  # ...and the page does not grow sideways


def test_an_unclaimed_request_is_said_once(live_server: Any, page: Any) -> None:
    page.goto(live_server.base_url + "/_emulator/")
    rid = send(live_server, "/not-a-tracking-path", expect_status=400)
    button = page.locator(f'.req-btn[data-request-id="{rid}"]')
    button.click()
    expect(page.locator("#detail-heading")).to_contain_text(f"#{rid}:")
    client = page.locator("#panel-request p").first
    text = client.inner_text()
    assert text.startswith("No client claimed this request")
    assert text.lower().count("no client claimed") == 1, text
    assert "GA4" in text  # the client's own reason is kept
    listed = page.locator(f'li[data-request-id="{rid}"] .ev-none').inner_text()
    assert listed.lower().count("no client claimed") == 1, listed


def test_a_rerun_that_disagrees_and_a_request_without_explanation_are_said(live_server: Any, page: Any,
                                                                          artifacts: Path) -> None:
    agreeing = send(live_server, PURCHASE)
    disagreeing = send(live_server, PURCHASE + "&ep.event_id=E2")
    with live_server.store._conn() as conn:  # the record says the tag failed: the re-run will not agree
        summary = conn.execute("SELECT summary FROM requests WHERE id = ?", (disagreeing,)).fetchone()[0]
        conn.execute("UPDATE requests SET summary = ? WHERE id = ?",
                     (summary.replace('"success"', '"failure"'), disagreeing))
    unexplained = send(live_server, PURCHASE + "&ep.event_id=E3")
    with live_server.store._conn() as conn:  # as if it ran on a configuration no longer loaded
        conn.execute("UPDATE requests SET report = ? WHERE id = ?",
                     ('{"rerun": {"now": 1700000000.0, "container": "0000000000000000"}}', unexplained))
    page.goto(live_server.base_url + "/_emulator/")
    open_event(page, agreeing)
    expect(page.locator("#detail-notes .callout")).to_have_count(0)
    open_event(page, disagreeing)
    bad = page.locator("#detail-notes .callout.bad")
    expect(bad).to_contain_text(f"tag '{TAG}' was failure, now success")
    expect(page.locator(f'#panel-tags details[data-tag="{TAG}"]')).to_have_attribute("data-status", "failure")
    page.screenshot(path=str(artifacts / "rerun-disagrees.png"), full_page=True)
    open_event(page, unexplained)
    expect(page.locator("#detail-notes .callout.warn")).to_contain_text("another configuration")
    page.get_by_role("tab", name="Request").click()
    expect(page.locator("#panel-request")).to_contain_text("ep.event_id=E3")
