"""Article rows as Parquet, beside each JSONL partition file (`<stem>.jsonl.gz` -> `<stem>.parquet`), for DuckDB / pandas / Spark users.

The Arrow schema is derived from the article JSON Schema, not inferred from the rows: inference would
give each partition file a different schema (an empty list has no item type, a term->count object
would become a struct with one field per term), which breaks reading `articles/**/*.parquet` as one
dataset. Mapping: objects with declared properties -> struct; objects of one value type (term -> count)
-> map; arrays -> list; values of any type (Any) -> a JSON text column. The JSON Schema travels in the
file metadata, so `read_parquet_rows` gives back exactly the JSON rows.

A crawl writes each twin in the same pass as its JSON lines (ParquetTwins, given to the JSONL partition
writer): rows are buffered in small batches and written as row groups, so the JSON lines are never read
back and memory stays bounded. Files written without a twin (rows salvaged after a crash) get theirs from
write_parquet_for_run, which reads them back.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from archive.jsonl import read_rows
from archive.paths import (
    OPEN_SUFFIX,
    is_row_file,
    parquet_twin,
    rename_no_replace,
    resolve_inside,
)
from archive.run import RunLedger

SCHEMA_META_KEY = b"newsarchive.json_schema"
PARQUET_KIND = "parquet"
COMPRESSION = "zstd"
# Rows held in memory by all the twins of one writer together, before the fullest is written out as a row
# group: article rows are a few kB to a few tens of kB, so this caps the buffers at some tens of MB.
MAX_BUFFERED_ROWS = 1000


_CONVERTED = frozenset({"json", "struct", "map", "array"})  # kinds whose values need converting


class _Mapper:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        # id(schema node) -> converter; the nodes live as long as `root`, which this mapper holds.
        self._converters: dict[int, Callable[[Any, str], Any]] = {}

    def resolve(self, js: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in js:
            node: Any = self.root
            for part in str(js["$ref"]).removeprefix("#/").split("/"):
                node = node[part]
            js = node
        return js

    def _types(self, js: Mapping[str, Any]) -> list[str]:
        t = js.get("type")
        return [t] if isinstance(t, str) else list(t or [])

    def kind(self, js: Mapping[str, Any]) -> str:
        """One of: string, integer, number, boolean, array, struct, map, json."""
        js = self.resolve(js)
        types = [t for t in self._types(js) if t != "null"]
        if len(types) != 1 or "anyOf" in js:
            return "json"
        t = types[0]
        if t == "object":
            if js.get("properties"):
                return "struct"
            extra = js.get("additionalProperties", True)
            return "map" if isinstance(extra, Mapping) and self.kind(extra) != "json" else "json"
        if t == "array":
            return "array" if isinstance(js.get("items"), Mapping) else "json"
        return t

    def arrow_type(self, js: Mapping[str, Any]) -> pa.DataType:
        js = self.resolve(js)
        kind = self.kind(js)
        if kind == "struct":
            return pa.struct([pa.field(k, self.arrow_type(v)) for k, v in js["properties"].items()])
        if kind == "map":
            return pa.map_(pa.string(), self.arrow_type(js["additionalProperties"]))
        if kind == "array":
            return pa.list_(self.arrow_type(js["items"]))
        simple = {"string": pa.string(), "integer": pa.int64(), "number": pa.float64(), "boolean": pa.bool_()}
        return simple.get(kind, pa.string())  # json -> text

    def to_arrow(self, value: Any, js: Mapping[str, Any], where: str) -> Any:
        return self.converter(js)(value, where)

    def converter(self, js: Mapping[str, Any]) -> Callable[[Any, str], Any]:
        """A function turning a JSON value of schema `js` into its Arrow-ready value. Built once per schema
        node: resolving `$ref`s and deciding the kind for every value of every row was most of the cost
        of writing Parquet (issue 11: exports over 20,000 articles/s)."""
        key = id(js)
        found = self._converters.get(key)
        if found is None:
            found = self._converters[key] = self._build(self.resolve(js))
        return found

    def _build(self, js: Mapping[str, Any]) -> Callable[[Any, str], Any]:
        kind = self.kind(js)
        if kind == "json":
            return lambda value, where: None if value is None else json.dumps(value, ensure_ascii=False)
        if kind == "struct":
            # Plain values (strings, numbers, booleans) are copied as they are, without a call each.
            plain = [k for k, v in js["properties"].items() if self.kind(v) not in _CONVERTED]
            props = [(k, self.converter(v)) for k, v in js["properties"].items() if k not in plain]
            names = frozenset(js["properties"])

            def struct(value: Any, where: str) -> Any:
                if value is None:
                    return None
                if not names.issuperset(value):
                    unknown = sorted(set(value) - names)
                    raise ValueError(
                        f"{where}: fields {unknown} are not in the schema; Parquet would drop them"
                    )
                get = value.get
                out = {k: get(k) for k in plain}
                # Children get the row's label as is: a path string per value would cost more than the
                # conversion; an error names the unknown fields, which is what a reader needs.
                for k, convert in props:
                    out[k] = convert(get(k), where)
                return out

            return struct
        if kind == "map":
            item = self.converter(js["additionalProperties"])
            return lambda value, where: (
                None if value is None else [(k, item(v, where)) for k, v in value.items()]
            )
        if kind == "array":
            element = self.converter(js["items"])
            return lambda value, where: None if value is None else [element(v, where) for v in value]
        return lambda value, where: value

    def from_arrow(self, value: Any, js: Mapping[str, Any], present: bool = True) -> Any:
        js = self.resolve(js)
        kind = self.kind(js)
        if value is None:
            return None
        if kind == "json":
            return json.loads(value)
        if kind == "struct":
            return {k: self.from_arrow(value.get(k), v) for k, v in js["properties"].items()}
        if kind == "map":
            return {k: self.from_arrow(v, js["additionalProperties"]) for k, v in value}
        if kind == "array":
            return [self.from_arrow(v, js["items"]) for v in value]
        return value


def write_parquet(
    rows: Iterable[Mapping[str, Any]], path: Path, *, json_schema: Mapping[str, Any] | None = None
) -> int:
    """Write rows to `path` (as `<path>.open`, renamed when complete; never overwrites). With a JSON
    Schema the Arrow schema follows it; without, pyarrow infers one. Returns the number of rows."""
    rows = list(rows)
    path = Path(path)
    if json_schema is not None:
        mapper = _Mapper(json_schema)
        data = [mapper.to_arrow(dict(row), json_schema, f"row {i}") for i, row in enumerate(rows)]
        table = pa.Table.from_pylist(data, schema=arrow_schema(json_schema))
    else:
        table = pa.Table.from_pylist([dict(r) for r in rows])
    open_path = path.with_name(path.name + OPEN_SUFFIX)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, open_path, compression=COMPRESSION)
    with open_path.open("rb+") as fh:
        os.fsync(fh.fileno())
    rename_no_replace(open_path, path)
    return len(rows)


def arrow_schema(json_schema: Mapping[str, Any]) -> pa.Schema:
    """The Arrow schema of rows following `json_schema`, which travels in its metadata."""
    mapper = _Mapper(json_schema)
    return pa.schema(
        [pa.field(name, mapper.arrow_type(sub)) for name, sub in json_schema["properties"].items()],
        metadata={SCHEMA_META_KEY: json.dumps(json_schema, ensure_ascii=False).encode("utf-8")},
    )


class ParquetTwin:
    """The Parquet twin of one JSONL partition file, written while the rows are (archive.jsonl's RowSink).

    Written as `<name>.open` and renamed by close(), never over an existing file. Rows wait in a small
    buffer (its size set by the ParquetTwins budget) and go out as row groups.
    """

    def __init__(self, path: Path, owner: ParquetTwins) -> None:
        self.path = Path(path)
        self._owner = owner
        self._open_path = self.path.with_name(self.path.name + OPEN_SUFFIX)
        self._buffer: list[dict[str, Any]] = []
        # "xb": a leftover part under this name is somebody's; never write over it.
        self._fh = self._open_path.open("xb")
        self._writer = pq.ParquetWriter(self._fh, owner.schema, compression=COMPRESSION)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def write(self, row: Mapping[str, Any]) -> None:
        """Convert the row now, so a row Parquet cannot hold fails before its JSON line is written."""
        json_schema = self._owner.json_schema
        self._buffer.append(
            self._owner.mapper.to_arrow(dict(row), json_schema, f"row for {row.get('url', '?')}")
        )
        self._owner.note_buffered(self)

    def flush(self) -> None:
        if self._buffer:
            rows, self._buffer = self._buffer, []
            self._writer.write_table(pa.Table.from_pylist(rows, schema=self._owner.schema))

    def close(self) -> None:
        self.flush()
        self._owner.forget(self)
        self._writer.close()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        rename_no_replace(self._open_path, self.path)


class ParquetTwins:
    """Opens the Parquet twin of each JSONL partition file a writer creates (archive.jsonl's `twin`), and
    keeps the rows all its twins buffer together under `max_buffered_rows`."""

    def __init__(self, json_schema: Mapping[str, Any], *, max_buffered_rows: int = MAX_BUFFERED_ROWS) -> None:
        self.json_schema = json_schema
        self.mapper = _Mapper(json_schema)
        self.schema = arrow_schema(json_schema)
        self.max_buffered_rows = max_buffered_rows
        self._live: list[ParquetTwin] = []
        self._lock = threading.Lock()

    def __call__(self, rows_path: Path) -> ParquetTwin:
        twin = ParquetTwin(rows_path.parent / parquet_twin(rows_path.name), self)
        with self._lock:
            self._live.append(twin)
        return twin

    def note_buffered(self, twin: ParquetTwin) -> None:
        with self._lock:
            total = sum(t.buffered for t in self._live)
            fullest = max(self._live, key=lambda t: t.buffered, default=twin)
        if total >= self.max_buffered_rows:
            fullest.flush()

    def forget(self, twin: ParquetTwin) -> None:
        with self._lock:
            if twin in self._live:
                self._live.remove(twin)


def read_parquet_table(source: Path | IO[bytes]) -> pa.Table:
    """A whole Parquet file, read on this thread.

    Not pq.read_table: it leaves work on Arrow's thread pool after it returns, and a short command (verify)
    that exits then can abort in C++ ("terminate called without an active exception", exit 134; seen about
    one run in fifteen under load; apache/arrow#34314, #33975). Without pre-buffering, too: it hands each
    column's bytes over through Arrow's I/O threads, more CPU than it saves on a small local or in-memory
    file. ParquetFile.read also costs about half of pq.read_table's (datasets API) fixed cost per file.
    """
    return pq.ParquetFile(source, pre_buffer=False).read(use_threads=False)


def read_parquet_rows(path: Path | IO[bytes]) -> list[dict[str, Any]]:
    """The rows back as JSON values (maps as objects, JSON text columns parsed)."""
    table = read_parquet_table(path)
    meta = table.schema.metadata or {}
    rows: list[dict[str, Any]] = table.to_pylist()
    if SCHEMA_META_KEY not in meta:
        return rows
    json_schema = json.loads(meta[SCHEMA_META_KEY])
    mapper = _Mapper(json_schema)
    return [mapper.from_arrow(row, json_schema) for row in rows]


def _row_schema(root: Path, rows: list[dict[str, Any]]) -> Mapping[str, Any] | None:
    versions = {row.get("schema_version") for row in rows}
    if len(versions) != 1 or None in versions:
        return None
    path = root / "schema" / f"article-{versions.pop()}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def write_parquet_for_run(
    root: Path, run_id: str, *, json_schema: Mapping[str, Any] | None = None
) -> list[str]:
    """Give every JSONL file of the run (as the run ledger lists them) its `.parquet` and add them to the
    ledger, so the manifest lists them. Call it after the crawl, before write_manifest.

    A twin written in the same pass as its rows (ParquetTwins) is only listed; the rows of a file that has
    none (salvaged after a crash, written by a writer without twins) are read back and written. Without
    `json_schema`, the schema the rows name is read from the root's schema/ folder."""
    root = Path(root)
    ledger = RunLedger.for_run(root, run_id)
    written = []
    for rel, kind in ledger.files():
        if kind != "articles" or not is_row_file(rel):
            continue
        target_rel = parquet_twin(rel)
        # The writer allocates a stem only when neither its rows nor its twin exist: a twin here is this file's.
        if not resolve_inside(root, target_rel).is_file():
            rows = list(read_rows(resolve_inside(root, rel)))
            write_parquet(
                rows, resolve_inside(root, target_rel), json_schema=json_schema or _row_schema(root, rows)
            )
        ledger.add_file(target_rel, PARQUET_KIND)
        written.append(target_rel)
    return written
