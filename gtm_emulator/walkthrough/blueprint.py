"""The walkthrough pages: a Flask blueprint mounted on the emulator's own app.

``install_walkthrough(app, workspace, lang)`` mounts it under ``/_emulator/walkthrough/``, records
every report of the app (a report hook) so the live test can show what happened, and makes each
save reload the running container: ``load_container(path, reuse=current_container(app))`` then
``set_container(app, new)``. ``reuse`` keeps the mock TikTok API the app already serves, so a token
generated in step 2 is accepted by the very server the test purchase goes through.

Language: ``?lang=en`` or ``?lang=nl`` on any page switches and is remembered in a cookie.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..core.report import Report
from ..errors import ConfigError, Problem
from ..loading.config import load_container
from ..server.app import add_report_hook, current_container, set_container
from ..server.preview import EXTENSION_KEY as PREVIEW_EXTENSION
from ..server.preview import PREFIX as PREVIEW_PREFIX
from . import forms, results
from .hints import Hint, condition_hints, token_hint
from .i18n import LANGUAGES, STRINGS, field_text, group_label, option_label, problem_text, translate
from .workspace import (
    DEFAULT_TAG_NAME,
    DEFAULT_TRIGGER_NAME,
    OPERATOR_CHOICES,
    PIXEL_CODE_PATTERN,
    Workspace,
    mask_token,
)

PREFIX = "/_emulator/walkthrough"
LANG_COOKIE = "gtm_walkthrough_lang"
EXTENSION = "gtm_walkthrough"
REPORTS_KEPT = 200
STEPS = ("template", "token", "tag", "trigger")
STEP_ENDPOINTS = {"template": "walkthrough.step_template", "token": "walkthrough.step_token",
                  "tag": "walkthrough.step_tag", "trigger": "walkthrough.step_trigger"}

bp = Blueprint("walkthrough", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")


@dataclass
class Reveal:
    """A token to show once, on the next view of step 2."""

    pixel: str
    token: str


class Walkthrough:
    """The walkthrough's state for one app: its workspace, the reports seen, a token to reveal once."""

    def __init__(self, app: Flask, workspace: Workspace, lang: str = "en"):
        self.app = app
        self.workspace = workspace
        self.default_lang = lang if lang in LANGUAGES else "en"
        self.reports: deque[Report] = deque(maxlen=REPORTS_KEPT)
        self.reveal: Reveal | None = None
        self.lock = threading.Lock()

    def record(self, report: Report, _elapsed_ms: float) -> None:
        with self.lock:
            self.reports.append(report)

    def reload(self) -> None:
        """Serve the workspace's container file from the next request on."""
        new = load_container(self.workspace.container_path, reuse=current_container(self.app))
        set_container(self.app, new)

    def mock(self) -> Any:
        return current_container(self.app).tiktok_mock

    def reset(self) -> None:
        mock = self.mock()
        if mock is not None:
            mock.pixels.clear()
            mock.reset()
        with self.lock:
            self.reports.clear()
            self.reveal = None
        self.workspace.reset()

    def take_reveal(self) -> Reveal | None:
        with self.lock:
            reveal, self.reveal = self.reveal, None
            return reveal

    def run_reports(self, run: int) -> list[Report]:
        with self.lock:
            return results.reports_for_run(list(self.reports), run)


def install_walkthrough(app: Flask, workspace: Workspace, lang: str = "en") -> Walkthrough:
    """Mount the walkthrough on ``app`` (made by ``create_app``) for ``workspace``."""
    walkthrough = Walkthrough(app, workspace, lang)
    workspace.on_change = walkthrough.reload
    app.extensions[EXTENSION] = walkthrough
    add_report_hook(app, walkthrough.record)
    app.register_blueprint(bp, url_prefix=PREFIX)
    return walkthrough


def _wt() -> Walkthrough:
    walkthrough: Walkthrough = current_app.extensions[EXTENSION]
    return walkthrough


# ----------------------------------------------------------------------------- language


@bp.before_request
def _language() -> None:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        g.wt_lang = asked
    else:
        cookie = request.cookies.get(LANG_COOKIE)
        g.wt_lang = cookie if cookie in LANGUAGES else _wt().default_lang


@bp.after_request
def _remember_language(response: Response) -> Response:
    if request.args.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, request.args["lang"], max_age=365 * 24 * 3600, samesite="Lax",
                            path=PREFIX)
    return response


def t(key: str, **values: Any) -> str:
    return translate(g.wt_lang, key, **values)


@bp.app_template_filter("wt_json_value")
def _json_value(value: Any) -> str:
    """A value as a form field or a trace shows it: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return ""


@bp.context_processor
def _context() -> dict[str, Any]:
    walkthrough = _wt()
    try:
        status = walkthrough.workspace.status()
        attention = walkthrough.workspace.attention()
    except ConfigError:
        status, attention = dict.fromkeys(STEPS, False), {}
    return {
        "t": t,
        "lang": g.get("wt_lang", walkthrough.default_lang),
        "languages": LANGUAGES,
        "status": status,
        "attention": attention,
        "preview_url": PREVIEW_PREFIX + "/" if PREVIEW_EXTENSION in walkthrough.app.extensions else None,
        "field_text": lambda param: field_text(g.get("wt_lang", walkthrough.default_lang), param),
        "group_label": lambda section: group_label(g.get("wt_lang", walkthrough.default_lang), section),
        "option_label": lambda param, option: option_label(g.get("wt_lang", walkthrough.default_lang), param, option),
        "problem_text": lambda text: problem_text(g.get("wt_lang", walkthrough.default_lang), text),
        "done_steps": [s for s in STEPS if status[s]],
        "step_endpoints": STEP_ENDPOINTS,
        "workspace": walkthrough.workspace,
        "steps": STEPS,
        "operator_choices": list(OPERATOR_CHOICES),
    }


def _problem_text(problem: Problem) -> str:
    return f"{problem.path}: {problem.message}"


# ----------------------------------------------------------------------------- pages


@bp.get("/")
def index() -> str:
    return render_template("walkthrough_index.html", page="index")


@bp.post("/reset")
def reset() -> Response:
    _wt().reset()
    return redirect(url_for("walkthrough.index", done="reset"))


@bp.get("/step/1")
def step_template() -> str:
    workspace = _wt().workspace
    template = workspace.template()
    return render_template("walkthrough_step1.html", page="template", template=template,
                           sections=forms.sections(template), values={}, added=workspace.has_template(),
                           problems=[])


@bp.post("/step/1")
def add_template() -> Response | tuple[str, int]:
    workspace = _wt().workspace
    problems = workspace.add_template()
    if problems:
        template = workspace.template()
        return render_template("walkthrough_step1.html", page="template", template=template,
                               sections=forms.sections(template), values={}, added=False,
                               problems=[_problem_text(p) for p in problems]), 422
    return redirect(url_for("walkthrough.step_template", done="added"))


@bp.get("/step/2")
def step_token() -> str:
    walkthrough = _wt()
    return render_template("walkthrough_step2.html", page="token", pixels=walkthrough.workspace.pixels(),
                           reveal=walkthrough.take_reveal(), mask=mask_token)


@bp.post("/step/2/pixel")
def create_pixel() -> Response:
    code = _wt().workspace.create_pixel(request.form.get("pixel_name", ""))
    return redirect(url_for("walkthrough.step_token", created=code))


@bp.post("/step/2/token")
def generate_token() -> Response | tuple[str, int]:
    walkthrough = _wt()
    code = request.form.get("pixel_code", "")
    if walkthrough.workspace.pixel(code) is None:
        return render_template("walkthrough_step2.html", page="token", pixels=walkthrough.workspace.pixels(),
                               reveal=None, mask=mask_token, error=t("unknown_pixel", code=code)), 404
    mock = walkthrough.mock()
    if mock is None:
        return render_template("walkthrough_step2.html", page="token", pixels=walkthrough.workspace.pixels(),
                               reveal=None, mask=mask_token, error=t("no_mock")), 409
    token: str = mock.generate_access_token(code)
    walkthrough.workspace.save_token(code, token)
    with walkthrough.lock:
        walkthrough.reveal = Reveal(code, token)
    return redirect(url_for("walkthrough.step_token", generated=code))


def _tag_page(values: dict[str, Any], tag_name: str, field_errors: dict[str, list[str]], problems: list[str],
              use_generated: bool, status: int = 200, raw_errors: dict[str, list[str]] | None = None
              ) -> tuple[str, int]:
    workspace = _wt().workspace
    template = workspace.template()
    existing = workspace.tag()
    saved_token = (existing[1].get("parameters") or {}).get("access_token") if existing else None
    pixel_code = str(values.get("pixel_code", ""))
    generated = workspace.latest_token(pixel_code) if pixel_code else None
    trigger = workspace.trigger()
    firing = existing[1].get("firing_triggers") if existing else ([trigger["name"]] if trigger else [])
    essential, more = forms.split_essential(forms.sections(template, values))
    more_names = {p["name"] for section in more for p in section.params}
    warning = token_hint(existing[1].get("parameters") or {}, workspace.pixels()) if existing else None
    page = render_template(
        "walkthrough_step3.html", page="tag", template=template, essential=essential, more=more,
        more_has_errors=bool(more_names & (set(field_errors) | set(raw_errors or {}))),
        token_typed_shown="access_token" in field_errors or "access_token" in (raw_errors or {}),
        token_warning=warning, values=values, tag_name=tag_name, field_errors=field_errors, problems=problems,
        has_template=workspace.has_template(), saved=existing is not None,
        saved_token=mask_token(saved_token) if isinstance(saved_token, str) and saved_token else None,
        generated=mask_token(generated) if generated else None, use_generated=use_generated,
        pixels=workspace.pixels(), firing=firing or [], prefix=forms.FIELD_PREFIX, raw_errors=raw_errors or {},
    )
    return page, status


@bp.get("/step/3")
def step_tag() -> tuple[str, int]:
    workspace = _wt().workspace
    existing = workspace.tag()
    if existing:
        values = {k: v for k, v in (existing[1].get("parameters") or {}).items() if k != "access_token"}
        return _tag_page(values, existing[1].get("name", ""), {}, [], use_generated=False)
    with_token = next((p for p in workspace.pixels() if p.tokens), None)
    values = {"pixel_code": with_token.code} if with_token else {}
    return _tag_page(values, DEFAULT_TAG_NAME, {}, [], use_generated=with_token is not None)


@bp.post("/step/3")
def save_tag() -> Response | tuple[str, int]:
    workspace = _wt().workspace
    template = workspace.template()
    existing = workspace.tag()
    saved = dict(existing[1].get("parameters") or {}) if existing else {}
    params, form_errors = forms.params_from_form(template, request.form, saved)
    use_generated = "use_generated" in request.form
    pixel_code = str(params.get("pixel_code", ""))
    if "access_token" not in params:
        if use_generated:
            token = workspace.latest_token(pixel_code) if pixel_code else None
            if token:
                params["access_token"] = token
        elif saved.get("access_token"):
            params["access_token"] = saved["access_token"]
    tag_name = request.form.get("tag_name", "")
    field_errors: dict[str, list[str]] = {name: [t(key)] for name, key in form_errors.items()}
    general: list[str] = []
    raw: dict[str, list[str]] = {}
    if not form_errors:
        result = workspace.save_tag(tag_name, params)
        if result.ok:
            return redirect(url_for("walkthrough.step_tag", done="saved"))
        token_from_pixel = use_generated and not request.form.get(forms.FIELD_PREFIX + "access_token")
        for name, problems in result.field_errors.items():
            if name == "access_token" and token_from_pixel and "pixel_code" in result.field_errors:
                continue  # the token would come from the pixel: the pixel's own error says what is wrong
            field_errors[name] = [_field_message(name, p, pixel_code, use_generated) for p in problems]
            raw[name] = [_problem_text(p) for p in problems]
        general = [problem_text(g.wt_lang, _problem_text(p)) for p in result.problems]
    shown = {k: v for k, v in params.items() if k != "access_token"}
    if request.form.get(forms.FIELD_PREFIX + "access_token"):
        shown["access_token"] = request.form[forms.FIELD_PREFIX + "access_token"]
    return _tag_page(shown, tag_name, field_errors, general, use_generated, 422, raw)


def _field_message(name: str, problem: Problem, pixel_code: str, use_generated: bool) -> str:
    """The project's message for a field, said in the page's language where the walkthrough knows it."""
    message = problem.message
    if name == "_name":
        return t("error_tag_name")
    if name == "pixel_code":
        if "required" in message:
            return t("error_pixel_required")
        if not PIXEL_CODE_PATTERN.fullmatch(pixel_code):
            return t("error_pixel_malformed")
    if name == "access_token":
        if "required" in message:
            return t("error_token_from_pixel") if use_generated else t("error_token_required")
        if "hexadecimal" in message:
            return t("error_token_malformed")
    return problem_text(g.wt_lang, message)


@bp.get("/step/4")
def step_trigger() -> str:
    workspace = _wt().workspace
    trigger = workspace.trigger()
    return _trigger_page(trigger.get("name", "") if trigger else DEFAULT_TRIGGER_NAME,
                         trigger.get("fires_on", "some_events") if trigger else "some_events",
                         forms.condition_rows(trigger), {}, [],
                         hints=_condition_hints(trigger.get("conditions") or []) if trigger else [])[0]


def _condition_hints(conditions: list[dict[str, Any]]) -> list[Hint]:
    clients = [str(c.get("name", "")) for c in _wt().workspace.data().get("clients") or []]
    return condition_hints(conditions, clients)


def _trigger_page(name: str, fires_on: str, rows: list[dict[str, str]], field_errors: dict[str, list[str]],
                  problems: list[str], status: int = 200, hints: list[Hint] | None = None) -> tuple[str, int]:
    workspace = _wt().workspace
    user_variables = [v.get("name", "") for v in workspace.data().get("variables") or []]
    tag = workspace.tag()
    page = render_template("walkthrough_step4.html", page="trigger", trigger_name=name, fires_on=fires_on,
                           rows=rows, variables=forms.variable_choices(user_variables), field_errors=field_errors,
                           problems=problems, tag_name=tag[1].get("name") if tag else None, hints=hints or [])
    return page, status


@bp.post("/step/4")
def save_trigger() -> Response | tuple[str, int]:
    workspace = _wt().workspace
    name = request.form.get("trigger_name", "")
    fires_on = request.form.get("fires_on", "some_events")
    if fires_on not in ("all_events", "some_events"):
        fires_on = "some_events"
    conditions, rows, form_errors = forms.conditions_from_form(request.form)
    field_errors = {k: [t(v, value=_row_value(rows, k))] for k, v in form_errors.items()}
    problems: list[str] = []
    if not form_errors:
        result = workspace.save_trigger(name, fires_on, conditions)
        if result.ok:
            return redirect(url_for("walkthrough.step_trigger", done="saved"))
        for key, items in result.field_errors.items():
            if key == "_name":
                field_errors[key] = [t("error_trigger_name")]
            elif key == "conditions":
                field_errors[key] = [t("error_no_conditions")]
            else:
                field_errors[key] = [_condition_message(p, _row_value(rows, key)) for p in items]
        problems = [problem_text(g.wt_lang, _problem_text(p)) for p in result.problems]
    if fires_on == "all_events":
        rows = forms.condition_rows({"conditions": []})
    while len(rows) < 2:
        rows.append({"variable": "", "operator": "equals", "value": ""})
    return _trigger_page(name, fires_on, rows, field_errors, problems, 422)


def _row_value(rows: list[dict[str, str]], key: str) -> str:
    """The value typed in the row an error key (``cond-<i>-…``) names."""
    index = int(key.split("-")[1])
    return rows[index]["value"] if index < len(rows) else ""


def _condition_message(problem: Problem, value: str) -> str:
    """A condition's problem in the page's language: an invalid regular expression said plainly
    (the project's message is "invalid RE2 pattern '<pattern>': <detail>", see core.regex)."""
    prefix = f"invalid RE2 pattern {value!r}: "
    if problem.message.startswith(prefix):
        return t("error_regex", pattern=value, detail=_regex_reason(problem.message[len(prefix):]))
    return problem_text(g.wt_lang, problem.message)


# RE2's reasons ("<reason>: <the part of the pattern>") as the page says them; others are shown as RE2 wrote them.
REGEX_REASONS = {"missing )": "regex_missing_paren", "missing ]": "regex_missing_bracket",
                 "unexpected )": "regex_unexpected_paren", "no argument for repetition operator": "regex_repetition",
                 "bad repetition operator": "regex_repetition", "invalid escape sequence": "regex_escape"}


def _regex_reason(detail: str) -> str:
    reason, _sep, part = detail.partition(": ")
    key = REGEX_REASONS.get(reason)
    return t(key, part=part) if key else t("regex_other", detail=detail)


@bp.get("/test")
def test_page() -> str:
    hits = {name: [[k, v] for k, v in params] for name, params in results.TEST_HITS.items()}
    return render_template("walkthrough_test.html", page="test", hits=hits, default_email=results.DEFAULT_EMAIL,
                           default_user_id=results.DEFAULT_USER_ID, placeholders={
                               "run": results.RUN_PLACEHOLDER, "email": results.EMAIL_PLACEHOLDER,
                               "user_id": results.USER_ID_PLACEHOLDER})


@bp.get("/test/results")
def test_results() -> tuple[str, int]:
    try:
        run = int(request.args.get("run", ""))
    except ValueError:
        return t("error_run"), 400
    walkthrough = _wt()
    reports = walkthrough.run_reports(run)
    mock = walkthrough.mock()
    page = render_template("walkthrough_results.html", events=results.event_views(reports),
                           received=len(mock.events) if mock is not None else None)
    return page, 200


@bp.errorhandler(ConfigError)
def _config_error(exc: ConfigError) -> tuple[str, int]:
    return render_template("walkthrough_error.html", page="error",
                           problems=[str(p) for p in exc.problems]), 500


__all__ = ["PREFIX", "STRINGS", "Walkthrough", "install_walkthrough"]
