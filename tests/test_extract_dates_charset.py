"""Extraction of dates that exist only as Japanese text, and the truth about charsets."""

from __future__ import annotations

import pytest

from pipelines.article_extraction import ExtractionError, extract_article
from tests.extraction_helpers import (
    JIJI,
    JIJI_URL,
    make_page,
    timed_extract,
)

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
    # The lie stays visible (declared utf-8, used cp932), but no longer costs the text (issue #13).
    assert page.encoding == "utf-8" and "\ufffd" in page.text
    assert article.charset["declared_http"] == article.charset["declared_meta"] == "utf-8"
    assert article.charset["used"] == "cp932"
    assert article.charset["replacement_chars"] == 0
    assert "①㈱～の記事" in article.title and "\ufffd" not in article.text


def test_no_warc_pointer_is_an_error() -> None:
    with pytest.raises(ExtractionError, match="no WARC record"):
        extract_article(make_page(JIJI.read_bytes(), JIJI_URL, warc=None), run_id="r")
