"""The columnar path of a Parquet export (archive.export): the selected rows taken from the crawl's Parquet
twins, with no JSON decoded or converted per row.

Every crawl writes `<stem>.parquet` beside each article file, same rows in the same order, and the
article index knows the (file, line) of each selected doc: the twins holding the selection are read with
pyarrow (those files only), the rows taken, concatenated in selection order and written in one go. Twins
of an older article schema miss the columns added since: those are added as nulls, which is what the row
path writes for a field a row lacks. Anything this path cannot vouch for (a twin missing or unreadable,
a column whose type differs, a twin whose rows are not the index's) returns None, and the export takes
the row path.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from archive.article_index import ArticleIndex
from archive.export_counts import ExportCounts
from archive.export_formats import ROW_GROUP
from archive.parquet_out import COMPRESSION, arrow_schema
from archive.paths import parquet_twin
from archive.root_access import ArchiveRoot

_BATCH = 500
_READERS = 4
_CHUNK = 20_000  # selected rows taken and written at a time


def _locations(index: ArticleIndex, ids: list[int]) -> dict[int, tuple[str, int, str, str, str]]:
    """{doc id: (article file, line, url, outlet, JST day)}."""
    found: dict[int, tuple[str, int, str, str, str]] = {}
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        sql = f"SELECT id, jsonl, line, url, outlet, day FROM docs WHERE id IN ({','.join('?' * len(chunk))})"
        for doc_id, key, line, url, outlet, day in index.conn.execute(sql, chunk):
            found[doc_id] = (key, line, url, outlet, day)
    return found


def _read_twin(root: ArchiveRoot, key: str) -> pa.Table | None:
    twin = parquet_twin(key)
    try:
        local = root.local / twin
        if local.is_file():
            # ParquetFile.read: about half the fixed cost of pq.read_table (datasets API) per file.
            return pq.ParquetFile(local).read()
        if root.store is None:
            return None
        return pq.ParquetFile(io.BytesIO(root.read_bytes(twin))).read()
    except Exception:  # a twin that is missing or unreadable: the row path reads the JSON lines instead
        return None


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table | None:
    """The table with the target schema's columns, in its order; None when a column's type differs or the
    table has a column the target lacks (the row path would refuse such rows)."""
    if table.schema.equals(schema, check_metadata=False):
        return table
    names = set(schema.names)
    if any(name not in names for name in table.column_names):
        return None
    columns = []
    for target in schema:
        if target.name in table.column_names:
            column = table.column(target.name)
            if column.type != target.type:
                return None
            columns.append(column)
        else:
            columns.append(pa.nulls(table.num_rows, target.type))
    return pa.Table.from_arrays(columns, schema=schema)


def write_columnar(
    index: ArticleIndex, root: ArchiveRoot, ids: list[int], path: Path, json_schema: Mapping[str, Any]
) -> ExportCounts | None:
    """Write the rows of `ids` (in that order) to `path` from the Parquet twins; the manifest's counts, or
    None (nothing left at `path`) when the twins cannot give exactly what the row path would."""
    schema = arrow_schema(json_schema)
    where = _locations(index, ids)
    if len(where) != len(ids):
        return None
    versions: set[str] = set()
    path = Path(path)
    with path.open("xb") as fh:
        writer = pq.ParquetWriter(fh, schema, compression=COMPRESSION)
        # By chunks of the selection, so memory is bounded by a chunk's twins, whatever the selection.
        for start in range(0, len(ids), _CHUNK):
            table = _chunk_table(root, ids[start : start + _CHUNK], where, schema)
            if table is None:
                writer.close()
                fh.close()
                path.unlink()
                return None
            versions.update(str(v) for v in table.column("schema_version").unique().to_pylist())
            writer.write_table(table, row_group_size=ROW_GROUP)
        writer.close()
        fh.flush()
        os.fsync(fh.fileno())
    return _counts(index, ids, where, versions)


def _chunk_table(
    root: ArchiveRoot, ids: list[int], where: dict[int, tuple[str, int, str, str, str]], schema: pa.Schema
) -> pa.Table | None:
    keys = list(dict.fromkeys(where[doc_id][0] for doc_id in ids))
    # Reading is mostly pyarrow's decoding, which releases the GIL: a few files at once.
    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        tables = list(pool.map(lambda key: _read_twin(root, key), keys))
    offsets: dict[str, tuple[int, int]] = {}  # key -> (first row in the concatenation, rows)
    conformed = []
    total = 0
    for key, table in zip(keys, tables, strict=True):
        fitted = None if table is None else _conform(table, schema)
        if fitted is None:
            return None
        conformed.append(fitted)
        offsets[key] = (total, fitted.num_rows)
        total += fitted.num_rows
    order = []
    for doc_id in ids:
        key, line, *_ = where[doc_id]
        first, rows = offsets[key]
        if line > rows:
            return None
        order.append(first + line - 1)
    # One chunk before the take: taking from a table of many small chunks costs about twice as much.
    table = pa.concat_tables(conformed).combine_chunks().take(pa.array(order, pa.int64()))
    if table.column("url").to_pylist() != [where[doc_id][2] for doc_id in ids]:
        return None  # a twin whose rows are not the ones the index read: trust only the JSON lines
    return table


def _counts(
    index: ArticleIndex, ids: list[int], where: dict[int, tuple[str, int, str, str, str]], versions: set[str]
) -> ExportCounts:
    counts = ExportCounts(count=len(ids))
    counts.outlets.update(str(where[doc_id][3]) for doc_id in ids)
    # doc_topics holds each doc's accepted topics (archive.article_index.accepted_topics). One scan of its
    # (topic, doc_id) index: it has none by doc_id, so asking by batches of ids would scan it per batch.
    sql = (
        "SELECT topic, COUNT(DISTINCT doc_id) FROM doc_topics "
        "WHERE doc_id IN (SELECT value FROM json_each(?)) GROUP BY topic"
    )
    counts.topics.update(dict(index.conn.execute(sql, (json.dumps(ids),)).fetchall()))
    counts.schema_versions.update(versions)
    days = sorted({where[doc_id][4] for doc_id in ids} - {"unknown"})
    if days:
        counts.first_day, counts.last_day = days[0], days[-1]
    return counts
