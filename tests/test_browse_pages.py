"""The browse server's pages and chart as pure functions: escaping, links, the per-day chart, the CLI's
loopback rule. No archive and no server needed."""

from __future__ import annotations

import re
from datetime import date, timedelta
from xml.etree import ElementTree

import pytest

from crawler.browse_chart import MAX_DAYS, day_chart_svg
from crawler.browse_pages import Filters, ListingView, ResultItem, article_page, listing_page
from crawler.cli import main
from crawler.cli_serve import is_loopback

HOSTILE = '<script>alert("x")</script>&"'


def _row(**extra: object) -> dict[str, object]:
    row: dict[str, object] = {
        "url": "https://www.jiji.com/jc/article?k=1&g=int",
        "outlet": "jiji",
        "title": "ロシアと北朝鮮、軍事協力を強化",
        "published_at": "2025-03-21T18:58:00+09:00",
        "text": "第一段落。\n\n第二段落、軍事協力。",
        "topics": [
            {
                "name": "russia-dprk",
                "score": 21.0,
                "matched": {"ロシア": 3, "北朝鮮": 2},
                "stage": 2,
                "accepted": True,
            }
        ],
        "warc": {"record_id": "<urn:uuid:1>", "path": "warc/x.warc.gz", "offset": 10, "length": 20},
        "run_id": "20261128T051500Z-3f2a1c",
        "fetched_at": "2026-11-28T05:15:03+00:00",
    }
    row.update(extra)
    return row


def test_pages_are_utf8_japanese_documents() -> None:
    html = article_page("/archive", _row(), [_row()])
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="ja">' in html and '<meta charset="utf-8">' in html
    assert "ロシアと北朝鮮、軍事協力を強化" in html
    assert "<p>第一段落。</p><p>第二段落、軍事協力。</p>" in html
    # Nothing is loaded from anywhere: no script, no external stylesheet or font.
    assert "<script" not in html and "<link" not in html and "@import" not in html


def test_article_page_shows_topics_terms_metadata_and_versions() -> None:
    old = _row(run_id="20261101T000000Z-aaaaaa", fetched_at="2026-11-01T00:00:00+00:00", title="旧見出し")
    html = article_page("/archive", _row(), [old, _row()])
    topics = re.search(r'<table class="meta-table topics">.*?</table>', html)
    assert topics and "russia-dprk" in topics.group() and "ロシア ×3" in topics.group()
    assert "北朝鮮 ×2" in topics.group() and "<td>yes</td>" in topics.group()
    assert "&lt;urn:uuid:1&gt;" in html and "warc/x.warc.gz @ 10 (+20)" in html
    versions = re.findall(r'<tr class="version">.*?</tr>', html)
    assert len(versions) == 2 and "旧見出し" in versions[0] and "shown" in versions[1]
    assert "shown" not in versions[0]


def test_archived_values_are_escaped_and_only_web_urls_are_links() -> None:
    row = _row(
        title=HOSTILE,
        text=HOSTILE,
        url="javascript:alert(1)",
        topics=[{"name": HOSTILE, "matched": {HOSTILE: 1}}],
    )
    html = article_page(HOSTILE, row, [row])
    assert "<script>" not in html
    assert html.count("&lt;script&gt;") >= 4
    assert 'href="javascript:' not in html


def test_listing_page_keeps_filters_in_links_and_marks_hits() -> None:
    filters = Filters(
        topics=("russia-dprk",), outlets=("jiji",), since="2025-03-01", query="軍事協力", page=2
    )
    item = ResultItem(
        "https://www.jiji.com/jc/article?k=1&g=int",
        HOSTILE,
        "jiji",
        None,
        (("…両国の", False), ("軍事協力", True)),
    )
    view = ListingView(
        "/archive",
        filters,
        total=120,
        items=[item],
        page_size=50,
        day_counts={date(2025, 3, 1): 120},
        topic_choices=("russia-dprk",),
        outlet_choices=("asahi", "jiji"),
    )
    html = listing_page(view)
    assert "<mark>軍事協力</mark>" in html and "<script>" not in html
    assert 'href="/article?url=https%3A%2F%2Fwww.jiji.com%2Fjc%2Farticle%3Fk%3D1%26amp%3Bg%3Dint"' not in html
    assert 'href="/article?url=https%3A%2F%2Fwww.jiji.com%2Fjc%2Farticle%3Fk%3D1%26g%3Dint"' in html
    query = (
        "topic=russia-dprk&amp;outlet=jiji&amp;since=2025-03-01&amp;q=%E8%BB%8D%E4%BA%8B%E5%8D%94%E5%8A%9B"
    )
    for fmt in ("jsonl", "parquet", "csv", "wacz"):
        assert f'href="/download?{query}&amp;format={fmt}"' in html
        assert f'href="/download?{query}&amp;format={fmt}&amp;bundle=1"' in html
    assert f'href="/?{query}&amp;page=1"' in html and f'href="/?{query}&amp;page=3"' in html
    assert '<ol class="results" start="51">' in html
    assert 'value="jiji" checked' in html and 'value="asahi">' in html


def test_listing_page_shows_an_error_instead_of_results() -> None:
    view = ListingView(
        "/a", Filters(since="2025-13-01"), 0, [], 50, error="published from: '2025-13-01' is not a date"
    )
    html = listing_page(view)
    assert 'role="alert"' in html and "is not a date" in html and 'value="2025-13-01"' in html
    assert "<ol" not in html and "Download" not in html


def test_chart_draws_every_day_and_counts_bars() -> None:
    svg = day_chart_svg({date(2025, 3, 1): 2, date(2025, 3, 4): 5, date(2025, 3, 2): 0})
    tree = ElementTree.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    bars = tree.findall(f"{ns}rect")
    assert [(b.get("data-day"), b.get("data-count")) for b in bars] == [
        ("2025-03-01", "2"),
        ("2025-03-04", "5"),
    ]
    # Four days wide: the bar of the 4th stands three steps right of the 1st's.
    x1, x4 = (float(b.get("x", 0)) for b in bars)
    step = (x4 - x1) / 3
    assert step > 0 and float(bars[1].get("height", 0)) > float(bars[0].get("height", 0))
    assert "7 in all" in (tree.get("aria-label") or "")
    assert day_chart_svg({}) == "" and day_chart_svg({date(2025, 1, 1): 0}) == ""


def test_chart_of_a_long_span_is_capped() -> None:
    svg = day_chart_svg({date(2000, 1, 1): 1, date(2025, 1, 1): 1})
    assert svg.count("<rect") == 1 and "2025-01-01" in svg and "2000-01-01" not in svg
    first = date(2025, 1, 1) - timedelta(days=MAX_DAYS - 1)
    assert f">{first}</text>" in svg


def test_is_loopback() -> None:
    assert (
        is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("[::1]") and is_loopback("localhost")
    )
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("::")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "--host 0.0.0.0: not a loopback address; add --public"),
        (["--port", "70000"], "--port 70000: must be between 0 and 65535"),
    ],
)
def test_serve_usage_mistakes_are_one_line(
    tmp_path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["serve", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_serve_refuses_a_folder_that_is_no_archive(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", str(tmp_path / "missing")]) == 2
    assert "not an archive folder" in capsys.readouterr().err
