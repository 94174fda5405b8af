"""The `--redis` options of `newsarchive crawl` and the plan they make; nothing here imports Redis.

Kept apart from the modules that talk to Redis (crawler.redis_mode, crawler.redis_frontier, ...) so that
the CLI can offer the options while a crawl without `--redis` never imports redis or scrapy_redis.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

REDIS_ENV = "NEWSARCHIVE_REDIS"
DEFAULT_IDLE_TIMEOUT_S = 30
DEFAULT_LEASE_S = 120.0


@dataclass
class RedisPlan:
    """How a crawl shares its frontier through Redis (see docs/cli.md, "Scale-out with Redis")."""

    url: str
    worker: bool = False  # take discovery from `newsarchive seed`, share the queue, exit when idle
    idle_timeout_s: int = DEFAULT_IDLE_TIMEOUT_S
    lease_s: float = DEFAULT_LEASE_S  # a popped request not finished by then is given to another worker
    host_delay_s: float | None = None  # shared per-host delay; None: the crawl's DOWNLOAD_DELAY
    job: str = ""  # filled by crawler.redis_mode: the seeded job (worker) or a private one


def add_redis_options(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("scale-out (Redis)")
    group.add_argument(
        "--redis",
        metavar="URL",
        default=os.environ.get(REDIS_ENV) or None,
        help="redis://host:port/db: keep the request queue, the seen-set and the archived-URL set in Redis "
        f"(env {REDIS_ENV}); without it nothing about Redis is loaded",
    )
    group.add_argument(
        "--worker",
        action="store_true",
        help="with --redis: crawl the job `newsarchive seed` put in Redis together with other workers; "
        "outlets, --since and --until default to the seeded job's",
    )
    group.add_argument(
        "--idle-timeout",
        type=float,
        default=DEFAULT_IDLE_TIMEOUT_S,
        metavar="SECONDS",
        help=f"with --worker: exit after this long with nothing to do anywhere (default {DEFAULT_IDLE_TIMEOUT_S})",
    )
    group.add_argument(
        "--lease",
        type=float,
        default=DEFAULT_LEASE_S,
        metavar="SECONDS",
        help="with --redis: a request a worker took and did not finish within this time (the worker died) "
        f"goes back to the queue (default {DEFAULT_LEASE_S:g})",
    )
    group.add_argument(
        "--host-delay",
        type=float,
        metavar="SECONDS",
        help="with --redis: minimum time between two requests to one host, across all workers together "
        "(default: the crawl's DOWNLOAD_DELAY)",
    )


def redis_plan_from_args(args: argparse.Namespace) -> RedisPlan | None:
    url = getattr(args, "redis", None)
    if not url:
        return None
    return RedisPlan(
        url=url,
        worker=bool(getattr(args, "worker", False)),
        idle_timeout_s=max(1, round(getattr(args, "idle_timeout", DEFAULT_IDLE_TIMEOUT_S))),
        lease_s=float(getattr(args, "lease", DEFAULT_LEASE_S)),
        host_delay_s=getattr(args, "host_delay", None),
    )
