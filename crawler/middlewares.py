"""Downloader middlewares of the crawl.

`BaseUrlOverrideMiddleware` serves the per-outlet base-URL override (`OUTLET_BASE_URLS`): a mirror, a
staging copy or a local replay of an outlet is crawled under the outlet's real URLs, and every request
whose host is one of the outlet's hosts is sent to the override origin instead. It sits before the
robots.txt middleware (priority 50 in DOWNLOADER_MIDDLEWARES) so robots.txt is read from the origin
that is actually fetched, and it also sees the requests the redirect middleware builds from absolute
real-origin `Location` headers, because those re-enter the middleware chain from the top.

`RobotsTxtMiddleware` is Scrapy's, with a fix for requests that wait on a robots.txt download (see its
docstring) and with RFC 9309's answer to a 5xx or unreachable robots.txt (disallow the host; Scrapy allows
all); it replaces `scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware` at the same priority.

This module must not import the spiders (import-linter): the spider is read by duck typing, through
its `name` (the outlet) and `hosts` (the real host names, aliases included).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred

from core.baseurls import parse_base_urls, rebase_url

logger = logging.getLogger(__name__)
DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser


class BaseUrlOverrideMiddleware:
    """Rewrites requests for an outlet's real hosts onto its override origin (see module docstring)."""

    def __init__(self, base_urls: dict[str, str]):
        self.base_urls = base_urls
        self.crawler: Crawler | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BaseUrlOverrideMiddleware:
        # A malformed value is a user mistake and must stop the crawl, so ValueError is not caught here.
        base_urls = parse_base_urls(crawler.settings.get("OUTLET_BASE_URLS"))
        if not base_urls:
            raise NotConfigured("OUTLET_BASE_URLS is empty: every outlet is fetched from its real origin")
        middleware = cls(base_urls)
        middleware.crawler = crawler
        return middleware

    def process_request(self, request: Request) -> Request | None:
        spider = self.crawler.spider if self.crawler is not None else None
        base = self.base_urls.get(getattr(spider, "name", ""))
        if not base:
            return None
        hosts = {h.lower() for h in getattr(spider, "hosts", ())}
        rebased = rebase_url(request.url, hosts, base)
        if rebased is None or rebased == request.url:
            return None
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value("newsarchive/base_url/rewritten")
        # Returning a new Request makes Scrapy schedule it afresh: it runs the whole chain on its new URL.
        return request.replace(url=rebased)


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    """Scrapy 2.19's robots.txt middleware, fixed so that every request waiting for robots.txt obeys it.

    Upstream keeps one Deferred per host while robots.txt downloads and awaits it through
    `maybe_deferred_to_future`, i.e. `Deferred.asFuture`, whose callback returns None: the first waiter
    gets the parser, every later waiter gets None, which means "allow everything". The waiters are the
    requests issued while robots.txt was in flight (a spider's start requests), so they bypassed
    robots.txt. The parser is stored in `_parsers` before the Deferred fires, so it is read from there.
    `_parsers` is private: tests/test_search_discovery.py checks both the bug and this fix, so a Scrapy
    upgrade that changes either shows up there.
    """

    async def robot_parser(self, request: Request) -> RobotParser | None:
        parser = await super().robot_parser(request)
        if parser is None:
            stored = self._parsers.get(urlparse_cached(request).netloc)
            if stored is not None and not isinstance(stored, Deferred):
                return stored
        return parser

    # RFC 9309 section 2.3.1: a robots.txt answered with 4xx means "no rules", but a 5xx or an unreachable
    # server means "assume complete disallow". Scrapy parses whatever body came back (a 500 error page has
    # no rules, so everything is allowed) and treats a failed download as allow-all; both are overridden
    # here, for the rest of the run (the next run asks again).

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if 400 <= response.status < 500:
            response = response.replace(body=b"")
        elif not 200 <= response.status < 300:
            self._stats.inc_value("newsarchive/robots/unavailable_disallow_all")
            logger.warning(
                "robots.txt of %s answered %s: disallowing the host (RFC 9309)", netloc, response.status
            )
            response = response.replace(body=DISALLOW_ALL)
        await super()._parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if isinstance(exc, IgnoreRequest):  # refused before sending (our own policy): upstream behaviour
            super()._robots_error(exc, netloc)
            return
        self._stats.inc_value(f"robotstxt/exception_count/{type(exc)}")
        self._stats.inc_value("newsarchive/robots/unavailable_disallow_all")
        logger.warning("robots.txt of %s unreachable (%s): disallowing the host (RFC 9309)", netloc, exc)
        parser = build_from_crawler(self._parserimpl, self.crawler, DISALLOW_ALL)
        waiting = self._parsers[netloc]
        self._parsers[netloc] = parser
        if isinstance(waiting, Deferred):
            waiting.callback(parser)
