"""A size limit in front of extraction: pages bigger than EXTRACT_MAX_BYTES are archived, not extracted.

The download limits (DOWNLOAD_MAXSIZE, WARC_MAX_BODY) bound what is fetched and archived, but a page cut
at WARC_MAX_BODY still reaches extraction, where lxml, the page object and trafilatura hold many copies
of it: measured at about 25 times the HTML size in peak memory (a 4 MiB page of one endless paragraph
took the crawl from 200 to 300 MB), so one hostile 32 MiB page could take the crawl near a gigabyte. No
real news article is that big; the exchange stays in the WARC and the URL is a counted failure
(`newsarchive/errors/too_large_to_extract`, ledger reason `too_large`) that the next run retries.
"""

from __future__ import annotations

import logging
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from core.items import FetchedPage
from pipelines.drops import Failed

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 8 * 1024 * 1024


class PageSizeLimitPipeline:
    """Item pipeline, before ExtractPipeline: a FetchedPage over `max_bytes` is dropped as a failure."""

    def __init__(self, max_bytes: int, crawler: Crawler | None = None) -> None:
        self.max_bytes = max_bytes
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        max_bytes = crawler.settings.getint("EXTRACT_MAX_BYTES", DEFAULT_MAX_BYTES)
        if max_bytes <= 0:
            raise NotConfigured("EXTRACT_MAX_BYTES is 0: pages of any size are extracted")
        return cls(max_bytes, crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, FetchedPage) or len(item.body) <= self.max_bytes:
            return item
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value("newsarchive/errors/too_large_to_extract")
        logger.warning(
            "%s: %d bytes of HTML, more than EXTRACT_MAX_BYTES (%d): archived, not extracted",
            item.url,
            len(item.body),
            self.max_bytes,
        )
        raise Failed(f"page too large to extract ({len(item.body)} bytes): {item.url}", "too_large")
