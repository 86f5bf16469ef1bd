"""Shared helpers for the sandbox tests: build .tpl text and tag contexts."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from gtm_emulator.core.request import Request, Response
from gtm_emulator.core.variables import ContainerInfo
from gtm_emulator.tags.base import TagContext
from gtm_emulator.vendors.tiktok_mock import HOST, TikTokMock
from gtm_emulator.vendors.transport import MockTransport

DATA = Path(__file__).parent / "data"
TEMPLATES = DATA / "templates"


def perm(pid: str, **params: Any) -> dict[str, Any]:
    def value(v: Any) -> dict[str, Any]:
        if isinstance(v, bool):
            return {"type": 8, "boolean": v}
        if isinstance(v, list):
            return {"type": 2, "listItem": [value(x) for x in v]}
        if isinstance(v, dict):
            return {"type": 3, "mapKey": [value(k) for k in v], "mapValue": [value(x) for x in v.values()]}
        return {"type": 1, "string": str(v)}

    return {"instance": {"key": {"publicId": pid, "versionId": "1"},
                         "param": [{"key": k, "value": value(v)} for k, v in params.items()]},
            "isRequired": True}


ALL_PERMS = [
    perm("read_event_data", eventDataAccess="any"),
    perm("read_request", requestAccess="any"),
    perm("get_cookies", cookieAccess="any"),
    perm("set_cookies", allowedCookies=[{"name": "*", "domain": "*", "path": "*", "secure": "any",
                                         "session": "any"}]),
    perm("send_http", allowedUrls="any"),
    perm("logging", environments="all"),
    perm("access_template_storage"),
    perm("read_container_data"),
    perm("access_response"),
]


def tpl(code: str, *, type_: str = "TAG", permissions: list[dict[str, Any]] | None = None,
        fields: list[dict[str, Any]] | None = None, tests: str = "") -> str:
    info = {"type": type_, "id": "cvt_temp_public_id", "version": 1, "securityGroups": [],
            "displayName": "Inline test template", "containerContexts": ["SERVER"]}
    text = (f"___INFO___\n\n{json.dumps(info)}\n\n\n___TEMPLATE_PARAMETERS___\n\n{json.dumps(fields or [])}\n\n\n"
            f"___SANDBOXED_JS_FOR_SERVER___\n\n{code}\n\n\n"
            f"___SERVER_PERMISSIONS___\n\n{json.dumps(ALL_PERMS if permissions is None else permissions)}\n")
    if tests:
        text += f"\n\n___TESTS___\n\n{tests}\n"
    return text


def tiktok_transport(mock: TikTokMock | None = None) -> tuple[MockTransport, TikTokMock]:
    mock = mock or TikTokMock()
    transport = MockTransport()
    transport.mount(HOST, mock.handle)
    return transport, mock


def tag_context(event_data: dict[str, Any] | None = None, *, request: Request | None = None,
                transport: MockTransport | None = None, response: Response | None = None,
                preview: bool = True) -> TagContext:
    return TagContext(
        tag_name="Test tag",
        event_data=event_data if event_data is not None else {"event_name": "purchase"},
        request=request or Request.build("POST", "https://sgtm.shop.example/g/collect?v=2&x=1&x=2",
                                         headers={"User-Agent": "UA/1", "X-Test": "a"},
                                         cookies={"ttclid": "click 1"}),
        response=response or Response(),
        transport=transport or tiktok_transport()[0],
        now=1_700_000_000.25,
        rng=random.Random(7),
        info=ContainerInfo(container_id="GTM-T", version="3", preview_mode=preview, debug_mode=preview),
    )
