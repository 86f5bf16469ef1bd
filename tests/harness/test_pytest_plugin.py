"""The pytest plugin, run inside inner pytest sessions: fixtures, ini option, marker, scenario items."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests  # noqa: F401  (imported once here, not again by every inner session)

from gtm_emulator.harness.pytest_plugin import entry_point_registered

pytest_plugins = ["pytester"]

# When the package is installed, pytest loads the plugin through its entry point; otherwise ask for it.
PLUGIN_ARGS = [] if entry_point_registered() else ["-p", "gtm_emulator.harness.pytest_plugin"]
PIXEL = "CSHOP0PIXEL000000001"
TOKEN = "tok-shop-123456"
HIT = "/g/collect?v=2&tid=G-1&cid=1.2&en="


def shop(name: str = "shop", event: str = "add_to_cart") -> dict[str, Any]:
    return {
        "name": name,
        "clients": [{"name": "GA4", "type": "ga4"}],
        "triggers": [{"name": "t", "fires_on": "some_events", "conditions": [
            {"variable": "Event Name", "operator": "equals", "value": event}]}],
        "tags": [{"name": "TikTok", "type": "tiktok_events_api", "firing_triggers": ["t"],
                  "parameters": {"pixel_code": PIXEL, "access_token": TOKEN, "event": "{{Event Name}}"}}],
        "mock_vendors": {"tiktok": {"pixels": {PIXEL: [TOKEN]}}},
    }


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyprojecttoml("""
        [tool.pytest.ini_options]
        addopts = "--strict-markers -p no:cacheprovider"
        filterwarnings = ["error"]
    """)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*PLUGIN_ARGS, *args)


def add_container(pytester: pytest.Pytester, path: str, data: dict[str, Any]) -> None:
    target = pytester.path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data), encoding="utf-8")


# ---------------------------------------------------------------------------------------------- fixtures


def test_default_container_and_tiktok_mock(project: pytest.Pytester) -> None:
    project.makepyfile(test_default=f"""
        from gtm_emulator.harness.assertions import assert_tag_fired

        def test_purchase(gtm_container, tiktok_mock):
            report = gtm_container.simulate("GET", "{HIT}purchase&cu=EUR&epn.value=3", now=1700000000)
            assert_tag_fired(report, "TikTok - purchase")
            assert [e.event["event"] for e in tiktok_mock.events] == ["CompletePayment"]
            assert tiktok_mock.requests[0]["body"]["data"][0]["properties"]["currency"] == "EUR"

        def test_fresh_mock_per_test(tiktok_mock):
            assert tiktok_mock.events == []
    """)
    run(project).assert_outcomes(passed=2)


def test_ga4_mock_and_not_emulated_tags_in_the_helpers(project: pytest.Pytester) -> None:
    add_container(project, "google.json", {
        "name": "google", "clients": [{"name": "GA4", "type": "ga4"}],
        "tags": [{"name": "GA4", "type": "sgtmgaaw", "firing_triggers": ["All Events"]},
                 {"name": "Ads", "type": "sgtmadsct", "firing_triggers": ["All Events"]}]})
    project.makepyfile(test_google=f"""
        import pytest
        from gtm_emulator.testing import assert_tag_succeeded, check_succeeded

        @pytest.mark.gtm_container("google.json")
        def test_ga4_hit_and_ads_not_emulated(gtm_container, ga4_mock):
            report = gtm_container.simulate("GET", "{HIT}purchase&cu=EUR&epn.value=3", now=1700000000)
            assert_tag_succeeded(report, "GA4")
            assert [h["event_data"]["event_name"] for h in ga4_mock.hits] == ["purchase"]
            message = check_succeeded(report, "Ads")
            assert "not_emulated" in message and "would have read" in message
    """)
    run(project).assert_outcomes(passed=1)


def test_ini_option_names_the_container(project: pytest.Pytester) -> None:
    project.makepyprojecttoml("""
        [tool.pytest.ini_options]
        addopts = "--strict-markers -p no:cacheprovider"
        filterwarnings = ["error"]
        gtm_container = "config/shop.json"
    """)
    add_container(project, "config/shop.json", shop())
    project.mkdir("tests")
    (project.path / "tests" / "test_ini.py").write_text(f"""
def test_it(gtm_container, tiktok_mock):
    assert gtm_container.name == "shop"
    assert gtm_container.simulate("GET", "{HIT}add_to_cart").fired("TikTok")
    assert len(tiktok_mock.events) == 1
""", encoding="utf-8")
    run(project).assert_outcomes(passed=1)


def test_marker_on_module_and_function(project: pytest.Pytester) -> None:
    add_container(project, "containers/a.json", shop("a"))
    add_container(project, "containers/b.json", shop("b"))
    project.makepyfile(test_marker="""
        import pytest

        pytestmark = pytest.mark.gtm_container("containers/a.json")

        def test_module_level(gtm_container):
            assert gtm_container.name == "a"

        @pytest.mark.gtm_container("containers/b.json")
        def test_closest_wins(gtm_container):
            assert gtm_container.name == "b"

        @pytest.mark.gtm_container(None)
        def test_default(gtm_container):
            assert gtm_container.tags[0].name == "TikTok - purchase"

        @pytest.mark.gtm_container({"name": "inline", "clients": [{"name": "GA4", "type": "ga4"}], "tags": []})
        def test_inline(gtm_container):
            assert gtm_container.name == "inline"

        @pytest.mark.gtm_container("containers/a.json", vendor="record")
        def test_record(gtm_container):
            gtm_container.simulate("GET", "/g/collect?v=2&tid=G-1&cid=1.2&en=add_to_cart")
            assert gtm_container.tiktok_mock is None
            assert gtm_container.transport.calls[0]["url"].endswith("/event/track/")
    """)
    run(project).assert_outcomes(passed=5)


def test_marker_is_registered(project: pytest.Pytester) -> None:
    result = run(project, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.gtm_container(path, vendor='mock'): gtm_emulator: *"])
    result = run(project, "--help")
    result.stdout.fnmatch_lines(["*gtm_container (string):*"])


def test_bad_containers_fail_without_traceback(project: pytest.Pytester) -> None:
    add_container(project, "containers/bad.json", {"name": "bad", "clients": [], "tags": [{"name": "t", "type": "x"}]})
    project.makepyfile(test_bad="""
        import pytest

        @pytest.mark.gtm_container("containers/bad.json")
        def test_invalid(gtm_container):
            pass

        @pytest.mark.gtm_container("containers/missing.json")
        def test_missing(gtm_container):
            pass

        @pytest.mark.gtm_container("a.json", "b.json")
        def test_two_args(gtm_container):
            pass

        @pytest.mark.gtm_container("containers/bad.json", vendor="live")
        def test_live(gtm_container):
            pass

        @pytest.mark.gtm_container(None, vendor="record")
        def test_no_mock(tiktok_mock):
            pass
    """)
    result = run(project)
    result.assert_outcomes(errors=5)
    out = result.stdout.str()
    assert "gtm_container: containers/bad.json is not a valid container:\n" in out
    assert "containers/bad.json: $.tags[0].type: unknown tag type 'x'" in out
    assert "gtm_container: container file containers/missing.json not found" in out
    assert "@pytest.mark.gtm_container takes one container" in out
    assert "vendor must be 'mock' or 'record' in tests, got 'live'" in out
    assert "tiktok_mock: the container does not run with the mock vendor" in out
    assert "Traceback" not in out and "During handling" not in out


def test_emulator_server_fixture_serves_and_stops(project: pytest.Pytester) -> None:
    project.makepyfile(test_emulator_server_inner=f"""
        import pytest
        import requests

        from gtm_emulator.harness.assertions import assert_tag_fired

        seen = []

        def test_http(emulator_server, tiktok_mock):
            resp = requests.get(emulator_server.url + "{HIT}purchase", timeout=5)
            assert resp.status_code == 204
            assert_tag_fired(emulator_server.last_report, "TikTok - purchase")
            assert len(tiktok_mock.events) == 1
            assert emulator_server.container is not None
            seen.append(emulator_server.url)

        def test_stopped_after_the_test():
            with pytest.raises(requests.ConnectionError):
                requests.get(seen[0] + "/healthz", timeout=2)
    """)
    run(project).assert_outcomes(passed=2)


def test_assertion_failure_lists_tags_and_conditions(project: pytest.Pytester) -> None:
    project.makepyfile(test_fail=f"""
        from gtm_emulator.harness.assertions import assert_tag_fired

        def test_page_view_fires(gtm_container):
            report = gtm_container.simulate("GET", "{HIT}page_view")
            assert_tag_fired(report, "TikTok - purchase")
    """)
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E       AssertionError: tag 'TikTok - purchase' did not fire",
        "E       GET /g/collect?v=2&tid=G-1&cid=1.2&en=page_view -> 204 (client: GA4)",
        "E       event 0 (\"page_view\"):",
        "E         'TikTok - purchase' (tiktok_events_api): not_fired",
        "E           firing trigger 'GA4 purchase': no match",
        "E             ✗ {{Event Name}} equals \"purchase\": false (left \"page_view\", right \"purchase\")",
    ])
    assert "testing.py" not in result.stdout.str()  # the helper's own frames are hidden


# ---------------------------------------------------------------------------------------------- scenarios


SCENARIO = {
    "name": "Checkout",
    "steps": [
        {"name": "purchase", "request": {"url": f"{HIT}purchase"}, "expect": {"fired": ["TikTok - purchase"]}},
        {"name": "page view", "request": {"url": f"{HIT}page_view"},
         "expect": {"fired": ["TikTok - purchase"], "status": 204}},
        {"name": "purchase", "request": {"url": f"{HIT}purchase&cu=EUR"},
         "expect": {"payload": {"TikTok - purchase": {"data[0].properties.currency": "USD"}}}},
    ],
}


def test_scenario_files_are_collected_one_item_per_step(project: pytest.Pytester) -> None:
    (project.path / "checkout.scenario.json").write_text(json.dumps(SCENARIO), encoding="utf-8")
    (project.path / "scenario_empty_ok.json").write_text(json.dumps(
        {"steps": [{"request": {"url": f"{HIT}view_item"}, "expect": {"not_fired": ["TikTok - purchase"]}}]}),
        encoding="utf-8")
    (project.path / "ignored.json").write_text("{not even json", encoding="utf-8")
    result = run(project, "-v")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([
        "checkout.scenario.json::purchase PASSED*",
        "checkout.scenario.json::page view FAILED*",
        "checkout.scenario.json::purchase (3) FAILED*",
        "scenario_empty_ok.json::step 1 PASSED*",
    ])
    out = result.stdout.str()
    assert ("_ checkout.scenario.json step 2: page view _" in out
            and "step 2 ('page view') of checkout.scenario.json failed:\n"
            "- tag 'TikTok - purchase' did not fire\n"
            "what the container did:\n" in out)
    assert '✗ {{Event Name}} equals "purchase": false (left "page_view", right "purchase")' in out
    assert ("step 3 ('purchase') of checkout.scenario.json failed:\n"
            "- no request of tag 'TikTok - purchase' has the expected payload\n" in out)
    assert '$.data[0].properties.currency: expected "USD", got "EUR"' in out
    assert "Traceback" not in out


def test_selecting_one_step(project: pytest.Pytester) -> None:
    (project.path / "checkout.scenario.json").write_text(json.dumps(SCENARIO), encoding="utf-8")
    result = run(project, "-k", "page", "-q")
    result.assert_outcomes(failed=1, deselected=2)


def test_invalid_scenario_is_a_readable_collection_error(project: pytest.Pytester) -> None:
    (project.path / "bad.scenario.json").write_text(json.dumps({"steps": [{"request": {}}]}), encoding="utf-8")
    result = run(project)
    result.assert_outcomes(errors=1)
    out = result.stdout.str()
    assert "invalid scenario file bad.scenario.json:\n" in out
    assert "bad.scenario.json: $.steps[0].request: missing required key 'url'" in out
    assert "Traceback" not in out


def test_scenario_with_an_invalid_container_fails_each_step(project: pytest.Pytester) -> None:
    add_container(project, "broken.json", {"name": "x", "clients": [], "tags": [{"name": "t", "type": "nope"}]})
    (project.path / "c.scenario.json").write_text(json.dumps(
        {"container": "broken.json", "steps": [{"request": {"url": "/"}}, {"request": {"url": "/"}}]}),
        encoding="utf-8")
    result = run(project)
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    # each failed step carries the reason (the summary section may repeat it)
    assert out.count("c.scenario.json cannot be loaded:\n") >= 2
    assert "broken.json: $.tags[0].type: unknown tag type 'nope'" in out
