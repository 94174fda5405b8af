"""Where the extraction pipeline runs a page (pipelines.extract): the page object on the reactor thread
for a page up to EXTRACT_INLINE_MAX_BYTES, everything slow (trafilatura, loading the language model,
a page object that turned slow, a big page) in a thread under EXTRACT_TIMEOUT."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any

import pytest
import pytest_twisted

import pipelines.article_extraction as article_extraction_module
import pipelines.extract as extract_module
from core.config import ConfigError
from core.items import Article, FetchedPage, PageFields
from pipelines.article_extraction import SlowStepNeeded, extract_article
from pipelines.extract import INLINE_SLOW_SECONDS, ExtractPipeline
from spiders.pages import jiji
from tests.extraction_helpers import JIJI, JIJI_URL, broken_page_object, make_page, run, stub_crawler


def spy_threads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, bool]]:
    """(ran on the main thread, fast_only) for every extract_article call the pipeline makes."""
    calls: list[tuple[bool, bool]] = []
    real = extract_module.extract_article

    def spy(*args: Any, **kwargs: Any) -> Article:
        calls.append((threading.current_thread() is threading.main_thread(), kwargs.get("fast_only", False)))
        return real(*args, **kwargs)

    monkeypatch.setattr(extract_module, "extract_article", spy)
    return calls


def jiji_page(**changes: Any) -> FetchedPage:
    return dataclasses.replace(make_page(JIJI.read_bytes(), JIJI_URL, parser=jiji.parse), **changes)


def english_page_object(html: str, url: str) -> PageFields:
    return PageFields(
        parser="page:test@2025",
        title="Russia and North Korea sign a defence pact",
        published_at="2022-10-17T19:09:00+09:00",
        body_paragraphs=["The two countries agreed to help each other if either is attacked. " * 3],
        access="free",
    )


@pytest_twisted.ensureDeferred
async def test_a_page_object_runs_on_the_reactor_thread_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = spy_threads(monkeypatch)
    crawler = stub_crawler()
    article = await run(ExtractPipeline.from_crawler(crawler).process_item(jiji_page()))
    assert calls == [(True, True)]
    assert article == extract_article(jiji_page(), run_id="run-42")
    assert article.extraction["text"] == "page:jiji@2022" and article.published_at
    assert crawler.stats.values == {"newsarchive/articles/extracted": 1}


@pytest_twisted.ensureDeferred
async def test_a_page_that_needs_trafilatura_goes_to_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = spy_threads(monkeypatch)
    crawler = stub_crawler()
    page = jiji_page(parser=broken_page_object)
    article = await run(ExtractPipeline.from_crawler(crawler).process_item(page))
    # Tried on the reactor thread, stopped before trafilatura, done again whole in a thread.
    assert calls == [(True, True), (False, False)]
    assert article.extraction["text"] == "trafilatura" and "page_error" in article.extraction
    assert crawler.stats.values == {
        "newsarchive/errors/page_object_failed": 1,
        "newsarchive/articles/extracted": 1,
    }
    with pytest.raises(SlowStepNeeded, match="trafilatura"):
        extract_article(page, run_id="r", fast_only=True)


@pytest_twisted.ensureDeferred
async def test_the_first_use_of_the_language_model_is_not_on_the_reactor_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(article_extraction_module, "_language_model_loaded", False)
    calls = spy_threads(monkeypatch)
    pipeline = ExtractPipeline.from_crawler(stub_crawler())
    first = await run(pipeline.process_item(jiji_page(parser=english_page_object)))
    assert calls == [(True, True), (False, False)]
    assert (first.language, first.extraction["language"]) == ("en", "py3langid")
    # Loaded now: the next English page stays on the reactor thread.
    second = await run(pipeline.process_item(jiji_page(parser=english_page_object)))
    assert calls[2:] == [(True, True)]
    assert second.language == "en"


@pytest_twisted.ensureDeferred
async def test_a_page_over_the_inline_limit_goes_to_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = spy_threads(monkeypatch)
    size = len(JIJI.read_bytes())
    pipeline = ExtractPipeline.from_crawler(stub_crawler({"EXTRACT_INLINE_MAX_BYTES": str(size - 1)}))
    article = await run(pipeline.process_item(jiji_page()))
    assert calls == [(False, False)]
    assert article.extraction["text"] == "page:jiji@2022"
    exact = ExtractPipeline.from_crawler(stub_crawler({"EXTRACT_INLINE_MAX_BYTES": str(size)}))
    await run(exact.process_item(jiji_page()))
    assert calls[1:] == [(True, True)]
    never = ExtractPipeline.from_crawler(stub_crawler({"EXTRACT_INLINE_MAX_BYTES": "0"}))
    await run(never.process_item(jiji_page()))
    assert calls[2:] == [(False, False)]
    with pytest.raises(ConfigError, match="EXTRACT_INLINE_MAX_BYTES"):
        ExtractPipeline.from_crawler(stub_crawler({"EXTRACT_INLINE_MAX_BYTES": "-1"}))


@pytest_twisted.ensureDeferred
async def test_an_outlet_whose_page_object_turns_slow_goes_to_threads(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def slow_jiji(html: str, url: str) -> PageFields:
        time.sleep(INLINE_SLOW_SECONDS + 0.05)
        return jiji.parse(html, url)

    calls = spy_threads(monkeypatch)
    crawler = stub_crawler()
    pipeline = ExtractPipeline.from_crawler(crawler)
    with caplog.at_level(logging.WARNING, logger="pipelines.extract"):
        first = await run(pipeline.process_item(jiji_page(parser=slow_jiji)))
        second = await run(pipeline.process_item(jiji_page(parser=slow_jiji)))
        other = await run(pipeline.process_item(jiji_page(outlet="other")))
    # The slow page itself was finished where it ran; the outlet's next page went to a thread, and
    # another outlet's page object still runs on the reactor thread.
    assert calls == [(True, True), (False, False), (True, True)]
    assert first.title == second.title == other.title != ""
    assert crawler.stats.values["newsarchive/extract/inline_too_slow"] == 1
    warnings = [r.getMessage() for r in caplog.records if "in threads from now on" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith("test:")


@pytest_twisted.ensureDeferred
async def test_worker_processes_get_every_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """EXTRACT_WORKERS chose killable processes for every page: nothing runs on the reactor thread."""
    calls = spy_threads(monkeypatch)
    pipeline = ExtractPipeline.from_crawler(stub_crawler({"EXTRACT_WORKERS": "1", "EXTRACT_TIMEOUT": "60"}))
    pipeline.open_spider()
    try:
        article = await run(pipeline.process_item(jiji_page()))
    finally:
        pipeline.close_spider()
    assert calls == []  # extract_article ran in the worker process, not through this module
    assert article.extraction["text"] == "page:jiji@2022"
