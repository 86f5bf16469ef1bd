"""Reading a WSGI request body with a size limit, the same way for every endpoint that reads one."""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.wsgi import get_content_length, get_input_stream

from ..errors import BodyTooLarge


class BodyUnreadable(Exception):
    """The body cannot be read: malformed chunked framing (``abandoned`` false), or the client went
    away before sending all of it (``abandoned`` true)."""

    def __init__(self, message: str, abandoned: bool = False):
        super().__init__(message)
        self.abandoned = abandoned


def _unreadable(exc: BaseException) -> BodyUnreadable | None:
    """What a WSGI server's body-reading error means, or None for an error of another kind."""
    name = type(exc).__name__
    if name in ("NoMoreData", "ClientDisconnected") or isinstance(exc, (ConnectionError, TimeoutError)):
        return BodyUnreadable("the client closed the connection before sending the whole body", abandoned=True)
    if type(exc).__module__.startswith("gunicorn.http") or isinstance(exc, (ValueError, BadRequest)):
        return BodyUnreadable(f"malformed request body ({name}: {exc})")
    return None


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The whole body, or :class:`BodyTooLarge`, or :class:`BodyUnreadable`. A body with a
    Content-Length over the limit is refused before it is read; a chunked one (no Content-Length)
    is read up to one byte past the limit, so that it is refused rather than cut short."""
    length = get_content_length(environ)
    if length is not None and length > limit:
        raise BodyTooLarge
    try:
        stream = get_input_stream(environ, max_content_length=limit + 1)
        chunks, left = [], limit + 1
        while left > 0:
            chunk = stream.read(left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except RequestEntityTooLarge:
        raise BodyTooLarge from None
    except Exception as exc:  # a malformed chunk size, a client that went away
        unreadable = _unreadable(exc)
        if unreadable is None:
            raise
        raise unreadable from None
    body = b"".join(chunks)
    if len(body) > limit:
        raise BodyTooLarge
    return body
