"""Every reference from the package's docstrings and comments to the docs resolves inside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gtm_emulator"
REFERENCE = re.compile(r'docs/([a-z_]+\.md)(?:, "([^"]+)")?')
# the notes the code was once written against; the repository must not send readers to them
OUTSIDE = re.compile(r"\b(?:sgtm|interfaces|design)\.md\b|§|\b(?:templates|tiktok)\.md \d")


def _headings(doc: Path) -> set[str]:
    return {line.lstrip("#").strip().replace("`", "") for line in doc.read_text("utf-8").splitlines()
            if line.startswith("#")}


def _texts() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        # comments and wrapped docstrings: one line, so a reference may span a line break
        lines = [re.sub(r"^\s*#\s?", "", line) for line in path.read_text("utf-8").splitlines()]
        out.append((path, re.sub(r"\s+", " ", " ".join(lines))))
    return out


def test_every_docs_reference_names_an_existing_file_and_heading() -> None:
    broken = []
    count = 0
    for path, text in _texts():
        for match in REFERENCE.finditer(text):
            count += 1
            doc = ROOT / "docs" / match.group(1)
            if not doc.exists():
                broken.append(f"{path.relative_to(ROOT)}: docs/{match.group(1)} does not exist")
            elif match.group(2) and match.group(2).replace("`", "") not in _headings(doc):
                broken.append(f"{path.relative_to(ROOT)}: docs/{match.group(1)} has no heading {match.group(2)!r}")
    assert count >= 40
    assert broken == []


def test_no_reference_to_notes_outside_the_repository() -> None:
    found = [f"{path.relative_to(ROOT)}: {m.group(0)}" for path, text in _texts() for m in OUTSIDE.finditer(text)]
    found += [f"{doc.relative_to(ROOT)}: {m.group(0)}" for doc in sorted((ROOT / "docs").glob("*.md"))
              for m in OUTSIDE.finditer(doc.read_text("utf-8"))]
    assert found == []
