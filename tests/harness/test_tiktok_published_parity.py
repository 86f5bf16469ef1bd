"""The native TikTok tag against the published templates, run in the sandbox (the differential harness).

The published templates are not part of the repository. Download them into a folder and point
``GTM_EMULATOR_PUBLISHED_TEMPLATES`` at it (docs/tiktok.md "Parity"); without it this test is
skipped. ``GTM_EMULATOR_PARITY_EXAMPLES`` sets the number of generated cases per profile (5000).
"""

from __future__ import annotations

import os

import pytest

from gtm_emulator.harness import tiktok_parity as harness

FOLDER = harness.configured_folder()
EXAMPLES = int(os.environ.get("GTM_EMULATOR_PARITY_EXAMPLES", str(harness.DEFAULT_EXAMPLES)))

needs_templates = pytest.mark.skipif(
    FOLDER is None,
    reason=f"{harness.ENV_VAR} is not set: no folder with the published TikTok templates (TikTok's "
           f"tiktok/gtm-template-eapi template.tpl, stape's stape-io/tiktok-tag template.tpl) to compare with",
)


@needs_templates
@pytest.mark.parametrize("profile", sorted(harness.PUBLISHED.values()))
def test_native_profile_sends_what_the_published_template_sends(profile: str) -> None:
    assert FOLDER is not None
    found = harness.find_templates(FOLDER)
    if profile not in found:
        pytest.fail(f"{FOLDER}: no published template for {profile} (a .tpl with gtmVersion "
                    f"{next(v for v, p in harness.PUBLISHED.items() if p == profile)})")
    [result] = harness.run(FOLDER, examples=EXAMPLES, profiles=[profile])
    assert result.cases >= min(EXAMPLES, 100)
    assert result.sent > result.cases // 4, "the generated cases hardly ever reach the request"
    assert result.differing == 0, "\n" + harness.format_report([result])
