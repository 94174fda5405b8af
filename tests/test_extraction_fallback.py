"""The body cross-check (issue 16): when a page object's body disagrees strongly with trafilatura's,
both lengths and the choice are recorded in Article.extraction and counted by the pipeline."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

import pipelines.article_extraction as article_extraction_module
from core.items import PageFields
from pipelines.article_extraction import BODY_FALLBACK_KEY, extract_article
from pipelines.body_crosscheck import compare, contained, suspicion
from pipelines.extract import ExtractPipeline
from tests.extraction_helpers import JIJI, JIJI_URL, make_page, run, stub_crawler

FIRST = (
    "日本、オーストラリア両政府は今月下旬に豪州で予定する日豪首脳会談に合わせ、新たな「安全保障協力に関する"
    "共同宣言」を発表する方向で調整に入った。"
)
LEAD = (
    "日本、オーストラリア両政府は今月下旬に豪州で予定する日豪首脳会談に合わせ、新たな共同宣言を発表する。" * 2
)
# Text that is on no page: what a selector that now matches a box of other articles returns.
STRAY = ["（写真）" + "北朝鮮、日本海へ弾道ミサイル発射。関連記事の見出しが続く。" * 40, "続きを読む"]


def page_object(paragraphs: list[str], lead: str = "") -> Any:
    def parse(html: str, url: str) -> PageFields:
        return PageFields(
            parser="page:test@2022",
            title="日豪、新安保共同宣言へ",
            lead=lead,
            published_at="2022-10-17T19:09:00+09:00",
            body_paragraphs=paragraphs,
            access="free",
        )

    return parse


def test_a_plausible_body_raises_no_suspicion() -> None:
    assert suspicion(["第一段落です。", "第二段落です。"], "リード文") == ""
    assert suspicion(["短い"], "") == ""


def test_suspicion_from_the_page_objects_own_answer() -> None:
    assert suspicion(["短い本文。"], LEAD) == "shorter-than-lead"
    assert suspicion(["本文の段落です。" * 10, "続きを読む"], "") == "notice-in-body"


def test_compare_prefers_the_body_contained_in_the_other() -> None:
    article = ["一段落目の本文です。" * 5, "二段落目の本文です。" * 5, "三段落目の本文です。" * 5]
    assert compare(article, article) is None
    assert compare(article[:2], article) is None  # ratio 0.67: no strong disagreement
    # The page object lost paragraphs: its text is confirmed by trafilatura, so it stays (recorded).
    lost = compare(article[:1], article)
    assert lost is not None and (lost.chosen, lost.reason) == ("page", "trafilatura-has-unconfirmed-text")
    assert lost.describe() == "page=50 trafilatura=150 chose=page reason=trafilatura-has-unconfirmed-text"
    # The page object took in a box of other text: trafilatura's body is the confirmed one.
    extra = compare([*article, *STRAY], article)
    assert extra is not None and (extra.chosen, extra.reason) == ("trafilatura", "page-has-unconfirmed-text")
    assert compare(article, []) == compare(article, [""])
    assert compare(article, []) is not None and compare(article, []).chosen == "page"  # type: ignore[union-attr]
    assert compare(["全く別の本文です。" * 40], article).reason == "neither-contained"  # type: ignore[union-attr]


def test_contained_tolerates_other_line_splits() -> None:
    assert contained(["一行目。", "二行目。"], ["一行目。二行目。"])
    assert not contained(["一行目。", "三行目。"], ["一行目。二行目。"])
    assert not contained([], ["一行目。"])


def jiji_body() -> list[str]:
    from spiders.pages import jiji

    return jiji.parse(JIJI.read_text("utf-8"), JIJI_URL).body_paragraphs


def test_stray_text_in_the_page_body_falls_back_to_trafilatura() -> None:
    page = make_page(JIJI.read_bytes(), JIJI_URL, parser=page_object([*jiji_body(), *STRAY]))
    article = extract_article(page, run_id="r")
    assert article.extraction["text"] == "trafilatura"
    record = article.extraction[BODY_FALLBACK_KEY]
    assert record.startswith("page=") and "chose=trafilatura reason=page-has-unconfirmed-text" in record
    assert "ソロモン諸島と安保協定" in article.text and "関連記事の見出し" not in article.text


def test_short_body_is_checked_recorded_and_kept() -> None:
    page = make_page(JIJI.read_bytes(), JIJI_URL, parser=page_object([FIRST[:30]], lead=LEAD))
    article = extract_article(page, run_id="r")
    assert article.text == FIRST[:30] and article.extraction["text"] == "page:test@2022"
    assert article.extraction[BODY_FALLBACK_KEY].endswith(
        "chose=page reason=trafilatura-has-unconfirmed-text"
    )


def test_plausible_page_object_body_never_runs_trafilatura(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_trafilatura(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("trafilatura must not run on a plausible page object body")

    monkeypatch.setattr(article_extraction_module, "run_trafilatura", no_trafilatura)
    page = make_page(JIJI.read_bytes(), JIJI_URL, parser=page_object([FIRST, "二段落目。"], lead=FIRST))
    article = extract_article(page, run_id="r")
    assert BODY_FALLBACK_KEY not in article.extraction


def test_forced_check_on_agreeing_bodies_records_nothing() -> None:
    from spiders.pages import jiji

    page = make_page(JIJI.read_bytes(), JIJI_URL, parser=jiji.parse)
    article = extract_article(page, run_id="r", check_body=True)
    assert BODY_FALLBACK_KEY not in article.extraction
    assert article.extraction["text"] == "page:jiji@2022"


@pytest_twisted.ensureDeferred
async def test_pipeline_counts_body_fallbacks() -> None:
    crawler = stub_crawler()
    pipeline = ExtractPipeline.from_crawler(crawler)
    await run(
        pipeline.process_item(
            make_page(JIJI.read_bytes(), JIJI_URL, parser=page_object([*jiji_body(), *STRAY]))
        )
    )
    await run(
        pipeline.process_item(make_page(JIJI.read_bytes(), JIJI_URL, parser=page_object([FIRST[:30]], LEAD)))
    )
    assert crawler.stats.values == {
        "newsarchive/extract/body_fallback": 2,
        "newsarchive/extract/body_fallback/chose_trafilatura": 1,
        "newsarchive/articles/extracted": 2,
    }
