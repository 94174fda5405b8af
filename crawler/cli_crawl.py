"""`newsarchive crawl` and `demo`: from command-line arguments to a CrawlPlan, then the run."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from archive.disk_full import DISK_FULL_REASON, DiskFullError, reporting_disk_full
from archive.root_access import spool_for
from archive.runlock import RunLock
from archive.storage import Store
from core.clock import parse_now
from core.config import TopicConfig, parse_base_url, resolve_topic
from crawler import __version__
from crawler.cli_parser import EXIT_INTERRUPTED, EXIT_OK, EXIT_PROBLEMS, JST, UsageError
from crawler.ssrf import parse_allow_entry
from spiders.urls import parse_window_bound


def parse_when(text: str, *, field: str, end_of_day: bool) -> datetime:
    """ISO 8601 date or date-time; JST when no offset. A bare date means the start (or end) of that day.
    The spiders read their since/until arguments with the same function, so both agree on every value."""
    try:
        moment = parse_window_bound(text, field, end=end_of_day)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if moment is None:
        raise UsageError(f"{field}: give a date such as 2025-03-01")
    return moment


def _clock_override() -> str:
    """NEWSARCHIVE_NOW from the environment, checked (core.clock): the moment the run decides at."""
    value = os.environ.get("NEWSARCHIVE_NOW", "")
    try:
        parse_now(value)
    except ValueError as exc:
        raise UsageError(f"NEWSARCHIVE_NOW: {exc}") from None
    return value


def user_agent(contact: str) -> str:
    base = f"newsarchive/{__version__} (research news archiver; respects robots.txt"
    return f"{base}; contact: {contact})" if contact else f"{base})"


def load_outlets_from_args(args: argparse.Namespace) -> dict[str, type]:
    from spiders.registry import load_outlets

    folder = Path(args.outlets_dir) if getattr(args, "outlets_dir", None) else None
    return load_outlets(extra_files=[Path(f) for f in getattr(args, "outlet_file", [])], folder=folder)


def cmd_crawl(args: argparse.Namespace, *, demo: bool) -> int:
    topics = [resolve_topic(t) for t in (args.topics or ["russia-dprk"])]
    store = None
    if str(args.archive).startswith("s3://"):
        from archive.storage import StoreError
        from archive.stores import open_store

        try:
            store = open_store(args.archive)
        except (StoreError, ValueError) as exc:
            raise UsageError(f"--archive {args.archive}: {exc}") from None
        root = Path(args.spool) if args.spool else spool_for(args.archive)
    else:
        root = Path(args.archive)
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        flag = "--spool" if store is not None else "--archive"
        raise UsageError(f"{flag} {root}: not writable ({exc.strerror})") from None
    # Before anything else touches the root (the demo's simulator, recovery, the catalog): a second
    # run on the same root stops here with exit code 3 (crawler.cli), and the first run is left alone.
    # A full disk ends the run with one line and exit code 5 (crawler.cli), not a traceback per writer.
    with RunLock(root, command="demo" if demo else "crawl"), _sigterm_interrupts(), reporting_disk_full(root):
        return _crawl_locked(args, demo=demo, root=root, store=store, topics=topics)


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (systemd, Kubernetes, `kill`) acts like Ctrl-C wherever Scrapy is not handling it (before
    and after the crawl itself): KeyboardInterrupt, exit code 130, the run lock released on the way out."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (and receives signals)
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _crawl_locked(
    args: argparse.Namespace, *, demo: bool, root: Path, store: Store | None, topics: list[TopicConfig]
) -> int:
    from crawler.crawl_process import was_interrupted
    from crawler.run import CrawlPlan, run_crawl

    registry = load_outlets_from_args(args)
    if demo:
        from crawler.simulator import DEMO_SINCE, DEMO_UNTIL, Simulator

        simulator = Simulator()
        simulator.start()
        base_urls = dict(simulator.base_urls)
        outlets = list(simulator.base_urls)
        since = datetime.fromisoformat(DEMO_SINCE)
        until = datetime.fromisoformat(DEMO_UNTIL)
        contact = "demo@localhost"
        print(f"Simulator running: {', '.join(f'{k} at {v}' for k, v in base_urls.items())}", file=sys.stderr)
    else:
        from spiders.registry import default_outlets, exclusion_reason

        simulator = None
        unknown = [o for o in args.outlets if o not in registry]
        if unknown:
            raise UsageError(f"unknown outlet '{unknown[0]}' (known: {', '.join(registry)})")
        for name in args.outlets:
            reason = exclusion_reason(name, registry)
            if reason and not args.include_disabled:
                raise UsageError(
                    f"outlet '{name}' is disabled: {reason} (add --include-disabled to crawl it anyway)"
                )
        outlets = list(args.outlets) or default_outlets(registry)
        base_urls = {}
        for spec in args.base_url:
            name, origin = parse_base_url(spec)
            if name not in registry:
                raise UsageError(
                    f"--base-url '{spec}': unknown outlet '{name}' (known: {', '.join(registry)})"
                )
            base_urls[name] = origin
        for spec in args.allow_host:
            try:
                parse_allow_entry(spec)
            except ValueError as exc:
                raise UsageError(f"--allow-host: {exc}") from None
        now = datetime.now(JST)
        since = (
            parse_when(args.since, field="--since", end_of_day=False)
            if args.since
            else now - timedelta(days=2)
        )
        until = parse_when(args.until, field="--until", end_of_day=True) if args.until else now
        if since > until:
            raise UsageError(f"--since {since.isoformat()} is after --until {until.isoformat()}")
        contact = args.contact

    plan = CrawlPlan(
        root=root.resolve(),
        outlets=outlets,
        topics=topics,
        archive_all=args.archive_all,
        since=since,
        until=until,
        max_articles=args.max_articles,
        base_urls=base_urls,
        user_agent=user_agent(contact),
        contact=contact,
        log_format=args.log_format,
        log_level=args.log_level,
        local_only=demo,
        spiders={name: registry[name] for name in outlets},
        store=store,
        delete_local=args.delete_local,
        refetch=args.refetch,
        allow_hosts=list(getattr(args, "allow_host", [])),
        now=_clock_override(),
        full_discovery=getattr(args, "full_discovery", False),
    )
    if getattr(args, "redis", None):  # only then: a crawl without --redis never imports redis
        from crawler.redis_mode import apply_redis

        apply_redis(plan, args, registry)
    try:
        result = run_crawl(plan)
    finally:
        if simulator is not None:
            simulator.stop()

    if args.log_format == "json":
        print(json.dumps(result.as_json(), ensure_ascii=False))
    else:
        print(result.summary)
    if DISK_FULL_REASON in result.finish_reasons.values():
        raise DiskFullError(root)
    if was_interrupted(result.finish_reasons):
        print(
            f"newsarchive: interrupted; run {result.run_id} stopped early, its files closed and its "
            "manifest written (exit code 130)",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if demo and result.ok:
        from archive.verify import verify_archive

        report = verify_archive(root)
        if args.log_format == "text":
            status = "OK" if report.ok else "FAILED"
            print(f"\nVerify: {status} ({', '.join(f'{v} {k}' for k, v in report.counts.items())})")
            for problem in report.problems:
                print(f"PROBLEM {problem}")
            print(f"Check it yourself: newsarchive verify {args.archive}")
        if not report.ok:
            return EXIT_PROBLEMS
    return EXIT_OK if result.ok else EXIT_PROBLEMS
