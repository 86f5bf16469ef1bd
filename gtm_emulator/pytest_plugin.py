"""The pytest plugin of gtm_emulator (registered through the ``pytest11`` entry point).

Fixtures:

- ``gtm_container``: the bundled default container, loaded fresh for each test.
- ``tiktok_mock``: the mock TikTok Events API of that container, with the events it accepted.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def gtm_container() -> Any:
    from gtm_emulator import load_container

    return load_container()


@pytest.fixture
def tiktok_mock(gtm_container: Any) -> Any:
    return gtm_container.tiktok_mock
