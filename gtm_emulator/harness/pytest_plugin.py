"""The pytest plugin of gtm_emulator (registered through the ``pytest11`` entry point).

Fixtures (each function-scoped, so every test starts from a fresh container and an empty mock):

- ``gtm_container``: the container under test. By default the bundled one; the ini option
  ``gtm_container = containers/shop.json`` (relative to pytest's rootdir) names another for the whole
  suite, and ``@pytest.mark.gtm_container("containers/other.json")`` for one test, class or module
  (also relative to the rootdir; an absolute path, a dict holding the container itself, or ``None``
  for the bundled default work too). ``@pytest.mark.gtm_container(..., vendor="record")`` records
  vendor calls instead of sending them to the mock.
- ``tiktok_mock``: the container's mock TikTok Events API: ``.events`` (accepted events, with
  ``.pixel_code`` and ``.event``) and ``.requests`` (request bodies it accepted).
- ``ga4_mock``: the container's mock GA4 collection endpoint, where the emulated GA4 tag
  (``sgtmgaaw``) sends: ``.hits`` (each ``{"query", "event_data"}``, the hit parsed back into event
  data), ``.rejected``, ``.reset()``.
- ``emulator_server``: the container served over HTTP on a free loopback port, in a thread
  (:class:`gtm_emulator.harness.assertions.EmulatorServer`): ``.url``, ``.container``, ``.reports`` (one
  report per request handled), ``.last_report``. Stopped after the test.

Scenario files whose names match ``*.scenario.json`` or ``scenario_*.json`` are collected as tests,
one item per step; the failure of a step lists every failed expectation and what the container did.
The steps of a file run once, in order, on one container; each item reports its own step (selecting
one step with ``-k`` still runs the steps before it, so the mock's state is the same).

PYTEST_DONT_REWRITE: this module may be imported before pytest loads it as a plugin (``-p``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from ..errors import ConfigError, ScenarioStepFailed

INI_OPTION = "gtm_container"
MARKER = "gtm_container"
ENTRY_POINT_GROUP = "pytest11"
ENTRY_POINT_VALUE = "gtm_emulator.harness.pytest_plugin"


def entry_point_registered() -> bool:
    """Whether the installed distribution registers this plugin (so ``-p`` must not load it twice)."""
    return any(ep.value == ENTRY_POINT_VALUE for ep in entry_points(group=ENTRY_POINT_GROUP))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(INI_OPTION, help="gtm_emulator: container file for the gtm_container fixture, relative to the "
                                   "rootdir (default: the bundled container)", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(path, vendor='mock'): gtm_emulator: the container file (relative to the rootdir), a dict, or "
        f"None for the bundled default, used by the gtm_container fixture",
    )


# ---------------------------------------------------------------------------------------------- fixtures


def _container_source(request: pytest.FixtureRequest) -> tuple[Any, str, str]:
    """(source for load_container, how to name it in errors, vendor mode)."""
    rootdir = Path(str(request.config.rootpath))
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if len(marker.args) != 1 or set(marker.kwargs) - {"vendor"}:
            pytest.fail(f"@pytest.mark.{MARKER} takes one container (a path, a dict or None) and optionally "
                        f"vendor='mock' or vendor='record'; got args={marker.args!r} kwargs={marker.kwargs!r}",
                        pytrace=False)
        vendor = marker.kwargs.get("vendor", "mock")
        arg = marker.args[0]
        if arg is None:
            return None, "the bundled default container", vendor
        if isinstance(arg, dict):
            return arg, f"the container given to @pytest.mark.{MARKER}", vendor
        if not isinstance(arg, (str, os.PathLike)):
            pytest.fail(f"@pytest.mark.{MARKER}: expected a path, a dict or None, got {type(arg).__name__}",
                        pytrace=False)
        return rootdir / arg, str(arg), vendor
    configured = str(request.config.getini(INI_OPTION) or "").strip()
    if configured:
        return rootdir / configured, f"{configured} (ini option {INI_OPTION})", "mock"
    return None, "the bundled default container", "mock"


@pytest.fixture
def gtm_container(request: pytest.FixtureRequest) -> Any:
    """The container under test, loaded fresh for this test (mock vendors empty)."""
    from .. import load_container

    source, display, vendor = _container_source(request)
    if vendor not in ("mock", "record"):
        pytest.fail(f"@pytest.mark.{MARKER}: vendor must be 'mock' or 'record' in tests, got {vendor!r}",
                    pytrace=False)
    if isinstance(source, Path) and not source.is_file():
        pytest.fail(f"gtm_container: container file {display} not found (looked for {source})", pytrace=False)
    try:
        return load_container(source, vendor=vendor)
    except ConfigError as exc:
        problems = "\n".join(f"  {p}" for p in exc.problems)
    # failed outside the except block, so the report shows no chained exception
    pytest.fail(f"gtm_container: {display} is not a valid container:\n{problems}", pytrace=False)


def _mock_vendor(container: Any, name: str) -> Any:
    """The container's mock vendor ``name``; the test fails when the container runs without mocks."""
    mock = getattr(container, name)
    if mock is None:
        pytest.fail(f"{name}: the container does not run with the mock vendor", pytrace=False)
    return mock


@pytest.fixture
def tiktok_mock(gtm_container: Any) -> Any:
    """The mock TikTok Events API of ``gtm_container`` (``.events``, ``.requests``, ``.reset()``)."""
    return _mock_vendor(gtm_container, "tiktok_mock")


@pytest.fixture
def ga4_mock(gtm_container: Any) -> Any:
    """The mock GA4 collection endpoint of ``gtm_container`` (``.hits``, ``.rejected``, ``.reset()``)."""
    return _mock_vendor(gtm_container, "ga4_mock")


@pytest.fixture
def emulator_server(gtm_container: Any) -> Iterator[Any]:
    """``gtm_container`` served on ``http://127.0.0.1:<free port>`` for this test."""
    from .assertions import EmulatorServer

    with EmulatorServer(gtm_container) as server:
        yield server


# ---------------------------------------------------------------------------------------------- scenarios


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from .scenarios import is_scenario_file

    if file_path.suffix == ".json" and is_scenario_file(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """A scenario file: one item per step."""

    scenario: Any = None
    _result: Any = None
    _error: str | None = None

    def collect(self) -> Iterator[pytest.Item]:
        from .scenarios import load_scenario

        self.scenario = load_scenario(self.path)
        seen: set[str] = set()
        for step in self.scenario.steps:
            name = step.name if step.name not in seen else f"{step.name} ({step.index + 1})"
            seen.add(name)
            yield ScenarioItem.from_parent(self, name=name, step=step)

    def result_of(self, index: int) -> Any:
        """The result of step ``index``; the whole file runs on the first call."""
        from .scenarios import run_scenario

        if self._result is None and self._error is None:
            try:
                self._result = run_scenario(self.scenario)
            except ConfigError as exc:
                self._error = f"the container of {self.scenario.file} cannot be loaded:\n" + "\n".join(
                    f"  {p}" for p in exc.problems)
        if self._error is not None:
            raise ScenarioStepFailed(self._error)
        return self._result.steps[index]

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ConfigError):
            problems = "\n".join(f"  {p}" for p in excinfo.value.problems)
            return f"invalid scenario file {self.path.name}:\n{problems}"
        return super().repr_failure(excinfo)


class ScenarioItem(pytest.Item):
    """One step of a scenario file."""

    def __init__(self, *, step: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step = step

    def runtest(self) -> None:
        parent = self.parent
        assert isinstance(parent, ScenarioFile)
        result = parent.result_of(self.step.index)
        if not result.passed:
            raise ScenarioStepFailed(result.message())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ScenarioStepFailed):
            return f"step {self.step.index + 1} ({self.step.name!r}) of {self.path.name} failed:\n{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        # The failure headline. Not a suffix of the node id, so pytest's verbose line shows the id unchanged.
        return self.path, None, f"{self.path.name} step {self.step.index + 1}: {self.step.name}"
