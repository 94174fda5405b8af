"""Names of the Redis keys a distributed crawl uses, in one place (no Redis import here), and the Lua
lines every script reads Redis's clock with.

    newsarchive:job:current                     the job `newsarchive seed` made last (its id)
    newsarchive:job:<job>                       hash: since, until, outlets (JSON) of the job
    newsarchive:job:<job>:runs                  set: run ids of the workers that crawled the job
    newsarchive:job:<job>:<spider>:seeds        list: discovery requests as JSON (scrapy-redis start URLs)
    newsarchive:job:<job>:<spider>:requests     sorted set: the shared request queue (scrapy-redis)
    newsarchive:job:<job>:<spider>:requests:pending   sorted set: requests taken, scored by lease expiry
    newsarchive:job:<job>:<spider>:seen         set: request fingerprints (scrapy-redis dupefilter)
    newsarchive:job:<job>:<spider>:followups    the run id of the worker that schedules the spider's
                                                revisits, retries and catch-ups (SET NX)
    newsarchive:host:<host>                     the earliest time (ms) the next request to host may go
    newsarchive:host:<host>:paused              the time (ms) until which host asked to be left alone
                                                (Retry-After on a 429/503 that one worker received)
    newsarchive:archived:url / :path            the archived-URL state (pipelines.redis_state)
    newsarchive:validators                      hash: discovery URL -> [ETag, Last-Modified] (same)

A job's keys are per job so that a new seed starts with an empty seen-set while the archived-URL state,
which is what makes a second run skip known articles, outlives every job (so do the validators).
"""

from __future__ import annotations

PREFIX = "newsarchive"

# Redis's clock in milliseconds, as `now_ms`: the only clock, so the workers' clocks need not agree.
LUA_NOW_MS = """
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""
CURRENT_JOB = f"{PREFIX}:job:current"


def job_key(job: str) -> str:
    return f"{PREFIX}:job:{job}"


def job_runs_key(job: str) -> str:
    return f"{job_key(job)}:runs"


def spider_key(job: str, what: str, spider: str = "%(spider)s") -> str:
    """`what` of one spider in a job; with the default, a template scrapy-redis fills in itself."""
    return f"{job_key(job)}:{spider}:{what}"


def pending_key(queue_key: str) -> str:
    return f"{queue_key}:pending"


def host_key(host: str) -> str:
    return f"{PREFIX}:host:{host.lower()}"


def host_pause_key(host: str) -> str:
    return f"{host_key(host)}:paused"
