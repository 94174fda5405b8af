"""Run the Scrapy process of a crawl: one crawler per outlet, progress lines while it runs, and each
crawler's final stats when it is over.

Signals: Scrapy's own handlers do the work. A first SIGINT/SIGTERM stops every crawler gracefully (pages
in flight finish, pipelines close their WARC and article files, finish_reason "shutdown"), and the run
goes on to write its manifest and publish. A second one stops the reactor at once: the spiders never
close, their files stay `.open` (the next run repairs them), so no manifest may be written for the
run; `run_crawlers` raises KeyboardInterrupt instead (the CLI's exit code 130).
"""

from __future__ import annotations

import signal
from typing import Any

from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from twisted.internet import task

from crawler.crawl_plan import CrawlPlan
from crawler.progress import ProgressReporter
from spiders.registry import OUTLETS

PROGRESS_INTERVAL_S = 2.0

OutletStats = dict[str, dict[str, Any]]
"""outlet -> that outlet crawler's Scrapy stats."""

SHUTDOWN_REASON = "shutdown"
"""The finish_reason Scrapy gives a crawler stopped by a first SIGINT/SIGTERM (Crawler.stop)."""


def was_interrupted(finish_reasons: dict[str, str]) -> bool:
    """Whether a signal stopped any outlet's crawl before it finished (exit code 130)."""
    return SHUTDOWN_REASON in finish_reasons.values()


class _SignalCountingProcess(CrawlerProcess):
    """Scrapy's process, remembering the shutdown signals it received: only a second one (Scrapy's
    unclean stop) leaves the spiders unclosed, and nothing after the crawl can tell that from the stats."""

    signals_received = 0

    def _signal_shutdown(self, signum: int, frame: Any) -> None:
        self.signals_received += 1
        super()._signal_shutdown(signum, frame)

    def _signal_kill(self, signum: int, frame: Any) -> None:
        self.signals_received += 1
        super()._signal_kill(signum, frame)


def run_crawlers(plan: CrawlPlan, settings: Settings) -> OutletStats:
    """Crawl every outlet of the plan in one process (blocks until all have closed); return their stats."""
    process = _SignalCountingProcess(settings)
    crawlers: dict[str, Crawler] = {}
    for outlet in plan.outlets:
        crawler = process.create_crawler(plan.spiders.get(outlet) or OUTLETS[outlet])
        crawlers[outlet] = crawler
        process.crawl(
            crawler,
            since=plan.since.isoformat(),
            until=plan.until.isoformat(),
            max_articles=plan.max_articles,
        )

    def all_stats() -> OutletStats:
        return {name: c.stats.get_stats() for name, c in crawlers.items() if c.stats is not None}

    reporter = ProgressReporter(all_stats, json_lines=plan.log_format == "json")
    ticker = task.LoopingCall(reporter.tick)
    ticker.start(PROGRESS_INTERVAL_S, now=False)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        process.start()
    finally:
        # Scrapy's handlers would now only queue calls on a stopped reactor: a signal while the manifest
        # is written or the run published would be ignored. The caller's handlers take over again.
        for signum, handler in handlers.items():
            if handler is not None:  # None: a handler not set from Python, which cannot be put back
                signal.signal(signum, handler)
    if ticker.running:
        ticker.stop()
    if process.signals_received > 1:
        raise KeyboardInterrupt("stopped at once by a second signal; the next run repairs the open files")
    reporter.tick()
    return all_stats()
