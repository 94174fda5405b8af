"""Stop the crawl at the first write that finds the disk full, instead of failing every page after it.

A full disk is not a property of one page: once the WARC capture (pipelines.warc) or an item pipeline
(the article files, the metadata record) gets ENOSPC, every further page would fail the same way, each
fetched for nothing. `stop_on_disk_full` closes the spider with finish reason `disk_full` (the requests
in flight end, the pipelines close what they can); the CLI turns that reason into its own exit code and
one line (archive.disk_full). The extension `DiskFullStop` does the same for item pipeline errors, which
Scrapy reports through the `item_error` signal.
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro
from twisted.python.failure import Failure

from archive.disk_full import DISK_FULL_REASON, disk_full_error

logger = logging.getLogger(__name__)


def stop_on_disk_full(crawler: Crawler | None, exc: BaseException, what: str) -> bool:
    """Close the crawler's spider (finish reason `disk_full`) if `exc` is a full disk; say whether it was."""
    cause = disk_full_error(exc)
    if cause is None or crawler is None or crawler.engine is None:
        return False
    if crawler.stats is not None:
        crawler.stats.inc_value("newsarchive/disk_full")
        if crawler.stats.get_value("newsarchive/disk_full") > 1:
            return True  # already stopping
    logger.error("disk full while writing %s (%s): stopping the crawl", what, cause.strerror)
    closing = deferred_from_coro(crawler.engine.close_spider_async(reason=DISK_FULL_REASON))
    closing.addErrback(lambda failure: logger.error("could not stop the crawl: %s", failure.value))
    return True


class DiskFullStop:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        ext = cls(crawler)
        crawler.signals.connect(ext.item_error, signal=signals.item_error)
        return ext

    def item_error(self, item: Any, response: Any, failure: Failure) -> None:
        stop_on_disk_full(self.crawler, failure.value, "an article")
