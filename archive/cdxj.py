"""A CDXJ index beside every closed WARC file, written by cdxj-indexer in the form pywb reads.

`<name>.cdxj` sits next to `<name>.warc.gz`: one line per response, revisit and metadata record,
`<SURT key> <14-digit timestamp> <JSON>`, sorted, with `filename` the WARC's basename (what a pywb
collection's archive folder holds). Fields beyond cdxj-indexer's defaults (`warc-record-id`,
`warc-date`, and `warc-truncated` where set) let a later run point revisit records and article
pointers at an earlier complete response without reopening its WARC file; pywb ignores them.

Files this process writes are indexed from lines the writer built while writing (cdxj_line), which
are byte for byte what cdxj-indexer writes for the same file (tests/test_warc_writer.py checks it):
re-reading each closed file with cdxj-indexer cost ~0.11 ms of CPU per record, a fifth of capture's
whole overhead (bench/capture.py). cdxj-indexer still indexes every file this process did not write
(recovered after a crash, index_missing).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import surt
from cdxj_indexer.main import CDXJIndexer
from warcio.timeutils import iso_date_to_timestamp

from archive.paths import WARC_DIR, write_atomically

CDXJ_SUFFIX = ".cdxj"
WARC_SUFFIX = ".warc.gz"
EXTRA_FIELDS = "warc-record-id,warc-date,warc-truncated"


def cdxj_path_for(warc_path: Path) -> Path:
    name = warc_path.name
    stem = name[: -len(WARC_SUFFIX)] if name.endswith(WARC_SUFFIX) else name
    return warc_path.with_name(stem + CDXJ_SUFFIX)


def write_cdxj(warc_path: Path) -> Path:
    """Index a closed WARC file by reading it; the index appears atomically (a reader never sees half of it)."""
    warc_path = Path(warc_path)

    def index(fh: IO[str]) -> None:
        CDXJIndexer(fh, [str(warc_path)], sort=True, fields=EXTRA_FIELDS).process_all()

    return write_atomically(cdxj_path_for(warc_path), index)


def write_cdxj_lines(warc_path: Path, lines: Iterable[str]) -> Path:
    """Write the index of a closed WARC file from its cdxj_line()s (any order), sorted and without
    repeated lines as cdxj-indexer's sort does it; atomically, like write_cdxj."""
    ordered = sorted(lines)

    def index(fh: IO[str]) -> None:
        last = None
        for line in ordered:
            if line != last:
                fh.write(line)
            last = line

    return write_atomically(cdxj_path_for(Path(warc_path)), index)


# What cdxj-indexer does, step by step, for the records this project writes (cdxj_indexer 1.5.0
# main.py and warcio's Indexer): fields in this order, values as warcio parses them back.
_MIME_CUT = re.compile(r"[;\s]")  # CDXJIndexer.RE_SPACE
_HTTP_SCHEMES = ("http:", "https:")  # warcio parses an HTTP block only under these (recordloader)
WARC_FIELDS_TYPE = "application/warc-fields"  # metadata records of this type are not indexed


# WARC-Date as this project writes it; warcio's iso_date_to_timestamp (5 us: it builds a datetime)
# gives the same 14 digits for it and still handles anything else.
_WARC_DATE = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d{1,6})?Z")


def cdxj_timestamp(warc_date: str) -> str:
    match = _WARC_DATE.fullmatch(warc_date)
    return "".join(match.groups()) if match else str(iso_date_to_timestamp(warc_date))


def _mime(value: str | None) -> str | None:
    if value:
        return _MIME_CUT.split(value, 1)[0].strip()
    return value


# A capture keys its request and response records by the same URI: the second lookup is free.
@lru_cache(maxsize=4096)
def surt_key(url: str) -> str:
    try:
        return str(surt.surt(url))
    except Exception:  # cdxj-indexer falls back to the URL for whatever surt cannot parse
        return url


def http_header_as_read(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    """The first `name` header as warcio parses it back from `name: value` lines (name right-stripped
    of blanks, value stripped), which is what cdxj-indexer sees."""
    wanted = name.lower()
    for key, value in headers:
        if key.rstrip(" \t").lower() == wanted:
            return value.strip()
    return None


def cdxj_line(
    *,
    rec_type: str,
    uri: str,
    warc_date: str,
    offset: int,
    length: int,
    filename: str,
    record_id: str,
    payload_digest: str | None,
    status: int | None = None,
    http_content_type: str | None = None,
    warc_content_type: str | None = None,
    truncated: str = "",
) -> str | None:
    """The line cdxj-indexer (sort=True, fields=EXTRA_FIELDS) writes for one record, or None for a
    record it leaves out. `status`/`http_content_type`: of the HTTP block of a response or revisit
    (`http_content_type` as http_header_as_read gives it); `warc_content_type`: the record's own."""
    if rec_type not in ("response", "revisit", "resource", "metadata"):
        return None
    if rec_type in ("resource", "metadata") and (warc_content_type or "").strip() == WARC_FIELDS_TYPE:
        return None
    http = rec_type in ("response", "revisit") and uri.startswith(_HTTP_SCHEMES)
    fields: dict[str, str] = {"url": uri}
    if rec_type == "revisit":
        mime: str | None = "warc/revisit"
    elif rec_type == "response":
        mime = _mime(http_content_type) if http else None
    else:
        mime = _mime(warc_content_type.strip() if warc_content_type is not None else None)
    if mime is not None:
        fields["mime"] = mime
    if http and status is not None:
        fields["status"] = str(status)
    if payload_digest:
        fields["digest"] = payload_digest
    fields["length"] = str(length)
    fields["offset"] = str(offset)
    fields["filename"] = filename
    fields["warc-record-id"] = record_id
    fields["warc-date"] = warc_date
    if truncated:
        fields["warc-truncated"] = truncated
    return f"{surt_key(uri)} {cdxj_timestamp(warc_date)} {json.dumps(fields)}\n"


def index_missing(root: Path) -> list[Path]:
    """Write the index of every closed WARC under the root that has none (a crash between the
    rename of the WARC and its indexing leaves such a file); return the indexes written."""
    folder = Path(root) / WARC_DIR
    missing = []
    # One listing per folder and no stat per indexed file: every crawl's start-up runs this over the
    # whole root (twice), so it must cost per folder, not per archived file.
    for dirpath, dirnames, filenames in os.walk(folder):
        names = set(filenames).union(dirnames)
        for name in filenames:
            if name.endswith(WARC_SUFFIX) and name[: -len(WARC_SUFFIX)] + CDXJ_SUFFIX not in names:
                missing.append(Path(dirpath, name))
    return [write_cdxj(warc_path) for warc_path in sorted(missing) if warc_path.is_file()]


@dataclass
class CdxjLine:
    urlkey: str
    timestamp: str
    fields: dict[str, Any]


def read_cdxj(path: Path) -> Iterator[CdxjLine]:
    with Path(path).open("r", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip() or line.startswith("!"):
                continue
            urlkey, timestamp, data = line.rstrip("\n").split(" ", 2)
            yield CdxjLine(urlkey, timestamp, json.loads(data))


def iter_indexes(root: Path) -> list[Path]:
    folder = Path(root) / WARC_DIR
    return sorted(folder.rglob(f"*{CDXJ_SUFFIX}")) if folder.is_dir() else []
