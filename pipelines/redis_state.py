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
page is marked.

`RedisFollowUps` is `pipelines.revisits.CatalogFollowUps` with the rest of the incremental state shared:

- the validators (ETag, Last-Modified) of discovery documents live in one hash for all jobs
  (`newsarchive:validators`, URL -> JSON [etag, last_modified]), written when a discovery response comes
  (a 200's own validators, a 304's or else those it confirmed) and asked first when a discovery request
  is scheduled; the catalog answers for a URL Redis does not know (a new or flushed Redis);
- the revisits, retries and catch-ups of an outlet are scheduled once per job: the worker that wins a
  `SET NX` claim (REDIS_FOLLOWUPS_KEY) pushes them into the shared frontier, where the seen-set and the
  leases apply as to any request. Any worker may fetch a revisit, so the version it compares against
  travels in the request (META_PREVIOUS), not in the memory of the worker that scheduled it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from typing import Any, Self

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy_redis.connection import get_redis_from_settings

from archive.catalog_sources import path_query
from pipelines.incremental import IncrementalSkip
from pipelines.revisits import CONDITIONAL_KINDS, REVISIT_META, CatalogFollowUps, Previous

logger = logging.getLogger(__name__)

ARCHIVED_KEY = "newsarchive:archived"
VALIDATORS_KEY = "newsarchive:validators"
STAT_MARKED = "newsarchive/redis/marked_archived"

# request.meta key of a revisit: the archived version it compares against (Previous as a dict).
META_PREVIOUS = "newsarchive_previous"
# A claim outlives any job (a job's keys are kept for `runs merge`), yet does not stay forever.
CLAIM_TTL_S = 30 * 24 * 3600

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


def _header(headers: Any, name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value else None


class RedisFollowUps(CatalogFollowUps):
    server: Any
    claim_key = ""  # REDIS_FOLLOWUPS_KEY, "%(spider)s" filled with the outlet
    private_job = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        if not crawler.settings.get("REDIS_URL"):
            raise NotConfigured("REDIS_URL is not set: follow-ups and validators live in the catalog")
        pipeline = super().from_crawler(crawler)
        pipeline.server = get_redis_from_settings(crawler.settings)
        pipeline.claim_key = crawler.settings.get("REDIS_FOLLOWUPS_KEY") or ""
        pipeline.private_job = crawler.settings.getbool("REDIS_JOB_PRIVATE")
        crawler.signals.connect(pipeline.response_received, signal=signals.response_received)
        return pipeline

    # ------------------------------------------------------------------ validators
    def validators(self, url: str) -> tuple[str | None, str | None]:
        shared = self.server.hget(VALIDATORS_KEY, url)
        if shared:
            etag, modified = json.loads(shared)
            return etag, modified
        return super().validators(url)

    def response_received(self, response: Response, request: Request, **_: Any) -> None:
        if request.meta.get("newsarchive_kind") in CONDITIONAL_KINDS:
            self._keep_validators(response, request)
        previous = request.meta.get(META_PREVIOUS)
        candidate = request.meta.get("candidate")
        if isinstance(previous, dict) and candidate is not None:
            self.revisits[candidate.url] = Previous(**previous)

    def _keep_validators(self, response: Response, request: Request) -> None:
        url = str(request.meta.get("newsarchive_url") or request.url)
        etag, modified = _header(response.headers, b"ETag"), _header(response.headers, b"Last-Modified")
        if response.status == 304:
            # A 304 confirms what was sent: the catalog's validators, on a worker that had no shared
            # ones, become the shared ones.
            etag = etag or _header(request.headers, b"If-None-Match")
            modified = modified or _header(request.headers, b"If-Modified-Since")
        elif response.status != 200:
            return
        if etag or modified:
            self.server.hset(VALIDATORS_KEY, url, json.dumps([etag, modified]))
        elif response.status == 200:
            self.server.hdel(VALIDATORS_KEY, url)  # the document changed and has none: send none

    # ------------------------------------------------------------------ once per job
    def claim(self, outlet: str) -> bool:
        if not self.claim_key:
            return True
        key = self.claim_key % {"spider": outlet}
        won = bool(
            self.server.set(
                key, self.crawler.settings.get("NEWSARCHIVE_RUN_ID") or "1", nx=True, ex=CLAIM_TTL_S
            )
        )
        if not won:
            logger.info("%s: follow-ups of this job are scheduled by another worker", outlet)
        return won

    def _follow_up(self, spider: Any, state: Any) -> Request | None:
        request = super()._follow_up(spider, state)
        previous = self.revisits.get(state.url)
        if request is not None and previous is not None and request.meta.get(REVISIT_META):
            request.meta[META_PREVIOUS] = asdict(previous)
        return request

    def spider_closed(self) -> None:
        if self.private_job and self.claim_key and self.crawler.spider is not None:
            self.server.delete(self.claim_key % {"spider": getattr(self.crawler.spider, "name", "")})
        super().spider_closed()
