"""Hypothesis strategies for the TikTok differential harness (:mod:`.tiktok_parity`).

A case is event data as GA4-like clients build it (and odder values a custom client or a transform
could produce), the tag's settings under the template's own field names, the ``ttclid`` / ``_ttp``
cookies, the ``Referer`` and ``trace-id`` headers, the clock, preview mode and TikTok's answer.
Values lean on what the templates branch on: falsy values, whitespace, 64-hex digests, URLs whose
``ttclid`` decodes or does not, names of ``Object.prototype`` members, numbers written as text.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from .tiktok_parity import Case

HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
PROTO_NAMES = ("constructor", "toString", "__proto__", "hasOwnProperty", "valueOf", "isPrototypeOf")
WORDS = ("", " ", "  \t", "abc", "Ana@Example.COM", " bob@example.com ", "+31 6 12345678", "06-1234",
         HEX, HEX.upper(), "undefined", "null", "0", "1", "12.50", "-3", "1e3", "abc%", "1,5", "\u00a0x\u00a0",
         "\ufeffy", "x\u2028", "\x1cz", "İstanbul", "STRASSE", "ΟΔΟΣ", "purchase", "page_view", "Pageview",
         *PROTO_NAMES)
HOSTS = ("shop.example", "other.example", "SHOP.example", "shop.example:8443", "gtm-msr.appspot.com")
TTCLIDS = ("CLICK-1", "a%20b", "a+b", "%E0%A4%A", "%25E0%A4", "%2541", "%", "", "E.C.P%3D", "caf%C3%A9",
           "%ZZ", "x%2Bx")


def words() -> st.SearchStrategy[str]:
    alphabet = st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from(
        " \t\n\u00a0\u2028\ufeff\x1c%+&=@.AaİßΣς")
    return st.sampled_from(WORDS) | st.text(alphabet, max_size=12)


def numbers() -> st.SearchStrategy[Any]:
    return st.sampled_from((0, 1, -1, 2, 0.5, 10.25, 59.99, 1e21, 0.1, 3, 100)) | st.integers(-10**6, 10**6) | \
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def scalars() -> st.SearchStrategy[Any]:
    return words() | numbers() | st.booleans() | st.none()


def values() -> st.SearchStrategy[Any]:
    """Mostly scalars; sometimes an array or an object."""
    return st.one_of(scalars(), scalars(), scalars(),
                     st.lists(scalars(), max_size=3),
                     st.dictionaries(st.sampled_from(("a", "0", "ad_storage", "x")), scalars(), max_size=2))


def urls() -> st.SearchStrategy[Any]:
    query = st.lists(st.one_of(
        st.tuples(st.just("ttclid"), st.sampled_from(TTCLIDS) | words()),
        st.tuples(st.sampled_from(("x", "utm_source", "TTCLID")), st.sampled_from(("1", "a b", ""))),
    ), max_size=3).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))
    built = st.builds(lambda scheme, host, path, q: f"{scheme}://{host}/{path}" + (f"?{q}" if q else ""),
                      st.sampled_from(("https", "http")), st.sampled_from(HOSTS),
                      st.sampled_from(("", "checkout", "a/b")), query)
    return st.one_of(built, built, st.sampled_from(("", "not a url", "/relative?ttclid=x", "https://shop.example",
                                                     "https://gtm-msr.appspot.com/render?id=1")), numbers())


def items() -> st.SearchStrategy[Any]:
    keys = ("item_id", "id", "item_name", "price", "quantity", "item_category", "item_category1", "item_category2",
            "item_brand", "brand", "content_category", "content_name", "currency")
    item = st.dictionaries(st.sampled_from(keys), scalars(), max_size=7)
    return st.one_of(st.lists(item, max_size=3), st.lists(item, min_size=1, max_size=3),
                     st.lists(st.one_of(item, scalars()), max_size=3), scalars())


def tt_contents() -> st.SearchStrategy[Any]:
    return st.sampled_from(('[{"content_id":"1","price":2,"quantity":3}]', '[]', 'nope', '{"a":1}', '"text"',
                            '[{"price":"2","quantity":"x","currency":"USD"}]', '5', 'null', ''))


def fields(spec: dict[str, st.SearchStrategy[Any]], weight: int = 1) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with some of ``spec``'s keys (at most a third of them when ``weight`` > 1)."""
    names = list(spec)
    most = len(names) if weight == 1 else max(3, len(names) // 3)
    return st.lists(st.sampled_from(names), max_size=most, unique=True).flatmap(
        lambda keys: st.fixed_dictionaries({k: spec[k] for k in keys}))


def event_data() -> st.SearchStrategy[dict[str, Any]]:
    user_data = fields({
        "email_address": words(), "sha256_email_address": words(), "phone_number": words(),
        "sha256_phone_number": words(), "email": words(), "phone": words(), "external_id": values(),
        "first_name": words(), "last_name": words(), "region": words(), "postal_code": values(),
        "country": words(), "ttclid": words(), "ttp": words(), "locale": words(),
        "address": st.one_of(st.lists(fields({"first_name": words(), "last_name": words(), "city": words(),
                                              "region": words(), "postal_code": words(), "country": words()}),
                                      max_size=2),
                             fields({"city": words(), "postal_code": words()}), scalars()),
    }, 2)
    hints = fields({"architecture": words(), "bitness": words(), "full_version_list": values(),
                    "mobile": scalars(), "model": words(), "platform": words(), "platform_version": words()})
    common = {
        "event_name": st.sampled_from(("purchase", "page_view", "add_to_cart", "view_item", "search", "sign_up",
                                       "generate_lead", "gtm.dom", "custom_thing", "click", *PROTO_NAMES)) | words(),
        "page_location": urls(), "page_referrer": urls(), "referrer": urls(),
        "ttclid": words(), "_ttp": words(), "ttp": words(),
        "common_cookie": st.one_of(fields({"ttclid": words(), "_ttp": words()}), scalars()),
        "event_id": values(), "transaction_id": values(), "event_time": st.one_of(numbers(), words()),
        "user_id": values(), "userId": words(), "tt_external_id": values(), "external_id": values(),
        "user_data": st.one_of(user_data, user_data, scalars()),
        "email": values(), "email_address": words(), "phone": values(), "phone_number": words(),
        "firstName": words(), "first_name": words(), "lastName": words(), "last_name": words(),
        "nameFirst": words(), "LastName": words(), "city": words(), "state": words(), "region": words(),
        "zip": values(), "postal_code": words(), "countryCode": words(), "country": words(),
        "ip_override": words(), "ip_address": words(), "ip": words(), "user_agent": words(), "locale": words(),
        "client_hints": st.one_of(hints, scalars()),
        "items": items(), "tt_contents": tt_contents(), "tt_content_type": words(), "contents": values(),
        "content_type": words(), "value": st.one_of(numbers(), words()), "x-ga-mp1-ev": scalars(),
        "x-ga-mp1-tr": scalars(), "currency": words(), "query": words(), "search_term": words(),
        "description": words(), "order_id": values(), "shop_id": words(), "test_event_code": words(),
        "consent_state": st.one_of(fields({"ad_storage": scalars()}), scalars()),
        "x-ga-gcs": st.one_of(st.sampled_from(("G111", "G100", "G1", "G101", "", "11")), words(),
                              st.lists(st.sampled_from(("G", "1", "0")), max_size=3)),
        "idfa": words(), "idfv": words(), "gaid": words(), "att_status": words(), "app_name": words(),
        "app_version": words(), "ad": st.one_of(fields({"callback": words(), "campaign_id": words(),
                                                       "attributed": scalars()}), scalars()),
        "campaign_id": words(), "callback": words(), "is_retargeting": scalars(), "attribution_type": words(),
    }
    return fields(common, 2)


def _rows(key: str, names: st.SearchStrategy[Any]) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(fields({key: names, "value": scalars()}), max_size=3)


def official_params() -> st.SearchStrategy[dict[str, Any]]:
    events = st.sampled_from(("ViewContent", "CompletePayment", "SubmitForm", "purchase", "page_view", "Custom",
                              *PROTO_NAMES)) | words()
    return fields({
        "pixel_code": words(), "access_token": words(), "event": events, "test_event_code": words(),
        "hash": st.sampled_from(("hashed", "non-hashed")), "email": words(), "phone": words(),
        "external_id": words(), "sha256_email": words(), "sha256_phone": words(), "sha256_external_id": words(),
        "object_property_source": st.sampled_from(("ga", "custom", "", "other")),
        "single_multi_product": st.sampled_from(("single", "multiple", "empty", "")),
        "contents": tt_contents(), "content_id": words(), "content_type": st.sampled_from(("product",
                                                                                         "product_group", "")),
        "content_name": words(), "content_category": words(), "price": st.one_of(words(), numbers()),
        "quantity": st.one_of(words(), numbers()), "value": st.one_of(words(), numbers()), "currency": words(),
        "description": words(), "brand": words(), "query": words(), "event_id": words(), "url": words(),
        "referrer": words(), "ip": words(), "user_agent": words(), "ttclid": words(),
        "custom_properties": st.one_of(_rows("key", st.sampled_from(("", "gtm_version", "contents", "a", "value",
                                                                    *PROTO_NAMES)) | words()), scalars()),
        "logType": st.sampled_from(("no", "debug", "always", "")),
    })


def stape_params() -> st.SearchStrategy[dict[str, Any]]:
    names = st.sampled_from(("email", "phone", "external_id", "first_name", "zip_code", "city", "currency", "value",
                             "content_type", "gtm_version", "contents", "", *PROTO_NAMES)) | words()
    return fields({
        "eventType": st.sampled_from(("standard", "inherit", "custom", "")),
        "eventName": st.sampled_from(("Pageview", "CompletePayment", "ViewContent", "")) | words(),
        "eventNameCustom": words(), "eventSource": st.sampled_from(("web", "web", "app", "offline", "")),
        "accessToken": words(), "pixelId": words(), "appId": words(), "testEventCode": words(),
        "generateTtp": st.booleans(), "useOptimisticScenario": st.booleans(), "eventId": words(),
        "eventTime": st.one_of(words(), numbers()), "limitedDataUse": st.booleans(),
        "pageLocation": st.one_of(words(), urls()), "pageReferrer": words(), "appName": words(),
        "appVersion": words(), "adDataList": _rows("name", names), "userDataList": _rows("name", names),
        "customDataList": _rows("name", names), "adStorageConsent": st.sampled_from(("optional", "required", "")),
        "logType": st.sampled_from(("no", "debug", "always", "")),
        "bigQueryLogType": st.sampled_from(("no", "always")),
    })


def answers() -> st.SearchStrategy[Any]:
    ok = '{"code":0,"message":"OK","request_id":"r1","data":{}}'
    return st.sampled_from(((200, ok), (200, ok), (200, '{"code":40001,"message":"bad"}'), (500, "oops"),
                            (302, ""), (404, '{"code":1}'), None))


def cases(profile: str) -> st.SearchStrategy[Case]:
    params = stape_params() if profile == "stape" else official_params()
    cookie_values = st.sampled_from(("CLICK-C", "ttp.1.abc", "a b", "caf\u00e9", HEX, "0"))
    return st.builds(
        Case,
        event_data=event_data(),
        params=params,
        cookies=fields({"ttclid": cookie_values, "_ttp": cookie_values}),
        headers=fields({"Referer": urls().filter(lambda u: isinstance(u, str) and u != ""),
                        "trace-id": st.sampled_from(("t-1", "abc"))}),
        now=st.sampled_from((1_700_000_000.0, 1_700_000_000.5, 1_700_000_000.4995, 1_700_000_000.9996,
                             1_699_999_999.25)),
        preview=st.booleans(),
        answer=answers(),
        seed=st.integers(0, 2**16),
    )
