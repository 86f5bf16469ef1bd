"""The examples in the package's docstrings run, and say what they show (doctests)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

import gtm_emulator

# Modules that are not imported outside their own process or runner.
SKIP = {"gtm_emulator.__main__", "gtm_emulator.sandbox.worker", "gtm_emulator.harness.pytest_plugin"}


def _modules() -> list[str]:
    names = ["gtm_emulator"]
    for info in pkgutil.walk_packages(gtm_emulator.__path__, "gtm_emulator."):
        if info.name not in SKIP:
            names.append(info.name)
    return sorted(names)


def _tests(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    return [t for t in doctest.DocTestFinder().find(module, name) if t.examples]


@pytest.fixture
def _doctest_hypothesis_profile() -> Iterator[None]:
    """Examples that run Hypothesis get no health check for slow generation (the machine may be busy)."""
    settings.register_profile("doctests", max_examples=25, deadline=None, database=None,
                              suppress_health_check=[HealthCheck.too_slow])
    previous = settings.get_current_profile_name()
    settings.load_profile("doctests")
    yield
    settings.load_profile(previous)


def test_the_package_has_doctests() -> None:
    examples = sum(len(t.examples) for name in _modules() for t in _tests(name))
    assert examples >= 49


@pytest.mark.usefixtures("_doctest_hypothesis_profile")
@pytest.mark.parametrize("name", [n for n in _modules() if _tests(n)])
def test_doctests(name: str) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in _tests(name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name} (output above)"
