"""Dates: ISO 8601 in +09:00 from any offset, Japanese datelines, and the order of the fallbacks."""

from __future__ import annotations

from datetime import datetime

import pytest

from pipelines.dates import JST, find_japanese_date, is_dateline, resolve_published, to_jst_iso
from pipelines.htmlmeta import HeadMeta, parse_html, read_head_meta


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2022-10-17T19:09:00+09:00", "2022-10-17T19:09:00+09:00"),
        ("2025-01-13T12:37:00.000Z", "2025-01-13T21:37:00+09:00"),
        ("2025-01-13T12:37:00+00:00", "2025-01-13T21:37:00+09:00"),
        ("2025-01-13 21:37", "2025-01-13T21:37:00+09:00"),  # naive = Japan time
        ("2024-05-01", "2024-05-01T00:00:00+09:00"),
        ("2024年5月1日", "2024-05-01T00:00:00+09:00"),
        ("", None),
        ("not a date", None),
    ],
)
def test_to_jst_iso(raw: str, expected: str | None) -> None:
    assert to_jst_iso(raw) == expected


@pytest.mark.parametrize(
    ("text", "expected", "has_time"),
    [
        ("配信 2025年3月21日18時58分", datetime(2025, 3, 21, 18, 58, tzinfo=JST), True),
        ("2025年03月21日", datetime(2025, 3, 21, tzinfo=JST), False),
        ("２０２５年３月２１日（金）午後９時１９分", datetime(2025, 3, 21, 21, 19, tzinfo=JST), True),
        ("2025年1月13日 21:37 更新", datetime(2025, 1, 13, 21, 37, tzinfo=JST), True),
        ("2025年1月13日 21時", datetime(2025, 1, 13, 21, 0, tzinfo=JST), True),
        ("締め切りは2025年2月30日、公開は2025年3月1日", datetime(2025, 3, 1, tzinfo=JST), False),
    ],
)
def test_find_japanese_date(text: str, expected: datetime, has_time: bool) -> None:
    assert find_japanese_date(text) == (expected, has_time)


def test_find_japanese_date_none() -> None:
    assert find_japanese_date("今年5月1日に開かれた") is None  # no year: not a dateline
    assert find_japanese_date("") is None


def test_is_dateline() -> None:
    assert is_dateline("2022年10月17日19時09分")
    assert is_dateline("更新：2025年1月13日 21時37分")
    assert not is_dateline("2022年10月17日、首相は豪州を訪れた。")
    assert not is_dateline("普通の段落")


def _never() -> str:
    raise AssertionError("a later fallback ran although an earlier one answered")


def test_fallback_order() -> None:
    meta = HeadMeta(
        jsonld_published="2025-01-13T21:37:00+09:00",
        meta_pubdate="2025-01-12T10:00:00+09:00",
        og_published="2025-01-11T10:00:00+09:00",
    )
    assert resolve_published("2025-01-14T08:00:00+09:00", meta, _never, _never) == (
        "2025-01-14T08:00:00+09:00",
        "page",
    )
    assert resolve_published(None, meta, _never, _never) == ("2025-01-13T21:37:00+09:00", "jsonld")
    meta.jsonld_published = "garbage"
    assert resolve_published(None, meta, _never, _never) == ("2025-01-12T10:00:00+09:00", "meta:pubdate")
    meta.meta_pubdate = ""
    assert resolve_published(None, meta, _never, _never)[1] == "meta:article:published_time"
    empty = HeadMeta()
    # htmldate knows only the day; a dateline on the same day adds the time, another day does not win.
    assert resolve_published(None, empty, lambda: "2025-03-21", lambda: "2025年3月21日18時58分") == (
        "2025-03-21T18:58:00+09:00",
        "regex",
    )
    assert resolve_published(None, empty, lambda: "2025-03-21", lambda: "2020年1月1日") == (
        "2025-03-21T00:00:00+09:00",
        "trafilatura",
    )
    assert resolve_published(None, empty, lambda: None, lambda: "2024年5月1日") == (
        "2024-05-01T00:00:00+09:00",
        "regex",
    )
    assert resolve_published(None, empty, lambda: None, lambda: "日付なし") == (None, "none")


def test_head_meta_reads_jsonld_graph_meta_and_time() -> None:
    tree = parse_html(
        """<html lang="ja"><head>
        <script type="application/ld+json">{"@graph": [{"@type": "WebPage"},
          {"@type": ["NewsArticle"], "headline": "見出し", "datePublished": "2024-06-19T10:00:00+09:00",
           "author": [{"@type": "Person", "name": "記者 一郎"}, {"@type": "Organization", "name": "新聞社"}],
           "articleSection": ["国際"], "isAccessibleForFree": "False"}]}</script>
        <script type="application/ld+json">{not json</script>
        <meta name="PubDate" content="2024-06-19T09:00:00+09:00">
        <meta property="article:modified_time" content="2024-06-20T09:00:00+09:00">
        </head><body><time datetime="2024-06-19T01:00:00Z">6月19日</time></body></html>"""
    )
    assert tree is not None
    meta = read_head_meta(tree)
    assert meta.headline == "見出し"
    assert meta.jsonld_published == "2024-06-19T10:00:00+09:00"
    assert meta.authors == ["記者 一郎"]
    assert meta.section == "国際"
    assert meta.accessible_for_free is False
    assert meta.meta_pubdate == "2024-06-19T09:00:00+09:00"
    assert meta.og_modified == "2024-06-20T09:00:00+09:00"
    assert meta.time_datetimes == ["2024-06-19T01:00:00Z"]
    assert meta.lang == "ja"


def test_parse_html_with_xml_declaration() -> None:
    tree = parse_html('<?xml version="1.0" encoding="Shift_JIS"?><html><body><p>本文</p></body></html>')
    assert tree is not None and tree.findtext(".//p") == "本文"
