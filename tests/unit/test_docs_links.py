"""The README and docs/ link to each other, to the screenshots and to anchors that exist: a section
moved or renamed breaks a test, not a reader's click."""

import re
from pathlib import Path

from tests.conftest import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def anchor(title: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def headings(path: Path) -> set[str]:
    text = re.sub(r"(?ms)^```.*?^```", "", path.read_text(encoding="utf-8"))
    return {anchor(title) for title in re.findall(r"(?m)^#+ (.+)$", text)}


def test_every_relative_link_and_anchor_resolves():
    broken = []
    for doc in DOCS:
        text = re.sub(r"(?ms)^```.*?^```", "", doc.read_text(encoding="utf-8"))
        for link in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", link):
                continue
            path, _, fragment = link.partition("#")
            target = (doc.parent / path).resolve() if path else doc
            if not target.exists():
                broken.append(f"{doc.name}: {link} (no such file)")
            elif fragment and target.suffix == ".md" and fragment not in headings(target):
                broken.append(f"{doc.name}: {link} (no such heading)")
    assert broken == []


def test_the_readme_is_short_and_points_everywhere():
    """Short: what it is, the two commands, where to go next, and why each dependency is there
    (the project's rule keeps that table in the README itself)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    before_dependencies = readme.split("## Dependencies and why")[0]
    assert len(before_dependencies.splitlines()) <= 60
    assert "`requirements.txt`" in readme and "`requirements-dev.txt`" in readme
    for doc in (
        "docs/operator-guide.zh.md",
        "docs/integration.md",
        "docs/api.md",
        "docs/operations.md",
        "docs/internals.md",
    ):
        assert f"]({doc})" in readme, doc
