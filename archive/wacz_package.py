"""The parts of a WACZ 1.1.1 package (https://specs.webrecorder.net/wacz/1.1.1/) other than its WARC data:
ZIP members written with their sha256 and size, a CDXJ index sorted on disk, the `pages.jsonl` lines
and the `datapackage.json` / `datapackage-digest.json` pair that lists every member with its digest.

Nothing here holds a whole member in memory: members are streamed into the ZIP, and index lines are
sorted in bounded runs spilled to temporary files, then merged.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

WACZ_VERSION = "1.1.1"
WARC_MEMBER = "archive/data.warc.gz"
# pywb 2.10's `wb-manager add --unpack-wacz` takes only `*.cdx` / `*.cdx.gz` members as indexes and
# ReplayWeb.page takes `*.cdx` or `*.cdxj`: a plain CDXJ file named `.cdx` suits both (the spec asks
# for CDXJ content, whatever the name).
INDEX_MEMBER = "indexes/index.cdx"
PAGES_MEMBER = "pages/pages.jsonl"
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
SORT_RUN_LINES = 20_000  # index lines sorted in memory at a time (~10 MB)
_COPY = 1 << 20


class HashingWriter:
    """A write-only stream that forwards to `out` and keeps the sha256 and size of what went through."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.size = 0
        self._sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self._sha.update(data)
        self.size += len(data)
        return len(data)

    @property
    def hash(self) -> str:
        return "sha256:" + self._sha.hexdigest()


def member_info(name: str, when: datetime, *, compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    # Already-compressed WARC data must stay STORED so readers can seek into it (spec: Zip Compression).
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


class ResourceList:
    """The members written so far, as datapackage.json resources (name, path, hash, bytes)."""

    def __init__(self) -> None:
        self.resources: list[dict[str, Any]] = []

    def add(self, path: str, writer: HashingWriter) -> None:
        name = Path(path).name.lower()
        self.resources.append({"name": name, "path": path, "hash": writer.hash, "bytes": writer.size})

    def write_stream(
        self, zf: zipfile.ZipFile, path: str, chunks: Iterable[bytes], when: datetime, *, compress: bool
    ) -> None:
        with zf.open(member_info(path, when, compress=compress), "w", force_zip64=True) as member:
            writer = HashingWriter(member)
            for chunk in chunks:
                writer.write(chunk)
        self.add(path, writer)

    def write_bytes(self, zf: zipfile.ZipFile, path: str, data: bytes, when: datetime) -> None:
        self.write_stream(zf, path, [data], when, compress=True)


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(_COPY):
            yield chunk


class SortedLines:
    """Text lines gathered in any order and given back sorted without repeats, using bounded memory:
    runs of `run_lines` lines are sorted and spilled to files in `folder`, then merged."""

    def __init__(self, folder: Path, run_lines: int = SORT_RUN_LINES) -> None:
        self.folder = folder
        self.run_lines = run_lines
        self._lines: list[str] = []
        self._runs: list[Path] = []

    def add(self, line: str) -> None:
        self._lines.append(line)
        if len(self._lines) >= self.run_lines:
            self._spill()

    def _spill(self) -> None:
        run = self.folder / f"index-run-{len(self._runs):05d}.cdxj"
        with run.open("w", encoding="utf-8") as fh:
            fh.writelines(sorted(self._lines))
        self._runs.append(run)
        self._lines = []

    def sorted_chunks(self) -> Iterator[bytes]:
        """The lines in order, encoded, a batch at a time."""
        files = [run.open("r", encoding="utf-8") for run in self._runs]
        try:
            last = None
            batch: list[str] = []
            for line in heapq.merge(*files, sorted(self._lines)):
                if line != last:
                    batch.append(line)
                last = line
                if len(batch) >= 1024:
                    yield "".join(batch).encode("utf-8")
                    batch = []
            if batch:
                yield "".join(batch).encode("utf-8")
        finally:
            for fh in files:
                fh.close()


def page_line(*, page_id: str, url: str, ts: str, title: str, text: str, extra: dict[str, Any]) -> str:
    """One `pages.jsonl` entry: the spec's url/ts/title/text/id, then our own fields (allowed by the
    spec as long as they do not clash)."""
    entry = {"id": page_id, "url": url, "ts": ts, "title": title, "text": text, **extra}
    return json.dumps(entry, ensure_ascii=False) + "\n"


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def datapackage(
    resources: list[dict[str, Any]], *, title: str, description: str, created: datetime, software: str
) -> bytes:
    package = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": title,
        "description": description,
        "created": rfc3339(created),
        "modified": rfc3339(created),
        "software": software,
        "resources": resources,
    }
    return json.dumps(package, ensure_ascii=False, indent=2).encode("utf-8")


def datapackage_digest(package: bytes) -> bytes:
    digest = {"path": "datapackage.json", "hash": "sha256:" + hashlib.sha256(package).hexdigest()}
    return json.dumps(digest, indent=2).encode("utf-8")


def scratch_dir(near: Path) -> tempfile.TemporaryDirectory[str]:
    """A temporary folder beside the output (same file system, same free space the user chose)."""
    return tempfile.TemporaryDirectory(prefix=".wacz-", dir=near)
