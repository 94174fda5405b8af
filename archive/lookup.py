"""One article by URL: every archived version of it, and the WARC records and original page behind each.

A version is one article row (the latest is what selections give; a re-fetch or a re-extraction adds
one). An article is found by its canonical URL, the URL actually fetched, its WARC-Target-URI or, when
none matches, the same path?query on any origin (a capture made through a base-URL override). Outlet
URL variants (mobile, AMP, tracking parameters) are the outlets' business, which this library does not
know: the caller passes the outlet's canonicaliser (`canonicalize`), the crawler layer has it.

The records of a version are read by offset, a ranged GET on an s3:// archive: its response record (the
row's `warc` pointer), the request record written just before it and the metadata record holding the
row's JSON (found through the catalog, archive.catalog).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from archive.article_index import open_index
from archive.readback import ReadRecord, read_record_from
from archive.root_access import ArchiveRoot, open_root
from archive.storage import Store
from archive.warc_records import METADATA_URI_PREFIX

# The request record sits between the previous indexed record and the response; a request is a few
# kB, so a larger gap means something else is there, and it is not read.
MAX_REQUEST_GAP = 1 << 20


def article_versions(
    root: str | Path | ArchiveRoot,
    url: str,
    *,
    store: Store | None = None,
    canonicalize: Callable[[str], str] | None = None,
) -> list[dict[str, Any]]:
    """Every archived version (article row) of the article at `url` or any variant of it, oldest first
    (grouped by canonical URL when a path matched several). [] when the archive has none."""
    urls = {url.strip()}
    if canonicalize is not None:
        urls.add(canonicalize(url.strip()))
    with open_index(root, store=store) as index:
        return index.versions_of(urls)


@dataclass
class RawRecord:
    kind: str  # request | response | metadata
    data: bytes  # the record's gzip member, exactly as stored
    path: str  # WARC file (archive key) and offset it was read from
    offset: int


def _pointer(row: dict[str, Any]) -> dict[str, Any]:
    pointer = row.get("warc")
    if not isinstance(pointer, dict) or not pointer.get("path"):
        raise ValueError(f"{row.get('url')}: the row has no WARC pointer")
    return pointer


def response_record(root: ArchiveRoot, row: dict[str, Any]) -> RawRecord:
    pointer = _pointer(row)
    path, offset, length = str(pointer["path"]), int(pointer["offset"]), int(pointer["length"])
    return RawRecord("response", root.read_range(path, offset, length), path, offset)


def version_records(
    root: str | Path | ArchiveRoot, row: dict[str, Any], *, store: Store | None = None
) -> list[RawRecord]:
    """The request, response and metadata records of one version, in that order (those that exist)."""
    from archive.catalog import Catalog

    archive_root = open_root(root, store)
    response = response_record(archive_root, row)
    pointer = _pointer(row)
    records: list[RawRecord] = []
    with Catalog.open(archive_root.index_dir, archive_root.store) as catalog:
        if archive_root.index_dir != archive_root.local:
            catalog.root = archive_root.local  # read sources from the root, keep the index elsewhere
        catalog.refresh()
        before = catalog.conn.execute(
            "SELECT MAX(offset + length) FROM captures WHERE warc_path = ? AND offset < ?",
            (response.path, response.offset),
        ).fetchone()[0]
        fetched = str(row.get("fetched_url") or pointer.get("target_uri") or "")
        meta = catalog.conn.execute(
            "SELECT warc_path, offset, length FROM captures WHERE kind = 'metadata' AND uri = ? "
            "ORDER BY date DESC",
            (METADATA_URI_PREFIX + fetched,),
        ).fetchall()
    request = _request_before(archive_root, response, int(before or 0), str(pointer.get("record_id") or ""))
    if request is not None:
        records.append(request)
    records.append(response)
    for path, offset, length in meta:
        data = archive_root.read_range(path, int(offset), int(length))
        record = read_record_from(BytesIO(data))
        if _refers_to(record, str(pointer.get("record_id") or "")):
            records.append(RawRecord("metadata", data, path, int(offset)))
            break
    return records


def _refers_to(record: ReadRecord, record_id: str) -> bool:
    headers = dict(record.warc_headers)
    return not record_id or headers.get("WARC-Refers-To") in (None, record_id)


def _request_before(root: ArchiveRoot, response: RawRecord, start: int, record_id: str) -> RawRecord | None:
    gap = response.offset - start
    if gap <= 0 or gap > MAX_REQUEST_GAP or not record_id:
        return None
    data = root.read_range(response.path, start, gap)
    records = ArchiveIterator(BytesIO(data))
    for record in records:
        headers = record.rec_headers
        record.content_stream().read()
        offset, length = records.get_record_offset(), records.get_record_length()
        if record.rec_type == "request" and headers.get_header("WARC-Concurrent-To") == record_id:
            return RawRecord("request", data[offset : offset + length], response.path, start + offset)
    return None


def original_html(
    root: str | Path | ArchiveRoot, row: dict[str, Any], *, store: Store | None = None
) -> tuple[str, str]:
    """The page as fetched, decoded with the charset the crawl used (the row's `charset.used`; else the
    HTTP header, the <meta> tag, or detection, as Scrapy decides). Returns (text, charset)."""
    from w3lib.encoding import html_to_unicode

    archive_root = open_root(root, store)
    record = read_record_from(BytesIO(response_record(archive_root, row).data))
    body = record.payload
    charset = row.get("charset") if isinstance(row.get("charset"), dict) else {}
    used = str((charset or {}).get("used") or "")
    if used:
        try:
            return body.decode(used, errors="replace"), used
        except LookupError:
            pass  # a codec name this Python does not know: decide again below
    content_type = next((v for k, v in record.http_headers if k.lower() == "content-type"), None)
    encoding, text = html_to_unicode(content_type, body)
    return text, encoding
