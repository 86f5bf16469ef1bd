"""The example project (tests/example_project) uses the plugin as a separate project would.

It runs in a subprocess with ``python -m pytest`` in a copy of its folder, so its own pyproject.toml
(with the ``gtm_container`` ini option) is the configuration and nothing is written into the
repository. The package must be importable there: when it is installed, pytest loads the plugin
through the ``pytest11`` entry point; in a source checkout, the checkout goes on PYTHONPATH and the
plugin is named with ``-p``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from gtm_emulator.harness.pytest_plugin import entry_point_registered

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "tests" / "example_project"


def run_example(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("PYTEST_ADDOPTS", None)
    plugin = [] if entry_point_registered() else ["-p", "gtm_emulator.harness.pytest_plugin"]
    return subprocess.run([sys.executable, "-m", "pytest", *plugin, "-q", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=180)


def test_example_project_passes(tmp_path: Path) -> None:
    folder = tmp_path / "example_project"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis", ".benchmarks"))
    assert not (folder / "conftest.py").exists() and not (folder / "tests" / "conftest.py").exists()
    result = run_example(folder, "-rA")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\b9 passed\b", summary), summary
    # the scenario file was collected: one passing item per step
    assert result.stdout.count("PASSED tests/checkout.scenario.json::") == 3, result.stdout


def test_example_project_reports_a_broken_container_change(tmp_path: Path) -> None:
    folder = tmp_path / "example_project"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis", ".benchmarks"))
    shop = folder / "containers" / "shop.json"
    # a container change that breaks the purchase trigger
    shop.write_text(shop.read_text("utf-8").replace('"value": "purchase"', '"value": "purchased"'), "utf-8")
    result = run_example(folder, "tests/checkout.scenario.json")
    assert result.returncode == 1
    assert "step 1 ('a purchase is sent as CompletePayment') of checkout.scenario.json failed:" in result.stdout
    assert ('✗ {{Event Name}} equals "purchased": false (left "purchase", right "purchased")'
            in result.stdout), result.stdout
    assert re.search(r"\b2 failed, 1 passed\b", result.stdout)
