"""NewsSpider's discovery without a crawl: listing pagination, canonical URLs, the date window,
arguments and the base-URL override. The documents themselves are parsed in test_discovery.py."""

from __future__ import annotations

from datetime import date

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from core.baseurls import parse_base_urls, rebase_url
from crawler.middlewares import BaseUrlOverrideMiddleware
from spiders.asahi import AsahiSpider
from spiders.jiji import JijiSpider
from spiders.registry import OUTLETS, outlet_sources
from spiders.urls import parse_window_bound
from tests.test_discovery import INDEX, jiji_listing

# -------------------------------------------------------------------------------------------- listings


def make_spider(cls, **kwargs):
    crawler = get_crawler(cls, {"OUTLET_BASE_URLS": {cls.name: "http://127.0.0.1:8001"}})
    crawler.stats.open_spider()
    return cls.from_crawler(crawler, **kwargs), crawler.stats


def respond(url: str, text: str, **meta) -> HtmlResponse:
    return HtmlResponse(url=url, body=text.encode("utf-8"), encoding="utf-8", request=Request(url, meta=meta))


def test_listing_pagination_continues_while_entries_are_recent():
    spider, _ = make_spider(JijiSpider, since="2025-03-01", until="2025-03-21")
    page = jiji_listing(
        [
            ("/jc/article?k=2025032101243&g=int", "a", "03/21 18:58"),
            ("/jc/article?k=2025030200001&g=int", "b", "03/02 10:00"),
        ],
        "/jc/list?g=flash&p=2",
    )
    (follow,) = list(spider.parse_listing(respond("http://127.0.0.1:8001/jc/list?g=flash", page)))
    # The pager link is built on the real origin; the middleware maps it when it is fetched.
    assert follow.url == "https://www.jiji.com/jc/list?g=flash&p=2"
    assert follow.meta["listing_reference"].isoformat() == "2025-03-02T10:00:00+09:00"


def test_listing_pagination_stops_once_the_last_entry_is_older_than_since():
    # Listings run newest first: a page ending before --since means every later page is older still.
    spider, stats = make_spider(JijiSpider, since="2025-03-01", until="2025-03-21")
    page = jiji_listing(
        [
            ("/jc/article?k=2025032101243&g=int", "a", "03/21 18:58"),
            ("/jc/article?k=2025022800001&g=int", "b", "02/28 10:00"),
        ],
        "/jc/list?g=flash&p=2",
    )
    assert list(spider.parse_listing(respond("http://127.0.0.1:8001/jc/list?g=flash", page))) == []
    assert stats.get_value("newsarchive/discovery/listing_stopped") == 1
    assert stats.get_value("newsarchive/candidates/listing") == 2  # the page's own entries still count


def test_listing_pagination_stops_when_a_page_is_all_older_than_since():
    spider, stats = make_spider(JijiSpider, since="2025-03-01", until="2025-03-21")
    page = jiji_listing(
        [
            ("/jc/article?k=2025022800001&g=int", "a", "02/28 10:00"),
            ("/jc/article?k=2025022700001&g=int", "b", "02/27 10:00"),
        ],
        "/jc/list?g=flash&p=4",
    )
    assert list(spider.parse_listing(respond("http://127.0.0.1:8001/jc/list?g=flash&p=3", page))) == []
    assert stats.get_value("newsarchive/discovery/listing_stopped") == 1


def test_listing_year_inferred_across_new_year():
    spider, _ = make_spider(AsahiSpider, until="2025-01-02")
    page = (
        '<div id="MainInner"><div class="Section"><ul class="List">'
        '<li><a href="/articles/AST1N0000000000001.html">a</a><span class="Time">(1/2 08:00)</span></li>'
        '<li><a href="/articles/ASSCV000000000000A.html">b</a><span class="Time">(12/31 23:00)</span></li>'
        "</ul></div></div>"
    )
    list(spider.parse_listing(respond("https://www.asahi.com/news/history.html", page)))
    got = {c.url.rsplit("/", 1)[1]: c.published_at for c in spider._candidates.values()}
    assert got == {
        "AST1N0000000000001.html": "2025-01-02T08:00:00+09:00",
        "ASSCV000000000000A.html": "2024-12-31T23:00:00+09:00",
    }


# --------------------------------------------------------------------------------------- canonical URLs


@pytest.mark.parametrize(
    ("spider_cls", "url", "canonical"),
    [
        (
            JijiSpider,
            "https://www.jiji.com/sp/article?k=2026071600709&g=pol",
            "https://www.jiji.com/jc/article?k=2026071600709&g=pol",
        ),
        (
            JijiSpider,
            "https://www.jiji.com/jc/article?k=2025032101243&g=int&m=rss",
            "https://www.jiji.com/jc/article?k=2025032101243&g=int",
        ),
        (
            JijiSpider,
            "http://jiji.com/amp/article?k=2022101700794&g=pol#comment",
            "https://www.jiji.com/jc/article?k=2022101700794&g=pol",
        ),
        (
            JijiSpider,
            "http://127.0.0.1:8001/jc/article?k=2024030600022",
            "https://www.jiji.com/jc/article?k=2024030600022",
        ),
        (
            AsahiSpider,
            "https://www.asahi.com/articles/AST1F4445T1FUTIL02SM.html?iref=ogimage_rek",
            "https://www.asahi.com/articles/AST1F4445T1FUTIL02SM.html",
        ),
        (
            AsahiSpider,
            "https://digital.asahi.com/articles/DA3S16528387.html",
            "https://www.asahi.com/articles/DA3S16528387.html",
        ),
        (
            AsahiSpider,
            "https://www.asahi.com/sp/articles/AST1F4445T1FUTIL02SM.html",
            "https://www.asahi.com/articles/AST1F4445T1FUTIL02SM.html",
        ),
    ],
)
def test_canonicalize(spider_cls, url, canonical):
    spider, _ = make_spider(spider_cls)
    assert spider.canonicalize(url) == canonical
    assert spider.is_article(url)


@pytest.mark.parametrize(
    ("spider_cls", "url"),
    [
        (JijiSpider, "https://www.jiji.com/jc/v8?id=202410uragane-team"),
        (JijiSpider, "https://www.jiji.com/jc/p?id=20250321-photo"),
        (JijiSpider, "https://www.jiji.com/jc/movie?p=j001234"),
        (JijiSpider, "https://www.jiji.com/jc/list?g=flash"),
        (JijiSpider, "https://jen.jiji.com/jc/eng?g=eco&k=2026042200564"),
        (AsahiSpider, "https://www.asahi.com/and_M/articles/ASN0000000000000001.html"),
        (AsahiSpider, "https://www.asahi.com/articles/photo/AS20250113003419.html"),
        (AsahiSpider, "https://www.asahi.com/ajw/articles/16494080"),
        (AsahiSpider, "https://www.asahi.com/video/articles/ASN0000000000000002.html"),
        (AsahiSpider, "https://example.com/articles/AST1F4445T1FUTIL02SM.html"),
    ],
)
def test_not_articles(spider_cls, url):
    spider, _ = make_spider(spider_cls)
    assert not spider.is_article(url)


def test_jiji_url_date():
    spider, _ = make_spider(JijiSpider)
    assert spider.url_date("https://www.jiji.com/jc/article?g=int&k=2025032101243") == date(2025, 3, 21)
    assert spider.url_date("https://www.jiji.com/jc/article?k=000000036.000138449&g=prt") is None


# ------------------------------------------------------------------------------------- window pruning


def test_window_pruning_merge_and_newest_first_cap():
    spider, stats = make_spider(JijiSpider, since="2025-03-01", until="2025-03-21", max_articles=2)
    from spiders.discovery import Entry
    from spiders.urls import parse_datetime

    def add(k: str, source: str, when: str | None, title: str | None = None):
        url = f"https://www.jiji.com/jc/article?k={k}&g=int"
        spider.add_candidate(url, source, "src", Entry(url, title, parse_datetime(when)))

    add("2025032100001", "listing", "2025-03-21T09:00:00+09:00", "listing title")
    add("2025032100001", "sitemap", "2025-03-21T09:01:00+09:00", "sitemap title")
    add("2025032000001", "feed", None)  # undated: the URL day decides
    add("2025031500001", "listing", "2025-03-15T12:00:00+09:00")
    add("2025022800001", "sitemap", "2025-02-28T23:00:00+09:00")  # before since
    add("2025032200001", "feed", None)  # URL day after until
    spider.add_candidate("https://www.jiji.com/jc/v8?id=x", "listing", "src", Entry("u"))
    chosen = spider.select_candidates()
    assert [c.url.split("k=")[1][:13] for c in chosen] == ["2025032100001", "2025032000001"]
    assert chosen[0].source == "sitemap" and chosen[0].title == "sitemap title"
    assert chosen[0].published_at == "2025-03-21T09:01:00+09:00"
    assert stats.get_value("newsarchive/candidates/duplicate") == 1
    assert stats.get_value("newsarchive/pruned/out_of_window") == 2
    assert stats.get_value("newsarchive/pruned/max_articles") == 1
    assert stats.get_value("newsarchive/pruned/not_article") == 1


def test_sitemap_children_older_than_since_are_skipped():
    spider, stats = make_spider(JijiSpider, since="2025-03-01")
    response = respond("http://127.0.0.1:8001/sitemap.xml", "")
    response = response.replace(body=INDEX)
    requests = list(spider.parse_sitemap(response))
    assert [r.url for r in requests] == ["https://www.jiji.com/sitemap/news/2025-03-21.xml"]
    assert stats.get_value("newsarchive/discovery/sitemap_skipped_old") == 1


# ------------------------------------------------------------------------------- arguments and override


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"since": "yesterday"}, "since:"),
        ({"until": "2025-13-01"}, "until:"),
        ({"max_articles": "five"}, "max_articles:"),
        ({"max_articles": 0}, "max_articles:"),
        ({"since": "2025-03-22", "until": "2025-03-21"}, "since:"),
    ],
)
def test_invalid_arguments_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        JijiSpider(**kwargs)


def test_window_bounds():
    assert (
        parse_window_bound("2025-03-21", "until", end=True).isoformat() == "2025-03-21T23:59:59.999000+09:00"
    )
    assert parse_window_bound("2025-03-01", "since", end=False).isoformat() == "2025-03-01T00:00:00+09:00"
    assert (
        parse_window_bound("2025-03-01T12:00", "since", end=False).isoformat() == "2025-03-01T12:00:00+09:00"
    )
    assert parse_window_bound("2025-03-01T03:00Z", "since", end=False).utcoffset().total_seconds() == 0


def test_base_url_override_middleware_and_reverse_mapping():
    assert parse_base_urls('{"jiji": "http://127.0.0.1:8001/"}') == {"jiji": "http://127.0.0.1:8001"}
    with pytest.raises(ValueError, match="OUTLET_BASE_URLS"):
        parse_base_urls({"jiji": "127.0.0.1:8001"})
    assert rebase_url("https://example.com/x", {"www.jiji.com"}, "http://127.0.0.1:1") is None
    spider, _ = make_spider(JijiSpider)
    middleware = BaseUrlOverrideMiddleware.from_crawler(spider.crawler)
    spider.crawler.spider = spider
    moved = middleware.process_request(Request("https://www.jiji.com/jc/article?k=2025032101243&g=int"))
    assert moved is not None and moved.url == "http://127.0.0.1:8001/jc/article?k=2025032101243&g=int"
    assert middleware.process_request(moved) is None  # already on the override origin
    assert middleware.process_request(Request("https://jen.jiji.com/jc/eng?k=1")) is None
    assert spider.to_real_url(moved.url) == "https://www.jiji.com/jc/article?k=2025032101243&g=int"


def test_registry():
    assert set(OUTLETS) == {"jiji", "asahi"}
    assert outlet_sources("asahi")["feeds"] == ["https://www.asahi.com/rss/asahi/newsheadlines.rdf"]
    with pytest.raises(KeyError, match="unknown outlet"):
        outlet_sources("nope")
