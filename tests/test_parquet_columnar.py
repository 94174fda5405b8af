"""The columnar Parquet export (archive.parquet_export) over twins it must adapt or refuse: a twin of an
older article schema (1.0.0, before `version`, `previous_version_id` and `changes`) is widened with
nulls and exported with current ones, row for row what the row path writes; a twin whose column type
differs sends the export to the row path; and the selection it reads with the rows' locations is the
article index's own (same docs, same order)."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import archive.parquet_export as parquet_export
from archive.article_index import open_index
from archive.export import ExportResult, export_selection
from archive.parquet_out import arrow_schema, read_parquet_rows, read_parquet_table, write_parquet
from archive.paths import parquet_twin
from archive.selection import Selection
from core.items import SCHEMA_VERSION
from core.schema import article_schema, schema_relpath
from tests.columnar_spy import columnar_taken

OLD_VERSION = "1.0.0"
ADDED_IN_1_1 = ("version", "previous_version_id", "changes")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo(demo_archive: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    path, proc = demo_archive
    assert proc.returncode == 0, proc.stderr[-2000:]
    return path


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each export took the columnar path (True) or the row path (False)."""
    return columnar_taken(monkeypatch)


def _copy(src: Path, dst: Path) -> Path:
    # Without the read indexes (dot-files): the copy's article index is built from its own files.
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".*"))
    return dst


def _article_files(root: Path, outlet: str) -> list[Path]:
    files = sorted(root.glob(f"articles/outlet={outlet}/**/*.jsonl.gz"))
    assert files, f"the demo archive has no {outlet} article file"
    return files


def _rewrite_as_1_0_0(root: Path, path: Path) -> int:
    """Make `path` and its twin what a crawl of article schema 1.0.0 wrote: rows without the 1.1.0
    fields, and a twin written from the 1.0.0 JSON Schema. Returns the number of rows."""
    rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()]
    for row in rows:
        for name in ADDED_IN_1_1:
            row.pop(name, None)
        row["schema_version"] = OLD_VERSION
    path.write_bytes(
        gzip.compress("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))
    )
    old_schema = json.loads((REPO / schema_relpath(OLD_VERSION)).read_text(encoding="utf-8"))
    twin = root / parquet_twin(path.relative_to(root).as_posix())
    twin.unlink()
    write_parquet(rows, twin, json_schema=old_schema)
    return len(rows)


def _by_rows(root: Path, tmp_path: Path, selection: Selection, name: str) -> ExportResult:
    """The same export through the row path, forced as tests/test_parquet_export.py forces it: a copy
    of the archive without its twins."""
    copy = _copy(root, tmp_path / f"{name}-no-twins")
    for twin in copy.glob("articles/**/*.parquet"):
        twin.unlink()
    return export_selection(copy, selection, "parquet", tmp_path / f"{name}-rows")


def _manifest(out: Path) -> dict[str, Any]:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return {k: manifest[k] for k in ("counts", "row_schema_versions", "schemas", "runs")}


def test_a_1_0_0_twin_is_widened_with_nulls_like_the_row_path(
    demo: Path, tmp_path: Path, taken: list[bool]
) -> None:
    root = _copy(demo, tmp_path / "mixed")
    (root / schema_relpath(OLD_VERSION)).write_bytes((REPO / schema_relpath(OLD_VERSION)).read_bytes())
    old_rows = sum(_rewrite_as_1_0_0(root, path) for path in _article_files(root, "asahi"))
    old_twin = read_parquet_table(
        root / parquet_twin(_article_files(root, "asahi")[0].relative_to(root).as_posix())
    )
    assert not set(ADDED_IN_1_1) & set(old_twin.column_names)  # a twin as schema 1.0.0 wrote it

    selection = Selection()
    columnar = export_selection(root, selection, "parquet", tmp_path / "columnar")
    by_rows = _by_rows(root, tmp_path, selection, "mixed")
    assert taken == [True, False]  # the widened twins were used; the row path read the JSON lines

    rows = read_parquet_rows(columnar.out / "articles.parquet")
    assert rows == read_parquet_rows(by_rows.out / "articles.parquet")
    assert columnar.count == by_rows.count == len(rows) > old_rows > 0
    assert _manifest(columnar.out) == _manifest(by_rows.out)
    assert _manifest(columnar.out)["row_schema_versions"] == [OLD_VERSION, SCHEMA_VERSION]

    table = read_parquet_table(columnar.out / "articles.parquet")
    assert table.schema.remove_metadata() == arrow_schema(article_schema()).remove_metadata()
    old = [r for r in rows if r["schema_version"] == OLD_VERSION]
    assert len(old) == old_rows and {r["outlet"] for r in old} == {"asahi"}
    for row in old:
        assert all(row[name] is None for name in ADDED_IN_1_1), row["url"]
    current = [r for r in rows if r["schema_version"] == SCHEMA_VERSION]
    assert current and all(r["version"] is not None for r in current)
    # nulls in the Arrow columns too, exactly one per 1.0.0 row
    for name in ADDED_IN_1_1:
        assert table.column(name).null_count >= old_rows
    assert table.column("version").null_count == old_rows


def test_a_twin_whose_column_type_differs_sends_the_export_to_the_row_path(
    demo: Path, tmp_path: Path, taken: list[bool]
) -> None:
    root = _copy(demo, tmp_path / "retyped")
    article = _article_files(root, "jiji")[0]
    twin = root / parquet_twin(article.relative_to(root).as_posix())
    table = read_parquet_table(twin)
    at = table.schema.get_field_index("version")
    retyped = table.set_column(
        at, pa.field("version", pa.string()), table.column("version").cast(pa.string())
    )
    twin.unlink()
    pq.write_table(retyped, twin, compression="zstd")

    selection = Selection(outlets=("jiji",))
    fallen_back = export_selection(root, selection, "parquet", tmp_path / "retyped-out")
    by_rows = _by_rows(root, tmp_path, selection, "retyped")
    assert taken == [False, False]  # the twins are there, but one cannot be vouched for
    assert fallen_back.count == by_rows.count > 0
    rows = read_parquet_rows(fallen_back.out / "articles.parquet")
    assert rows == read_parquet_rows(by_rows.out / "articles.parquet")
    assert all(isinstance(r["version"], int) for r in rows)  # the JSON lines' values, not the twin's
    assert _manifest(fallen_back.out) == _manifest(by_rows.out)
    assert not list(tmp_path.glob(".retyped-out.partial-*"))


@pytest.mark.parametrize(
    "selection",
    [
        Selection(),
        Selection(outlets=("asahi",)),
        Selection(topics=("russia-dprk",)),
        Selection(since=date(2025, 3, 5), until=date(2025, 3, 15)),
        Selection(outlets=("jiji",), since=date(2025, 3, 1)),
        Selection(query="北朝鮮"),
    ],
    ids=["all", "outlet", "topic", "days", "outlet-since", "query"],
)
def test_select_located_gives_the_index_selection(demo: Path, selection: Selection) -> None:
    with open_index(demo) as index:
        ids, where = parquet_export.select_located(index, selection)
        assert ids == index.select_ids(selection)
        assert set(where) == set(ids)
        assert index.run_ids(ids) == sorted({where[i][5] for i in ids if where[i][5]})
        docs = {d["id"]: d for d in index.docs(ids)}
        for doc_id in ids:
            doc = docs[doc_id]
            assert where[doc_id] == (
                doc["jsonl"],
                doc["line"],
                doc["url"],
                doc["outlet"],
                doc["day"],
                doc["run_id"],
            )
