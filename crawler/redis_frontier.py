"""The shared frontier of a distributed crawl: scrapy-redis's scheduler, queue and dupefilter, extended
with leases so that a worker that dies loses nothing.

scrapy-redis (pinned in constraints.txt) gives every worker one request queue (a sorted set) and one
seen-set in Redis. Two parts of it are unfit for us and are extended here, not forked:

- Its queue pops a request and forgets it: a worker killed with requests in flight loses them for the
  whole job (the seen-set keeps other workers from ever scheduling them again). `LeasedQueue.pop` moves
  the request, in the same Lua script, into a pending sorted set scored by its lease expiry;
  `LeasedScheduler` releases the lease once the engine is done with the request (downloaded, callback
  run, items through the pipelines), renews the leases of requests still in flight every third of a
  lease, and `idle_probe` (called by idle workers) puts the requests of dead workers back in the queue.
- Its scheduler calls the stats collector with a `spider=` argument that Scrapy 2.19 deprecates, and
  makes two round trips per scheduled request (SADD then ZADD): ours makes one (a Lua script) and calls
  the stats the current way.

The queue keeps scrapy-redis's serializer (pickle of `Request.to_dict()`): requests carry our Candidate
objects in meta, which JSON cannot hold. The Redis server is therefore trusted like the archive root.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Self

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet import task

from crawler.redis_keys import LUA_NOW_MS, pending_key
from pipelines.redis_state import flush_marks

logger = logging.getLogger(__name__)

RELEASE_INTERVAL_S = 0.5
EMPTY_BACKOFF_S = 0.1
STAT_REQUEUED = "newsarchive/redis/requeued_expired"

# Take the best request and lease it in one step, so that no crash between the two can lose it.
_POP_AND_LEASE = (
    """
local item = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if not item then return false end
redis.call('ZREM', KEYS[1], item)
"""
    + LUA_NOW_MS
    + """
redis.call('ZADD', KEYS[2], now_ms + tonumber(ARGV[1]), item)
return item
"""
)

# Expired leases go back to the queue at their own priority (the score they had is not kept: 0 = normal).
_REQUEUE_EXPIRED = (
    LUA_NOW_MS
    + """
local items = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now_ms, 'LIMIT', 0, 100)
for _, item in ipairs(items) do
  redis.call('ZREM', KEYS[2], item)
  redis.call('ZADD', KEYS[1], 0, item)
end
return #items
"""
)

# Leases of requests still in flight moved to now + lease; XX: a lease already expired and re-queued by
# another worker is not brought back (that worker's copy is the live one now).
_RENEW = (
    LUA_NOW_MS
    + """
local lease = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now_ms + lease, ARGV[i])
end
return #ARGV - 1
"""
)

# What an idle worker needs to know, in one round trip: expired leases re-queued first, then how many
# requests are leased, seeds wait (KEYS[3]) and requests are queued.
_IDLE_PROBE = (
    _REQUEUE_EXPIRED.replace("return #items", "local n = #items")
    + """
return {n, redis.call('ZCARD', KEYS[2]), redis.call('LLEN', KEYS[3]), redis.call('ZCARD', KEYS[1])}
"""
)

# The dupefilter's SADD and the queue's ZADD in one round trip.
_ENQUEUE_UNSEEN = """
if ARGV[1] ~= '' and redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
return 1
"""


class LeasedQueue(PriorityQueue):  # type: ignore[misc]
    """scrapy-redis's priority queue whose pop leases the request instead of forgetting it."""

    lease_ms = 120_000

    def __init__(self, server: Any, spider: Spider, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.pending_key = pending_key(self.key)
        self.leased: dict[Request, bytes] = {}  # popped by this worker, not released yet
        self._pop = server.register_script(_POP_AND_LEASE)
        self._requeue = server.register_script(_REQUEUE_EXPIRED)
        self._enqueue = server.register_script(_ENQUEUE_UNSEEN)
        self._probe = server.register_script(_IDLE_PROBE)
        self._renew = server.register_script(_RENEW)

    def push_unseen(self, request: Request, fingerprint: str) -> bool:
        """Queue the request unless the seen-set has its fingerprint ('' = do not filter)."""
        data = self._encode_request(request)
        added = self._enqueue(keys=[self.key, self.seen_key], args=[fingerprint, -request.priority, data])
        return bool(added)

    seen_key = ""  # set by LeasedScheduler.open: the dupefilter's key

    def pop(self, timeout: int = 0) -> Request | None:
        data = self._pop(keys=[self.key, self.pending_key], args=[self.lease_ms])
        if not data:
            return None
        request: Request = self._decode_request(data)
        self.leased[request] = data
        return request

    def release(self, requests: list[Request]) -> None:
        items = [self.leased.pop(r) for r in requests if r in self.leased]
        if items:
            self.server.zrem(self.pending_key, *items)

    def renew(self, requests: list[Request]) -> None:
        """Extend the leases of requests this worker still works on to a full lease from now."""
        items = [self.leased[r] for r in requests if r in self.leased]
        if items:
            self._renew(keys=[self.pending_key], args=[self.lease_ms, *items])

    def requeue_expired(self) -> int:
        return int(self._requeue(keys=[self.key, self.pending_key]))

    def pending_count(self) -> int:
        return int(self.server.zcard(self.pending_key))

    def idle_probe(self, seeds_key: str) -> tuple[int, int, int, int]:
        """(re-queued expired leases, leased, seeds waiting, queued)."""
        requeued, leased, seeds, queued = self._probe(keys=[self.key, self.pending_key, seeds_key])
        return int(requeued), int(leased), int(seeds), int(queued)


class LeasedScheduler(Scheduler):  # type: ignore[misc]
    """scrapy-redis's scheduler with a leased queue (SCHEDULER_QUEUE_CLASS) and current stats calls.

    SCHEDULER_PERSIST stays on for workers: scrapy-redis would otherwise empty the shared queue and
    seen-set when any one worker closes. A private job (`crawl --redis` without `--worker`) is deleted
    at close instead (REDIS_JOB_PRIVATE)."""

    crawler: Crawler | None = None
    queue: LeasedQueue

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        instance = cls.from_settings(crawler.settings)
        instance.stats = crawler.stats
        instance.crawler = crawler
        instance.lease_ms = int(crawler.settings.getfloat("REDIS_LEASE_S", 120.0) * 1000)
        instance.private_job = crawler.settings.getbool("REDIS_JOB_PRIVATE")
        return instance

    lease_ms = 120_000
    private_job = False
    _empty_until = 0.0
    _renew_at = 0.0
    _releaser: task.LoopingCall | None = None

    def open(self, spider: Spider) -> None:
        super().open(spider)
        self.queue.lease_ms = self.lease_ms
        self.queue.seen_key = self.df.key
        if hasattr(spider, "frontier"):  # a worker spider (crawler.redis_worker) asks it when idle
            spider.frontier = self
        self._renew_at = time.monotonic() + self.lease_ms / 3000
        self._releaser = task.LoopingCall(self.release_finished)
        self._releaser.start(RELEASE_INTERVAL_S, now=False)

    def close(self, reason: str) -> None:
        if self._releaser is not None and self._releaser.running:
            self._releaser.stop()
        self.release_finished()
        if self.private_job:
            self.server.delete(self.queue.key, self.queue.pending_key, self.df.key)
        else:
            super().close(reason)

    def enqueue_request(self, request: Request) -> bool:
        self._empty_until = 0.0
        fingerprint = "" if request.dont_filter else self.df.request_fingerprint(request)
        if not self.queue.push_unseen(request, fingerprint):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        # The engine asks after every response until it gets None: with a shared queue that is one
        # empty pop (a round trip) per response. After an empty pop, answer None for a moment.
        now = time.monotonic()
        if now < self._empty_until:
            return None
        request = self.queue.pop()
        if request is None:
            self._empty_until = now + EMPTY_BACKOFF_S
        elif self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def release_finished(self) -> None:
        """Release the leases of requests the engine is done with. Scrapy has no signal for "callback
        run and its items processed"; the engine keeps every request it took from the scheduler in its
        slot's `inprogress` set until exactly then (redirects included: the new request is queued first)."""
        if not self.queue.leased:
            return
        if self.crawler is not None:
            # Pages marked archived first (pipelines.redis_state buffers its marks): a lease released
            # before its page is marked could lose the page for this job if the worker died in between.
            self.crawler.signals.send_catch_log(flush_marks)
        engine = self.crawler.engine if self.crawler is not None else None
        slot = getattr(engine, "_slot", None)
        inprogress = getattr(slot, "inprogress", None)
        if inprogress is None:  # the engine is gone: everything it took is over
            done = list(self.queue.leased)
        else:
            done = [r for r in self.queue.leased if r not in inprogress]
        self.queue.release(done)
        # A request may stay in flight longer than its lease (the host's slots are reserved far ahead,
        # a Retry-After pause, a slow page): renewed at a third of the lease, it is never taken for the
        # request of a dead worker and fetched twice; only a worker that stops renewing loses its leases.
        now = time.monotonic()
        if self.queue.leased and now >= self._renew_at:
            self.queue.renew(list(self.queue.leased))
            self._renew_at = now + self.lease_ms / 3000

    def idle_probe(self, seeds_key: str) -> tuple[int, int, int, int]:
        """For an idle worker (crawler.redis_worker), in one round trip: (re-queued expired leases,
        requests leased by any worker, seeds waiting, requests queued)."""
        requeued, leased, seeds, queued = self.queue.idle_probe(seeds_key)
        if requeued:
            logger.warning("Re-queued %d request(s) whose worker did not finish them in time", requeued)
            if self.stats:
                self.stats.inc_value(STAT_REQUEUED, requeued)
        return requeued, leased, seeds, queued
