"""`newsarchive reextract ROOT`: extraction, topic judgement and story clustering again, from the WARCs alone.

A better page object or a new topic then applies to the whole archive without fetching anything. The
result is a NEW versioned article set (`articles/outlet=*/date=*/<new-run-id>-<outlet>-00000.jsonl`)
with its own run manifest (kind "articles", config {"reextract_of": [run ids]}); no existing file is
modified.

Which records become articles: every `response` record with status 200 whose payload Scrapy would treat
as HTML and whose target URI is an article URL of a known outlet. Under a base-URL override (the
simulator, a mirror) the WARC-Target-URIs name the override origin; the warcinfo record of each file
carries `outlet-base-urls`, which maps them back to the outlet's real URLs, as the crawl did.

Each row is what the crawl would have written for that record, with:
- `warc` = the record's own location (file, gzip member offset and length, id, digest, URI, date);
- `fetched_at` = the record's WARC-Date, written as the crawl writes fetched_at (ISO 8601, +00:00);
- `discovered_via` = what the crawl recorded in the article's WARC metadata record, "" when the crawl
  kept no row for the page (e.g. it was off-topic then and --archive-all keeps it now);
- `story_cluster_id`: the index is first seeded with every article row already in the archive (oldest
  run first), so an unchanged text keeps its archived id and ids stay stable across versions.

Known differences from a crawl: no date window is applied (the crawl's ExtractPipeline drops pages whose
date turns out to be outside --since/--until: such pages are re-extracted here); a `revisit` record
(payload identical to an earlier capture) yields no row of its own.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastwarc.warc import ArchiveIterator as FastArchiveIterator
from fastwarc.warc import WarcRecordType
from scrapy.http import Headers, HtmlResponse
from scrapy.responsetypes import responsetypes
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders

from archive.jsonl import JsonlPartitionWriter
from archive.paths import ARTICLES_DIR, WARC_DIR, relpath
from archive.readback import decode_payload
from archive.run import latest_run_id, new_run_id, software_versions, write_manifest
from crawler.config import ConfigError, TopicConfig
from crawler.items import Article, WarcPointer
from crawler.parse_page import OutletMatch, fetched_page, outlet_for_url
from pipelines.dedup import StoryClusterIndex, iter_article_rows, seed_from_rows
from pipelines.extract import PAGE_ERROR_KEY, extract_article
from pipelines.relevance import TopicMatcher

logger = logging.getLogger(__name__)

_BATCH = 64  # pages handed to the worker processes at a time: bounds the payload bytes held in memory
_DROPPED_BY_DECOMPRESSION = frozenset({"content-encoding", "transfer-encoding"})

Progress = Callable[[int, int], None]
"""progress(article_pages_done, rows_kept), called after each batch of pages."""


@dataclass
class ReextractReport:
    run_id: str
    reextract_of: list[str]
    warc_files: int = 0
    response_records: int = 0
    article_pages: int = 0
    kept: int = 0
    off_topic: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    manifest: Path | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "reextract_of": self.reextract_of,
            "warc_files": self.warc_files,
            "response_records": self.response_records,
            "article_pages": self.article_pages,
            "kept": self.kept,
            "off_topic": self.off_topic,
            "errors": self.errors,
            "files": self.files,
            "manifest": str(self.manifest) if self.manifest else None,
        }

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        lines = [
            f"Reextract run {self.run_id} (from runs: {', '.join(self.reextract_of) or 'none'})",
            f"  WARC files read:      {self.warc_files}",
            f"  response records:     {self.response_records}",
            f"  article pages:        {self.article_pages}",
            f"  rows written:         {self.kept}  ({self.off_topic} off-topic not written)",
            f"  article files:        {len(self.files)}",
        ]
        if self.errors:
            lines.append(
                "  errors:               " + ", ".join(f"{k}={v}" for k, v in sorted(self.errors.items()))
            )
        if self.manifest is not None:
            lines.append(f"  Run manifest:         {self.manifest}")
        return "\n".join(lines)


@dataclass
class _Job:
    """One article response record, everything needed to extract it in another process."""

    outlet: str
    base_url: str | None
    target_uri: str
    http_headers: list[tuple[str, str]]  # Content-Encoding already undone and removed
    body: bytes
    pointer: WarcPointer


def _warcinfo(payload: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in payload.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


def _base_urls(info: dict[str, str], path: Path) -> dict[str, str]:
    raw = info.get("outlet-base-urls")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        logger.warning("%s: warcinfo outlet-base-urls is not JSON; matching by host only", path)
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _fetched_at(warc_date: str) -> str:
    """WARC-Date (2026-11-28T05:16:07.256589Z) in the form the crawl writes fetched_at."""
    try:
        return datetime.fromisoformat(warc_date.replace("Z", "+00:00")).astimezone(UTC).isoformat()
    except ValueError:
        return warc_date


def _is_html(url: str, headers: list[tuple[str, str]], body: bytes) -> bool:
    scrapy_headers = Headers()
    for name, value in headers:
        scrapy_headers.appendlist(name, value)
    return issubclass(responsetypes.from_args(headers=scrapy_headers, url=url, body=body), HtmlResponse)


class _Scan:
    """Pass over the WARC files: article jobs in file order, plus what the crawl's metadata records say."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = sorted(p for p in (root / WARC_DIR).rglob("*.warc.gz") if p.is_file())
        self.run_ids: list[str] = []
        self.discovered_via: dict[tuple[str, str], str] = {}  # (refers-to record id, fetched url) -> source
        self.response_records = 0
        self.errors: Counter[str] = Counter()

    def jobs(self) -> Iterator[_Job]:
        for path in self.files:
            yield from self._jobs_of(path)

    def _jobs_of(self, path: Path) -> Iterator[_Job]:
        rel = relpath(self.root, path)
        base_urls: dict[str, str] = {}
        matches: dict[str, OutletMatch] = {}
        with path.open("rb") as fh:
            it = ArchiveIterator(fh)
            for record in it:
                raw = record.raw_stream.read()
                offset, length = it.get_record_offset(), it.get_record_length()
                headers = record.rec_headers
                if record.rec_type == "warcinfo":
                    info = _warcinfo(raw)
                    base_urls = _base_urls(info, path)
                    run_id = info.get("isPartOf", "")
                    if run_id and run_id not in self.run_ids:
                        self.run_ids.append(run_id)
                    continue
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                self.response_records += 1
                job = self._job(rel, offset, length, headers, record.http_headers, raw, base_urls, matches)
                if job is not None:
                    yield job

    def read_discovery(self) -> None:
        """What the crawl's article metadata records say about discovery, read before any extraction.

        A metadata record follows its response (possibly in a later file), so this is a pass of its
        own; fastwarc skips every other record type without parsing it.
        """
        for path in self.files:
            with path.open("rb") as fh:
                for record in FastArchiveIterator(fh, record_types=WarcRecordType.metadata, parse_http=False):
                    refers_to = record.headers.get("WARC-Refers-To")
                    if not refers_to or "json" not in (record.headers.get("Content-Type") or ""):
                        continue
                    try:
                        row = json.loads(record.reader.read())
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        continue
                    if isinstance(row, dict) and row.get("discovered_via"):
                        key = (str(refers_to), str(row.get("fetched_url") or ""))
                        self.discovered_via[key] = str(row["discovered_via"])

    def _job(
        self,
        rel: str,
        offset: int,
        length: int,
        headers: StatusAndHeaders,
        http: StatusAndHeaders,
        raw: bytes,
        base_urls: dict[str, str],
        matches: dict[str, OutletMatch],
    ) -> _Job | None:
        if http.get_statuscode() != "200":
            return None
        uri = headers.get_header("WARC-Target-URI") or ""
        match = outlet_for_url(uri, base_urls)
        if match.spider is None or not match.spider.is_article(match.spider.canonicalize(uri)):
            return None
        try:
            body = decode_payload(raw, http)
        except Exception as exc:  # a corrupt gzip body: the record stays, the page is counted
            self.errors[f"decode/{type(exc).__name__}"] += 1
            logger.warning("%s: cannot decode the payload of %s: %s", rel, uri, exc)
            return None
        pairs = [(n, v) for n, v in http.headers if n.lower() not in _DROPPED_BY_DECOMPRESSION]
        if not _is_html(uri, pairs, body):
            return None
        pointer = WarcPointer(
            filename=Path(rel).name,
            path=rel,
            offset=offset,
            length=length,
            record_id=headers.get_header("WARC-Record-ID") or "",
            payload_digest=headers.get_header("WARC-Payload-Digest") or "",
            target_uri=uri,
            date=headers.get_header("WARC-Date") or "",
        )
        base_url = match.spider.base_url
        return _Job(match.name, base_url, uri, pairs, body, pointer)


def _extract(job: _Job, run_id: str, min_extracted_size: int) -> tuple[Article | None, str]:
    """Runs in a worker process: one record -> Article (or None and the error key)."""
    try:
        match = outlet_for_url(job.target_uri, {job.outlet: job.base_url} if job.base_url else None)
        scrapy_headers = Headers()
        for name, value in job.http_headers:
            scrapy_headers.appendlist(name, value)
        response = HtmlResponse(url=job.target_uri, body=job.body, headers=scrapy_headers, status=200)
        page = fetched_page(match, response, warc=job.pointer, fetched_at=_fetched_at(job.pointer.date))
        article = extract_article(page, run_id=run_id, min_extracted_size=min_extracted_size)
    except Exception as exc:
        logger.warning("extraction of %s failed: %s: %s", job.target_uri, type(exc).__name__, exc)
        return None, f"extract_failed/{type(exc).__name__}"
    return article, ""


def _extract_batch(
    batch: list[_Job], run_id: str, min_extracted_size: int
) -> list[tuple[Article | None, str]]:
    return [_extract(job, run_id, min_extracted_size) for job in batch]


def _batches(jobs: Iterator[_Job], size: int) -> Iterator[list[_Job]]:
    batch: list[_Job] = []
    for job in jobs:
        batch.append(job)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _extracted(
    scan: _Scan, run_id: str, min_extracted_size: int, workers: int
) -> Iterator[tuple[Article | None, str]]:
    """Extraction results in WARC order, computed by `workers` processes (1 = in this process)."""
    if workers <= 1:
        for job in scan.jobs():
            yield _extract(job, run_id, min_extracted_size)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending = []
        for batch in _batches(scan.jobs(), _BATCH // workers or 1):
            pending.append(pool.submit(_extract_batch, batch, run_id, min_extracted_size))
            # Keep a few batches per worker in flight: enough to stay busy, little payload in memory.
            while len(pending) > 2 * workers:
                yield from pending.pop(0).result()
        for future in pending:
            yield from future.result()


def reextract(
    root: Path,
    *,
    topics: Sequence[TopicConfig],
    archive_all: bool,
    progress: Progress | None = None,
    workers: int | None = None,
    min_extracted_size: int = 50,
    run_id: str | None = None,
) -> ReextractReport:
    """Re-extract every article page archived under `root` into a new article set; see the module doc."""
    root = Path(root)
    if not (root / WARC_DIR).is_dir():
        raise ConfigError(f"{root}: no {WARC_DIR}/ folder here, so this is not an archive root")
    started_at = datetime.now(UTC).isoformat()
    run_id = run_id or new_run_id()
    workers = workers if workers is not None else (os.cpu_count() or 1)
    matchers = [TopicMatcher(t) for t in topics]
    scan = _Scan(root)
    scan.read_discovery()
    report = ReextractReport(run_id=run_id, reextract_of=[], warc_files=len(scan.files))

    index = StoryClusterIndex()
    existing = sorted((root / ARTICLES_DIR).glob("outlet=*/date=*/*.jsonl"), key=lambda p: (p.name, str(p)))
    seed_from_rows(index, iter_article_rows(existing))

    writer = JsonlPartitionWriter(root, run_id)
    errors: Counter[str] = Counter()
    topic_counts: Counter[str] = Counter()
    try:
        for article, error in _extracted(scan, run_id, min_extracted_size, workers):
            report.article_pages += 1
            if article is None:
                errors[error] += 1
                continue
            if PAGE_ERROR_KEY in article.extraction:
                errors["page_object_failed"] += 1
            article.discovered_via = scan.discovered_via.get(
                (article.warc.record_id, article.fetched_url), article.discovered_via
            )
            article.topics = [m.judge(article.title, article.text, stage=2) for m in matchers]
            accepted = [t.name for t in article.topics if t.accepted]
            topic_counts.update(accepted)
            # Clustered whether kept or not: an off-topic copy still links the copies that are kept.
            article.story_cluster_id = index.assign(
                article.text_hash, article.text, article.url, article.published_at
            )
            if accepted or archive_all:
                writer.write(article.to_json())
                report.kept += 1
            else:
                report.off_topic += 1
            if progress is not None and report.article_pages % _BATCH == 0:
                progress(report.article_pages, report.kept)
    finally:
        report.files = writer.close()
    if progress is not None:
        progress(report.article_pages, report.kept)
    errors.update(scan.errors)
    report.errors = dict(errors)
    report.response_records = scan.response_records
    report.reextract_of = list(scan.run_ids)
    report.manifest = write_manifest(
        root,
        run_id,
        files=[(rel, "articles") for rel in report.files],
        counts={
            "warc_files": report.warc_files,
            "response_records": report.response_records,
            "article_pages": report.article_pages,
            "kept": report.kept,
            "off_topic": report.off_topic,
            "topics": dict(topic_counts),
        },
        config={
            "reextract_of": report.reextract_of,
            "topics": [{"name": t.name, "source": t.source, "threshold": t.threshold} for t in topics],
            "archive_all": archive_all,
            "workers": workers,
        },
        versions=software_versions(),
        started_at=started_at,
        finished_at=datetime.now(UTC).isoformat(),
        errors=report.errors,
        previous_run_id=latest_run_id(root),
    )
    return report
