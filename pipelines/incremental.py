"""Incremental crawling: article pages the archive already holds are not fetched again.

`IncrementalSkip` (an extension) drops article requests (`request.meta["candidate"]`, set by
NewsSpider.article_request) whose canonical URL (the candidate's) or fetched URL (the same URL on the
outlet's OUTLET_BASE_URLS origin, when one is set) the catalog (archive.catalog) counts as archived,
and counts them as `newsarchive/pruned/already_archived`. It also drops them when the catalog knows the
page by (spider name, path?query of the canonical URL) (`Catalog.archived_path`): a page fetched before
through another override origin (the simulator or a mirror on another port) is the same page. Feeds, sitemaps, listings and robots.txt
carry no candidate and are always fetched: they are how new articles are found.

Requests are dropped from a `request_scheduled` handler raising IgnoreRequest, before they are queued,
rather than from a downloader middleware's process_request: there, Scrapy's DownloaderStats would count
every skip under `downloader/exception_count` (which the progress line and the manifest report as
errors) and the spider's errback would count it again. Dropped at scheduling, a skip is a pruning
like the date window's, never an error, and no WARC record is written for it.

It also repairs the archive root before anything is captured (archive.recovery.recover_root: leftover
`.open` WARC files of a crashed run are repaired and indexed, the run's lost article rows re-created
from its metadata records), once per root and process, when it is built: Scrapy builds extensions
before the engine and its downloader middlewares, so this runs before the capture middleware's own
recovery at spider_opened, which then finds nothing left to repair. The files it writes are added to
this run's ledger, so the run manifest lists them. Recovery runs with INCREMENTAL off as well
(`--refetch`): only the skipping is turned off.

The catalog is refreshed lazily, at the first article request: articles are scheduled only once
discovery is over, so every file the root holds by then (recovered ones included) is seen.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.statscollectors import StatsCollector

from archive.catalog import Catalog
from archive.catalog_sources import path_query
from archive.catalog_urls import DEFAULT_MAX_ATTEMPTS
from archive.recovery import RecoveryReport, recover_root
from archive.run import RunLedger
from archive.storage import Store
from archive.stores import open_store
from core.baseurls import parse_base_urls, rebase_url
from core.clock import now as clock_now
from core.url_outcomes import url_event
from pipelines.crawl_catalog import SharedCatalog, catalog_of

logger = logging.getLogger(__name__)

STAT_SKIPPED = "newsarchive/pruned/already_archived"

_recovered: dict[str, RecoveryReport] = {}
_recovery_lock = threading.Lock()


def recover_once(root: Path, run_id: str | None, stats: StatsCollector | None = None) -> RecoveryReport:
    """Repair the root once per process; record what was written in the run's ledger."""
    key = str(Path(root).resolve())
    with _recovery_lock:
        if key in _recovered:
            return _recovered[key]
        report = _recovered[key] = recover_root(Path(root))
    for rel in report.repaired_warcs:
        logger.warning("Recovered WARC file left open by a crash: %s", rel)
    if report.salvaged_rows:
        logger.warning(
            "Re-created %d article rows of crashed run(s) %s from their WARC metadata records",
            report.salvaged_rows,
            ", ".join(report.dead_runs),
        )
    if run_id:
        ledger = RunLedger.for_run(Path(root), run_id)
        for rel in report.repaired_warcs:
            ledger.add_file(rel, "warc-recovered")
        for rel in report.indexes:
            ledger.add_file(rel, "cdxj")
        for rel in report.salvaged_files:
            ledger.add_file(rel, "articles")
    if stats is not None:
        if report.repaired_warcs:
            stats.inc_value("newsarchive/warc/recovered", len(report.repaired_warcs))
        if report.salvaged_rows:
            stats.inc_value("newsarchive/articles/salvaged", report.salvaged_rows)
    return report


class IncrementalSkip:
    def __init__(
        self,
        root: Path,
        *,
        enabled: bool = True,
        store: Store | None = None,
        stats: StatsCollector | None = None,
        base_urls: dict[str, str] | None = None,
        crawler: Crawler | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        now: datetime | None = None,
    ) -> None:
        self.root = Path(root)
        self.max_attempts = max_attempts
        self.now = now or clock_now()
        self.enabled = enabled
        self.store = store
        self.stats = stats
        self.base_urls = dict(base_urls or {})
        self.crawler = crawler
        self._catalog: SharedCatalog | None = None  # the crawler's, at first use (pipelines.crawl_catalog)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        root = settings.get("ARCHIVE_ROOT")
        if not root:
            raise NotConfigured("ARCHIVE_ROOT is not set: nothing archived to skip")
        store_url = settings.get("ARCHIVE_STORE") or ""
        ext = cls(
            Path(root),
            enabled=settings.getbool("INCREMENTAL", True),
            # The remote root of an s3:// archive, whose published runs the local spool may have shed.
            store=open_store(store_url) if store_url else None,
            stats=crawler.stats,
            base_urls=parse_base_urls(settings.get("OUTLET_BASE_URLS")),
            crawler=crawler,
            max_attempts=settings.getint("RETRY_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS),
            now=clock_now(settings.get("NEWSARCHIVE_NOW")),
        )
        recover_once(ext.root, settings.get("NEWSARCHIVE_RUN_ID") or None, crawler.stats)
        crawler.signals.connect(ext.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = catalog_of(self.crawler, self.root, self.store)
        return self._catalog.get()

    def request_scheduled(self, request: Request) -> None:
        candidate = request.meta.get("candidate")
        if not self.enabled or candidate is None or request.meta.get("newsarchive_followup"):
            return  # revisits, retries and catch-ups were chosen from the catalog (pipelines.revisits)
        if self.catalog.archived_any(self.urls_of(request, candidate.url)) or self.archived_path(
            candidate.url
        ):
            if self.stats is not None:
                self.stats.inc_value(STAT_SKIPPED)
            if self.crawler is not None:
                self.crawler.signals.send_catch_log(
                    url_event, url=candidate.url, state="excluded", reason="already_archived"
                )
            raise IgnoreRequest(f"already archived: {candidate.url}")
        held_back = self.held_back(candidate.url)
        if held_back:
            if self.stats is not None:
                self.stats.inc_value(f"newsarchive/pruned/{held_back}")
            if self.crawler is not None:
                self.crawler.signals.send_catch_log(
                    url_event, url=candidate.url, state="excluded", reason=held_back
                )
            raise IgnoreRequest(f"{held_back.replace('_', ' ')}: {candidate.url}")

    def held_back(self, url: str) -> str | None:
        """`gave_up` for a URL that failed RETRY_MAX_ATTEMPTS times (reported, never fetched again
        unless --refetch), `retry_backoff` while its backoff runs (archive.catalog_urls)."""
        state = self.catalog.url_state(url)
        if state is None or state.state != "failed":
            return None
        if state.attempts >= self.max_attempts:
            return "gave_up"
        retry_at = state.next_attempt()
        return "retry_backoff" if retry_at is not None and retry_at > self.now else None

    def urls_of(self, request: Request, canonical: str) -> list[str]:
        """The URLs the archive may know this article under: canonical, as requested, as fetched."""
        urls = [canonical, request.url]
        spider = self.crawler.spider if self.crawler is not None else None
        base = self.base_urls.get(getattr(spider, "name", ""))
        if base:
            hosts = {h.lower() for h in getattr(spider, "hosts", ())}
            urls += [
                u for u in (rebase_url(canonical, hosts, base), rebase_url(request.url, hosts, base)) if u
            ]
        return list(dict.fromkeys(urls))

    def archived_path(self, canonical: str) -> bool:
        """Whether this spider's page with the canonical URL's path?query was archived through any
        override origin. Only for a URL on the spider's own hosts: the override maps those alone."""
        spider = self.crawler.spider if self.crawler is not None else None
        name = getattr(spider, "name", "")
        hosts = {h.lower() for h in getattr(spider, "hosts", ())}
        if not name or (urlsplit(canonical).hostname or "").lower() not in hosts:
            return False
        return self.catalog.archived_path(name, path_query(canonical))

    def spider_closed(self) -> None:
        if self._catalog is not None:
            self._catalog.close()
