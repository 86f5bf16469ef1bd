"""The Measurement Protocol client (``/mp/collect``): GA4 MP JSON into common event data.

:func:`validate` checks a request the way Google's validation server does and returns GA4-style
validation messages (``fieldPath``, ``description``, ``validationCode``) with exact field paths
(``events[0].params.value``), the rule, the limit and the offending value. :func:`parse` is pure:
it returns the event data of every event or raises :class:`MPValidationError` carrying the
messages. :class:`MeasurementProtocolClient` answers ``/debug/mp/collect`` with the messages (200,
no tags run) and ``/mp/collect`` with 204 whatever the payload, running only the events that pass
the hard checks (docs/clients.md, "Measurement Protocol client").

Choices made where the reference is uncertain (named constants):

* ``MAX_BODY_BYTES`` = 130 000 (Google says "130 kB"); a body of that size or more is rejected.
* Hard checks (an event failing one is not run on ``/mp/collect``): the payload is not a JSON
  object, is too large, lacks the measurement ID / ``client_id`` / ``app_instance_id`` or events;
  an event that is not an object, has no name, an invalid name or a reserved name; events after the
  25th. Every other rule (parameter names and counts, value lengths, user properties, user data,
  consent, ``timestamp_micros``) is reported on the debug path and, on the production path, only
  written to the run's warnings; the event still runs.
* ``timestamp_micros`` may lie at most 72 h before ``now`` and ``TIMESTAMP_FUTURE_TOLERANCE_MICROS``
  after it; without ``now`` (pure use) the window is not checked.
* Items need ``item_id`` or ``item_name``; at most ``MAX_CUSTOM_ITEM_PARAMS`` custom item
  parameters (names outside Google's item fields).
* Messages carry Google's ``fieldPath`` and ``description`` where Google's wording is known
  (docs/clients.md lists the evidence), and the project's exact path and fuller explanation in a
  separate ``detail`` object (``{"fieldPath": "events[0].name", "explanation": ...}``), so that a
  client comparing Google's strings sees Google's strings. Where Google's text is not known the
  description is the project's own sentence, and ``fieldPath`` the top-level field (as Google
  writes ``events`` for a problem inside ``events[0]``).
* The JSON is read strictly, as Google's protobuf parser does: a field the protocol does not have
  is ``Unable to parse Measurement Protocol JSON payload. (events[0]) names: Cannot find field.``
  (``VALUE_INVALID``, no ``fieldPath``), only the first such field is reported, and nothing runs.
* ``validation_behavior: "ENFORCE_RECOMMENDATIONS"`` adds the recommendation checks
  (``RECOMMENDATION_CHECKS``: a web ``client_id`` must be ``<number>.<number>``); a failing
  request runs nothing. ``RELAXED`` (the default) does not report them.
* Event data: ``params`` are copied typed as sent, except that they never replace
  ``event_name``, ``client_id`` or ``x-ga-*``/``x-sst-*`` keys; ``session_id`` becomes
  ``ga_session_id`` (a string).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..core import js
from ..core.js import type_of
from ..core.report import EventReport
from ..core.request import Request, Response, client_address, first_values, parse_query, strip_port
from ..errors import RequestError
from .base import Claim, Client, ClientRun, as_bool, header_value
from .ga4 import check_common_settings

MAX_BODY_BYTES = 130_000
MAX_EVENTS = 25
MAX_PARAMS = 25
MAX_USER_PROPERTIES = 25
MAX_ITEMS = 200
MAX_CUSTOM_ITEM_PARAMS = 10
MAX_EVENT_NAME = 40
MAX_PARAM_NAME = 40
MAX_USER_PROPERTY_NAME = 24
MAX_USER_PROPERTY_VALUE = 36
MAX_USER_ID = 256
MAX_PARAM_VALUE = 100
PARAM_VALUE_LIMITS = {"page_title": 300, "page_referrer": 420, "page_location": 1000}
MAX_BACKDATE_MICROS = 72 * 3600 * 1_000_000
TIMESTAMP_FUTURE_TOLERANCE_MICROS = 0

RESERVED_EVENT_NAMES = frozenset({
    "ad_activeview", "ad_click", "ad_exposure", "ad_impression", "ad_query", "ad_reward", "adunit_exposure",
    "app_background", "app_clear_data", "app_exception", "app_remove", "app_store_refund",
    "app_store_subscription_cancel", "app_store_subscription_convert", "app_store_subscription_renew",
    "app_update", "app_upgrade", "dynamic_link_app_open", "dynamic_link_app_update", "dynamic_link_first_open",
    "error", "first_open", "first_visit", "in_app_purchase", "notification_dismiss", "notification_foreground",
    "notification_open", "notification_receive", "os_update", "session_start", "session_start_with_rollout",
    "user_engagement",
})
RESERVED_PARAM_PREFIXES = ("_", "firebase_", "ga_", "google_", "gtag.")
RESERVED_USER_PROPERTY_PREFIXES = ("_", "firebase_", "ga_", "google_")
RESERVED_USER_PROPERTY_NAMES = frozenset({
    "first_open_time", "first_visit_time", "last_deep_link_referrer", "user_id", "first_open_after_install",
})
ITEM_FIELDS = frozenset({
    "item_id", "item_name", "affiliation", "coupon", "discount", "index", "item_brand", "item_category",
    "item_category2", "item_category3", "item_category4", "item_category5", "item_list_id", "item_list_name",
    "item_variant", "location_id", "price", "quantity", "creative_name", "creative_slot", "promotion_id",
    "promotion_name",
})
CONSENT_FIELDS = ("ad_user_data", "ad_personalization")
CONSENT_VALUES = ("GRANTED", "DENIED")
VALIDATION_BEHAVIORS = ("RELAXED", "ENFORCE_RECOMMENDATIONS")
USER_DATA_HASHED_LISTS = ("sha256_email_address", "sha256_phone_number")
ADDRESS_FIELDS = frozenset({"sha256_first_name", "sha256_last_name", "sha256_street", "city", "region",
                            "postal_code", "country"})
NAME_RULE = "^[A-Za-z][A-Za-z0-9_]*$"
# Fields of the protocol's JSON (Google parses it into a protobuf message, so any other field is an
# error). "params" and item objects are free-form. Keys are paths with [] for any array index.
KNOWN_FIELDS: dict[str, frozenset[str]] = {
    "": frozenset({"client_id", "app_instance_id", "user_id", "timestamp_micros", "user_properties", "user_data",
                   "consent", "non_personalized_ads", "events", "validation_behavior", "ip_override",
                   "user_location", "device"}),
    "events[]": frozenset({"name", "params", "timestamp_micros"}),
    "user_properties.*": frozenset({"value"}),
    "consent": frozenset(CONSENT_FIELDS),
    "user_data": frozenset({*USER_DATA_HASHED_LISTS, "address"}),
    "user_data.address": ADDRESS_FIELDS,
    "user_data.address[]": ADDRESS_FIELDS,
    "user_location": frozenset({"city", "region_id", "country_id", "subcontinent_id", "continent_id"}),
    "device": frozenset({"category", "language", "screen_resolution", "operating_system",
                         "operating_system_version", "model", "brand", "browser", "browser_version"}),
}
# Checks made only under validation_behavior ENFORCE_RECOMMENDATIONS.
RECOMMENDATION_CHECKS = frozenset({"client_id_format"})
_CLIENT_ID_FORMAT = re.compile(r"[0-9]+\.[0-9]+\Z")

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_HEX32 = re.compile(r"[0-9A-Fa-f]{32}\Z")

VALUE_INVALID = "VALUE_INVALID"
VALUE_REQUIRED = "VALUE_REQUIRED"
NAME_INVALID = "NAME_INVALID"
NAME_RESERVED = "NAME_RESERVED"
VALUE_OUT_OF_BOUNDS = "VALUE_OUT_OF_BOUNDS"
EXCEEDED_MAX_ENTITIES = "EXCEEDED_MAX_ENTITIES"
NAME_DUPLICATED = "NAME_DUPLICATED"


class MPValidationError(RequestError):
    """The payload breaks Measurement Protocol rules; ``messages`` are GA4 validation messages."""

    def __init__(self, messages: list[dict[str, Any]], status: int = 400):
        self.messages = messages
        first = messages[0] if messages else {"description": "invalid payload"}
        extra = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
        super().__init__(status, f"{explain(first)}{extra}")


def explain(message: Mapping[str, Any]) -> str:
    """One line for a validation message: the exact path and the project's explanation."""
    detail = message.get("detail") or {}
    where = detail.get("fieldPath") or message.get("fieldPath") or "body"
    return f"{where}: {detail.get('explanation') or message.get('description', '')}"


def _message(path: str, description: str, code: str, google: str | None = None,
             google_path: str | None = None) -> dict[str, Any]:
    """A GA4 validation message: Google's fieldPath/description/validationCode, then ``detail``."""
    field = google_path if google_path is not None else re.split(r"[.\[]", path, maxsplit=1)[0]
    out: dict[str, Any] = {"fieldPath": field} if field else {}
    out["description"] = google if google is not None else description
    out["validationCode"] = code
    out["detail"] = {"fieldPath": path, "explanation": description}
    return out


class _Object(dict[str, Any]):
    """A JSON object that remembers the names it held more than once (for NAME_DUPLICATED)."""

    duplicates: dict[str, int]


def _object_pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    counts: dict[str, int] = {}
    for key, value in pairs:
        if key in obj:
            counts[key] = counts.get(key, 1) + 1
            continue  # the first value is kept
        obj[key] = value
    obj.duplicates = counts
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _show(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def _name_problem(name: str, max_len: int) -> str | None:
    """Google's sentence for a bad name (the first two are Google's wording, see docs/clients.md)."""
    if not name:
        return "Names must not be empty."
    if not name[0].isascii() or not name[0].isalpha():
        return "Names must start with an alphabetic character."
    if not _NAME.match(name):
        return "Only alphanumeric characters and underscores are allowed."
    if len(name) > max_len:
        return f"Names must be {max_len} characters or fewer."
    return None


class Validation:
    """The result of :func:`validate`: messages, the payload and which events pass hard checks."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.payload: dict[str, Any] | None = None
        self.fatal = False  # no event can run at all
        self.bad_events: set[int] = set()
        self.params: dict[str, str] = {}

    def add(self, path: str, description: str, code: str, google: str | None = None,
            google_path: str | None = None) -> None:
        self.messages.append(_message(path, description, code, google, google_path))


def validate(query: str, body: bytes | str, *, now: float | None = None) -> Validation:
    """Check an MP request like Google's validation server (docs/clients.md, "/debug/mp/collect (validation
    server)")."""
    result = Validation()
    try:
        result.params = first_values(parse_query(query))
    except RequestError as exc:
        result.add("", f"The query string could not be read: {exc.reason}.", VALUE_INVALID)
        result.fatal = True
        return result
    raw = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body
    if len(raw) >= MAX_BODY_BYTES:
        result.add("", f"Measurement payload is {len(raw)} bytes; it must be smaller than {MAX_BODY_BYTES} "
                       "bytes.", VALUE_OUT_OF_BOUNDS)
        result.fatal = True
        return result
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        result.add("", f"Unable to parse Measurement Protocol JSON payload: invalid UTF-8 (byte "
                       f"0x{raw[exc.start]:02x} at offset {exc.start}).", VALUE_INVALID)
        result.fatal = True
        return result
    try:
        payload = json.loads(text, object_pairs_hook=_object_pairs, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        result.add("", f"Unable to parse Measurement Protocol JSON payload: {exc}.", VALUE_INVALID)
        result.fatal = True
        return result
    if not isinstance(payload, dict):
        result.add("", f"Measurement payload must be a JSON object, not {type_of(payload)}.", VALUE_INVALID)
        result.fatal = True
        return result
    unknown = _unknown_field(payload, "", "")
    if unknown is not None:
        parent, name = unknown
        where = f"({parent}) {name}" if parent else name
        result.add(f"{parent}.{name}" if parent else name,
                   f"Field [{name}] is not part of the Measurement Protocol"
                   f"{' object at ' + parent if parent else ''}; Google's parser rejects the whole payload.",
                   VALUE_INVALID, google=f"Unable to parse Measurement Protocol JSON payload. {where}: Cannot find "
                                         "field.", google_path="")
        result.fatal = True
        return result
    result.payload = payload
    _duplicates(payload, "", result)
    _check_ids(payload, result)
    _check_measurement_fields(payload, result, now)
    _check_events(payload, result)
    return result


def _unknown_field(value: Any, path: str, shape: str) -> tuple[str, str] | None:
    """The first field (in document order) that the protocol's message at ``shape`` lacks:
    ``(parent path, name)``."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _unknown_field(item, f"{path}[{index}]", shape + "[]")
            if found is not None:
                return found
        return None
    if not isinstance(value, dict):
        return None
    known = KNOWN_FIELDS.get(shape)
    for key, item in value.items():
        if shape == "user_properties":
            found = _unknown_field(item, f"{path}.{key}", "user_properties.*")
        elif known is None:
            continue
        elif key not in known:
            return path, key
        else:
            child = f"{shape}.{key}" if shape else key
            found = _unknown_field(item, f"{path}.{key}" if path else key, child)
        if found is not None:
            return found
    return None


def _duplicates(value: Any, path: str, result: Validation) -> None:
    if isinstance(value, dict):
        for name, count in getattr(value, "duplicates", {}).items():
            field = f"{path}.{name}" if path else name
            result.add(field, f"Field [{name}] appears {count} times in one JSON object; names must be unique. "
                              "The first value was kept.", NAME_DUPLICATED)
        for key, item in value.items():
            _duplicates(item, f"{path}.{key}" if path else key, result)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _duplicates(item, f"{path}[{index}]", result)


def _check_ids(payload: dict[str, Any], result: Validation) -> None:
    params = result.params
    if params.get("firebase_app_id"):
        id_field = "app_instance_id"
    elif params.get("measurement_id"):
        id_field = "client_id"
    else:
        result.add("measurement_id", "Measurement requires a measurement_id (web) or firebase_app_id (app) query "
                                     "parameter.", VALUE_REQUIRED)
        result.fatal = True
        id_field = "app_instance_id" if "app_instance_id" in payload else "client_id"
    value = payload.get(id_field)
    if value is None or value == "":
        result.add(id_field, f"Measurement requires a {id_field}.", VALUE_REQUIRED)
        result.fatal = True
    elif not isinstance(value, str):
        result.add(id_field, f"Measurement {id_field} must be a string, not {type_of(value)} "
                             f"[{_show(value)}].", VALUE_INVALID)
        result.fatal = True
    elif id_field == "app_instance_id" and not _HEX32.match(value):
        result.add(id_field, f"Measurement app_instance_id is expected to be a 32 digit hexadecimal number but "
                             f"was [{_show(value)}] ({len(value)} characters).", VALUE_INVALID)
        result.fatal = True
    elif (id_field == "client_id" and "client_id_format" in RECOMMENDATION_CHECKS
          and payload.get("validation_behavior") == "ENFORCE_RECOMMENDATIONS" and not _CLIENT_ID_FORMAT.match(value)):
        result.add(id_field, f"client_id [{value}] is not two whole numbers joined by a dot (the form of the _ga "
                             "cookie's client ID); validation_behavior ENFORCE_RECOMMENDATIONS rejects it, RELAXED "
                             "accepts it.", VALUE_INVALID,
                   google=f"client_id [{value}] has invalid format. It should be in <number>.<number> format.")
        result.fatal = True


def _check_measurement_fields(payload: dict[str, Any], result: Validation, now: float | None) -> None:
    user_id = payload.get("user_id")
    if user_id is not None:
        if not isinstance(user_id, str):
            result.add("user_id", f"Measurement user_id must be a string, not {type_of(user_id)}.", VALUE_INVALID)
        elif len(user_id) > MAX_USER_ID:
            result.add("user_id", f"Measurement user_id has {len(user_id)} characters; the limit is {MAX_USER_ID}.",
                       VALUE_OUT_OF_BOUNDS)
    if "timestamp_micros" in payload:
        _check_timestamp(payload["timestamp_micros"], "timestamp_micros", result, now)
    props = payload.get("user_properties")
    if props is not None:
        _check_user_properties(props, result)
    if "user_data" in payload:
        _check_user_data(payload["user_data"], result)
    consent = payload.get("consent")
    if consent is not None:
        if not isinstance(consent, dict):
            result.add("consent", f"Measurement consent must be an object, not {type_of(consent)}.", VALUE_INVALID)
        else:
            for key, value in consent.items():
                if value not in CONSENT_VALUES:  # unknown keys were refused by the strict parse
                    result.add(f"consent.{key}", f"Consent value [{_show(value)}] for {key} is invalid; it must be "
                                                 "GRANTED or DENIED.", VALUE_INVALID)
    npa = payload.get("non_personalized_ads")
    if npa is not None and not isinstance(npa, bool):
        result.add("non_personalized_ads", f"Measurement non_personalized_ads must be a boolean, not "
                                           f"{type_of(npa)} [{_show(npa)}].", VALUE_INVALID)
    behavior = payload.get("validation_behavior")
    if behavior is not None and behavior not in VALIDATION_BEHAVIORS:
        result.add("validation_behavior", f"Measurement validation_behavior [{_show(behavior)}] is invalid; it "
                                          f"must be {' or '.join(VALIDATION_BEHAVIORS)}.", VALUE_INVALID)
    ip = payload.get("ip_override")
    if ip is not None and not isinstance(ip, str):
        result.add("ip_override", f"Measurement ip_override must be a string, not {type_of(ip)}.", VALUE_INVALID)
    for field in ("user_location", "device"):
        value = payload.get(field)
        if value is not None and not isinstance(value, dict):
            result.add(field, f"Measurement {field} must be an object, not {type_of(value)}.", VALUE_INVALID)


def _check_timestamp(value: Any, path: str, result: Validation, now: float | None) -> None:
    micros: int | None = None
    if isinstance(value, bool):
        micros = None
    elif isinstance(value, int):
        micros = value
    elif isinstance(value, float) and value.is_integer():
        micros = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        micros = int(value)
    if micros is None:
        result.add(path, f"Measurement {path} must be a whole number of microseconds since the Unix epoch, not "
                         f"{type_of(value)} [{_show(value)}].", VALUE_INVALID)
        return
    if now is None:
        return
    now_micros = int(now * 1_000_000)
    if micros < now_micros - MAX_BACKDATE_MICROS:
        hours = (now_micros - micros) / 3_600_000_000
        result.add(path, f"Measurement {path} [{micros}] is {hours:.1f} hours in the past; events may be back-dated "
                         f"at most 72 hours (now: {now_micros}).", VALUE_OUT_OF_BOUNDS)
    elif micros > now_micros + TIMESTAMP_FUTURE_TOLERANCE_MICROS:
        result.add(path, f"Measurement {path} [{micros}] is in the future (now: {now_micros}).", VALUE_OUT_OF_BOUNDS)


def _check_user_properties(props: Any, result: Validation) -> None:
    if not isinstance(props, dict):
        result.add("user_properties", f"Measurement user_properties must be an object, not {type_of(props)}.",
                   VALUE_INVALID)
        return
    if len(props) > MAX_USER_PROPERTIES:
        result.add("user_properties", f"Measurement has {len(props)} user properties; at most "
                                      f"{MAX_USER_PROPERTIES} are allowed.", EXCEEDED_MAX_ENTITIES)
    for name, entry in props.items():
        path = f"user_properties.{name}"
        problem = _name_problem(name, MAX_USER_PROPERTY_NAME)
        if problem:
            result.add(path, f"User property has invalid name [{name}]. {problem} (rule: {NAME_RULE}, at most "
                             f"{MAX_USER_PROPERTY_NAME} characters)", NAME_INVALID,
                       google=f"User property has invalid name [{name}]. {problem}")
        elif name in RESERVED_USER_PROPERTY_NAMES:
            result.add(path, f"User property name [{name}] is reserved.", NAME_RESERVED)
        else:
            prefix = next((p for p in RESERVED_USER_PROPERTY_PREFIXES if name.startswith(p)), None)
            if prefix:
                result.add(path, f"User property name [{name}] starts with the reserved prefix [{prefix}].",
                           NAME_RESERVED)
        if not isinstance(entry, dict):
            result.add(path, f"User property [{name}] must be an object like {{\"value\": …}}, not "
                             f"{type_of(entry)}.", VALUE_INVALID)
            continue
        value = entry.get("value")
        if isinstance(value, (dict, list)):
            result.add(f"{path}.value", f"User property [{name}] value must be a string or a number, not "
                                        f"{type_of(value)}.", VALUE_INVALID)
        elif isinstance(value, str) and len(value) > MAX_USER_PROPERTY_VALUE:
            result.add(f"{path}.value", f"User property [{name}] value has {len(value)} characters; the limit is "
                                        f"{MAX_USER_PROPERTY_VALUE}. (value: {_show(value)})", VALUE_OUT_OF_BOUNDS)


def _check_hashes(value: Any, path: str, result: Validation) -> None:
    values = value if isinstance(value, list) else [value]
    for index, entry in enumerate(values):
        where = f"{path}[{index}]" if isinstance(value, list) else path
        if not isinstance(entry, str) or not _HEX64.match(entry):
            result.add(where, f"User data value [{_show(entry)}] must be a lowercase hex SHA-256 digest "
                              "(64 characters) of the normalised value.", VALUE_INVALID)


def _check_user_data(user_data: Any, result: Validation) -> None:
    if not isinstance(user_data, dict):
        result.add("user_data", f"Measurement user_data must be an object, not {type_of(user_data)}.",
                   VALUE_INVALID)
        return
    for key, value in user_data.items():
        path = f"user_data.{key}"
        if key in USER_DATA_HASHED_LISTS:
            _check_hashes(value, path, result)
        elif key == "address":
            addresses = value if isinstance(value, list) else [value]
            for index, address in enumerate(addresses):
                where = f"{path}[{index}]" if isinstance(value, list) else path
                if not isinstance(address, dict):
                    result.add(where, f"User data address must be an object, not {type_of(address)}.",
                               VALUE_INVALID)
                    continue
                for field, text in address.items():  # only ADDRESS_FIELDS pass the strict parse
                    if field.startswith("sha256_"):
                        _check_hashes(text, f"{where}.{field}", result)
                    elif not isinstance(text, str):
                        result.add(f"{where}.{field}", f"User data address {field} must be a string.", VALUE_INVALID)


def _check_events(payload: dict[str, Any], result: Validation) -> None:
    events = payload.get("events")
    if events is None or events == []:
        result.add("events", "Measurement requires at least one event.", VALUE_REQUIRED)
        result.fatal = True
        return
    if not isinstance(events, list):
        result.add("events", f"Measurement events must be an array, not {type_of(events)}.", VALUE_INVALID)
        result.fatal = True
        return
    if len(events) > MAX_EVENTS:
        result.add("events", f"Measurement has {len(events)} events; at most {MAX_EVENTS} are allowed. Events after "
                             f"index [{MAX_EVENTS - 1}] are dropped.", EXCEEDED_MAX_ENTITIES)
        result.bad_events.update(range(MAX_EVENTS, len(events)))
    for index, event in enumerate(events):
        _check_event(index, event, result)


def _check_event(index: int, event: Any, result: Validation) -> None:
    path = f"events[{index}]"
    at = f"Event at index: [{index}]"
    if not isinstance(event, dict):
        result.add(path, f"{at} must be an object, not {type_of(event)}.", VALUE_INVALID)
        result.bad_events.add(index)
        return
    name = event.get("name")
    if name is None or name == "":
        result.add(f"{path}.name", f"{at} requires a name.", VALUE_REQUIRED)
        result.bad_events.add(index)
    elif not isinstance(name, str):
        result.add(f"{path}.name", f"{at} has a name that is {type_of(name)} [{_show(name)}], not a string.",
                   VALUE_INVALID)
        result.bad_events.add(index)
    else:
        problem = _name_problem(name, MAX_EVENT_NAME)
        if problem:
            result.add(f"{path}.name", f"{at} has invalid name [{name}]. {problem} (rule: {NAME_RULE}, at most "
                                       f"{MAX_EVENT_NAME} characters; this one has {len(name)})", NAME_INVALID,
                       google=f"{at} has invalid name [{name}]. {problem}")
            result.bad_events.add(index)
        elif name in RESERVED_EVENT_NAMES:
            result.add(f"{path}.name", f"{at} has name [{name}] which is reserved.", NAME_RESERVED)
            result.bad_events.add(index)
    if "timestamp_micros" in event:
        _check_timestamp(event["timestamp_micros"], f"{path}.timestamp_micros", result, None)
    params = event.get("params")
    if params is None:
        return
    if not isinstance(params, dict):
        result.add(f"{path}.params", f"{at} has params that are {type_of(params)}, not an object.", VALUE_INVALID)
        return
    if len(params) > MAX_PARAMS:
        result.add(f"{path}.params", f"{at} has {len(params)} parameters; at most {MAX_PARAMS} are allowed.",
                   EXCEEDED_MAX_ENTITIES)
    for key, value in params.items():
        where = f"{path}.params.{key}"
        problem = _name_problem(key, MAX_PARAM_NAME)
        if problem:
            result.add(where, f"{at} has invalid parameter name [{key}]. {problem} (rule: {NAME_RULE}, at most "
                              f"{MAX_PARAM_NAME} characters)", NAME_INVALID,
                       google=f"{at} has invalid parameter name [{key}]. {problem}")
        else:
            prefix = next((p for p in RESERVED_PARAM_PREFIXES if key.startswith(p)), None)
            if prefix:
                result.add(where, f"{at} has parameter name [{key}] which starts with the reserved prefix "
                                  f"[{prefix}].", NAME_RESERVED)
        if key == "items":
            _check_items(value, where, at, result)
        else:
            _check_param_value(key, value, where, at, PARAM_VALUE_LIMITS.get(key, MAX_PARAM_VALUE), result)


def _check_param_value(key: str, value: Any, where: str, at: str, limit: int, result: Validation) -> None:
    if isinstance(value, (dict, list)) or value is None:
        result.add(where, f"{at} has parameter [{key}] of type {type_of(value)}; values must be strings, numbers "
                          "or booleans.", VALUE_INVALID)
    elif isinstance(value, str) and len(value) > limit:
        result.add(where, f"{at} has parameter [{key}] with a value of {len(value)} characters; the limit is {limit}. "
                          f"(value: {_show(value)})", VALUE_OUT_OF_BOUNDS)


def _check_items(items: Any, where: str, at: str, result: Validation) -> None:
    if not isinstance(items, list):
        result.add(where, f"{at} has items of type {type_of(items)}; items must be an array of objects.",
                   VALUE_INVALID)
        return
    if len(items) > MAX_ITEMS:
        result.add(where, f"{at} has {len(items)} items; at most {MAX_ITEMS} are allowed.", EXCEEDED_MAX_ENTITIES)
    for index, item in enumerate(items):
        path = f"{where}[{index}]"
        if not isinstance(item, dict):
            result.add(path, f"{at} has item [{index}] of type {type_of(item)}; items must be objects.",
                       VALUE_INVALID)
            continue
        if "item_id" not in item and "item_name" not in item:
            result.add(path, f"{at} has item [{index}] without item_id or item_name; one of them is required.",
                       VALUE_REQUIRED)
        custom = [k for k in item if k not in ITEM_FIELDS]
        if len(custom) > MAX_CUSTOM_ITEM_PARAMS:
            result.add(path, f"{at} has item [{index}] with {len(custom)} custom parameters; at most "
                             f"{MAX_CUSTOM_ITEM_PARAMS} are allowed.", EXCEEDED_MAX_ENTITIES)
        for key, value in item.items():
            problem = _name_problem(key, MAX_PARAM_NAME)
            if problem:
                result.add(f"{path}.{key}", f"{at} has item [{index}] with invalid parameter name [{key}]. {problem}",
                           NAME_INVALID)
            _check_param_value(key, value, f"{path}.{key}", f"{at} item [{index}]", MAX_PARAM_VALUE, result)


# ---------------------------------------------------------------------------- event data


def build_events(validation: Validation, headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
                 remote_addr: str) -> list[dict[str, Any]]:
    """The event data of every event that passed the hard checks (docs/clients.md, "Event data")."""
    payload = validation.payload
    if validation.fatal or payload is None:
        return []
    params = validation.params
    measurement_id = params.get("measurement_id") or params.get("firebase_app_id", "")
    client_id = payload.get("client_id") if params.get("measurement_id") and not params.get("firebase_app_id") \
        else payload.get("app_instance_id")
    ua = header_value(headers, "User-Agent")
    ip = payload.get("ip_override") if isinstance(payload.get("ip_override"), str) else strip_port(remote_addr)
    props = payload.get("user_properties")
    user_props = None
    if isinstance(props, dict) and props:
        user_props = {k: (v.get("value") if isinstance(v, dict) else v) for k, v in props.items()}
    out = []
    for index, event in enumerate(payload["events"]):
        if index in validation.bad_events:
            continue
        data: dict[str, Any] = {}
        event_params = event.get("params")
        if isinstance(event_params, dict):
            for key, value in event_params.items():
                if key in ("event_name", "client_id") or key.startswith(("x-ga-", "x-sst-")):
                    continue
                data[key] = value
        if "session_id" in data:
            data["ga_session_id"] = js.to_string(data.pop("session_id"))
        data["event_name"] = event["name"]
        data["client_id"] = client_id
        data["x-ga-protocol_version"] = "2"
        data["x-ga-measurement_id"] = measurement_id
        if isinstance(payload.get("user_id"), str):
            data["user_id"] = payload["user_id"]
        if user_props is not None:
            data["x-ga-mp2-user_properties"] = dict(user_props)
        if isinstance(payload.get("user_data"), dict):
            data["user_data"] = payload["user_data"]
        data["ip_override"] = ip
        if ua is not None:
            data["user_agent"] = ua
        for field in ("timestamp_micros", "consent", "non_personalized_ads", "user_location", "device"):
            if field in payload:
                data[f"x-ga-mp2-{field}"] = payload[field]
        if "timestamp_micros" in event:
            data["x-ga-mp2-timestamp_micros"] = event["timestamp_micros"]
        out.append(_plain(data))
    return out


def _plain(value: Any) -> Any:
    """Copies without the duplicate bookkeeping, so every event has its own objects."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse(
    method: str,
    path: str,
    query: str,
    body: bytes | str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    remote_addr: str = "127.0.0.1",
    *,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """The event data of every event in an MP request; raises MPValidationError when it breaks any
    rule (every message found, in one error). ``now`` (unix seconds) enables the timestamp window."""
    validation = validate(query, body, now=now)
    if validation.messages:
        raise MPValidationError(validation.messages)
    return build_events(validation, headers, remote_addr)


SETTINGS_DEFAULTS: dict[str, Any] = {"trusted_proxies": [], "reject_invalid": False}


class MeasurementProtocolClient(Client):
    """Claims ``POST /mp/collect`` and ``POST /debug/mp/collect`` (also under a path prefix).

    Settings (all optional):

    ``trusted_proxies`` (list of IPs / CIDRs, ``"*"`` for any; default none)
        ``X-Forwarded-For`` / ``Forwarded`` are honoured only when the socket peer is one of them.
    ``reject_invalid`` (bool, default false)
        Google's ``/mp/collect`` answers 204 whatever the payload; that is the default. True: a
        payload with any validation message is answered 400 naming the first problem, and no event
        runs. The debug path is not affected.
    """

    type = "measurement_protocol"
    default_name = "Measurement Protocol"

    def __init__(self, name: str | None = None, priority: int = 0, settings: dict[str, Any] | None = None):
        super().__init__(name, priority, settings)  # raises ConfigError for bad settings
        self.trusted_proxies: list[str] = list(self.settings.get("trusted_proxies", []))
        self.reject_invalid = bool(as_bool(self.settings.get("reject_invalid", False)))

    @classmethod
    def check_settings(cls, settings: dict[str, Any]) -> list[tuple[str, str]]:
        problems = check_common_settings(settings, SETTINGS_DEFAULTS)
        if "reject_invalid" in settings and as_bool(settings["reject_invalid"]) is None:
            problems.append(("reject_invalid", f"must be true or false, not {settings['reject_invalid']!r}"))
        return problems

    def claim(self, request: Request) -> Claim:
        if not request.path.endswith("/mp/collect"):
            return Claim(False, f"path {request.path!r} does not end in /mp/collect")
        if request.method != "POST":
            return Claim(False, f"method {request.method} is not POST")
        return Claim(True)

    def events(self, request: Request, run: ClientRun) -> list[dict[str, Any]]:
        debug = request.path.endswith("/debug/mp/collect")
        validation = validate(request.query, request.body, now=run.now)
        if debug:
            run.state["validation"] = validation.messages
            return []
        if validation.messages:
            if self.reject_invalid:
                raise MPValidationError(validation.messages)
            for message in validation.messages:
                run.warnings.append(f"{message['validationCode']} at {explain(message)}")
        if not validation.params.get("api_secret"):
            run.warnings.append("the query has no api_secret; Google would drop this request")
        remote = client_address(request, self.trusted_proxies)
        return build_events(validation, list(request.headers), remote)

    def respond(self, request: Request, run: ClientRun, response: Response, events: list[EventReport]) -> None:
        origin = request.header("Origin")
        if origin:
            response.headers["access-control-allow-origin"] = origin
            response.headers["access-control-allow-credentials"] = "true"
        if "validation" in run.state:
            response.status = 200
            response.headers["content-type"] = "application/json"
            response.body = json.dumps({"validationMessages": run.state["validation"]}, ensure_ascii=False).encode()
        else:
            response.status = 204
            response.body = b""
