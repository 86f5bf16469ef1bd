"""Constants and builders shared by the tests (state and clean-up live in fixtures, in conftest.py).

Test modules import from here, never from each other.
"""

from __future__ import annotations

import json
import os
import random
import socket
import tempfile
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from gtm_emulator.core.request import Request, Response
from gtm_emulator.core.variables import ContainerInfo
from gtm_emulator.loading.config import default_container_path, load_container
from gtm_emulator.tags.base import TagContext
from gtm_emulator.vendors.tiktok_mock import HOST, TikTokMock
from gtm_emulator.vendors.transport import MockTransport

ROOT = Path(__file__).resolve().parent.parent  # the repository
DATA = Path(__file__).parent / "data"
TEMPLATES = DATA / "templates"
PURCHASE = "/g/collect?v=2&tid=G-TEST&cid=1.2&en=purchase&cu=EUR&epn.value=10"
PAGE_VIEW = "/g/collect?v=2&tid=G-TEST&cid=1.2&en=page_view"
NOW = 1_700_000_000


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


# ----------------------------------------------------------------------------- client templates

CLIENT_PERMS = """
[
  {"instance": {"key": {"publicId": "read_request", "versionId": "1"},
                "param": [{"key": "requestAccess", "value": {"type": 1, "string": "any"}}]}},
  {"instance": {"key": {"publicId": "set_cookies", "versionId": "1"},
                "param": [{"key": "allowedCookies", "value": {"type": 2, "listItem": [
                  {"type": 3, "mapKey": [{"type": 1, "string": "name"}],
                   "mapValue": [{"type": 1, "string": "*"}]}]}}]}},
  {"instance": {"key": {"publicId": "run_container", "versionId": "1"}, "param": []}},
  {"instance": {"key": {"publicId": "return_response", "versionId": "1"}, "param": []}},
  {"instance": {"key": {"publicId": "access_response", "versionId": "1"}, "param": []}}
]
"""


def client_tpl(code: str, perms: str = CLIENT_PERMS) -> str:
    """A small client template around ``code`` (every API it may need is required up front)."""
    head = "".join(f"const {n} = require('{n}');\n" for n in (
        "claimRequest", "runContainer", "returnResponse", "setResponseStatus", "setResponseBody", "setCookie",
        "getRequestPath", "callLater"))
    info = json.dumps({"type": "CLIENT", "id": "cvt_temp_public_id", "version": 1, "securityGroups": [],
                       "displayName": "Inline Test Client", "containerContexts": ["SERVER"]})
    return (f"___INFO___\n\n{info}\n\n\n___TEMPLATE_PARAMETERS___\n\n[]\n\n\n"
            f"___SANDBOXED_JS_FOR_SERVER___\n\n{head}{code}\n\n\n___SERVER_PERMISSIONS___\n\n{perms}\n")


def container_dict(clients: list[dict[str, Any]], client_name: str = "JSON") -> dict[str, Any]:
    """The default container (TikTok tag on purchase) with these clients; the trigger tests Client Name."""
    data = json.loads(default_container_path().read_text(encoding="utf-8"))
    data.pop("$schema", None)
    data["clients"] = clients
    data["triggers"] = [{"name": "purchase from client", "fires_on": "some_events", "conditions": [
        {"variable": "Client Name", "operator": "equals", "value": client_name},
        {"variable": "Event Name", "operator": "equals", "value": "purchase"}]}]
    tag = data["tags"][0]
    tag["template"] = str(ROOT / "tag_templates" / "tiktok_events_api.json")
    tag["firing_triggers"] = ["purchase from client"]
    return data


# ----------------------------------------------------------------------------- artifacts


@cache
def _artifacts_root() -> Path:
    configured = os.environ.get("GTM_EMULATOR_ARTIFACTS")
    return Path(configured) if configured else Path(tempfile.mkdtemp(prefix="gtm-emulator-artifacts-"))


def artifacts_dir(name: str) -> Path:
    """Where browser tests leave screenshots: ``$GTM_EMULATOR_ARTIFACTS/<name>`` when that is set (CI
    keeps them), else a temporary folder; never the working tree."""
    folder = _artifacts_root() / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


JSON_CLIENT_BODY = json.dumps({"events": [{"event_name": "page_view"},
                                          {"event_name": "purchase", "value": 12.5, "currency": "EUR"}]})


def post_json(container: Any, body: str = JSON_CLIENT_BODY, path: str = "/json/collect", **kw: Any) -> Any:
    """A JSON POST to the container (the test client templates claim ``/json/collect``)."""
    return container.simulate("POST", f"https://shop.example{path}", body=body,
                              headers={"content-type": "application/json"}, now=NOW, **kw)


def rejecting_container() -> Any:
    """The bundled container, but its tag sends a pixel its token may not use (TikTok code 40001)."""
    path = default_container_path()
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["tags"][0]["parameters"]["pixel_code"] = "COTHER0PIXEL00000002"
    return load_container(raw, base_dir=path.parent)


def free_port() -> int:
    """A loopback port nothing listens on now (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------------- processes (Linux /proc)


def stat_fields(pid: int | str) -> list[str]:
    """/proc/PID/stat after the command name: state, ppid, pgrp, …; [] when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def processes(field: int, value: int) -> list[int]:
    """The live processes whose stat ``field`` (1: parent, 2: process group) is ``value``."""
    found = []
    for entry in os.listdir("/proc"):
        fields = stat_fields(entry) if entry.isdigit() else []
        if fields and fields[0] != "Z" and int(fields[field]) == value:
            found.append(int(entry))
    return found


def children(pid: int) -> list[int]:
    return processes(1, pid)


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie left for an init that does not reap is not)."""
    fields = stat_fields(pid)
    return bool(fields) and fields[0] != "Z"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_healthy(base: str, timeout: float, why: Callable[[], str] = lambda: "") -> None:
    """Wait until the server at ``base`` answers ``/healthz`` (AssertionError with ``why()`` when
    ``timeout`` seconds pass first)."""
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            assert time.monotonic() < deadline, why()
            time.sleep(0.1)
