"""Politeness to spec: robots.txt `Crawl-delay` spaces every request to the host, `Retry-After` on 429 and
503 (seconds and HTTP-date) delays the retry at least as long as asked, and a rate-limit answer that never
ends is a failed URL (`http_429`), never an article row; a pause longer than RETRY_AFTER_MAX fails the
URL as `rate_limited` without waiting.

One real `newsarchive crawl` of the hostile site (tests/hostile_crawl.py); the site stamps every request
with its arrival time, which is what the assertions read. The middleware and the extension are also
checked on their own, for what a single-host crawl cannot show quickly (a one-hour Retry-After).
"""

from __future__ import annotations

import gzip
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from scrapy import Request
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from archive.verify import verify_archive
from crawler.crawl_delay import CrawlDelay, slot_floor
from crawler.retry_after import RateLimited, RetryAfterMiddleware, parse_retry_after
from spiders.jiji import JijiSpider
from tests.hostile_crawl import CrawlRun, run_crawl
from tests.hostile_site import ORIGIN, HostileSite, Route, article_html, static, urlset, write_outlet_file

ARTICLES = ["/a/ok", "/a/retry-seconds", "/a/retry-date", "/a/always-429"]
# The server's clock sees each request a few milliseconds after the crawler sent it, and connection set-up
# varies: a gap measured on arrival may come out that much shorter than the gap the crawler kept.
ARRIVAL_SLACK = 0.05


@dataclass
class Stamp:
    path: str
    monotonic: float
    wall: float


class Clocked:
    """Routes that stamp each request's arrival, and answer differently on the first call."""

    def __init__(self) -> None:
        self.stamps: list[Stamp] = []
        self.answered: dict[str, list[float]] = {}  # path -> monotonic time each rate-limit answer left
        self.dates: dict[str, float] = {}  # path -> the Unix time its HTTP-date Retry-After named

    def stamped(self, path: str, route: Route) -> Route:
        def wrapped(handler: BaseHTTPRequestHandler) -> None:
            self.stamps.append(Stamp(path, time.monotonic(), time.time()))
            route(handler)

        return wrapped

    def limited_then(self, path: str, status: int, retry_after: Any, times: int | None = 1) -> Route:
        """`status` with Retry-After (a callable gives the header per call) `times` times, then the article."""
        page = static(article_html(f"記事{path}"))

        def route(handler: BaseHTTPRequestHandler) -> None:
            sent = self.answered.setdefault(path, [])
            if times is not None and len(sent) >= times:
                page(handler)
                return
            value = retry_after() if callable(retry_after) else retry_after
            headers = [("Content-Type", "text/html; charset=utf-8"), ("Retry-After", value)]
            static(b"<html><body>Too many requests</body></html>", status, headers)(handler)
            sent.append(time.monotonic())

        return self.stamped(path, route)

    def http_date_two_seconds_ahead(self) -> str:
        # An HTTP-date has whole seconds: two seconds from now, truncated, is 1 to 2 s ahead.
        when = int(time.time()) + 2
        self.dates["/a/retry-date"] = when
        return formatdate(when, usegmt=True)

    def arrivals(self, path: str) -> list[Stamp]:
        return [s for s in self.stamps if s.path == path]


@dataclass
class Outcome:
    run: CrawlRun
    root: Path
    clock: Clocked


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    import os

    tmp = tmp_path_factory.mktemp("polite")
    clock = Clocked()
    routes = {
        "/robots.txt": clock.stamped(
            "/robots.txt",
            static(b"User-agent: *\nAllow: /\nCrawl-delay: 1\n", headers=[("Content-Type", "text/plain")]),
        ),
        "/sitemap.xml": clock.stamped(
            "/sitemap.xml", static(urlset(ARTICLES), headers=[("Content-Type", "application/xml")])
        ),
        "/a/ok": clock.stamped("/a/ok", static(article_html("無事"))),
        "/a/retry-seconds": clock.limited_then("/a/retry-seconds", 429, "1"),
        "/a/retry-date": clock.limited_then("/a/retry-date", 503, clock.http_date_two_seconds_ahead),
        "/a/always-429": clock.limited_then("/a/always-429", 429, "1", times=None),
    }
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent / "netguard"), env.get("PYTHONPATH", "")])
    env["NEWSARCHIVE_CONTACT"] = "tests@localhost"
    root = tmp / "archive"
    with HostileSite(routes) as site:
        args = ["crawl", "hostile", "--outlet-file", str(write_outlet_file(tmp))]
        args += ["--base-url", f"hostile={site.origin}", "--archive", str(root), "--archive-all"]
        run = run_crawl(args, env, tmp, settings={"RETRY_TIMES": 1}, timeout=90)
    yield Outcome(run, root, clock)


def ledger(root: Path) -> dict[str, tuple[str, str]]:
    rows = {}
    for path in root.glob("runs/*/urls-hostile.jsonl.gz"):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            row = json.loads(line)
            rows[row["url"].removeprefix(ORIGIN)] = (row["state"], row["reason"])
    return rows


def article_urls(root: Path) -> set[str]:
    urls = set()
    for path in root.rglob("*.jsonl.gz"):
        if "runs" not in path.parts:
            urls |= {json.loads(line)["url"] for line in gzip.decompress(path.read_bytes()).splitlines()}
    return urls


@pytest.mark.e2e
def test_polite_crawl_completes_and_accounts_for_every_url(outcome: Outcome) -> None:
    run = outcome.run
    assert run.code == 0, run.stderr[-3000:]
    assert run.peak_rss_mb < 400 and run.seconds < 60
    assert "Traceback" not in run.stderr
    assert verify_archive(outcome.root).ok
    assert ledger(outcome.root) == {
        "/a/ok": ("archived", ""),
        "/a/retry-seconds": ("archived", ""),
        "/a/retry-date": ("archived", ""),
        "/a/always-429": ("failed", "http_429"),
    }
    # A rate-limit answer is never an article row, however many times it came.
    assert article_urls(outcome.root) == {f"{ORIGIN}{p}" for p in ARTICLES[:3]}


@pytest.mark.e2e
def test_crawl_delay_spaces_every_request_to_the_host(outcome: Outcome) -> None:
    times = sorted(s.monotonic for s in outcome.clock.stamps)
    assert len(times) >= 8  # robots, sitemap, 4 articles, 3 retries (RETRY_TIMES 1)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1.0 - ARRIVAL_SLACK, gaps


@pytest.mark.e2e
def test_retry_after_seconds_and_http_date_are_waited_for(outcome: Outcome) -> None:
    clock = outcome.clock
    (limited,) = clock.answered["/a/retry-seconds"]
    _, retry = clock.arrivals("/a/retry-seconds")
    assert retry.monotonic >= limited + 1.0
    # The HTTP-date form: the retry arrives no earlier than the date the server named.
    _, retry = clock.arrivals("/a/retry-date")
    assert retry.wall >= clock.dates["/a/retry-date"]
    # Retried RETRY_TIMES (1) times, each after its Retry-After, then failed as http_429.
    answers = clock.answered["/a/always-429"]
    assert len(answers) == 2 and answers[1] >= answers[0] + 1.0


# ------------------------------------------------------------------------------- the parts on their own


def test_parse_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now) == pytest.approx(30.0)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now) == 0.0  # in the past: no wait
    for junk in ("", "soon", "-5", "1.5", "Mon, 99 Foo 2024 00:00:00 GMT"):
        assert parse_retry_after(junk, now) is None, junk


def _middleware(**settings: Any) -> tuple[RetryAfterMiddleware, Any]:
    crawler = get_crawler(JijiSpider, settings_dict={"RETRY_AFTER_MAX": 600, **settings})
    crawler.stats.open_spider()
    crawler.engine = type("Engine", (), {})()
    crawler.engine.downloader = type("Downloader", (), {"get_slot_key": lambda self, r: "www.jiji.com"})()
    return RetryAfterMiddleware.from_crawler(crawler), crawler


@pytest_twisted.ensureDeferred
async def test_a_pause_longer_than_the_cap_fails_the_host_urls_as_rate_limited() -> None:
    mw, crawler = _middleware()
    request = Request("https://www.jiji.com/jc/article?k=1")
    answer = Response(request.url, status=429, headers={"Retry-After": "3600"}, request=request)
    with pytest.raises(RateLimited):
        mw.process_response(request, answer)
    # Every other URL of the host fails at once, unsent, until the hour is over.
    with pytest.raises(RateLimited):
        await mw.process_request(Request("https://www.jiji.com/jc/article?k=2"))
    ok = Response(request.url, status=200, headers={"Retry-After": "3600"}, request=request)
    assert mw.process_response(request, ok) is ok  # only 429 and 503 mean "rate limited"
    assert crawler.stats.get_value("newsarchive/retry_after/rate_limited") == 2


def test_the_crawl_delay_floor_keeps_jitter_above_it() -> None:
    delay, jitter = slot_floor(1.0, 0.5)
    assert delay * (1 - jitter) == pytest.approx(1.0)
    assert delay * (1 + jitter) == pytest.approx(2.0)
    assert slot_floor(2.0, 0.0) == (2.0, 0.0)


def test_the_crawl_delay_of_each_host_is_known_to_the_shared_gate() -> None:
    """What crawler.redis_politeness asks in a distributed crawl: the Crawl-delay applied to a host."""
    crawler = get_crawler(JijiSpider, {"ROBOTSTXT_OBEY": True, "DOWNLOAD_DELAY": 1.0})
    crawler.engine = type("Engine", (), {})()
    slot_key = staticmethod(lambda r: r.url.split("/")[2])
    crawler.engine.downloader = type(
        "Downloader", (), {"DOWNLOAD_SLOT": "download_slot", "slots": {}, "get_slot_key": slot_key}
    )()
    ext = CrawlDelay.from_crawler(crawler)
    assert ext.delay_for(Request("https://www.jiji.com/a")) == 0.0  # robots.txt not read yet
    for host, rules in (("www.jiji.com", b"Crawl-delay: 3"), ("www.asahi.com", b"Crawl-delay: 0.2")):
        robots = Request(f"https://{host}/robots.txt", meta={"dont_obey_robotstxt": True})
        body = b"User-agent: *\n" + rules + b"\nDisallow: /private\n"
        ext.response_received(Response(robots.url, body=body, request=robots), robots)
    assert ext.delay_for(Request("https://www.jiji.com/jc/article?k=1")) == 3.0
    assert ext.delay_for(Request("https://www.asahi.com/a")) == 1.0  # never below DOWNLOAD_DELAY
    assert ext.delay_for(Request("https://www.mainichi.jp/a")) == 0.0  # no robots.txt delay
