"""Run the Scrapy process of a crawl: one crawler per outlet, progress lines while it runs, and each
crawler's final stats when it is over."""

from __future__ import annotations

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


def run_crawlers(plan: CrawlPlan, settings: Settings) -> OutletStats:
    """Crawl every outlet of the plan in one process (blocks until all have closed); return their stats."""
    process = CrawlerProcess(settings)
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
    process.start()
    if ticker.running:
        ticker.stop()
    reporter.tick()
    return all_stats()
