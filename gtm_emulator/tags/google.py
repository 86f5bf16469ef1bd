"""Google's built-in server tags.

* ``sgtmgaaw`` (Google Analytics: GA4) is emulated by :class:`GA4Tag`: it turns the event data it
  sees back into a GA4 hit with the project's hit encoder (:mod:`gtm_emulator.clients.ga4_encoder`)
  and sends it to ``https://region1.google-analytics.com/g/collect`` through the transport; with
  the mock vendor that is :class:`~gtm_emulator.vendors.ga4_mock.GA4Mock`, which records it. Google
  does not publish the exact request its server tag sends; the emulator sends what a gtag.js hit
  carrying the same event looks like (docs/coverage.md says what is known and what is not).
* The Google Ads tags (conversion, remarketing, user-provided data), Floodlight and the Conversion
  Linker are not emulated (their wire formats are not public): :class:`NotEmulatedTag` ends them
  with the status ``not_emulated`` and reports what they would have read from the event.
"""

from __future__ import annotations

from typing import Any

from ..clients.ga4_encoder import EncodeError, encode, encode_params, request_fields
from ..core.js import UNDEFINED
from ..errors import NotEmulated, TagError
from .base import TagContext

GA4_COLLECT_URL = "https://region1.google-analytics.com/g/collect"

# Event data fields each not-emulated Google tag reads (from Google's descriptions of the tags).
_ADS_FIELDS = ("value", "currency", "transaction_id", "items", "user_data", "client_id", "ip_override", "user_agent",
               "page_location", "page_referrer", "x-ga-gcs", "x-ga-gcd", "x-ga-dma", "x-ga-npa")
GOOGLE_TAG_READS: dict[str, tuple[str, ...]] = {
    "sgtmadsct": _ADS_FIELDS,
    "sgtmadsremarket": ("items", "user_data", "client_id", "ip_override", "user_agent", "page_location", "x-ga-npa"),
    "sgtmadscl": ("page_location", "page_referrer"),
    "sgtmadsud": ("user_data", "ip_override", "user_agent", "page_location"),
    "sgtmfls": ("page_location", "page_referrer", "value", "currency", "transaction_id", "items", "user_data",
                "client_id", "ip_override", "user_agent"),
}
GOOGLE_TAG_NAMES = {
    "sgtmgaaw": "Google Analytics: GA4",
    "sgtmadsct": "Google Ads Conversion Tracking",
    "sgtmadsremarket": "Google Ads Remarketing",
    "sgtmadscl": "Conversion Linker",
    "sgtmadsud": "Google Ads User-Provided Data Event",
    "sgtmfls": "Floodlight",
}
NOT_EMULATED_GOOGLE_TYPES = tuple(t for t in GOOGLE_TAG_NAMES if t != "sgtmgaaw")


class NotEmulatedTag:
    """A tag whose work the emulator cannot do: ends with ``not_emulated`` (never ``success``)."""

    secret_params: frozenset[str] = frozenset()

    def __init__(self, type_name: str, fail: bool = False, export_type: str | None = None):
        self.type = type_name
        self.export_type = export_type or type_name
        self.fail = fail

    def run(self, params: dict[str, Any], ctx: TagContext) -> None:
        fields = GOOGLE_TAG_READS.get(self.export_type)
        data = ctx.event_data
        if fields is None:  # an unknown type: everything it could have read
            event = {k: v for k, v in data.items()}
        else:
            event = {k: data[k] for k in fields if k in data and data[k] is not UNDEFINED}
        label = GOOGLE_TAG_NAMES.get(self.export_type, self.export_type)
        message = f"tag type {self.export_type!r} ({label}) is not emulated: no outgoing request was produced"
        raise NotEmulated(message, {"parameters": dict(params), "event_data": event})


def _encodable(data: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    """The event data without the fields no GA4 hit can carry (each dropped one is a warning)."""
    out = {}
    for key, value in data.items():
        if value is UNDEFINED:
            continue
        try:
            encode_params({key: value})
        except EncodeError as exc:
            warnings.append(f"GA4 tag: {key} not sent ({exc})")
            continue
        out[key] = value
    return out


class GA4Tag:
    """``sgtmgaaw``: sends the event to Google Analytics as a ``/g/collect`` hit."""

    type = "sgtmgaaw"
    secret_params: frozenset[str] = frozenset()

    def run(self, params: dict[str, Any], ctx: TagContext) -> None:
        data = dict(ctx.event_data)
        measurement_id = params.get("measurementId") or data.get("x-ga-measurement_id")
        if not measurement_id or not isinstance(measurement_id, str):
            raise TagError("no measurement ID: the tag's measurementId is empty and the event has no "
                           "x-ga-measurement_id")
        data["x-ga-measurement_id"] = measurement_id
        data.setdefault("x-ga-protocol_version", "2")
        event_name = params.get("eventName")
        if isinstance(event_name, str) and event_name:
            data["event_name"] = event_name
        if params.get("redactVisitorIp") is True:
            data.pop("ip_override", None)
        if params.get("epToIncludeDropdown") == "none":
            data = {k: v for k, v in data.items() if k.startswith(("x-ga-", "x-sst-")) or k in _CORE_FIELDS}
        if params.get("upToIncludeDropdown") == "none":
            data.pop("x-ga-mp2-user_properties", None)
        if "client_id" not in data:
            raise TagError("the event has no client_id; GA4 drops hits without one")
        warnings: list[str] = []
        data = _encodable(data, warnings)
        try:
            query = encode(data)
            fields = request_fields(data)
        except EncodeError as exc:
            raise TagError(f"the event cannot be sent as a GA4 hit: {exc}") from None
        ctx.warnings.extend(warnings)
        headers = dict(fields["headers"])
        if "remote_addr" in fields:
            headers["X-Forwarded-For"] = fields["remote_addr"]
        resp = ctx.send_http("POST", f"{GA4_COLLECT_URL}?{query}", headers, b"", shown_body="")
        if resp is None:
            raise TagError("the GA4 hit got no answer")
        if not 200 <= resp.status < 300:
            raise TagError(f"Google Analytics answered {resp.status}")


_CORE_FIELDS = frozenset({
    "event_name", "client_id", "user_id", "page_location", "page_referrer", "page_title", "page_hostname",
    "page_path", "language", "screen_resolution", "user_agent", "ip_override", "ga_session_id",
    "ga_session_number", "engagement_time_msec", "currency", "value", "items", "transaction_id", "debug_mode",
    "client_hints",
})
