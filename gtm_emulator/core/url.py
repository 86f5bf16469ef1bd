"""``parseUrl``: a URL split into its parts, as the server container's templates see it.

sGTM's ``parseUrl`` returns the parts of a WHATWG ``URL`` (``href``, ``origin``, ``protocol``,
``hostname``, ``port``, ``pathname``, ``search``, ``searchParams``, ``hash``…) or ``undefined`` for a
relative or invalid URL. ``searchParams`` is decoded as ``URLSearchParams`` decodes a query: ``+`` is
a space, a ``%`` not followed by two hex digits stays as it is, and bytes that are not UTF-8 become
U+FFFD (never an error, never the raw text). A repeated name gives a list of values. See
docs/templates.md, "parseUrl".
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

__all__ = ["DEFAULT_PORTS", "parse_url", "search_decode"]

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")


def search_decode(text: str) -> str:
    """One name or value of a query, decoded as ``URLSearchParams`` does.

    >>> search_decode("a+b%20c%zz%FF")
    'a b c%zz\\ufffd'
    """
    text = text.replace("+", " ")
    if "%" not in text:
        return text
    raw = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8", "surrogatepass"))
    return raw.decode("utf-8", "replace")


def parse_url(url: Any) -> dict[str, Any] | None:
    """The parts of an absolute URL, or None for a relative, invalid or non-string one.

    >>> parts = parse_url("https://Shop.Example:443/p?q=1&q=%C3%A9#top")
    >>> parts["host"], parts["pathname"], parts["searchParams"], parts["hash"]
    ('shop.example', '/p', {'q': ['1', 'é']}, '#top')
    >>> parse_url("/relative") is None
    True
    """
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    default_port = DEFAULT_PORTS.get(scheme)
    port_text = "" if port is None or port == default_port else str(port)
    hostname = parts.hostname.lower()
    host = hostname + (":" + port_text if port_text else "")
    search_params: dict[str, Any] = {}
    for piece in parts.query.split("&") if parts.query else []:
        if not piece:
            continue
        name, _, value = piece.partition("=")
        key, val = search_decode(name), search_decode(value)
        if key in search_params:
            prev = search_params[key]
            search_params[key] = [*prev, val] if isinstance(prev, list) else [prev, val]
        else:
            search_params[key] = val
    pathname = parts.path or ("/" if default_port is not None else "")
    search = f"?{parts.query}" if parts.query else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return {
        "href": f"{scheme}://{parts.netloc}{pathname}{search}{fragment}",
        "origin": f"{scheme}://{host}",
        "protocol": scheme + ":",
        "username": parts.username or "",
        "password": parts.password or "",
        "host": host,
        "hostname": hostname,
        "port": port_text,
        "pathname": pathname,
        "search": search,
        "searchParams": search_params,
        "hash": fragment,
    }
