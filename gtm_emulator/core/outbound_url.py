"""One strict parser for the URLs that tags and templates send HTTP requests to.

Every check on an outgoing URL (a template's ``send_http`` permission, the live transport's
allow-list, the mock transport's routing) and the connection itself use :func:`parse_outbound`, so
they all see the same scheme, host, port and path. A URL that URL parsers could read in different
ways is refused with :class:`UnsafeUrl` instead of being guessed at:

* only ``http`` and ``https``;
* no backslash, whitespace, control character or non-ASCII character anywhere (a WHATWG parser
  reads ``\\`` as ``/``, Python's ``urlsplit`` does not: ``http://127.0.0.1:9\\@vendor.example/``
  is host ``127.0.0.1`` to one and ``vendor.example`` to the other);
* no user information (``user:pass@``);
* a host of letters, digits, ``-`` and ``.`` (an internationalised name must be given in its
  ``xn--`` form), no percent-encoding, no empty label and no trailing dot; a host whose last label
  is a number must be a canonical dotted IPv4 address (``127.1``, ``0x7f.1`` and ``2130706433``
  reach 127.0.0.1 through the resolver); an IPv6 address in brackets;
* a port, when given, of 1 to 5 digits without a leading zero, from 1 to 65535;
* no ``.`` or ``..`` path segment, plain or percent-encoded (HTTP libraries remove them, so the path
  sent would differ from the path checked).

The connection is then made to :attr:`OutboundUrl.url`, rebuilt from the checked parts, and
urllib3's own reading of its scheme, host and port must agree (``_cross_check``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

SCHEMES = {"http": 80, "https": 443}
_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_PORT = re.compile(r"[1-9][0-9]{0,4}")
_DOT_SEGMENT = re.compile(r"(?:^|/)(?:\.|%2e){1,2}(?:/|$)", re.IGNORECASE)
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")


class UnsafeUrl(ValueError):
    """A URL that is refused for an outgoing request (the message says why)."""


@dataclass(frozen=True)
class OutboundUrl:
    scheme: str
    host: str  # lower case; an IPv6 address without brackets
    port: int | None  # as written; None when the URL gives none
    path: str  # "/" when the URL gives none
    query: str

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else SCHEMES[self.scheme]

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    @property
    def url(self) -> str:
        """The URL as the connection uses it (the fragment, never sent, is dropped)."""
        return self.origin + self.path + (f"?{self.query}" if self.query else "")


def parse_outbound(url: str) -> OutboundUrl:
    """``url`` as the connection will use it, or :class:`UnsafeUrl` (see the module docstring)."""
    if not isinstance(url, str):
        raise UnsafeUrl("the URL is not a string")
    if not url.isascii():
        raise UnsafeUrl("the URL has non-ASCII characters (give an internationalised host in its xn-- form "
                        "and percent-encode the path)")
    bad = _FORBIDDEN.search(url)
    if bad:
        what = "a backslash" if bad.group() == "\\" else f"the character {bad.group()!r}"
        raise UnsafeUrl(f"the URL contains {what}")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise UnsafeUrl("only http:// and https:// URLs can be sent to")
    rest = rest.split("#", 1)[0]
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, target = rest[:cut], rest[cut:]
    if "@" in authority:
        raise UnsafeUrl("the URL has user information (user@host), which is not allowed")
    host, port = _split_authority(authority)
    path, _, query = target.partition("?")
    path = path or "/"
    if _DOT_SEGMENT.search(path):
        raise UnsafeUrl("the URL path has a '.' or '..' segment")
    parsed = OutboundUrl(scheme, host, port, path, query)
    _cross_check(parsed)
    return parsed


def _split_authority(authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise UnsafeUrl("the URL has an unclosed '[' in its host")
        literal, after = authority[1:end], authority[end + 1:]
        try:
            host = str(ipaddress.IPv6Address(literal))
        except ValueError:
            raise UnsafeUrl(f"the URL host [{literal}] is not an IPv6 address") from None
        if after and not after.startswith(":"):
            raise UnsafeUrl("the URL has characters after its IPv6 host")
        port_text = after[1:] if after else None
    else:
        host, colon, port_text_raw = authority.partition(":")
        port_text = port_text_raw if colon else None
        host = host.lower()
        _check_host(host)
    if port_text is None:
        return host, None
    if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
        raise UnsafeUrl(f"the URL port {port_text!r} is not a number from 1 to 65535")
    return host, int(port_text)


def _check_host(host: str) -> None:
    if not host:
        raise UnsafeUrl("the URL has no host")
    if "%" in host:
        raise UnsafeUrl("the URL host is percent-encoded")
    labels = host.split(".")
    if not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise UnsafeUrl(f"the URL host {host!r} is not a plain host name (letters, digits, '-' and '.'; no "
                        "empty label or trailing dot)")
    last = labels[-1]
    if last.isdigit() or last.startswith("0x"):
        try:
            canonical = str(ipaddress.IPv4Address(host))
        except ValueError:
            canonical = ""
        if canonical != host:
            raise UnsafeUrl(f"the URL host {host!r} is a numeric address that is not written as a dotted IPv4 "
                            "address")


def _cross_check(parsed: OutboundUrl) -> None:
    """urllib3 (which makes the connection) must read the rebuilt URL the same way."""
    try:
        from urllib3.util import parse_url
    except ImportError:  # pragma: no cover - urllib3 comes with requests
        return
    theirs = parse_url(parsed.url)
    host = (theirs.host or "").lower().strip("[]")
    if (theirs.scheme, host, theirs.port) != (parsed.scheme, parsed.host, parsed.port):
        raise UnsafeUrl("URL parsers disagree on the host of this URL")


def host_of(url: str) -> str:
    """The host an outgoing URL would reach, or "" for a refused URL (for messages and routing)."""
    try:
        return parse_outbound(url).host
    except UnsafeUrl:
        return ""
