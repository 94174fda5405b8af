"""Article rows as gzip-compressed JSON lines, one file per (outlet, published day) partition and writer,
and the one reader of such files every other module uses.

A file is written as `<name>.jsonl.gz.open` and renamed when closed, so a consumer listing the folder
never reads a half-written file under its final name. Each file is a single gzip member (it is written
once and closed at the end of the run) at level 6, with no name and mtime 0 in its header, so the same
rows always give the same bytes (and the same sha256 in a manifest). It is a `.gz` object, not a
transfer encoding: it must never be stored with `Content-Encoding: gzip`.

A writer may be given a `twin` factory (archive.parquet_out.ParquetTwins): each partition file then
gets a companion written from the same rows in the same pass (its Parquet twin), created after the JSON
lines part and completed before it, so the rows are never read back.

The stdlib gzip module is used: it is the reference implementation and the files are small enough
that nothing faster is needed.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from archive.jsonvalidate import errors
from archive.paths import (
    ARTICLES_DIR,
    OPEN_SUFFIX,
    PARQUET_SUFFIX,
    ROW_FILE_SUFFIXES,
    ROWS_SUFFIX,
    article_relpath,
    jst_date,
    rename_no_replace,
    safe_component,
)

logger = logging.getLogger(__name__)

GZIP_LEVEL = 6
_GZIP_MAGIC = b"\x1f\x8b"

# Number allocation must see every writer of the process, or two could pick the same free name.
_allocation_lock = threading.Lock()


class RowFileError(ValueError):
    """An article file that cannot be read as (gzip-compressed) UTF-8 JSON lines."""


def iter_lines(source: Path | str | bytes) -> Iterator[tuple[int, str]]:
    """Every line of an article file (a path, or the file's bytes), numbered from 1, without its newline.

    Compressed or plain is told from the content (gzip magic), not the name, so an object read from a
    store needs no key. Lines end at "\\n" only: JSON text may hold U+2028 and other characters that
    str.splitlines() would also split on. Damage (bad gzip, truncated member, invalid UTF-8) raises
    RowFileError, after the lines read before it.
    """
    raw: IO[bytes] = io.BytesIO(source) if isinstance(source, bytes) else Path(source).open("rb")
    try:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        binary: IO[bytes] | gzip.GzipFile = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="strict", newline="\n")
        try:
            for lineno, line in enumerate(text, start=1):
                yield lineno, line.removesuffix("\n")
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
            raise RowFileError(f"{_where(source)}unreadable ({type(exc).__name__}: {exc})") from exc
    finally:
        raw.close()


def read_rows(source: Path | str | bytes, *, skip_bad_lines: bool = False) -> Iterator[dict[str, Any]]:
    """The rows of an article file (`.jsonl.gz`, or plain `.jsonl` of older archives), blank lines
    skipped. A line that is not a JSON object raises RowFileError, or with `skip_bad_lines` is logged and
    skipped (for readers that would rather use what is there, e.g. seeding an index)."""
    for lineno, line in iter_lines(source):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            row, problem = None, f"not JSON ({exc})"
        else:
            problem = "" if isinstance(row, dict) else "not a JSON object"
        if not problem:
            yield row
        elif skip_bad_lines:
            logger.warning("%sline %d: skipping a line that is %s", _where(source), lineno, problem)
        else:
            raise RowFileError(f"{_where(source)}line {lineno} is {problem}")


def iter_row_files(root: Path | str, *, day: str = "*", run_id: str | None = None) -> Iterator[Path]:
    """Closed article files under an archive root (both suffixes; `.open` files never), optionally of one
    day partition and one run, in name order: names start with the run id, so the oldest run comes first."""
    folder = Path(root) / ARTICLES_DIR
    if not folder.is_dir():
        return
    prefix = f"{run_id}-" if run_id else ""
    found = [
        path
        for path in folder.glob(f"outlet=*/date={day}/{prefix}*")
        if path.name.endswith(ROW_FILE_SUFFIXES) and not path.name.startswith(".") and path.is_file()
    ]
    yield from sorted(found, key=lambda p: (p.name, str(p)))


def encode_line(row: Mapping[str, Any]) -> bytes:
    return (json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8")


def encode_text(text: str) -> bytes:
    """The bytes of an article file holding exactly `text`: what the writer produces for the same lines."""
    return _compress(text.encode("utf-8"))


def encode_rows(rows: Iterable[Mapping[str, Any]]) -> bytes:
    """The bytes of an article file holding `rows`, identical to what JsonlPartitionWriter writes."""
    return _compress(b"".join(encode_line(row) for row in rows))


def _compress(data: bytes) -> bytes:
    out = io.BytesIO()
    with _gzip_writer(out) as gz:
        gz.write(data)
    return out.getvalue()


def _gzip_writer(raw: IO[bytes]) -> gzip.GzipFile:
    # filename="" and mtime=0: no name and no time in the header, so equal rows give equal bytes
    # (GzipFile would otherwise record the name of the `.open` file it writes to).
    return gzip.GzipFile(filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=raw, mtime=0)


def _stem_taken(final: Path) -> bool:
    # A plain `.jsonl` of an older writer with the same stem would share the Parquet twin's name, and a
    # Parquet file (or part) left under the stem would be mistaken for the twin of the new file.
    stem = final.name.removesuffix(ROWS_SUFFIX)
    return any(
        final.with_name(stem + suffix + open_suffix).exists()
        for suffix in (*ROW_FILE_SUFFIXES, PARQUET_SUFFIX)
        for open_suffix in ("", OPEN_SUFFIX)
    )


def _where(source: Path | str | bytes) -> str:
    # Bytes come from a store whose caller knows the key and prefixes it; a path names itself.
    return "" if isinstance(source, bytes) else f"{source}: "


class InvalidRowError(ValueError):
    """A row that does not follow the schema the writer was given: never written."""


class RowSink(Protocol):
    """A companion file of one partition file, fed the same rows: write() before the JSON line (so a row
    it refuses is not written at all), close() completes it under its final name."""

    def write(self, row: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


TwinFactory = Callable[[Path], RowSink]
"""Given the final path of a new partition file, open its companion."""


class _Partition:
    def __init__(self, rel: str, raw: IO[bytes], twin: RowSink | None) -> None:
        self.rel = rel
        self.raw = raw
        self.gz = _gzip_writer(raw)
        self.twin = twin


class JsonlPartitionWriter:
    def __init__(
        self,
        root: Path,
        run_id: str,
        *,
        schema: Mapping[str, Any] | None = None,
        twin: TwinFactory | None = None,
    ) -> None:
        """With `schema` (a JSON Schema, e.g. core.schema.article_schema()), every row is validated
        before it is written and an invalid row raises InvalidRowError. With `twin`, every partition
        file gets a companion fed the same rows (see the module doc)."""
        self.root = Path(root)
        self.run_id = safe_component(run_id, "run id")
        self.schema = schema
        self.twin = twin
        self._open: dict[tuple[str, str], _Partition] = {}
        self._lock = threading.Lock()

    def write(self, row: Mapping[str, Any], line: bytes | None = None) -> str:
        """Append a row to its partition (row["outlet"], JST day of row["published_at"]).
        Returns the relative path the file will have once closed. `line`: `encode_line(row)` when the
        caller has it already (the store encodes each row once for the WARC and the file)."""
        if self.schema is not None and (problems := errors(row, self.schema)):
            raise InvalidRowError(
                f"row for {row.get('url', '?')} breaks the schema: {'; '.join(problems[:5])}"
            )
        key = (str(row["outlet"]), jst_date(row.get("published_at")))
        line = encode_line(row) if line is None else line
        with self._lock:
            if key not in self._open:
                self._open[key] = self._create(*key)
            partition = self._open[key]
            if partition.twin is not None:
                partition.twin.write(row)
            partition.gz.write(line)
            return partition.rel

    def close(self) -> list[str]:
        """Close every partition file; return their final relative paths."""
        with self._lock:
            opened, self._open = self._open, {}
        closed = []
        for partition in opened.values():
            if partition.twin is not None:
                # Completed first: a companion part under its `.open` name always has the JSON lines
                # part beside it, so recovery (archive.recovery) finds both by the dead run's id.
                partition.twin.close()
            partition.gz.close()  # writes the gzip trailer; leaves `raw` open
            partition.raw.flush()
            os.fsync(partition.raw.fileno())
            partition.raw.close()
            final = self.root / partition.rel
            with _allocation_lock:
                rename_no_replace(final.with_name(final.name + OPEN_SUFFIX), final)
            closed.append(partition.rel)
        return closed

    def _create(self, outlet: str, day: str) -> _Partition:
        with _allocation_lock:
            n = 0
            while True:
                rel = article_relpath(self.run_id, outlet, day, n)
                final = self.root / rel
                final.parent.mkdir(parents=True, exist_ok=True)
                if not _stem_taken(final):
                    open_path = final.with_name(final.name + OPEN_SUFFIX)
                    try:
                        raw = open_path.open("xb")
                    except FileExistsError:
                        pass
                    else:
                        return _Partition(rel, raw, self._open_twin(final, raw, open_path))
                n += 1

    def _open_twin(self, final: Path, raw: IO[bytes], open_path: Path) -> RowSink | None:
        if self.twin is None:
            return None
        try:
            return self.twin(final)
        except BaseException:
            raw.close()
            open_path.unlink(missing_ok=True)
            raise
