from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import NOW, PAGE_VIEW, PURCHASE, ROOT

from gtm_emulator import load_container
from gtm_emulator.errors import TagError
from gtm_emulator.loading.registry import TAGS, declared_tag
from gtm_emulator.tags.base import TagContext

RUNS: list[tuple[str, Any]] = []


class ProbeTag:
    """A tag for tests: records that it ran, and fails, raises or mutates event data on request."""

    type = "test_probe"
    secret_params = frozenset({"secret"})

    def run(self, params: dict[str, Any], ctx: TagContext) -> None:
        RUNS.append((ctx.tag_name, ctx.event_data.get("event_name")))
        ctx.event_data["event_name"] = "mutated"
        if params.get("cookie"):
            ctx.set_cookie(params["cookie"], "v", {"path": "/", "max-age": 60})
        if params.get("log"):
            ctx.log("probe says", params["log"])
        if params.get("mode") == "fail":
            raise TagError("probe asked to fail")
        if params.get("mode") == "raise":
            raise ZeroDivisionError("boom")


@pytest.fixture(autouse=True)
def _probe_tag_type() -> Any:
    """The ``test_probe`` tag type exists during each test of this module only."""
    RUNS.clear()
    with TAGS.registered("test_probe", declared_tag(lambda settings: ProbeTag())):
        yield


def container(tags: list[dict[str, Any]], triggers: list[dict[str, Any]] | None = None, **extra: Any) -> Any:
    config = {
        "name": "test",
        "clients": [{"name": "GA4", "type": "ga4"}],
        "triggers": triggers if triggers is not None else [
            {"name": "purchase", "fires_on": "some_events",
             "conditions": [{"variable": "Event Name", "operator": "equals", "value": "purchase"}]},
            {"name": "never", "fires_on": "some_events",
             "conditions": [{"variable": "Event Name", "operator": "equals", "value": "nope"}]},
        ],
        "tags": tags,
        **extra,
    }
    return load_container(config)


def probe(name: str, **kw: Any) -> dict[str, Any]:
    params = kw.pop("parameters", {})
    return {"name": name, "type": "test_probe", "parameters": params, **kw}


def statuses(report: Any, event: int = 0) -> dict[str, str]:
    return {t.name: t.status for t in report.events[event].tags}


def test_default_container_purchase_fires_and_page_view_does_not() -> None:
    c = load_container()
    purchase = c.simulate("GET", PURCHASE, now=NOW)
    assert purchase.client == "GA4" and purchase.response.status == 204
    assert purchase.fired("TikTok - purchase")
    (out,) = purchase.outgoing
    assert out.url == "https://business-api.tiktok.com/open_api/v1.3/event/track/"
    assert out.headers["Access-Token"] == "****" and out.vendor_ok is True
    assert out.body["data"][0]["event"] == "CompletePayment"
    assert len(c.tiktok_mock.events) == 1

    page_view = c.simulate("GET", PAGE_VIEW, now=NOW)
    assert not page_view.fired("TikTok - purchase")
    (tag,) = page_view.events[0].tags
    assert tag.status == "not_fired"
    failing = [cond for trig in tag.triggers for cond in trig.conditions if not cond.result]
    assert [(f.variable, f.left, f.right) for f in failing] == [("Event Name", "page_view", "purchase")]
    assert len(c.tiktok_mock.events) == 1


def test_unclaimed_request_is_400_with_each_clients_reason() -> None:
    report = load_container().simulate("GET", "/collect?v=1")
    assert report.client is None and report.events == []
    assert report.response.status == 400
    assert (b"no client claimed the request (GA4: path '/collect' does not end in /g/collect; "
            b"Measurement Protocol: path '/collect' does not end in /mp/collect)") in report.response.body


def test_default_container_claims_measurement_protocol_but_the_tiktok_tag_waits_for_ga4() -> None:
    """The trigger says Client Name equals GA4: a purchase sent through the Measurement Protocol is
    claimed (as a server container with that client claims it) and does not fire the TikTok tag."""
    container = load_container()
    body = b'{"client_id": "1.2", "events": [{"name": "purchase", "params": {"currency": "EUR", "value": 10}}]}'
    report = container.simulate("POST", "/mp/collect?measurement_id=G-TEST&api_secret=s3cr3t-value", body=body,
                                now=NOW)
    assert report.client == "Measurement Protocol"
    assert report.response.status == 204
    assert [e.event_data["event_name"] for e in report.events] == ["purchase"]
    assert not report.fired("TikTok - purchase")
    assert container.tiktok_mock.events == []


def test_client_priority_highest_first_then_file_order() -> None:
    config = {
        "name": "t", "tags": [],
        "clients": [{"name": "low", "type": "ga4", "priority": 0}, {"name": "high", "type": "ga4", "priority": 5},
                    {"name": "high-second", "type": "ga4", "priority": 5}],
    }
    assert load_container(config).simulate("GET", PAGE_VIEW).client == "high"


def test_firing_triggers_or_blocking_wins_and_paused() -> None:
    c = container([
        probe("or", firing_triggers=["never", "purchase"]),
        probe("blocked", firing_triggers=["purchase"], blocking_triggers=["purchase"]),
        probe("paused", firing_triggers=["purchase"], paused=True),
        probe("idle", firing_triggers=["never"]),
    ])
    report = c.simulate("GET", PURCHASE)
    assert statuses(report) == {"or": "success", "blocked": "blocked", "paused": "paused", "idle": "not_fired"}
    assert RUNS == [("or", "purchase")]
    blocked = next(t for t in report.events[0].tags if t.name == "blocked")
    assert [(t.role, t.matched) for t in blocked.triggers] == [("firing", True), ("blocking", True)]


def test_priority_order_and_report_order_is_start_order() -> None:
    c = container([probe("low", firing_triggers=["purchase"]), probe("high", firing_triggers=["purchase"], priority=10),
                   probe("mid", firing_triggers=["purchase"], priority=5), probe("mid2", firing_triggers=["purchase"],
                                                                                  priority=5)])
    report = c.simulate("GET", PURCHASE)
    assert [name for name, _ in RUNS] == ["high", "mid", "mid2", "low"]
    assert [t.name for t in report.events[0].tags] == ["high", "mid", "mid2", "low"]


def test_each_tag_sees_its_own_copy_of_event_data() -> None:
    c = container([probe("a", firing_triggers=["purchase"]), probe("b", firing_triggers=["purchase"])])
    report = c.simulate("GET", PURCHASE)
    assert RUNS == [("a", "purchase"), ("b", "purchase")]
    assert report.events[0].event_data["event_name"] == "purchase"


def test_failing_and_raising_tags_are_failures_not_crashes() -> None:
    c = container([probe("fails", firing_triggers=["purchase"], parameters={"mode": "fail"}),
                   probe("raises", firing_triggers=["purchase"], parameters={"mode": "raise"}),
                   probe("fine", firing_triggers=["purchase"])])
    report = c.simulate("GET", PURCHASE)
    assert report.response.status == 204
    assert statuses(report) == {"fails": "failure", "raises": "failure", "fine": "success"}
    tags = {t.name: t for t in report.events[0].tags}
    assert tags["fails"].error == "probe asked to fail"
    assert tags["raises"].error == "ZeroDivisionError: boom"
    assert any("uncaught exception" in line for line in report.events[0].console)


def test_setup_tag_fires_first_and_stop_on_failure_stops_the_main_tag() -> None:
    c = container([
        probe("setup-ok"), probe("setup-bad", parameters={"mode": "fail"}),
        probe("main", firing_triggers=["purchase"], setup_tags=[{"tag": "setup-ok"}]),
        probe("stopped", firing_triggers=["purchase"], setup_tags=[{"tag": "setup-bad", "stop_on_failure": True}]),
        probe("continues", firing_triggers=["purchase"], setup_tags=[{"tag": "setup-bad"}]),
    ])
    report = c.simulate("GET", PURCHASE)
    st = statuses(report)
    assert st["main"] == "success" and st["setup-ok"] == "success"
    assert st["stopped"] == "not_fired" and st["continues"] == "success"
    assert [n for n, _ in RUNS] == ["setup-ok", "main", "setup-bad", "continues"]
    stopped = next(t for t in report.events[0].tags if t.name == "stopped")
    assert "setup tag 'setup-bad' ended with failure" in (stopped.error or "")
    setup = next(t for t in report.events[0].tags if t.name == "setup-ok")
    assert "fired as setup tag of 'main'" in setup.notes


def test_paused_setup_tag_with_stop_stops_main() -> None:
    c = container([probe("s", paused=True),
                   probe("main", firing_triggers=["purchase"], setup_tags=[{"tag": "s", "stop_on_failure": True}])])
    assert statuses(c.simulate("GET", PURCHASE))["main"] == "not_fired"


def test_cleanup_tag_and_stop_teardown_on_failure() -> None:
    c = container([
        probe("cleanup"), probe("cleanup2"),
        probe("ok", firing_triggers=["purchase"], teardown_tags=[{"tag": "cleanup", "stop_on_failure": True}]),
        probe("bad", firing_triggers=["purchase"], parameters={"mode": "fail"},
              teardown_tags=[{"tag": "cleanup2", "stop_on_failure": True}]),
    ])
    report = c.simulate("GET", PURCHASE)
    assert [n for n, _ in RUNS] == ["ok", "cleanup", "bad"]
    assert statuses(report)["cleanup2"] == "not_fired"


def test_once_per_event_versus_unlimited() -> None:
    c = container([
        probe("shared"), probe("shared-unlimited", firing_option="unlimited"),
        probe("a", firing_triggers=["purchase"], setup_tags=[{"tag": "shared"}, {"tag": "shared-unlimited"}]),
        probe("b", firing_triggers=["purchase"], setup_tags=[{"tag": "shared"}, {"tag": "shared-unlimited"}]),
    ])
    c.simulate("GET", PURCHASE)
    names = [n for n, _ in RUNS]
    assert names.count("shared") == 1
    assert names.count("shared-unlimited") == 2


def test_batched_post_runs_the_container_once_per_line_and_cookies_join_one_response() -> None:
    c = container([probe("t", firing_triggers=["All Events"], parameters={"cookie": "seen"})])
    body = "en=page_view\nen=purchase\r\nen=add_to_cart\n"
    report = c.simulate("POST", "/g/collect?v=2&tid=G-1&cid=1.2", body=body)
    assert [e.event_data["event_name"] for e in report.events] == ["page_view", "purchase", "add_to_cart"]
    assert len(RUNS) == 3
    assert [ck.name for ck in report.response.set_cookies] == ["seen"]


def test_body_over_the_limit_is_413() -> None:
    c = container([], settings={"max_body_bytes": 100})
    report = c.simulate("POST", "/g/collect?v=2&tid=G-1&cid=1&en=x", body="x" * 101)
    assert report.response.status == 413 and "limit is 100 bytes" in (report.reason or "")


def test_reports_are_deterministic_with_now() -> None:
    def run() -> str:
        rep = load_container().simulate("GET", PURCHASE, now=NOW)
        data = rep.to_dict()
        for event in data["events"]:
            for tag in event["tags"]:
                tag.pop("duration_ms", None)
            for out in event["outgoing"]:
                out.pop("duration_ms", None)
                out["response"]["body"].pop("request_id", None)
        return json.dumps(data, sort_keys=True)

    assert run() == run()


def test_secret_tag_parameters_are_masked_in_console_and_variables() -> None:
    c = container([probe("t", firing_triggers=["purchase"], parameters={"secret": "{{Token}}", "log": "{{Token}}"})],
                  variables=[{"name": "Token", "type": "constant", "value": "very-secret-value"}])
    report = c.simulate("GET", PURCHASE)
    dumped = json.dumps(report.to_dict())
    assert "very-secret-value" not in dumped
    assert report.events[0].console == ["probe says ****"]


def test_ga4_tag_sends_the_event_to_the_mock_collection_endpoint() -> None:
    c = container([{"name": "GA4 tag", "type": "sgtmgaaw", "firing_triggers": ["purchase"]}])
    report = c.simulate("GET", PURCHASE)
    (tag,) = report.events[0].tags
    assert tag.status == "success"
    (out,) = report.outgoing
    assert out.url.startswith("https://region1.google-analytics.com/g/collect?v=2&tid=G-TEST")
    (hit,) = c.ga4_mock.hits
    assert hit["event_data"]["event_name"] == "purchase"
    assert hit["event_data"]["x-ga-measurement_id"] == "G-TEST"


def test_ga4_tag_without_measurement_id_or_client_id_fails_and_sends_nothing() -> None:
    from helpers import tag_context

    from gtm_emulator.tags.google import GA4Tag

    ctx = tag_context({"event_name": "purchase", "client_id": "1.2"})
    with pytest.raises(TagError, match="measurement ID"):
        GA4Tag().run({}, ctx)
    ctx = tag_context({"event_name": "purchase", "x-ga-measurement_id": "G-1"})
    with pytest.raises(TagError, match="client_id"):
        GA4Tag().run({}, ctx)
    assert ctx.outgoing == []


def test_ga4_tag_parameters_override_id_and_name_and_redact_ip() -> None:
    c = container([{"name": "GA4 tag", "type": "sgtmgaaw", "firing_triggers": ["purchase"],
                    "parameters": {"measurementId": "G-OTHER", "eventName": "renamed", "redactVisitorIp": True}}])
    c.simulate("GET", PURCHASE)
    (hit,) = c.ga4_mock.hits
    assert hit["event_data"]["x-ga-measurement_id"] == "G-OTHER"
    assert hit["event_data"]["event_name"] == "renamed"
    assert "X-Forwarded-For" not in c.simulate("GET", PURCHASE).outgoing[0].headers


@pytest.mark.parametrize("kind", ["sgtmadsct", "sgtmadsremarket", "sgtmadscl", "sgtmadsud", "sgtmfls"])
def test_google_ads_floodlight_and_linker_are_not_emulated_never_success(kind: str) -> None:
    c = container([{"name": "Google tag", "type": kind, "firing_triggers": ["purchase"],
                    "parameters": {"conversionId": "123"}}])
    report = c.simulate("GET", PURCHASE)
    (tag,) = report.events[0].tags
    assert tag.status == "not_emulated" and tag.fired and report.outgoing == []
    assert tag.would_read["parameters"] == {"conversionId": "123"}
    assert "not emulated" in tag.error and "not emulated" in tag.explain()
    assert report.to_dict()["events"][0]["tags"][0]["status"] == "not_emulated"


def test_default_container_file_is_the_bundled_one() -> None:
    data = json.loads((ROOT / "containers" / "default.json").read_text("utf-8"))
    assert data["triggers"] == ["../triggers/ga4_purchase.json"]
    assert data["tags"][0]["template"] == "../tag_templates/tiktok_events_api.json"
