"""The row formats of an export bundle (archive.export): JSON lines, CSV and Parquet, each written row by
row so an export of any size holds only a small buffer in memory.

- JSON lines: the archived rows unchanged, one per line, UTF-8 (`articles.jsonl`).
- CSV: one row per article, the flat columns of CSV_COLUMNS (documented in docs/export.md); nested
  values (lists, objects) as JSON text, the WARC pointer spread over `warc_*` columns, `true`/`false`
  for booleans, an empty cell for null. UTF-8 without BOM, RFC 4180 quoting, `\\r\\n` line ends.
- Parquet: the Arrow schema the crawl's Parquet twins use (archive.parquet_out, derived from the article
  JSON Schema, which travels in the file metadata), zstd, row groups of ROW_GROUP rows.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from archive.jsonl import encode_line
from archive.paths import jst_date

ROW_GROUP = 2000

# Top-level fields of the row by name, two derived columns (published_day, accepted_topics), and the WARC
# pointer's fields as warc_<field>. A test checks that every field of the article schema has its column.
CSV_COLUMNS: tuple[str, ...] = (
    "url",
    "outlet",
    "title",
    "published_at",
    "published_day",
    "modified_at",
    "accepted_topics",
    "topics",
    "subtitle",
    "lead",
    "text",
    "authors",
    "section",
    "tags",
    "images",
    "access",
    "body_complete",
    "language",
    "charset",
    "discovered_via",
    "extraction",
    "text_hash",
    "story_cluster_id",
    "version",
    "previous_version_id",
    "changes",
    "fetched_url",
    "fetched_at",
    "run_id",
    "schema_version",
    "warc_path",
    "warc_filename",
    "warc_offset",
    "warc_length",
    "warc_record_id",
    "warc_payload_digest",
    "warc_target_uri",
    "warc_date",
)


class RowWriter(Protocol):
    def write(self, row: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def csv_record(row: Mapping[str, Any]) -> list[str]:
    """The CSV cells of one article row, in CSV_COLUMNS order."""
    pointer = row.get("warc") if isinstance(row.get("warc"), dict) else {}
    derived = {
        "published_day": jst_date(row.get("published_at")),
        "accepted_topics": ";".join(
            sorted(
                str(t.get("name"))
                for t in row.get("topics") or []
                if isinstance(t, dict) and t.get("accepted")
            )
        ),
    }
    cells = []
    for column in CSV_COLUMNS:
        if column in derived:
            cells.append(derived[column])
        elif column.startswith("warc_"):
            cells.append(_cell((pointer or {}).get(column.removeprefix("warc_"))))
        else:
            cells.append(_cell(row.get(column)))
    return cells


class JsonlWriter:
    def __init__(self, path: Path) -> None:
        self._fh: IO[bytes] = Path(path).open("xb")

    def write(self, row: Mapping[str, Any]) -> None:
        self._fh.write(encode_line(row))

    def close(self) -> None:
        self._fh.close()


class CsvWriter:
    def __init__(self, path: Path) -> None:
        self._fh = Path(path).open("x", encoding="utf-8", newline="")
        self._csv = csv.writer(self._fh, lineterminator="\r\n")
        self._csv.writerow(CSV_COLUMNS)

    def write(self, row: Mapping[str, Any]) -> None:
        self._csv.writerow(csv_record(row))

    def close(self) -> None:
        self._fh.close()


class ParquetWriter:
    """Rows converted as the crawl's Parquet twins convert them, so both read as one dataset."""

    def __init__(self, path: Path, json_schema: Mapping[str, Any]) -> None:
        from archive.parquet_out import ParquetTwin, ParquetTwins

        self._twin = ParquetTwin(Path(path), ParquetTwins(json_schema, max_buffered_rows=ROW_GROUP))

    def write(self, row: Mapping[str, Any]) -> None:
        self._twin.write(row)

    def close(self) -> None:
        self._twin.close()


ROW_FORMATS = {"jsonl": "articles.jsonl", "csv": "articles.csv", "parquet": "articles.parquet"}


def open_writer(fmt: str, path: Path, json_schema: Mapping[str, Any]) -> RowWriter:
    if fmt == "jsonl":
        return JsonlWriter(path)
    if fmt == "csv":
        return CsvWriter(path)
    if fmt == "parquet":
        return ParquetWriter(path, json_schema)
    raise ValueError(f"unknown row format {fmt!r}")
