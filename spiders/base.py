"""NewsSpider: the discovery and fetching logic every outlet shares.

An outlet subclass only says where to look (feeds, sitemaps, first listing pages), which URLs are
articles, how its URLs canonicalise, and which page object reads its pages.

Flow: `start()` requests every feed, sitemap and listing page. Their callbacks turn links into
`Candidate`s keyed by canonical URL (duplicates merged, the sitemap's date and title preferred over the
feed's over the listing's). Nothing is fetched until discovery is over: on `spider_idle` the candidates
inside the date window are scheduled newest first, at most `max_articles` of them, so a capped run keeps
the newest. Article responses become `FetchedPage` items for the pipelines.

Discovery (the outlet's URLs, robots.txt, feeds, sitemaps, listings, site search, request errors) is
the base class `spiders.discovery_spider.DiscoverySpider`; this module adds the date window, the article
requests and their callback.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import HtmlResponse, Response

from core.items import Candidate, FetchedPage, PageParser
from spiders.candidates import newest_first
from spiders.discovery_spider import STATS, DiscoverySpider
from spiders.fetched_page import fetched_at, fetched_page
from spiders.urls import day_in_window, in_window, parse_datetime, parse_max_articles

# fetched_page is part of this module's interface: crawler.parse_page builds its items with it.
__all__ = ["STATS", "NewsSpider", "fetched_page"]


class NewsSpider(DiscoverySpider):
    # The page object as a plain callable; subclasses wrap it in staticmethod() so it is not bound.
    page_parser: PageParser | None = None

    def __init__(
        self,
        *args: Any,
        since: str | None = None,
        until: str | None = None,
        max_articles: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, since=since, until=until, **kwargs)
        self.max_articles: int | None = parse_max_articles(max_articles)
        self._articles_scheduled = False

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> NewsSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        assert isinstance(spider, NewsSpider)
        crawler.signals.connect(spider._on_idle, signal=signals.spider_idle)
        return spider

    def best_moment(self, candidate: Candidate) -> datetime | None:
        return parse_datetime(candidate.published_at)

    def in_window(self, candidate: Candidate) -> bool:
        moment = self.best_moment(candidate)
        if moment is not None:
            return in_window(moment, self.since, self.until)
        return day_in_window(self.url_date(candidate.url), self.since, self.until)

    def select_candidates(self) -> list[Candidate]:
        """Candidates to fetch: inside the window, newest first (undated last), capped."""
        kept: list[Candidate] = []
        for candidate in self._candidates.values():
            if self.in_window(candidate):
                kept.append(candidate)
            else:
                self._inc("pruned/out_of_window")
                self.url_outcome(candidate.url, "excluded", "out_of_window")
        kept.sort(key=lambda c: newest_first(self.best_moment(c), self.url_date(c.url)))
        if self.max_articles is not None and len(kept) > self.max_articles:
            self._inc("pruned/max_articles", len(kept) - self.max_articles)
            for candidate in kept[self.max_articles :]:
                self.url_outcome(candidate.url, "excluded", "max_articles")
            kept = kept[: self.max_articles]
        return kept

    def _on_idle(self) -> None:
        if self._articles_scheduled:
            return
        self._articles_scheduled = True
        chosen = self.select_candidates()
        self._candidates.clear()
        if not chosen:
            return
        assert self.crawler.engine is not None
        for candidate in chosen:
            self._inc("candidates/scheduled")
            self.url_outcome(candidate.url, "scheduled")
            self.crawler.engine.crawl(self.article_request(candidate))
        raise DontCloseSpider

    def article_request(self, candidate: Candidate) -> Request:
        return Request(
            candidate.url,
            callback=self.parse_article,
            errback=self.on_error,
            meta={"candidate": candidate, "newsarchive_kind": "article"},
        )

    def parse_article(self, response: Response) -> Iterator[FetchedPage]:
        candidate = response.meta.get("candidate")
        if response.meta.get("newsarchive_revisit") and candidate is not None and response.status != 200:
            # A revisit (pipelines.revisits) asked conditionally and accepts these answers.
            if response.status == 304:
                self._inc("revisits/not_modified")
                self.url_outcome(candidate.url, "unchanged", "not_modified", response=response)
            elif response.status in (404, 410):
                self._inc(f"revisits/gone_{response.status}")
                self.url_outcome(candidate.url, "gone", f"http_{response.status}", response=response)
            return
        if response.status != 200:
            self._inc(f"errors/http_{response.status}")
            if candidate is not None:
                self.url_outcome(candidate.url, "failed", f"http_{response.status}", response=response)
            return
        if not isinstance(response, HtmlResponse):
            self._inc("errors/not_html")
            if candidate is not None:
                self.url_outcome(candidate.url, "failed", "not_html", response=response)
            return
        self._inc("articles/fetched")
        warc = response.meta.get("newsarchive_warc")
        yield fetched_page(
            response,
            url=self.canonicalize(self.to_real_url(response.url)),
            outlet=self.name,
            parser=type(self).page_parser,
            candidate=response.meta.get("candidate"),
            warc=warc,
            fetched_at=fetched_at(warc),
        )
