"""UrlCapMiddleware on its own: the per-host cap, the per-pattern cap, robots.txt never capped, one log
line per cap however many URLs it refuses (the crawl of a real trap is in tests/test_hostile_bounds.py)."""

from __future__ import annotations

import logging

import pytest
from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.url_caps import UrlCapExceeded, UrlCapMiddleware


def _middleware(**settings: object) -> tuple[UrlCapMiddleware, dict[str, int]]:
    crawler = get_crawler(settings_dict=settings)
    crawler.stats.open_spider()
    return UrlCapMiddleware.from_crawler(crawler), crawler.stats._stats  # type: ignore[attr-defined]


def test_host_cap(caplog: pytest.LogCaptureFixture) -> None:
    mw, stats = _middleware(CRAWL_MAX_REQUESTS_PER_HOST=3)
    for n in range(3):
        mw.process_request(Request(f"http://a.example/{n}"))
    mw.process_request(Request("http://b.example/0"))  # another host has its own budget
    robots = Request("http://a.example/robots.txt", meta={"dont_obey_robotstxt": True})
    mw.process_request(robots)
    with caplog.at_level(logging.WARNING, "crawler.url_caps"):
        for n in range(3, 10):
            with pytest.raises(UrlCapExceeded, match="host_cap"):
                mw.process_request(Request(f"http://a.example/{n}"))
    assert stats["newsarchive/excluded/host_cap"] == 7
    assert len(caplog.records) == 1


def test_path_caps_count_per_pattern() -> None:
    mw, stats = _middleware(
        CRAWL_MAX_REQUESTS_PER_HOST=0, CRAWL_PATH_CAPS={r"/calendar/": 2, r"[?&]page=": 1}
    )
    mw.process_request(Request("http://a.example/calendar/2025/01"))
    mw.process_request(Request("http://a.example/calendar/2025/02"))
    mw.process_request(Request("http://a.example/list?page=2"))
    mw.process_request(Request("http://a.example/article/1"))
    with pytest.raises(UrlCapExceeded, match="path_cap"):
        mw.process_request(Request("http://a.example/calendar/2024/12"))
    with pytest.raises(UrlCapExceeded):
        mw.process_request(Request("http://a.example/list?x=1&page=3"))
    assert stats["newsarchive/excluded/path_cap"] == 2


def test_no_caps_means_not_configured_and_bad_patterns_are_refused() -> None:
    with pytest.raises(NotConfigured):
        _middleware(CRAWL_MAX_REQUESTS_PER_HOST=0)
    with pytest.raises(ValueError, match="CRAWL_PATH_CAPS"):
        _middleware(CRAWL_PATH_CAPS={"(": 1})
