"""The structure a successor relies on: files small enough to read whole, and docs/architecture.md true
to the tree (every file and folder it names exists)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "crawler", "spiders", "pipelines", "archive", "bench", "tests")
MAX_LINES = 400


def test_no_python_file_of_ours_is_over_400_lines() -> None:
    too_long = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if any(part.startswith(".") for part in path.relative_to(REPO).parts):
                continue  # the benchmark peers' own venvs (bench/.venvs), caches: not our code
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                too_long[str(path.relative_to(REPO))] = lines
    assert too_long == {}, f"split these along their seams: {too_long}"


def test_every_path_named_by_the_architecture_page_exists() -> None:
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(
        re.findall(r"`((?:core|crawler|spiders|pipelines|archive|bench|tests|schema)/[\w./-]*)`", text)
    )
    assert len(named) > 30, "the page should walk through the tree"
    missing = sorted(p for p in named if not (REPO / p.split(" ")[0]).exists())
    assert missing == [], f"docs/architecture.md names paths that do not exist: {missing}"
