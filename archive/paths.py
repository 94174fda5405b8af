"""Where things live under an archive root, and the small naming rules that keep names unique and safe.

Every path handed out here is relative to the archive root and uses forward slashes, so the same string
works as a local path and as an object-store key.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import IO

OPEN_SUFFIX = ".open"
WARC_DIR = "warc"
ARTICLES_DIR = "articles"
RUNS_DIR = "runs"
MANIFEST_NAME = "manifest.json"
# Article rows: gzip-compressed JSON lines. Plain `.jsonl` is what archives written before the switch
# hold; readers accept both (archive.jsonl.read_rows), writers only produce the compressed form.
ROWS_SUFFIX = ".jsonl.gz"
PLAIN_ROWS_SUFFIX = ".jsonl"
ROW_FILE_SUFFIXES = (ROWS_SUFFIX, PLAIN_ROWS_SUFFIX)
PARQUET_SUFFIX = ".parquet"

JST = timezone(timedelta(hours=9), "JST")
UNKNOWN_DATE = "unknown"

_UNSAFE_HOST = re.compile(r"[^A-Za-z0-9.-]+")
# Outlet and prefix names become path components: no separators, no dot-dot, nothing a shell would mangle.
_SAFE_COMPONENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def safe_component(value: str, what: str) -> str:
    if not _SAFE_COMPONENT.match(value) or ".." in value:
        raise ValueError(f"{what} {value!r} is not usable in a file name (letters, digits, '_', '.', '-')")
    return value


def hostname() -> str:
    """This machine's name, reduced to characters that are safe in a file name."""
    return _UNSAFE_HOST.sub("-", socket.gethostname()).strip("-.") or "host"


def warc_relpath(prefix: str, opened_at: datetime, serial: int, host: str, pid: int) -> str:
    opened_at = opened_at.astimezone(UTC)
    stamp = opened_at.strftime("%Y%m%d%H%M%S") + f"{opened_at.microsecond // 1000:03d}"
    name = f"{safe_component(prefix, 'WARC prefix')}-{stamp}-{serial:05d}-{host}-{pid}.warc.gz"
    return f"{WARC_DIR}/{opened_at:%Y/%m/%d}/{name}"


def article_relpath(run_id: str, outlet: str, day: str, n: int) -> str:
    """`articles/outlet=<o>/date=<YYYY-MM-DD>/<run-id>-<o>-<n:05d>.jsonl.gz`.

    The storage contract (issue 6) names the file `<run-id>-<n>`; the outlet is kept in the name on
    purpose: the crawlers of one run (one per outlet, same process) each allocate numbers on their own,
    so the outlet keeps their names apart whatever partition folder they share, and it tells a human
    whose file it is without looking at the folder.
    """
    outlet = safe_component(outlet, "outlet")
    return f"{ARTICLES_DIR}/outlet={outlet}/date={day}/{run_id}-{outlet}-{n:05d}{ROWS_SUFFIX}"


def is_row_file(key: str) -> bool:
    """A closed article file (compressed or, from older archives, plain); never a `.open` one."""
    return key.startswith(f"{ARTICLES_DIR}/") and key.endswith(ROW_FILE_SUFFIXES)


def row_file_stem(key: str) -> str:
    """The name without its rows suffix: the Parquet twin is `<stem>.parquet`."""
    for suffix in ROW_FILE_SUFFIXES:
        if key.endswith(suffix):
            return key[: -len(suffix)]
    raise ValueError(f"{key!r} is not an article rows file")


def parquet_twin(key: str) -> str:
    return row_file_stem(key) + PARQUET_SUFFIX


def manifest_relpath(run_id: str) -> str:
    return f"{RUNS_DIR}/{safe_component(run_id, 'run id')}/{MANIFEST_NAME}"


def jst_date(published_at: str | None) -> str:
    """The calendar day (JST) an article was published on, as YYYY-MM-DD, or "unknown".

    A timestamp without an offset is taken as JST: these are Japanese outlets and that is what their
    pages mean when they omit it.
    """
    if not published_at:
        return UNKNOWN_DATE
    try:
        parsed = datetime.fromisoformat(published_at.strip())
    except ValueError:
        try:
            return date.fromisoformat(published_at.strip()[:10]).isoformat()
        except ValueError:
            return UNKNOWN_DATE
    if parsed.tzinfo is None:
        return parsed.date().isoformat()
    return parsed.astimezone(JST).date().isoformat()


def relpath(root: Path, path: Path) -> str:
    return Path(os.path.relpath(path, root)).as_posix()


def resolve_inside(root: Path, rel: str) -> Path:
    """Join a relative path from a manifest or pointer to the root, refusing anything that escapes it
    and anything that names the root itself (".", "./"): these paths name files inside it."""
    if not rel or rel.startswith(("/", "\\")) or ".." in Path(rel).parts or not Path(rel).parts:
        raise ValueError(f"path {rel!r} is not a relative path inside the archive root")
    return root / rel


def write_atomically(target: Path, fill: Callable[[IO[str]], None]) -> Path:
    """Write a text file so that a reader sees either no file or the complete one, never a partial one:
    a temporary file beside it, filled, fsynced, renamed over the target, and the folder fsynced."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target


def fsync_dir(path: Path) -> None:
    """Make a rename durable: the directory entry itself must reach the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rename_no_replace(src: Path, dst: Path) -> None:
    """Rename src to dst, refusing to overwrite an existing dst (os.replace would silently do it)."""
    if dst.exists():
        raise FileExistsError(f"{dst} already exists; not overwriting it with {src.name}")
    os.rename(src, dst)
    fsync_dir(dst.parent)
