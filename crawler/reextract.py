"""`newsarchive reextract ROOT`: extraction, topic judgement and story clustering again, from the WARCs alone.

A better page object or a new topic then applies to the whole archive without fetching anything. The
result is a NEW versioned article set (`articles/outlet=*/date=*/<new-run-id>-<outlet>-00000.jsonl.gz`)
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from fastwarc.warc import ArchiveIterator as FastArchiveIterator
from fastwarc.warc import WarcRecordType
from scrapy.http import Headers, HtmlResponse
from scrapy.responsetypes import responsetypes
from warcio.archiveiterator import ArchiveIterator

from archive.cdxj import cdxj_path_for, read_cdxj
from archive.jsonl import JsonlPartitionWriter, iter_row_files
from archive.paths import WARC_DIR, relpath
from archive.readback import read_record
from archive.run import latest_run_id, new_run_id, software_versions, write_manifest
from core.config import ConfigError, TopicConfig
from core.items import Article, WarcPointer
from crawler.parse_page import fetched_page, outlet_for_url
from pipelines.article_extraction import PAGE_ERROR_KEY, extract_article
from pipelines.dedup import Signature, StoryClusterIndex, iter_article_rows, seed_from_rows
from pipelines.relevance import TopicMatcher

logger = logging.getLogger(__name__)

_BATCH = 64  # pages between progress calls; metadata records read per task
_JOBS_PER_TASK = 16  # pages per worker task: small enough that both workers stay busy to the end
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


@dataclass(frozen=True)
class _Job:
    """Where one candidate article record is: the worker process reads it itself (main sends no payload)."""

    path: str  # the WARC file, as opened
    rel: str  # the same, relative to the archive root (what the article's pointer says)
    offset: int
    length: int
    outlet: str
    base_url: str | None


@dataclass
class _Result:
    """What a worker made of one job. `counted`: the record is an article page (HTML, payload readable)."""

    article: Article | None
    error: str = ""
    counted: bool = True
    signature: Signature | None = None


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


@dataclass
class _WarcFile:
    """One WARC file as the main process sees it: its warcinfo facts and where its records are."""

    path: Path
    rel: str
    run_id: str = ""
    base_urls: dict[str, str] = field(default_factory=dict)
    # (offset, length, target uri, http status) of every response record with an HTTP block, in order
    responses: list[tuple[int, int, str, str]] = field(default_factory=list)
    metadata: list[tuple[int, int]] = field(default_factory=list)  # indexed metadata records, in order
    indexed: bool = False  # from the .cdxj (else from a warcio scan, and discovery from a fastwarc pass)


def _from_cdxj(path: Path, rel: str) -> _WarcFile | None:
    """The file's records from its .cdxj and its warcinfo from the first record: no payload decompressed
    but the warcinfo's. None when that does not work (no index, or no warcinfo at offset 0)."""
    index = cdxj_path_for(path)
    if not index.is_file():
        return None
    try:
        first = read_record(path, 0)
    except Exception:
        return None
    if first.rec_type != "warcinfo":
        return None  # a foreign file may carry its warcinfo elsewhere: the scan finds it
    info = _warcinfo(first.raw_payload)
    found = _WarcFile(path, rel, info.get("isPartOf", ""), _base_urls(info, path), indexed=True)
    lines = sorted(read_cdxj(index), key=lambda line: int(line.fields["offset"]))
    for line in lines:
        f = line.fields
        offset, length = int(f["offset"]), int(f["length"])
        mime = f.get("mime")
        # cdxj-indexer gives a status only to response and revisit records with an HTTP block (a
        # metadata record has none, whatever its URI); a revisit's mime is warc/revisit.
        if "status" in f and mime != "warc/revisit":
            found.responses.append((offset, length, str(f.get("url") or ""), str(f["status"])))
        elif mime != "warc/revisit":
            found.metadata.append((offset, length))  # or a resource record: the reader checks the type
    return found


def _scanned(path: Path, rel: str) -> _WarcFile:
    """The same as _from_cdxj for a file without an index: a warcio pass over the whole file."""
    found = _WarcFile(path, rel)
    with path.open("rb") as fh:
        it = ArchiveIterator(fh)
        for record in it:
            if record.rec_type == "warcinfo":
                info = _warcinfo(record.raw_stream.read())
                found.base_urls = _base_urls(info, path)
                found.run_id = found.run_id or info.get("isPartOf", "")
                continue
            if record.rec_type != "response" or record.http_headers is None:
                continue
            record.raw_stream.read()  # the offset and length are known once the record is read
            uri = record.rec_headers.get_header("WARC-Target-URI") or ""
            status = record.http_headers.get_statuscode() or ""
            found.responses.append((it.get_record_offset(), it.get_record_length(), uri, status))
    return found


class _Scan:
    """The WARC files in order, where their article records are, and what the crawl's metadata records say."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = sorted(p for p in (root / WARC_DIR).rglob("*.warc.gz") if p.is_file())
        self.run_ids: list[str] = []
        self.discovered_via: dict[tuple[str, str], str] = {}  # (refers-to record id, fetched url) -> source
        self.response_records = 0
        self.errors: Counter[str] = Counter()
        self.warcs: list[_WarcFile] = []
        for path in self.files:
            rel = relpath(root, path)
            warc = _from_cdxj(path, rel) or _scanned(path, rel)
            self.warcs.append(warc)
            if warc.run_id and warc.run_id not in self.run_ids:
                self.run_ids.append(warc.run_id)
            self.response_records += len(warc.responses)

    def jobs(self) -> Iterator[_Job]:
        """Response records with status 200 whose target URI is an article of a known outlet, in WARC
        order. Whether the payload is HTML is left to the worker: Scrapy decides it from all the
        headers, the URL and the start of the body, which an index line does not hold."""
        for warc in self.warcs:
            for offset, length, uri, status in warc.responses:
                if status != "200":
                    continue
                match = outlet_for_url(uri, warc.base_urls)
                if match.spider is None or not match.spider.is_article(match.spider.canonicalize(uri)):
                    continue
                path = str(warc.path)
                yield _Job(path, warc.rel, offset, length, match.name, match.spider.base_url)

    def read_discovery(self, map_: Callable[..., Iterable[Any]] = map) -> None:
        """What the crawl's article metadata records say about discovery, read before any extraction
        (a metadata record follows its response, possibly in a later file). Indexed records are read
        one by one, through `map_` (a worker pool's map); a file without index gets a fastwarc pass,
        which skips every other record type without parsing it."""
        for warc in self.warcs:
            if warc.indexed:
                chunks = [warc.metadata[i : i + _BATCH] for i in range(0, len(warc.metadata), _BATCH)]
                for pairs in map_(_discovery_in, [str(warc.path)] * len(chunks), chunks):
                    for key, via in pairs:
                        self.discovered_via[key] = via
                continue
            with warc.path.open("rb") as fh:
                for record in FastArchiveIterator(fh, record_types=WarcRecordType.metadata, parse_http=False):
                    found = _discovery(
                        record.headers.get("WARC-Refers-To"),
                        record.headers.get("Content-Type"),
                        record.reader.read(),
                    )
                    if found is not None:
                        self.discovered_via[found[0]] = found[1]


def _discovery(
    refers_to: str | None, content_type: str | None, payload: bytes
) -> tuple[tuple[str, str], str] | None:
    if not refers_to or "json" not in (content_type or ""):
        return None
    try:
        row = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(row, dict) and row.get("discovered_via"):
        return (str(refers_to), str(row.get("fetched_url") or "")), str(row["discovered_via"])
    return None


def _discovery_in(path: str, locations: list[tuple[int, int]]) -> list[tuple[tuple[str, str], str]]:
    """Runs in a worker process: the discovery facts of some metadata records of one file."""
    found = []
    for offset, length in locations:
        try:
            record = read_record(Path(path), offset, length)
        except Exception as exc:  # a damaged record only costs its discovered_via
            logger.warning("%s: cannot read the metadata record at %d: %s", path, offset, exc)
            continue
        if record.rec_type != "metadata":
            continue
        headers = {name.lower(): value for name, value in reversed(record.warc_headers)}
        item = _discovery(headers.get("warc-refers-to"), headers.get("content-type"), record.raw_payload)
        if item is not None:
            found.append(item)
    return found


class _Worker:
    """Everything done per page: read the record, extract, judge the topics, sign the text for the
    story index. One per worker process (built by its initializer), or one in the main process."""

    def __init__(self, topics: Sequence[TopicConfig], run_id: str, min_extracted_size: int) -> None:
        self.matchers = [TopicMatcher(t) for t in topics]
        self.run_id = run_id
        self.min_extracted_size = min_extracted_size

    def process(self, job: _Job) -> _Result:
        try:
            record = read_record(Path(job.path), job.offset, job.length)
        except Exception as exc:  # a corrupt gzip body: the record stays, the page is counted
            logger.warning("%s: cannot decode the record at %d: %s", job.rel, job.offset, exc)
            return _Result(None, f"decode/{type(exc).__name__}", counted=False)
        uri = record.target_uri
        pairs = [(n, v) for n, v in record.http_headers if n.lower() not in _DROPPED_BY_DECOMPRESSION]
        if not _is_html(uri, pairs, record.payload):
            return _Result(None, counted=False)
        pointer = WarcPointer(
            filename=Path(job.rel).name,
            path=job.rel,
            offset=job.offset,
            length=job.length,
            record_id=record.record_id,
            payload_digest=record.payload_digest,
            target_uri=uri,
            date=record.date,
        )
        try:
            match = outlet_for_url(uri, {job.outlet: job.base_url} if job.base_url else None)
            scrapy_headers = Headers()
            for name, value in pairs:
                scrapy_headers.appendlist(name, value)
            response = HtmlResponse(url=uri, body=record.payload, headers=scrapy_headers, status=200)
            page = fetched_page(match, response, warc=pointer, fetched_at=_fetched_at(pointer.date))
            article = extract_article(page, run_id=self.run_id, min_extracted_size=self.min_extracted_size)
        except Exception as exc:
            logger.warning("extraction of %s failed: %s: %s", uri, type(exc).__name__, exc)
            return _Result(None, f"extract_failed/{type(exc).__name__}")
        article.topics = [m.judge(article.title, article.text, stage=2) for m in self.matchers]
        return _Result(article, signature=Signature.of(article.text))

    def process_batch(self, batch: list[_Job]) -> list[_Result]:
        return [self.process(job) for job in batch]


_worker: _Worker | None = None  # the worker process's own, set by _init_worker


def _init_worker(topics: Sequence[TopicConfig], run_id: str, min_extracted_size: int) -> None:
    global _worker
    _worker = _Worker(topics, run_id, min_extracted_size)


def _process_batch(batch: list[_Job]) -> list[_Result]:
    assert _worker is not None, "worker process not initialised"
    return _worker.process_batch(batch)


def _signatures(texts: list[str]) -> list[Signature]:
    return [Signature.of(text) for text in texts]


def _seed(
    index: StoryClusterIndex, rows: Iterator[dict[str, Any]], map_: Callable[..., Iterable[Any]]
) -> None:
    """seed_from_rows with the rows' signatures computed through `map_` (the pool's, so in parallel),
    a bounded number of rows at a time."""
    for chunk in _batches(rows, 8 * _JOBS_PER_TASK):
        texts = [str(row.get("text") or "") for row in chunk]
        parts = map_(
            _signatures, [texts[i : i + _JOBS_PER_TASK] for i in range(0, len(texts), _JOBS_PER_TASK)]
        )
        seed_from_rows(index, chunk, signatures=[sig for part in parts for sig in part])


T = TypeVar("T")


def _batches(items: Iterator[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for job in items:
        batch.append(job)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _results(
    scan: _Scan, pool: ProcessPoolExecutor | None, workers: int, local: _Worker | None
) -> Iterator[_Result]:
    """Per-page results in WARC order, from the pool or (workers=1) from this process."""
    if pool is None:
        assert local is not None
        for job in scan.jobs():
            yield local.process(job)
        return
    pending = []
    for batch in _batches(scan.jobs(), _JOBS_PER_TASK):
        pending.append(pool.submit(_process_batch, batch))
        # A few tasks per worker in flight: enough to stay busy, few results waiting in memory.
        while len(pending) > 4 * workers:
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
    scan = _Scan(root)
    report = ReextractReport(run_id=run_id, reextract_of=[], warc_files=len(scan.files))
    errors: Counter[str] = Counter()
    topic_counts: Counter[str] = Counter()
    # Created before the index is seeded, but it lists nothing: its files stay `.open` until closed.
    writer = JsonlPartitionWriter(root, run_id)
    pool: ProcessPoolExecutor | None = None
    local: _Worker | None = None
    try:
        if workers > 1:
            # Each worker builds its matchers once; jobs carry only a record's location, not its bytes.
            pool = ProcessPoolExecutor(
                max_workers=workers,
                initializer=_init_worker,
                initargs=(list(topics), run_id, min_extracted_size),
            )
            scan.read_discovery(pool.map)
        else:
            local = _Worker(topics, run_id, min_extracted_size)
            scan.read_discovery()
        index = StoryClusterIndex()
        _seed(index, iter_article_rows(iter_row_files(root)), pool.map if pool is not None else map)
        for result in _results(scan, pool, workers, local):
            if result.error:
                errors[result.error] += 1
            if not result.counted:
                continue
            report.article_pages += 1
            article = result.article
            if article is None:
                continue
            if PAGE_ERROR_KEY in article.extraction:
                errors["page_object_failed"] += 1
            article.discovered_via = scan.discovered_via.get(
                (article.warc.record_id, article.fetched_url), article.discovered_via
            )
            accepted = [t.name for t in article.topics if t.accepted]
            topic_counts.update(accepted)
            # Clustered whether kept or not: an off-topic copy still links the copies that are kept.
            article.story_cluster_id = index.assign(
                article.text_hash,
                article.text,
                article.url,
                article.published_at,
                signature=result.signature,
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
        if pool is not None:
            pool.shutdown(cancel_futures=True)
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
