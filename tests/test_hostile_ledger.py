"""The URL ledger tells refusals apart: a URL the crawl caps refused (crawler/url_caps.py) is `excluded`
with reason `host_cap` or `path_cap` (a decision, like robots.txt), a URL given up on a Retry-After beyond
RETRY_AFTER_MAX is `failed` with reason `rate_limited`, any other refusal stays a failure under its
exception's name. The spider reads the reason by duck typing: spiders never import crawler.

The calendar trap of tests/test_hostile_bounds.py checks the same end to end (295 URLs `path_cap`)."""

from __future__ import annotations

from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.test import get_crawler
from twisted.python.failure import Failure

from core.items import Candidate
from core.url_outcomes import url_event
from crawler.retry_after import RateLimited
from crawler.url_caps import UrlCapExceeded, UrlCapMiddleware
from spiders.jiji import JijiSpider

URL = "https://www.jiji.com/jc/article?k=2025030100001&g=pol"


def _spider() -> tuple[JijiSpider, list[tuple[str, str]], Any]:
    crawler = get_crawler(JijiSpider, settings_dict={"CRAWL_MAX_REQUESTS_PER_HOST": 1, "CRAWL_PATH_CAPS": {}})
    crawler.stats.open_spider()
    spider = JijiSpider.from_crawler(crawler)
    events: list[tuple[str, str]] = []

    def record(**event: Any) -> None:
        events.append((event["state"], event["reason"]))

    crawler.signals.connect(record, signal=url_event, weak=False)
    return spider, events, crawler


def _refused(exc: Exception) -> Failure:
    request = Request(URL, meta={"candidate": Candidate(url=URL, outlet="jiji", source="sitemap")})
    try:
        raise exc
    except Exception:
        failure = Failure()
    failure.request = request  # type: ignore[attr-defined]  # as Scrapy sets it for an errback
    return failure


def _cap_refusal(settings: dict[str, Any], urls: list[str]) -> UrlCapExceeded:
    crawler = get_crawler(settings_dict=settings)
    crawler.stats.open_spider()
    middleware = UrlCapMiddleware.from_crawler(crawler)
    for url in urls[:-1]:
        middleware.process_request(Request(url))
    with pytest.raises(UrlCapExceeded) as refused:
        middleware.process_request(Request(urls[-1]))
    return refused.value


def test_cap_refusals_are_exclusions_with_the_cap_as_reason() -> None:
    host_cap = _cap_refusal({"CRAWL_MAX_REQUESTS_PER_HOST": 1}, [URL, URL + "&x=1"])
    path_cap = _cap_refusal(
        {"CRAWL_MAX_REQUESTS_PER_HOST": 0, "CRAWL_PATH_CAPS": {"/calendar/": 1}},
        ["https://a.example/calendar/1", "https://a.example/calendar/2"],
    )
    assert (host_cap.exclusion_reason, path_cap.exclusion_reason) == ("host_cap", "path_cap")
    spider, events, crawler = _spider()
    for exc in (host_cap, path_cap):
        spider.on_error(_refused(exc))
    assert events == [("excluded", "host_cap"), ("excluded", "path_cap")]
    # Still counted as a refusal of the request's kind, as before.
    assert crawler.stats.get_value("newsarchive/ignored/other") == 2


def test_rate_limited_and_other_refusals_are_failures() -> None:
    spider, events, _ = _spider()
    spider.on_error(_refused(RateLimited("429 with Retry-After 3600 s")))
    spider.on_error(_refused(IgnoreRequest("some other policy")))
    spider.on_error(_refused(IgnoreRequest("Forbidden by robots.txt")))
    assert events == [
        ("failed", "rate_limited"),
        ("failed", "IgnoreRequest"),
        ("excluded", "robots_disallowed"),
    ]
