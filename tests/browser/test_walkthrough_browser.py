"""The setup walkthrough in real headless Chromium: the four steps and the live purchase, in English
and Dutch, and the form errors for an empty pixel code and a malformed token. Screenshots go to
``$GTM_EMULATOR_ARTIFACTS/walkthrough/`` (a temporary folder when that is not set)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import artifacts_dir
from playwright.sync_api import Page, expect, sync_playwright

from gtm_emulator.loading.config import load_container, validate_file
from gtm_emulator.walkthrough import PREFIX, translate
from gtm_emulator.walkthrough._testing import LiveDemo, launch_chromium, live_demo
from gtm_emulator.walkthrough.workspace import STARTING_PIXEL_CODE

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[LiveDemo]:
    with live_demo(tmp_path / "workspace") as running:
        yield running


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    context.set_default_timeout(10_000)
    pg = context.new_page()
    yield pg
    context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(artifacts_dir("walkthrough") / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_four_steps_and_the_live_purchase(page: Page, demo: LiveDemo, lang: str) -> None:
    def t(key: str, **values: Any) -> str:
        return translate(lang, key, **values)

    page.goto(demo.url(f"{PREFIX}/?lang=en"))
    if lang != "en":
        page.click(f"#lang-{lang}")  # the toggle on the page
    expect(page.locator("h1")).to_have_text(t("index_heading"))
    shot(page, f"{lang}-0-overview")

    # step 1: the tag template
    page.click("#start")
    expect(page.locator("#template-fields")).to_contain_text("Pixel ID")
    expect(page.locator("#template-fields")).to_contain_text("Access Token")
    page.click("#add-template")
    expect(page.locator("#template-added")).to_contain_text(t("added_to_workspace"))
    expect(page.locator("#nav-template .check")).to_be_visible()
    shot(page, f"{lang}-1-tag-template")

    # step 2: the access token, shown once
    page.click("#next")
    page.click(f"[data-generate='{STARTING_PIXEL_CODE}']")
    token = page.locator("#token-value").inner_text().strip()
    assert len(token) == 40
    expect(page.locator("#token-reveal")).to_contain_text(t("token_shown_once"))
    shot(page, f"{lang}-2-access-token")

    # step 3: the tag, with the token pasted in
    page.click("#next")
    expect(page.locator("#p_pixel_code")).to_have_value(STARTING_PIXEL_CODE)
    page.fill("#tag_name", "TikTok - purchase")
    page.uncheck("#use_generated")
    page.fill("#p_access_token", token)
    page.click("#save-tag")
    expect(page.locator("#notice")).to_have_text(t("tag_saved_notice"))
    shot(page, f"{lang}-3-tiktok-tag")

    # step 4: the trigger, with GTM's operator choices
    page.click("#next")
    page.fill("#trigger_name", "GA4 purchase")
    page.check("#some_events")
    rows = page.locator(".condition")
    rows.nth(0).locator("select").nth(0).select_option("Client Name")
    rows.nth(0).locator("select").nth(1).select_option(label=t("op_equals"))
    rows.nth(0).locator("input").fill("GA4")
    rows.nth(1).locator("select").nth(0).select_option("Event Name")
    rows.nth(1).locator("select").nth(1).select_option(label=t("op_equals"))
    rows.nth(1).locator("input").fill("purchase")
    shown = rows.count()
    page.click("#add-condition")  # an extra, empty row is left out when saving
    expect(rows).to_have_count(shown + 1)
    page.click("#save-trigger")
    expect(page.locator("#notice")).to_have_text(t("trigger_saved_notice", tag="TikTok - purchase"))
    shot(page, f"{lang}-4-trigger")

    # the files are ordinary, valid container files
    assert validate_file(demo.workspace.container_path) == []
    assert load_container(demo.workspace.container_path).tags[0].firing_triggers == ["GA4 purchase"]

    # the live purchase, sent by the browser to the server
    page.click("#next")
    expect(page.locator("#missing-steps")).to_have_count(0)
    page.fill("#test_email", " Jan.Jansen@Example.nl")
    page.click("#send-test")
    purchase = page.locator(".event-result[data-event='purchase']")
    page_view = page.locator(".event-result[data-event='page_view']")
    expect(purchase.locator(".fired-badge")).to_have_text(t("tag_fired"))
    expect(purchase.locator(".payload")).to_contain_text("CompletePayment")
    email_hash = hashlib.sha256(b"jan.jansen@example.nl").hexdigest()
    expect(purchase.locator("[data-hashed='email'] .hash")).to_have_text(email_hash)
    expect(purchase.locator(".payload mark[data-points-to='email']")).to_contain_text(email_hash)
    expect(purchase.locator("[data-hashed='email'] .verified")).to_contain_text(
        t("hashed_verified", normalised="jan.jansen@example.nl"))
    expect(purchase.locator(".answer-code")).to_have_text("0")
    expect(purchase.locator(".answer-message")).to_have_text("OK")
    expect(page_view.locator(".not-fired-badge")).to_have_text(t("tag_not_fired"))
    expect(page_view.locator(".failed-condition")).to_have_text(t(
        "reason_condition", trigger="GA4 purchase", variable="Event Name", operator=t("op_equals"),
        right="purchase", left="page_view"))
    expect(page.locator("#sent-hits li")).to_have_count(2)
    shot(page, f"{lang}-5-test-purchase")

    mock = demo.app.extensions["gtm_walkthrough"].mock()
    assert [e.event["event"] for e in mock.events] == ["CompletePayment"]
    assert mock.events[0].event["user"]["email"] == email_hash


def test_form_errors_for_empty_pixel_code_and_malformed_token(page: Page, demo: LiveDemo) -> None:
    def t(key: str) -> str:
        return translate("en", key)

    page.goto(demo.url(f"{PREFIX}/step/1?lang=en"))
    page.click("#add-template")
    page.click("#next")
    page.click(f"[data-generate='{STARTING_PIXEL_CODE}']")
    page.click("#next")
    expect(page.locator("#use_generated")).to_be_checked()
    before = json.loads(demo.workspace.container_path.read_text())

    page.fill("#p_pixel_code", "")
    page.click("#save-tag")
    pixel_field = page.locator("[data-field='pixel_code']")
    expect(pixel_field.locator(".error")).to_have_text(t("error_pixel_required"))
    expect(page.locator("#p_pixel_code")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("[data-field='access_token'] .error")).to_have_count(0)
    shot(page, "en-error-empty-pixel-code")

    page.fill("#p_pixel_code", STARTING_PIXEL_CODE)
    page.uncheck("#use_generated")
    page.fill("#p_access_token", "not-a-real-token")
    page.click("#save-tag")
    expect(page.locator("[data-field='access_token'] .error")).to_have_text(t("error_token_malformed"))
    expect(page.locator("[data-field='pixel_code'] .error")).to_have_count(0)
    shot(page, "en-error-malformed-token")
    assert json.loads(demo.workspace.container_path.read_text()) == before

    # reset (confirmed in the browser's dialog) brings the starting state back
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reset")
    expect(page.locator("#notice")).to_have_text(t("reset_done"))
    assert not demo.workspace.template_path.exists()
