"""Fixtures shared by every test. Constants and builders are in helpers.py.

Two rules hold for the whole run: Hypothesis keeps no example database and its caches go to a
temporary folder (by default both are ``.hypothesis/`` in the working directory), and the run fails
if the working tree gained a file (collection included): a test writes only inside its temporary
folder.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

ROOT = Path(__file__).resolve().parent.parent

settings.register_profile("gtm-emulator-tests", database=None)
settings.load_profile("gtm-emulator-tests")
# Hypothesis also caches (constants, Unicode data) under .hypothesis/ in the working directory.
_HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="gtm-emulator-hypothesis-")
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, True)


def _untracked_files() -> set[str] | None:
    """Untracked and ignored paths of the working tree (None when it is not a git checkout)."""
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--ignored"],
                             capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    kept = _artifacts_in_tree()
    return {line[3:] for line in out.stdout.splitlines()
            if line[:2] in ("??", "!!") and "__pycache__" not in line
            and not (kept and line[3:].rstrip("/") in (kept, kept.split("/")[0]))}


def _artifacts_in_tree() -> str | None:
    """``$GTM_EMULATOR_ARTIFACTS`` relative to the tree when CI asked for screenshots inside it."""
    configured = os.environ.get("GTM_EMULATOR_ARTIFACTS")
    if not configured:
        return None
    try:
        return Path(configured).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return None


_BEFORE_RUN: set[str] | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Note the untracked files before anything runs (collection included)."""
    global _BEFORE_RUN
    _BEFORE_RUN = _untracked_files()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when the working tree gained a file: a test writes only inside its tmp_path."""
    after = _untracked_files()
    if _BEFORE_RUN is None or after is None or not after - _BEFORE_RUN:
        return
    message = "the test run wrote into the working tree: " + ", ".join(sorted(after - _BEFORE_RUN))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(message, red=True, bold=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def write_json(tmp_path: Path):
    """Write a JSON document into the test's temporary folder and return its path."""

    def write(name: str, data: Any) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2), "utf-8")
        return path

    return write


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--full", action="store_true", default=False,
                     help="run the reliability suites at full size (100,000 generated inputs)")


@pytest.fixture(scope="session")
def full_size(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--full"))


@pytest.fixture
def cli() -> Any:
    """A fresh click group with the harness commands (`test`, `replay`) registered on it."""
    import click

    from gtm_emulator.cli.harness import register

    @click.group()
    def group() -> None:
        pass

    register(group)
    return group
