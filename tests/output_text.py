"""Everything a crawl left behind, as text to search: every file under the archive root (gzip members
inflated, Parquet tables read back, SQLite and the rest as raw bytes) plus the crawl's stdout and stderr."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path


def _file_text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = _inflate_members(data)
    elif path.suffix == ".parquet":
        from archive.parquet_out import read_parquet_table

        return str(read_parquet_table(path).to_pylist())
    return data.decode("utf-8", errors="replace")


def _inflate_members(data: bytes) -> bytes:
    """Every gzip member of a file (a WARC is one member per record); a body that is itself gzip-encoded
    (Content-Encoding: gzip, kept as received) is inflated too, so a secret cannot hide inside it."""
    out = gzip.decompress(data)
    inner = out
    while (start := inner.find(b"\x1f\x8b\x08")) != -1:
        try:
            out += zlib.decompressobj(31).decompress(inner[start:], 64 * 1024 * 1024)
        except zlib.error:
            pass
        inner = inner[start + 3 :]
    return out


def archive_text(root: Path) -> dict[str, str]:
    """Relative path -> searchable text, for every file under `root`."""
    return {str(p.relative_to(root)): _file_text(p) for p in sorted(root.rglob("*")) if p.is_file()}


def files_containing(root: Path, needle: str, *streams: str) -> list[str]:
    found = [name for name, text in archive_text(root).items() if needle in text]
    found += [f"stream {n}" for n, text in enumerate(streams) if needle in text]
    return found
