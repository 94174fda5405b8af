"""The incremental state of a distributed crawl in Redis: which article pages are archived already.

`RedisIncrementalSkip` is `pipelines.incremental.IncrementalSkip` (same rule, same stats, same recovery
of a crashed run's files) asking Redis too, so that every worker of a job and every later job knows at
once what any worker archived, long before the catalogs of their spools see the published files. Both are indexes: the
catalog (asked first, as before) knows what the archive root held when the run started, even with a new
or flushed Redis; Redis knows what any worker archived since.

One set holds the state (`newsarchive:archived`), its members prefixed by kind so that one SMISMEMBER
answers for a page's canonical URL and its outlet's path?query (see Catalog.archived_path); a page is
marked under every name it had (canonical, as requested, as fetched, path?query):

    u|<url>                   a URL an archived article page was known or fetched under
    p|<outlet>|<path?query>   the same page on any override origin (simulator, mirror)

A page is marked when its item is through the pipelines (stored, or dropped as off-topic: it is an
archived page either way), never earlier: a worker killed before that leaves it unmarked, and the page
is fetched again. Marks are sent in batches, one SADD per batch: the frontier sends `flush_marks`
before it releases leases (crawler.redis_frontier), so a request's lease is never released before its
page is marked. This is the interface the ETag and revisit state (#10) extends: more members or keys
behind `RedisArchivedState`, the same marking moment.
"""

from __future__ import annotations

from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy_redis.connection import get_redis_from_settings

from archive.catalog_sources import path_query
from pipelines.incremental import IncrementalSkip

ARCHIVED_KEY = "newsarchive:archived"
STAT_MARKED = "newsarchive/redis/marked_archived"

# request.meta key: whether Redis knew the page when it was discovered (crawler.redis_worker asks for a
# whole discovery page's candidates in one round trip); absent = ask Redis at scheduling.
META_ARCHIVED = "newsarchive_redis_archived"

flush_marks = object()
"""Signal: send the buffered marks now (sent by the frontier before it releases leases, and at close)."""


def url_member(url: str) -> str:
    return f"u|{url}"


def path_member(outlet: str, canonical: str) -> str:
    return f"p|{outlet}|{path_query(canonical)}"


class RedisArchivedState:
    def __init__(self, server: Any, key: str = ARCHIVED_KEY) -> None:
        self.server = server
        self.key = key
        self._buffer: list[str] = []

    def any_archived(self, members: list[str]) -> bool:
        return any(self.server.smismember(self.key, members))

    def mark(self, members: list[str]) -> None:
        """Buffer; `flush` sends them."""
        self._buffer += members

    def flush(self) -> None:
        members, self._buffer = self._buffer, []
        if members:
            self.server.sadd(self.key, *members)


class RedisIncrementalSkip(IncrementalSkip):
    redis: RedisArchivedState

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.get("REDIS_URL"):
            raise NotConfigured("REDIS_URL is not set: the archived-URL state lives in the catalog")
        ext = super().from_crawler(crawler)
        ext.redis = RedisArchivedState(get_redis_from_settings(crawler.settings))
        crawler.signals.connect(ext.item_done, signal=signals.item_scraped)
        crawler.signals.connect(ext.item_done, signal=signals.item_dropped)
        crawler.signals.connect(ext.redis.flush, signal=flush_marks)
        crawler.signals.connect(ext.redis.flush, signal=signals.spider_closed)
        return ext

    _known: bool | None = None  # META_ARCHIVED of the request being scheduled

    def request_scheduled(self, request: Request) -> None:
        self._known = request.meta.get(META_ARCHIVED)
        try:
            super().request_scheduled(request)
        finally:
            self._known = None

    def archived_path(self, canonical: str) -> bool:
        """IncrementalSkip's last question before fetching an article (after the catalog's): here, also
        whether Redis knows the page by its canonical URL or by its outlet's path?query (one round trip,
        unless the request carries the answer). The skip itself (stats, URL outcome, IgnoreRequest)
        stays IncrementalSkip's."""
        known = self._known
        if known is None:
            members = [url_member(canonical)]
            outlet = self._outlet()
            if outlet:
                members.append(path_member(outlet, canonical))
            known = self.redis.any_archived(members)
        return known or super().archived_path(canonical)

    def _outlet(self) -> str:
        return str(getattr(self.crawler.spider if self.crawler is not None else None, "name", "") or "")

    def members(self, request: Request, canonical: str) -> list[str]:
        members = [url_member(u) for u in self.urls_of(request, canonical)]
        outlet = self._outlet()
        if outlet:
            members.append(path_member(outlet, canonical))
        return members

    def item_done(self, item: Any, response: Response, **_: Any) -> None:
        candidate = response.meta.get("candidate") if response is not None else None
        if candidate is None or response.status != 200:
            return
        members = self.members(response.request or Request(response.url), candidate.url)
        members.append(url_member(response.url))
        self.redis.mark(list(dict.fromkeys(members)))
        if self.stats is not None:
            self.stats.inc_value(STAT_MARKED)
