"""Outlet spiders as workers of a distributed crawl: discovery read from Redis, candidates shared at
once, exit after an idle timeout.

`distributed(NewsSpiderSubclass)` makes the worker class of an outlet: scrapy-redis's RedisMixin (start
URLs popped in batches from a Redis list, `MAX_IDLE_TIME_BEFORE_CLOSE`) in front of the outlet's own
spider. Where scrapy-redis is unfit, this extends it (the reasons are at each method):

- `make_request_from_data`: its JSON requests are FormRequests with `dont_filter=True`, so a seed pushed
  twice (two `seed` calls, two operators) is fetched twice; ours are the outlet's own discovery requests,
  with the callback of their kind, and go through the shared seen-set like every other request.
- `spider_idle`: its idle clock starts when the module is imported, and it closes a worker while other
  workers still hold requests (whose responses may bring new work, or whose leases may expire and must be
  taken over); ours restarts the clock whenever any work exists anywhere in the job.

A single-process NewsSpider schedules its articles once discovery is over (spider_idle). A worker never
sees the whole discovery: each discovery response's candidates inside the date window are scheduled
right away, into the shared queue, whose seen-set drops those another worker scheduled first. A killed
worker therefore loses no candidate: they are in Redis before its lease on the feed is released.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from scrapy_redis.spiders import RedisMixin
from scrapy_redis.utils import bytes_to_str

from core.items import Candidate
from crawler.redis_frontier import LeasedScheduler
from pipelines.redis_state import ARCHIVED_KEY, META_ARCHIVED, path_member, url_member
from spiders.base import NewsSpider

SEED_KINDS = ("feed", "sitemap", "listing", "search", "robots")


def seed_message(url: str, kind: str) -> str:
    """What `newsarchive seed` pushes for one discovery request."""
    if kind not in SEED_KINDS:
        raise ValueError(f"unknown discovery kind {kind!r}")
    return json.dumps({"url": url, "kind": kind}, sort_keys=True)


class RedisWorkerMixin(RedisMixin):  # type: ignore[misc]
    # Seeds are moved into the shared queue a few at a time, so every idle worker gets some to move.
    redis_batch_size = 4
    frontier: LeasedScheduler | None = None  # set by LeasedScheduler.open

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Any:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.setup_redis(crawler)
        # scrapy-redis starts the idle clock when its module is imported, not when the worker starts.
        spider.spider_idle_start_time = int(time.time())
        return spider

    async def start(self) -> AsyncIterator[Request]:
        for request in self.next_requests():
            yield request

    def make_request_from_data(self, data: bytes | str) -> Request | list[Request]:
        message = json.loads(bytes_to_str(data, self.redis_encoding))
        url, kind = message.get("url"), message.get("kind")
        if not url or kind not in SEED_KINDS:
            self.logger.warning("Seed without url or known kind ignored: %r", message)
            return []
        news = self._as_news()
        callbacks = {
            "feed": news.parse_feed,
            "sitemap": news.parse_sitemap,
            "listing": news.parse_listing,
            "search": news.parse_listing,
            "robots": news.parse_robots,
        }
        extra = {"search_page": 1} if kind == "search" else {}
        # Not dont_filter (scrapy-redis's choice for start URLs): a seed pushed twice is fetched once.
        request: Request = news._discovery_request(url, callbacks[kind], kind, **extra)
        return request

    def _as_news(self) -> NewsSpider:
        assert isinstance(self, NewsSpider)
        return self

    # Discovery callbacks: the outlet's own, then its in-window candidates go to the shared queue.
    def parse_feed(self, response: Response) -> Iterator[Request]:
        yield from super().parse_feed(response)
        yield from self.share_candidates()

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        yield from super().parse_sitemap(response)
        yield from self.share_candidates()

    def parse_listing(self, response: Response) -> Iterator[Request]:
        yield from super().parse_listing(response)
        yield from self.share_candidates()

    def share_candidates(self) -> Iterator[Request]:
        """Schedule the in-window candidates this worker has not shared yet (feeds, sitemaps and listings
        name the same article several times; the shared seen-set would drop the repeats, one round trip
        each, so they are dropped here first)."""
        news = self._as_news()
        shared: set[str] = self.__dict__.setdefault("_shared_urls", set())
        found = [c for url, c in news._candidates.items() if url not in shared]
        news._candidates.clear()
        chosen: list[Candidate] = []
        for candidate in found:
            shared.add(candidate.url)
            if news.in_window(candidate):
                chosen.append(candidate)
            else:
                news._inc("pruned/out_of_window")
                news.url_outcome(candidate.url, "excluded", "out_of_window")
        known = self.archived_in_redis([c.url for c in chosen])
        for candidate, archived in zip(chosen, known, strict=True):
            news._inc("candidates/scheduled")
            news.url_outcome(candidate.url, "scheduled")
            request = news.article_request(candidate)
            request.meta[META_ARCHIVED] = archived
            yield request

    def archived_in_redis(self, urls: list[str]) -> list[bool]:
        """Whether Redis knows each page (pipelines.redis_state), for all of them in one round trip:
        the archived check that would otherwise cost one per article when it is scheduled."""
        if not urls or self.server is None:
            return [False] * len(urls)
        members = [m for url in urls for m in (url_member(url), path_member(self._as_news().name, url))]
        answers = self.server.smismember(ARCHIVED_KEY, members)
        return [bool(answers[2 * i] or answers[2 * i + 1]) for i in range(len(urls))]

    def spider_idle(self) -> None:
        frontier = self.frontier
        if frontier is not None:
            frontier.release_finished()
            # Requests a dead worker held come back here; leases still running may bring new work.
            requeued, leased, seeds, queued = frontier.idle_probe(self.redis_key)
        else:
            requeued, leased, queued = 0, 0, 0
            seeds = self.count_size(self.redis_key) if self.server is not None else 0
        if requeued or leased or seeds or queued:
            self.spider_idle_start_time = int(time.time())
        if seeds:
            self.schedule_next_requests()
        if self.max_idle_time and time.time() - self.spider_idle_start_time >= self.max_idle_time:
            return
        raise DontCloseSpider


def distributed(spidercls: type[Spider]) -> type[Spider]:
    """The worker class of an outlet spider: same name, settings and callbacks, discovery from Redis."""
    if not issubclass(spidercls, NewsSpider):
        raise TypeError(f"{spidercls.__name__} is not a NewsSpider: it cannot be a worker")
    worker = type(f"Redis{spidercls.__name__}", (RedisWorkerMixin, spidercls), {"__module__": __name__})
    return worker
