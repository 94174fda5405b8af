"""The per-page work of `reextract`, in worker processes: read the record, extract, judge, sign.

Jobs carry only a record's location (`crawler.reextract_scan.ArticleJob`), never its bytes: each worker
reads the record itself, decides whether Scrapy would treat it as HTML, rebuilds the response and runs
the crawl's own extraction and topic judgement on it. With one worker everything runs in this process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from scrapy.http import Headers, HtmlResponse
from scrapy.responsetypes import responsetypes

from archive.readback import read_record
from core.config import TopicConfig
from core.items import Article, WarcPointer
from crawler.parse_page import fetched_page, outlet_for_url
from crawler.reextract_scan import ArchiveScan, ArticleJob
from pipelines.article_extraction import extract_article
from pipelines.dedup import Signature, StoryClusterIndex, seed_from_rows
from pipelines.relevance import TopicMatcher

logger = logging.getLogger(__name__)

JOBS_PER_TASK = 16  # pages per worker task: small enough that both workers stay busy to the end
DROPPED_BY_DECOMPRESSION = frozenset({"content-encoding", "transfer-encoding"})


@dataclass
class PageResult:
    """What a worker made of one job. `counted`: the record is an article page (HTML, payload readable)."""

    article: Article | None
    error: str = ""
    counted: bool = True
    signature: Signature | None = None


def record_fetched_at(warc_date: str) -> str:
    """WARC-Date (2026-11-28T05:16:07.256589Z) in the form the crawl writes fetched_at."""
    try:
        return datetime.fromisoformat(warc_date.replace("Z", "+00:00")).astimezone(UTC).isoformat()
    except ValueError:
        return warc_date


def is_html(url: str, headers: list[tuple[str, str]], body: bytes) -> bool:
    scrapy_headers = Headers()
    for name, value in headers:
        scrapy_headers.appendlist(name, value)
    return issubclass(responsetypes.from_args(headers=scrapy_headers, url=url, body=body), HtmlResponse)


class PageWorker:
    """Everything done per page: read the record, extract, judge the topics, sign the text for the
    story index. One per worker process (built by its initializer), or one in the main process."""

    def __init__(self, topics: Sequence[TopicConfig], run_id: str, min_extracted_size: int) -> None:
        self.matchers = [TopicMatcher(t) for t in topics]
        self.run_id = run_id
        self.min_extracted_size = min_extracted_size

    def process(self, job: ArticleJob) -> PageResult:
        try:
            record = read_record(Path(job.path), job.offset, job.length)
        except Exception as exc:  # a corrupt gzip body: the record stays, the page is counted
            logger.warning("%s: cannot decode the record at %d: %s", job.rel, job.offset, exc)
            return PageResult(None, f"decode/{type(exc).__name__}", counted=False)
        uri = record.target_uri
        pairs = [(n, v) for n, v in record.http_headers if n.lower() not in DROPPED_BY_DECOMPRESSION]
        if not is_html(uri, pairs, record.payload):
            return PageResult(None, counted=False)
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
            page = fetched_page(match, response, warc=pointer, fetched_at=record_fetched_at(pointer.date))
            article = extract_article(page, run_id=self.run_id, min_extracted_size=self.min_extracted_size)
        except Exception as exc:
            logger.warning("extraction of %s failed: %s: %s", uri, type(exc).__name__, exc)
            return PageResult(None, f"extract_failed/{type(exc).__name__}")
        article.topics = [m.judge(article.title, article.text, stage=2) for m in self.matchers]
        return PageResult(article, signature=Signature.of(article.text))

    def process_batch(self, batch: list[ArticleJob]) -> list[PageResult]:
        return [self.process(job) for job in batch]


_worker: PageWorker | None = None  # the worker process's own, set by init_worker


def init_worker(topics: Sequence[TopicConfig], run_id: str, min_extracted_size: int) -> None:
    global _worker
    _worker = PageWorker(topics, run_id, min_extracted_size)


def process_batch(batch: list[ArticleJob]) -> list[PageResult]:
    assert _worker is not None, "worker process not initialised"
    return _worker.process_batch(batch)


def signatures(texts: list[str]) -> list[Signature]:
    return [Signature.of(text) for text in texts]


def seed_story_index(
    index: StoryClusterIndex, rows: Iterator[dict[str, Any]], map_: Callable[..., Iterable[Any]]
) -> None:
    """seed_from_rows with the rows' signatures computed through `map_` (the pool's, so in parallel),
    a bounded number of rows at a time."""
    for chunk in batches(rows, 8 * JOBS_PER_TASK):
        texts = [str(row.get("text") or "") for row in chunk]
        parts = map_(signatures, [texts[i : i + JOBS_PER_TASK] for i in range(0, len(texts), JOBS_PER_TASK)])
        seed_from_rows(index, chunk, signatures=[sig for part in parts for sig in part])


T = TypeVar("T")


def batches(items: Iterator[T], size: int) -> Iterator[list[T]]:
    batch: list[T] = []
    for job in items:
        batch.append(job)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def page_results(
    scan: ArchiveScan, pool: ProcessPoolExecutor | None, workers: int, local: PageWorker | None
) -> Iterator[PageResult]:
    """Per-page results in WARC order, from the pool or (workers=1) from this process."""
    if pool is None:
        assert local is not None
        for job in scan.jobs():
            yield local.process(job)
        return
    pending = []
    for batch in batches(scan.jobs(), JOBS_PER_TASK):
        pending.append(pool.submit(process_batch, batch))
        # A few tasks per worker in flight: enough to stay busy, few results waiting in memory.
        while len(pending) > 4 * workers:
            yield from pending.pop(0).result()
    for future in pending:
        yield from future.result()
