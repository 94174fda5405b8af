"""The outlet simulator's pages: the real outlets' structure, and asahi's site search."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

import lxml.etree
import lxml.html
import pytest

from crawler.simulator import SimArticle, Simulator
from tests.simulator_helpers import (
    fetch,
    outlet_articles,
)

# ---------------------------------------------------------------------------- page fidelity


def test_jiji_article_page_keeps_the_real_structure(sim: Simulator) -> None:
    article = next(a for a in outlet_articles(sim, "jiji") if a.charset == "utf-8" and len(a.paragraphs) > 2)
    _, body = fetch(sim, "jiji", article.path)
    doc = lxml.html.fromstring(body.decode())
    assert doc.cssselect("div.ArticleTitle > h1")[0].text_content() == article.title
    assert doc.cssselect('meta[name="pubdate"]')[0].get("content") == article.published_at
    t = article.published
    assert doc.cssselect("div.ArticleData > p.ArticleTitleData")[0].text == f"{t:%Y年%m月%d日%H時%M分}"
    assert doc.cssselect('link[rel="canonical"]')[0].get("href") == article.url
    blocks = [json.loads(s.text) for s in doc.cssselect('script[type="application/ld+json"]')]
    news = next(b for b in blocks if b["@type"] == "NewsArticle")
    assert news["datePublished"] == article.published_at and news["headline"] == article.title
    assert news["articleSection"] == article.section
    assert any(b["@type"] == "BreadcrumbList" for b in blocks)
    container = doc.cssselect("div.ArticleText.clearfix")[0]
    assert container.cssselect("aside.ArticleInnerAD") and container.cssselect("p.ArticleTextTab a")
    text = "".join(p.text_content() for p in container.cssselect("p:not(.ArticleTextTab)"))
    assert all(p in text for p in article.paragraphs)
    assert (
        len(doc.cssselect("li.ThumbList > a")) >= 5
        and doc.cssselect("footer")
        and doc.cssselect("#PageHeader")
    )


def test_asahi_article_page_keeps_the_real_structure(sim: Simulator) -> None:
    free = next(a for a in outlet_articles(sim, "asahi") if not a.paywalled)
    _, body = fetch(sim, "asahi", free.path)
    text = body.decode()
    start, end = text.index("<!-- cxenseparse_start -->"), text.index("<!-- cxenseparse_end -->")
    assert start < text.index('class="nfyQp"') < end < text.index("有料会員になると会員限定の")
    doc = lxml.html.fromstring(text)
    assert doc.cssselect("main#main h1")[0].text == free.title
    assert [s.text for s in doc.cssselect("span.H8KYB")] == list(free.authors)
    assert doc.cssselect('meta[name="pubdate"]')[0].get("content") == free.published_at
    assert doc.cssselect("main#main time")[0].get("datetime", "").endswith(".000Z")
    paragraphs = [
        p.text_content().strip("　") for p in doc.cssselect("div.nfyQp > p") if p.get("id") != "_gtm_LastLine"
    ]
    assert paragraphs == list(free.paragraphs)
    assert doc.cssselect("p#_gtm_LastLine")
    news = json.loads(doc.cssselect('script[type="application/ld+json"]')[0].text)
    assert news["@type"] == "NewsArticle" and news["creator"] == list(free.authors)
    assert news["datePublished"] == free.published_at and news["dateModified"] == free.modified_at
    assert news["author"]["@type"] == "Organization"

    paid = next(a for a in outlet_articles(sim, "asahi") if a.paywalled)
    doc = lxml.html.fromstring(fetch(sim, "asahi", paid.path)[1].decode())
    shown = [p.text_content() for p in doc.cssselect("div.nfyQp > p") if p.get("id") != "_gtm_LastLine"]
    assert shown == ["　" + paid.paragraphs[0]]
    rest = sum(len(p) for p in paid.paragraphs[1:])
    notes = [d.text_content() for d in doc.cssselect("div.nfyQp > div") if "有料記事です" in d.text_content()]
    assert notes == [f"この記事は有料記事です。残り{rest}文字有料会員になると続きをお読みいただけます。"]


# ---------------------------------------------------------------------------- asahi site search

SEARCH = "/.cgi/sitesearch/sitesearch.pl"


def expected_hits(sim: Simulator, query: str) -> list[SimArticle]:
    words = query.split()
    hits = [
        a for a in outlet_articles(sim, "asahi") if all(w in a.title + "".join(a.paragraphs) for w in words)
    ]
    return sorted(hits, key=lambda a: a.published, reverse=True)


def search_pages(sim: Simulator, query: str) -> list[lxml.html.HtmlElement]:
    pages = []
    next_path: str | None = f"{SEARCH}?Keywords={quote_plus(query)}"
    while next_path:
        response, body = fetch(sim, "asahi", next_path, headers={"Host": "sitesearch.asahi.com"})
        assert response.status == 200 and response.getheader("Content-Type") == "text/html; charset=UTF-8"
        doc = lxml.html.fromstring(body.decode("utf-8"))
        pages.append(doc)
        nxt = doc.cssselect('ul.Pager a[rel="next"]')
        next_path = nxt[0].get("href") if nxt else None
        assert len(pages) < 10
    return pages


@pytest.mark.parametrize("query", ["ロシア 北朝鮮 軍事協力", "北朝鮮", "ロシア　北朝鮮"])
def test_asahi_search_finds_matching_stories_newest_first(sim: Simulator, query: str) -> None:
    expected = expected_hits(sim, query)
    assert expected and all(a.on_topic for a in expected)
    pages = search_pages(sim, query)
    assert len(pages) == -(-len(expected) // 10)
    found = []
    for doc in pages:
        for li in doc.cssselect("ul.SearchResult > li"):
            href = li.cssselect("a")[0].get("href")
            found.append((href, li.cssselect("a")[0].text, li.cssselect("span.Date")[0].text))
    assert found == [
        (a.url + "?iref=sitesearch", a.title, a.published.strftime("%Y/%m/%d %H:%M")) for a in expected
    ]
    assert any(not a.in_window for a in expected)  # older matches come last, on the last page


def test_asahi_search_off_topic_and_empty(sim: Simulator) -> None:
    off = next(a for a in outlet_articles(sim, "asahi") if not a.on_topic)
    word = off.title[:4]
    hits = expected_hits(sim, word)
    assert off in hits
    links = [li.get("href") for doc in search_pages(sim, word) for li in doc.cssselect("ul.SearchResult a")]
    assert links == [a.url + "?iref=sitesearch" for a in hits]
    for query in ("存在しない語句ＸＹＺ", ""):
        (doc,) = search_pages(sim, query)
        assert not doc.cssselect("ul.SearchResult > li")
        assert "見つかりませんでした" in doc.cssselect("p.ResultCount")[0].text
    assert fetch(sim, "jiji", f"{SEARCH}?Keywords=x")[0].status == 404
