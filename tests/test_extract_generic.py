"""Extraction on the generic path (trafilatura and the page's own metadata), on real jiji/asahi pages."""

from __future__ import annotations

from pipelines.article_extraction import strip_site_suffix
from pipelines.textnorm import text_hash
from tests.extraction_helpers import (
    ASAHI,
    ASAHI_URL,
    JIJI,
    JIJI_URL,
    WARC,
    make_page,
    timed_extract,
)

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
