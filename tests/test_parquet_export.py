"""The columnar Parquet export (archive.parquet_export): the same rows, order and manifest counts as the
row path, and the row path whenever a twin is missing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import archive.parquet_export as parquet_export
from archive.export import export_selection
from archive.parquet_out import read_parquet_rows
from archive.selection import Selection
from tests.columnar_spy import columnar_taken


@pytest.fixture(scope="module")
def root(demo_archive: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    path, proc = demo_archive
    assert proc.returncode == 0, proc.stderr[-2000:]
    return path


def _manifest_counts(out: Path) -> dict[str, Any]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {k: manifest[k] for k in ("counts", "row_schema_versions", "schemas", "runs")}


def test_twins_give_the_rows_and_counts_of_the_row_path(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = columnar_taken(monkeypatch)
    monkeypatch.setattr(parquet_export, "_CHUNK", 7)  # several chunks, some sharing a twin
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    for selection in (Selection(), Selection(outlets=("asahi",)), Selection(topics=("russia-dprk",))):
        name = "-".join(selection.outlets + selection.topics) or "all"
        columnar = export_selection(root, selection, "parquet", tmp_path / f"col-{name}")
        for twin in copy.glob("articles/**/*.parquet"):
            twin.unlink()
        by_rows = export_selection(copy, selection, "parquet", tmp_path / f"row-{name}")
        assert columnar.count == by_rows.count > 0
        assert read_parquet_rows(columnar.out / "articles.parquet") == read_parquet_rows(
            by_rows.out / "articles.parquet"
        )
        assert _manifest_counts(columnar.out) == _manifest_counts(by_rows.out)
    assert taken == [True, False] * 3  # the twins where they exist, the row path where they do not
