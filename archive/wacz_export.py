"""Write a selection of articles as a WACZ bundle that `wacz validate` accepts and pywb or ReplayWeb.page
replay: the WARC records behind each article, a CDXJ index into them, our own `pages.jsonl` (each
article's extracted title and text: py-wacz's page detection misses leaf articles and assumes UTF-8),
the selection's manifest, and datapackage.json with the sha256 of every member.

Layout (WACZ 1.1.1):

    archive/data.warc.gz      the records, copied byte for byte (one gzip member each; ZIP_STORED)
    indexes/index.cdx         CDXJ, sorted, pointing into data.warc.gz (see wacz_package.INDEX_MEMBER)
    pages/pages.jsonl         header line + one line per article
    newsarchive/manifest.json the selection's manifest (filters, counts, versions), as given
    newsarchive/README.md     optional: how to read and cite the bundle
    datapackage.json          every member above with its sha256 and size
    datapackage-digest.json   the sha256 of datapackage.json

Built streaming: the WARC member is written record by record while the index lines and page lines go
to temporary files beside the output, so memory stays flat whatever the selection's size. The bundle is
written as `<out>.part` and renamed when complete: a failed write leaves no file under the final name.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.catalog import Catalog
from archive.cdxj import cdxj_line, http_header_as_read
from archive.paths import fsync_dir
from archive.run import package_version
from archive.storage import HASH_CHUNK, LocalStore, Store
from archive.wacz_package import (
    INDEX_MEMBER,
    PAGES_HEADER,
    PAGES_MEMBER,
    WARC_MEMBER,
    HashingWriter,
    ResourceList,
    SortedLines,
    datapackage,
    datapackage_digest,
    file_chunks,
    member_info,
    page_line,
    scratch_dir,
)
from archive.wacz_records import Span, WaczSourceError, article_records, copy_span

__all__ = ["WaczResult", "WaczSourceError", "write_wacz"]

MANIFEST_MEMBER = "newsarchive/manifest.json"
README_MEMBER = "newsarchive/README.md"
_WARC_NAME = Path(WARC_MEMBER).name


@dataclass
class WaczResult:
    path: Path
    size: int  # bytes of the .wacz file
    sha256: str  # hex digest of the .wacz file
    articles: int
    records: int  # WARC records copied (each once, however many articles share it)
    warc_bytes: int  # size of archive/data.warc.gz
    resources: list[dict[str, Any]] = field(default_factory=list)  # as listed in datapackage.json
    warnings: list[str] = field(default_factory=list)  # records that could not be found (one line each)


def write_wacz(
    rows: Iterable[dict[str, Any]],
    store: Store,
    out: Path,
    *,
    manifest: dict[str, Any],
    title: str = "newsarchive selection",
    progress: Callable[[int], None] | None = None,
    catalog: Catalog | None = None,
    readme: str | None = None,
) -> WaczResult:
    """Bundle the articles `rows` (archived JSON rows with their `warc` pointer) of the archive in `store`.

    `catalog` (of the same archive) finds each article's metadata and revisit records; without one, the
    archive's own catalog is opened and refreshed (a local root's `.catalog.sqlite`, or a temporary one
    for an S3 store). `progress(n)` is called after each article. Raises WaczSourceError when a row's
    pointer leads to no readable record, StoreError when the store fails; the bundle is then not written.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    created = datetime.now(UTC)
    try:
        with scratch_dir(out.parent) as tmp:
            own = _open_catalog(store, Path(tmp)) if catalog is None else None
            try:
                with part.open("wb") as fh:
                    result = _write(
                        rows,
                        store,
                        fh,
                        own or catalog,
                        Path(tmp),
                        manifest=manifest,
                        title=title,
                        progress=progress,
                        readme=readme,
                        created=created,
                    )
                    fh.flush()
                    os.fsync(fh.fileno())
            finally:
                if own is not None:
                    own.close()
        result.size, result.sha256 = _size_and_sha256(part)
        os.replace(part, out)
        fsync_dir(out.parent)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    result.path = out
    return result


def _open_catalog(store: Store, tmp: Path) -> Catalog:
    root = store.root if isinstance(store, LocalStore) else tmp / "catalog"
    catalog = Catalog.open(root, None if isinstance(store, LocalStore) else store)
    catalog.refresh()
    return catalog


def _write(
    rows: Iterable[dict[str, Any]],
    store: Store,
    fh: Any,
    catalog: Catalog | None,
    tmp: Path,
    *,
    manifest: dict[str, Any],
    title: str,
    progress: Callable[[int], None] | None,
    readme: str | None,
    created: datetime,
) -> WaczResult:
    assert catalog is not None
    resources = ResourceList()
    index = SortedLines(tmp)
    pages_path = tmp / "pages.jsonl"
    copied: set[tuple[str, int]] = set()
    result = WaczResult(path=Path(), size=0, sha256="", articles=0, records=0, warc_bytes=0)
    with zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
        with pages_path.open("w", encoding="utf-8") as pages:
            pages.write(json.dumps(PAGES_HEADER) + "\n")
            with zf.open(member_info(WARC_MEMBER, created, compress=False), "w", force_zip64=True) as member:
                warc = HashingWriter(member)
                for row in rows:
                    found = article_records(row, store, catalog.captures_of)
                    result.warnings.extend(found.warnings)
                    for span in found.spans:
                        if (span.key, span.offset) in copied:
                            continue  # shared by an article already bundled
                        copied.add((span.key, span.offset))
                        line = _index_line(span, warc.size)
                        copy_span(store, span, warc)
                        if line is not None:
                            index.add(line)
                        result.records += 1
                    pages.write(_page(row, found.page_uri, found.page_date))
                    result.articles += 1
                    if progress is not None:
                        progress(result.articles)
            resources.add(WARC_MEMBER, warc)
            result.warc_bytes = warc.size
        resources.write_stream(zf, INDEX_MEMBER, index.sorted_chunks(), created, compress=True)
        resources.write_stream(zf, PAGES_MEMBER, file_chunks(pages_path), created, compress=True)
        manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
        resources.write_bytes(zf, MANIFEST_MEMBER, manifest_bytes, created)
        if readme is not None:
            resources.write_bytes(zf, README_MEMBER, readme.encode("utf-8"), created)
        package = datapackage(
            resources.resources,
            title=title,
            description=_description(result.articles),
            created=created,
            software=f"newsarchive {package_version('newsarchive')}",
        )
        zf.writestr(member_info("datapackage.json", created, compress=True), package)
        zf.writestr(
            member_info("datapackage-digest.json", created, compress=True), datapackage_digest(package)
        )
    result.resources = resources.resources
    return result


def _index_line(span: Span, offset: int) -> str | None:
    """The CDXJ line cdxj-indexer would write for this record at `offset` in data.warc.gz (archive.cdxj)."""
    head = span.head
    return cdxj_line(
        rec_type=head.rec_type,
        uri=head.get("WARC-Target-URI"),
        warc_date=head.get("WARC-Date"),
        offset=offset,
        length=span.length,
        filename=_WARC_NAME,
        record_id=head.record_id,
        payload_digest=head.get("WARC-Payload-Digest") or None,
        status=head.status,
        http_content_type=http_header_as_read(head.http_headers, "Content-Type"),
        warc_content_type=head.get("Content-Type") or None,
        truncated=head.get("WARC-Truncated"),
    )


def _page(row: dict[str, Any], uri: str, date: str) -> str:
    pointer = row.get("warc") or {}
    return page_line(
        # Unique per article (a selection holds one version of each canonical URL) and stable across exports.
        page_id=hashlib.sha256(f"{row.get('url')} {date}".encode()).hexdigest()[:24],
        url=uri,
        ts=date,
        title=str(row.get("title") or ""),
        text=str(row.get("text") or ""),
        extra={
            "canonical_url": row.get("url"),
            "outlet": row.get("outlet"),
            "published_at": row.get("published_at"),
            "warc_record_id": pointer.get("record_id"),
        },
    )


def _description(articles: int) -> str:
    return (
        f"{articles} news articles selected from a newsarchive archive: the WARC records each one was "
        "extracted from (request, response or revisit, and the article's metadata record), a CDXJ "
        "index, and pages/pages.jsonl with each article's title and extracted text. "
        "newsarchive/manifest.json describes the selection."
    )


def _size_and_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
