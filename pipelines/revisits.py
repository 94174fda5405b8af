"""What the catalog asks of each run besides discovery: revisits, retries, catch-ups, conditional requests.

An item pipeline (it also has items to judge) that, for each outlet crawler, when INCREMENTAL is on:

- at the first `spider_idle` (discovery is over, the spider has scheduled its new articles) schedules
  - **revisits** of archived articles whose next slot of the revisit schedule (REVISIT_HOURS after
    publication: +6 h, +24 h, +7 days) has come (archive.catalog_urls), as conditional requests
    (If-None-Match / If-Modified-Since) that accept 304, 404 and 410;
  - **retries** of failed URLs whose backoff has passed, fewer than RETRY_MAX_ATTEMPTS times;
  - **catch-ups**: URLs excluded earlier as outside that run's window that this run's window covers
    (a discovery document answered 304 this time, so they would not be seen again otherwise);
- makes feed, sitemap and listing requests conditional with the validators of their last capture, so an
  unchanged outlet costs a handful of 304s (archived as revisit records by the capture middleware);
- judges revisited articles after extraction: the same payload digest, or the same title and text, is
  `unchanged` (dropped: the WARC already holds the revisit record); anything else is a new version
  (`version` n+1, `previous_version_id`, `changes`: core.textdiff) that the later pipelines keep even if
  the topic judgement changed. A 404/410 answer is a tombstone (`gone`), decided by the spider.

Each scheduled URL is reported to the URL ledger (pipelines.url_ledger) with its source, so the run's
accounting covers it. Times come from NEWSARCHIVE_NOW when set (core.clock).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured

from archive.catalog import Catalog
from archive.catalog_urls import DEFAULT_MAX_ATTEMPTS, DEFAULT_REVISIT_HOURS, UrlState
from archive.stores import open_store
from core.clock import now as clock_now
from core.items import Article, Candidate
from core.textdiff import summarize_change
from core.url_outcomes import url_event
from pipelines.crawl_catalog import SharedCatalog, catalog_of
from pipelines.drops import Unchanged

logger = logging.getLogger(__name__)

REVISIT_META = "newsarchive_revisit"  # the archived version a revisit request compares against
FOLLOWUP_META = "newsarchive_followup"  # "revisit" | "retry" | "catch-up": scheduled from the catalog
CONDITIONAL_KINDS = ("feed", "sitemap", "listing")


@dataclass(frozen=True)
class Previous:
    """The archived version a revisit compares against."""

    record_id: str | None
    digest: str | None
    version: int


class CatalogFollowUps:
    def __init__(
        self,
        crawler: Crawler,
        root: Path,
        *,
        store_url: str = "",
        revisit_hours: tuple[float, ...] = DEFAULT_REVISIT_HOURS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        now: datetime,
    ) -> None:
        self.crawler = crawler
        self.root = root
        self.store_url = store_url
        self.revisit_hours = revisit_hours
        self.max_attempts = max_attempts
        self.now = now
        self._catalog: SharedCatalog | None = None  # the crawler's, at first use (pipelines.crawl_catalog)
        self._scheduled = False
        self.revisits: dict[str, Previous] = {}  # canonical URL -> the version being revisited

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("INCREMENTAL", True) or not settings.get("ARCHIVE_ROOT"):
            raise NotConfigured("INCREMENTAL is off: every candidate is fetched, nothing is revisited")
        hours = tuple(float(h) for h in settings.getlist("REVISIT_HOURS", list(DEFAULT_REVISIT_HOURS)))
        pipeline = cls(
            crawler,
            Path(settings["ARCHIVE_ROOT"]),
            store_url=settings.get("ARCHIVE_STORE") or "",
            revisit_hours=hours,
            max_attempts=settings.getint("RETRY_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS),
            now=clock_now(settings.get("NEWSARCHIVE_NOW")),
        )
        crawler.signals.connect(pipeline.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(pipeline.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        return pipeline

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            store = open_store(self.store_url) if self.store_url else None
            self._catalog = catalog_of(self.crawler, self.root, store)
        return self._catalog.get()

    # ------------------------------------------------------------------ conditional discovery
    def request_scheduled(self, request: Request) -> None:
        if request.meta.get("newsarchive_kind") not in CONDITIONAL_KINDS:
            return
        etag, modified = self.validators(str(request.meta.get("newsarchive_url") or request.url))
        if etag:
            request.headers.setdefault(b"If-None-Match", etag.encode("latin-1"))
        if modified:
            request.headers.setdefault(b"If-Modified-Since", modified.encode("latin-1"))

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) to make a discovery request for `url` conditional with; a hook for a
        state shared between processes (pipelines.redis_state)."""
        return self.catalog.validators(url)

    # ------------------------------------------------------------------ scheduling
    def claim(self, outlet: str) -> bool:
        """Whether this process schedules the outlet's follow-ups: always, alone; a hook for crawls whose
        processes share one frontier, where one of them must (pipelines.redis_state)."""
        return True

    def spider_idle(self) -> None:
        if self._scheduled:
            return
        self._scheduled = True
        spider = self.crawler.spider
        outlet = getattr(spider, "name", "")
        if not self.claim(outlet):
            return
        requests = [r for state in self.catalog.url_states(outlet) if (r := self._follow_up(spider, state))]
        if not requests:
            return
        assert self.crawler.engine is not None
        for request in requests:
            self.crawler.engine.crawl(request)
        logger.info("%s: %d follow-up request(s) from the catalog", outlet, len(requests))
        raise DontCloseSpider

    def _follow_up(self, spider: Any, state: UrlState) -> Request | None:
        kind = self._due(spider, state)
        if kind is None:
            return None
        candidate = Candidate(
            url=state.url, outlet=state.outlet, source=kind, published_at=state.published_at
        )
        request: Request = spider.article_request(candidate)
        request.meta[FOLLOWUP_META] = kind
        if kind == "revisit":
            self.revisits[state.url] = Previous(state.record_id, state.digest, max(1, state.versions))
            request.meta[REVISIT_META] = True
            request.meta["handle_httpstatus_list"] = [304, 404, 410]
            if state.etag:
                request.headers[b"If-None-Match"] = state.etag.encode("latin-1")
            if state.last_modified:
                request.headers[b"If-Modified-Since"] = state.last_modified.encode("latin-1")
        self.crawler.signals.send_catch_log(
            url_event,
            url=state.url,
            state="scheduled",
            source=kind,
            published_at=state.published_at,
            revisit=kind == "revisit",
        )
        return request

    def _due(self, spider: Any, state: UrlState) -> str | None:
        if state.state == "archived":
            # A revisit that keeps failing (the page errs, the site is down) stops like a retry does.
            slot = state.next_revisit(self.revisit_hours)
            due = slot is not None and slot <= self.now and state.attempts < self.max_attempts
            return "revisit" if due else None
        if state.state == "failed":
            retry_at = state.next_attempt()
            due = retry_at is not None and retry_at <= self.now
            return "retry" if due and state.attempts < self.max_attempts else None
        if state.state == "excluded" and state.reason == "out_of_window" and state.published_at:
            inside = spider.in_window(Candidate(state.url, state.outlet, "catalog", "", state.published_at))
            return "catch-up" if inside else None
        return None

    # ------------------------------------------------------------------ versions
    def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article) or item.url not in self.revisits:
            return item
        previous = self.revisits[item.url]
        if previous.digest and item.warc.payload_digest == previous.digest:
            raise Unchanged(f"unchanged: {item.url}", "same_payload")
        row = self.catalog.article_row(item.url, previous.record_id)
        if row is not None and row.get("title") == item.title and row.get("text") == item.text:
            raise Unchanged(f"unchanged text: {item.url}", "same_text")
        item.version = previous.version + 1
        item.previous_version_id = previous.record_id
        if row is not None:
            item.changes = summarize_change(row.get("title", ""), row.get("text", ""), item.title, item.text)
        return item

    def spider_closed(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
