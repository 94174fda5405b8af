"""A TOML-described outlet crawled for real against a tiny local site (http.server on 127.0.0.1).

The outlet file is written by the test and loaded through `load_outlets(extra_files=...)`, exactly as a
user's `--outlet-file` would be. The site serves an RSS feed, a sitemap index with one recent and one old
child, and article pages with JSON-LD; the request log proves what was and was not fetched.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import pytest_twisted
import scrapy.downloadermiddlewares.cookies as scrapy_cookies
from scrapy import signals
from scrapy.crawler import CrawlerRunner
from tldextract import TLDExtract

from core.items import FetchedPage
from spiders.generic import GenericSpider
from spiders.registry import load_outlets

pytestmark = pytest.mark.e2e

ORIGIN = "https://www.example-shimbun.jp"
OUTLET_TOML = r"""
name = "example"
display_name = "Example Shimbun"
origin = "https://www.example-shimbun.jp"
hosts = ["example-shimbun.jp"]

[discovery]
feeds = ["https://www.example-shimbun.jp/rss/flash.xml"]
sitemaps = ["https://www.example-shimbun.jp/sitemap.xml"]

[urls]
article = ['^https://www\.example-shimbun\.jp/articles/\d{8}/n\d{3}$']
exclude = ['/articles/\d{8}/n9\d\d$']
strip_params = ["ref"]
drop_query = true
date_pattern = '/articles/(\d{8})/'

[page]
title_strip = ['\s*\|\s*Example Shimbun$']
body = ["div.story > p"]
paywall = ["css:div.paywall"]
"""

# (path, published) for every article the site has; n9xx are photo pages the config excludes.
ARTICLES = {
    "/articles/20250310/n001": "2025-03-10T09:00:00+09:00",  # in window, feed only
    "/articles/20250312/n002": "2025-03-12T12:30:00+09:00",  # in window, feed and recent sitemap
    "/articles/20250314/n003": "2025-03-14T18:00:00+09:00",  # in window, recent sitemap only
    "/articles/20250302/n004": "2025-03-02T08:00:00+09:00",  # before the window, in the recent sitemap
    "/articles/20250120/n005": "2025-01-20T08:00:00+09:00",  # old sitemap child: never fetched
    "/articles/20250313/n901": "2025-03-13T10:00:00+09:00",  # excluded (photo page)
}
SINCE, UNTIL = "2025-03-05", "2025-03-20"


def article_html(path: str, published: str) -> str:
    serial = path.rsplit("/", 1)[1]
    paywall = '<div class="paywall">会員限定</div>' if serial == "n003" else ""
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<title>記事{serial} | Example Shimbun</title>
<link rel="canonical" href="{ORIGIN}{path}">
<script type="application/ld+json">{{"@type": "NewsArticle", "headline": "記事{serial} | Example Shimbun",
"datePublished": "{published}", "author": [{{"@type": "Person", "name": "記者{serial}"}}]}}</script>
</head><body><h1>記事{serial}</h1><div class="story"><p>　本文{serial}の一段落目。</p><p>二段落目。</p></div>
{paywall}</body></html>"""


def rss() -> str:
    items = "".join(
        f"<item><title>記事{p[-4:]}</title><link>{ORIGIN}{p}?ref=rss</link></item>"
        for p in ("/articles/20250310/n001", "/articles/20250312/n002", "/articles/20250313/n901")
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>x</title>{items}</channel></rss>'


def sitemap_index() -> str:
    children = (
        ("/sitemap-2025-03.xml", "2025-03-14T18:00:00+09:00"),
        ("/sitemap-2025-01.xml", "2025-01-31T23:00:00+09:00"),
    )
    body = "".join(
        f"<sitemap><loc>{ORIGIN}{loc}</loc><lastmod>{mod}</lastmod></sitemap>" for loc, mod in children
    )
    return f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</sitemapindex>'


def urlset(paths: list[str]) -> str:
    body = "".join(
        f"<url><loc>{ORIGIN}{p}</loc><news:news><news:publication_date>{ARTICLES[p]}</news:publication_date>"
        f"<news:title>記事{p[-4:]}</news:title></news:news></url>"
        for p in paths
    )
    return (
        '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{body}</urlset>'
    )


ROUTES = {
    "/rss/flash.xml": ("application/rss+xml", rss()),
    "/sitemap.xml": ("application/xml", sitemap_index()),
    "/sitemap-2025-03.xml": (
        "application/xml",
        urlset(["/articles/20250312/n002", "/articles/20250314/n003", "/articles/20250302/n004"]),
    ),
    "/sitemap-2025-01.xml": ("application/xml", urlset(["/articles/20250120/n005"])),
    **{p: ("text/html; charset=utf-8", article_html(p, d)) for p, d in ARTICLES.items()},
}


class Site:
    def __init__(self) -> None:
        self.requests: list[tuple[str, int]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path
                content_type, body = ROUTES.get(path, ("text/plain", ""))
                status = 200 if path in ROUTES else 404
                site.requests.append((path, status))
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]


@pytest.fixture(scope="module", autouse=True)
def offline_tldextract() -> Iterator[None]:
    # Same reason as in test_spider_crawl: Scrapy's cookie middleware would download the suffix list.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            scrapy_cookies,
            "_split_domain",
            TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True),
        )
        yield


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def outlet_file(tmp_path: Path) -> Path:
    path = tmp_path / "example.toml"
    path.write_text(OUTLET_TOML, "utf-8")
    return path


@pytest_twisted.inlineCallbacks
def test_toml_outlet_discovers_prunes_and_parses(site: Site, outlet_file: Path):
    spider_cls = load_outlets(extra_files=[outlet_file])["example"]
    assert issubclass(spider_cls, GenericSpider)
    items: list[FetchedPage] = []
    runner = CrawlerRunner(
        {
            "OUTLET_BASE_URLS": {"example": site.base},
            "DOWNLOADER_MIDDLEWARES": {"crawler.middlewares.BaseUrlOverrideMiddleware": 50},
            "ROBOTSTXT_OBEY": True,
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "LOG_LEVEL": "WARNING",
        }
    )
    crawler = runner.create_crawler(spider_cls)

    def collect(item: FetchedPage) -> None:
        items.append(item)

    crawler.signals.connect(collect, signal=signals.item_scraped)
    yield runner.crawl(crawler, since=SINCE, until=UNTIL)
    stats = crawler.stats.get_stats()
    fetched = site.paths()

    # Discovery went through the feed, the index and only the recent child sitemap.
    assert {"/rss/flash.xml", "/sitemap.xml", "/sitemap-2025-03.xml"} <= set(fetched)
    assert "/sitemap-2025-01.xml" not in fetched
    assert stats["newsarchive/discovery/sitemap_skipped_old"] == 1
    # Exactly the in-window articles were fetched, once each; the out-of-window and excluded ones never.
    article_requests = [p for p in fetched if p.startswith("/articles/")]
    wanted = ["/articles/20250310/n001", "/articles/20250312/n002", "/articles/20250314/n003"]
    assert sorted(article_requests) == wanted
    assert stats["newsarchive/pruned/out_of_window"] == 1  # n004, dated by the sitemap
    assert stats["newsarchive/pruned/not_article"] == 1  # n901 from the feed
    assert stats["newsarchive/candidates/duplicate"] == 1  # n002 seen in feed and sitemap

    by_url = {item.url: item for item in items}
    assert sorted(by_url) == [ORIGIN + p for p in wanted]  # canonical: real origin, no ?ref=rss
    for path in wanted:
        item = by_url[ORIGIN + path]
        assert item.parser is not None and item.parser is spider_cls.page_parser
        fields = item.parser(item.text, item.url)
        serial = path[-4:]
        assert fields.parser == "page:example@2000"
        assert fields.title == f"記事{serial}"  # the site-name suffix stripped
        assert fields.published_at == ARTICLES[path]
        assert fields.authors == [f"記者{serial}"]
        assert fields.body_paragraphs == [f"本文{serial}の一段落目。", "二段落目。"]
        assert fields.access == ("paywalled" if serial == "n003" else "free")
    # The sitemap's date won over the feed's missing one for the candidate found twice.
    candidate = by_url[ORIGIN + "/articles/20250312/n002"].candidate
    assert candidate is not None and candidate.source == "sitemap"
