"""Variables: every built-in of a server container, the user-defined types, Format Value,
interpolation, caching and cycles."""

from __future__ import annotations

import random
from typing import Any

import pytest

from gtm_emulator.core.js import UNDEFINED
from gtm_emulator.core.request import Request
from gtm_emulator.core.variables import (
    BUILTIN_NAME_BY_API,
    BUILTIN_NAME_BY_TYPE,
    BUILTINS,
    ConstantVariable,
    ContainerInfo,
    CookieVariable,
    EventContext,
    EventDataVariable,
    FormatValue,
    LookupTableVariable,
    QueryParameterVariable,
    RegexTableVariable,
    RequestHeaderVariable,
    Template,
    Variable,
    VariableCycleError,
    builtin_name,
    find_variable_cycles,
    js_replacement,
)

REQUEST = Request.build(
    "POST",
    "https://sgtm.shop.example:8443/g/collect?v=2&tid=G-1&en=page_view&x=a%20b&x=second&plus=a+b",
    headers={"User-Agent": "UA/1", "X-Custom": "one", "x-custom": "two"},
    cookies={"FPID": "FPID2.2.abc=", "_ga": "GA1.1.123.456"},
)

EVENT: dict[str, Any] = {
    "event_name": "purchase",
    "page_location": "https://Shop.Example/checkout/done?step=3#top",
    "client_id": "123.456",
    "ga_session_id": "1700000000",
    "ga_session_number": 3,
    "event_location": {"region": "DE-BE", "country": "DE"},
    "value": 42.5,
    "items": [{"item_id": "SKU1", "price": 10}, {"item_id": "SKU2", "tags": ["a", "b"]}],
    "user_data": {"address": [{"city": "Berlin"}]},
    "flag": True,
    "nothing": None,
    "dotted.key": "unreachable",
}


def ctx(variables: dict[str, Variable] | None = None, event: dict[str, Any] | None = None,
        request: Request = REQUEST, info: ContainerInfo | None = None) -> EventContext:
    return EventContext(EVENT if event is None else event, request, "GA4", variables or {},
                        info or ContainerInfo(container_id="GTM-ABC1234", version="17", environment_name="staging"),
                        rng=random.Random(3))


# ---------------------------------------------------------------- built-ins


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Event Name", "purchase"),
        ("_event", "purchase"),
        ("Client Name", "GA4"),
        ("Request Path", "/g/collect"),
        ("Request Method", "POST"),
        ("Request Host", "sgtm.shop.example"),
        ("Query String", "v=2&tid=G-1&en=page_view&x=a%20b&x=second&plus=a+b"),
        ("Page URL", "https://Shop.Example/checkout/done?step=3#top"),
        ("Page Path", "/checkout/done"),
        ("Page Hostname", "shop.example"),
        ("Container ID", "GTM-ABC1234"),
        ("Container Version", "17"),
        ("Debug Mode", True),
        ("Environment Name", "staging"),
        ("Visitor Region", "DE-BE"),
        ("Analytics Client ID", "123.456"),
        ("Analytics Session ID", "1700000000"),
        ("Analytics Session Number", 3),
    ],
)
def test_builtin(name: str, expected: Any) -> None:
    assert ctx().get(name) == expected


def test_every_builtin_of_the_spec_is_present_with_its_spellings() -> None:
    spec = {
        "EVENT_NAME": "eventName", "CLIENT_NAME": "clientName", "REQUEST_PATH": "requestPath",
        "REQUEST_METHOD": "requestMethod", "REQUEST_HOST": "requestHost", "QUERY_STRING": "queryString",
        "SERVER_PAGE_LOCATION_URL": "serverPageLocationUrl", "SERVER_PAGE_LOCATION_PATH": "serverPageLocationPath",
        "SERVER_PAGE_LOCATION_HOSTNAME": "serverPageLocationHostname", "CONTAINER_ID": "containerId",
        "CONTAINER_VERSION": "containerVersion", "DEBUG_MODE": "debugMode", "ENVIRONMENT_NAME": "environmentName",
        "RANDOM_NUMBER": "randomNumber", "VISITOR_REGION": "visitorRegion",
        "ANALYTICS_CLIENT_ID": "analyticsClientId", "ANALYTICS_SESSION_ID": "analyticsSessionId",
        "ANALYTICS_SESSION_NUMBER": "analyticsSessionNumber",
    }
    assert set(BUILTIN_NAME_BY_TYPE) == set(spec)
    for export_type, api in spec.items():
        name = BUILTIN_NAME_BY_TYPE[export_type]
        assert BUILTIN_NAME_BY_API[api] == name
        assert builtin_name(export_type) == builtin_name(api) == builtin_name(name) == name
        assert name in BUILTINS
    assert builtin_name("nope") is None
    assert builtin_name("_event") is None  # internal alias, not a UI name


def test_builtin_by_export_type_resolves() -> None:
    assert ctx().get("EVENT_NAME") == "purchase"


def test_random_number_range_seed_and_cache() -> None:
    context = ctx()
    value = context.get("Random Number")
    assert isinstance(value, int) and 0 <= value <= 2147483647
    assert context.get("Random Number") == value
    assert ctx().get("Random Number") == value  # same seed, same value
    assert context.resolved["Random Number"] == value


def test_builtins_when_data_is_missing() -> None:
    context = EventContext({}, Request.build("GET", "/x"), None, {})
    for name in ("Event Name", "Client Name", "Page URL", "Page Path", "Page Hostname", "Visitor Region",
                 "Analytics Client ID", "Request Host"):
        assert context.get(name) is UNDEFINED, name
    assert context.get("Query String") == ""
    assert context.get("Debug Mode") is True
    assert context.get("Container ID") == "GTM-EMULATOR"


@pytest.mark.parametrize(
    ("location", "path", "host"),
    [("https://a.example", "/", "a.example"), ("not a url", UNDEFINED, UNDEFINED), ("", UNDEFINED, UNDEFINED),
     ("https://[::1]:80/x", "/x", "::1"), ("http://h.example:99/p/q?x#y", "/p/q", "h.example")],
)
def test_page_path_and_hostname(location: str, path: Any, host: Any) -> None:
    context = ctx(event={"page_location": location})
    assert context.get("Page Path") == path
    assert context.get("Page Hostname") == host


def test_request_path_without_container_prefix() -> None:
    info = ContainerInfo(path_prefix="/metrics")
    request = Request.build("GET", "/metrics/g/collect?v=2")
    assert ctx(request=request, info=info).get("Request Path") == "/g/collect"
    assert ctx(request=Request.build("GET", "/metricsx"), info=info).get("Request Path") == "/metricsx"


def test_unknown_variable_is_undefined_with_a_warning() -> None:
    context = ctx()
    assert context.get("Nope") is UNDEFINED
    assert context.get("Nope") is UNDEFINED
    assert context.warnings == ["unknown variable {{Nope}} resolved to undefined"]


# ---------------------------------------------------------------- Event Data


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("event_name", "purchase"),
        ("items.0.item_id", "SKU1"),
        ("items.1.tags.1", "b"),
        ("user_data.address.0.city", "Berlin"),
        ("items.2.item_id", UNDEFINED),
        ("items.01.item_id", UNDEFINED),
        ("items.-1.item_id", UNDEFINED),
        ("items.x", UNDEFINED),
        ("event_name.0", UNDEFINED),
        ("dotted.key", UNDEFINED),
        ("nothing", None),
        ("nothing.deeper", UNDEFINED),
        ("value", 42.5),
        ("event_location", {"region": "DE-BE", "country": "DE"}),
    ],
)
def test_event_data_key_paths(path: str, expected: Any) -> None:
    assert EventDataVariable("V", path).resolve(ctx()) == expected


def test_event_data_default_only_when_undefined() -> None:
    default = Template("n/a")
    assert EventDataVariable("V", "missing", default=default).resolve(ctx()) == "n/a"
    assert EventDataVariable("V", "nothing", default=default).resolve(ctx()) is None
    assert EventDataVariable("V", "flag", default=default).resolve(ctx()) is True
    interpolated = EventDataVariable("V", "missing", default=Template("{{Event Name}}-x"))
    assert interpolated.resolve(ctx()) == "purchase-x"
    assert interpolated.references() == ("Event Name",)


def test_event_data_key_path_with_reference() -> None:
    variables: dict[str, Variable] = {"Idx": ConstantVariable("Idx", Template("1"))}
    variable = EventDataVariable("V", "items.{{Idx}}.item_id")
    assert variable.resolve(ctx(variables)) == "SKU2"
    assert variable.references() == ("Idx",)


# ---------------------------------------------------------------- other types


def test_constant_typed_and_mixed() -> None:
    assert ConstantVariable("C", Template("x")).resolve(ctx()) == "x"
    variables: dict[str, Variable] = {"Value": EventDataVariable("Value", "value")}
    assert ConstantVariable("C", Template("{{Value}}")).resolve(ctx(variables)) == 42.5
    assert ConstantVariable("C", Template("v={{Value}};u={{Missing}}")).resolve(ctx(variables)) == "v=42.5;u=undefined"
    assert ConstantVariable("C", "plain").resolve(ctx()) == "plain"


def test_lookup_table() -> None:
    rows = [("purchase", Template("P")), ("page_view", Template("{{Client Name}}")), ("purchase", Template("dup"))]
    variable = LookupTableVariable("L", Template("{{Event Name}}"), rows, default=Template("D"))
    assert variable.resolve(ctx()) == "P"  # first hit wins
    assert variable.resolve(ctx(event={"event_name": "page_view"})) == "GA4"
    assert variable.resolve(ctx(event={"event_name": "Purchase"})) == "D"  # case-sensitive
    no_default = LookupTableVariable("L", Template("{{Event Name}}"), rows)
    assert no_default.resolve(ctx(event={"event_name": "x"})) is UNDEFINED
    typed = LookupTableVariable("L", Template("{{Flag}}"), [("true", Template("yes"))])
    assert typed.resolve(ctx({"Flag": EventDataVariable("Flag", "flag")})) == "yes"  # String(true)
    missing = LookupTableVariable("L", Template("{{Nope}}"), [("undefined", Template("was undefined"))])
    assert missing.resolve(ctx()) == "was undefined"
    assert set(variable.references()) == {"Event Name", "Client Name"}


def test_lookup_table_with_reference_keys() -> None:
    variables: dict[str, Variable] = {"Key": ConstantVariable("Key", Template("purchase"))}
    variable = LookupTableVariable("L", Template("{{Event Name}}"), [(Template("{{Key}}"), Template("hit"))])
    assert variable.resolve(ctx(variables)) == "hit"


def test_regex_table_defaults_full_match_ignore_case_replace() -> None:
    rows = [("purchase", Template("P")), ("page_(.*)", Template("page:$1"))]
    variable = RegexTableVariable("R", Template("{{Event Name}}"), rows, default=Template("D"))
    assert variable.resolve(ctx()) == "P"
    assert variable.resolve(ctx(event={"event_name": "PURCHASE"})) == "P"  # ignore_case default
    assert variable.resolve(ctx(event={"event_name": "my_purchase"})) == "D"  # full match default
    assert variable.resolve(ctx(event={"event_name": "page_view"})) == "page:view"


def test_regex_table_partial_match_and_replace() -> None:
    rows = [("shop\\.(\\w+)", Template("store.$1"))]
    partial = RegexTableVariable("R", Template("{{Page Hostname}}"), rows, full_matches_only=False)
    assert partial.resolve(ctx()) == "store.example"
    url = RegexTableVariable("R", Template("{{Page URL}}"), rows, full_matches_only=False)
    assert url.resolve(ctx()) == "https://store.Example/checkout/done?step=3#top"
    no_replace = RegexTableVariable("R", Template("{{Page URL}}"), rows, full_matches_only=False,
                                    replace_after_match=False)
    assert no_replace.resolve(ctx()) == "store.$1"
    case = RegexTableVariable("R", Template("{{Page URL}}"), [("SHOP", Template("x"))], full_matches_only=False,
                              ignore_case=False)
    assert case.resolve(ctx()) is UNDEFINED


def test_regex_table_invalid_pattern_is_skipped_and_reported() -> None:
    variable = RegexTableVariable("R", Template("{{Event Name}}"),
                                  [("(?=p)", Template("bad")), ("pur.*", Template("good"))])
    assert variable.resolve(ctx()) == "good"
    assert len(variable.problems()) == 1 and "invalid RE2 pattern" in variable.problems()[0]


def test_regex_table_full_match_anchors_alternation() -> None:
    variable = RegexTableVariable("R", Template("{{Event Name}}"), [("view_item|purchase", Template("hit"))])
    assert variable.resolve(ctx()) == "hit"
    assert variable.resolve(ctx(event={"event_name": "purchase_x"})) is UNDEFINED


@pytest.mark.parametrize(
    ("template", "expected"),
    [("$1-$2", "b-"), ("$$1", "$1"), ("$&", "bc"), ("$`", "a"), ("$'", "d"), ("$3", "$3"), ("$0", "$0"),
     ("$01", "b"), ("$10", "b0"), ("$", "$"), ("a$x", "a$x")],
)
def test_js_replacement_patterns(template: str, expected: str) -> None:
    # "abcd" matched by /(b)(z)?c/ at 1..3: group 1 "b", group 2 did not take part
    assert js_replacement(template, ["bc", "b", None], "abcd", 1, 3) == expected


def test_cookie_variable() -> None:
    assert CookieVariable("C", "FPID").resolve(ctx()) == "FPID2.2.abc="
    assert CookieVariable("C", "FPID", decode=False).resolve(ctx()) == "FPID2.2.abc%3D"
    assert CookieVariable("C", "missing").resolve(ctx()) is UNDEFINED
    request = Request.build("GET", "/", headers=[("Cookie", "a=1; a=2"), ("Cookie", "b=%E2%82%AC")])
    assert CookieVariable("C", "a").resolve(ctx(request=request)) == "1"
    assert CookieVariable("C", "b").resolve(ctx(request=request)) == "€"


def test_query_parameter_variable() -> None:
    assert QueryParameterVariable("Q", "tid").resolve(ctx()) == "G-1"
    assert QueryParameterVariable("Q", "x").resolve(ctx()) == "a b"  # first value, decoded
    assert QueryParameterVariable("Q", "plus").resolve(ctx()) == "a b"
    assert QueryParameterVariable("Q", "nope").resolve(ctx()) is UNDEFINED
    bad = Request.build("GET", "/x?a=%ZZ&b=1")
    assert QueryParameterVariable("Q", "b").resolve(ctx(request=bad)) is UNDEFINED


def test_request_header_variable() -> None:
    assert RequestHeaderVariable("H", "user-agent").resolve(ctx()) == "UA/1"
    assert RequestHeaderVariable("H", "X-CUSTOM").resolve(ctx()) == "one, two"
    assert RequestHeaderVariable("H", "missing").resolve(ctx()) is UNDEFINED


def test_variable_types_registry() -> None:
    from gtm_emulator.loading.registry import VARIABLES

    assert set(VARIABLES.names()) == {"event_data", "constant", "lookup_table", "regex_table", "cookie",
                                      "query_parameter", "request_header", "template", "firestore_lookup",
                                      "visitor_region", "unsupported"}


# ---------------------------------------------------------------- Format Value


@pytest.mark.parametrize(
    ("path", "fv", "expected"),
    [
        ("missing", FormatValue(undefined_to=Template("none")), "none"),
        ("nothing", FormatValue(null_to=Template("NULL"), case="lowercase"), "null"),  # replace, then case
        ("flag", FormatValue(true_to=Template("Yes")), "Yes"),
        ("flag", FormatValue(false_to=Template("No")), True),
        ("event_name", FormatValue(case="UPPERCASE"), "PURCHASE"),
        ("value", FormatValue(case="uppercase"), 42.5),  # case applies to strings only
        ("missing", FormatValue(undefined_to=Template("{{Client Name}}"), case="lowercase"), "ga4"),
        ("missing", FormatValue(undefined_to=Template("")), ""),
        ("missing", FormatValue(case="lowercase"), UNDEFINED),
    ],
)
def test_format_value(path: str, fv: FormatValue, expected: Any) -> None:
    assert EventDataVariable("V", path, format_value=fv).resolve(ctx()) == expected


def test_format_value_applies_after_the_default() -> None:
    variable = EventDataVariable("V", "missing", default=Template("DEFAULT"),
                                 format_value=FormatValue(case="lowercase"))
    assert variable.resolve(ctx()) == "default"


def test_format_value_from_export_and_native_config() -> None:
    export = {"caseConversionType": "LOWERCASE",
              "convertUndefinedToValue": {"type": "TEMPLATE", "value": "(unset)"},
              "convertNullToValue": "nil"}
    fv = FormatValue.from_config(export)
    assert fv is not None
    assert fv.to_config() == {"case": "lowercase", "null_to": "nil", "undefined_to": "(unset)"}
    assert FormatValue.from_config(fv.to_config()).to_config() == fv.to_config()  # type: ignore[union-attr]
    assert FormatValue.from_config({}) is None
    with pytest.raises(ValueError, match="unknown case conversion"):
        FormatValue(case="title")
    fv2 = FormatValue(undefined_to="{{Other}}")
    assert EventDataVariable("V", "missing", format_value=fv2).references() == ("Other",)


# ---------------------------------------------------------------- interpolation, caching, cycles


def test_template_kinds() -> None:
    assert Template("plain").is_literal and Template("plain").refs == ()
    assert Template("{{Client Name}}").ref == "Client Name"
    assert Template("{{ Client Name }}").ref == "Client Name"
    assert Template("a{{X}}b{{Y}}").refs == ("X", "Y")
    assert Template(5).evaluate(ctx()) == 5
    assert Template({"a": ["{{Event Name}}", 1]}).evaluate(ctx()) == {"a": ["purchase", 1]}
    assert Template("{{Debug Mode}}").evaluate(ctx()) is True
    assert Template("x{{Debug Mode}}").evaluate(ctx()) == "xtrue"
    location: dict[str, Variable] = {"Event Location": EventDataVariable("E", "event_location")}
    assert Template("{{Event Location}}").evaluate(ctx(location)) == {"region": "DE-BE", "country": "DE"}
    assert Template("at {{Event Location}}").evaluate(ctx(location)) == "at [object Object]"
    assert Template("{{Items}}").evaluate(ctx({"Items": EventDataVariable("I", "items.1.tags")})) == ["a", "b"]
    assert Template("{{Value}}").evaluate(ctx({"Value": EventDataVariable("V", "value")})) == 42.5
    assert Template("{not a ref}") == Template("{not a ref}")


def test_variables_are_cached_per_event() -> None:
    calls = []

    class Counting(Variable):
        def compute(self, ctx: EventContext) -> Any:
            calls.append(1)
            return len(calls)

    variables: dict[str, Variable] = {"N": Counting("N")}
    context = ctx(variables)
    assert Template("{{N}}-{{N}}").evaluate(context) == "1-1"
    assert context.resolved["N"] == 1
    assert ctx(variables).get("N") == 2  # a new event resolves again


def test_runtime_cycle_raises_and_leaves_the_context_usable() -> None:
    variables: dict[str, Variable] = {
        "A": ConstantVariable("A", Template("{{B}}")),
        "B": LookupTableVariable("B", Template("{{A}}"), []),
        "Self": EventDataVariable("Self", "missing", default=Template("{{Self}}")),
        "Ok": ConstantVariable("Ok", Template("fine")),
    }
    context = ctx(variables)
    with pytest.raises(VariableCycleError) as info:
        context.get("A")
    assert info.value.cycle == ["A", "B", "A"]
    with pytest.raises(VariableCycleError, match="Self -> Self"):
        context.get("Self")
    assert context.get("Ok") == "fine"
    assert "A" not in context.resolved


def test_find_variable_cycles() -> None:
    variables: dict[str, Variable] = {
        "A": ConstantVariable("A", Template("{{B}}")),
        "B": ConstantVariable("B", Template("{{C}} {{Event Name}}")),
        "C": ConstantVariable("C", Template("{{A}}")),
        "D": ConstantVariable("D", Template("{{A}}")),
        "F": EventDataVariable("F", "x", format_value=FormatValue(undefined_to="{{F}}")),
        "G": ConstantVariable("G", Template("{{Nope}}")),
    }
    assert find_variable_cycles(variables) == [["A", "B", "C", "A"], ["F", "F"]]
    assert find_variable_cycles({"G": variables["G"]}) == []


def test_context_defaults_are_lazy_and_overridable() -> None:
    context = EventContext({}, REQUEST, "GA4", {})
    assert context.info.container_id == "GTM-EMULATOR"
    assert isinstance(context.rng, random.Random)
    context.rng = random.Random(5)
    context.info = ContainerInfo(debug_mode=False)
    assert context.get("Debug Mode") is False
    positional = EventContext({}, REQUEST, "GA4", {}, ContainerInfo(version="9"), 12.5, random.Random(1))
    assert positional.get("Container Version") == "9" and positional.now == 12.5


def test_format_order_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from gtm_emulator.core import variables

    fv = FormatValue(case="lowercase", undefined_to=Template("NONE"))
    assert EventDataVariable("V", "missing", format_value=fv).resolve(ctx()) == "none"
    monkeypatch.setattr(variables, "FORMAT_ORDER", ("case", "replace"))
    assert EventDataVariable("V", "missing", format_value=fv).resolve(ctx()) == "NONE"
