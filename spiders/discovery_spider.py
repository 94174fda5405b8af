"""DiscoverySpider: where an outlet's links are found and how they become candidates.

The discovery half of `spiders.base.NewsSpider` (which adds the date window and the article requests):
the outlet's URLs (real hosts, canonical form, the base-URL override undone), the discovery requests
(robots.txt, feeds, sitemaps, listings, site search) and their callbacks, which turn links into
`Candidate`s keyed by canonical URL (duplicates merged, see `spiders.candidates`), and the errback of
every request.

Site search (`spiders/site_search.py`): an outlet with `search_urls` and `search_markup` is asked every
query of every configured topic; result pages are read like listings and their links become candidates
with source "search". Whether robots.txt allows the search path is left to the robots.txt middleware (use
`crawler.middlewares.RobotsTxtMiddleware`: Scrapy 2.19's own lets requests through that waited for
robots.txt): a refused request reaches `on_error` as IgnoreRequest and is counted as
`robots_disallowed/<kind>`, not as an error.

robots.txt `Sitemap:` lines are discovery sources too. The robots.txt that RobotsTxtMiddleware fetches
is read through the public `response_received` signal (the middleware keeps its parsers in a private
attribute, and a request of our own would fetch the same file twice); with ROBOTSTXT_OBEY off, the
spider requests `/robots.txt` of its origin itself. Declared sitemaps on the outlet's hosts that are not
configured already are fetched like configured ones (`discovery/robots_sitemaps`).

Non-2xx responses never reach a callback: Scrapy's HttpErrorMiddleware turns them into failures and
every request carries `errback=self.on_error`, which counts them as `newsarchive/errors/http_<status>`
(and other failures as `newsarchive/errors/<ExceptionName>`). Chosen over `handle_httpstatus_list` so
that callbacks only ever see pages they can parse; the WARC capture still records the error exchange.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import scrapy
from protego import Protego
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from core.baseurls import parse_base_urls
from core.items import Candidate
from core.url_outcomes import url_event
from spiders.candidates import merge_candidates
from spiders.discovery import (
    DiscoveryError,
    Entry,
    ListingMarkup,
    parse_feed,
    parse_listing,
    parse_sitemap,
)
from spiders.listing_walk import entry_moments, last_moment, past_window
from spiders.site_search import search_request_urls, topic_search_queries
from spiders.urls import JST, parse_window_bound, strip_query_params, to_jst_iso

logger = logging.getLogger(__name__)

STATS = "newsarchive"


class DiscoverySpider(scrapy.Spider):
    origin: ClassVar[str] = ""  # "https://www.jiji.com": where canonical URLs live
    hosts: ClassVar[frozenset[str]] = frozenset()  # real host names, aliases included
    feeds: ClassVar[tuple[str, ...]] = ()
    sitemaps: ClassVar[tuple[str, ...]] = ()
    listings: ClassVar[tuple[str, ...]] = ()  # first page of each listing; the pager is followed
    listing_markup: ClassVar[ListingMarkup | None] = None
    # Site search: URL templates with `{query}` (filled form-encoded, UTF-8) and the result page markup.
    search_urls: ClassVar[tuple[str, ...]] = ()
    search_markup: ClassVar[ListingMarkup | None] = None
    tracking_params: ClassVar[tuple[str, ...]] = ("utm_source", "utm_medium", "utm_campaign", "utm_content")
    article_patterns: ClassVar[tuple[re.Pattern[str], ...]] = ()  # matched against the canonical URL
    excluded_patterns: ClassVar[tuple[re.Pattern[str], ...]] = ()

    def __init__(self, *args: Any, since: str | None = None, until: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.since: datetime | None = parse_window_bound(since, "since", end=False)
        self.until: datetime | None = parse_window_bound(until, "until", end=True)
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"since: {self.since.isoformat()} is after until {self.until.isoformat()}")
        self.base_url: str | None = None  # override origin, set from OUTLET_BASE_URLS in from_crawler
        self.search_queries: tuple[str, ...] = ()  # set from TOPICS in from_crawler
        self.search_max_pages = 10
        self._candidates: dict[str, Candidate] = {}
        # Configured sitemaps count as known from the start: robots.txt may be read before start() yields them.
        self._sitemaps_seen: set[str] = {self.canonicalize(url) for url in self.sitemaps}

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> DiscoverySpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        assert isinstance(spider, DiscoverySpider)
        spider.base_url = parse_base_urls(crawler.settings.get("OUTLET_BASE_URLS")).get(cls.name)
        if cls.search_urls and crawler.settings.getbool("DISCOVERY_SEARCH_ENABLED", True):
            spider.search_queries = topic_search_queries(crawler.settings.getlist("TOPICS"), spider)
        spider.search_max_pages = crawler.settings.getint("DISCOVERY_SEARCH_MAX_PAGES", 10)
        crawler.signals.connect(spider._on_response, signal=signals.response_received)
        return spider

    # ----------------------------------------------------------------- URLs

    def is_article(self, url: str) -> bool:
        canonical = self.canonicalize(url)
        if any(p.search(canonical) for p in self.excluded_patterns):
            return False
        return any(p.search(canonical) for p in self.article_patterns)

    def canonicalize(self, url: str) -> str:
        """The URL researchers cite: real host, https, no fragment and no tracking parameters."""
        url = self.to_real_url(url.strip())
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host in self.hosts:
            origin = urlsplit(self.origin)
            parts = parts._replace(scheme=origin.scheme, netloc=origin.netloc)
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))
        return strip_query_params(url, self.tracking_params)

    def url_date(self, url: str) -> date | None:
        """The publication day written in the URL, for outlets that write one."""
        return None

    def to_real_url(self, fetched_url: str) -> str:
        """Undo the base-URL override: a URL on the override origin -> the same path on the real origin."""
        if not self.base_url:
            return fetched_url
        parts, base = urlsplit(fetched_url), urlsplit(self.base_url)
        if parts.netloc.lower() != base.netloc.lower():
            return fetched_url
        origin = urlsplit(self.origin)
        return urlunsplit((origin.scheme, origin.netloc, parts.path, parts.query, parts.fragment))

    def _own_host(self, url: str) -> bool:
        return (urlsplit(url).hostname or "").lower() in self.hosts

    # ------------------------------------------------------------ discovery

    async def start(self) -> AsyncIterator[Request]:
        if not self.settings.getbool("ROBOTSTXT_OBEY"):
            # Nobody else reads robots.txt in this crawl: fetch it for its Sitemap lines.
            yield self._discovery_request(urljoin(self.origin, "/robots.txt"), self.parse_robots, "robots")
        for url in self.feeds:
            yield self._discovery_request(url, self.parse_feed, "feed")
        for url in self.sitemaps:
            yield self._discovery_request(url, self.parse_sitemap, "sitemap")
        if self.name in self.settings.getlist("DISCOVERY_REPEAT_OUTLETS"):
            # An earlier run covered this window's start (archive.run_history): what is new since then is
            # in the feeds and sitemaps; listings and search only reach back in time.
            self._inc("discovery/backfill_skipped")
            return
        for url in self.listings:
            yield self._discovery_request(url, self.parse_listing, "listing")
        for url in self.search_request_urls():
            yield self._discovery_request(url, self.parse_listing, "search", search_page=1)

    def search_request_urls(self) -> list[str]:
        """Every search URL template filled with every topic query (form-encoded UTF-8, as a GET form)."""
        return search_request_urls(self.search_urls, self.search_queries)

    def _discovery_request(self, url: str, callback: Any, kind: str, **meta: Any) -> Request:
        self._inc(f"discovery/{kind}_requests")
        # newsarchive_url: the real URL asked for, which the base-URL override hides from response.url
        meta = {"newsarchive_kind": kind, "newsarchive_url": url, **meta}
        # 304: the catalog (pipelines.revisits) makes feed, sitemap and listing requests conditional.
        meta.setdefault("handle_httpstatus_list", [304])
        return Request(url, callback=callback, errback=self.on_error, meta=meta)

    def not_modified(self, response: Response) -> bool:
        """A discovery document unchanged since the archive's last capture: nothing new in it."""
        if response.status != 304:
            return False
        self._inc(f"discovery/{response.meta.get('newsarchive_kind', 'other')}_not_modified")
        return True

    def real_url(self, response: Response) -> str:
        """The real URL a discovery response answers (its host kept, e.g. sitesearch.asahi.com)."""
        asked = response.meta.get("newsarchive_url")
        if asked and not response.meta.get("redirect_urls"):
            return str(asked)
        return self.to_real_url(response.url)

    # ------------------------------------------------------- robots.txt sitemaps

    def _on_response(self, response: Response, request: Request) -> None:
        # RobotsTxtMiddleware's own download: no callback, marked so that robots rules do not apply to it
        if request.callback is not NO_CALLBACK or not request.meta.get("dont_obey_robotstxt"):
            return
        if urlsplit(response.url).path != "/robots.txt" or response.status != 200:
            return
        for follow in self.robots_sitemaps(response.body, self.to_real_url(response.url)):
            assert self.crawler.engine is not None
            self.crawler.engine.crawl(follow)

    def parse_robots(self, response: Response) -> Iterator[Request]:
        if self.not_modified(response):
            return
        yield from self.robots_sitemaps(response.body, self.real_url(response))

    def robots_sitemaps(self, body: bytes, robots_url: str) -> list[Request]:
        """Requests for the sitemaps a robots.txt declares that are on our hosts and not known yet."""
        if not self._own_host(robots_url):
            return []
        declared = Protego.parse(body.decode("utf-8", errors="replace")).sitemaps
        requests = []
        for url in declared:
            url = urljoin(robots_url, url.strip())
            key = self.canonicalize(url)
            if not self._own_host(url):
                self._inc("discovery/offsite")
                continue
            if key in self._sitemaps_seen:
                continue
            self._sitemaps_seen.add(key)
            self._inc("discovery/robots_sitemaps")
            requests.append(self._discovery_request(url, self.parse_sitemap, "sitemap"))
        return requests

    def parse_feed(self, response: Response) -> Iterator[Request]:
        if self.not_modified(response):
            return
        source_url = self.to_real_url(response.url)
        try:
            entries = parse_feed(response.body, source_url)
        except DiscoveryError as exc:
            self._discovery_failed(source_url, exc)
            return
        for entry in entries:
            self.add_candidate(entry.url, "feed", source_url, entry)
        yield from ()

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        if self.not_modified(response):
            return
        source_url = self.to_real_url(response.url)
        try:
            sitemap = parse_sitemap(response.body, source_url)
        except DiscoveryError as exc:
            self._discovery_failed(source_url, exc)
            return
        for child in sitemap.children:
            # A child's lastmod is the time of its newest entry: older than `since` means nothing new.
            if self.since and child.lastmod and child.lastmod < self.since:
                self._inc("discovery/sitemap_skipped_old")
                continue
            if not self._own_host(child.url):
                self._inc("discovery/offsite")
                continue
            yield self._discovery_request(child.url, self.parse_sitemap, "sitemap")
        for entry in sitemap.entries:
            self.add_candidate(entry.url, "sitemap", source_url, entry)

    def parse_listing(self, response: Response) -> Iterator[Request]:
        """A listing page, or a page of site search results (meta newsarchive_kind = "search")."""
        if self.not_modified(response):
            return
        kind = "search" if response.meta.get("newsarchive_kind") == "search" else "listing"
        markup = self.search_markup if kind == "search" else self.listing_markup
        assert markup is not None, f"{self.name} has {kind} URLs but no {kind}_markup"
        source_url = self.real_url(response)
        page = parse_listing(response.text, source_url, markup)
        # The listing shows no year: walk down from the crawl's upper bound (or the previous page's last
        # entry), since entries run newest first.
        start: datetime = response.meta.get("listing_reference") or min(
            self.until or datetime.now(JST), datetime.now(JST)
        )
        moments = entry_moments(page.entries, start, lambda url: self.url_date(self.canonicalize(url)))
        reference = last_moment(moments, start)
        for item, moment in zip(page.entries, moments, strict=True):
            self.add_candidate(item.url, kind, source_url, Entry(item.url, item.title, moment))
        self._inc(f"discovery/{kind}_pages")
        stop = past_window(kind, moments, self.since)
        if not page.entries or stop:
            self._inc(f"discovery/{kind}_stopped")
            return
        extra: dict[str, Any] = {}
        if kind == "search":
            number = int(response.meta.get("search_page", 1)) + 1
            if number > self.search_max_pages:
                self._inc("discovery/search_page_cap")
                return
            extra["search_page"] = number
        if page.next_url and self._own_host(page.next_url):
            yield self._discovery_request(
                page.next_url, self.parse_listing, kind, listing_reference=reference, **extra
            )

    def _discovery_failed(self, url: str, exc: Exception) -> None:
        self._inc("discovery/invalid")
        logger.warning("%s: cannot parse %s: %s", self.name, url, exc)

    def add_candidate(self, url: str, source: str, source_url: str, entry: Entry) -> Candidate | None:
        """Record a link found by discovery; returns the (merged) candidate, or None when dropped."""
        canonical = self.canonicalize(url)
        if not self._own_host(canonical) or not self.is_article(canonical):
            self._inc("pruned/not_article")
            return None
        self._inc(f"candidates/{source}")
        found = Candidate(
            url=canonical,
            outlet=self.name,
            source=source,
            source_url=source_url,
            published_at=to_jst_iso(entry.published_at) if entry.published_at else None,
            title=entry.title,
            keywords=entry.keywords,
        )
        known = self._candidates.get(canonical)
        if known is not None:
            self._inc("candidates/duplicate")
            found = merge_candidates(known, found)
        self._candidates[canonical] = found
        self.url_outcome(canonical, "discovered", source=source, published_at=found.published_at)
        return found

    def on_error(self, failure: Failure) -> None:
        request = getattr(failure, "request", None)
        candidate = request.meta.get("candidate") if request is not None else None
        # HttpError subclasses IgnoreRequest: it is tested first (below) through the exact type.
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            # Refused before sending (robots.txt, or another middleware's policy): a decision, not a fault.
            kind = request.meta.get("newsarchive_kind", "other") if request is not None else "other"
            robots = "robots" in str(failure.value).lower()
            reason = "robots_disallowed" if robots else "ignored"
            self._inc(f"{reason}/{kind}")
            logger.info("%s: %s not fetched: %s", self.name, kind, failure.getErrorMessage())
            if candidate is not None:
                # robots.txt and the URL caps (which name an `exclusion_reason`) are decisions; any other
                # refusal (the SSRF guard, a Retry-After beyond the cap) is a fault, under its own name.
                excluded = reason if robots else getattr(failure.value, "exclusion_reason", None)
                name = getattr(failure.value, "failure_reason", None) or (
                    failure.type.__name__ if failure.type else "ignored"
                )
                if "max redirections" in str(failure.value):  # Scrapy's RedirectMiddleware, past its cap
                    name = "too_many_redirects"
                state, why = ("excluded", excluded) if excluded else ("failed", name)
                self.url_outcome(candidate.url, state, why)
            return
        if failure.check(HttpError):
            response = failure.value.response
            self._inc(f"errors/http_{response.status}")
            logger.info("%s: HTTP %s for %s", self.name, response.status, response.url)
            if candidate is not None:
                self.url_outcome(candidate.url, "failed", f"http_{response.status}", response=response)
        else:
            name = failure.type.__name__ if failure.type else "unknown"
            self._inc(f"errors/{name}")
            logger.warning("%s: %s", self.name, failure.getErrorMessage())
            if candidate is not None:
                self.url_outcome(candidate.url, "failed", name)

    def url_outcome(self, url: str, state: str, reason: str = "", **fields: Any) -> None:
        """Tell the URL ledger (pipelines.url_ledger, through a signal) what became of a candidate."""
        crawler = getattr(self, "crawler", None)
        if crawler is not None:
            crawler.signals.send_catch_log(url_event, url=url, state=state, reason=reason, **fields)

    def _inc(self, key: str, count: int = 1) -> None:
        stats = getattr(getattr(self, "crawler", None), "stats", None)
        if stats is not None:
            stats.inc_value(f"{STATS}/{key}", count)
