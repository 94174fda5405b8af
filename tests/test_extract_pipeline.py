"""The extraction pipeline (pipelines.extract), driven on the asyncio reactor without a crawl."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_twisted
from scrapy.exceptions import DropItem

import pipelines.extract as extract_module
from core.config import ConfigError
from core.items import Article
from pipelines.dates import JST
from pipelines.extract import ExtractPipeline
from tests.extraction_helpers import JIJI, JIJI_URL, broken_page_object, make_page, run, stub_crawler

# --- the Scrapy pipeline, driven on the asyncio reactor without a crawl --------------------------------


def test_from_crawler_maps_settings() -> None:
    pipeline = ExtractPipeline.from_crawler(
        stub_crawler({"EXTRACT_MIN_SIZE": "80", "EXTRACT_TIMEOUT": "2.5"})
    )
    assert (pipeline.run_id, pipeline.min_extracted_size, pipeline.timeout) == ("run-42", 80, 2.5)
    defaults = ExtractPipeline.from_crawler(stub_crawler())
    assert (defaults.min_extracted_size, defaults.timeout) == (50, 20.0)
    with pytest.raises(ConfigError, match="EXTRACT_TIMEOUT"):
        ExtractPipeline.from_crawler(stub_crawler({"EXTRACT_TIMEOUT": "0"}))


@pytest_twisted.ensureDeferred
async def test_pipeline_extracts_off_the_reactor_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    real = extract_module.extract_article

    def spy(*args: Any, **kwargs: Any) -> Article:
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(extract_module, "extract_article", spy)
    crawler = stub_crawler()
    pipeline = ExtractPipeline.from_crawler(crawler)
    article = await run(pipeline.process_item(make_page(JIJI.read_bytes(), JIJI_URL)))
    assert isinstance(article, Article) and article.run_id == "run-42"
    assert article.published_at == "2022-10-17T19:09:00+09:00"
    assert threads and threads[0] is not threading.main_thread()
    assert crawler.stats.values == {"newsarchive/articles/extracted": 1}
    other = {"not": "a page"}
    assert await run(pipeline.process_item(other)) is other


@pytest_twisted.ensureDeferred
async def test_pipeline_timeout_drops_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(*args: Any, **kwargs: Any) -> Article:
        time.sleep(1.0)
        raise AssertionError("the result of a timed-out extraction must not be used")

    monkeypatch.setattr(extract_module, "extract_article", slow)
    crawler = stub_crawler({"EXTRACT_TIMEOUT": "0.2"})
    pipeline = ExtractPipeline.from_crawler(crawler)
    start = time.perf_counter()
    with pytest.raises(DropItem, match="timed out"):
        await run(pipeline.process_item(make_page(JIJI.read_bytes(), JIJI_URL)))
    assert time.perf_counter() - start < 0.9
    assert crawler.stats.values == {"newsarchive/errors/extract_timeout": 1}


@pytest_twisted.ensureDeferred
async def test_pipeline_extraction_error_drops_counts_and_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Article:
        raise ValueError("parser exploded")

    monkeypatch.setattr(extract_module, "extract_article", broken)
    crawler = stub_crawler()
    pipeline = ExtractPipeline.from_crawler(crawler)
    with caplog.at_level(logging.WARNING, logger="pipelines.extract"), pytest.raises(DropItem):
        await run(pipeline.process_item(make_page(JIJI.read_bytes(), JIJI_URL)))
    assert crawler.stats.values == {"newsarchive/errors/extract_failed": 1}
    assert any(JIJI_URL in r.getMessage() and "parser exploded" in r.getMessage() for r in caplog.records)


@pytest_twisted.ensureDeferred
async def test_pipeline_counts_broken_page_object_but_keeps_article(caplog: pytest.LogCaptureFixture) -> None:
    crawler = stub_crawler()
    pipeline = ExtractPipeline.from_crawler(crawler)
    with caplog.at_level(logging.WARNING, logger="pipelines.extract"):
        article = await run(
            pipeline.process_item(make_page(JIJI.read_bytes(), JIJI_URL, parser=broken_page_object))
        )
    assert isinstance(article, Article)
    assert crawler.stats.values == {
        "newsarchive/errors/page_object_failed": 1,
        "newsarchive/articles/extracted": 1,
    }
    assert any(
        JIJI_URL in r.getMessage() and "selector found nothing" in r.getMessage() for r in caplog.records
    )


@pytest_twisted.ensureDeferred
async def test_pipeline_without_warc_pointer_drops() -> None:
    crawler = stub_crawler()
    pipeline = ExtractPipeline.from_crawler(crawler)
    with pytest.raises(DropItem, match="no WARC record"):
        await run(pipeline.process_item(make_page(JIJI.read_bytes(), JIJI_URL, warc=None)))
    assert crawler.stats.values == {"newsarchive/errors/extract_no_warc": 1}


@pytest_twisted.ensureDeferred
async def test_pipeline_date_window_backstop() -> None:
    outside = SimpleNamespace(
        since=datetime(2023, 1, 1, tzinfo=JST), until=datetime(2023, 12, 31, tzinfo=JST)
    )
    crawler = stub_crawler(spider=outside)
    pipeline = ExtractPipeline.from_crawler(crawler)
    with pytest.raises(DropItem, match="outside the date window"):
        await run(pipeline.process_item(make_page(JIJI.read_bytes(), JIJI_URL)))
    assert crawler.stats.values == {"newsarchive/pruned/out_of_window_after_fetch": 1}

    # 19:09 JST on the 17th is 10:09 UTC: an aware `since` in UTC just before it keeps the article.
    inside = SimpleNamespace(since=datetime.fromisoformat("2022-10-17T10:00:00+00:00"), until=None)
    crawler = stub_crawler(spider=inside)
    article = await run(
        ExtractPipeline.from_crawler(crawler).process_item(make_page(JIJI.read_bytes(), JIJI_URL))
    )
    assert isinstance(article, Article)
    assert crawler.stats.values == {"newsarchive/articles/extracted": 1}
