"""`newsarchive seed` (a distributed job's discovery into Redis) and `newsarchive runs merge` (one
manifest for the runs of a distributed job's workers). See README "Scale-out with Redis"."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.cli_parser import EXIT_OK, EXIT_PROBLEMS, JST, UsageError
from crawler.redis_options import REDIS_ENV


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    import os

    seed = sub.add_parser(
        "seed",
        help="put a distributed crawl's discovery (feeds, sitemaps, listings) into Redis for workers",
        description=(
            "Start a new job in Redis: its date window and outlets, and one JSON message per discovery request\n"
            "(feeds, sitemaps, listings, site search). Workers (`newsarchive crawl --redis URL --worker`)\n"
            "take them, share the request queue and exit after their idle timeout."
        ),
    )
    seed.add_argument("outlets", nargs="*", metavar="OUTLET", help="outlets (default: all enabled)")
    seed.add_argument(
        "--redis", metavar="URL", default=os.environ.get(REDIS_ENV), help="redis://host:port/db"
    )
    seed.add_argument("--since", metavar="DATE", help="oldest publication date (default: 2 days ago)")
    seed.add_argument("--until", metavar="DATE", help="newest publication date (default: now)")
    seed.add_argument(
        "--topic", dest="topics", action="append", metavar="NAME|FILE.toml", help="site-search topics"
    )
    seed.add_argument("--outlet-file", action="append", default=[], metavar="FILE.toml")
    seed.add_argument("--outlets-dir", metavar="DIR", default=os.environ.get("NEWSARCHIVE_OUTLETS_DIR"))

    runs = sub.add_parser("runs", help="operations on the runs of an archive root (merge)")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    merge = runs_sub.add_parser(
        "merge",
        help="write one manifest for the runs of a distributed job's workers",
        description=(
            "Read the manifests of the given runs (or of every worker run a Redis job recorded) and write\n"
            "runs/<JOB>/manifest.json: every file of every part, counts summed, the parts listed."
        ),
    )
    merge.add_argument("root", metavar="ROOT", help="archive root: a folder or s3://bucket/prefix")
    merge.add_argument("run_ids", nargs="*", metavar="RUN_ID")
    merge.add_argument(
        "--redis", metavar="URL", default=os.environ.get(REDIS_ENV), help="take the runs from this job"
    )
    merge.add_argument("--job", metavar="JOB", help="the job (default: the last one seeded, or a new id)")


def cmd_seed(args: argparse.Namespace) -> int:
    from archive.run import new_run_id
    from core.config import resolve_topic
    from crawler.cli_crawl import load_outlets_from_args, parse_when
    from crawler.redis_keys import CURRENT_JOB, job_key, spider_key
    from crawler.redis_mode import connect
    from crawler.redis_worker import seed_message
    from spiders.registry import default_outlets
    from spiders.site_search import search_request_urls, topic_search_queries

    if not args.redis:
        raise UsageError(f"seed: give --redis URL (or set {REDIS_ENV})")
    registry = load_outlets_from_args(args)
    unknown = [o for o in args.outlets if o not in registry]
    if unknown:
        raise UsageError(f"unknown outlet '{unknown[0]}' (known: {', '.join(registry)})")
    outlets = list(args.outlets) or default_outlets(registry)
    now = datetime.now(JST)
    since = (
        parse_when(args.since, field="--since", end_of_day=False) if args.since else now - timedelta(days=2)
    )
    until = parse_when(args.until, field="--until", end_of_day=True) if args.until else now
    if since > until:
        raise UsageError(f"--since {since.isoformat()} is after --until {until.isoformat()}")
    topics = args.topics or ["russia-dprk"]
    for topic in topics:
        resolve_topic(topic)  # a bad topic is a usage error here, not a warning in every worker

    server = connect(args.redis)
    job = new_run_id()
    counts: dict[str, int] = {}
    pipe = server.pipeline()
    for name in outlets:
        spider = registry[name](since=since.isoformat(), until=until.isoformat())
        messages = [seed_message(u, "feed") for u in spider.feeds]
        messages += [seed_message(u, "sitemap") for u in spider.sitemaps]
        messages += [seed_message(u, "listing") for u in spider.listings]
        if spider.search_urls:
            queries = topic_search_queries(topics, spider)
            messages += [seed_message(u, "search") for u in search_request_urls(spider.search_urls, queries)]
        if messages:
            pipe.rpush(spider_key(job, "seeds", name), *messages)
        counts[name] = len(messages)
    pipe.hset(
        job_key(job),
        mapping={
            "since": since.isoformat(),
            "until": until.isoformat(),
            "outlets": json.dumps(outlets),
            "created_at": datetime.now(UTC).isoformat(),
        },
    )
    pipe.set(CURRENT_JOB, job)
    pipe.execute()
    print(f"job {job}: " + ", ".join(f"{n} {c} discovery request(s)" for n, c in counts.items()))
    print(f"start workers: newsarchive crawl --redis {args.redis} --worker --archive ROOT")
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    from archive.run import new_run_id
    from archive.storage import ObjectExistsError
    from archive.stores import open_store

    run_ids = list(args.run_ids)
    job = args.job
    if args.redis:
        from crawler.redis_keys import CURRENT_JOB, job_runs_key
        from crawler.redis_mode import connect

        server = connect(args.redis)
        job = job or (server.get(CURRENT_JOB) or b"").decode()
        if not job:
            raise UsageError(f"--redis {args.redis}: no job seeded")
        run_ids += sorted(r.decode() for r in server.smembers(job_runs_key(job)))
    if not run_ids:
        raise UsageError("runs merge: give RUN_ID... or --redis URL")
    store = open_store(args.root)
    from archive.run_merge import merge_manifests

    try:
        merged, missing = merge_manifests(store, job or new_run_id(), sorted(set(run_ids)))
    except ObjectExistsError as exc:
        raise UsageError(
            f"runs merge: {exc.key} exists with other content (manifests are never overwritten)"
        ) from None
    for run_id in missing:
        print(f"PROBLEM run {run_id}: no manifest (the worker died or has not published yet)")
    print(f"wrote {merged}")
    return EXIT_PROBLEMS if missing else EXIT_OK


COMMANDS: dict[str, Any] = {"seed": cmd_seed, "runs": cmd_runs}
