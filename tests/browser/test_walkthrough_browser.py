"""The setup walkthrough in real headless Chromium, in English and Dutch: the four steps and the live
purchase, then each rough edge a newcomer or a marketer met (step 4 dropping a condition, a wrong
token, the results of a rejected purchase, the expected page_view, case-sensitive matching, the long
step 3, the token field, Dutch texts, Preview of the same test). Screenshots go to
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
from gtm_emulator.walkthrough.i18n import field_text
from gtm_emulator.walkthrough.results import DEFAULT_EMAIL
from gtm_emulator.walkthrough.workspace import STARTING_PIXEL_CODE

pytestmark = pytest.mark.browser

LANGS = ["en", "nl"]
WRONG_TOKEN = "a" * 40  # well formed, but not the one the Events Manager generated


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
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, errors


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(artifacts_dir("walkthrough") / f"{name}.png"), full_page=True)


def texts(lang: str) -> Any:
    def t(key: str, **values: Any) -> str:
        return translate(lang, key, **values)
    return t


def add_template_and_token(page: Page, demo: LiveDemo, lang: str) -> str:
    """Steps 1 and 2 in the browser; returns the generated token."""
    page.goto(demo.url(f"{PREFIX}/step/1?lang={lang}"))
    page.click("#add-template")
    page.click("#next")
    page.click(f"[data-generate='{STARTING_PIXEL_CODE}']")
    return page.locator("#token-value").inner_text().strip()


def save_tag(page: Page, demo: LiveDemo, token: str | None = None) -> None:
    """Step 3: the tag with ``token`` typed in, or the generated one (box ticked)."""
    page.goto(demo.url(f"{PREFIX}/step/3"))
    page.fill("#tag_name", "TikTok - purchase")
    page.fill("#p_pixel_code", STARTING_PIXEL_CODE)
    if token is None:
        page.check("#use_generated")
        page.fill("#p_access_token", "")
    else:
        page.uncheck("#use_generated")
        page.fill("#p_access_token", token)
    page.click("#save-tag")
    expect(page.locator("#notice")).to_be_visible()


def fill_row(page: Page, row: int, variable: str, operator: str, value: str) -> None:
    cells = page.locator(".condition").nth(row)
    cells.locator("select").nth(0).select_option(variable)
    cells.locator("select").nth(1).select_option(operator)
    cells.locator("input").fill(value)


def save_trigger(page: Page, demo: LiveDemo, event_value: str = "purchase", operator: str = "equals") -> None:
    page.goto(demo.url(f"{PREFIX}/step/4"))
    page.fill("#trigger_name", "GA4 purchase")
    page.check("#some_events")
    fill_row(page, 0, "Client Name", "equals", "GA4")
    fill_row(page, 1, "Event Name", operator, event_value)
    page.click("#save-trigger")
    expect(page.locator("#notice")).to_be_visible()


def send_test(page: Page, demo: LiveDemo, email: str | None = None) -> None:
    page.goto(demo.url(f"{PREFIX}/test"))
    if email is not None:
        page.fill("#test_email", email)
    page.click("#send-test")
    expect(page.locator(".event-result")).to_have_count(2)


@pytest.mark.parametrize("lang", LANGS)
def test_four_steps_and_the_live_purchase(page: Page, demo: LiveDemo, lang: str) -> None:
    t = texts(lang)
    page.goto(demo.url(f"{PREFIX}/?lang=en"))
    if lang != "en":
        page.click(f"#lang-{lang}")  # the toggle on the page
    expect(page.locator("h1")).to_have_text(t("index_heading"))

    # step 1: the tag template, its fields labelled in the page's language
    page.click("#start")
    pixel_label = field_text(lang, {"name": "pixel_code"})[0]
    expect(page.locator("#template-fields")).to_contain_text(pixel_label)
    page.click("#add-template")
    expect(page.locator("#template-added")).to_contain_text(t("added_to_workspace"))
    expect(page.locator("#nav-template .check")).to_be_visible()

    # step 2: the access token, shown once
    page.click("#next")
    page.click(f"[data-generate='{STARTING_PIXEL_CODE}']")
    token = page.locator("#token-value").inner_text().strip()
    assert len(token) == 40
    expect(page.locator("#token-reveal")).to_contain_text(t("token_shown_once"))

    # step 3: what a marketer fills in is on top; the rest is folded away
    page.click("#next")
    expect(page.locator("#p_pixel_code")).to_have_value(STARTING_PIXEL_CODE)
    essential = page.locator("#essential-fields [data-field]")
    assert sorted(essential.evaluate_all("els => els.map(e => e.dataset.field)")) == ["access_token", "pixel_code"]
    expect(page.locator("#more-settings")).not_to_have_attribute("open", "")
    expect(page.locator("#more-settings [data-field='event']")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollHeight") < 2000
    token_help = field_text(lang, {"name": "access_token"})[1]
    expect(page.locator("[data-field='access_token'] .help-text").first).to_have_text(token_help)
    assert "Emulator extension" not in page.content()
    shot(page, f"{lang}-3-tiktok-tag-folded")
    page.fill("#tag_name", "TikTok - purchase")
    page.uncheck("#use_generated")
    page.fill("#p_access_token", token)
    page.click("#save-tag")
    expect(page.locator("#notice")).to_have_text(t("tag_saved_notice"))
    expect(page.locator("#token-warning")).to_have_count(0)
    expect(page.locator("#nav-tag .check")).to_be_visible()

    # step 4: the trigger; after saving, exactly the saved conditions are shown (no extra empty row)
    page.click("#next")
    page.fill("#trigger_name", "GA4 purchase")
    page.check("#some_events")
    fill_row(page, 0, "Client Name", "equals", "GA4")
    fill_row(page, 1, "Event Name", "equals", "purchase")
    page.click("#add-condition")  # an extra, empty row is left out when saving
    expect(page.locator(".condition")).to_have_count(3)
    page.click("#save-trigger")
    expect(page.locator("#notice")).to_have_text(t("trigger_saved_notice", tag="TikTok - purchase"))
    expect(page.locator(".condition")).to_have_count(2)
    expect(page.locator(".hint")).to_have_count(0)
    expect(page.locator("#trigger-warnings")).to_have_count(0)
    assert validate_file(demo.workspace.container_path) == []
    assert load_container(demo.workspace.container_path).tags[0].firing_triggers == ["GA4 purchase"]

    # the live purchase: no warning on the intended path, only an info note; page_view not fired, as intended
    page.click("#next")
    expect(page.locator("#missing-steps")).to_have_count(0)
    expect(page.locator("#test_email")).to_have_value(DEFAULT_EMAIL)
    assert DEFAULT_EMAIL == DEFAULT_EMAIL.strip()
    page.click("#send-test")
    purchase = page.locator(".event-result[data-event='purchase']")
    page_view = page.locator(".event-result[data-event='page_view']")
    expect(purchase.locator(".fired-badge")).to_have_text(t("tag_fired"))
    expect(purchase.locator(".payload")).to_contain_text("CompletePayment")
    email_hash = hashlib.sha256(DEFAULT_EMAIL.lower().encode()).hexdigest()
    expect(purchase.locator("[data-hashed='email'] .hash")).to_have_text(email_hash)
    expect(purchase.locator("[data-hashed='email'] .verified")).to_contain_text(
        t("hashed_verified", normalised=DEFAULT_EMAIL.lower()))
    expect(purchase.locator(".answer-code")).to_have_text("0")
    expect(page.locator(".warnings, .warning-line, .rejection")).to_have_count(0)
    note = purchase.locator(".notes .note-line")
    expect(note).to_have_count(1)
    expect(note).to_contain_text("CompletePayment")
    if lang == "nl":
        expect(note).to_contain_text("oude TikTok-gebeurtenisnaam")
    else:
        expect(note).to_contain_text("legacy TikTok event name")
    intended = page_view.locator(".tag-result")
    expect(intended).to_have_attribute("data-outcome", "as-intended")
    expect(intended.locator(".not-fired-badge")).to_have_text("✓ " + t("as_intended"))
    expect(intended.locator(".intended-why")).to_have_text(t("as_intended_why"))
    assert "bad" not in (intended.locator(".not-fired-badge").get_attribute("class") or "").split()
    expect(page_view.locator(".failed-condition")).to_have_text(t(
        "reason_condition", trigger="GA4 purchase", variable="Event Name", operator=t("op_equals"),
        right="purchase", left="page_view"))
    shot(page, f"{lang}-5-test-purchase")
    mock = demo.app.extensions["gtm_walkthrough"].mock()
    assert [e.event["event"] for e in mock.events] == ["CompletePayment"]

    # the same test purchase in Preview, on the same server
    link = page.locator("#preview-link a")
    expect(link).to_have_text(t("open_preview"))
    with page.context.expect_page() as opened:
        link.click()
    preview = opened.value
    preview.locator(".ev-btn").first.wait_for()
    names = preview.locator(".ev-btn .ev-name").all_inner_texts()
    assert "purchase" in names and "page_view" in names
    preview.locator(".ev-btn", has_text="purchase").first.click()
    card = preview.locator('#panel-tags .tags-fired details[data-tag="TikTok - purchase"]')
    expect(card).to_have_attribute("data-status", "success")
    expect(preview.locator("#panel-tags details.outgoing")).to_have_count(1)
    expect(preview.locator(".callout.warn, .callout.bad")).to_have_count(0)  # the intended path: notes only
    expect(card.locator(".callout.info").first).to_contain_text("CompletePayment")
    expect(preview.locator("#container-meta [data-meta='id']")).to_have_text("ID GTM-DEMO")
    assert token not in preview.content()
    preview.close()


@pytest.mark.parametrize("lang", LANGS)
def test_step4_never_drops_a_condition(page: Page, demo: LiveDemo, lang: str) -> None:
    t = texts(lang)
    page.goto(demo.url(f"{PREFIX}/step/4?lang={lang}"))
    page.fill("#trigger_name", "GA4 purchase")
    fill_row(page, 0, "Client Name", "equals", "GA4")
    second = page.locator(".condition").nth(1)
    second.locator("input").fill("purchase")  # a value, but no variable chosen
    page.click("#save-trigger")
    expect(page.locator("#form-errors")).to_have_text(t("trigger_not_saved"))
    expect(page.locator(".condition").nth(1).locator(".error")).to_have_text(
        t("error_condition_variable", value="purchase"))
    expect(page.locator(".condition").nth(1).locator("input")).to_have_value("purchase")
    assert not (demo.workspace.path / "triggers").exists()
    assert not page.locator("#notice").count()

    # an invalid regular expression: the TRIGGER was not saved, said plainly
    fill_row(page, 1, "Event Name", "matches_regex", "(purchase")
    page.click("#save-trigger")
    expect(page.locator("#form-errors")).to_have_text(t("trigger_not_saved"))
    error = page.locator(".condition").nth(1).locator(".error")
    expect(error).to_have_text(t("error_regex", pattern="(purchase", detail=t("regex_missing_paren")))
    assert "invalid RE2" not in page.content()
    assert not (demo.workspace.path / "triggers").exists()
    shot(page, f"{lang}-4-invalid-regex")

    # saved without a tag yet: no 'the tag "—"', and a hint that matching is case-sensitive
    fill_row(page, 1, "Event Name", "equals", "Purchase")
    page.click("#save-trigger")
    expect(page.locator("#notice")).to_have_text(t("trigger_saved_no_tag"))
    assert "—" not in page.locator("#notice").inner_text()
    expect(page.locator(".condition")).to_have_count(2)
    expect(page.locator(".condition").nth(1).locator("[data-hint='hint_case_event']")).to_have_text(
        t("hint_case_event", value="Purchase", lower="purchase"))
    expect(page.locator("#trigger-warnings")).to_have_text(t("trigger_check_hints", n=1))

    # an empty value saves, with a warning on its row
    fill_row(page, 1, "Event Name", "equals", "")
    page.click("#save-trigger")
    expect(page.locator("#notice")).to_be_visible()
    expect(page.locator(".condition")).to_have_count(2)
    expect(page.locator(".condition").nth(1).locator("[data-hint='hint_empty_value']")).to_have_text(
        t("hint_empty_value", variable="Event Name", operator="equals"))
    saved = json.loads((demo.workspace.path / "triggers" / "ga4_purchase.json").read_text())
    assert [c["variable"] for c in saved["conditions"]] == ["Client Name", "Event Name"]

    # put right: no hints, no warnings, still exactly two rows
    fill_row(page, 1, "Event Name", "equals", "purchase")
    page.click("#save-trigger")
    expect(page.locator(".hint")).to_have_count(0)
    expect(page.locator("#trigger-warnings")).to_have_count(0)
    expect(page.locator(".condition")).to_have_count(2)


@pytest.mark.parametrize("lang", LANGS)
def test_a_wrong_token_is_flagged_and_its_rejection_leads_back_to_step_3(page: Page, demo: LiveDemo,
                                                                         lang: str) -> None:
    t = texts(lang)
    token = add_template_and_token(page, demo, lang)
    save_tag(page, demo, WRONG_TOKEN)
    expect(page.locator("#token-warning")).to_have_text(
        t("hint_token_not_generated", pixel=STARTING_PIXEL_CODE, last4=token[-4:]))
    expect(page.locator("#nav-tag .check")).to_have_count(0)
    expect(page.locator("#nav-tag .attention")).to_be_visible()
    save_trigger(page, demo)
    expect(page.locator("#nav-tag .check")).to_have_count(0)

    page.goto(demo.url(f"{PREFIX}/test"))
    expect(page.locator("#missing-steps")).to_contain_text(t("step_tag_title"))
    page.click("#send-test")
    purchase = page.locator(".event-result[data-event='purchase'] .tag-result")
    expect(purchase).to_have_attribute("data-outcome", "rejected")
    expect(purchase.locator(".rejected-badge")).to_have_text("✗ " + t("rejected_by_vendor"))
    assert "ok" not in (purchase.locator(".fired-badge").get_attribute("class") or "").split()
    rejection = page.locator("#rejection-purchase")
    expect(rejection).to_contain_text("code 40105")
    expect(rejection).to_contain_text(t("rejected_fix_token"))
    assert page.locator("#results").inner_text().count("40105") == 1  # prominently, once
    expect(page.locator("#answer-purchase")).to_have_text(t("answer_see_above", status=200))
    shot(page, f"{lang}-5-rejected-by-vendor")

    page.click("#fix-tag")
    expect(page).to_have_url(demo.url(f"{PREFIX}/step/3"))
    save_tag(page, demo, None)
    expect(page.locator("#token-warning")).to_have_count(0)
    expect(page.locator("#nav-tag .check")).to_be_visible()
    send_test(page, demo)
    expect(page.locator(".event-result[data-event='purchase'] .tag-result")).to_have_attribute(
        "data-outcome", "as-intended")
    expect(page.locator(".rejection")).to_have_count(0)


@pytest.mark.parametrize("lang", LANGS)
def test_token_field_shows_what_was_typed_and_messages_are_in_the_language(page: Page, demo: LiveDemo,
                                                                          lang: str) -> None:
    t = texts(lang)
    add_template_and_token(page, demo, lang)
    page.goto(demo.url(f"{PREFIX}/step/3"))
    token_input = page.locator("#p_access_token")
    expect(token_input).to_have_attribute("type", "password")
    page.uncheck("#use_generated")
    token_input.fill("not-a-real-token")
    page.click("#toggle-access_token")  # the eye: show what was typed
    expect(token_input).to_have_attribute("type", "text")
    expect(page.locator("#toggle-access_token")).to_have_text(t("hide_token"))
    page.click("#toggle-access_token")
    expect(token_input).to_have_attribute("type", "password")

    page.click("#save-tag")
    expect(page.locator("[data-field='access_token'] .error")).to_have_text(t("error_token_malformed"))
    expect(token_input).to_have_attribute("type", "text")  # after an error the typed text is visible
    expect(token_input).to_have_value("not-a-real-token")

    # the validator's own line for a malformed pixel code, in the page's language
    page.fill("#p_pixel_code", "C123")
    page.check("#use_generated")
    token_input.fill("")
    page.click("#save-tag")
    validator = page.locator("[data-field='pixel_code'] .validator")
    expect(validator).to_have_count(1)
    if lang == "nl":
        expect(validator).to_contain_text("Een TikTok-pixel-ID bestaat uit 20 hoofdletters of cijfers")
        expect(validator).to_contain_text("ingevuld: 'C123'")
        assert "upper-case" not in validator.inner_text()
    else:
        expect(validator).to_contain_text("A TikTok Pixel ID is 20 upper-case letters or digits")
    expect(page.locator("[data-field='pixel_code'] .error")).to_have_text(t("error_pixel_malformed"))

    # the folded fields: labels and help in the page's language
    page.click("#more-settings > summary")
    label, help_text = field_text(lang, {"name": "event"})
    event_field = page.locator("#more-settings [data-field='event']")
    expect(event_field.locator("label")).to_contain_text(label)
    expect(event_field.locator(".help-text")).to_have_text(help_text)
    if lang == "nl":
        expect(page.locator("#more-settings legend").first).to_have_text("Instellen")
    shot(page, f"{lang}-3-token-and-validator")


@pytest.mark.parametrize("lang", LANGS)
def test_case_sensitive_purchase_and_unexpected_outcomes_are_explained(page: Page, demo: LiveDemo,
                                                                       lang: str) -> None:
    t = texts(lang)
    add_template_and_token(page, demo, lang)
    save_tag(page, demo, None)
    save_trigger(page, demo, event_value="Purchase")
    expect(page.locator("[data-hint='hint_case_event']")).to_be_visible()

    send_test(page, demo, email=" Klant@Example.nl")
    purchase = page.locator(".event-result[data-event='purchase'] .tag-result")
    expect(purchase).to_have_attribute("data-outcome", "unexpected")
    expect(purchase.locator(".not-fired-badge")).to_have_text(t("tag_not_fired"))
    expect(purchase.locator(".case-hint")).to_have_text(t("case_hint_result", left="purchase", right="Purchase"))
    expect(purchase).to_contain_text(t("expected_purchase_fired"))

    # a trigger on every event: the page_view fires too, and the page says that is not intended
    page.goto(demo.url(f"{PREFIX}/step/4"))
    page.check("input[name='fires_on'][value='all_events']")
    page.click("#save-trigger")
    send_test(page, demo, email=" Klant@Example.nl")
    page_view = page.locator(".event-result[data-event='page_view'] .tag-result")
    expect(page_view).to_have_attribute("data-outcome", "unexpected")
    expect(page_view.locator(".unexpected")).to_have_text(t("unexpected_fired", event="page_view"))
    # an e-mail with a space in front is something to act on: a warning, in the page's language
    warning = page.locator(".event-result[data-event='purchase'] .warning-line")
    expect(warning).to_have_count(1)
    if lang == "nl":
        expect(warning).to_have_text("⚠ het e-mailadres heeft spaties ervoor of erna (vóór het hashen)")
    else:
        expect(warning).to_have_text("⚠ user email has surrounding whitespace before hashing")
    shot(page, f"{lang}-5-unexpected-outcomes")
