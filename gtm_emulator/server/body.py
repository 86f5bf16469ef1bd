"""Reading a WSGI request body with a size limit, the same way for every endpoint that reads one."""

from __future__ import annotations

from typing import Any

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_content_length, get_input_stream

from ..errors import BodyTooLarge


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The whole body, or :class:`BodyTooLarge`. A body with a Content-Length over the limit is
    refused before it is read; a chunked one (no Content-Length) is read up to one byte past the
    limit, so that it is refused rather than cut short."""
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
    body = b"".join(chunks)
    if len(body) > limit:
        raise BodyTooLarge
    return body
