"""Hypothesis strategies for GA4 hits and GA4-shaped event data.

``ga4_event_data()`` draws event data as the GA4 client builds it (``js`` cookie mode, before the
container adds ``x-sst-system_properties.request_start_time_ms``); ``ga4_items()`` draws item
lists; ``ga4_hits()`` draws whole ``/g/collect`` requests (GET, or batched POST of several events)
together with the event data that parsing them must give back::

    from hypothesis import given
    from gtm_emulator.strategies.hits import ga4_hits

    @given(ga4_hits())
    def test_my_container(hit):
        report = container.simulate(hit.method, hit.url, headers=hit.headers, body=hit.body,
                                    remote_addr=hit.remote_addr)
        assert len(report.events) == len(hit.events)

Values include unicode, ``~`` (the item separator), ``&``/``=``/``%``/``+``, numbers of every JS
form (integers, fractions, exponents, infinities) and up to ``max_items`` items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from ..clients.ga4 import CLIENT_HINT_FIELDS, GCD_EVENT_KEY, PARAMS, consent_from_gcd
from ..clients.ga4_encoder import encode, encode_batch, request_fields
from ..core.js import normalize_number
from ..core.request import Request

__all__ = ["GA4Hit", "ga4_event_data", "ga4_hits", "ga4_items", "ga4_numbers", "ga4_text"]

EVENT_NAMES = ("page_view", "view_item", "add_to_cart", "begin_checkout", "add_payment_info", "purchase",
               "refund", "select_item", "view_item_list", "search", "login", "sign_up", "generate_lead",
               "scroll", "click", "form_submit", "file_download")
PARAM_NAMES = ("transaction_id", "value", "tax", "shipping", "coupon", "affiliation", "payment_type",
               "shipping_tier", "search_term", "method", "content_type", "item_list_id", "item_list_name",
               "promotion_id", "creative_name", "link_url", "percent_scrolled", "form_id")
CURRENCIES = ("EUR", "USD", "GBP", "JPY", "CHF", "SEK")
# gcd values as gtag writes them (consent mode v2: four letters, then the ads-data-redaction part)
GCD_SAMPLES = ("13l3l3l3l1", "11l1l1l1l1", "13r3r3r3r5l1", "13p3p3p2p5l1", "13t3t3t3t5l1", "13q3q3q3q5l1",
               "13v3v3v3v5l1", "13n3m3n3m5l1", "13l3l3l3l1l1", "11p1p1p1p5")
# sst.* parameters seen in gtag's hits to a server container
SST_NAMES = ("etld", "tft", "gse", "ngs", "lpc", "navt", "ude", "rnd", "gcsub", "adr", "sw_exp", "uc", "em_event")
# Keys with a parameter of their own (or a fixed shape): never drawn as custom event parameters.
_RESERVED_KEYS = frozenset({
    "items", "client_hints", "client_id", "debug_mode", "ip_override", "user_agent", "event_name",
    "user_data", "event_location", *(target for _kind, target in PARAMS.values()),
})


def ga4_text(*, min_size: int = 0, max_size: int = 24) -> st.SearchStrategy[str]:
    """Strings as users type them: letters, unicode, and the characters that matter to the wire
    format (``~ & = % + ; |`` and spaces)."""
    wire = st.sampled_from(list("~&=%+;| #?/é€😀\u00a0"))
    chars = st.one_of(st.characters(exclude_categories=["Cs"]), wire, st.sampled_from(list("abcxyz019")))
    return st.text(chars, min_size=min_size, max_size=max_size)


def ga4_numbers() -> st.SearchStrategy[int | float]:
    """JS numbers as event data holds them: integral values as ``int``, no NaN."""
    return st.one_of(
        st.integers(min_value=-(2**53), max_value=2**53),
        st.floats(allow_nan=False).map(normalize_number),
        st.sampled_from([0.5, 9.99, 1e21, 1.5e-7, -0.25, float("inf"), 123456.789]),
    )


_names = st.builds(lambda head, tail: head + tail, st.sampled_from("abcdefghijklmnopqrstuvwxyz"),
                   st.text("abcdefghijklmnopqrstuvwxyz0123456789_", max_size=12)).filter(
    lambda name: name not in _RESERVED_KEYS)
_param_names = st.one_of(st.sampled_from(PARAM_NAMES), _names)
_item_value_text = ga4_text(max_size=16)


@st.composite
def _item(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {}
    if draw(st.booleans()):
        item["item_id"] = draw(st.one_of(st.integers(1, 999_999).map("SKU_{}".format), _item_value_text))
    if draw(st.booleans()) or not item:
        item["item_name"] = draw(_item_value_text)
    for name in draw(st.lists(st.sampled_from(["item_brand", "item_category", "item_category2", "item_category3",
                                                "item_category4", "item_category5", "item_variant", "coupon",
                                                "item_list_id", "item_list_name", "affiliation", "location_id",
                                                "creative_name", "creative_slot", "promotion_id",
                                                "promotion_name"]), max_size=5, unique=True)):
        item[name] = draw(_item_value_text)
    for name in draw(st.lists(st.sampled_from(["price", "quantity", "discount", "index"]), max_size=4, unique=True)):
        item[name] = draw(ga4_numbers())
    many = draw(st.integers(0, 9)) == 0  # now and then more than ten (two-digit k<n>/v<n> indices)
    custom = draw(st.dictionaries(_names.filter(lambda n: n not in _ITEM_FIELD_NAMES), _item_value_text,
                                  min_size=11 if many else 0, max_size=12 if many else 2))
    item.update(custom)
    return item


_ITEM_FIELD_NAMES = frozenset({
    "item_id", "item_name", "item_brand", "item_category", "item_category2", "item_category3", "item_category4",
    "item_category5", "item_variant", "price", "quantity", "coupon", "discount", "index", "item_list_id",
    "item_list_name", "affiliation", "location_id", "creative_name", "creative_slot", "promotion_id",
    "promotion_name",
})


def ga4_items(*, min_size: int = 0, max_size: int = 5) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Item lists as the GA4 client builds them from ``pr1``..``prN`` (at most 200)."""
    return st.lists(_item(), min_size=min_size, max_size=min(max_size, 200))


# Brands as Sec-CH-UA carries them (ASCII, with the GREASE punctuation and the escapes \\ and \")
_brand_text = st.text(st.sampled_from(list("ABCXYZabcxyz0189 ;)(_=?/.:-\\\"")), max_size=14)
_brands = st.lists(st.fixed_dictionaries({"brand": _brand_text, "version": st.integers(0, 200).map(str)}), max_size=3)
_ips = st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str))


@st.composite
def _context(draw: st.DrawFn) -> dict[str, Any]:
    """The request-level part of the event data (what every event of a batch shares)."""
    data: dict[str, Any] = {
        "x-ga-protocol_version": "2",
        "x-ga-measurement_id": "G-" + draw(st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=6, max_size=10)),
        "client_id": f"{draw(st.integers(1, 2**31 - 1))}.{draw(st.integers(1_500_000_000, 1_800_000_000))}",
        "ip_override": draw(_ips),
    }
    if draw(st.booleans()):
        data["x-ga-gtm_version"] = "45je" + draw(st.text("0123456789abcdefvz", min_size=4, max_size=8))
    if draw(st.booleans()):
        data["x-ga-page_id"] = draw(st.integers(1, 2**31 - 1))
    if draw(st.booleans()):
        data["ga_session_id"] = str(draw(st.integers(1_500_000_000, 1_800_000_000)))
        data["ga_session_number"] = draw(st.integers(1, 500))
    if draw(st.booleans()):
        data["language"] = draw(st.sampled_from(["en-us", "de-de", "fr", "ja"]))
        data["screen_resolution"] = draw(st.sampled_from(["1920x1080", "390x844", "2560x1440"]))
    if draw(st.booleans()):
        data["page_location"] = "https://shop.example/" + draw(ga4_text(max_size=20))
        data["page_title"] = draw(ga4_text(max_size=30))
    if draw(st.booleans()):
        data["page_referrer"] = "https://www.example.org/?q=" + draw(ga4_text(max_size=10))
    if draw(st.booleans()):
        data["user_id"] = draw(ga4_text(min_size=1, max_size=12))
    if draw(st.booleans()):
        data["user_agent"] = draw(st.sampled_from([
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Version/17.4 Mobile",
        ]))
    sst: dict[str, Any] = {}
    if draw(st.booleans()):
        data["x-ga-gcs"] = draw(st.sampled_from(["G111", "G100", "G101"]))
        gcd = draw(st.sampled_from(GCD_SAMPLES))
        data[GCD_EVENT_KEY] = gcd
        sst.update(gcd=gcd, consent=consent_from_gcd(gcd))
        data["x-ga-dma"] = draw(st.sampled_from(["0", "1"]))
    for name in draw(st.lists(st.sampled_from(SST_NAMES), max_size=4, unique=True)):
        sst[name] = draw(st.one_of(st.integers(1, 2**41).map(str), ga4_text(min_size=1, max_size=12)))
    if sst:
        data["x-sst-system_properties"] = sst
    form = draw(st.sampled_from(["none", "ua", "headers"]))
    if form == "ua":  # ua* parameters: sGTM writes all eight fields, and brands when Sec-CH-UA came
        hints: dict[str, Any] = {name: (list(default) if isinstance(default, tuple) else default)
                                 for name, default in CLIENT_HINT_FIELDS}
        hints.update(architecture=draw(st.sampled_from(["x86", "arm", ""])), bitness=draw(st.sampled_from(["64", ""])),
                     full_version_list=draw(st.lists(st.fixed_dictionaries({"brand": ga4_text(max_size=12),
                                                                            "version": ga4_text(max_size=8)}),
                                                     max_size=3)),
                     mobile=draw(st.booleans()), model=draw(ga4_text(max_size=8)),
                     platform=draw(st.sampled_from(["Windows", "macOS", "Android", "Linux", ""])),
                     platform_version=draw(st.sampled_from(["10.0.0", "15.5.0", "6.6.72", ""])),
                     wow64=draw(st.booleans()))
        if draw(st.booleans()):
            hints["brands"] = draw(_brands)
        data["client_hints"] = hints
    elif form == "headers":  # no ua* parameter: what the Sec-CH-UA* headers carry
        hints = {}
        if draw(st.booleans()):
            hints["brands"] = draw(_brands)
        if draw(st.booleans()):
            hints["mobile"] = draw(st.booleans())
        if draw(st.booleans()) or not hints:
            hints["platform"] = '"' + draw(st.sampled_from(["Windows", "macOS", "Android", "Linux"])) + '"'
        data["client_hints"] = hints
    if draw(st.booleans()):
        data["x-ga-mp2-seg"] = draw(st.sampled_from(["0", "1"]))
    return data


@st.composite
def _event_part(draw: st.DrawFn, max_items: int) -> dict[str, Any]:
    """The event-level part: name, engagement time, parameters, items, user properties, flags."""
    data: dict[str, Any] = {"event_name": draw(st.one_of(st.sampled_from(EVENT_NAMES), _names))}
    if draw(st.booleans()):
        data["engagement_time_msec"] = draw(st.integers(0, 100_000))
    if draw(st.booleans()):
        data["currency"] = draw(st.sampled_from(CURRENCIES))
    params = draw(st.dictionaries(_param_names, st.one_of(ga4_text(), ga4_numbers()), max_size=6))
    data.update(params)
    if max_items and draw(st.booleans()):
        data["items"] = draw(ga4_items(min_size=1, max_size=max_items))
    if draw(st.integers(0, 3)) == 0:
        data["x-ga-mp2-user_properties"] = draw(st.dictionaries(_names, st.one_of(ga4_text(max_size=10),
                                                                                  ga4_numbers()),
                                                                min_size=1, max_size=3))
    flags = draw(st.lists(st.sampled_from(["fv", "ss", "nsi", "c", "ee"]), max_size=3, unique=True))
    if flags:
        data["x-ga-system_properties"] = {flag: "1" for flag in flags}
    if draw(st.integers(0, 5)) == 0:
        data["debug_mode"] = "true"
        data.setdefault("x-ga-system_properties", {})["dbg"] = "1"
    return data


def ga4_event_data(*, max_items: int = 5) -> st.SearchStrategy[dict[str, Any]]:
    """Event data as ``gtm_emulator.clients.ga4.parse`` builds it from one hit (``js`` mode)."""
    return st.builds(_merge, _context(), _event_part(max_items))


def _merge(context: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    merged = dict(context)
    if "x-ga-system_properties" in part:
        merged["x-ga-system_properties"] = dict(part["x-ga-system_properties"])
    for key, value in part.items():
        if key != "x-ga-system_properties":
            merged[key] = value
    return merged


@dataclass(frozen=True)
class GA4Hit:
    """One ``/g/collect`` request and the event data that parsing it gives (one dict per event)."""

    method: str
    query: str
    body: str
    headers: dict[str, str]
    remote_addr: str
    events: list[dict[str, Any]] = field(default_factory=list)
    path: str = "/g/collect"

    @property
    def url(self) -> str:
        return f"{self.path}?{self.query}"

    def request(self) -> Request:
        return Request.build(self.method, self.url, headers=self.headers, body=self.body,
                             remote_addr=self.remote_addr)


@st.composite
def ga4_hits(draw: st.DrawFn, *, max_events: int = 3, max_items: int = 5,
             method: str | None = None) -> GA4Hit:
    """A GET (one event) or a batched POST (``1..max_events`` events sharing one page context)."""
    chosen = method or draw(st.sampled_from(["GET", "POST"]))
    context = draw(_context())
    count = 1 if chosen == "GET" else draw(st.integers(1, max_events))
    events = [_merge(context, draw(_event_part(max_items))) for _ in range(count)]
    extra = request_fields(context)
    if chosen == "GET":
        query, body = encode(events[0]), ""
    else:
        query, body = encode_batch(events)
    return GA4Hit(method=chosen, query=query, body=body, headers=extra["headers"],
                  remote_addr=extra.get("remote_addr", "127.0.0.1"), events=events)
