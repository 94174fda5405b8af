"""Discovery without a crawl: feeds, sitemaps, listings, canonical URLs and the date window."""

from __future__ import annotations

import gzip
from datetime import date

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from core.baseurls import parse_base_urls, rebase_url
from crawler.middlewares import BaseUrlOverrideMiddleware
from spiders.asahi import AsahiSpider
from spiders.discovery import (
    DiscoveryError,
    parse_feed,
    parse_listing,
    parse_sitemap,
)
from spiders.jiji import JijiSpider
from spiders.registry import OUTLETS, outlet_sources
from spiders.urls import parse_window_bound

# ----------------------------------------------------------------------------------------------- feeds

RDF_NO_DATES = b"""<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://www.jiji.com/"><title>\xe6\x99\x82\xe4\xba\x8b</title></channel>
<item rdf:about="https://www.jiji.com/jc/article?k=2025032101243&amp;g=int&amp;m=rss">
<title>A</title><link>https://www.jiji.com/jc/article?k=2025032101243&amp;g=int&amp;m=rss</link></item>
<item rdf:about="https://www.jiji.com/jc/article?k=2025032000010&amp;g=pol&amp;m=rss">
<title>B</title><link>https://www.jiji.com/jc/article?k=2025032000010&amp;g=pol&amp;m=rss</link></item>
</rdf:RDF>"""

RDF_DATES = b"""<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<item rdf:about="https://www.asahi.com/articles/AST3N0000000000001.html?iref=rss">
<title>T</title><link>https://www.asahi.com/articles/AST3N0000000000001.html?iref=rss</link>
<dc:date>2025-03-21T18:58:00+09:00</dc:date></item></rdf:RDF>"""

RSS2 = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>
<item><title>R</title><link>/jc/article?k=2025031500001&amp;g=soc</link>
<pubDate>Sat, 15 Mar 2025 01:00:00 GMT</pubDate></item>
<item><title>G</title><guid>https://www.jiji.com/jc/article?k=2025031500002&amp;g=soc</guid></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>a</title>
<entry><title>E</title><link rel="alternate" href="https://www.asahi.com/articles/AST3N0000000000002.html"/>
<updated>2025-03-02T10:00:00Z</updated></entry></feed>"""


def test_rdf_without_dates():
    entries = parse_feed(RDF_NO_DATES)
    assert [e.title for e in entries] == ["A", "B"]
    assert entries[0].url == "https://www.jiji.com/jc/article?k=2025032101243&g=int&m=rss"
    assert all(e.published_at is None for e in entries)


def test_rdf_with_dc_date():
    (entry,) = parse_feed(RDF_DATES)
    assert entry.published_at is not None
    assert entry.published_at.isoformat() == "2025-03-21T18:58:00+09:00"


def test_rss2_pubdate_relative_link_and_guid():
    entries = parse_feed(RSS2, base_url="https://www.jiji.com/rss/x.xml")
    assert entries[0].url == "https://www.jiji.com/jc/article?k=2025031500001&g=soc"
    assert entries[0].published_at is not None
    assert entries[0].published_at.isoformat() == "2025-03-15T01:00:00+00:00"
    assert entries[1].url.endswith("k=2025031500002&g=soc") and entries[1].published_at is None


def test_atom_entry():
    (entry,) = parse_feed(ATOM)
    assert entry.title == "E" and entry.url.endswith("AST3N0000000000002.html")
    assert entry.published_at is not None and entry.published_at.hour == 10


def test_unknown_feed_format_is_refused():
    with pytest.raises(DiscoveryError):
        parse_feed(b"<html><body>not a feed</body></html>")


# -------------------------------------------------------------------------------------------- sitemaps

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://www.jiji.com/sitemap/news/2025-03-21.xml</loc><lastmod>2025-03-21T18:58:00+09:00</lastmod></sitemap>
<sitemap><loc>https://www.jiji.com/sitemap/news/2025-02-10.xml</loc><lastmod>2025-02-10T09:00:00+09:00</lastmod></sitemap>
</sitemapindex>"""

URLSET_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="{ns}" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://www.asahi.com/articles/AST3N0000000000003.html</loc><lastmod>2025-03-22T09:00:00+09:00</lastmod>
<news:news><news:publication><news:name>n</news:name><news:language>ja</news:language></news:publication>
<news:publication_date>2025-03-21T18:58:00+09:00</news:publication_date>
<news:title>露朝の軍事協力</news:title><news:keywords>ロシア,北朝鮮, 軍事協力</news:keywords></news:news></url>
<url><loc>https://www.asahi.com/articles/AST3N0000000000004.html</loc></url>
</urlset>"""


def test_sitemap_index_children_with_lastmod():
    index = parse_sitemap(INDEX)
    assert index.kind == "index"
    assert [c.url.rsplit("/", 1)[1] for c in index.children] == ["2025-03-21.xml", "2025-02-10.xml"]
    assert index.children[1].lastmod is not None and index.children[1].lastmod.day == 10


@pytest.mark.parametrize(
    "namespace", ["http://www.sitemaps.org/schemas/sitemap/0.9", "http://www.google.com/schemas/sitemap/0.84"]
)
def test_urlset_keeps_google_news_fields_in_both_namespaces(namespace):
    urlset = parse_sitemap(URLSET_TEMPLATE.format(ns=namespace).encode())
    assert urlset.kind == "urlset"
    first, second = urlset.entries
    assert first.title == "露朝の軍事協力"
    assert first.keywords == ("ロシア", "北朝鮮", "軍事協力")
    # publication_date wins over lastmod (which moves with every correction).
    assert first.published_at is not None and first.published_at.isoformat() == "2025-03-21T18:58:00+09:00"
    assert second.title is None and second.published_at is None


def test_external_entity_is_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    hostile = f"""<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file://{secret}">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>https://www.jiji.com/jc/article?k=2025030100001&amp;g=soc&amp;x=&xxe;</loc></url></urlset>""".encode()
    urlset = parse_sitemap(hostile)
    assert all("TOP-SECRET" not in (e.url + (e.title or "")) for e in urlset.entries)


def test_oversize_and_gzip_bomb_refused():
    body = URLSET_TEMPLATE.format(ns="http://www.sitemaps.org/schemas/sitemap/0.9").encode()
    with pytest.raises(DiscoveryError, match="larger than"):
        parse_sitemap(body, limit=100)
    bomb = gzip.compress(b"<urlset>" + b" " * 5_000_000 + b"</urlset>")
    assert len(bomb) < 20_000
    with pytest.raises(DiscoveryError, match="larger than"):
        parse_sitemap(bomb, limit=1_000_000)
    assert parse_sitemap(gzip.compress(body)).entries  # a legitimate .xml.gz is read


def test_not_xml_refused():
    with pytest.raises(DiscoveryError):
        parse_sitemap(b"<urlset><url>")


# -------------------------------------------------------------------------------------------- listings


def jiji_listing(entries: list[tuple[str, str, str]], next_page: str | None) -> str:
    items = "".join(
        f'<li><a href="{href}">{title}<span>({when})</span></a></li>' for href, title, when in entries
    )
    pager = f'<div class="Pager"><a rel="next" href="{next_page}">次へ</a></div>' if next_page else ""
    return (
        '<html><body><div id="Main"><div class="MainInner mb30"><div class="ArticleListMain">'
        f'<ul class="LinkList">{items}</ul>{pager}</div></div></div>'
        '<ul class="LinkList"><li class="ThumbList"><a href="/jc/article?k=2025010100001&g=pol">side</a></li></ul>'
        "</body></html>"
    )


def test_listing_markup_entries_and_next():
    page = jiji_listing(
        [
            ("/jc/article?k=2025032101243&g=int", "見出し", "03/21 18:58"),
            ("/sp/article?k=2025032100002&g=pol", "二", "03/21 09:00"),
        ],
        "/jc/list?g=flash&p=2",
    )
    parsed = parse_listing(page, "https://www.jiji.com/jc/list?g=flash", JijiSpider.listing_markup)
    assert [e.title for e in parsed.entries] == ["見出し", "二"]  # the sidebar is not the listing
    assert parsed.entries[0].url == "https://www.jiji.com/jc/article?k=2025032101243&g=int"
    assert parsed.entries[0].month_day_time == (3, 21, 18, 58)
    assert parsed.next_url == "https://www.jiji.com/jc/list?g=flash&p=2"


def test_asahi_listing_title_without_paid_icon():
    page = (
        '<div id="MainInner"><div class="Section"><ul class="List"><li><a href="/articles/AST3N0000000000005.html'
        '?iref=com_latest_01">有料の見出し<img src="//www.asahicom.jp/images/icon/top/icon__keyGold.svg" alt="有料会員記事">'
        '</a> <span class="Time">(3/21 18:58)</span></li></ul></div><ul class="Pager"><li>'
        '<a rel="next" href="/news/history.html?page=2">次へ</a></li></ul></div>'
    )
    parsed = parse_listing(page, "https://www.asahi.com/news/history.html", AsahiSpider.listing_markup)
    (entry,) = parsed.entries
    assert entry.title == "有料の見出し" and entry.month_day_time == (3, 21, 18, 58)
    assert parsed.next_url == "https://www.asahi.com/news/history.html?page=2"


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
