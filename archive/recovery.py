"""Repair what a crashed run left in an archive root, and give back the article rows it lost.

A run killed with SIGKILL leaves `*.warc.gz.open` files (each record was flushed as it was written, so
the complete gzip members survive) and `*.jsonl.gz.open` files whose rows were still in the process's
write buffer, partly or wholly lost. Every kept article was written as a metadata record holding its
full JSON row *before* its JSONL row (pipelines/store.py), right after its response record. So the
surviving metadata records of the dead run are a superset of its surviving rows, and each one's
pointer leads to a response that precedes it in the WARC: re-creating the dead run's rows from its
metadata records loses nothing and points nowhere invalid. Its `.jsonl.gz.open` files are then deleted.

Which run is dead is read from the WARC files, not guessed: a `.warc.gz.open` whose writing process is
gone (archive.warc_repair's owner check) names its run in the warcinfo record (`isPartOf`). A
`.jsonl.gz.open` of any other run is left alone (it may belong to a live crawl).
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.cdxj import cdxj_path_for, index_missing, read_cdxj
from archive.jsonl import JsonlPartitionWriter, iter_row_files, read_rows
from archive.paths import (
    ARTICLES_DIR,
    OPEN_SUFFIX,
    PARQUET_SUFFIX,
    ROW_FILE_SUFFIXES,
    WARC_DIR,
    fsync_dir,
    relpath,
)
from archive.readback import read_record
from archive.warc_records import METADATA_URI_PREFIX
from archive.warc_repair import _owner_is_gone
from archive.warc_writer import WarcWriter

logger = logging.getLogger(__name__)

WARC_SUFFIX = ".warc.gz"


@dataclass
class RecoveryReport:
    dead_runs: list[str] = field(default_factory=list)
    repaired_warcs: list[str] = field(default_factory=list)  # archive-relative, final names
    indexes: list[str] = field(default_factory=list)
    salvaged_files: list[str] = field(default_factory=list)  # new closed JSONL files of dead runs
    salvaged_rows: int = 0
    # the dead runs' `.jsonl.gz.open` files and the `.parquet.open` twins that were being written beside them
    removed_open_rows: list[str] = field(default_factory=list)


def warcinfo_fields(path: Path) -> dict[str, str]:
    """The warcinfo record's fields of a WARC file (its first gzip member), even of a `.open` file."""
    decomp = zlib.decompressobj(zlib.MAX_WBITS + 16)
    out = b""
    with path.open("rb") as fh:
        while not decomp.eof and len(out) < (1 << 20):
            chunk = fh.read(1 << 16)
            if not chunk:
                break
            try:
                out += decomp.decompress(chunk)
            except zlib.error:
                break
    fields: dict[str, str] = {}
    _, _, block = out.partition(b"\r\n\r\n")
    for line in block.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            fields.setdefault(name.strip(), value.strip())
    return fields


def run_of(path: Path) -> str:
    """The run id a WARC file was written for ("" when its warcinfo does not say)."""
    return warcinfo_fields(path).get("isPartOf", "")


def dead_runs(root: Path) -> list[str]:
    """Runs that left a `.warc.gz.open` file whose writer is gone (crashed, killed)."""
    runs: set[str] = set()
    folder = Path(root) / WARC_DIR
    if not folder.is_dir():
        return []
    for open_path in sorted(folder.rglob(f"*{WARC_SUFFIX}{OPEN_SUFFIX}")):
        if _owner_is_gone(open_path) and (run := run_of(open_path)):
            runs.add(run)
    return sorted(runs)


def recover_root(root: Path) -> RecoveryReport:
    """Repair leftover WARC files, index them, and re-create the lost rows of the runs that left them.

    Idempotent: a second call finds nothing to do. A crash *during* this call between the WARC repair and
    the end of the salvage leaves the dead run's `.jsonl.gz.open` files (no longer recognisable as dead);
    `newsarchive verify` reports them.
    """
    root = Path(root)
    report = RecoveryReport(dead_runs=dead_runs(root))
    report.repaired_warcs = [relpath(root, p) for p in WarcWriter.recover_open_files(root)]
    report.indexes = [relpath(root, p) for p in index_missing(root)]
    for run_id in report.dead_runs:
        files, rows = salvage_rows(root, run_id)
        report.salvaged_files += files
        report.salvaged_rows += rows
        for open_rows in _open_row_files(root, run_id):
            open_rows.unlink()
            fsync_dir(open_rows.parent)
            report.removed_open_rows.append(relpath(root, open_rows))
    return report


def _open_row_files(root: Path, run_id: str) -> list[Path]:
    """The run's article files still under their `.open` name (plain ones of older writers included),
    with their Parquet twins: the salvaged rows get new twins from archive.parquet_out."""
    folder = root / ARTICLES_DIR
    if not folder.is_dir():
        return []
    suffixes = tuple(suffix + OPEN_SUFFIX for suffix in (*ROW_FILE_SUFFIXES, PARQUET_SUFFIX))
    return sorted(p for p in folder.rglob(f"{run_id}-*{OPEN_SUFFIX}") if p.name.endswith(suffixes))


def _metadata_rows(root: Path, run_id: str) -> Iterator[dict[str, Any]]:
    """The article rows held by the metadata records of the run's closed WARC files, in write order."""
    folder = root / WARC_DIR
    for warc_path in sorted(folder.rglob(f"*{WARC_SUFFIX}")) if folder.is_dir() else []:
        index = cdxj_path_for(warc_path)
        if not index.exists() or run_of(warc_path) != run_id:
            continue
        lines = [
            line for line in read_cdxj(index) if line.fields.get("url", "").startswith(METADATA_URI_PREFIX)
        ]
        for line in sorted(lines, key=lambda item: int(item.fields["offset"])):
            record = read_record(warc_path, int(line.fields["offset"]), int(line.fields["length"]))
            try:
                row = json.loads(record.payload.decode("utf-8"))
            except ValueError:
                logger.warning("%s @ %s: metadata record is not JSON", warc_path, line.fields["offset"])
                continue
            if isinstance(row, dict) and row.get("run_id") == run_id:
                yield row


def _row_key(row: dict[str, Any]) -> tuple[str, str]:
    pointer = row.get("warc") or {}
    return (str(row.get("fetched_url") or row.get("url")), str(pointer.get("record_id", "")))


def salvage_rows(root: Path, run_id: str) -> tuple[list[str], int]:
    """Write the rows of `run_id` found in its metadata records that no closed JSONL file of the run
    holds yet (so a repeated salvage adds nothing) into new closed JSONL files named for that run.
    Returns the files written (archive-relative) and the number of rows."""
    root = Path(root)
    present: set[tuple[str, str]] = set()
    for path in iter_row_files(root, run_id=run_id):
        present.update(_row_key(row) for row in read_rows(path))
    writer = JsonlPartitionWriter(root, run_id)
    count = 0
    try:
        for row in _metadata_rows(root, run_id):
            key = _row_key(row)
            if key in present or not _pointer_is_closed(root, row):
                continue
            present.add(key)
            writer.write(row)
            count += 1
    finally:
        files = writer.close()
    return files, count


def _pointer_is_closed(root: Path, row: dict[str, Any]) -> bool:
    """A row may only point into a WARC file under its final name (complete or repaired)."""
    pointer = row.get("warc") or {}
    path = pointer.get("path")
    return bool(path) and not str(path).endswith(OPEN_SUFFIX) and (root / str(path)).is_file()
