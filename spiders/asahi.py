"""Asahi Shimbun (朝日新聞デジタル, www.asahi.com): where to look and which URLs are articles.

Sources per the research notes on outlets (shared/outlets/OUTLETS.md): the newsheadlines RDF (with dc:date), the monthly
Google-News sitemaps under `/sitemap.xml` (old 0.84 namespace), the latest-news list
`/news/history.html` with its pager, and the site search on sitesearch.asahi.com (URL and UTF-8 GET form
seen on real pages; its result markup is not known, so `search_markup` follows the simulator's page and
must be checked against a real capture before it is trusted).
"""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from spiders.base import NewsSpider
from spiders.discovery import ListingMarkup
from spiders.pages import asahi as asahi_page


class AsahiSpider(NewsSpider):
    name = "asahi"
    display_name = "朝日新聞デジタル (Asahi Shimbun)"
    origin = "https://www.asahi.com"
    # digital.asahi.com serves the same article IDs behind the login; one article, one canonical URL.
    # sitesearch.asahi.com is listed so that the base-URL override maps the search onto a mirror too.
    hosts = frozenset({"www.asahi.com", "asahi.com", "digital.asahi.com", "sitesearch.asahi.com"})
    feeds = ("https://www.asahi.com/rss/asahi/newsheadlines.rdf",)
    sitemaps = ("https://www.asahi.com/sitemap.xml",)
    listings = ("https://www.asahi.com/news/history.html",)
    listing_markup = ListingMarkup(
        item=(
            "//div[@id='MainInner']//div[contains(concat(' ', normalize-space(@class), ' '), ' Section ')]"
            "//ul[contains(concat(' ', normalize-space(@class), ' '), ' List ')]/li"
        ),
        link="./a[@href]",
        time="./span[contains(concat(' ', normalize-space(@class), ' '), ' Time ')] | ./a/span",
        next="//ul[contains(concat(' ', normalize-space(@class), ' '), ' Pager ')]//a[@rel='next']/@href",
    )
    search_urls = ("https://sitesearch.asahi.com/.cgi/sitesearch/sitesearch.pl?Keywords={query}",)
    search_markup = ListingMarkup(
        item="//ul[contains(concat(' ', normalize-space(@class), ' '), ' SearchResult ')]/li",
        link="./a[@href]",
        time="./span[contains(concat(' ', normalize-space(@class), ' '), ' Date ')]",
        next="//ul[contains(concat(' ', normalize-space(@class), ' '), ' Pager ')]//a[@rel='next']/@href",
    )
    tracking_params = (*NewsSpider.tracking_params, "iref", "ref")
    article_patterns: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"^https://www\.asahi\.com/articles/(?:AS[0-9A-Z]{15,20}|DA3S\d{8})\.html$"),
    )
    # Sub-brands, videos, photo pages and the English service are out of scope.
    excluded_patterns: ClassVar[tuple[re.Pattern[str], ...]] = (
        re.compile(r"^https://www\.asahi\.com/(?:and_M|and_w|and_travel|video|ajw)/"),
        re.compile(r"^https://www\.asahi\.com/articles/photo/"),
    )
    page_parser = staticmethod(asahi_page.parse)

    def canonicalize(self, url: str) -> str:
        url = super().canonicalize(url)
        parts = urlsplit(url)
        if parts.hostname == "www.asahi.com":
            path = re.sub(r"^/sp/articles/", "/articles/", parts.path)
            # An article page takes no meaningful query parameter: whatever is left is tracking.
            query = "" if re.match(r"^/articles/[^/]+\.html$", path) else parts.query
            url = urlunsplit(parts._replace(path=path, query=query))
        return url
