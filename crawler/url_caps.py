"""Caps on how many URLs one crawl requests per host and per URL pattern: the way out of crawler traps.

A calendar that links to the previous month forever, a pager with no last page, a sitemap of millions
of generated URLs: each looks like a site with endless content. The date window and `--max-articles`
bound the articles, but not discovery pages nor a site whose every URL is "in the window". This
downloader middleware refuses a request once its host has had CRAWL_MAX_REQUESTS_PER_HOST requests, or
once a CRAWL_PATH_CAPS pattern (a regular expression searched in the path and query) has matched its
count. A refusal is `UrlCapExceeded` (an IgnoreRequest: the request is not sent, the spider's errback
records the URL as excluded, reason `host_cap` or `path_cap`), counted as `newsarchive/excluded/host_cap`
or `.../path_cap`, and logged once per host or pattern, so a trap shows up in the run summary instead of a
run that never ends.

It runs after BaseUrlOverrideMiddleware (priority 50), which re-schedules a rewritten request: each
request is counted once, on the host it is really sent to. robots.txt downloads are never capped.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any, Self

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.httpobj import urlparse_cached

logger = logging.getLogger(__name__)


class UrlCapExceeded(IgnoreRequest):
    """The request was not sent: its host or its URL pattern reached the crawl's cap.

    A deliberate exclusion, not a fault: `exclusion_reason` (`host_cap` or `path_cap`) is what the
    spider's errback records in the URL ledger, read by duck typing (spiders must not import crawler).
    """

    def __init__(self, message: str, exclusion_reason: str) -> None:
        super().__init__(message)
        self.exclusion_reason = exclusion_reason


class UrlCapMiddleware:
    def __init__(self, per_host: int, path_caps: dict[str, int], crawler: Crawler | None = None) -> None:
        self.per_host = per_host
        self.path_caps = [(re.compile(pattern), pattern, int(cap)) for pattern, cap in path_caps.items()]
        self.crawler = crawler
        self.hosts: Counter[str] = Counter()
        self.patterns: Counter[str] = Counter()
        self.reported: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        per_host = crawler.settings.getint("CRAWL_MAX_REQUESTS_PER_HOST", 0)
        path_caps = crawler.settings.getdict("CRAWL_PATH_CAPS", {})
        if per_host <= 0 and not path_caps:
            raise NotConfigured("no CRAWL_MAX_REQUESTS_PER_HOST nor CRAWL_PATH_CAPS")
        try:
            return cls(per_host, path_caps, crawler)
        except (re.error, TypeError, ValueError) as exc:
            raise ValueError(f"CRAWL_PATH_CAPS: {exc}") from None

    def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt"):  # RobotsTxtMiddleware's own robots.txt download
            return
        parts = urlparse_cached(request)
        host = parts.netloc.lower()
        if self.per_host > 0:
            if self.hosts[host] >= self.per_host:
                self._refuse(request, "host_cap", host, f"{self.per_host} requests to {host}")
            self.hosts[host] += 1
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        for compiled, pattern, cap in self.path_caps:
            if compiled.search(target):
                if self.patterns[pattern] >= cap:
                    self._refuse(request, "path_cap", pattern, f"{cap} URLs matching {pattern!r}")
                self.patterns[pattern] += 1

    def _refuse(self, request: Request, kind: str, key: str, what: str) -> None:
        stats: Any = self.crawler.stats if self.crawler is not None else None
        if stats is not None:
            stats.inc_value(f"newsarchive/excluded/{kind}")
        if f"{kind}:{key}" not in self.reported:  # once: a trap can refuse thousands of URLs
            self.reported.add(f"{kind}:{key}")
            logger.warning("%s reached (%s): further such URLs are not fetched", kind, what)
        raise UrlCapExceeded(f"{kind}: the crawl already made {what}: {request.url} not fetched", kind)
