"""Per-host politeness shared by every worker of a distributed crawl.

Scrapy's DOWNLOAD_DELAY and AutoThrottle pace one process: N workers would hit a host N times as often.
`SharedHostDelayMiddleware` keeps, per host, the earliest time the next request may go in one Redis key.
Each request reserves the next free slot with a Lua script (atomic across workers: read the key, take
max(now, key), move the key one delay further) and waits until its slot. Redis's clock is the only clock,
so the workers' clocks need not agree. In Redis mode the per-process delay is turned off
(crawler.redis_mode): this gate is the one pace.

It runs last among the downloader middlewares' process_request (priority 990), after the robots.txt
check and the base-URL override, so the wait is spent right before the request is sent and the host
it paces is the one really contacted (host:port: the simulator serves each outlet on its own port).
"""

from __future__ import annotations

from typing import Any, Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy_redis.connection import get_redis_from_settings
from twisted.internet import task

from crawler.redis_keys import host_key

STAT_WAITED_MS = "newsarchive/redis/host_wait_ms"

_RESERVE_SLOT = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local delay = tonumber(ARGV[1])
local slot = math.max(now_ms, tonumber(redis.call('GET', KEYS[1]) or '0'))
redis.call('SET', KEYS[1], slot + delay, 'PX', delay + 60000)
return slot - now_ms
"""


class SharedHostDelayMiddleware:
    def __init__(self, server: Any, delay_s: float, stats: Any = None) -> None:
        self.delay_ms = round(delay_s * 1000)
        self.stats = stats
        self._reserve = server.register_script(_RESERVE_SLOT)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        delay = crawler.settings.getfloat("REDIS_HOST_DELAY", 0.0)
        if delay <= 0:
            raise NotConfigured("REDIS_HOST_DELAY is 0: no shared per-host delay")
        return cls(get_redis_from_settings(crawler.settings), delay, crawler.stats)

    async def process_request(self, request: Request) -> None:
        netloc = urlparse_cached(request).netloc
        # One round trip of well under a millisecond on the reactor thread: cheaper than a thread hop.
        wait_ms = int(self._reserve(keys=[host_key(netloc)], args=[self.delay_ms]))
        if wait_ms > 0:
            from twisted.internet import reactor  # the one Scrapy installed, never a default one

            if self.stats is not None:
                self.stats.inc_value(STAT_WAITED_MS, wait_ms)
            await maybe_deferred_to_future(task.deferLater(reactor, wait_ms / 1000, lambda: None))
