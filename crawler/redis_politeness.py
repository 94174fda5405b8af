"""Per-host politeness shared by every worker of a distributed crawl.

Scrapy's DOWNLOAD_DELAY and AutoThrottle pace one process: N workers would hit a host N times as often.
`SharedHostDelayMiddleware` keeps, per host, the earliest time the next request may go in one Redis key.
Each request reserves the next free slot with a Lua script (atomic across workers: read the key, take
max(now, key), move the key one delay further) and waits until its slot. Redis's clock is the only clock,
so the workers' clocks need not agree. In Redis mode the per-process delay is turned off
(crawler.redis_mode): this gate is the one pace.

What one worker learns about a host paces all of them:
- the delay between two slots is the larger of REDIS_HOST_DELAY and the host's robots.txt Crawl-delay
  (crawler.crawl_delay reads it; every worker reads robots.txt before its first request to the host);
- a 429 or 503 with Retry-After moves the host's pause key to the time asked for; no slot is given out
  before it, and while the pause is longer than RETRY_AFTER_MAX, requests to the host fail at once as
  `rate_limited` (crawler.retry_after's rule for the worker that received the answer).

It runs last among the downloader middlewares' process_request (priority 990), after the robots.txt
check and the base-URL override, so the wait is spent right before the request is sent and the host
it paces is the one really contacted (host:port: the simulator serves each outlet on its own port).
"""

from __future__ import annotations

import time
from typing import Any, Protocol, Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy_redis.connection import get_redis_from_settings
from twisted.internet import task

from crawler.crawl_delay import CrawlDelay
from crawler.redis_keys import LUA_NOW_MS, host_key, host_pause_key
from crawler.retry_after import RATE_LIMIT_STATUSES, RateLimited, parse_retry_after

STAT_WAITED_MS = "newsarchive/redis/host_wait_ms"
STAT_PAUSED = "newsarchive/redis/host_paused"
STAT_RATE_LIMITED = "newsarchive/redis/rate_limited"

# KEYS: next free slot, pause; ARGV: delay ms, longest pause waited for (ms). Returns the wait in ms, or
# -1 when the host's pause is longer than that (no slot is taken then).
_RESERVE_SLOT = (
    LUA_NOW_MS
    + """
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused - now_ms > tonumber(ARGV[2]) then return -1 end
local delay = tonumber(ARGV[1])
local slot = math.max(now_ms, tonumber(redis.call('GET', KEYS[1]) or '0'), paused)
redis.call('SET', KEYS[1], slot + delay, 'PX', slot - now_ms + delay + 60000)
return slot - now_ms
"""
)

# KEYS: pause; ARGV: wait ms. The pause only ever grows (two answers: the later time wins).
_PAUSE = (
    LUA_NOW_MS
    + """
local until_ms = now_ms + tonumber(ARGV[1])
if until_ms > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]) + 60000)
end
return 1
"""
)


class HostDelays(Protocol):
    def delay_for(self, request: Request) -> float: ...


class SharedHostDelayMiddleware:
    def __init__(
        self,
        server: Any,
        delay_s: float,
        stats: Any = None,
        *,
        max_pause_s: float = 600.0,
        crawl_delays: HostDelays | None = None,
    ) -> None:
        """`crawl_delays`: the hosts' robots.txt Crawl-delays (crawler.crawl_delay.CrawlDelay), if obeyed."""
        self.delay_ms = round(delay_s * 1000)
        self.max_pause_ms = round(max_pause_s * 1000)
        self.stats = stats
        self.crawl_delays = crawl_delays
        self._reserve = server.register_script(_RESERVE_SLOT)
        self._pause = server.register_script(_PAUSE)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        delay = crawler.settings.getfloat("REDIS_HOST_DELAY", 0.0)
        if delay <= 0:
            raise NotConfigured("REDIS_HOST_DELAY is 0: no shared per-host delay")
        return cls(
            get_redis_from_settings(crawler.settings),
            delay,
            crawler.stats,
            max_pause_s=crawler.settings.getfloat("RETRY_AFTER_MAX", 600.0),
            # Built before the engine's downloader middlewares; absent when ROBOTSTXT_OBEY is off.
            crawl_delays=next((e for e in crawler.extensions.middlewares if isinstance(e, CrawlDelay)), None),
        )

    def _crawl_delay_ms(self, request: Request) -> int:
        return round(self.crawl_delays.delay_for(request) * 1000) if self.crawl_delays else 0

    def reserve(self, request: Request) -> int:
        """Take the next free slot of the request's host: milliseconds to wait for it, or -1 when the
        host is paused for longer than RETRY_AFTER_MAX (no slot taken)."""
        netloc = urlparse_cached(request).netloc
        delay_ms = max(self.delay_ms, self._crawl_delay_ms(request))
        # One round trip of well under a millisecond on the reactor thread: cheaper than a thread hop.
        keys = [host_key(netloc), host_pause_key(netloc)]
        return int(self._reserve(keys=keys, args=[delay_ms, self.max_pause_ms]))

    async def process_request(self, request: Request) -> None:
        wait_ms = self.reserve(request)
        if wait_ms < 0:
            self._inc(STAT_RATE_LIMITED)
            raise RateLimited(
                f"{urlparse_cached(request).netloc} asked (Retry-After) for a pause longer than "
                f"RETRY_AFTER_MAX: {request.url} not fetched"
            )
        if wait_ms > 0:
            from twisted.internet import reactor  # the one Scrapy installed, never a default one

            self._inc(STAT_WAITED_MS, wait_ms)
            await maybe_deferred_to_future(task.deferLater(reactor, wait_ms / 1000, lambda: None))

    def process_response(self, request: Request, response: Response) -> Response:
        """A Retry-After on a 429/503 pauses the host for every worker (this one's RetryAfterMiddleware
        pauses it locally and decides about the retry, as without Redis)."""
        if response.status in RATE_LIMIT_STATUSES:
            header = response.headers.get("Retry-After")
            wait = parse_retry_after(header.decode("latin-1"), time.time()) if header else None
            if wait:
                self._pause(keys=[host_pause_key(urlparse_cached(request).netloc)], args=[round(wait * 1000)])
                self._inc(STAT_PAUSED)
        return response

    def _inc(self, key: str, count: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(key, count)
