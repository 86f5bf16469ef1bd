"""Transformations as Google documents them for server containers: Allow parameters, Exclude
parameters and Augment event, with matching conditions, affected tags (by name or type, or all but
some) and the order they run in; each tag sees its own transformed event data."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from helpers import NOW, ROOT

from gtm_emulator import load_container
from gtm_emulator.core.js import UNDEFINED
from gtm_emulator.errors import ConfigError
from gtm_emulator.loading.registry import TAGS, declared_tag
from gtm_emulator.tags.base import TagContext

PIXEL = "CEMULATOR0PIXEL00001"
TOKEN = "3e0c3fd7f678648665e3b09eb2a045339905fd2b"
HIT = ("/g/collect?v=2&tid=G-TEST&cid=1.2&en=purchase&cu=EUR&epn.value=10&ep.email=Ann%40Example.com"
       "&ep.coupon=SPRING&ep.internal=x")
SEEN: dict[str, dict[str, Any]] = {}


class SeeTag:
    """Records the event data and parameters it was given."""

    type = "test_see"
    secret_params = frozenset()

    def run(self, params: dict[str, Any], ctx: TagContext) -> None:
        SEEN[ctx.tag_name] = {"event": dict(ctx.event_data), "params": params}


@pytest.fixture(autouse=True)
def _see_tag() -> Any:
    """The ``test_see`` tag type exists during each test of this module only."""
    SEEN.clear()
    with TAGS.registered("test_see", declared_tag(lambda settings: SeeTag())):
        yield


def build(transformations: list[dict[str, Any]], tags: list[str] = ("A", "B"), **extra: Any) -> Any:
    return load_container({
        "name": "t", "clients": [{"name": "GA4", "type": "ga4"}],
        "variables": [{"name": "Email", "type": "event_data", "key_path": "email"},
                      {"name": "Coupon", "type": "event_data", "key_path": "coupon"}],
        "tags": [{"name": n, "type": "test_see", "firing_triggers": ["All Events"],
                  "parameters": {"email": "{{Email}}"}} for n in tags],
        "transformations": transformations, **extra})


def test_exclude_removes_parameters_for_the_affected_tag_only() -> None:
    c = build([{"name": "no pii", "kind": "exclude", "parameters": ["email"], "affected_tags": ["A"]}])
    report = c.simulate("GET", HIT, now=NOW)
    assert "email" not in SEEN["A"]["event"] and SEEN["B"]["event"]["email"] == "Ann@Example.com"
    assert SEEN["A"]["params"]["email"] is UNDEFINED  # {{Email}} resolved on what the tag sees
    assert SEEN["B"]["params"]["email"] == "Ann@Example.com"
    a = next(t for t in report.events[0].tags if t.name == "A")
    assert a.transformations == [{"name": "no pii", "kind": "exclude", "changes": {"removed": ["email"], "set": {}}}]
    assert report.events[0].event_data["email"] == "Ann@Example.com"
    assert "transformation 'no pii' (exclude): removed email" in report.explain()


def test_allow_keeps_only_the_listed_parameters() -> None:
    build([{"name": "basics", "kind": "allow", "parameters": ["event_name", "coupon"]}]).simulate("GET", HIT, now=NOW)
    assert SEEN["A"]["event"] == {"event_name": "purchase", "coupon": "SPRING"} == SEEN["B"]["event"]


def test_augment_sets_values_with_variables_when_the_condition_holds() -> None:
    c = build([{"name": "tag coupon", "kind": "augment", "set": [{"name": "promo", "value": "code {{Coupon}}"}],
                "conditions": [{"variable": "Event Name", "operator": "equals", "value": "purchase"}]}])
    c.simulate("GET", HIT, now=NOW)
    assert SEEN["A"]["event"]["promo"] == "code SPRING"
    SEEN.clear()
    c.simulate("GET", HIT.replace("en=purchase", "en=page_view"), now=NOW)
    assert "promo" not in SEEN["A"]["event"]


def test_order_is_allow_then_augment_then_exclude_whatever_the_config_order() -> None:
    c = build([
        {"name": "drop promo", "kind": "exclude", "parameters": ["promo"], "affected_tags": ["B"]},
        {"name": "add promo", "kind": "augment", "set": [{"name": "promo", "value": "yes"}]},
        {"name": "allow", "kind": "allow", "parameters": ["event_name"]},
    ])
    report = c.simulate("GET", HIT, now=NOW)
    # allow ran first (so the augmented promo survived it), exclude last (so B lost it again)
    assert SEEN["A"]["event"] == {"event_name": "purchase", "promo": "yes"}
    assert SEEN["B"]["event"] == {"event_name": "purchase"}
    b = next(t for t in report.events[0].tags if t.name == "B")
    assert [t["name"] for t in b.transformations] == ["allow", "add promo", "drop promo"]


def test_priority_orders_transformations_of_the_same_kind() -> None:
    c = build([{"name": "low", "kind": "augment", "set": [{"name": "x", "value": "low"}], "priority": 1},
               {"name": "high", "kind": "augment", "set": [{"name": "x", "value": "high"}], "priority": 9}])
    c.simulate("GET", HIT, now=NOW)
    assert SEEN["A"]["event"]["x"] == "low"  # high ran first, low after it


def test_conditions_read_the_event_data_as_transformed_so_far() -> None:
    config = {
        "name": "t", "clients": [{"name": "GA4", "type": "ga4"}],
        "variables": [{"name": "Flag", "type": "event_data", "key_path": "flag"}],
        "tags": [{"name": "A", "type": "test_see", "firing_triggers": ["All Events"]}],
        "transformations": [
            {"name": "add", "kind": "augment", "set": [{"name": "flag", "value": "on"}]},
            {"name": "drop when flagged", "kind": "exclude", "parameters": ["coupon"],
             "conditions": [{"variable": "Flag", "operator": "equals", "value": "on"}]}]}
    load_container(config).simulate("GET", HIT, now=NOW)
    assert "coupon" not in SEEN["A"]["event"] and SEEN["A"]["event"]["flag"] == "on"


def test_affected_tag_types_and_all_tags_except() -> None:
    c = build([{"name": "by type", "kind": "exclude", "parameters": ["coupon"], "affected_tag_types": ["test_see"]},
               {"name": "all but A", "kind": "exclude", "parameters": ["email"], "affected_tags": ["A"],
                "all_tags_except": True}])
    c.simulate("GET", HIT, now=NOW)
    assert "coupon" not in SEEN["A"]["event"] and "coupon" not in SEEN["B"]["event"]
    assert "email" in SEEN["A"]["event"] and "email" not in SEEN["B"]["event"]


def test_unknown_affected_tag_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown tag 'Nope'"):
        build([{"name": "x", "kind": "exclude", "parameters": ["a"], "affected_tags": ["Nope"]}])


def tiktok_container(transformations: list[dict[str, Any]]) -> Any:
    return load_container({
        "name": "t", "clients": [{"name": "GA4", "type": "ga4"}],
        "tags": [{"name": "TikTok", "template": str(_template()), "firing_triggers": ["All Events"],
                  "parameters": {"pixel_code": PIXEL, "access_token": TOKEN, "event": "{{Event Name}}"}}],
        "transformations": transformations,
        "mock_vendors": {"tiktok": {"pixels": {PIXEL: [TOKEN]}}}})


def _template() -> Any:
    return ROOT / "tag_templates" / "tiktok_events_api.json"


def test_pii_exclude_in_front_of_the_tiktok_tag_keeps_the_email_out_of_the_request() -> None:
    hashed = hashlib.sha256(b"ann@example.com").hexdigest()
    without = tiktok_container([]).simulate("GET", HIT, now=NOW)
    assert hashed in json.dumps(without.outgoing[0].body)  # the tag sends the email when it sees it
    report = tiktok_container([{"name": "no email for TikTok", "kind": "exclude", "parameters": ["email"],
                                "affected_tags": ["TikTok"]}]).simulate("GET", HIT, now=NOW)
    (out,) = report.outgoing
    assert hashed not in json.dumps(out.body) and "Ann@Example.com" not in out.raw_text
    assert hashed not in out.raw_text and out.vendor_ok
    assert report.events[0].tags[0].transformations[0]["changes"]["removed"] == ["email"]
