"""Shared by the extraction tests: the real saved pages, FetchedPage objects built from bytes, and a stub
crawler to drive pipelines on the asyncio reactor without a crawl."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from scrapy.settings import Settings
from twisted.internet.defer import Deferred
from w3lib.encoding import html_to_unicode

from core.items import Article, Candidate, FetchedPage, PageFields, WarcPointer
from pipelines.article_extraction import extract_article

FIXTURES = Path(__file__).parent / "fixtures" / "outlets"  # the real saved pages, one copy each
JIJI = FIXTURES / "jiji" / "jiji_article_2022101700794_pol.html"
JIJI_URL = "https://www.jiji.com/jc/article?k=2022101700794&g=pol"
ASAHI = FIXTURES / "asahi" / "AsahiShimbun_2025_01_13.html"
ASAHI_URL = "https://www.asahi.com/articles/AST1F4445T1FUTIL02SM.html"

WARC = WarcPointer(
    filename="test-00000.warc.gz",
    path="warc/test-00000.warc.gz",
    offset=1234,
    length=5678,
    record_id="<urn:uuid:00000000-0000-0000-0000-000000000001>",
    payload_digest="sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    target_uri=JIJI_URL,
    date="2025-01-01T00:00:00Z",
)


def make_page(
    body: bytes,
    url: str,
    *,
    content_type: str = "text/html; charset=UTF-8",
    parser: Any = None,
    warc: WarcPointer | None = WARC,
) -> FetchedPage:
    # Decode exactly as Scrapy's TextResponse does (w3lib, header first, then <meta>, then BOM/guess).
    encoding, text = html_to_unicode(content_type, body)
    return FetchedPage(
        url=url,
        fetched_url=url,
        outlet="test",
        status=200,
        headers={"content-type": [content_type]},
        body=body,
        encoding=encoding,
        text=text,
        candidate=Candidate(url=url, outlet="test", source="feed"),
        warc=warc,
        parser=parser,
        fetched_at="2025-01-14T00:00:00+00:00",
    )


def timed_extract(page: FetchedPage) -> tuple[Article, float]:
    start = time.perf_counter()
    article = extract_article(page, run_id="run-1")
    return article, time.perf_counter() - start


def broken_page_object(html: str, url: str) -> PageFields:
    raise IndexError("selector found nothing")


class StubStats:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str, count: int = 1, start: int = 0) -> None:
        self.values[key] = self.values.get(key, start) + count


def stub_crawler(settings: dict[str, Any] | None = None, spider: Any = None) -> Any:
    base = {"NEWSARCHIVE_RUN_ID": "run-42"}
    return SimpleNamespace(settings=Settings({**base, **(settings or {})}), stats=StubStats(), spider=spider)


def run(coro: Any) -> Deferred[Any]:
    return Deferred.fromFuture(asyncio.ensure_future(coro))
