"""Real Scrapy crawls of each spider against the local simulator (no pipelines: items collected by signal).

Cookies: Scrapy's CookiesMiddleware calls a module-level `TLDExtract` instance,
`scrapy.downloadermiddlewares.cookies._split_domain`, built at import time with the default suffix-list
URLs; it would download the Public Suffix List on first use. The fixture below swaps it for an instance
with `suffix_list_urls=()` and `cache_dir=None`, which reads only the snapshot bundled with tldextract.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
import pytest_twisted
import scrapy.downloadermiddlewares.cookies as scrapy_cookies
from scrapy import Request, signals
from scrapy.crawler import CrawlerRunner
from tldextract import TLDExtract

from core.items import Candidate, FetchedPage
from crawler.simulator import Simulator
from spiders.base import NewsSpider
from spiders.jiji import JijiSpider
from spiders.registry import OUTLETS

pytestmark = pytest.mark.e2e

SINCE, UNTIL = "2025-03-01", "2025-03-21"


@pytest.fixture(scope="module", autouse=True)
def offline_tldextract():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            scrapy_cookies,
            "_split_domain",
            TLDExtract(suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True),
        )
        yield


@pytest.fixture(scope="module")
def sim():
    simulator = Simulator()
    simulator.start()
    yield simulator
    simulator.stop()


def crawl_settings(sim: Simulator) -> dict:
    return {
        "OUTLET_BASE_URLS": sim.base_urls,
        "DOWNLOADER_MIDDLEWARES": {"crawler.middlewares.BaseUrlOverrideMiddleware": 50},
        "ROBOTSTXT_OBEY": True,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "USER_AGENT": "newsarchive-tests (+mailto:tests@localhost)",
        "LOG_LEVEL": "WARNING",
    }


class Crawl:
    """One finished crawl: the items, the stats and the simulator requests it caused."""

    def __init__(self) -> None:
        self.items: list[FetchedPage] = []
        self.stats: dict = {}
        self.requests: list[dict] = []

    def collect(self, item: FetchedPage) -> None:
        self.items.append(item)


def run_crawl(sim: Simulator, spider_cls: type[NewsSpider], **kwargs):
    result = Crawl()
    runner = CrawlerRunner(crawl_settings(sim))
    crawler = runner.create_crawler(spider_cls)
    crawler.signals.connect(result.collect, signal=signals.item_scraped)
    before = len(sim.requests)
    deferred = runner.crawl(crawler, **kwargs)

    def finished(_):
        result.stats = crawler.stats.get_stats()
        result.requests = [r for r in sim.requests[before:] if r["outlet"] == spider_cls.name]
        return result

    deferred.addCallback(finished)
    return deferred


def truth(sim: Simulator, outlet: str):
    return {a.url: a for a in sim.articles if a.outlet == outlet}


def article_paths(outlet: str, requests: list[dict]) -> list[str]:
    marker = "/jc/article" if outlet == "jiji" else "/articles/"
    return [r["path"] for r in requests if r["path"].startswith(marker)]


@pytest.mark.parametrize("outlet", ["jiji", "asahi"])
@pytest_twisted.inlineCallbacks
def test_crawl_finds_every_in_window_article_exactly_once(sim, outlet):
    crawl = yield run_crawl(sim, OUTLETS[outlet], since=SINCE, until=UNTIL)
    articles = truth(sim, outlet)
    in_window = {url for url, a in articles.items() if a.in_window}
    assert len(in_window) == 48

    counts = Counter(item.url for item in crawl.items)
    assert set(counts) == in_window
    assert all(n == 1 for n in counts.values())

    # Nothing outside the window was even requested: pruned before fetching.
    old_paths = {a.path for a in articles.values() if not a.in_window}
    requested = article_paths(outlet, crawl.requests)
    assert not old_paths & set(requested)
    assert crawl.stats["newsarchive/pruned/out_of_window"] == 12
    # Old child sitemaps (lastmod before since) were skipped, not fetched.
    assert crawl.stats["newsarchive/discovery/sitemap_skipped_old"] >= 1
    assert not any("2025-02" in r["path"] for r in crawl.requests if "sitemap" in r["path"])

    base = sim.base_urls[outlet]
    origin = OUTLETS[outlet].origin
    for item in crawl.items:
        assert item.url.startswith(origin + "/")
        assert item.fetched_url.startswith(base + "/")
        assert item.status == 200 and item.outlet == outlet
        assert len(item.headers["set-cookie"]) == 2  # repeated headers kept
        assert isinstance(item.candidate, Candidate) and item.candidate.url == item.url
        assert item.parser is OUTLETS[outlet].page_parser
        assert item.warc is None  # no capture middleware in this crawl
        assert item.fetched_at.endswith("+00:00")
        fields = item.parser(item.text, item.url)
        assert fields.title == articles[item.url].title


@pytest_twisted.inlineCallbacks
def test_jiji_mobile_links_404_and_shift_jis(sim):
    crawl = yield run_crawl(sim, JijiSpider, since=SINCE, until=UNTIL)
    # The listing's /sp/ links were canonicalised to /jc/ before fetching: no duplicate fetch.
    assert not any(r["path"].startswith("/sp/") for r in crawl.requests)
    assert crawl.stats["newsarchive/candidates/duplicate"] > 0
    # The listing's dead link was fetched once, answered 404, counted, and produced no item.
    missing = [r for r in crawl.requests if "k=2025031099999" in r["path"]]
    assert [r["status"] for r in missing] == [404]
    assert crawl.stats["newsarchive/errors/http_404"] == 1
    assert not any("2025031099999" in item.url for item in crawl.items)
    articles = truth(sim, "jiji")
    sjis = [item for item in crawl.items if articles[item.url].charset == "shift_jis"]
    assert sjis
    for item in sjis:
        assert item.encoding == "cp932"
        assert all(ch in item.text for ch in "①㈱～")


@pytest.mark.parametrize("outlet", ["jiji", "asahi"])
@pytest_twisted.inlineCallbacks
def test_max_articles_keeps_the_newest(sim, outlet):
    crawl = yield run_crawl(sim, OUTLETS[outlet], since=SINCE, until=UNTIL, max_articles=5)
    in_window = [a for a in truth(sim, outlet).values() if a.in_window]
    newest = sorted(in_window, key=lambda a: a.published, reverse=True)[:5]
    assert sorted(item.url for item in crawl.items) == sorted(a.url for a in newest)
    assert len(article_paths(outlet, crawl.requests)) == 5
    assert crawl.stats["newsarchive/candidates/scheduled"] == 5
    # 43 more in the window (jiji: 44, its listing's dead link is dated inside the window too).
    assert crawl.stats["newsarchive/pruned/max_articles"] >= 43


def mobile_link_spider(base: type[NewsSpider]) -> type[NewsSpider]:
    """The outlet's spider fetching one article through its mobile URL, as a link found elsewhere would be."""

    class MobileLink(base):  # type: ignore[valid-type,misc]
        async def start(self) -> AsyncIterator[Request]:
            url = self.settings.get("TEST_MOBILE_URL")
            yield self.article_request(Candidate(url=url, outlet=self.name, source="seed"))

    return MobileLink


@pytest.mark.parametrize("outlet", ["jiji", "asahi"])
@pytest_twisted.inlineCallbacks
def test_mobile_redirect_to_real_origin_is_mapped(sim, outlet):
    article = next(a for a in sim.articles if a.outlet == outlet and a.in_window)
    mobile_path = article.path.replace("/jc/", "/sp/") if outlet == "jiji" else "/sp" + article.path
    result = Crawl()
    runner = CrawlerRunner({**crawl_settings(sim), "TEST_MOBILE_URL": OUTLETS[outlet].origin + mobile_path})
    crawler = runner.create_crawler(mobile_link_spider(OUTLETS[outlet]))
    crawler.signals.connect(result.collect, signal=signals.item_scraped)
    before = len(sim.requests)
    yield runner.crawl(crawler)
    log = [(r["path"], r["status"]) for r in sim.requests[before:] if r["outlet"] == outlet]
    # The 301's Location is on the real origin; the override mapped it back to the simulator.
    assert (mobile_path, 301) in log and (article.path, 200) in log
    (item,) = result.items
    assert item.url == article.url
    assert item.fetched_url == sim.base_urls[outlet] + article.path
    assert crawler.stats.get_value("newsarchive/base_url/rewritten") == 2
