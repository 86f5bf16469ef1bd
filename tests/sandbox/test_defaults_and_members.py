"""Two sandbox rules the published TikTok templates depend on.

- A tag field left unset takes its ``defaultValue`` *as field text*, so ``{{Event Name}}`` is
  resolved per event like any other field (TikTok's template defaults its Event field to it).
- Objects have no inherited members: ``map['constructor']``, ``map.toString`` or ``map['__proto__']``
  read only what the object holds (TikTok's and stape's event maps are looked up with the event
  name, which may be any text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gtm_emulator import load_container

PERMISSIONS = """[
  {"instance": {"key": {"publicId": "logging", "versionId": "1"},
                "param": [{"key": "environments", "value": {"type": 1, "string": "all"}}]},
   "isRequired": true}
]"""


def tag_template(fields: str, code: str) -> str:
    return ("___INFO___\n\n" + '{"type": "TAG", "id": "cvt_temp_public_id", "version": 1, "securityGroups": [], '
            '"displayName": "Probe", "containerContexts": ["SERVER"]}\n\n\n'
            "___TEMPLATE_PARAMETERS___\n\n" + fields + "\n\n\n"
            "___SANDBOXED_JS_FOR_SERVER___\n\n" + code + "\n\n\n"
            "___SERVER_PERMISSIONS___\n\n" + PERMISSIONS + "\n")


def run_probe(tmp_path: Path, fields: str, code: str, params: dict[str, Any], hit: str) -> list[str]:
    (tmp_path / "probe.tpl").write_text(tag_template(fields, code), encoding="utf-8")
    container = load_container({
        "name": "probe", "clients": [{"name": "GA4", "type": "ga4"}],
        "tags": [{"name": "Probe", "type": "template", "template": "probe.tpl", "parameters": params,
                  "firing_triggers": ["All Events"]}],
    }, base_dir=tmp_path)
    report = container.simulate("GET", hit, now=1_700_000_000)
    [event] = report.events
    assert event.tags[0].status == "success", event.tags[0].error
    return event.console


FIELDS = """[{"type": "TEXT", "name": "event", "displayName": "Event", "simpleValueType": true,
   "defaultValue": "{{Event Name}}"},
  {"type": "TEXT", "name": "label", "displayName": "Label", "simpleValueType": true, "defaultValue": "plain"}]"""
LOG = "const log = require('logToConsole');\nlog(data.event + '|' + data.label);\ndata.gtmOnSuccess();"


def test_unset_field_default_referring_to_a_variable_is_resolved_per_event(tmp_path: Path) -> None:
    console = run_probe(tmp_path, FIELDS, LOG, {}, "/g/collect?v=2&tid=G-1&cid=1.2&en=add_to_cart")
    assert console == ["add_to_cart|plain"]


def test_a_set_field_keeps_its_own_value(tmp_path: Path) -> None:
    console = run_probe(tmp_path, FIELDS, LOG, {"event": "Lead", "label": "x"},
                        "/g/collect?v=2&tid=G-1&cid=1.2&en=add_to_cart")
    assert console == ["Lead|x"]


MEMBERS = """const log = require('logToConsole');
const JSON = require('JSON');
const map = {purchase: 'CompletePayment'};
const names = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'purchase'];
const seen = [];
for (let i = 0; i < names.length; i++) seen.push(names[i] + '=' + (map[names[i]] || '-'));
const own = {};
own['__proto__'] = 'kept';
own['constructor'] = 'mine';
log(seen.join(','));
log(JSON.stringify(own));
log('' + {a: 1} + '/' + [1, [2, 3]] + '/' + (5 + [1]));
data.gtmOnSuccess();"""


def test_objects_have_no_inherited_members(tmp_path: Path) -> None:
    console = run_probe(tmp_path, "[]", MEMBERS, {}, "/g/collect?v=2&tid=G-1&cid=1.2&en=x")
    assert console == [
        "constructor=-,toString=-,__proto__=-,hasOwnProperty=-,valueOf=-,purchase=CompletePayment",
        '{"__proto__":"kept","constructor":"mine"}',
        "[object Object]/1,2,3/51",  # converting objects and arrays to text still works
    ]


NUMBERS = """const log = require('logToConsole');
const JSON = require('JSON');
const values = [-0.000000059604644775390625, 0.1 + 0.2, 123.456, 1e21, 0.0000005, 3 / 4096, 1 / 3, 42];
log(JSON.stringify({values: values, nested: [{v: values[0]}]}));
data.gtmOnSuccess();"""


def test_json_stringify_writes_the_shortest_number_text(tmp_path: Path) -> None:
    """-2^-24 has an exact 17-digit decimal form; ECMAScript's Number::toString (and GTM) write the
    shortest digits that read back to the same double, as Python's repr does."""
    console = run_probe(tmp_path, "[]", NUMBERS, {},
                        "/g/collect?v=2&tid=G-1&cid=1.2&en=x")
    values = "-5.960464477539063e-8,0.30000000000000004,123.456,1e+21,5e-7,0.000732421875,0.3333333333333333,42"
    assert console == ['{"values":[' + values + '],"nested":[{"v":-5.960464477539063e-8}]}']
