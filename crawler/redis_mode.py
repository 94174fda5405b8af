"""`crawl --redis`: turn a crawl plan and its Scrapy settings into a Redis-backed (distributed) crawl.

Imported only when `--redis` (or NEWSARCHIVE_REDIS) is given, so a crawl without it never loads redis
or scrapy_redis. What changes (README "Scale-out with Redis" has the picture):

- the scheduler, queue and seen-set: scrapy-redis, with leases (crawler.redis_frontier);
- the archived-URL state and the validators of discovery documents: Redis first, the catalog behind it;
  revisits, retries and catch-ups scheduled by one worker per job (pipelines.redis_state);
- politeness: one shared per-host delay in Redis (crawler.redis_politeness) instead of each process's
  DOWNLOAD_DELAY and AutoThrottle;
- with `--worker`: the spiders read the job `newsarchive seed` wrote (crawler.redis_worker) and exit
  after `--idle-timeout`; without it the crawl discovers by itself, in a private job deleted at the end.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

from scrapy.exceptions import ScrapyDeprecationWarning
from scrapy.settings import Settings

from crawler.cli_parser import UsageError
from crawler.crawl_plan import CrawlPlan
from crawler.redis_keys import CURRENT_JOB, job_key, job_runs_key, spider_key
from crawler.redis_options import RedisPlan
from spiders.urls import parse_window_bound

# A worker polls Redis for other workers' requests when its engine wakes up. Scrapy wakes an idle engine
# every 5 s (ExecutionEngine._SLOT_HEARTBEAT_INTERVAL, no setting for it): too slow for workers that
# hand work to each other, so a worker process sets it to this.
WORKER_HEARTBEAT_S = 1.0

GATE = "crawler.redis_politeness.SharedHostDelayMiddleware"
GATE_PRIORITY = 990


def quiet_scrapy_redis_deprecations() -> None:
    """scrapy-redis 0.9.1 calls Scrapy APIs that 2.19 deprecates (stats with `spider=`, ...). Hide those
    warnings, and only those: the filter is bound to warnings raised from scrapy_redis's own modules."""
    warnings.filterwarnings("ignore", category=ScrapyDeprecationWarning, module=r"scrapy_redis(\.|$)")


def connect(url: str) -> Any:
    import redis

    try:
        server = redis.Redis.from_url(url, socket_connect_timeout=5, decode_responses=False)
        server.ping()
    except (ValueError, redis.RedisError) as exc:
        raise UsageError(f"--redis {url}: cannot use it ({exc})") from None
    return server


def _text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def apply_redis(plan: CrawlPlan, args: Any, registry: dict[str, type]) -> None:
    """Fill `plan.redis` (and, for a worker, the seeded job's outlets and window; worker spider classes)."""
    from crawler.redis_options import redis_plan_from_args

    redis_plan = redis_plan_from_args(args)
    if redis_plan is None:
        return
    quiet_scrapy_redis_deprecations()
    server = connect(redis_plan.url)
    if redis_plan.worker:
        if plan.max_articles is not None:
            raise UsageError("--max-articles: not available with --worker (each worker sees part of the job)")
        job = _text(server.get(CURRENT_JOB))
        if not job:
            raise UsageError(f"--redis {redis_plan.url}: no job to work on: run `newsarchive seed` first")
        redis_plan.job = job
        _take_job_defaults(plan, args, server.hgetall(job_key(job)), registry)
        from scrapy.core.engine import ExecutionEngine

        from crawler.redis_worker import distributed

        ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = WORKER_HEARTBEAT_S
        plan.spiders = {name: distributed(cls) for name, cls in plan.spiders.items()}
    else:
        from archive.run import new_run_id

        redis_plan.job = f"private-{new_run_id()}"
    plan.redis = redis_plan


def _take_job_defaults(
    plan: CrawlPlan, args: Any, job: dict[bytes, bytes], registry: dict[str, type]
) -> None:
    fields = {_text(k): _text(v) for k, v in job.items()}
    if not getattr(args, "outlets", None) and fields.get("outlets"):
        plan.outlets = [o for o in json.loads(fields["outlets"]) if o in registry]
        plan.spiders = {name: registry[name] for name in plan.outlets}
    if not getattr(args, "since", None) and fields.get("since"):
        plan.since = parse_window_bound(fields["since"], "job since", end=False) or plan.since
    if not getattr(args, "until", None) and fields.get("until"):
        plan.until = parse_window_bound(fields["until"], "job until", end=True) or plan.until


def redis_settings(redis_plan: RedisPlan, settings: Settings, run_id: str) -> dict[str, Any]:
    """The settings that make a crawl Redis-backed; records the run in the job (for `runs merge`)."""
    job = redis_plan.job
    delay = redis_plan.host_delay_s
    if delay is None:
        delay = settings.getfloat("DOWNLOAD_DELAY")
    middlewares = dict(settings.getdict("DOWNLOADER_MIDDLEWARES")) | {GATE: GATE_PRIORITY}
    extensions = dict(settings.getdict("EXTENSIONS"))
    extensions.pop("pipelines.incremental.IncrementalSkip", None)
    extensions |= {
        "pipelines.incremental.IncrementalSkip": None,
        "pipelines.redis_state.RedisIncrementalSkip": 100,
    }
    pipelines = dict(settings.getdict("ITEM_PIPELINES"))
    if "pipelines.revisits.CatalogFollowUps" in pipelines:
        # Same place in the chain; validators and follow-ups shared through Redis (pipelines.redis_state).
        order = pipelines.pop("pipelines.revisits.CatalogFollowUps")
        pipelines |= {
            "pipelines.revisits.CatalogFollowUps": None,
            "pipelines.redis_state.RedisFollowUps": order,
        }
    if redis_plan.worker:
        connect(redis_plan.url).sadd(job_runs_key(job), run_id)
    return {
        "REDIS_URL": redis_plan.url,
        "SCHEDULER": "crawler.redis_frontier.LeasedScheduler",
        "SCHEDULER_QUEUE_CLASS": "crawler.redis_frontier.LeasedQueue",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_QUEUE_KEY": spider_key(job, "requests"),
        "SCHEDULER_DUPEFILTER_KEY": spider_key(job, "seen"),
        "REDIS_START_URLS_KEY": spider_key(job, "seeds", "%(name)s"),
        "REDIS_JOB_PRIVATE": not redis_plan.worker,
        "REDIS_FOLLOWUPS_KEY": spider_key(job, "followups"),
        # Workers share the frontier: one worker's URL ledger is a part of the job's (pipelines.url_ledger).
        "URL_LEDGER_SHARED_FRONTIER": redis_plan.worker,
        "REDIS_LEASE_S": redis_plan.lease_s,
        "MAX_IDLE_TIME_BEFORE_CLOSE": redis_plan.idle_timeout_s,
        "REDIS_HOST_DELAY": delay,
        # The shared gate is the one pace: a per-process delay on top would only slow each worker down.
        "DOWNLOAD_DELAY": 0,
        "DOWNLOAD_DELAY_JITTER": 0,
        "AUTOTHROTTLE_ENABLED": False,
        # A request that passed the gate must go out at once: waiting for a free per-host download slot
        # afterwards would bunch requests together. The gate bounds the rate; the total bounds the rest.
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.getint("CONCURRENT_REQUESTS"),
        "DOWNLOADER_MIDDLEWARES": middlewares,
        "EXTENSIONS": extensions,
        "ITEM_PIPELINES": pipelines,
    }
