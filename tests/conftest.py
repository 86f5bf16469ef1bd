from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


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
