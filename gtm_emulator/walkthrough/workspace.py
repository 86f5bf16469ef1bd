"""The demo workspace: an ordinary container file plus the tag-template and trigger files it names.

Every step of the walkthrough edits these files, validates them with the project's own validation
(``config.check_tag_parameters`` for field errors, ``config.load_container`` for the whole container,
``config.validate_file`` on each file written) and then asks the running server to reload. So the
workspace can be run at any time with ``gtm-emulator serve --container DIR/container.json``.

Layout::

    DIR/container.json                      the container (clients, tags, triggers, mock_vendors)
    DIR/tag_templates/tiktok_events_api.json after step 1, a copy of the bundled template
    DIR/triggers/<trigger name>.json         after step 4
    DIR/.walkthrough.json                    names of the pixels made in the mock Events Manager

Choices (uncertain, easy to change):

- ``ACCESS_TOKEN_PATTERN``: TikTok's Events API access tokens are 40 lower-case hexadecimal
  characters (the mock generates them that way, and so does TikTok as far as public examples show).
  The bundled template declares no pattern for ``access_token``; the walkthrough applies this one
  only when the template has none, and never to a value holding a ``{{Variable}}``.
- The access token is written into the tag's parameter as plain text, as a GTM user pastes it into the
  tag's field; the template marks the parameter secret, so reports mask it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import string
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, Problem
from ..loading.config import (
    TagTemplate,
    bundled_path,
    check_tag_parameters,
    load_container,
    load_tag_template,
    read_json,
    validate_file,
)
from ..vendors.transport import RecordingTransport

CONTAINER_FILE = "container.json"
STATE_FILE = ".walkthrough.json"
TEMPLATE_REF = "tag_templates/tiktok_events_api.json"
TEMPLATE_TYPE = "tiktok_events_api"
TRIGGERS_DIR = "triggers"
ACCESS_TOKEN_PATTERN = re.compile(r"[0-9a-f]{40}")
PIXEL_CODE_PATTERN = re.compile(r"[A-Z0-9]{20}")
STARTING_PIXEL_CODE = "CDEMOSHOP0PIXEL00001"
STARTING_PIXEL_NAME = "Demo webshop"
DEFAULT_TAG_NAME = "TikTok - purchase"
DEFAULT_TRIGGER_NAME = "GA4 purchase"
DEFAULT_WORKSPACE = "gtm-demo-workspace"

# GTM's operator choices (docs/triggers.md, "Operators"): UI key -> (operator, negate, ignore_case), in GTM's order.
OPERATOR_CHOICES: dict[str, tuple[str, bool, bool]] = {
    "equals": ("equals", False, False),
    "does_not_equal": ("equals", True, False),
    "contains": ("contains", False, False),
    "does_not_contain": ("contains", True, False),
    "starts_with": ("starts_with", False, False),
    "does_not_start_with": ("starts_with", True, False),
    "ends_with": ("ends_with", False, False),
    "does_not_end_with": ("ends_with", True, False),
    "matches_regex": ("matches_regex", False, False),
    "does_not_match_regex": ("matches_regex", True, False),
    "matches_regex_ignore_case": ("matches_regex", False, True),
    "does_not_match_regex_ignore_case": ("matches_regex", True, True),
    "less": ("less", False, False),
    "less_or_equals": ("less_or_equals", False, False),
    "greater": ("greater", False, False),
    "greater_or_equals": ("greater_or_equals", False, False),
}


def operator_choice(operator: str, negate: bool = False, ignore_case: bool = False) -> str | None:
    """The UI choice of a stored condition (None when GTM's UI cannot show it, e.g. a negated 'less')."""
    for key, spec in OPERATOR_CHOICES.items():
        if spec == (operator, negate, ignore_case and operator == "matches_regex"):
            return key
    return None


def starting_container() -> dict[str, Any]:
    """The container the walkthrough starts from: a GA4 client, no tags, one pixel without a token."""
    return {
        "name": "Demo workspace: GA4 purchase to TikTok",
        "container_id": "GTM-DEMO",
        "version": "1",
        "notes": "Made by `gtm-emulator demo`. The walkthrough adds the TikTok Events API tag template, an "
                 "access token for a pixel of the mock TikTok API, the TikTok tag and its trigger.",
        "clients": [{"name": "GA4", "type": "ga4", "priority": 0, "settings": {"cookie_management": "js"}}],
        "tags": [],
        "mock_vendors": {"tiktok": {"pixels": {STARTING_PIXEL_CODE: []}}},
    }


def new_pixel_code() -> str:
    """A pixel code shaped like TikTok's: 20 upper-case letters and digits, starting with C."""
    alphabet = string.ascii_uppercase + string.digits
    return "C" + "".join(secrets.choice(alphabet) for _ in range(19))


def mask_token(token: str) -> str:
    return "•" * 8 + token[-4:] if len(token) > 8 else "•" * 8


def slug(name: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return text[:60] or "trigger"


@dataclass
class Pixel:
    code: str
    name: str
    tokens: list[str]


@dataclass
class SaveResult:
    """The outcome of a save: field errors (field -> problems), other problems, and what was saved."""

    field_errors: dict[str, list[Problem]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.field_errors and not self.problems

    def add(self, name: str | None, problem: Problem) -> None:
        if name is None:
            self.problems.append(problem)
        else:
            self.field_errors.setdefault(name, []).append(problem)


def _write_json(path: Path, data: Any) -> None:
    """Write atomically (a temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _problem_field(path: str, prefix: str) -> str | None:
    """``$.tags[0].parameters.pixel_code`` with prefix ``$.tags[0]`` -> ``pixel_code``; the name -> ``_name``."""
    if not path.startswith(prefix):
        return None
    rest = path[len(prefix):]
    if rest == ".name":
        return "_name"
    match = re.fullmatch(r"\.parameters\.(\w+)", rest)
    if match:
        return match.group(1)
    match = re.fullmatch(r"\.conditions\[(\d+)\](?:\.(variable|operator|value))?", rest)
    if match:
        return f"cond-{match.group(1)}-{match.group(2) or 'variable'}"
    if rest == ".conditions":
        return "conditions"
    return None


class Workspace:
    """The demo workspace folder. Methods that change files hold a lock and call ``on_change``
    (the server's reload) after every successful save."""

    def __init__(self, path: str | os.PathLike[str], on_change: Callable[[], None] | None = None):
        self.path = Path(path).resolve()
        self.on_change = on_change
        self.lock = threading.RLock()

    # ------------------------------------------------------------------ files

    @property
    def container_path(self) -> Path:
        return self.path / CONTAINER_FILE

    @property
    def template_path(self) -> Path:
        return self.path / TEMPLATE_REF

    @property
    def state_path(self) -> Path:
        return self.path / STATE_FILE

    def ensure(self) -> bool:
        """Create the starting workspace unless a container file is already there. True if created."""
        with self.lock:
            if self.container_path.exists():
                return False
            self.path.mkdir(parents=True, exist_ok=True)
            self._write_start()
            return True

    def reset(self) -> None:
        """Back to the starting state: files made by the walkthrough removed, starting container written."""
        with self.lock:
            data = self.data() if self.container_path.exists() else {}
            for ref in data.get("triggers") or []:
                if isinstance(ref, str):
                    target = (self.path / ref).resolve()
                    if target.parent == (self.path / TRIGGERS_DIR).resolve():
                        target.unlink(missing_ok=True)
            self.template_path.unlink(missing_ok=True)
            for folder in (self.path / TRIGGERS_DIR, self.template_path.parent):
                if folder.is_dir() and not any(folder.iterdir()):
                    folder.rmdir()
            self.path.mkdir(parents=True, exist_ok=True)
            self._write_start()
            if self.on_change:
                self.on_change()

    def _write_start(self) -> None:
        _write_json(self.container_path, starting_container())
        _write_json(self.state_path, {"pixel_names": {STARTING_PIXEL_CODE: STARTING_PIXEL_NAME}})

    def data(self) -> dict[str, Any]:
        data = read_json(self.container_path)
        if not isinstance(data, dict):
            raise ConfigError(Problem(str(self.container_path), "$", "the container file is not a JSON object"))
        return data

    def state(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return {}
        try:
            data = json.loads(self.state_path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    # ------------------------------------------------------------------ saving

    def _commit(self, data: dict[str, Any], extra: Mapping[str, Any] | None = None,
                remove: tuple[Path, ...] = ()) -> list[Problem]:
        """Validate ``data`` (with the ``extra`` files inlined where it names them), write every file,
        check each with ``validate_file``, then reload. On any problem nothing stays changed."""
        extra = dict(extra or {})
        candidate = dict(data)
        candidate["triggers"] = [extra.get(t, t) if isinstance(t, str) else t for t in data.get("triggers") or []]
        try:
            load_container(candidate, base_dir=self.path, transport=RecordingTransport())
        except ConfigError as exc:
            return exc.problems
        backups: dict[Path, bytes | None] = {}
        targets = {self.path / ref: content for ref, content in extra.items()}
        targets[self.container_path] = data
        for target in (*targets, *remove):
            backups[target] = target.read_bytes() if target.exists() else None
        problems: list[Problem] = []
        for target, content in targets.items():
            _write_json(target, content)
        for target in remove:
            if target not in targets:
                target.unlink(missing_ok=True)
        for target in targets:
            problems.extend(validate_file(target))
        if problems:
            for target, old in backups.items():
                if old is None:
                    target.unlink(missing_ok=True)
                else:
                    target.write_bytes(old)
            return problems
        if self.on_change:
            self.on_change()
        return []

    # ------------------------------------------------------------------ step 1: the tag template

    def has_template(self) -> bool:
        return self.template_path.exists() and TEMPLATE_REF in (self.data().get("templates") or [])

    def template(self) -> TagTemplate:
        """The TikTok template: the workspace's copy once added, else the bundled one."""
        if self.template_path.exists():
            return load_tag_template(self.template_path, TEMPLATE_REF)
        return load_tag_template(bundled_path(*TEMPLATE_REF.split("/")), TEMPLATE_REF)

    def add_template(self) -> list[Problem]:
        with self.lock:
            source = read_json(bundled_path(*TEMPLATE_REF.split("/")))
            source.pop("$schema", None)  # its relative path only resolves inside the project
            data = self.data()
            templates = list(data.get("templates") or [])
            if TEMPLATE_REF not in templates:
                templates.append(TEMPLATE_REF)
            data["templates"] = templates
            existed = self.template_path.exists()
            _write_json(self.template_path, source)
            problems = validate_file(self.template_path)
            if not problems:
                problems = self._commit(data)
            if problems and not existed:
                self.template_path.unlink(missing_ok=True)
            return problems

    # ------------------------------------------------------------------ step 2: pixels and tokens

    def pixels(self) -> list[Pixel]:
        names = self.state().get("pixel_names") or {}
        configured = ((self.data().get("mock_vendors") or {}).get("tiktok") or {}).get("pixels") or {}
        return [Pixel(code, str(names.get(code, "")), list(tokens)) for code, tokens in configured.items()]

    def pixel(self, code: str) -> Pixel | None:
        return next((p for p in self.pixels() if p.code == code), None)

    def create_pixel(self, name: str) -> str:
        with self.lock:
            data = self.data()
            pixels = data.setdefault("mock_vendors", {}).setdefault("tiktok", {}).setdefault("pixels", {})
            code = new_pixel_code()
            while code in pixels:
                code = new_pixel_code()
            pixels[code] = []
            problems = self._commit(data)
            if problems:
                raise ConfigError(problems)
            state = self.state()
            state.setdefault("pixel_names", {})[code] = name.strip() or code
            _write_json(self.state_path, state)
            return code

    def save_token(self, code: str, token: str) -> None:
        """Record a token generated by the mock for ``code`` in ``mock_vendors`` (the mock accepts it)."""
        with self.lock:
            data = self.data()
            pixels = data.setdefault("mock_vendors", {}).setdefault("tiktok", {}).setdefault("pixels", {})
            tokens = pixels.setdefault(code, [])
            if token not in tokens:
                tokens.append(token)
            problems = self._commit(data)
            if problems:
                raise ConfigError(problems)

    def latest_token(self, code: str) -> str | None:
        pixel = self.pixel(code)
        return pixel.tokens[-1] if pixel and pixel.tokens else None

    # ------------------------------------------------------------------ step 3: the tag

    def tag(self) -> tuple[int, dict[str, Any]] | None:
        for index, tag in enumerate(self.data().get("tags") or []):
            if tag.get("type") == TEMPLATE_TYPE or tag.get("template") == TEMPLATE_REF:
                return index, tag
        return None

    def save_tag(self, name: str, params: dict[str, Any], token_pattern: re.Pattern[str] | None = None
                 ) -> SaveResult:
        """Save the TikTok tag (new, or replacing the existing one). Field errors come from
        ``check_tag_parameters`` (the template's own rules) and the access-token format check."""
        with self.lock:
            result = SaveResult()
            file = str(self.container_path)
            data = self.data()
            existing = self.tag()
            index = existing[0] if existing else len(data.get("tags") or [])
            base = ("tags", index)
            if not self.has_template():
                result.add(None, Problem(file, "$.templates", f"the tag template {TEMPLATE_REF} is not in the "
                                                              "workspace yet (step 1)"))
                return result
            if not name.strip():
                result.add("_name", Problem(file, f"$.tags[{index}].name", "the tag needs a name"))
            template = self.template()
            _values, problems = check_tag_parameters(template, params, file, (*base, "parameters"))
            for problem in problems:
                result.add(_problem_field(problem.path, f"$.tags[{index}]"), problem)
            token = params.get("access_token")
            pattern = token_pattern or ACCESS_TOKEN_PATTERN
            declared = template.by_name.get("access_token", {})
            if (isinstance(token, str) and token and "{{" not in token and not declared.get("pattern")
                    and not pattern.fullmatch(token)):
                result.add("access_token", Problem(file, f"$.tags[{index}].parameters.access_token",
                                                   "an access token is 40 lower-case hexadecimal characters"))
            if not result.ok:
                return result
            tag: dict[str, Any] = dict(existing[1]) if existing else {}
            tag.update({"name": name.strip(), "template": TEMPLATE_REF, "parameters": params})
            if not existing:
                trigger = self.trigger()
                tag["firing_triggers"] = [trigger["name"]] if trigger else []
            tags = list(data.get("tags") or [])
            if existing:
                tags[index] = tag
            else:
                tags.append(tag)
            data["tags"] = tags
            for problem in self._commit(data):
                result.add(_problem_field(problem.path, f"$.tags[{index}]"), problem)
            return result

    # ------------------------------------------------------------------ step 4: the trigger

    def trigger_ref(self) -> str | None:
        for ref in self.data().get("triggers") or []:
            if isinstance(ref, str):
                return ref
        return None

    def trigger(self) -> dict[str, Any] | None:
        ref = self.trigger_ref()
        if ref is None:
            return None
        try:
            data = read_json(self.path / ref, ref)
        except ConfigError:
            return None
        return data if isinstance(data, dict) else None

    def save_trigger(self, name: str, fires_on: str, conditions: list[dict[str, Any]]) -> SaveResult:
        """Save the trigger file and make the TikTok tag fire on it."""
        with self.lock:
            result = SaveResult()
            data = self.data()
            trigger: dict[str, Any] = {"name": name.strip(), "fires_on": fires_on}
            if fires_on == "some_events":
                trigger["conditions"] = conditions
            old_ref = self.trigger_ref()
            old = self.trigger()
            ref = f"{TRIGGERS_DIR}/{slug(name)}.json"
            refs = [r for r in data.get("triggers") or [] if r != old_ref]
            data["triggers"] = [ref, *refs]
            tags = [dict(t) for t in data.get("tags") or []]
            current = self.tag()
            if current is not None:
                index, tag = current
                firing = [t for t in tag.get("firing_triggers") or [] if not old or t != old.get("name")]
                tags[index] = {**tag, "firing_triggers": [trigger["name"], *firing]}
            data["tags"] = tags
            remove = (self.path / old_ref,) if old_ref and old_ref != ref else ()
            problems = self._commit(data, {ref: trigger}, remove)
            for problem in problems:
                result.add(_problem_field(problem.path, "$.triggers[0]") or _problem_field(problem.path, "$"),
                           problem)
            return result

    # ------------------------------------------------------------------ overview

    def status(self) -> dict[str, bool]:
        """Which steps are done, read from the files. The tag step is not done while its access token
        is one the mock TikTok API would reject for its pixel (see ``attention``)."""
        tag = self.tag()
        trigger = self.trigger()
        return {
            "template": self.has_template(),
            "token": any(p.tokens for p in self.pixels()),
            "tag": tag is not None and not self.attention().get("tag"),
            "trigger": bool(trigger and tag and trigger.get("name") in (tag[1].get("firing_triggers") or [])),
        }

    def attention(self) -> dict[str, bool]:
        """Steps that were saved but need another look: the tag when its token is not accepted."""
        from .hints import token_hint

        tag = self.tag()
        if tag is None:
            return {}
        return {"tag": token_hint(tag[1].get("parameters") or {}, self.pixels()) is not None}

