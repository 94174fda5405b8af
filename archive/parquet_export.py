"""The columnar path of a Parquet export (archive.export): the selected rows taken from the crawl's Parquet
twins, with no JSON decoded or converted per row.

Every crawl writes `<stem>.parquet` beside each article file, same rows in the same order, and the
article index knows the (file, line) of each selected doc (read by the selection's own query): the twins
holding the selection are read with pyarrow (those files only, several at once), the rows taken in
selection order and written in one go. The manifest's counts come from the index's columns and the
twins' rows, as the row path counts them row by row. Twins
of an older article schema miss the columns added since: those are added as nulls, which is what the row
path writes for a field a row lacks. Anything this path cannot vouch for (a twin missing or unreadable,
a column whose type differs, a twin whose rows are not the index's) returns None, and the export takes
the row path.
"""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from archive.article_index import ArticleIndex, Filters
from archive.export_counts import ExportCounts
from archive.export_formats import ROW_GROUP
from archive.parquet_out import COMPRESSION, arrow_schema, read_parquet_table
from archive.paths import parquet_twin
from archive.root_access import ArchiveRoot

# Twins are small (a few dozen rows of ~40 columns): reading one is mostly fixed costs in pyarrow, which
# releases the GIL. One file per thread, each read single-threaded (pyarrow's own threads for a file this
# small cost more than they give); a few more threads than cores, for twins read from a store.
_READERS = 4
_CHUNK = 20_000  # selected rows taken and written at a time

Where = dict[int, tuple[str, int, str, str, str, str]]
"""{doc id: (article file, line, url, outlet, JST day, run id)}"""


def _locations(index: ArticleIndex, ids: list[int]) -> Where:
    # One statement for the whole selection (json_each), not one per batch of ids.
    sql = (
        "SELECT id, jsonl, line, url, outlet, day, run_id FROM docs "
        "WHERE id IN (SELECT value FROM json_each(?))"
    )
    return {
        doc_id: (key, line, url, outlet, day, run_id)
        for doc_id, key, line, url, outlet, day, run_id in index.conn.execute(sql, (json.dumps(ids),))
    }


def select_located(index: ArticleIndex, selection: Filters) -> tuple[list[int], Where]:
    """The ids ArticleIndex.select_ids gives (same filters, same order) with each doc's location, read in
    the same statement: asking for the locations by id afterwards would fetch every selected docs row a
    second time (about as long as the selection itself)."""
    columns = "d.id, d.jsonl, d.line, d.url, d.outlet, d.day, d.run_id"
    ids: list[int] = []
    where: Where = {}
    for doc_id, key, line, url, outlet, day, run_id in index.select_columns(selection, columns):
        ids.append(doc_id)
        where[doc_id] = (key, line, url, outlet, day, run_id)
    return ids, where


def _read_twin(root: ArchiveRoot, key: str) -> pa.Table | None:
    twin = parquet_twin(key)
    try:
        local = root.local / twin
        if local.is_file():
            source: Path | io.BytesIO = local
        elif root.store is None:
            return None
        else:
            source = io.BytesIO(root.read_bytes(twin))
        return read_parquet_table(source)
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
    index: ArticleIndex,
    root: ArchiveRoot,
    ids: list[int],
    path: Path,
    json_schema: Mapping[str, Any],
    where: Where | None = None,
) -> ExportCounts | None:
    """Write the rows of `ids` (in that order) to `path` from the Parquet twins; the manifest's counts, or
    None (nothing left at `path`) when the twins cannot give exactly what the row path would. `where`:
    the docs' locations, when select_located gave them."""
    schema = arrow_schema(json_schema)
    if where is None:
        where = _locations(index, ids)
    if len(where) != len(ids):
        return None
    # By chunks of the selection, so memory is bounded by a chunk's twins, whatever the selection.
    chunks = [ids[start : start + _CHUNK] for start in range(0, len(ids), _CHUNK)]
    versions: set[str] = set()
    path = Path(path)
    with ThreadPoolExecutor(max_workers=_READERS) as pool, path.open("xb") as fh:
        reading = _read_chunk(pool, root, chunks[0], where) if chunks else []
        counts = _counts(ids, where)
        writer = pq.ParquetWriter(fh, schema, compression=COMPRESSION)
        for n, chunk in enumerate(chunks):
            if n:
                reading = _read_chunk(pool, root, chunk, where)
            table = _chunk_table([(key, future.result()) for key, future in reading], chunk, where, schema)
            if table is None:
                writer.close()
                fh.close()
                path.unlink()
                return None
            versions.update(str(v) for v in table.column("schema_version").unique().to_pylist())
            counts.topics.update(_accepted_topics(table.column("topics")))
            writer.write_table(table, row_group_size=ROW_GROUP)
        writer.close()
        fh.flush()
        os.fsync(fh.fileno())
    counts.schema_versions.update(versions)
    return counts


def _read_chunk(
    pool: ThreadPoolExecutor, root: ArchiveRoot, ids: list[int], where: Where
) -> list[tuple[str, Future[pa.Table | None]]]:
    """The twins holding these docs, each being read in the pool: (article file, future table)."""
    keys = dict.fromkeys(where[doc_id][0] for doc_id in ids)
    return [(key, pool.submit(_read_twin, root, key)) for key in keys]


def _chunk_table(
    tables: list[tuple[str, pa.Table | None]], ids: list[int], where: Where, schema: pa.Schema
) -> pa.Table | None:
    """The rows of `ids`, in that order, from their twins' tables; None unless they are the index's."""
    offsets: dict[str, tuple[int, int]] = {}  # key -> (first row in the concatenation, rows)
    conformed = []
    total = 0
    for key, table in tables:
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
    # Taken from the concatenation as it is (one chunk per twin): combining the chunks first copies every
    # column once more, and fresh memory is most of what a take costs (pyarrow 26, 10,000 rows in a new
    # process: 25-35 ms, 30-240 ms with combine_chunks first). One take per chunk of the selection: takes
    # by row group cost twice as much, each pays for the many chunks again.
    table = pa.concat_tables(conformed).take(pa.array(order, pa.int64()))
    urls = pa.array([where[doc_id][2] for doc_id in ids], pa.string())
    if table.column("url").null_count or not pc.all(pc.equal(table.column("url"), urls)).as_py():
        return None  # a twin whose rows are not the ones the index read: trust only the JSON lines
    return table


def _counts(ids: list[int], where: Where) -> ExportCounts:
    """The counts the index's columns give: articles, outlets, days and runs."""
    counts = ExportCounts(count=len(ids))
    counts.outlets.update(str(where[doc_id][3]) for doc_id in ids)
    days = sorted({where[doc_id][4] for doc_id in ids} - {"unknown"})
    if days:
        counts.first_day, counts.last_day = days[0], days[-1]
    # The runs the rows come from, as ArticleIndex.run_ids gives them.
    counts.runs = sorted({where[doc_id][5] for doc_id in ids if where[doc_id][5]})
    return counts


def _accepted_topics(topics: pa.ChunkedArray) -> Counter[str]:
    """{topic: rows accepted for it} over a `topics` column, as archive.article_index.accepted_topics
    counts a row: each name once per row, `str()` of a missing name. From the rows in Arrow, not from the
    index's doc_topics table: that query cost as much as a fifth of the whole export."""
    counted: Counter[str] = Counter()
    for chunk in topics.chunks:
        flat = pc.list_flatten(chunk)
        name, accepted = (flat.flatten()[flat.type.get_field_index(f)] for f in ("name", "accepted"))
        keep = pc.fill_null(accepted, False)
        rows = pc.list_parent_indices(chunk).filter(keep).to_pylist()
        names = name.filter(keep).to_pylist()
        counted.update(str(n) for _, n in set(zip(rows, names, strict=True)))
    return counted
