"""Where tags send their requests: the transport for a vendor mode, and the mock vendors behind it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, get_args

from ..core.clock import run_now
from ..core.statuses import VendorMode
from ..errors import ConfigError, Problem
from ..vendors.ga4_mock import HOSTS as GA4_HOSTS
from ..vendors.ga4_mock import GA4Mock
from ..vendors.tiktok_mock import HOST as TIKTOK_HOST
from ..vendors.tiktok_mock import TikTokMock
from ..vendors.transport import LiveTransport, MockTransport, RecordingTransport, Transport

__all__ = ["VENDOR_MODES", "VendorMode", "make_transport"]

VENDOR_MODES: tuple[str, ...] = get_args(VendorMode)


def make_transport(vendor: str, tiktok_config: Mapping[str, Any] | None = None,
                   mock_base_url: str | None = None) -> tuple[Transport, dict[str, Any]]:
    """The transport for a vendor mode, and the in-process mock vendors it talks to."""
    if vendor == "mock":
        mock = TikTokMock.from_config(tiktok_config or {})
        mock.clock = run_now
        transport = MockTransport()
        transport.mount(TIKTOK_HOST, mock.handle)
        ga4 = GA4Mock()  # what the emulated GA4 tag sends to
        for host in GA4_HOSTS:
            transport.mount(host, ga4.handle)
        return transport, {"tiktok": mock, "ga4": ga4}
    if vendor == "record":
        return RecordingTransport(), {}
    if vendor == "live":
        rewrite = {f"https://{TIKTOK_HOST}": mock_base_url} if mock_base_url else None
        return LiveTransport(allowed_hosts=[TIKTOK_HOST], rewrite=rewrite), {}
    raise ConfigError(Problem("--vendor", "$", f"unknown vendor mode {vendor!r}; expected one of: "
                                               f"{', '.join(VENDOR_MODES)}"))
