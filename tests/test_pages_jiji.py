"""Jiji page object: golden output on the real 2022 sample, edge cases, and simulator pages."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from w3lib.encoding import html_to_unicode

from crawler.simulator import Simulator
from spiders.pages import jiji
from spiders.pages.common import choose_layout

FIXTURES = Path(__file__).parent / "fixtures" / "outlets" / "jiji"
SAMPLE = FIXTURES / "jiji_article_2022101700794_pol.html"
GOLDEN = FIXTURES / "jiji_article_2022101700794_pol.golden.json"


@pytest.fixture(scope="module")
def sample():
    golden = json.loads(GOLDEN.read_text("utf-8"))
    return jiji.parse(SAMPLE.read_text("utf-8"), golden["url"]), golden


def test_sample_matches_golden(sample):
    fields, golden = sample
    assert asdict(fields) == golden["fields"]


def test_sample_key_fields(sample):
    fields, _ = sample
    assert fields.parser == "page:jiji@2022"
    assert fields.title == "日豪、新安保共同宣言へ　中国視野に連携強化"
    assert fields.published_at == "2022-10-17T19:09:00+09:00"
    assert fields.authors == []  # the agency, not a person
    assert fields.section == "政治"
    assert fields.tags == []  # only generic keywords on this page
    assert len(fields.body_paragraphs) == 4
    assert fields.body_paragraphs[0].startswith("日本、オーストラリア両政府は今月下旬に")
    assert fields.body_paragraphs[-1] == (
        "中国は今年に入り、豪州にとって安全保障上重要な位置にある南太平洋のソロモン諸島と"
        "安保協定を結ぶなど、海洋進出の動きを強めている。"
    )
    assert fields.canonical_url == "https://www.jiji.com/jc/article?k=2022101700794&g=pol"
    assert fields.access == "free" and fields.body_complete


def test_sample_body_has_no_boilerplate(sample):
    fields, _ = sample
    body = "\n".join(fields.body_paragraphs)
    # The inline related-article link (p.ArticleTextTab) and ad asides are not the article.
    assert "岸田首相、今月下旬の訪豪検討" not in body
    assert "googletag" not in body
    # Comments inside politicians' names are dropped, the name kept whole.
    assert "岸田文雄首相は同日の自民党役員会で" in body
    assert not any(p.startswith("\u3000") for p in fields.body_paragraphs)


def test_fallbacks_without_json_ld():
    page = """<html><head><meta name="title" content="見出し：時事ドットコム">
    <meta name="keywords" content="ニュース,時事ドットコム,外交"></head><body>
    <div class="ArticleTitle"><h1>見出し</h1><div class="ArticleData">
    <p class="ArticleTitleData">2025年03月21日18時58分</p></div></div>
    <div class="ArticleText clearfix"><p>\u3000一行目。<br>\u3000二行目。<figure><img src="/a.jpg">
    <figcaption>写真説明</figcaption></figure></p></div></body></html>"""
    fields = jiji.parse(page, "https://www.jiji.com/jc/article?k=2025032100001&g=int")
    assert fields.title == "見出し"
    assert fields.published_at == "2025-03-21T18:58:00+09:00"
    assert fields.published_raw == "2025年03月21日18時58分"
    assert fields.tags == ["外交"]
    assert fields.body_paragraphs == ["一行目。", "二行目。"]
    assert [(i.url, i.caption) for i in fields.images] == [("https://www.jiji.com/a.jpg", "写真説明")]


def test_sample_owns_its_empty_fields(sample):
    """The agency logo (og:image, JSON-LD image) is no picture of the story, the agency no byline:
    empty, and final, so extract_article does not look again."""
    fields, _ = sample
    assert fields.images == [] and fields.authors == []
    assert set(fields.complete_fields) >= {"authors", "images", "modified_at", "section"}


def test_reporter_and_lead_image_from_json_ld():
    page = SAMPLE.read_text("utf-8")
    page = page.replace(
        '"@type": "Organization",\n\t\t"name": "時事通信社",\n\t\t"url": ["/"',
        '"@type": "Person",\n\t\t"name": "時事太郎",\n\t\t"url": ["/"',
        1,
    )
    page = page.replace("/img/jijicom_og_image.png", "/news/photos/story.jpg")
    fields = jiji.parse(page, "https://www.jiji.com/jc/article?k=2022101700794&g=pol")
    assert fields.authors == ["時事太郎"]
    assert [i.url for i in fields.images] == ["https://www.jiji.com/news/photos/story.jpg"]


def test_unknown_layout_claims_no_field():
    fields = jiji.parse("<html><body><p>別の何か</p></body></html>", "https://www.jiji.com/jc/article?k=x")
    assert fields.body_paragraphs == [] and fields.complete_fields == []


def test_layout_dispatch_by_date():
    from datetime import date

    from spiders.pages.common import Layout

    older = Layout(date(2017, 1, 1), "old", jiji.parse_2022)
    newer = Layout(date(2026, 1, 1), "new", jiji.parse_2022)
    assert choose_layout([newer, older], date(2025, 3, 1)).name == "old"
    assert choose_layout([newer, older], date(2026, 2, 1)).name == "new"
    assert choose_layout([newer, older], None).name == "new"
    assert jiji.url_day("https://www.jiji.com/jc/article?k=2025032101243&g=int") == date(2025, 3, 21)


# --------------------------------------------------------------------------- simulator ground truth


def test_simulator_pages_match_ground_truth():
    sim = Simulator()
    articles = [a for a in sim.articles if a.outlet == "jiji"]
    assert len(articles) == 60
    for article in articles:
        status, headers, body = sim.served_bytes("jiji", article.path, accept_encoding="identity")
        assert status == 200
        content_type = next(v for k, v in headers if k.lower() == "content-type")
        encoding, text = html_to_unicode(content_type, body)
        fields = jiji.parse(text, article.url)
        assert fields.title == article.title
        assert fields.published_at == article.published_at
        assert fields.body_paragraphs == list(article.paragraphs)
        assert fields.authors == [] and fields.section == article.section
        assert fields.canonical_url == article.url
        if article.charset == "shift_jis":
            assert encoding == "cp932"
            assert any(ch in "".join(fields.body_paragraphs) for ch in "①㈱～")
    flash = [a for a in articles if len(a.paragraphs) == 1]
    assert flash  # the one-paragraph flash item parses too
