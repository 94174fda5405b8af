"""Extraction with page objects: their fields win, trafilatura fills the rest, a broken one falls back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import pipelines.article_extraction as article_extraction_module
from core.items import Image, PageFields
from pipelines.article_extraction import extract_article
from tests.extraction_helpers import (
    JIJI,
    JIJI_URL,
    WARC,
    broken_page_object,
    make_page,
)

# --- page objects win -------------------------------------------------------------------------------


def fake_jiji_page_object(html: str, url: str) -> PageFields:
    assert "ArticleText" in html and url == JIJI_URL
    return PageFields(
        parser="page:test@2022",
        title="ページオブジェクトの見出し",
        lead="リード文",
        published_at="2022-10-17T19:09:00+09:00",
        authors=["記者一郎"],
        section="政治（ページ）",
        tags=["日豪"],
        body_paragraphs=["\u3000第一段落です。", "第二段落\nです。", ""],
        images=[Image(url="https://www.jiji.com/x.jpg", caption="写真")],
        access="free",
    )


def test_page_object_fields_win_and_skip_trafilatura(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_trafilatura(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("trafilatura must not run when the page object found title and body")

    monkeypatch.setattr(article_extraction_module, "run_trafilatura", no_trafilatura)
    article = extract_article(
        make_page(JIJI.read_bytes(), JIJI_URL, parser=fake_jiji_page_object), run_id="r"
    )
    assert article.title == "ページオブジェクトの見出し"
    assert article.text == "第一段落です。\n\n第二段落 です。"
    assert article.lead == "リード文"
    assert (
        article.authors == ["記者一郎"] and article.section == "政治（ページ）" and article.tags == ["日豪"]
    )
    assert article.images == [Image(url="https://www.jiji.com/x.jpg", caption="写真")]
    assert article.access == "free"
    for field in ("title", "text", "published_at", "authors", "section", "tags", "images", "access"):
        assert article.extraction[field] == "page:test@2022", field
    # What the page object lacks comes from the page's JSON-LD.
    assert article.modified_at == "2022-10-17T19:09:00+09:00"
    assert article.extraction["modified_at"] == "jsonld"


def test_truncated_transfer_marks_body_incomplete() -> None:
    from dataclasses import replace

    page = make_page(JIJI.read_bytes(), JIJI_URL, parser=fake_jiji_page_object)
    assert extract_article(page, run_id="r").body_complete is True
    assert extract_article(replace(page, truncated=True), run_id="r").body_complete is False


def test_partial_page_object_gets_body_from_trafilatura() -> None:
    def title_only(html: str, url: str) -> PageFields:
        return PageFields(parser="page:partial@2025", title="見出しだけ")

    article = extract_article(make_page(JIJI.read_bytes(), JIJI_URL, parser=title_only), run_id="r")
    assert article.title == "見出しだけ"
    assert article.extraction["title"] == "page:partial@2025"
    assert article.extraction["text"] == "trafilatura"
    assert "ソロモン諸島と安保協定" in article.text
    assert article.published_at == "2022-10-17T19:09:00+09:00"
    assert article.extraction["published_at"] == "jsonld"


def test_complete_fields_are_final_and_spare_the_second_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """A field the page object owns stays empty when it found nothing: JSON-LD/og are not read again."""
    page_html = (
        "<html><head><meta property='og:image' content='https://x.example/og.jpg'>"
        '<script type=\'application/ld+json\'>{"@type": "NewsArticle", "author": '
        '{"@type": "Person", "name": "記者二郎"}, "articleSection": "政治", '
        '"dateModified": "2025-01-02T03:04:00+09:00"}</script></head><body></body></html>'
    ).encode()

    def page_object(complete: list[str]) -> Any:
        def parse(html: str, url: str) -> PageFields:
            return PageFields(
                parser="page:owner@2025",
                title="見出し",
                published_at="2025-01-02T00:00:00+09:00",
                body_paragraphs=["本文です。" * 20],
                access="free",
                complete_fields=complete,
            )

        return parse

    owned = ["authors", "images", "modified_at", "section"]
    calls: list[str] = []
    real_parse = article_extraction_module.parse_html
    monkeypatch.setattr(
        article_extraction_module, "parse_html", lambda text: calls.append(text) or real_parse(text)
    )

    article = extract_article(make_page(page_html, JIJI_URL, parser=page_object(owned)), run_id="r")
    assert calls == [], "the page was parsed a second time for fields the page object owns"
    assert (article.authors, article.images, article.section, article.modified_at) == ([], [], "", None)
    assert all(article.extraction[f] == "none" for f in owned)

    # The same page object without the claim: every fallback is looked up (one parse, shared).
    article = extract_article(make_page(page_html, JIJI_URL, parser=page_object([])), run_id="r")
    assert len(calls) == 1
    assert article.authors == ["記者二郎"] and article.extraction["authors"] == "jsonld"
    assert article.images == [Image("https://x.example/og.jpg")]
    assert article.section == "政治" and article.modified_at == "2025-01-02T03:04:00+09:00"


@pytest.mark.parametrize(
    "outlet", ["asahi", "jiji", "mainichi", "nikkei", "yomiuri", "japannews"], ids=lambda o: o
)
def test_real_pages_are_parsed_once(outlet: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the recorded real pages the outlet's page object answers every field extract_article needs."""
    from crawler.parse_page import decode_like_scrapy, fetched_page, outlet_for_url
    from spiders.fixtures import fixture_paths, read_fixture

    root = Path(__file__).parent / "fixtures" / "outlets"
    fixture = next(f for f in map(read_fixture, fixture_paths(root)) if f.outlet == outlet)
    response = decode_like_scrapy(fixture.url, fixture.body, fixture.headers)
    page = fetched_page(outlet_for_url(fixture.url), response, warc=WARC, fetched_at="")
    monkeypatch.setattr(
        article_extraction_module,
        "parse_html",
        lambda text: pytest.fail(f"{outlet}: second parse of the page"),
    )
    monkeypatch.setattr(
        article_extraction_module,
        "run_trafilatura",
        lambda *a, **k: pytest.fail(f"{outlet}: trafilatura ran"),
    )
    article = extract_article(page, run_id="r")
    assert article.extraction["text"].startswith(f"page:{outlet}@") and article.text


def test_broken_page_object_falls_back_to_generic_path() -> None:
    article = extract_article(make_page(JIJI.read_bytes(), JIJI_URL, parser=broken_page_object), run_id="r")
    assert article.extraction["page_error"] == "IndexError: selector found nothing"
    assert article.extraction["text"] == "trafilatura" and "ソロモン諸島と安保協定" in article.text
    assert article.title == "日豪、新安保共同宣言へ\u3000中国視野に連携強化"
