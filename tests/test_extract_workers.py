"""EXTRACT_WORKERS >= 1: extraction in killable worker processes, same results as in-process."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from scrapy.exceptions import DropItem

from core.items import Article, FetchedPage
from pipelines.article_extraction import extract_article
from pipelines.extract import ExtractPipeline
from tests.extract_parsers import die, die_once, report_pid, spin_forever
from tests.extraction_helpers import ASAHI, ASAHI_URL, JIJI, JIJI_URL, WARC, make_page, run, stub_crawler

FIXTURES = Path(__file__).parent / "fixtures" / "outlets"


@pytest.fixture
def pipelines() -> Iterator[list[ExtractPipeline]]:
    """Pipelines made by a test; their worker processes are stopped even when the test fails."""
    made: list[ExtractPipeline] = []
    yield made
    for pipeline in made:
        pipeline.close_spider()


def open_pipeline(made: list[ExtractPipeline], settings: dict[str, Any]) -> tuple[ExtractPipeline, Any]:
    crawler = stub_crawler({"EXTRACT_WORKERS": "1", **settings})
    pipeline = ExtractPipeline.from_crawler(crawler)
    made.append(pipeline)
    pipeline.open_spider()
    return pipeline, crawler


def page_object_page(outlet: str) -> FetchedPage:
    """A recorded real page of `outlet`, as the spider hands it over (with its page object)."""
    from crawler.parse_page import decode_like_scrapy, fetched_page, outlet_for_url
    from spiders.fixtures import fixture_paths, read_fixture

    fixture = next(f for f in map(read_fixture, fixture_paths(FIXTURES)) if f.outlet == outlet)
    response = decode_like_scrapy(fixture.url, fixture.body, fixture.headers)
    return fetched_page(outlet_for_url(fixture.url), response, warc=WARC, fetched_at="")


def test_from_crawler_maps_workers() -> None:
    pipeline = ExtractPipeline.from_crawler(stub_crawler({"EXTRACT_WORKERS": "2"}))
    assert pipeline.workers == 2 and pipeline.pool is not None and pipeline.pool.size == 2
    threads = ExtractPipeline.from_crawler(stub_crawler())
    assert threads.workers == 0 and threads.pool is None
    with pytest.raises(Exception, match="EXTRACT_WORKERS"):
        ExtractPipeline.from_crawler(stub_crawler({"EXTRACT_WORKERS": "-1"}))


@pytest_twisted.ensureDeferred
async def test_runaway_page_is_killed_and_the_next_page_extracts(pipelines: list[ExtractPipeline]) -> None:
    pipeline, crawler = open_pipeline(pipelines, {"EXTRACT_TIMEOUT": "1.5"})
    assert pipeline.pool is not None
    # The first page also waits for the fresh worker to import the extraction stack (not timed).
    first = await run(pipeline.process_item(make_page(b"<p>x</p>", JIJI_URL, parser=report_pid)))
    assert isinstance(first, Article)
    (pid,) = pipeline.pool.pids
    assert pid is not None and first.title == f"pid {pid}" and pid != os.getpid()

    start = time.perf_counter()
    with pytest.raises(DropItem, match="timed out"):
        await run(pipeline.process_item(make_page(JIJI.read_bytes(), JIJI_URL, parser=spin_forever)))
    assert 1.4 < time.perf_counter() - start < 10
    assert crawler.stats.values["newsarchive/errors/extract_timeout"] == 1
    assert pipeline.pool.replaced == 1
    (new_pid,) = pipeline.pool.pids
    assert new_pid != pid
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped, not left spinning

    article = await run(pipeline.process_item(make_page(JIJI.read_bytes(), JIJI_URL)))
    assert article == extract_article(make_page(JIJI.read_bytes(), JIJI_URL), run_id="run-42")
    assert article.title == "日豪、新安保共同宣言へ\u3000中国視野に連携強化"
    assert crawler.stats.values["newsarchive/articles/extracted"] == 2


@pytest_twisted.ensureDeferred
async def test_worker_results_equal_in_process_results(pipelines: list[ExtractPipeline]) -> None:
    pipeline, crawler = open_pipeline(pipelines, {"EXTRACT_TIMEOUT": "60"})
    pages = [
        make_page(JIJI.read_bytes(), JIJI_URL),  # generic path (trafilatura)
        make_page(ASAHI.read_bytes(), ASAHI_URL),
        page_object_page("jiji"),  # the outlets' own page objects, sent to the worker by reference
        page_object_page("asahi"),
    ]
    for page in pages:
        in_process = extract_article(page, run_id="run-42")
        in_worker = await run(pipeline.process_item(page))
        assert isinstance(in_worker, Article)
        assert in_worker == in_process, page.url
    assert pages[2].parser is not None and in_process.extraction["text"].startswith("page:asahi@")
    assert crawler.stats.values == {"newsarchive/articles/extracted": 4}


@pytest_twisted.ensureDeferred
async def test_toml_page_object_falls_back_to_a_thread(pipelines: list[ExtractPipeline]) -> None:
    """The TOML outlets' page objects are closures: pickle cannot send them, a thread extracts them."""
    pipeline, crawler = open_pipeline(pipelines, {"EXTRACT_TIMEOUT": "60"})
    page = page_object_page("mainichi")
    article = await run(pipeline.process_item(page))
    assert article == extract_article(page, run_id="run-42")
    assert article.extraction["text"].startswith("page:mainichi@")
    assert crawler.stats.values == {
        "newsarchive/extract/thread_fallback": 1,
        "newsarchive/articles/extracted": 1,
    }


@pytest_twisted.ensureDeferred
async def test_crashed_worker_is_replaced_and_the_page_retried_once(
    pipelines: list[ExtractPipeline], tmp_path: Path
) -> None:
    pipeline, crawler = open_pipeline(pipelines, {"EXTRACT_TIMEOUT": "60"})
    assert pipeline.pool is not None
    url = f"https://x.example/a?marker={tmp_path / 'died'}"
    article = await run(pipeline.process_item(make_page(b"<p>x</p>", url, parser=die_once)))
    assert (tmp_path / "died").exists(), "the first attempt ran and died"
    assert isinstance(article, Article) and article.title == f"pid {pipeline.pool.pids[0]}"
    assert pipeline.pool.replaced == 1

    with pytest.raises(DropItem, match="died twice"):
        await run(pipeline.process_item(make_page(b"<p>x</p>", "https://x.example/b", parser=die)))
    assert pipeline.pool.replaced == 3
    assert crawler.stats.values == {
        "newsarchive/articles/extracted": 1,
        "newsarchive/errors/extract_failed": 1,
        "newsarchive/errors/extract_worker_crashed": 1,
    }
    # And the pool still works after all that.
    assert isinstance(await run(pipeline.process_item(make_page(JIJI.read_bytes(), JIJI_URL))), Article)


@pytest_twisted.ensureDeferred
async def test_worker_errors_are_counted_like_in_process_ones(pipelines: list[ExtractPipeline]) -> None:
    pipeline, crawler = open_pipeline(pipelines, {"EXTRACT_TIMEOUT": "60"})
    with pytest.raises(DropItem, match="no WARC record"):
        await run(pipeline.process_item(make_page(JIJI.read_bytes(), JIJI_URL, warc=None)))
    assert crawler.stats.values == {"newsarchive/errors/extract_no_warc": 1}


def test_close_spider_stops_the_workers(pipelines: list[ExtractPipeline]) -> None:
    pipeline, _crawler = open_pipeline(pipelines, {})
    assert pipeline.pool is not None
    processes = [w.process for w in pipeline.pool._workers]
    assert processes and all(p.is_alive() for p in processes)
    pipeline.close_spider()
    assert not any(p.is_alive() for p in processes) and pipeline.pool.pids == []
