"""Config-driven page objects: #id selectors as index lookups, fields owned from JSON-LD/meta, one parse."""

from __future__ import annotations

import threading

from cssselect import GenericTranslator
from lxml import html

from spiders.pages.common import load_html
from spiders.pages.generic import PageRules, parse_with
from spiders.pages.sources import compiled_selector as _compiled

URL = "https://news.example/articles/1"
PAGE = """<html><head>
<meta property="og:image" content="/og.jpg">
<script type="application/ld+json">{"@type": "NewsArticle", "headline": "見出し",
 "datePublished": "2025-01-02T03:04:00+09:00", "dateModified": "2025-01-03T00:00:00+09:00",
 "author": [{"@type": "Person", "name": "記者一郎"}, {"@type": "Organization", "name": "新聞社"}],
 "articleSection": "政治"}</script></head><body>
<div id="other"><p>別の段落</p></div>
<div id="body"><p class="byline">記者一郎</p><p>一段落目。</p><p>二段落目。</p></div>
<section id="more"><p>関連記事</p></section>
</body></html>"""


def test_id_selector_matches_what_the_full_scan_matches() -> None:
    doc = load_html(PAGE)
    for selector in ("#body > p", "#body p, #more p", "div#body > p", "section#body > p", ".x #body p"):
        scan = doc.xpath(GenericTranslator().css_to_xpath(selector, prefix="descendant-or-self::"))
        assert [e.text for e in _compiled(selector)(doc)] == [e.text for e in scan], selector
    assert "id('body')" in _compiled("#body > p").path


def test_dropped_id_anchor_is_not_found() -> None:
    rules = PageRules(body=("#more p", "#body p"), body_exclude=("#more",))
    fields = parse_with(rules, load_html(PAGE), URL, "page:example@2025")
    # #more was dropped from the tree; libxml2's id index still knows it, the lookup must not.
    assert fields.body_paragraphs == ["記者一郎", "一段落目。", "二段落目。"]


def test_fields_from_json_ld_and_meta_are_owned() -> None:
    rules = PageRules(body=("#body > p:not(.byline)",), authors=("css:.missing-byline",), modified=())
    fields = parse_with(rules, load_html(PAGE), URL, "page:example@2025")
    assert fields.body_paragraphs == ["一段落目。", "二段落目。"]
    # The rules' own sources gave nothing: JSON-LD and og:image, as extract_article would read them.
    assert fields.authors == ["記者一郎"]
    assert fields.modified_at == "2025-01-03T00:00:00+09:00"
    assert fields.section == "政治"
    assert [i.url for i in fields.images] == ["https://news.example/og.jpg"]
    assert sorted(fields.complete_fields) == ["authors", "images", "modified_at", "section"]


def test_page_without_body_claims_nothing() -> None:
    fields = parse_with(PageRules(body=("#nothing p",)), load_html(PAGE), URL, "page:example@2025")
    assert fields.body_paragraphs == [] and fields.complete_fields == []


def test_load_html_in_threads() -> None:
    """One lxml parser per thread (extraction runs in a thread pool); elements keep lxml.html's API."""
    results: list[str] = []

    def work() -> None:
        for _ in range(20):
            doc = load_html(PAGE)
            assert isinstance(doc, html.HtmlElement)
            results.append(doc.get_element_by_id("body").text_content().strip()[:4])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["記者一郎"] * 80
