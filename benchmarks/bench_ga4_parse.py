"""GA4 client parse throughput against the bare ``urllib.parse.parse_qsl`` on the same hits.

The mix is what a shop's tagging server sees: page views (GET), item views and add-to-carts with
one item, a purchase with five items, and batched POSTs of three events (user engagement, scroll,
view_item_list with four items). The subject is ``gtm_emulator.clients.ga4.parse`` (decoding,
parameter mapping, typing, items, client hints); the baseline splits and decodes the same query
strings and body lines with ``parse_qsl`` and does nothing else. Target: the GA4 client costs at
most 2.5x the bare parse (ratio subject/baseline >= 0.4).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from gtm_emulator.clients import ga4

try:
    from benchmarks.common import Row, format_table, interleaved_rates
except ImportError:  # run as a script from the benchmarks directory
    from common import Row, format_table, interleaved_rates  # type: ignore[no-redef]

_PAGE = ("v=2&tid=G-8XK3Q2PLM1&gtm=45je45g0v9176543210z8&_p=1716212345678&gcs=G111&gcd=13l3l3l3l1&npa=0"
         "&dma=0&cid=1848265125.1716212340&ul=de-de&sr=1920x1080&uaa=x86&uab=64"
         "&uafvl=Chromium%3B124.0.6367.207%7CGoogle%2520Chrome%3B124.0.6367.207%7CNot-A.Brand%3B99.0.0.0&uamb=0&uam="
         "&uap=Windows&sst.etld=google.de&sst.tft=1716212345678&sst.lpc=253076363&sst.navt=n&sst.ude=1"
         "&uapv=15.0.0&uaw=0&are=1&frm=0&pscdl=noapi&_s={s}&sid=1716212340&sct=3&seg=1"
         "&dl=https%3A%2F%2Fshop.example%2Fde%2Fdamen%2Fkleider%3Futm_source%3Dnewsletter"
         "&dr=https%3A%2F%2Fwww.example.org%2F&dt=Kleider%20f%C3%BCr%20Damen%20%7C%20Shop&tfd=1532")
_ITEM = ("id{sku}~nmSommerkleid%20Leinen%20{n}~brAcme~caDamen~c2Kleider~c3Sommer~vaBlau~pr{price}~qt{qty}"
         "~lnEmpfehlungen~li{list}~lp{n}~k0material~v0Leinen")


def _hits() -> list[tuple[str, str, bytes]]:
    hits: list[tuple[str, str, bytes]] = []
    hits.append(("GET", _PAGE.format(s=1) + "&en=page_view&_fv=1&_nsi=1&_ss=1&_ee=1&ep.content_group=damen", b""))
    item = _ITEM.format(sku="SKU_4711", n=1, price="59.95", qty=1, list="recs")
    hits.append(("GET", _PAGE.format(s=2) + f"&en=view_item&_et=5203&cu=EUR&epn.value=59.95&pr1={item}", b""))
    hits.append(("GET", _PAGE.format(s=3) + "&en=add_to_cart&_et=2210&cu=EUR&epn.value=119.9&pr1="
                 + _ITEM.format(sku="SKU_4711", n=1, price="59.95", qty=2, list="recs"), b""))
    items = "&".join(f"pr{i}=" + _ITEM.format(sku=f"SKU_{1000 + i}", n=i, price=f"{10 + i}.99", qty=i, list="cart")
                     for i in range(1, 6))
    hits.append(("GET", _PAGE.format(s=4) + "&en=purchase&_et=812&cu=EUR&ep.transaction_id=T-20240520-0042"
                 "&epn.value=214.95&epn.tax=34.32&epn.shipping=4.95&ep.coupon=SOMMER10&ep.payment_type=card&"
                 + items, b""))
    list_items = "&".join(f"pr{i}=" + _ITEM.format(sku=f"SKU_{2000 + i}", n=i, price="29.5", qty=1, list="grid")
                          for i in range(1, 5))
    body = ("en=user_engagement&_et=15234\r\n"
            "en=scroll&_et=1200&epn.percent_scrolled=90\r\n"
            "en=view_item_list&_et=10&ep.item_list_id=grid&ep.item_list_name=Kleider&" + list_items)
    hits.append(("POST", _PAGE.format(s=5), body.encode()))
    return hits


HITS = _hits()
ROUNDS = 200


def _subject(rounds: int) -> int:
    parse = ga4.parse
    count = 0
    for _ in range(rounds):
        for method, query, body in HITS:
            parse(method, "/g/collect", query, body, None, "203.0.113.7")
            count += 1
    return count


def _baseline(rounds: int) -> int:
    count = 0
    for _ in range(rounds):
        for _method, query, body in HITS:
            parse_qsl(query, keep_blank_values=True)
            if body:
                for line in body.decode("utf-8").split("\n"):
                    if line.strip():
                        parse_qsl(line.strip(), keep_blank_values=True)
            count += 1
    return count


def run(quick: bool = False) -> list[Row]:
    rounds = 20 if quick else ROUNDS
    repeats = 3 if quick else 9
    subject, baseline = interleaved_rates(lambda: _subject(rounds), lambda: _baseline(rounds), repeats=repeats)
    return [Row(
        name="GA4 /g/collect parse (GET + batched POST)",
        unit="h/s",
        subject=subject,
        baseline=baseline,
        target=0.4,
        note=f"{len(HITS)} hits per round ({sum(1 for h in HITS if h[0] == 'POST')} batched POST, 3 events); "
             "baseline = urllib.parse.parse_qsl on the same query strings and body lines; medians",
    )]


if __name__ == "__main__":
    print(format_table(run()))
