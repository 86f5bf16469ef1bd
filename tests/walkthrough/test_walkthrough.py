"""The setup walkthrough through Flask's test client: every step, validation errors, reset, language."""

from __future__ import annotations

import hashlib
import html
import json
import re
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from gtm_emulator.cli import demo as cli_demo
from gtm_emulator.loading.config import TagTemplate, load_container, validate_file
from gtm_emulator.server import wsgi
from gtm_emulator.server.app import create_app, current_container
from gtm_emulator.walkthrough import PREFIX, STRINGS, Workspace, forms, install_walkthrough, translate
from gtm_emulator.walkthrough.blueprint import LANG_COOKIE, STEPS
from gtm_emulator.walkthrough.i18n import field_text
from gtm_emulator.walkthrough.results import hit_query
from gtm_emulator.walkthrough.workspace import (
    OPERATOR_CHOICES,
    STARTING_PIXEL_CODE,
    operator_choice,
    starting_container,
)

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "gtm_emulator" / "walkthrough" / "templates"
PURCHASE_TRIGGER = {
    "trigger_name": "GA4 purchase", "fires_on": "some_events",
    "cond-0-variable": "Client Name", "cond-0-operator": "equals", "cond-0-value": "GA4",
    "cond-1-variable": "Event Name", "cond-1-operator": "equals", "cond-1-value": "purchase",
}


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / "demo")
    assert ws.ensure() is True
    return ws


@pytest.fixture
def app(workspace: Workspace) -> Flask:
    app = create_app(load_container(workspace.container_path), log_requests=False)
    install_walkthrough(app, workspace)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def field_block(page: str, name: str) -> str:
    """The HTML of one form field (its label, input and the errors shown next to it)."""
    start = page.index(f'data-field="{name}"')
    end = page.find('data-field="', start + 10)
    return page[start:end if end != -1 else len(page)]


def errors_in(block: str) -> list[str]:
    return [html.unescape(e) for e in re.findall(r'<p class="error"[^>]*>([^<]*)</p>', block)]


def generate_token(client: FlaskClient, pixel: str = STARTING_PIXEL_CODE) -> str:
    assert client.post(f"{PREFIX}/step/2/token", data={"pixel_code": pixel}).status_code == 302
    page = client.get(f"{PREFIX}/step/2").text
    match = re.search(r'id="token-value">([0-9a-f]+)<', page)
    assert match, "the new token is shown after generating it"
    return match.group(1)


def tag_form(**overrides: str) -> dict[str, str]:
    form = {"tag_name": "TikTok - purchase", "p_profile": "tiktok-official", "p_pixel_code": STARTING_PIXEL_CODE,
            "p_access_token": "", "p_event": "{{Event Name}}"}
    form.update(overrides)
    return form


def complete_setup(client: FlaskClient) -> str:
    assert client.post(f"{PREFIX}/step/1").status_code == 302
    token = generate_token(client)
    assert client.post(f"{PREFIX}/step/3", data=tag_form(p_access_token=token)).status_code == 302
    assert client.post(f"{PREFIX}/step/4", data=PURCHASE_TRIGGER).status_code == 302
    return token


def mock_answer(mock: Any, pixel: str, token: str) -> int:
    body = json.dumps({"event_source": "web", "event_source_id": pixel,
                       "data": [{"event": "CompletePayment", "event_time": 1700000000}]}).encode()
    resp = mock.handle("POST", "/open_api/v1.3/event/track/", {"Access-Token": token}, body)
    return int(resp.json()["code"])


# ----------------------------------------------------------------------------- i18n


def test_both_languages_have_the_same_keys_and_no_empty_text() -> None:
    assert set(STRINGS["en"]) == set(STRINGS["nl"])
    for lang, table in STRINGS.items():
        assert all(value.strip() for value in table.values()), lang
    differing = [k for k in STRINGS["en"] if STRINGS["en"][k] != STRINGS["nl"][k]]
    assert len(differing) > 0.8 * len(STRINGS["en"])


def test_every_text_the_pages_use_exists() -> None:
    used: set[str] = set()
    for path in TEMPLATES_DIR.glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z0-9_]+)'", path.read_text("utf-8")))
    source = (TEMPLATES_DIR.parent / "blueprint.py").read_text("utf-8")
    used |= set(re.findall(r'\bt\("([a-z0-9_]+)"', source))
    used |= {f"op_{choice}" for choice in OPERATOR_CHOICES}
    used |= {f"step_{step}_{part}" for step in STEPS for part in ("title", "summary")}
    used |= {"step_test_title", "hashed_normalised_lower", "hashed_normalised_trim", "not_a_number",
             "unknown_operator"}
    prefixes = {"op_", "step_", "hashed_normalised_"}
    used = {key for key in used if key not in prefixes}
    assert used - set(STRINGS["en"]) == set()
    # the placeholders of each text are the same in both languages
    for key, text in STRINGS["en"].items():
        assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", STRINGS["nl"][key])), key


def test_language_switch_is_remembered_in_a_cookie(client: FlaskClient) -> None:
    english = client.get(f"{PREFIX}/")
    assert "Server-side TikTok tracking in four steps" in english.text
    assert '<html lang="en">' in english.text
    dutch = client.get(f"{PREFIX}/?lang=nl")
    assert "Server-side TikTok-tracking in vier stappen" in dutch.text
    assert f"{LANG_COOKIE}=nl" in dutch.headers["Set-Cookie"]
    later = client.get(f"{PREFIX}/step/4")
    assert "Sommige gebeurtenissen" in later.text and "is niet gelijk aan" in later.text
    assert client.get(f"{PREFIX}/step/4?lang=en").text.count("does not equal") >= 1
    assert "Some Events" in client.get(f"{PREFIX}/step/4").text
    unknown = client.get(f"{PREFIX}/?lang=fr")
    assert "Server-side TikTok tracking in four steps" in unknown.text
    assert "Set-Cookie" not in unknown.headers


def test_default_language_comes_from_install(workspace: Workspace) -> None:
    app = create_app(load_container(workspace.container_path), log_requests=False)
    install_walkthrough(app, workspace, lang="nl")
    assert "Begin met stap 1" in app.test_client().get(f"{PREFIX}/").text


# ----------------------------------------------------------------------------- the workspace


def test_starting_workspace_is_an_ordinary_valid_container(workspace: Workspace) -> None:
    assert validate_file(workspace.container_path) == []
    loaded = load_container(workspace.container_path)
    assert [c.name for c in loaded.clients] == ["GA4"] and loaded.tags == []
    assert loaded.tiktok_mock.pixels == {STARTING_PIXEL_CODE: set()}
    assert workspace.status() == dict.fromkeys(STEPS, False)
    assert Workspace(workspace.path).ensure() is False  # reused, not overwritten


# ----------------------------------------------------------------------------- step 1


def test_step1_shows_the_template_fields_and_adds_the_template(client: FlaskClient, workspace: Workspace,
                                                               app: Flask) -> None:
    page = client.get(f"{PREFIX}/step/1").text
    template = workspace.template()
    shown = {p["name"] for section in forms.sections(template) for p in section.params}
    assert {"pixel_code", "access_token", "event"} <= shown
    for param in template.parameters:
        if param["name"] in shown:  # each field with the walkthrough's label (the template's when it has none)
            label, _help = field_text("en", param)
            assert html.escape(label) in page
    # fields that only the stape profile reads stay hidden, as GTM hides fields whose conditions fail
    stape_only = [p for p in template.parameters if (p.get("enabled_when") or {}).get("profile") == ["stape"]]
    assert stape_only and not {p["name"] for p in stape_only} & shown
    assert 'id="add-template"' in page
    assert not workspace.template_path.exists()

    response = client.post(f"{PREFIX}/step/1")
    assert response.status_code == 302
    assert workspace.template_path.exists()
    assert validate_file(workspace.template_path) == []
    data = json.loads(workspace.container_path.read_text())
    assert data["templates"] == ["tag_templates/tiktok_events_api.json"]
    assert validate_file(workspace.container_path) == []
    assert current_container(app).config["templates"] == ["tag_templates/tiktok_events_api.json"]
    after = client.get(f"{PREFIX}/step/1?done=added").text
    assert 'id="template-added"' in after and 'id="add-template"' not in after
    assert workspace.status()["template"] is True


def test_template_sections_follow_groups_and_labels() -> None:
    template = TagTemplate("x", "x", [
        {"name": "a", "type": "text", "label": "A"},
        {"name": "adv", "type": "group", "label": "Advanced", "help": "More"},
        {"name": "b", "type": "text", "label": "B", "group": "adv"},
        {"name": "c", "type": "checkbox", "label": "C", "group": "other"},
        {"name": "d", "type": "text", "label": "D"},
    ], "t.json")
    sections = forms.sections(template)
    assert [(s.name, s.label, [p["name"] for p in s.params]) for s in sections] == [
        (None, None, ["a", "d"]), ("adv", "Advanced", ["b"]), ("other", "other", ["c"])]
    assert sections[1].help == "More"


# ----------------------------------------------------------------------------- step 2


def test_step2_token_is_shown_once_saved_and_accepted_by_the_running_mock(client: FlaskClient, app: Flask,
                                                                          workspace: Workspace) -> None:
    mock = current_container(app).tiktok_mock
    token = generate_token(client)
    assert re.fullmatch(r"[0-9a-f]{40}", token)
    again = client.get(f"{PREFIX}/step/2").text
    assert token not in again and token[-4:] in again  # masked afterwards
    data = json.loads(workspace.container_path.read_text())
    assert data["mock_vendors"]["tiktok"]["pixels"][STARTING_PIXEL_CODE] == [token]
    assert current_container(app).tiktok_mock is mock  # the reload kept the mock the app serves
    assert mock_answer(mock, STARTING_PIXEL_CODE, token) == 0
    assert mock_answer(mock, STARTING_PIXEL_CODE, "0" * 40) == 40105
    assert workspace.status()["token"] is True


def test_step2_create_pixel_then_token_only_for_that_pixel(client: FlaskClient, app: Flask,
                                                           workspace: Workspace) -> None:
    response = client.post(f"{PREFIX}/step/2/pixel", data={"pixel_name": "Mijn webshop"})
    assert response.status_code == 302
    code = re.search(r"created=([A-Z0-9]+)", response.location).group(1)
    assert re.fullmatch(r"C[A-Z0-9]{19}", code)
    page = client.get(f"{PREFIX}/step/2").text
    assert "Mijn webshop" in page and code in page
    token = generate_token(client, code)
    mock = current_container(app).tiktok_mock
    assert mock_answer(mock, code, token) == 0
    assert mock_answer(mock, STARTING_PIXEL_CODE, token) == 40001  # not for the other pixel
    assert validate_file(workspace.container_path) == []


def test_step2_unknown_pixel_is_refused(client: FlaskClient) -> None:
    response = client.post(f"{PREFIX}/step/2/token", data={"pixel_code": "CNOSUCHPIXEL00000000"})
    assert response.status_code == 404
    assert "There is no pixel CNOSUCHPIXEL00000000" in response.text


# ----------------------------------------------------------------------------- step 3


def test_step3_needs_the_template_first(client: FlaskClient, workspace: Workspace) -> None:
    assert 'id="needs-template"' in client.get(f"{PREFIX}/step/3").text
    response = client.post(f"{PREFIX}/step/3", data=tag_form(p_access_token="a" * 40))
    assert response.status_code == 422
    assert "tag_templates/tiktok_events_api.json" in response.text
    assert json.loads(workspace.container_path.read_text())["tags"] == []


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"p_pixel_code": "", "p_access_token": "a" * 40}, "pixel_code", "Fill in the pixel code"),
    ({"p_pixel_code": "c123", "p_access_token": "a" * 40}, "pixel_code", "20 capital letters and digits"),
    ({"p_access_token": "not-a-token"}, "access_token", "40 characters, only digits and the letters a to f"),
    ({"p_access_token": "A" * 40}, "access_token", "40 characters"),
    ({"p_access_token": ""}, "access_token", "Fill in the access token"),
    ({"tag_name": " ", "p_access_token": "a" * 40}, "_name", "Give the tag a name"),
])
def test_step3_errors_are_shown_next_to_the_field(client: FlaskClient, workspace: Workspace,
                                                  overrides: dict[str, str], field: str, message: str) -> None:
    client.post(f"{PREFIX}/step/1")
    before = workspace.container_path.read_text()
    response = client.post(f"{PREFIX}/step/3", data=tag_form(**overrides))
    assert response.status_code == 422
    block = field_block(response.text, field)
    assert any(message in error for error in errors_in(block)), errors_in(block)
    assert workspace.container_path.read_text() == before  # nothing saved
    other_fields = {"pixel_code", "access_token", "_name"} - {field}
    for other in other_fields:
        assert errors_in(field_block(response.text, other)) == []


def test_step3_field_errors_in_dutch_with_the_validators_own_words(client: FlaskClient) -> None:
    client.post(f"{PREFIX}/step/1")
    client.get(f"{PREFIX}/?lang=nl")
    response = client.post(f"{PREFIX}/step/3", data=tag_form(p_pixel_code="", p_access_token="a" * 40))
    block = field_block(response.text, "pixel_code")
    assert any("Vul de pixelcode" in e for e in errors_in(block))
    assert "$.tags[0].parameters.pixel_code" in block  # what config.check_tag_parameters reported


def test_step3_use_generated_token_needs_a_token_for_that_pixel(client: FlaskClient, workspace: Workspace) -> None:
    client.post(f"{PREFIX}/step/1")
    response = client.post(f"{PREFIX}/step/3", data=tag_form(use_generated="on"))
    assert response.status_code == 422
    assert any("No access token has been generated" in e for e in errors_in(field_block(response.text,
                                                                                         "access_token")))
    token = generate_token(client)
    assert client.post(f"{PREFIX}/step/3", data=tag_form(use_generated="on")).status_code == 302
    tag = json.loads(workspace.container_path.read_text())["tags"][0]
    assert tag["parameters"]["access_token"] == token


def test_step3_saves_a_valid_tag_and_the_server_reloads(client: FlaskClient, app: Flask,
                                                        workspace: Workspace) -> None:
    client.post(f"{PREFIX}/step/1")
    token = generate_token(client)
    response = client.post(f"{PREFIX}/step/3", data=tag_form(p_access_token=token, p_test_event_code="TEST123"))
    assert response.status_code == 302
    data = json.loads(workspace.container_path.read_text())
    assert data["tags"] == [{
        "name": "TikTok - purchase", "template": "tag_templates/tiktok_events_api.json",
        "parameters": {"profile": "tiktok-official", "pixel_code": STARTING_PIXEL_CODE, "access_token": token,
                       "event": "{{Event Name}}", "test_event_code": "TEST123"},
        "firing_triggers": [],
    }]
    assert validate_file(workspace.container_path) == []
    assert [t.name for t in current_container(app).tags] == ["TikTok - purchase"]
    page = client.get(f"{PREFIX}/step/3?done=saved").text
    assert token not in page and token[-4:] in page  # the saved token is masked in the form
    # saving again with the token field left empty keeps the saved token
    assert client.post(f"{PREFIX}/step/3", data=tag_form(tag_name="TikTok - renamed")).status_code == 302
    tags = json.loads(workspace.container_path.read_text())["tags"]
    assert [(t["name"], t["parameters"]["access_token"]) for t in tags] == [("TikTok - renamed", token)]


# ----------------------------------------------------------------------------- step 4


def test_step4_saves_the_trigger_file_and_the_tag_fires_on_it(client: FlaskClient, app: Flask,
                                                              workspace: Workspace) -> None:
    client.post(f"{PREFIX}/step/1")
    token = generate_token(client)
    client.post(f"{PREFIX}/step/3", data=tag_form(p_access_token=token))
    assert client.post(f"{PREFIX}/step/4", data=PURCHASE_TRIGGER).status_code == 302
    trigger_file = workspace.path / "triggers" / "ga4_purchase.json"
    assert json.loads(trigger_file.read_text()) == {
        "name": "GA4 purchase", "fires_on": "some_events",
        "conditions": [{"variable": "Client Name", "operator": "equals", "value": "GA4"},
                       {"variable": "Event Name", "operator": "equals", "value": "purchase"}],
    }
    assert validate_file(trigger_file) == []
    assert validate_file(workspace.container_path) == []
    data = json.loads(workspace.container_path.read_text())
    assert data["triggers"] == ["triggers/ga4_purchase.json"]
    assert data["tags"][0]["firing_triggers"] == ["GA4 purchase"]
    assert current_container(app).tags[0].firing_triggers == ["GA4 purchase"]
    assert workspace.status() == dict.fromkeys(STEPS, True)
    page = client.get(f"{PREFIX}/step/4").text
    assert 'value="Client Name" selected>' in page and 'value="Event Name" selected>' in page
    assert 'value="GA4"' in page and 'value="purchase"' in page


def test_step4_trigger_before_the_tag_is_used_by_the_tag_later(client: FlaskClient, workspace: Workspace) -> None:
    assert client.post(f"{PREFIX}/step/4", data=PURCHASE_TRIGGER).status_code == 302
    client.post(f"{PREFIX}/step/1")
    token = generate_token(client)
    client.post(f"{PREFIX}/step/3", data=tag_form(p_access_token=token))
    assert json.loads(workspace.container_path.read_text())["tags"][0]["firing_triggers"] == ["GA4 purchase"]


def test_step4_gtm_operator_choices_are_stored_as_the_native_format(client: FlaskClient,
                                                                    workspace: Workspace) -> None:
    form = {"trigger_name": "Odd one", "fires_on": "some_events"}
    choices = list(OPERATOR_CHOICES)
    for index, choice in enumerate(choices):
        form.update({f"cond-{index}-variable": "Event Name", f"cond-{index}-operator": choice,
                     f"cond-{index}-value": "5" if "less" in choice or "greater" in choice else "x"})
    assert client.post(f"{PREFIX}/step/4", data=form).status_code == 302
    saved = json.loads((workspace.path / "triggers" / "odd_one.json").read_text())["conditions"]
    assert [operator_choice(c["operator"], c.get("negate", False), c.get("ignore_case", False))
            for c in saved] == choices
    regex_ic_not = saved[choices.index("does_not_match_regex_ignore_case")]
    assert regex_ic_not == {"variable": "Event Name", "operator": "matches_regex", "value": "x", "negate": True,
                            "ignore_case": True}
    assert "negate" not in saved[choices.index("equals")]  # left out when false, as GTM does
    assert validate_file(workspace.path / "triggers" / "odd_one.json") == []


def test_step4_renaming_replaces_the_trigger_file(client: FlaskClient, workspace: Workspace) -> None:
    client.post(f"{PREFIX}/step/4", data=PURCHASE_TRIGGER)
    client.post(f"{PREFIX}/step/4", data={**PURCHASE_TRIGGER, "trigger_name": "Purchases"})
    assert not (workspace.path / "triggers" / "ga4_purchase.json").exists()
    assert json.loads(workspace.container_path.read_text())["triggers"] == ["triggers/purchases.json"]


@pytest.mark.parametrize(("form", "field", "message"), [
    ({**PURCHASE_TRIGGER, "cond-1-operator": "matches_regex", "cond-1-value": "(purchase"}, "cond-1-value",
     '"(purchase" is not a valid regular expression: a ( is opened but never closed with )'),
    ({**PURCHASE_TRIGGER, "trigger_name": ""}, "_name", "Give the trigger a name"),
    ({"trigger_name": "x", "fires_on": "some_events"}, "conditions", "needs at least one condition"),
    ({**PURCHASE_TRIGGER, "cond-0-operator": "sounds_like"}, "cond-0-operator", "Choose an operator"),
])
def test_step4_errors(client: FlaskClient, workspace: Workspace, form: dict[str, str], field: str,
                      message: str) -> None:
    response = client.post(f"{PREFIX}/step/4", data=form)
    assert response.status_code == 422
    assert message in html.unescape(response.text)
    if field.startswith("cond-"):
        row = field.split("-")[1]
        block = response.text[response.text.index(f'data-row="{row}"'):]
        block = block[:block.find('data-row="', 12) if 'data-row="' in block[12:] else len(block)]
        assert any(message in e for e in errors_in(block))
    assert not (workspace.path / "triggers").exists()


def test_step4_all_events_saves_without_conditions(client: FlaskClient, workspace: Workspace) -> None:
    response = client.post(f"{PREFIX}/step/4", data={**PURCHASE_TRIGGER, "fires_on": "all_events"})
    assert response.status_code == 302
    assert json.loads((workspace.path / "triggers" / "ga4_purchase.json").read_text()) == {
        "name": "GA4 purchase", "fires_on": "all_events"}


# ----------------------------------------------------------------------------- the live test


def test_test_purchase_shows_fired_tag_payload_hashes_answer_and_the_page_view_reason(client: FlaskClient) -> None:
    complete_setup(client)
    email, user_id = " Jan.Jansen@Example.nl", "Klant-0042"
    for name in ("purchase", "page_view"):
        assert client.post(f"/g/collect?{hit_query(name, 777, email, user_id)}").status_code == 204
    page = client.get(f"{PREFIX}/test/results?run=777").text
    purchase, page_view = page.split('data-event="page_view"')
    assert 'data-event="purchase"' in purchase and 'data-fired="true"' in purchase
    assert "CompletePayment" in purchase and "Access-Token: ****" in purchase
    email_hash = hashlib.sha256(b"jan.jansen@example.nl").hexdigest()
    id_hash = hashlib.sha256(b"Klant-0042").hexdigest()
    plain = text_of(purchase)
    assert f"user.email = {email_hash}" in plain and f"user.external_id = {id_hash}" in plain
    assert 'The SHA-256 hash of "jan.jansen@example.nl" is exactly the value sent.' in plain
    assert "From the event data key email" in plain and "From the event data key user_id" in plain
    payload_html = re.search(r'<pre class="payload"[^>]*>(.*?)</pre>', purchase, re.S).group(1)
    payload = json.loads(text_of(re.sub(r'<span class="pointer">.*?</span>', "", payload_html)))
    assert payload["data"][0]["user"]["email"] == email_hash  # the page shows the body as sent
    assert "jan.jansen@example.nl" not in json.dumps(payload)
    marked = re.findall(r'<mark class="hashed-line" data-points-to="(\w+)">([^<]*)</mark>', payload_html)
    # in the order TikTok's template writes the user members: external_id, phone, email
    assert [(name, email_hash in line or id_hash in line) for name, line in marked] == [
        ("external_id", True), ("email", True)]
    assert "HTTP 200 · code 0 · OK" in plain
    assert 'data-fired="false"' in page_view
    assert 'the condition Event Name equals "purchase" is false, because Event Name was "page_view"' in \
        text_of(page_view)
    assert "accepted 1 event(s)" in text_of(page)


def test_test_results_in_dutch_and_for_a_rejected_token(client: FlaskClient, app: Flask) -> None:
    complete_setup(client)
    mock = current_container(app).tiktok_mock
    for code in mock.pixels:  # TikTok no longer knows the token (an allow-list without it)
        mock.pixels[code] = {"0" * 40}
    client.post(f"/g/collect?{hit_query('purchase', 5)}")
    page = text_of(client.get(f"{PREFIX}/test/results?run=5&lang=nl").text)
    assert page.count("40105") == 1  # said once, prominently, with what to do about it
    assert "Geweigerd door TikTok" in page and translate("nl", "rejected_fix_token") in page
    assert "Afgegaan" in page


def test_test_page_without_setup_lists_missing_steps_and_explains_no_trigger(client: FlaskClient) -> None:
    page = client.get(f"{PREFIX}/test").text
    assert 'id="missing-steps"' in page and 'id="send-test"' in page
    hits = json.loads(html.unescape(re.search(r"data-hits='([^']*)'", page).group(1)))
    assert ["en", "purchase"] in hits["purchase"] and ["en", "page_view"] in hits["page_view"]
    client.post(f"{PREFIX}/step/1")
    token = generate_token(client)
    client.post(f"{PREFIX}/step/3", data=tag_form(p_access_token=token))
    client.post(f"/g/collect?{hit_query('purchase', 9)}")
    assert "The tag has no trigger yet" in text_of(client.get(f"{PREFIX}/test/results?run=9").text)


def test_test_results_for_unknown_and_bad_runs(client: FlaskClient) -> None:
    assert 'id="no-events"' in client.get(f"{PREFIX}/test/results?run=123").text
    assert client.get(f"{PREFIX}/test/results?run=abc").status_code == 400


# ----------------------------------------------------------------------------- ordinary files


def test_finished_workspace_runs_with_serve_and_simulate(client: FlaskClient, workspace: Workspace,
                                                         tmp_path: Path) -> None:
    complete_setup(client)
    for path in [workspace.container_path, *workspace.path.glob("*/*.json")]:
        assert validate_file(path) == [], path
    fresh = load_container(workspace.container_path)  # what `serve --container` loads
    report = fresh.simulate("POST", f"/g/collect?{hit_query('purchase', 1)}")
    assert report.fired("TikTok - purchase")
    assert report.outgoing[0].response["body"]["code"] == 0
    assert not fresh.simulate("POST", f"/g/collect?{hit_query('page_view', 1)}").fired("TikTok - purchase")

    from gtm_emulator.cli.main import cli

    result = CliRunner().invoke(cli, ["simulate", "--container", str(workspace.container_path), "-X", "POST",
                                      f"/g/collect?{hit_query('purchase', 2)}"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["events"][0]["tags"][0]["fired"] is True
    assert out["events"][0]["outgoing"][0]["response"]["body"]["code"] == 0
    result = CliRunner().invoke(cli, ["validate", str(workspace.container_path)])
    assert result.exit_code == 0 and result.output.strip().endswith(": ok")


# ----------------------------------------------------------------------------- reset and errors


def test_reset_restores_the_starting_state(client: FlaskClient, app: Flask, workspace: Workspace) -> None:
    token = complete_setup(client)
    mock = current_container(app).tiktok_mock
    client.post(f"/g/collect?{hit_query('purchase', 3)}")
    assert len(mock.events) == 1
    response = client.post(f"{PREFIX}/reset")
    assert response.status_code == 302
    assert json.loads(workspace.container_path.read_text()) == starting_container()
    assert not workspace.template_path.exists()
    assert not (workspace.path / "triggers").exists()
    assert current_container(app).tags == []
    assert mock_answer(mock, STARTING_PIXEL_CODE, token) == 40105
    assert mock.events == []  # the mock's log of accepted events is cleared too
    assert workspace.status() == dict.fromkeys(STEPS, False)
    assert "The workspace is back in its starting state." in client.get(response.location).text


def test_broken_container_file_is_reported_not_crashed(client: FlaskClient, workspace: Workspace) -> None:
    workspace.container_path.write_text("{", encoding="utf-8")
    response = client.get(f"{PREFIX}/step/2")
    assert response.status_code == 500
    assert "invalid JSON at line 1" in html.unescape(response.text)


def test_container_traffic_still_works_with_the_walkthrough_installed(client: FlaskClient) -> None:
    assert client.get("/healthz").text == "ok\n"
    assert client.get("/g/collect?en=page_view").status_code == 400  # no v=2: no client claims it
    with client.get(f"{PREFIX}/static/walkthrough.css") as css:
        assert css.status_code == 200 and b".topbar" in css.data


# ----------------------------------------------------------------------------- the demo command


def test_operator_choice_round_trip() -> None:
    for key, spec in OPERATOR_CHOICES.items():
        assert operator_choice(*spec) == key
    assert operator_choice("less", True, False) is None


def test_demo_command_creates_the_workspace_and_serves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[Any] = []

    def fake_serve(server: Any) -> None:
        served.append(server)
        server.server_close()

    monkeypatch.setattr(cli_demo, "serve_until_interrupted", fake_serve)
    monkeypatch.setattr(wsgi, "configure_logging", lambda: None)  # leave the package's logger alone
    group = click.Group()
    cli_demo.register(group)
    assert "demo" in group.commands
    target = tmp_path / "ws"
    result = CliRunner().invoke(group, ["demo", "--workspace", str(target), "--port", "0", "--no-open",
                                        "--lang", "nl"])
    assert result.exit_code == 0, result.output
    assert len(served) == 1
    port = served[0].server_port
    assert f"http://127.0.0.1:{port}{PREFIX}/?lang=nl" in result.output
    assert validate_file(target / "container.json") == []
    app = served[0].app
    assert app.extensions["gtm_walkthrough"].default_lang == "nl"
    assert app.test_client().get(f"{PREFIX}/").status_code == 200


def test_demo_command_reuses_or_resets_and_reports_a_broken_workspace(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_demo, "serve_until_interrupted", lambda server: server.server_close())
    monkeypatch.setattr(wsgi, "configure_logging", lambda: None)
    target = tmp_path / "ws"
    app, _ws = cli_demo.build_demo_app(target)
    client = app.test_client()
    client.post(f"{PREFIX}/step/1")
    assert cli_demo.build_demo_app(target)[1].has_template() is True  # reused
    assert cli_demo.build_demo_app(target, reset=True)[1].has_template() is False
    (target / "container.json").write_text('{"name": 1}', encoding="utf-8")
    result = CliRunner().invoke(cli_demo.demo, ["--workspace", str(target), "--port", "0", "--no-open"])
    assert result.exit_code == 2
    assert "$.name" in result.output and "--reset" in result.output


def test_walkthrough_url_shows_a_reachable_host() -> None:
    assert cli_demo.walkthrough_url("0.0.0.0", 8080, "en") == f"http://127.0.0.1:8080{PREFIX}/?lang=en"
    assert cli_demo.walkthrough_url("::1", 9000, "nl") == f"http://[::1]:9000{PREFIX}/?lang=nl"


# ----------------------------------------------------------------------------- hints and messages


def test_conditions_from_form_never_drops_a_row_with_a_value() -> None:
    form = {"cond-0-variable": "Client Name", "cond-0-operator": "equals", "cond-0-value": "GA4",
            "cond-1-variable": "", "cond-1-operator": "equals", "cond-1-value": "",  # blank: left out
            "cond-2-variable": "", "cond-2-operator": "equals", "cond-2-value": "purchase"}
    conditions, rows, errors = forms.conditions_from_form(form)
    assert conditions == []  # nothing may be saved
    assert [r["value"] for r in rows] == ["GA4", "purchase"]
    assert errors == {"cond-1-variable": "error_condition_variable"}
    form["cond-2-variable"] = "Event Name"
    conditions, rows, errors = forms.conditions_from_form(form)
    assert errors == {} and [c["variable"] for c in conditions] == ["Client Name", "Event Name"]


def test_condition_hints() -> None:
    from gtm_emulator.walkthrough.hints import condition_hints

    hints = condition_hints([
        {"variable": "Client Name", "operator": "equals", "value": "ga4"},
        {"variable": "Event Name", "operator": "equals", "value": "Purchase"},
        {"variable": "Event Name", "operator": "equals", "value": ""},
        {"variable": "Client Name", "operator": "equals", "value": "Other"},
        {"variable": "Event Name", "operator": "matches_regex", "value": "Purchase", "ignore_case": True},
        {"variable": "Client Name", "operator": "equals", "value": "GA4"},
        {"variable": "Event Name", "operator": "matches_regex", "value": "^Purchase$"},
        {"variable": "Event Name", "operator": "matches_regex", "value": "^purchase\\S*$"},
    ], ["GA4"])
    assert [(h.row, h.key) for h in hints] == [(0, "hint_case_client"), (1, "hint_case_event"),
                                                (2, "hint_empty_value"), (3, "hint_unknown_client"),
                                                (6, "hint_case_event")]
    assert all(h.level == "warning" for h in hints)


def test_token_hint_and_the_tag_step(client: FlaskClient, workspace: Workspace) -> None:
    from gtm_emulator.walkthrough.hints import token_hint
    from gtm_emulator.walkthrough.workspace import Pixel

    pixels = [Pixel("CA", "a", ["1" * 40]), Pixel("CB", "b", ["2" * 40]), Pixel("CC", "c", [])]
    assert token_hint({"pixel_code": "CA", "access_token": "1" * 40}, pixels) is None
    assert token_hint({"pixel_code": "CA", "access_token": "{{Token}}"}, pixels) is None
    wrong = token_hint({"pixel_code": "CA", "access_token": "3" * 40}, pixels)
    assert wrong is not None and wrong.key == "hint_token_not_generated" and wrong.values["last4"] == "1111"
    other = token_hint({"pixel_code": "CA", "access_token": "2" * 40}, pixels)
    assert other is not None and other.key == "hint_token_other_pixel" and other.values["other"] == "CB"
    taken = token_hint({"pixel_code": "CC", "access_token": "2" * 40}, pixels)
    assert taken is not None and taken.key == "hint_token_other_pixel"
    none_yet = token_hint({"pixel_code": "CC", "access_token": "4" * 40}, pixels)
    assert none_yet is not None and none_yet.key == "hint_token_no_token_yet"

    client.post(f"{PREFIX}/step/1")
    generate_token(client)
    assert client.post(f"{PREFIX}/step/3", data=tag_form(p_access_token="f" * 40)).status_code == 302
    assert workspace.status()["tag"] is False and workspace.attention() == {"tag": True}
    page = client.get(f"{PREFIX}/step/3").text
    assert 'id="token-warning"' in page and 'class="attention"' in page


def test_problem_text_in_dutch() -> None:
    from gtm_emulator.walkthrough.i18n import problem_text

    line = ("c.json: $.tags[0].parameters.pixel_code: Pixel ID: A TikTok Pixel ID is 20 upper-case letters or "
            "digits, e.g. C0ABCDEFGHIJKLMNOPQR. (got 'C1')")
    assert problem_text("en", line) == line
    assert problem_text("nl", line) == ("c.json: $.tags[0].parameters.pixel_code: Pixel ID: Een TikTok-pixel-ID "
                                        "bestaat uit 20 hoofdletters of cijfers, bijv. C0ABCDEFGHIJKLMNOPQR. "
                                        "(ingevuld: 'C1')")
    assert problem_text("nl", "Access Token is required ('access_token' is missing or empty)") == (
        "Access Token is verplicht ('access_token' ontbreekt of is leeg)")
    assert problem_text("nl", "something new") == "something new"


def test_field_texts_cover_the_official_profile_in_both_languages(workspace: Workspace) -> None:
    from gtm_emulator.walkthrough.i18n import FIELD_TEXTS

    shown = {p["name"] for section in forms.sections(workspace.template()) for p in section.params}
    assert set(FIELD_TEXTS["en"]) == set(FIELD_TEXTS["nl"])
    assert shown <= set(FIELD_TEXTS["nl"]), shown - set(FIELD_TEXTS["nl"])
    assert all("Emulator extension" not in help_text for _label, help_text in FIELD_TEXTS["en"].values())


@pytest.mark.parametrize(("pattern", "reason"), [
    ("[a", "a [ is opened but never closed with ]"), ("a)", "there is a ) without a ( before it"),
    ("*a", "* repeats nothing"), ("\\q", "\\q is not a known escape"), ("a{2,1}", "invalid repetition size: {2,1}"),
])
def test_step4_regex_errors_in_plain_words(client: FlaskClient, pattern: str, reason: str) -> None:
    form = {**PURCHASE_TRIGGER, "cond-1-operator": "matches_regex", "cond-1-value": pattern}
    response = client.post(f"{PREFIX}/step/4", data=form)
    assert response.status_code == 422
    assert reason in html.unescape(response.text)
    assert "invalid RE2" not in html.unescape(response.text)
