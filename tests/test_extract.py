"""Extraction: real jiji/asahi pages on the generic path, page objects winning, dates, charset, pipeline."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_twisted
from scrapy.exceptions import DropItem
from scrapy.settings import Settings
from twisted.internet.defer import Deferred
from w3lib.encoding import html_to_unicode

import pipelines.article_extraction as article_extraction_module
import pipelines.extract as extract_module
from core.config import ConfigError
from core.items import Article, Candidate, FetchedPage, Image, PageFields, WarcPointer
from pipelines.article_extraction import ExtractionError, extract_article, strip_site_suffix
from pipelines.dates import JST
from pipelines.extract import ExtractPipeline
from pipelines.textnorm import text_hash

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


# --- generic path on real pages ---------------------------------------------------------------------


def test_jiji_generic_path() -> None:
    article, elapsed = timed_extract(make_page(JIJI.read_bytes(), JIJI_URL))
    assert article.title == "日豪、新安保共同宣言へ\u3000中国視野に連携強化"
    assert article.published_at == "2022-10-17T19:09:00+09:00"
    assert article.extraction["text"] == "trafilatura"
    assert article.extraction["published_at"] == "jsonld"
    assert "trafilatura=" in article.extraction["versions"]
    text = article.text
    assert text.startswith("日本、オーストラリア両政府は今月下旬に豪州で予定する日豪首脳会談に合わせ")
    assert "岸田文雄首相は同日の自民党役員会で、首脳会談を２２日に行うと説明。" in text
    assert "南太平洋のソロモン諸島と安保協定を結ぶなど、海洋進出の動きを強めている。" in text
    # <br>-separated paragraphs become separate paragraphs, without the \u3000 indentation.
    assert "\n\n首相は豪州西部の都市パースでアルバニージー首相との会談に臨む。" in text
    assert text.count("\n\n") == 3
    for boilerplate in (
        "新着記事",
        "朝刊・夕刊の見出し",
        "(10/17 18:58)",
        "2022年10月17日19時09分",
        "中国視野に連携強化",
    ):
        assert boilerplate not in text
    assert article.section == "政治"
    assert article.language == "ja"
    assert article.charset == {
        "declared_http": "utf-8",
        "declared_meta": "utf-8",
        "used": "utf-8",
        "replacement_chars": 0,
    }
    assert article.text_hash == text_hash(text) and article.text_hash.startswith("sha256:")
    assert article.warc is WARC and article.run_id == "run-1" and article.topics == []
    assert article.discovered_via == "feed"
    assert elapsed < 3.0, f"jiji took {elapsed:.2f}s"


def test_asahi_generic_path() -> None:
    article, elapsed = timed_extract(make_page(ASAHI.read_bytes(), ASAHI_URL))
    assert article.title == "宮崎県で震度5弱、高知と宮崎に1メートルの津波注意報\u3000気象庁"
    assert article.published_at == "2025-01-13T21:37:00+09:00"
    assert article.modified_at == "2025-01-13T22:11:48+09:00"
    assert article.authors == ["渡辺洋介"]
    text = article.text
    assert text.startswith(
        "気象庁は13日、午後9時19分ごろ、日向灘（北緯31.8度、東経131.6度）で震度5弱の地震があった"
    )
    assert "気象庁は高知県と宮崎県に1メートルの津波注意報を出した。" in text
    assert "熊本県：阿蘇市、産山村、高森町" in text
    # The paywall prompt shown on every asahi page, rankings, related headlines, share buttons.
    for boilerplate in (
        "有料会員になると",
        "初トクキャンペーン",
        "アクセスランキング",
        "注目の連載記事",
        "ウクライナ軍捕虜の北朝鮮兵",
        "メールでシェアする",
        "[PR]",
        "googletag",
    ):
        assert boilerplate not in text
    assert article.language == "ja"
    assert elapsed < 3.0, f"asahi took {elapsed:.2f}s"


def test_title_site_suffix_is_stripped() -> None:
    assert strip_site_suffix(
        "日豪、新安保共同宣言へ　中国視野に連携強化：時事ドットコム", ["時事ドットコム"]
    ) == ("日豪、新安保共同宣言へ　中国視野に連携強化")
    assert strip_site_suffix("見出し [宮崎県]：朝日新聞デジタル", ["朝日新聞デジタル"]) == "見出し"
    assert strip_site_suffix("停戦「最も合意に近い」 - 毎日新聞", ["毎日新聞"]) == "停戦「最も合意に近い」"
    assert strip_site_suffix("見出しだけ", ["毎日新聞"]) == "見出しだけ"


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


def broken_page_object(html: str, url: str) -> PageFields:
    raise IndexError("selector found nothing")


def test_broken_page_object_falls_back_to_generic_path() -> None:
    article = extract_article(make_page(JIJI.read_bytes(), JIJI_URL, parser=broken_page_object), run_id="r")
    assert article.extraction["page_error"] == "IndexError: selector found nothing"
    assert article.extraction["text"] == "trafilatura" and "ソロモン諸島と安保協定" in article.text
    assert article.title == "日豪、新安保共同宣言へ\u3000中国視野に連携強化"


# --- dates that exist only as Japanese text -----------------------------------------------------------

JAPANESE_DATE_ONLY = """<!DOCTYPE html>
<html lang="ja"><head><title>地方のニュース</title></head>
<body><nav><a href="/">トップ</a></nav>
<article><h1>市役所で新しい窓口が開設</h1>
<p class="date">2024年5月1日</p>
<p>市は1日、住民の手続きを一つの窓口でまとめて受け付ける総合窓口を市役所本庁舎の1階に開設した。</p>
<p>これまで転入や転出の手続きでは複数の課を回る必要があり、市民から改善を求める声が出ていた。</p>
<p>市長は「待ち時間を減らし、使いやすい市役所にしたい」と話した。</p>
</article></body></html>"""


def test_japanese_text_date_is_fast_and_exact() -> None:
    page = make_page(JAPANESE_DATE_ONLY.encode("utf-8"), "https://example.jp/news/1")
    article, elapsed = timed_extract(page)
    assert article.published_at == "2024-05-01T00:00:00+09:00"
    assert article.extraction["published_at"] == "regex"
    assert "総合窓口を市役所本庁舎の1階に開設した" in article.text
    assert "2024年5月1日" not in article.text
    # htmldate's extensive search would send this page into dateparser (~5 s on the first call).
    assert elapsed < 2.0, f"took {elapsed:.2f}s: is extensive date search on?"


def test_japanese_dateline_with_time() -> None:
    html = JAPANESE_DATE_ONLY.replace("2024年5月1日", "２０２５年３月２１日（金）18時58分")
    article = extract_article(make_page(html.encode("utf-8"), "https://example.jp/news/2"), run_id="r")
    assert article.published_at == "2025-03-21T18:58:00+09:00"


# --- charset truth ------------------------------------------------------------------------------------

CP932_HTML = """<html><head><meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">
<title>①㈱～の記事</title></head><body><article><h1>①㈱～の記事</h1>
<p>株式会社の表記は㈱、丸数字は①、波ダッシュは～と書く。いずれもShift_JISにはなくcp932にある文字だ。</p>
<p>受付時間は9時～17時、会場は①番ゲート。主催は㈱ニュースアーカイブ。詳しくは事務局まで問い合わせること。</p>
</article></body></html>"""


def test_cp932_page_keeps_wave_dash() -> None:
    body = CP932_HTML.encode("cp932")
    with pytest.raises(UnicodeDecodeError):
        body.decode("shift_jis")  # strict Shift_JIS cannot decode ①㈱: the label must be read as cp932
    page = make_page(body, "https://example.jp/sjis", content_type="text/html; charset=Shift_JIS")
    assert page.encoding == "cp932"
    article = extract_article(page, run_id="r")
    assert "\uff5e" in article.text and "\u301c" not in article.text
    assert "①" in article.text and "㈱" in article.text
    assert article.charset == {
        "declared_http": "cp932",
        "declared_meta": "cp932",
        "used": "cp932",
        "replacement_chars": 0,
    }


def test_wrong_declared_charset_is_visible() -> None:
    body = CP932_HTML.replace("Shift_JIS", "utf-8").encode("cp932")
    page = make_page(body, "https://example.jp/liar", content_type="text/html; charset=utf-8")
    article = extract_article(page, run_id="r")
    assert article.charset["used"] == "utf-8"
    assert article.charset["replacement_chars"] > 0


def test_no_warc_pointer_is_an_error() -> None:
    with pytest.raises(ExtractionError, match="no WARC record"):
        extract_article(make_page(JIJI.read_bytes(), JIJI_URL, warc=None), run_id="r")


# --- the Scrapy pipeline, driven on the asyncio reactor without a crawl --------------------------------


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
