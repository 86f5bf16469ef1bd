"""The property tests of docs/testing.md, run as written, against the public strategies."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtm_emulator import load_container
from gtm_emulator import strategies as gs
from gtm_emulator.core.triggers import OPERATORS, Trigger, evaluate

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CONTAINER = load_container()


@PROPERTY
@given(hit=gs.ga4_hits())
def test_every_hit_is_accepted_and_tiktok_only_sees_purchases(hit: Any) -> None:
    report = CONTAINER.simulate(hit.method, hit.url, headers=hit.headers, body=hit.body,
                                remote_addr=hit.remote_addr, now=1700000000)
    assert report.response.status == 204
    assert len(report.events) == len(hit.events)
    fired = [e.tags[0].fired for e in report.events]
    assert fired == [e["event_name"] == "purchase" for e in hit.events]


@PROPERTY
@given(left=gs.event_values(), right=gs.event_values(), operator=st.sampled_from(OPERATORS))
def test_negate_inverts_every_operator(left: Any, right: Any, operator: str) -> None:
    assert evaluate(operator, left, right, negate=True) is (not evaluate(operator, left, right))


@PROPERTY
@given(gs.triggers())
def test_trigger_config_round_trip(trigger: Any) -> None:
    assert Trigger.from_config(trigger.to_config()) == trigger


def test_public_names() -> None:
    for name in gs.__all__:
        assert hasattr(gs, name), name
    assert gs.event_data is gs.event_data_dicts and gs.event_values is gs.event_data_values
