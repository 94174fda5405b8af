"""Asahi page object: golden output on the real 2025 sample, paywall handling, simulator pages."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from lxml import html as lxml_html
from w3lib.encoding import html_to_unicode

from crawler.simulator import Simulator
from spiders.pages import asahi

FIXTURES = Path(__file__).parent / "fixtures" / "outlets" / "asahi"
SAMPLE = FIXTURES / "AsahiShimbun_2025_01_13.html"
GOLDEN = FIXTURES / "AsahiShimbun_2025_01_13.golden.json"


@pytest.fixture(scope="module")
def sample():
    golden = json.loads(GOLDEN.read_text("utf-8"))
    return asahi.parse(SAMPLE.read_text("utf-8"), golden["url"]), golden


def test_sample_matches_golden(sample):
    fields, golden = sample
    assert asdict(fields) == golden["fields"]


def test_sample_key_fields(sample):
    fields, _ = sample
    assert fields.parser == "page:asahi@2025"
    assert fields.title == "宮崎県で震度5弱、高知と宮崎に1メートルの津波注意報　気象庁"
    assert fields.published_at == "2025-01-13T21:37:00+09:00"
    assert fields.modified_at == "2025-01-13T22:11:48+09:00"
    assert fields.authors == ["渡辺洋介"]
    assert fields.section == "National"  # JSON-LD articleSection
    assert fields.tags == ["社会", "災害・気象", "宮崎県"]
    # Same 11 paragraphs as fundus's expected output for this page.
    assert len(fields.body_paragraphs) == 11
    assert fields.body_paragraphs[0].startswith("気象庁は13日、午後9時19分ごろ、日向灘")
    assert fields.body_paragraphs[-1].startswith("鹿児島県：鹿児島市、霧島市")
    assert fields.canonical_url == "https://www.asahi.com/articles/AST1F4445T1FUTIL02SM.html"
    assert fields.access == "free" and fields.body_complete
    assert [i.url for i in fields.images] == [
        "https://www.asahicom.jp/imgopt/img/4ff96428f2/comm_L/AS20250113003419.jpg"
    ]


def test_sample_body_has_no_boilerplate(sample):
    fields, _ = sample
    body = "\n".join(fields.body_paragraphs)
    for boilerplate in (
        "有料会員になると",
        "[PR]",
        "googletag",
        "この記事を書いた人",
        "津波注意報が出ています",
    ):
        assert boilerplate not in body


PAID = """<html><head><meta name="TITLE" content="有料の記事">
<meta name="pubdate" content="2025-03-20T08:00:00+09:00"></head><body><main id="main">
<div><!-- cxenseparse_start --></div><div class="y_Qv3"><h1>有料の記事</h1>
<time datetime="2025-03-19T23:00:00.000Z">2025年3月20日 8時00分</time></div>
<div class="zzHash"><p>\u3000最初の段落。</p><div class="pw"><p>この記事は有料記事です。残り812文字有料会員になると続きをお読みいただけます。</p></div>
<p id="_gtm_LastLine"></p></div><div><!-- cxenseparse_end --></div>
<div><p>有料会員になると会員限定の<span>有料記事もお読みいただけます。</span></p></div></main></body></html>"""


def test_paid_article_is_paywalled_and_truncated():
    fields = asahi.parse(PAID, "https://www.asahi.com/articles/AST3K0000000000000.html")
    assert fields.access == "paywalled"
    assert fields.body_complete is False
    assert fields.body_paragraphs == ["最初の段落。"]
    assert fields.published_at == "2025-03-20T08:00:00+09:00"


def test_free_cta_alone_is_not_a_paywall():
    free = PAID.replace(
        '<div class="pw"><p>この記事は有料記事です。残り812文字有料会員になると続きをお読みいただけます。</p></div>',
        "<p>二段落目。</p>",
    )
    fields = asahi.parse(free, "https://www.asahi.com/articles/AST3K0000000000000.html")
    assert fields.access == "free" and fields.body_complete
    assert fields.body_paragraphs == ["最初の段落。", "二段落目。"]


def test_utc_time_element_converted_to_jst():
    page = PAID.replace('<meta name="pubdate" content="2025-03-20T08:00:00+09:00">', "")
    fields = asahi.parse(page, "https://www.asahi.com/articles/AST3K0000000000000.html")
    assert fields.published_raw == "2025-03-19T23:00:00.000Z"
    assert fields.published_at == "2025-03-20T08:00:00+09:00"


# --------------------------------------------------------------------------- simulator ground truth


def served_page(sim: Simulator, outlet: str, path: str) -> str:
    status, headers, body = sim.served_bytes(outlet, path, accept_encoding="identity")
    assert status == 200
    content_type = next(v for k, v in headers if k.lower() == "content-type")
    return html_to_unicode(content_type, body)[1]


def test_simulator_pages_match_ground_truth():
    sim = Simulator()
    articles = [a for a in sim.articles if a.outlet == "asahi"]
    assert len(articles) == 60
    for article in articles:
        text = served_page(sim, "asahi", article.path)
        fields = asahi.parse(text, article.url)
        assert fields.title == article.title
        assert fields.published_at == article.published_at
        assert fields.modified_at == article.modified_at
        assert fields.authors == list(article.authors)
        assert fields.section == article.section
        assert fields.canonical_url == article.url
        # Subheads (h2) are kept in the body; the ground truth lists only the paragraphs.
        subheads = {h.text_content().strip() for h in lxml_html.fromstring(text).xpath("//main//h2")}
        assert [p for p in fields.body_paragraphs if p not in subheads] == list(article.served_paragraphs)
        assert (fields.access == "paywalled") is article.paywalled
        assert fields.body_complete is not article.paywalled
        assert not any("有料会員になると" in p for p in fields.body_paragraphs)
