"""robots.txt per RFC 9309 with the project's settings: 200 = its rules, 404 = allow all, 500 or a
timeout = disallow the whole host (Scrapy alone would allow everything on the last two)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest_twisted
import scrapy
from scrapy.crawler import CrawlerRunner
from scrapy.settings import Settings
from twisted.python.failure import Failure

from tests.hostile_site import HostileSite, Streams, endless, static

PLAIN = [("Content-Type", "text/plain")]
PAGE = static(b"<html><body>page</body></html>")


class Probe(scrapy.Spider):
    name = "robots_probe"
    fetched: ClassVar[list[str]] = []
    refused: ClassVar[list[str]] = []

    def __init__(self, start: list[str], **kwargs: Any):
        super().__init__(**kwargs)
        self.start_list = start

    async def start(self) -> Any:
        for url in self.start_list:
            yield scrapy.Request(url, callback=self.ok, errback=self.failed, dont_filter=True)

    def ok(self, response: scrapy.http.Response) -> None:
        self.fetched.append(response.url)

    def failed(self, failure: Failure) -> None:
        self.refused.append(failure.request.url)  # type: ignore[attr-defined]


def _settings(root: Path, allow: list[str]) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(
        {
            "ARCHIVE_ROOT": str(root),
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "DOWNLOAD_TIMEOUT": 1,
            "RETRY_ENABLED": False,
            "LOG_ENABLED": False,
            "SSRF_ALLOW_HOSTS": allow,
        },
        priority="cmdline",
    )
    return settings


@pytest_twisted.inlineCallbacks
def test_robots_status_matrix(tmp_path: Path) -> Iterator[Any]:
    streams = Streams()
    sites = {
        "200": HostileSite({"/robots.txt": static(b"User-agent: *\nDisallow: /private\n", headers=PLAIN)}),
        "404": HostileSite({"/robots.txt": static(b"User-agent: *\nDisallow: /\n", 404, PLAIN)}),
        "500": HostileSite({"/robots.txt": static(b"User-agent: *\nAllow: /\n", 500, PLAIN)}),
        "timeout": HostileSite({"/robots.txt": endless(streams, "/robots.txt", 10_000, delay=0.3, chunk=8)}),
    }
    for site in sites.values():
        site.routes.update({"/page": PAGE, "/private": PAGE})
        site.__enter__()
    Probe.fetched, Probe.refused = [], []
    try:
        runner = CrawlerRunner(
            _settings(tmp_path / "archive", [f"127.0.0.1:{s.port}" for s in sites.values()])
        )
        crawler = runner.create_crawler(Probe)
        start = [f"{s.origin}{p}" for s in sites.values() for p in ("/page", "/private")]
        yield runner.crawl(crawler, start=start)
    finally:
        for site in sites.values():
            site.__exit__()
    fetched = {url for url in Probe.fetched}
    ok, missing, error, slow = (sites[k].origin for k in ("200", "404", "500", "timeout"))
    # 200: its rules apply. 404: its body is not read as rules, everything is allowed.
    assert fetched == {f"{ok}/page", f"{missing}/page", f"{missing}/private"}
    assert f"{ok}/private" in Probe.refused
    # 500 and timeout: the whole host is disallowed, nothing but robots.txt was asked for.
    for origin in (error, slow):
        assert {f"{origin}/page", f"{origin}/private"} <= set(Probe.refused)
    assert sites["500"].paths() == ["/robots.txt"] and sites["timeout"].paths() == ["/robots.txt"]
    stats = crawler.stats.get_stats()
    assert stats["newsarchive/robots/unavailable_disallow_all"] == 2
    assert stats["robotstxt/forbidden"] == 5
