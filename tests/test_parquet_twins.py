"""Parquet twins written in the same pass as the JSON lines: same rows, bounded buffers, never read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import archive.parquet_out
from archive.jsonl import JsonlPartitionWriter, read_rows
from archive.parquet_out import (
    ParquetTwins,
    read_parquet_rows,
    write_parquet_for_run,
)
from archive.paths import parquet_twin
from archive.recovery import recover_root
from archive.run import RunLedger
from core.schema import article_schema
from tests.s3server import build_run
from tests.test_catalog import killed_run


def sample_rows(tmp_path: Path) -> list[dict[str, Any]]:
    run = build_run(tmp_path / "sample", articles=6, parquet=False)
    return [row for rel in run.keys("articles") for row in read_rows(run.root / rel)]


def test_twins_hold_the_rows_of_their_json_lines_in_small_row_groups(tmp_path: Path) -> None:
    rows = sample_rows(tmp_path)
    root = tmp_path / "root"
    writer = JsonlPartitionWriter(root, "r1", twin=ParquetTwins(article_schema(), max_buffered_rows=2))
    for row in rows * 3:
        writer.write(row)
    parts = sorted(p.name for p in (root / "articles").rglob("*.open"))
    assert parts and all(p.endswith((".jsonl.gz.open", ".parquet.open")) for p in parts)
    assert not list((root / "articles").rglob("*.parquet")), "a twin looked complete before close"
    closed = writer.close()
    assert not list(root.rglob("*.open"))
    for rel in closed:
        twin = root / parquet_twin(rel)
        assert read_parquet_rows(twin) == list(read_rows(root / rel))
        assert pq.ParquetFile(twin).metadata.num_row_groups > 1  # the buffer was bounded


def test_a_row_parquet_cannot_hold_is_written_nowhere(tmp_path: Path) -> None:
    row = sample_rows(tmp_path)[0]
    row["warc"]["unexpected"] = 1
    writer = JsonlPartitionWriter(tmp_path / "root", "r1", twin=ParquetTwins(article_schema()))
    with pytest.raises(ValueError, match="unexpected"):
        writer.write(row)
    assert [list(read_rows(tmp_path / "root" / rel)) for rel in writer.close()] == [[]]


def test_run_lists_twins_written_in_the_pass_and_makes_the_missing_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = sample_rows(tmp_path)
    root = tmp_path / "root"
    ledger = RunLedger.for_run(root, "r1")
    streamed = JsonlPartitionWriter(root, "r1", twin=ParquetTwins(article_schema()))
    for row in rows:
        streamed.write(row)
    streamed_files = streamed.close()
    salvaged = JsonlPartitionWriter(root, "r1")  # as archive.recovery writes salvaged rows: no twin
    salvaged.write(rows[0])
    salvaged_files = salvaged.close()
    for rel in streamed_files + salvaged_files:
        ledger.add_file(rel, "articles")

    read_back: list[Path] = []
    original = archive.parquet_out.read_rows

    def spy(path: Path, **kwargs: Any) -> Any:
        read_back.append(Path(path))
        return original(path, **kwargs)

    monkeypatch.setattr(archive.parquet_out, "read_rows", spy)
    written = write_parquet_for_run(root, "r1", json_schema=article_schema())
    assert written == [parquet_twin(rel) for rel in streamed_files + salvaged_files]
    assert read_back == [root / rel for rel in salvaged_files]
    assert [(rel, kind) for rel, kind in ledger.files() if kind == "parquet"] == [
        (w, "parquet") for w in written
    ]
    for rel in streamed_files + salvaged_files:
        assert read_parquet_rows(root / parquet_twin(rel)) == list(read_rows(root / rel))


def test_recovery_removes_the_parquet_parts_of_a_killed_run_only(tmp_path: Path) -> None:
    root, (_open_warc, open_rows) = killed_run(tmp_path)
    dead_part = open_rows.removesuffix(".jsonl.gz.open") + ".parquet.open"
    (root / dead_part).write_bytes(b"PAR1")
    # Another run's files in the same partition, still being written: never touched.
    live_rows = Path(open_rows).with_name("r5-jiji-00000.jsonl.gz.open").as_posix()
    live_part = Path(open_rows).with_name("r5-jiji-00000.parquet.open").as_posix()
    (root / live_rows).write_bytes(b"")
    (root / live_part).write_bytes(b"PAR1")
    report = recover_root(root)
    assert sorted(report.removed_open_rows) == sorted([open_rows, dead_part])
    assert not (root / dead_part).exists()
    assert (root / live_rows).exists() and (root / live_part).exists()


def test_a_stem_with_a_leftover_parquet_is_not_reused(tmp_path: Path) -> None:
    row = sample_rows(tmp_path)[0]
    root = tmp_path / "root"
    first = JsonlPartitionWriter(root, "r1")
    first.write(row)
    [rel] = first.close()
    (root / rel).unlink()  # its twin stays: the stem is still taken
    (root / parquet_twin(rel)).write_bytes(b"PAR1")
    second = JsonlPartitionWriter(root, "r1", twin=ParquetTwins(article_schema()))
    second.write(row)
    [again] = second.close()
    assert again != rel and again.endswith("-00001.jsonl.gz")
