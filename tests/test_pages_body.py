"""spiders.pages.body: which text inside a body container is the article, for every page object."""

from __future__ import annotations

from spiders.pages.body import block_lines, body_lines, is_furniture, is_notice, link_only
from spiders.pages.common import load_html


def _el(markup: str):
    return load_html(f"<html><body>{markup}</body></html>").find("body")[0]


def test_furniture_by_tag_and_by_class_words() -> None:
    assert is_furniture(_el("<figure><img src=x></figure>"))
    for cls in ("photo-caption", "p-ad-dfp-premiumrec", "relatedBox x", "AdMod", "sns_share", "paywall"):
        assert is_furniture(_el(f'<div class="{cls}">x</div>')), cls
    # Hashed CSS-module names and words that merely contain a furniture word are text.
    for cls in ("nfyQp", "gAdsK", "header", "reading", "shadow", "loaded", "block", "par1"):
        assert not is_furniture(_el(f'<div class="{cls}">x</div>')), cls


def test_block_lines_split_nested_blocks_and_br_and_join_ruby() -> None:
    element = _el(
        "<div>前文。<div><div><p>一段落。</p></div><ul><li>項目一</li><li>項目二</li></ul></div>"
        "<h2>小見出し</h2>二行目<br>三行目<p>岡田\n<ruby>\n<rb>彰布</rb>\n<rp>（</rp>\n<rt>あきのぶ</rt>\n<rp>）</rp>\n"
        "</ruby>\n監督</p><p>Prime\nMinister</p></div>"
    )
    assert block_lines(element) == [
        "前文。",
        "一段落。",
        "項目一",
        "項目二",
        "小見出し",
        "二行目",
        "三行目",
        "岡田彰布（あきのぶ）監督",
        "Prime Minister",
    ]


def test_links_and_notices_are_not_paragraphs() -> None:
    assert link_only(_el('<li>・<a href="/a">関連の見出し</a></li>'))
    assert not link_only(_el('<p><a href="/giin">岸田文雄</a>首相は述べた。</p>'))
    assert is_notice("続きを読む") and is_notice("【関連記事】") and is_notice("[PR]")
    assert not is_notice("関東地方で続く雨は、続きを読むまでもなく明日も降る見通しだ。" * 3)


def test_page_wrappers_above_the_body_are_not_judged() -> None:
    doc = load_html(
        '<html><body class="ad-enabled"><div id="body"><p>一段落目。</p>'
        '<div class="related"><p>別の記事</p></div><p>二段落目。</p></div></body></html>'
    )
    assert body_lines(doc.xpath("//div[@id='body']//p")) == ["一段落目。", "二段落目。"]
