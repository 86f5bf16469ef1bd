"""Running tag and variable templates in the sandbox."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from helpers import ALL_PERMS, TEMPLATES, perm, tag_context, tiktok_transport, tpl

from gtm_emulator.core.js import UNDEFINED
from gtm_emulator.core.request import Request, Response
from gtm_emulator.core.variables import ContainerInfo, EventContext
from gtm_emulator.errors import TagError
from gtm_emulator.sandbox import load_template, run_variable_template
from gtm_emulator.tags.template_tag import TemplateTag
from gtm_emulator.vendors.tiktok_mock import TikTokMock

PURCHASE = {
    "event_name": "purchase", "currency": "EUR", "value": 25, "ttclid": "clk",
    "items": [{"item_id": "A", "price": "12.5", "quantity": 2}],
    "user_data": {"email_address": "Test@Example.com"},
    "page_location": "https://shop.example/checkout",
}


def run(code: str, event: dict[str, Any] | None = None, params: dict[str, Any] | None = None, **kw: Any) -> Any:
    perms = kw.pop("permissions", None)
    ctx = kw.pop("ctx", None) or tag_context(event)
    tag = TemplateTag(load_template(tpl(code, permissions=perms)), **kw)
    tag.run(params or {}, ctx)
    return ctx


def value_of(expr: str, **kw: Any) -> Any:
    """Run ``expr`` in a tag and return what it logged as JSON."""
    ctx = run(f"const JSON = require('JSON'); require('logToConsole')(JSON.stringify({expr})); "
              "data.gtmOnSuccess();", **kw)
    return json.loads(ctx.console[-1])


# ---------------------------------------------------------------- the TikTok template


def test_own_tiktok_template_posts_to_mock_tiktok_and_is_recorded() -> None:
    mock = TikTokMock(pixels={"PIXEL1": {"tok"}})
    transport, _ = tiktok_transport(mock)
    ctx = tag_context(dict(PURCHASE), transport=transport)
    tag = TemplateTag(load_template(TEMPLATES / "tiktok_track.tpl"))
    tag.run({"pixelId": "PIXEL1", "accessToken": "tok", "setClickCookie": True,
             "extraProperties": [{"key": "shop", "value": "north"}]}, ctx)
    assert len(mock.events) == 1
    accepted = mock.events[0]
    assert accepted.pixel_code == "PIXEL1"
    assert accepted.event["event"] == "CompletePayment"  # the field's defaultValue
    assert accepted.event["event_time"] == 1_700_000_000
    assert accepted.event["user"]["email"] == "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"
    assert accepted.event["properties"] == {"currency": "EUR", "value": 25, "shop": "north",
                                            "contents": [{"content_id": "A", "price": 12.5, "quantity": 2}]}
    (out,) = ctx.outgoing
    assert out.tag == "Test tag" and out.method == "POST"
    assert out.headers["Access-Token"] == "****"
    assert out.vendor_ok is True and out.response and out.response["body"]["code"] == 0
    assert ctx.console == ["TikTok answered 200 0"]
    assert any("defaultValue" in n for n in ctx.notes)
    (cookie,) = ctx.response.set_cookies
    assert (cookie.name, cookie.value, cookie.domain, cookie.same_site) == ("ttclid", "clk", "shop.example", "Lax")


def test_tiktok_rejection_fails_the_tag_and_marks_vendor() -> None:
    mock = TikTokMock(pixels={"PIXEL1": {"right"}})
    transport, _ = tiktok_transport(mock)
    ctx = tag_context(dict(PURCHASE), transport=transport)
    with pytest.raises(TagError, match="gtmOnFailure"):
        TemplateTag(load_template(TEMPLATES / "tiktok_track.tpl")).run(
            {"pixelId": "PIXEL1", "accessToken": "wrong"}, ctx)
    assert ctx.outgoing[0].vendor_ok is False and ctx.vendor_rejected
    assert mock.events == []


# ---------------------------------------------------------------- failures end as reported failures


def test_permission_violation_fails_the_tag() -> None:
    perms = [perm("send_http", allowedUrls="specific", urls=["https://business-api.tiktok.com/*"])]
    code = "require('sendHttpRequest')('https://evil.example/x', () => data.gtmOnSuccess());"
    ctx = tag_context()
    with pytest.raises(TagError, match=r"Permission denied: .*evil\.example.*send_http"):
        run(code, permissions=perms, ctx=ctx)
    assert ctx.outgoing == []


def test_undeclared_permission_fails_and_warn_mode_proceeds() -> None:
    code = "require('getEventData')('event_name'); data.gtmOnSuccess();"
    with pytest.raises(TagError, match="read_event_data"):
        run(code, permissions=[])
    ctx = run(code, permissions=[], enforce="warn")
    assert any("read_event_data" in w for w in ctx.warnings)
    run(code, permissions=[], enforce="off")


def test_specific_event_data_keys() -> None:
    perms = [perm("read_event_data", eventDataAccess="specific", keyPatterns=["user_data"]), perm("logging")]
    run("require('getEventData')('user_data.email_address'); data.gtmOnSuccess();", PURCHASE, permissions=perms)
    with pytest.raises(TagError, match="ttclid"):
        run("require('getEventData')('ttclid'); data.gtmOnSuccess();", PURCHASE, permissions=perms)


def test_cookie_permissions() -> None:
    perms = [perm("set_cookies", allowedCookies=[{"name": "ok", "domain": "*", "path": "*", "secure": "secure",
                                                  "session": "any"}])]
    ctx = run("require('setCookie')('ok', 'v', {secure: true}); data.gtmOnSuccess();", permissions=perms)
    assert ctx.response.set_cookies[0].name == "ok"
    with pytest.raises(TagError, match="set_cookies"):
        run("require('setCookie')('ok', 'v', {secure: false}); data.gtmOnSuccess();", permissions=perms)
    with pytest.raises(TagError, match="set_cookies"):
        run("require('setCookie')('other', 'v', {secure: true}); data.gtmOnSuccess();", permissions=perms)


def test_logging_only_in_debug_unless_all() -> None:
    code = "require('logToConsole')('hello', 1, {a: true}); data.gtmOnSuccess();"
    debug_only = [perm("logging", environments="debug")]
    assert run(code, permissions=debug_only).console == ['hello 1 {"a":true}']
    quiet = tag_context(preview=False)
    assert run(code, permissions=debug_only, ctx=quiet).console == []
    with pytest.raises(TagError, match="logging"):
        run(code, permissions=[])


def test_runaway_loop_is_stopped_quickly_and_the_next_run_works() -> None:
    started = time.monotonic()
    with pytest.raises(TagError, match="timed out"):
        run("while (true) {}", time_limit=0.5)
    assert time.monotonic() - started < 3
    with pytest.raises(TagError, match="timed out"):
        run("require('callLater')(function spin() { for (;;) {} }); data.gtmOnSuccess();", time_limit=0.5)
    assert run("data.gtmOnSuccess();").console == []


def test_memory_hog_is_stopped() -> None:
    started = time.monotonic()
    with pytest.raises(TagError, match="out of memory"):
        run("const a = []; for (;;) { a.push('x'.repeat(100000) + a.length); }", memory_limit=16 * 1024 * 1024)
    assert time.monotonic() - started < 5


def test_deep_recursion_is_stopped() -> None:
    with pytest.raises(TagError, match=r"stack overflow|recursed"):
        run("function f(n) { return f(n + 1) + 1; } f(0); data.gtmOnSuccess();")


def test_exceptions_syntax_errors_and_missing_completion() -> None:
    ctx = tag_context()
    with pytest.raises(TagError, match="threw: TypeError"):
        run("const x = undefined; x.y; data.gtmOnSuccess();", ctx=ctx)
    assert ctx.console[-1].startswith("ERROR: the template threw")
    with pytest.raises(TagError, match="does not compile"):
        run("const = ;")
    with pytest.raises(TagError, match="without calling"):
        run("const a = 1;")
    with pytest.raises(TagError, match="callback threw: Error: late"):
        run("require('callLater')(() => { throw new Error('late'); });")
    with pytest.raises(TagError, match="unknown API"):
        run("require('window'); data.gtmOnSuccess();")
    with pytest.raises(TagError, match="gtmOnFailure"):
        run("data.gtmOnFailure(); data.gtmOnSuccess();")


def test_top_level_return_and_second_completion_warns() -> None:
    ctx = run("return data.gtmOnSuccess(); data.gtmOnFailure();")
    assert ctx.warnings == []
    ctx = run("data.gtmOnSuccess(); data.gtmOnSuccess();")
    assert any("called again" in w for w in ctx.warnings)


def test_promise_form_of_send_http_request_and_failure_reason() -> None:
    code = """
      const send = require('sendHttpRequest');
      const log = require('logToConsole');
      send('https://business-api.tiktok.com/open_api/v1.3/event/track/', {method: 'POST',
           headers: {'Access-Token': ''}}, '{}')
        .then((r) => {
          log('status', r.statusCode, r.headers['content-type']);
          return send('https://nowhere.example/');
        })
        .then(() => log('unexpected'))
        .catch((e) => { log('rejected', e.reason); })
        .finally(() => data.gtmOnSuccess());
    """
    ctx = run(code)
    assert ctx.console == ["status 200 application/json", "rejected failed"]
    assert [o.url for o in ctx.outgoing][1] == "https://nowhere.example/"
    assert ctx.outgoing[1].error


def test_callback_form_gets_status_zero_on_network_failure() -> None:
    ctx = run("require('sendHttpRequest')('https://nowhere.example/', (s, h, b) => { "
              "require('logToConsole')(s, JSON.stringify(h), '[' + b + ']'); data.gtmOnSuccess(); });")
    assert ctx.console == ["0 {} []"]


def test_order_of_call_later_and_promises() -> None:
    code = """
      const log = require('logToConsole'); const Promise = require('Promise');
      require('callLater')(() => log('later'));
      Promise.create((resolve) => resolve(1)).then(() => log('micro'));
      Promise.all([1, Promise.create((r) => r(2))]).then((v) => { log('all', v[0] + v[1]); data.gtmOnSuccess(); });
      log('sync');
    """
    assert run(code).console == ["sync", "micro", "all 3", "later"]


def test_hashing_encoding_and_conversions() -> None:
    got = value_of("""[
      require('sha256Sync')('abc'), require('sha256Sync')('abc', {outputEncoding: 'hex'}),
      require('toBase64')('héllo?'), require('toBase64')('héllo?', {urlEncoding: true}),
      require('fromBase64')('aMOpbGxvPw=='), require('fromBase64')('%%%') === undefined,
      require('encodeUriComponent')('a b&c/é'), require('encodeUri')('https://x.example/a b?q=1&r=é'),
      require('decodeUriComponent')('a%20b%2Fc'), require('decodeUriComponent')('%E0%A4%A') === undefined,
      require('decodeUri')('a%20b%2Fc'),
      require('makeString')(1.5), require('makeString')([1, [2, 3]]), require('makeString')(null),
      require('makeNumber')(' 12 '), require('makeNumber')('0x1A'), require('makeInteger')('-7.9'),
      require('getType')([]), require('getType')(null), require('getType')(() => 1),
      require('makeTableMap')([{k: 'a', v: 1}, {k: 'b', v: 2}], 'k', 'v'),
      require('JSON').parse('{bad') === undefined,
      require('Math').max(3, 9), require('Object').keys({x: 1, y: 2}),
      require('generateRandom')(5, 5), require('getTimestampMillis')()
    ]""")
    assert got == [
        "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "aMOpbGxvPw==", "aMOpbGxvPw", "héllo?", True,
        "a%20b%26c%2F%C3%A9", "https://x.example/a%20b?q=1&r=%C3%A9",
        "a b/c", True, "a b%2Fc",
        "1.5", "1,2,3", "null", 12, 26, -7,
        "array", "null", "function",
        {"a": 1, "b": 2}, True, 9, ["x", "y"], 5, 1_700_000_000_250,
    ]


def test_urls_domains_and_regexes() -> None:
    got = value_of("""[
      require('parseUrl')('https://User:pw@Shop.Example:8443/a/b?x=1&x=2&y=%C3%A9#top'),
      require('parseUrl')('/relative') === undefined,
      require('computeEffectiveTldPlusOne')('www.shop.example.co.uk'),
      require('computeEffectiveTldPlusOne')('https://a.b.example.com/x'),
      require('computeEffectiveTldPlusOne')('not a domain'),
      require('testRegex')(require('createRegex')('^ab+c$', 'i'), 'ABBC'),
      require('createRegex')('(?=x)') === null,
      (() => { const r = require('createRegex')('a', 'g'); const t = require('testRegex');
               return [t(r, 'aa'), t(r, 'aa'), t(r, 'aa')]; })()
    ]""")
    assert got[0] == {
        "href": "https://User:pw@Shop.Example:8443/a/b?x=1&x=2&y=%C3%A9#top", "origin": "https://shop.example:8443",
        "protocol": "https:", "username": "User", "password": "pw", "host": "shop.example:8443",
        "hostname": "shop.example", "port": "8443", "pathname": "/a/b", "search": "?x=1&x=2&y=%C3%A9",
        "searchParams": {"x": ["1", "2"], "y": "é"}, "hash": "#top",
    }
    assert got[1:] == [True, "example.co.uk", "example.com", "", True, True, [True, True, False]]


def test_request_readers_event_data_and_container_info() -> None:
    got = value_of("""[
      require('getRequestMethod')(), require('getRequestPath')(), require('getRequestQueryString')(),
      require('getRequestQueryParameter')('x'), require('getRequestQueryParameters')(),
      require('getRequestHeader')('user-agent'), require('getRequestHeader')('nope') === undefined,
      require('getCookieValues')('ttclid'), require('getCookieValues')('ttclid', true),
      require('getEventData')('items.0.price'), require('getEventData')('items.5') === undefined,
      require('getContainerVersion')(), require('getRemoteAddress')()
    ]""", event=PURCHASE)
    assert got == [
        "POST", "/g/collect", "v=2&x=1&x=2", "1", {"v": "2", "x": ["1", "2"]}, "UA/1", True,
        ["click 1"], ["click%201"], "12.5", True,
        {"containerId": "GTM-T", "debugMode": True, "environmentName": "", "environmentMode": "debug",
         "previewMode": True, "version": "3"},
        "127.0.0.1",
    ]


def test_get_all_event_data_is_a_copy() -> None:
    event = {"event_name": "x", "nested": {"a": 1}}
    run("const e = require('getAllEventData')(); e.nested.a = 2; e.extra = 1; data.gtmOnSuccess();", event)
    assert event == {"event_name": "x", "nested": {"a": 1}}


def test_template_data_storage_lives_per_request_in_preview() -> None:
    code = """
      const s = require('templateDataStorage');
      const n = (s.getItemCopy('n') || 0) + 1; s.setItemCopy('n', n);
      require('logToConsole')(n); data.gtmOnSuccess();
    """
    tag = TemplateTag(load_template(tpl(code)))
    response = Response()
    first, second, other = tag_context(response=response), tag_context(response=response), tag_context()
    for ctx in (first, second, other):
        tag.run({}, ctx)
    assert (first.console, second.console, other.console) == (["1"], ["2"], ["1"])
    live = TemplateTag(load_template(tpl(code)))
    outputs = []
    for _ in range(2):
        ctx = tag_context(preview=False)
        live.run({}, ctx)
        outputs.append(ctx.console)
    assert outputs == [["1"], ["2"]]  # without preview the storage outlives the request


def test_response_writers_and_set_cookie_auto_domain() -> None:
    ctx = run("""
      require('setResponseStatus')(202); require('setResponseHeader')('X-Thing', 'v');
      require('setResponseBody')('aGk=', 'base64');
      require('setCookie')('c', 'a b', {domain: 'auto', 'max-age': 60, samesite: 'none', secure: true});
      data.gtmOnSuccess();""")
    assert (ctx.response.status, ctx.response.headers, ctx.response.body) == (202, {"x-thing": "v"}, b"hi")
    cookie = ctx.response.set_cookies[0]
    assert cookie.header_value() == "c=a%20b; Domain=shop.example; Path=/; Max-Age=60; Secure; SameSite=None"


def test_claim_request_throws_in_a_tag() -> None:
    with pytest.raises(TagError, match="claimRequest"):
        run("require('claimRequest')(); data.gtmOnSuccess();")


def test_tag_needs_a_tag_template() -> None:
    with pytest.raises(TagError, match="MACRO"):
        TemplateTag(load_template(TEMPLATES / "email_domain.tpl"))
    with pytest.raises(TagError, match=r"needs a \.tpl"):
        TemplateTag().run({}, tag_context())


# ---------------------------------------------------------------- variable templates


def event_ctx(event: dict[str, Any]) -> EventContext:
    return EventContext(event_data=event, request=Request.build("GET", "/"), client_name="GA4", variables={},
                        info=ContainerInfo())


def test_variable_template_returns_values_and_promises() -> None:
    t = load_template(TEMPLATES / "email_domain.tpl")
    ctx = event_ctx({"user_data": {"email_address": " A@Mail.Example "}})
    assert run_variable_template(t, {"keyPath": "user_data.email_address"}, ctx) == "mail.example"
    assert run_variable_template(t, {"keyPath": "user_data.email_address", "async": True}, ctx) == "mail.example"
    assert run_variable_template(t, {"keyPath": "user_data.phone"}, ctx) is UNDEFINED
    assert ctx.warnings == []


def test_failing_variable_template_is_undefined_with_a_warning() -> None:
    t = load_template(TEMPLATES / "email_domain.tpl")
    ctx = event_ctx({"ip_override": "1.2.3.4"})
    assert run_variable_template(t, {"keyPath": "ip_override"}, ctx) is UNDEFINED
    assert any("read_event_data" in w for w in ctx.warnings)
    slow = load_template(tpl("for (;;) {}", type_="MACRO"))
    ctx = event_ctx({})
    assert run_variable_template(slow, {}, ctx, time_limit=0.3) is UNDEFINED
    assert any("timed out" in w for w in ctx.warnings)
    rejected = load_template(tpl("return require('Promise').create((ok, no) => no('nope'));", type_="MACRO"))
    assert run_variable_template(rejected, {}, ctx) is UNDEFINED
    assert any("rejected: nope" in w for w in ctx.warnings)
    assert ALL_PERMS  # the inline templates above declare every permission


def test_parse_url_decodes_search_params_as_url_search_params_does() -> None:
    """Bad UTF-8 becomes U+FFFD and a stray ``%`` stays, in the sandbox and in the native TikTok tag alike."""
    from gtm_emulator.tags.tiktok.common import url_param

    url = "https://shop.example/p?x=%FF&y=a%20%zz&z=%E2%82"
    got = value_of(f"require('parseUrl')({url!r}).searchParams")
    assert got == {"x": "\ufffd", "y": "a %zz", "z": "\ufffd"}
    assert [url_param(url, name) for name in ("x", "y", "z")] == ["\ufffd", "a %zz", "\ufffd"]
    assert value_of("require('parseUrl')('https://shop.example:99999/') === undefined") is True
