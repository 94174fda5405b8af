"""The Scrapy adapter of extraction: `ExtractPipeline` runs `extract_article` on the reactor thread
when the page needs no slow step, otherwise under a time limit in threads or in killable worker
processes (`EXTRACT_WORKERS`).

In thread mode (the default) a page up to EXTRACT_INLINE_MAX_BYTES first goes through its page object
on the reactor thread: an lxml parse and a few lookups, ~2 ms on a real article page, while handing it
to a thread cost more CPU than that work (the GIL changed hands ~20 times per page: the notes in
bench/pipeline.py). Only a page that needs a slow step goes to a thread: trafilatura (no page object, a
failed one, a body that looks wrong), unbounded, or the first use of the language model (~0.5 s to
load). An outlet whose page object once takes longer than INLINE_SLOW_SECONDS is sent to threads for
the rest of the crawl. With worker processes, every page goes to them.

The extraction itself is `pipelines.article_extraction.extract_article` (pure, no Scrapy).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from core.config import ConfigError
from core.items import Article, FetchedPage
from core.url_outcomes import FOLLOWUP_SOURCES
from pipelines.article_extraction import (
    BODY_FALLBACK_KEY,
    PAGE_ERROR_KEY,
    ExtractionError,
    SlowStepNeeded,
    extract_article,
)
from pipelines.dates import JST, parse_datetime
from pipelines.drops import Excluded, Failed
from pipelines.extract_workers import ExtractWorkerPool, RemoteError, WorkerCrashed, picklable_request

logger = logging.getLogger(__name__)

INLINE_MAX_BYTES = 1024 * 1024  # EXTRACT_INLINE_MAX_BYTES: an lxml parse of 1 MiB takes ~10 ms
# ~100x a page object's usual time: past it the outlet's pages go to threads (a layout that makes its
# page object slow would otherwise hold up every download of the crawl, page after page).
INLINE_SLOW_SECONDS = 0.25


def _adhoc_run_id() -> str:
    return datetime.now(UTC).strftime("adhoc-%Y%m%dT%H%M%SZ")


class ExtractPipeline:
    """Scrapy item pipeline: FetchedPage in, Article out; anything else passes through."""

    def __init__(
        self,
        run_id: str,
        min_extracted_size: int = 50,
        timeout: float = 20.0,
        workers: int = 0,
        inline_max_bytes: int = INLINE_MAX_BYTES,
    ) -> None:
        if min_extracted_size < 0:
            raise ConfigError(f"EXTRACT_MIN_SIZE must be >= 0, got {min_extracted_size}")
        if timeout <= 0:
            raise ConfigError(f"EXTRACT_TIMEOUT must be > 0 seconds, got {timeout}")
        if workers < 0:
            raise ConfigError(f"EXTRACT_WORKERS must be >= 0 (0 = threads), got {workers}")
        if inline_max_bytes < 0:
            raise ConfigError(f"EXTRACT_INLINE_MAX_BYTES must be >= 0 (0 = never), got {inline_max_bytes}")
        self.run_id = run_id
        self.min_extracted_size = min_extracted_size
        self.timeout = timeout
        self.workers = workers
        self.inline_max_bytes = inline_max_bytes
        self._slow_outlets: set[str] = set()  # page objects too slow for the reactor thread
        # Processes can be killed on timeout, threads cannot (see pipelines.extract_workers).
        self.pool: ExtractWorkerPool | None = ExtractWorkerPool(workers) if workers else None
        self._thread_outlets: set[str] = set()
        self.crawler: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> ExtractPipeline:
        settings = crawler.settings
        run_id = settings.get("NEWSARCHIVE_RUN_ID") or ""
        if not run_id:
            run_id = _adhoc_run_id()
            logger.warning("NEWSARCHIVE_RUN_ID is not set; articles get run_id %s", run_id)
        pipeline = cls(
            run_id=str(run_id),
            min_extracted_size=settings.getint("EXTRACT_MIN_SIZE", 50),
            timeout=settings.getfloat("EXTRACT_TIMEOUT", 20.0),
            workers=settings.getint("EXTRACT_WORKERS", 0),
            inline_max_bytes=settings.getint("EXTRACT_INLINE_MAX_BYTES", INLINE_MAX_BYTES),
        )
        pipeline.crawler = crawler
        return pipeline

    def _count(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    def open_spider(self) -> None:
        if self.pool is not None:
            self.pool.start()

    def close_spider(self) -> None:
        if self.pool is not None:
            self.pool.close()

    async def _extract(self, item: FetchedPage) -> Article:
        request = None
        if self.pool is not None:
            request = picklable_request(item, self.run_id, self.min_extracted_size)
            if request is None:
                self._count("newsarchive/extract/thread_fallback")
                if item.outlet not in self._thread_outlets:
                    self._thread_outlets.add(item.outlet)
                    logger.warning(
                        "%s: its page object cannot be sent to a worker process; extracting in threads",
                        item.outlet,
                    )
        if self.pool is not None and request is not None:
            return await self.pool.extract(request, self.timeout)
        if self.pool is None and self._inline(item):
            started = time.perf_counter()
            try:
                return extract_article(
                    item, run_id=self.run_id, min_extracted_size=self.min_extracted_size, fast_only=True
                )
            except SlowStepNeeded:
                pass  # the whole page again in a thread: one more parse beside a step of ~100 ms or more
            finally:
                self._check_inline_time(item.outlet, time.perf_counter() - started)
        # A thread cannot be killed: on timeout the extraction finishes in the background and its
        # result is discarded, but the crawl goes on and the page stays archived in the WARC.
        return await asyncio.wait_for(
            asyncio.to_thread(
                extract_article, item, run_id=self.run_id, min_extracted_size=self.min_extracted_size
            ),
            timeout=self.timeout,
        )

    def _inline(self, item: FetchedPage) -> bool:
        return (
            self.inline_max_bytes > 0
            and len(item.body) <= self.inline_max_bytes
            and item.parser is not None
            and item.outlet not in self._slow_outlets
        )

    def _check_inline_time(self, outlet: str, seconds: float) -> None:
        if seconds <= INLINE_SLOW_SECONDS or outlet in self._slow_outlets:
            return
        self._slow_outlets.add(outlet)
        self._count("newsarchive/extract/inline_too_slow")
        logger.warning(
            "%s: a page object took %.2fs on the crawl's thread; its pages are extracted in threads from now on",
            outlet,
            seconds,
        )

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, FetchedPage):
            return item
        try:
            article = await self._extract(item)
        except TimeoutError:
            self._count("newsarchive/errors/extract_timeout")
            logger.warning(
                "extraction of %s took longer than %ss: dropped (page kept in WARC)", item.url, self.timeout
            )
            raise Failed(
                f"extraction timed out after {self.timeout}s: {item.url}", "extract_timeout"
            ) from None
        except ExtractionError as exc:
            self._count("newsarchive/errors/extract_no_warc")
            logger.warning("cannot extract %s: %s", item.url, exc)
            raise Failed(str(exc), "extract_no_warc") from exc
        except Exception as exc:
            self._count("newsarchive/errors/extract_failed")
            if isinstance(exc, WorkerCrashed):
                self._count("newsarchive/errors/extract_worker_crashed")
            kind = exc.type_name if isinstance(exc, RemoteError) else type(exc).__name__
            logger.warning("extraction of %s failed: %s: %s", item.url, kind, exc)
            logger.debug("extraction traceback for %s", item.url, exc_info=True)
            raise Failed(f"extraction failed: {item.url}: {kind}: {exc}", "extraction") from exc
        if PAGE_ERROR_KEY in article.extraction:
            self._count("newsarchive/errors/page_object_failed")
            logger.warning(
                "page object failed on %s (generic extraction used): %s",
                item.url,
                article.extraction[PAGE_ERROR_KEY],
            )
        if BODY_FALLBACK_KEY in article.extraction:
            # The page object's body and trafilatura's disagreed strongly (a layout change shows here).
            self._count("newsarchive/extract/body_fallback")
            if article.extraction["text"] == "trafilatura":
                self._count("newsarchive/extract/body_fallback/chose_trafilatura")
        # Revisits and retries were chosen by the catalog from earlier windows (pipelines.revisits): the
        # backstop is for candidates discovery found with no date, not for them.
        followup = item.candidate is not None and item.candidate.source in FOLLOWUP_SOURCES
        if not followup and self._outside_window(article):
            self._count("newsarchive/pruned/out_of_window_after_fetch")
            raise Excluded(
                f"published {article.published_at} is outside the date window: {item.url}", "out_of_window"
            )
        self._count("newsarchive/articles/extracted")
        return article

    def _outside_window(self, article: Article) -> bool:
        """The backstop for candidates whose date was unknown before fetching."""
        spider = getattr(self.crawler, "spider", None)
        since, until = getattr(spider, "since", None), getattr(spider, "until", None)
        published = parse_datetime(article.published_at)
        if published is None or (since is None and until is None):
            return False
        if isinstance(since, datetime) and published < (since if since.tzinfo else since.replace(tzinfo=JST)):
            return True
        return isinstance(until, datetime) and published > (
            until if until.tzinfo else until.replace(tzinfo=JST)
        )
