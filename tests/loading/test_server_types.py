"""Every server-side client, tag, trigger and variable type of GTM, imported from an export written
for these tests (tests/data/exports/all_server_types.json) and run: one test per row of the
coverage table in docs/coverage.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import NOW, ROOT

from gtm_emulator import load_container
from gtm_emulator.core.js import UNDEFINED
from gtm_emulator.core.report import Report
from gtm_emulator.loading.gtm_export import write_conversion
from gtm_emulator.testing import check_succeeded

EXPORT = ROOT / "tests" / "data" / "exports" / "all_server_types.json"
PURCHASE = ("/g/collect?v=2&tid=G-TEST&cid=111.222&en=purchase&cu=EUR&epn.value=10&ep.email=a%40b.example"
            "&dl=https%3A%2F%2Fshop.example%2Fcart&utm_source=news")
PAGE_VIEW = "/g/collect?v=2&tid=G-TEST&cid=111.222&en=page_view&dl=https%3A%2F%2Fshop.example%2F"


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[str]]:
    folder = tmp_path_factory.mktemp("alltypes")
    (folder / "firestore.json").write_text(json.dumps({"customers/111.222": {"tier": "gold"}}), "utf-8")
    out = folder / "container.json"
    _, warnings = write_conversion(EXPORT, out, settings={"firestore_file": "firestore.json",
                                                          "visitor_region": {"country": "NL", "region": "NL-NH"}})
    return load_container(out), warnings


def run(container: Any, url: str, **kw: Any) -> Report:
    return container.simulate("GET", url, now=NOW, **kw)


def tag(report: Report, name: str, event: int = 0) -> Any:
    return next(t for t in report.events[event].tags if t.name == name)


def test_import_never_refuses_and_names_every_unknown_type(imported: tuple[Any, list[str]]) -> None:
    _, warnings = imported
    for path, code in (("client[4].type", "mystery_client"), ("variable[9].type", "jsm"), ("trigger[3].type", "TIMER"),
                       ("tag[6].type", "html"), ("transformation[3].type", "tf_something")):
        assert any(f"$.containerVersion.{path}" in w and code in w for w in warnings), path


# ------------------------------------------------------------------ clients

def test_ga4_client_claims_g_collect(imported: tuple[Any, list[str]]) -> None:
    report = run(imported[0], PAGE_VIEW)
    assert report.client == "GA4" and report.events[0].event_data["event_name"] == "page_view"


def test_web_container_client_serves_a_placeholder_for_allowed_ids_only(imported: tuple[Any, list[str]]) -> None:
    container = imported[0]
    report = run(container, "/gtm.js?id=GTM-WEB1")
    assert report.client == "Web Container" and report.response.status == 200
    assert report.response.headers["content-type"].startswith("application/javascript")
    assert b"cannot be served offline" in report.response.body and report.events == []
    assert any("placeholder" in w for w in report.warnings)
    assert run(container, "/loader.js?id=GTM-WEB1").client == "Web Container"
    assert run(container, "/gtm.js?id=GTM-OTHER").client != "Web Container"


def test_universal_analytics_client_builds_event_data_from_v1_hits(imported: tuple[Any, list[str]]) -> None:
    report = run(imported[0], "/collect?v=1&t=pageview&tid=UA-1-1&cid=555.666&dl=https%3A%2F%2Fshop.example%2F")
    assert report.client == "UA"
    data = report.events[0].event_data
    assert (data["event_name"], data["client_id"], data["page_location"]) == (
        "page_view", "555.666", "https://shop.example/")
    assert any("Universal Analytics" in w for w in report.warnings)


def test_measurement_protocol_client(imported: tuple[Any, list[str]]) -> None:
    body = json.dumps({"client_id": "1.2", "events": [{"name": "signup"}]})
    report = imported[0].simulate("POST", "/mp/collect?measurement_id=G-MP&api_secret=s", body=body, now=NOW)
    assert report.client == "MP" and report.events[0].event_data["event_name"] == "signup"


def test_unknown_client_claims_nothing_and_says_why(imported: tuple[Any, list[str]]) -> None:
    report = run(imported[0], "/nothing/here")
    assert report.response.status == 400 and "'mystery_client' is not emulated" in (report.reason or "")


# ------------------------------------------------------------------ triggers

def test_page_view_trigger_fires_on_page_view_events_only(imported: tuple[Any, list[str]]) -> None:
    container = imported[0]
    assert tag(run(container, PAGE_VIEW), "Page view GA4").status == "success"
    assert tag(run(container, PURCHASE), "Page view GA4").status == "not_fired"


def test_custom_and_always_triggers(imported: tuple[Any, list[str]]) -> None:
    report = run(imported[0], PURCHASE)
    assert tag(report, "Ads conversion").fired and tag(report, "GA4").fired
    assert not tag(run(imported[0], PAGE_VIEW), "Ads conversion").fired


def test_unknown_trigger_type_never_fires_and_its_trace_says_why(imported: tuple[Any, list[str]]) -> None:
    container = imported[0]
    trace = container.triggers["Odd trigger"].trace(None)  # type: ignore[arg-type]
    assert not trace.matched and "'TIMER' is not emulated" in trace.conditions[0].error


# ------------------------------------------------------------------ variables

def test_variables_of_every_type(imported: tuple[Any, list[str]]) -> None:
    report = run(imported[0], PURCHASE, headers={"X-Shop": "north"}, cookies={"session": "s1"})
    v = report.events[0].variables
    assert v["Email"] == "a@b.example" and v["Const"] == "abc" and v["Cookie"] == "s1"
    assert v["Query"] == "news" and v["Header"] == "north"
    assert v["Table"] is UNDEFINED  # purchase: no row, no default
    assert v["Tier"] == "gold"  # Firestore Lookup from the configured documents
    assert v["Region"] == {"country": "NL", "region": "NL-NH"}  # the configured default
    assert v["Odd"] is UNDEFINED
    assert any("'jsm'" in w for w in report.events[0].warnings)
    pv = run(imported[0], PAGE_VIEW).events[0].variables
    assert pv["Table"] == "pv" and pv["Regex"] == "pg_view"  # replace after match, partial match


def test_visitor_region_reads_the_geo_headers_google_documents(imported: tuple[Any, list[str]]) -> None:
    container = imported[0]
    gclb = run(container, PURCHASE, headers={"X-Gclb-Country": "DE", "X-Gclb-Region": "DE-BE"})
    assert gclb.events[0].variables["Region"] == {"country": "DE", "region": "DE-BE"}
    app_engine = run(container, PURCHASE, headers={"X-Appengine-Country": "FR", "X-Appengine-Region": "idf"})
    assert app_engine.events[0].variables["Region"] == {"country": "FR", "region": "idf"}


def test_firestore_lookup_without_documents_is_undefined_with_a_warning(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    write_conversion(EXPORT, out)
    report = run(load_container(out), PURCHASE)
    assert report.events[0].variables["Tier"] is UNDEFINED
    assert any("firestore_file" in w for w in report.events[0].warnings)


# ------------------------------------------------------------------ tags

def test_ga4_tag_sends_a_hit_the_mock_records(imported: tuple[Any, list[str]]) -> None:
    container = imported[0]
    container.ga4_mock.reset()
    report = run(container, PURCHASE)
    assert check_succeeded(report, "GA4") is None
    hits = [h for h in container.ga4_mock.hits if h["event_data"]["event_name"] == "purchase"]
    assert hits and hits[0]["event_data"]["x-ga-measurement_id"] == "G-TEST"
    assert hits[0]["event_data"]["value"] == 10


@pytest.mark.parametrize("name", ["Ads conversion", "Ads remarketing", "Ads user data", "Floodlight", "Odd tag"])
def test_tags_the_emulator_cannot_run_end_not_emulated(imported: tuple[Any, list[str]], name: str) -> None:
    report = run(imported[0], PURCHASE)
    result = tag(report, name)
    assert result.status == "not_emulated" and result.would_read is not None
    assert "not_emulated" in (check_succeeded(report, name, explain=False) or "")
    assert not [o for o in report.outgoing if o.tag == name]


def test_conversion_linker_is_not_emulated_on_page_views(imported: tuple[Any, list[str]]) -> None:
    result = tag(run(imported[0], PAGE_VIEW), "Conversion linker")
    assert result.status == "not_emulated"


# ------------------------------------------------------------------ transformations from the export

def test_exclude_transformation_keeps_email_from_the_ads_tag_only(imported: tuple[Any, list[str]]) -> None:
    report = run(imported[0], PURCHASE)
    ads = tag(report, "Ads conversion")
    assert ads.transformations[1]["changes"]["removed"] == ["email"]
    assert [t["name"] for t in ads.transformations] == ["Add shop", "No email for Ads"]  # augment, then exclude
    assert report.events[0].event_data["email"] == "a@b.example"  # the event itself keeps it


def test_allow_transformation_by_tag_type(imported: tuple[Any, list[str]]) -> None:
    result = tag(run(imported[0], PAGE_VIEW), "Conversion linker")
    applied = {t["name"]: t for t in result.transformations}
    assert "client_id" in applied["Only basics for linker"]["changes"]["removed"]
    assert set(result.would_read["event_data"]) <= {"page_location", "page_referrer"}


def test_augment_transformation_with_condition_and_all_tags_except(imported: tuple[Any, list[str]]) -> None:
    container = imported[0]
    report = run(container, PURCHASE)
    assert tag(report, "Ads conversion").transformations[0]["changes"]["set"] == {"shop": "abc"}
    assert not any(t["name"] == "Add shop" for t in tag(report, "Odd tag").transformations)
    assert not any(t["name"] == "Add shop" for t in tag(run(container, PAGE_VIEW), "GA4").transformations)


def test_not_emulated_shows_in_preview_store_and_the_inspection_api(imported: tuple[Any, list[str]],
                                                                     tmp_path: Path) -> None:
    from gtm_emulator.server.app import create_app
    from gtm_emulator.server.store import SQLiteStore

    store = SQLiteStore(str(tmp_path / "s.sqlite3"))
    client = create_app(imported[0], store=store).test_client()
    client.get(PURCHASE)
    listed = client.get("/_emulator/api/requests?tag_status=not_emulated").get_json()["requests"]
    assert len(listed) == 1
    detail = client.get(f"/_emulator/api/requests/{listed[0]['id']}").get_json()
    tags = {t["name"]: t for e in detail["events"] for t in e["tags"]}
    assert tags["Floodlight"]["status"] == "not_emulated" and "would_read" in tags["Floodlight"]
    assert tags["Ads conversion"]["transformations"][1]["changes"]["removed"] == ["email"]
    assert client.get("/_emulator/api/requests?tag_status=success").get_json()["requests"]  # the GA4 tag
    answer = client.get("/_emulator/static/preview.js")
    script = answer.get_data(as_text=True)
    answer.close()
    assert "not_emulated" in script and "would_read" in script and "transformations" in script
    hits = client.get("/_mock/ga4/_hits").get_json()["hits"]
    assert any(h["event_data"]["event_name"] == "purchase" for h in hits)
    store.close()
