"""Request and response values, free of I/O (the container's input and output).

``Request.query`` is the raw query string without ``?``. Non-ASCII characters in it stand for
themselves; bytes that were not valid UTF-8 on the wire are kept as surrogate escapes so that the
client can report them (``decode_component``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

from ..errors import RequestError

HeaderPairs = tuple[tuple[str, str], ...]

BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def decode_component(text: str, *, plus_is_space: bool = True, what: str = "value") -> str:
    """Percent-decode one form component strictly (``+`` as a space).

    Raises :class:`RequestError` (400) for a ``%`` not followed by two hex digits and for bytes
    that are not valid UTF-8, naming ``what`` was being decoded.
    """
    if plus_is_space and "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        if text.isascii():
            return text
        try:
            return text.encode("utf-8", "surrogateescape").decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError(400, f"invalid UTF-8 in {what}") from None
    bad = BAD_ESCAPE.search(text)
    if bad:
        snippet = text[bad.start(): bad.start() + 3]
        raise RequestError(400, f"malformed percent-encoding {snippet!r} in {what}")
    raw = unquote_to_bytes(text.encode("utf-8", "surrogateescape"))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(400, f"invalid UTF-8 (byte 0x{raw[exc.start]:02x}) in {what}") from None


def decode_component_lenient(text: str) -> str | None:
    """``decodeURIComponent`` as the sandbox offers it: None on malformed input (JS would throw)."""
    try:
        return decode_component(text, plus_is_space=False)
    except RequestError:
        return None


def parse_query(query: str, *, what: str = "query string") -> list[tuple[str, str]]:
    """Split and strictly decode ``a=1&b=2`` into pairs, keeping order and repeats."""
    pairs: list[tuple[str, str]] = []
    if not query:
        return pairs
    for part in query.split("&"):
        if not part:
            continue
        name, sep, value = part.partition("=")
        key = decode_component(name, what=f"{what} parameter name")
        pairs.append((key, decode_component(value, what=f"{what} parameter {key!r}") if sep else ""))
    return pairs


def first_values(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The first value of each name (``getRequestQueryParameter`` semantics)."""
    out: dict[str, str] = {}
    for key, value in pairs:
        if key not in out:
            out[key] = value
    return out


def parse_cookie_header(header: str) -> list[tuple[str, str]]:
    """``a=1; b=2`` into (name, raw value) pairs, in header order."""
    pairs: list[tuple[str, str]] = []
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if not sep or not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        pairs.append((name.strip(), value))
    return pairs


@dataclass(frozen=True)
class Request:
    """One incoming HTTP request, as the container sees it."""

    method: str
    path: str
    query: str = ""
    headers: HeaderPairs = ()
    body: bytes = b""
    remote_addr: str = "127.0.0.1"
    scheme: str = "http"
    _cookie_pairs: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @classmethod
    def build(
        cls,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: bytes | str = b"",
        cookies: Mapping[str, str] | None = None,
        remote_addr: str = "127.0.0.1",
    ) -> Request:
        """A request from a path with query (``/g/collect?v=2``) or a full URL."""
        if url.startswith("/") and not url.startswith("//") and "#" not in url:
            path, _, query = url.partition("?")  # a path: no need for the full URL parser
            netloc, scheme = "", "http"
        else:
            parts = urlsplit(url)
            path, query, netloc, scheme = parts.path, parts.query, parts.netloc, parts.scheme or "http"
        pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
        header_pairs = [(k if type(k) is str else str(k), v if type(v) is str else str(v)) for k, v in pairs]
        if netloc and not any(k.lower() == "host" for k, _ in header_pairs):
            header_pairs.append(("Host", netloc))
        if cookies:
            extra = "; ".join(f"{k}={quote(v, safe='')}" for k, v in cookies.items())
            header_pairs.append(("Cookie", extra))
        return cls(method.upper(), path or "/", query, tuple(header_pairs),
                   body.encode("utf-8") if isinstance(body, str) else body if type(body) is bytes else bytes(body),
                   remote_addr, scheme)

    # ------------------------------------------------------------------ headers

    def header(self, name: str) -> str | None:
        """``getRequestHeader``: case-insensitive; repeated headers joined with ``", "``."""
        lname = name.lower()
        values = [v for k, v in self.headers if k.lower() == lname]
        if not values:
            return None
        return ", ".join(values)

    @property
    def url(self) -> str:
        return self.path + ("?" + self.query if self.query else "")

    @property
    def host(self) -> str:
        """Host of the request (``X-Forwarded-Host``, else ``Host``), without port."""
        raw = self.header("X-Forwarded-Host") or self.header("Host") or ""
        raw = raw.split(",")[0].strip()
        return strip_port(raw)

    @property
    def is_https(self) -> bool:
        proto = (self.header("X-Forwarded-Proto") or self.scheme).split(",")[0].strip().lower()
        return proto == "https"

    # ------------------------------------------------------------------ cookies

    def cookie_pairs(self) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for name, value in self.headers:
            if name.lower() == "cookie":
                pairs.extend(parse_cookie_header(value))
        return pairs

    def cookie_values(self, name: str, *, decode: bool = True) -> list[str]:
        """``getCookieValues``: every value of the cookie, in header order, URI-decoded."""
        values = [v for k, v in self.cookie_pairs() if k == name]
        if not decode:
            return values
        out = []
        for v in values:
            decoded = decode_component_lenient(v)
            out.append(v if decoded is None else decoded)
        return out

    def cookies(self) -> dict[str, str]:
        """First value of every cookie, decoded."""
        out: dict[str, str] = {}
        for name, _ in self.cookie_pairs():
            if name not in out:
                out[name] = self.cookie_values(name)[0]
        return out

    def to_dict(self) -> dict[str, Any]:
        """The report form; bytes that were not valid UTF-8 are shown as U+FFFD."""
        return {
            "method": self.method,
            "path": display_text(self.path),
            "query": display_text(self.query),
            "headers": {k: display_text(v) for k, v in headers_dict(self.headers).items()},
            "cookies": {k: display_text(v) for k, v in self.cookies().items()},
            "remote_addr": self.remote_addr,
            "body": self.body.decode("utf-8", "replace"),
        }


def display_text(text: str) -> str:
    """Text safe to print or store: surrogate escapes of invalid bytes become U+FFFD."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def headers_dict(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in pairs:
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def strip_port(host: str) -> str:
    host = host.strip()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        return host.split(":")[0]
    return host


def client_address(request: Request, trusted_proxies: Iterable[str] = ()) -> str:
    """The client's IP: ``X-Forwarded-For`` (left-most) or ``Forwarded: for=`` when the socket peer
    is a trusted proxy, else the socket address. Brackets and ports are stripped."""
    peer = strip_port(request.remote_addr)
    if _is_trusted(peer, tuple(trusted_proxies)):
        xff = request.header("X-Forwarded-For")
        if xff:
            return strip_port(xff.split(",")[0])
        fwd = request.header("Forwarded")
        if fwd:
            match = re.search(r'for="?([^;,"]+)"?', fwd, re.IGNORECASE)
            if match:
                return strip_port(match.group(1))
    return peer


@lru_cache(maxsize=64)
def trusted_networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    nets = []
    for item in trusted:
        if item == "*":
            nets.append(ipaddress.ip_network("0.0.0.0/0"))
            nets.append(ipaddress.ip_network("::/0"))
        else:
            nets.append(ipaddress.ip_network(item, strict=False))
    return tuple(nets)


def _is_trusted(peer: str, trusted: tuple[str, ...]) -> bool:
    if not trusted:
        return False
    try:
        addr = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(addr in net for net in trusted_networks(trusted))


# ---------------------------------------------------------------------- response side


@dataclass
class SetCookie:
    """A cookie that the response sets (its report form; docs/architecture.md, "Cookies")."""

    name: str
    value: str
    max_age: int | None = None
    domain: str | None = None
    path: str | None = "/"
    secure: bool = False
    http_only: bool = False
    same_site: str | None = None
    encode: bool = True

    def header_value(self) -> str:
        value = quote(self.value, safe="-_.!~*'()") if self.encode else self.value
        parts = [f"{self.name}={value}"]
        if self.domain:
            parts.append(f"Domain={self.domain}")
        if self.path:
            parts.append(f"Path={self.path}")
        if self.max_age is not None:
            parts.append(f"Max-Age={self.max_age}")
        if self.secure:
            parts.append("Secure")
        if self.http_only:
            parts.append("HttpOnly")
        if self.same_site:
            parts.append(f"SameSite={self.same_site}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "max_age": self.max_age,
            "domain": self.domain,
            "path": self.path,
            "secure": self.secure,
            "http_only": self.http_only,
            "same_site": self.same_site,
        }


_SAME_SITE = {"lax": "Lax", "strict": "Strict", "none": "None"}


def cookie_setter(response: Response, request: Request) -> Any:
    """``setCookie(name, value, options, no_encode)`` for sandbox code: the cookie joins ``response``."""
    def set_cookie(name: str, value: str, options: Any, no_encode: bool) -> None:
        response.set_cookie(cookie_from_options(name, value, options, request, no_encode=no_encode))

    return set_cookie


def cookie_from_options(
    name: str, value: str, options: Mapping[str, Any] | None, request: Request, *, no_encode: bool = False
) -> SetCookie:
    """Build a :class:`SetCookie` from sandbox ``setCookie`` options (keys read case-insensitively)."""
    opts = {str(k).lower(): v for k, v in (options or {}).items()}
    domain = opts.get("domain")
    if domain == "auto":
        domain = auto_cookie_domain(request.host)
    max_age = opts.get("max-age", opts.get("maxage"))
    same_site = opts.get("samesite")
    return SetCookie(
        name=name,
        value=value,
        max_age=int(max_age) if max_age is not None else None,
        domain=domain or None,
        path=opts.get("path", "/"),
        secure=bool(opts.get("secure", False)),
        http_only=bool(opts.get("httponly", False)),
        same_site=_SAME_SITE.get(str(same_site).lower()) if same_site else None,
        encode=not no_encode,
    )


def auto_cookie_domain(host: str) -> str | None:
    """``domain: "auto"``: the registrable domain (eTLD+1) of the host; None (host-only) for
    ``localhost``, single-label hosts and IP addresses."""
    host = host.strip().lower().rstrip(".")
    if not host or "." not in host:
        return None
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    return registrable_domain(host) or None


@lru_cache(maxsize=1)
def _psl() -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """eTLD+1 by the Public Suffix List bundled with ``publicsuffixlist`` ("" when none)."""
    result = _psl().privatesuffix(host.lower().rstrip("."))
    return result or ""


@dataclass(slots=True)
class Response:
    """What the container answers: status, headers, cookies and body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    set_cookies: list[SetCookie] = field(default_factory=list)
    body: bytes = b""
    # URLs tags asked the browser to load (sendPixelFromBrowser); the GA4 client puts them in its reply
    send_pixel: list[str] = field(default_factory=list)

    def set_cookie(self, cookie: SetCookie) -> None:
        """A later cookie with the same name, domain and path replaces the earlier one."""
        self.set_cookies = [
            c for c in self.set_cookies
            if (c.name, c.domain, c.path) != (cookie.name, cookie.domain, cookie.path)
        ]
        self.set_cookies.append(cookie)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "headers": dict(self.headers),
            "set_cookies": [c.to_dict() for c in self.set_cookies],
            "body": self.body.decode("utf-8", "replace"),
        }
