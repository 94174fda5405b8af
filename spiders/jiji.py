"""Jiji Press (時事ドットコム, www.jiji.com): where to look and which URLs are articles.

Sources per the research notes on outlets (shared/outlets/OUTLETS.md): the ranking RDF (the only feed known to exist; ten entries,
no dates), the flash list `/jc/list?g=flash` with its pager, and `/sitemap.xml` (unconfirmed on the real
site: a missing sitemap only costs one 404).
"""

from __future__ import annotations

import re
from datetime import date
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from spiders.base import NewsSpider
from spiders.discovery import ListingMarkup
from spiders.pages import jiji as jiji_page


class JijiSpider(NewsSpider):
    name = "jiji"
    display_name = "時事ドットコム (Jiji Press)"
    origin = "https://www.jiji.com"
    hosts = frozenset({"www.jiji.com", "jiji.com"})
    feeds = ("https://www.jiji.com/rss/ranking.rdf",)
    sitemaps = ("https://www.jiji.com/sitemap.xml",)
    listings = ("https://www.jiji.com/jc/list?g=flash",)
    listing_markup = ListingMarkup(
        item=(
            "//div[@id='Main']//div[contains(concat(' ', normalize-space(@class), ' '), ' ArticleListMain ')]"
            "/ul[contains(concat(' ', normalize-space(@class), ' '), ' LinkList ')]/li"
        ),
        link="./a[@href]",
        time="./a/span | ./span",
        next="//div[contains(concat(' ', normalize-space(@class), ' '), ' Pager ')]//a[@rel='next']/@href",
    )
    # m=rss marks links taken from the RSS feed; k (article id) and g (genre) identify the article.
    tracking_params = (*NewsSpider.tracking_params, "m")
    article_patterns: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"^https://www\.jiji\.com/jc/article\?(?:[^#]*&)?k=(?:\d{13}|\d{9}\.\d{9})(?:&|$)"),
    )
    # Features, photo galleries and videos are not news articles (and never match the pattern above;
    # listed so that a widened pattern cannot let them in).
    excluded_patterns: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"^https://www\.jiji\.com/(?:jc|sp)/(?:v\d*|p|movie)(?:\?|$)"),
    )
    page_parser = staticmethod(jiji_page.parse)

    def canonicalize(self, url: str) -> str:
        url = super().canonicalize(url)
        parts = urlsplit(url)
        if parts.hostname == "www.jiji.com":
            # Mobile and AMP renderings are the same article as /jc/.
            path = re.sub(r"^/(?:sp|amp)/", "/jc/", parts.path)
            url = urlunsplit(parts._replace(path=path))
        return url

    def url_date(self, url: str) -> date | None:
        # k=YYYYMMDDnnnnn: the page object reads the same date to choose its layout.
        return jiji_page.url_day(url)
