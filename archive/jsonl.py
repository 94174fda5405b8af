"""Article rows as gzip-compressed JSON lines, one file per (outlet, published day) partition and writer,
and the one reader of such files every other module uses.

A file is written as `<name>.jsonl.gz.open` and renamed when closed, so a consumer listing the folder
never reads a half-written file under its final name. Each file is a single gzip member (it is written
once and closed at the end of the run) at level 6, with no name and mtime 0 in its header, so the same
rows always give the same bytes (and the same sha256 in a manifest). It is a `.gz` object, not a
transfer encoding: it must never be stored with `Content-Encoding: gzip`.

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
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from archive.jsonvalidate import errors
from archive.paths import (
    ARTICLES_DIR,
    OPEN_SUFFIX,
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
    # A plain `.jsonl` of an older writer with the same stem would share the Parquet twin's name.
    stem = final.name.removesuffix(ROWS_SUFFIX)
    return any(
        final.with_name(stem + suffix + open_suffix).exists()
        for suffix in ROW_FILE_SUFFIXES
        for open_suffix in ("", OPEN_SUFFIX)
    )


def _where(source: Path | str | bytes) -> str:
    # Bytes come from a store whose caller knows the key and prefixes it; a path names itself.
    return "" if isinstance(source, bytes) else f"{source}: "


class InvalidRowError(ValueError):
    """A row that does not follow the schema the writer was given: never written."""


class JsonlPartitionWriter:
    def __init__(self, root: Path, run_id: str, *, schema: Mapping[str, Any] | None = None) -> None:
        """With `schema` (a JSON Schema, e.g. core.schema.article_schema()), every row is validated
        before it is written and an invalid row raises InvalidRowError."""
        self.root = Path(root)
        self.run_id = safe_component(run_id, "run id")
        self.schema = schema
        self._open: dict[tuple[str, str], tuple[str, IO[bytes], gzip.GzipFile]] = {}
        self._lock = threading.Lock()

    def write(self, row: Mapping[str, Any]) -> str:
        """Append a row to its partition (row["outlet"], JST day of row["published_at"]).
        Returns the relative path the file will have once closed."""
        if self.schema is not None and (problems := errors(row, self.schema)):
            raise InvalidRowError(
                f"row for {row.get('url', '?')} breaks the schema: {'; '.join(problems[:5])}"
            )
        key = (str(row["outlet"]), jst_date(row.get("published_at")))
        line = encode_line(row)
        with self._lock:
            if key not in self._open:
                self._open[key] = self._create(*key)
            rel, _raw, gz = self._open[key]
            gz.write(line)
            return rel

    def close(self) -> list[str]:
        """Close every partition file; return their final relative paths."""
        with self._lock:
            opened, self._open = self._open, {}
        closed = []
        for rel, raw, gz in opened.values():
            gz.close()  # writes the gzip trailer; leaves `raw` open
            raw.flush()
            os.fsync(raw.fileno())
            raw.close()
            final = self.root / rel
            with _allocation_lock:
                rename_no_replace(final.with_name(final.name + OPEN_SUFFIX), final)
            closed.append(rel)
        return closed

    def _create(self, outlet: str, day: str) -> tuple[str, IO[bytes], gzip.GzipFile]:
        with _allocation_lock:
            n = 0
            while True:
                rel = article_relpath(self.run_id, outlet, day, n)
                final = self.root / rel
                final.parent.mkdir(parents=True, exist_ok=True)
                if not _stem_taken(final):
                    try:
                        raw = final.with_name(final.name + OPEN_SUFFIX).open("xb")
                    except FileExistsError:
                        pass
                    else:
                        return rel, raw, _gzip_writer(raw)
                n += 1
