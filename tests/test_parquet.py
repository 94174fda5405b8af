"""Parquet twins of the JSONL partitions: same rows, one Arrow schema for every file."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from archive.jsonl import read_rows
from archive.parquet_out import read_parquet_rows, write_parquet
from archive.verify import verify_archive
from core.schema import article_schema
from tests.s3server import build_run


def test_round_trip_equals_the_jsonl_rows(tmp_path: Path) -> None:
    run = build_run(tmp_path / "root", articles=5)
    parquet = run.keys("parquet")
    assert all(j.endswith(".jsonl.gz") for j in run.keys("articles"))
    # `<run-id>-<outlet>-<n>.jsonl.gz` has the twin `<run-id>-<outlet>-<n>.parquet`
    assert [p.removesuffix(".parquet") for p in parquet] == [
        j.removesuffix(".jsonl.gz") for j in run.keys("articles")
    ]
    for rel in run.keys("articles"):
        rows = list(read_rows(run.root / rel))
        back = read_parquet_rows(run.root / rel.replace(".jsonl.gz", ".parquet"))
        assert back == rows
    # rows with None dates, empty lists and term->count maps all came through
    all_rows = [r for rel in parquet for r in read_parquet_rows(run.root / rel)]
    assert any(r["published_at"] is None for r in all_rows) and any(r["authors"] == [] for r in all_rows)
    assert all(isinstance(r["topics"][0]["matched"], dict) for r in all_rows)


def test_every_partition_file_has_the_same_arrow_schema(tmp_path: Path) -> None:
    run = build_run(tmp_path / "root", articles=4)
    schemas = {pq.read_schema(run.root / rel).remove_metadata().to_string() for rel in run.keys("parquet")}
    assert len(schemas) == 1
    schema = pq.read_schema(run.root / run.keys("parquet")[0])
    assert str(schema.field("topics").type).startswith(
        "list<element: struct<name: string, score: double, matched: map<string, int64"
    )
    assert str(schema.field("warc").type).startswith("struct<filename: string")


def test_rows_with_fields_outside_the_schema_are_refused(tmp_path: Path) -> None:
    run = build_run(tmp_path / "root", parquet=False)
    row = next(read_rows(run.root / run.keys("articles")[0]))
    row["warc"]["unexpected"] = 1
    with pytest.raises(ValueError, match="unexpected"):
        write_parquet([row], tmp_path / "x.parquet", json_schema=article_schema())
    assert not (tmp_path / "x.parquet").exists()


def test_verify_reads_the_parquet_twins(tmp_path: Path) -> None:
    run = build_run(tmp_path / "root")
    assert verify_archive(run.root).ok
    target = run.root / run.keys("parquet")[0]
    rows = read_parquet_rows(target)
    rows[0]["title"] = "違う見出し"
    target.unlink()
    write_parquet(rows, target, json_schema=article_schema())
    problems = "\n".join(verify_archive(run.root).problems)
    assert f"{run.keys('parquet')[0]}: rows differ from {run.keys('articles')[0]}" in problems
    assert f"manifest.json: {run.keys('parquet')[0]}: size " in problems
