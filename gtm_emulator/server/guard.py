"""Who may use the emulator's own endpoints (``/_emulator/`` and ``/_mock/``): Host, Origin and token.

A web page in the user's browser can send requests to a server on loopback, and a DNS-rebinding
page can even read its answers. :func:`make_guard` refuses, before any handler runs:

* a ``Host`` that is neither a loopback name or address (``localhost``, ``127.0.0.0/8``, ``::1``)
  nor the address the server is bound to, nor one of ``allowed_hosts`` (403). A server bound to
  every interface (``0.0.0.0``, ``::``) accepts any Host: it cannot know the names it is reached
  by, and there the token is required instead;
* a state-changing request (any method but GET, HEAD and OPTIONS) that a browser marks as coming
  from another site: an ``Origin`` that is ``null`` or names another host and port than ``Host``, or
  ``Sec-Fetch-Site: cross-site`` / ``same-site`` (403). Server-to-server calls send no ``Origin``;
* without the token (when the server has one, i.e. binds beyond loopback), the mock vendors'
  inspection and setup endpoints (``/_mock/<vendor>/_…``: received events, minted tokens, reset);
  the Preview's own token check covers ``/_emulator/`` (:mod:`.preview`).

The container's own paths are not guarded: a tagging server answers every site's browsers.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

GUARDED_PREFIXES = ("/_emulator", "/_mock")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
TOKEN_HEADER = "X-Emulator-Token"
TOKEN_COOKIE = "gtm_emulator_token"
TOKEN_PARAM = "token"
WILDCARD_BINDS = ("", "0.0.0.0", "::", "[::]")

Answer = tuple[int, list[tuple[str, str]], bytes]


def split_host(host: str) -> str:
    """A ``Host`` header without its port, lower case, IPv6 without brackets."""
    text = host.strip().lower()
    if text.startswith("["):
        return text[1:text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def is_loopback(host: str) -> bool:
    """Whether binding or naming ``host`` keeps to this machine: ``localhost`` and loopback addresses
    (127.0.0.0/8, ::1, also in brackets) are; an empty host, ``0.0.0.0``, ``::`` and every other name
    or address are not."""
    text = host.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if text in ("localhost", "localhost."):
        return True
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def offered_token(environ: dict[str, Any]) -> str:
    """The token a request carries: header, cookie or ``?token=``."""
    header = environ.get("HTTP_" + TOKEN_HEADER.upper().replace("-", "_"))
    if header:
        return str(header)
    cookie_text = environ.get("HTTP_COOKIE") or ""
    if TOKEN_COOKIE in cookie_text:
        try:
            morsel = SimpleCookie(cookie_text).get(TOKEN_COOKIE)
        except Exception:
            morsel = None
        if morsel is not None and morsel.value:
            return morsel.value
    values = parse_qs(environ.get("QUERY_STRING") or "").get(TOKEN_PARAM)
    return values[0] if values else ""


def token_matches(offered: str, token: str) -> bool:
    return hmac.compare_digest(offered.encode("utf-8", "replace"), token.encode("utf-8"))


def send_refusal(refused: Answer, start_response: Callable[..., Any]) -> list[bytes]:
    """Write a guard's refusal as a WSGI answer."""
    from werkzeug.http import HTTP_STATUS_CODES

    status, headers, body = refused
    start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}",
                   [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _refuse(status: int, message: str) -> Answer:
    return status, [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")], \
        (message + "\n").encode("utf-8")


def is_mock_inspection(path: str) -> bool:
    """A mock vendor's inspection or setup path under ``serve``: ``/_mock/<vendor>/_…``."""
    return path.startswith("/_mock/") and any(part.startswith("_") for part in path.split("/")[3:])


def make_guard(bind_host: str | None = None, token: str | None = None,
               allowed_hosts: Iterable[str] = (), prefixes: tuple[str, ...] = GUARDED_PREFIXES,
               needs_token: Callable[[str], bool] = is_mock_inspection,
               ) -> Callable[[dict[str, Any]], Answer | None]:
    """The check for one app: ``guard(environ)`` is None to go on, or the refusal to send.

    ``prefixes`` are the paths guarded at all; ``needs_token(path)`` tells which of them also need
    the token when there is one (the Preview checks its own token)."""
    any_host = bind_host is not None and bind_host.strip().lower() in WILDCARD_BINDS
    allowed = {split_host(h) for h in allowed_hosts if h}
    if bind_host and not any_host:
        allowed.add(split_host(bind_host))

    def guard(environ: dict[str, Any]) -> Answer | None:
        path = environ.get("PATH_INFO") or "/"
        if not path.startswith(prefixes):
            return None
        raw_host = str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME") or "")
        host = split_host(raw_host)
        if not any_host and not is_loopback(host) and host not in allowed:
            return _refuse(403, f"Host {raw_host!r} is not this emulator's address; its own endpoints answer "
                                "only to loopback names and the address it is bound to (a guard against DNS "
                                "rebinding)")
        method = str(environ.get("REQUEST_METHOD") or "GET").upper()
        if method not in SAFE_METHODS:
            origin = environ.get("HTTP_ORIGIN")
            fetch_site = str(environ.get("HTTP_SEC_FETCH_SITE") or "").lower()
            cross = fetch_site in ("cross-site", "same-site")
            if origin is not None:
                try:
                    origin_netloc = urlsplit(str(origin)).netloc.lower()
                except ValueError:
                    origin_netloc = ""
                cross = cross or str(origin).strip().lower() == "null" or origin_netloc != raw_host.lower()
            if cross:
                return _refuse(403, f"cross-site {method} from {origin or fetch_site!r} refused: the emulator's "
                                    "own endpoints change state only for requests from the same origin")
        if token is not None and needs_token(path):
            if not token_matches(offered_token(environ), token):
                return _refuse(401, "this emulator is reachable from other machines, so the mock's inspection "
                                    f"and setup endpoints need the token printed at start-up (header "
                                    f"{TOKEN_HEADER}, or ?{TOKEN_PARAM}=)")
        return None

    return guard
