"""The outlet simulator's site: the article set, topic words, robots, feeds, sitemaps and listings."""

from __future__ import annotations

from urllib.parse import urlsplit

import lxml.etree
import lxml.html
import pytest

from crawler.simulator import DEMO_SINCE, DEMO_UNTIL, OUTLETS, Simulator
from tests.simulator_helpers import (
    DC,
    DPRK,
    MILITARY,
    NEWS,
    RSS,
    RUSSIA,
    SM,
    SM84,
    fetch,
    outlet_articles,
    xml,
)

# ---------------------------------------------------------------------------- ground truth


def test_article_set_matches_the_spec(sim: Simulator) -> None:
    for outlet in OUTLETS:
        articles = outlet_articles(sim, outlet)
        assert sum(a.in_window for a in articles) == 48
        older = [a for a in articles if not a.in_window]
        assert len(older) == 12
        assert all("2025-02-01" <= a.published_at[:10] <= "2025-02-27" for a in older)
        assert all(DEMO_SINCE <= a.published_at <= DEMO_UNTIL for a in articles if a.in_window)
        assert len({a.url for a in articles}) == 60
        assert abs(sum(a.on_topic for a in articles) / len(articles) - 1 / 3) < 0.05
    jiji = outlet_articles(sim, "jiji")
    assert all(a.url == "https://www.jiji.com" + a.path for a in jiji)
    assert [a.charset for a in jiji[::8]] == ["shift_jis"] * 8
    assert sum(a.charset == "shift_jis" for a in jiji) == 8
    flashes = [a for a in jiji if len(a.paragraphs) == 1]
    assert len(flashes) == 1 and flashes[0].in_window and 60 <= len(flashes[0].paragraphs[0]) <= 100
    asahi = outlet_articles(sim, "asahi")
    assert 0.2 <= sum(a.paywalled for a in asahi) / 60 <= 0.3
    assert all(a.authors for a in asahi) and not any(a.authors for a in jiji)


def test_topic_words_only_in_on_topic_articles(sim: Simulator) -> None:
    for a in sim.articles:
        text = a.title + "".join(a.paragraphs)
        if a.on_topic:
            for group in (RUSSIA, DPRK, MILITARY):
                assert any(w in a.title for w in group), a.title
                assert any(w in "".join(a.paragraphs) for w in group), a.title
        else:
            assert not any(w in text for w in RUSSIA + DPRK), a.title
        if len(a.paragraphs) > 1:
            assert 4 <= len(a.paragraphs) <= 8
            assert 300 <= sum(len(p) for p in a.paragraphs) <= 1000


def test_off_topic_pages_carry_no_topic_words_in_boilerplate(sim: Simulator) -> None:
    for a in sim.articles:
        if a.on_topic:
            continue
        body = sim.served_bytes(a.outlet, a.path, accept_encoding="identity")[2]
        text = body.decode("cp932" if a.charset == "shift_jis" else "utf-8")
        assert not any(w in text for w in ("北朝鮮", "平壌", "金正恩", "ロシア")), a.path


# ---------------------------------------------------------------------------- discovery documents


def test_robots(sim: Simulator) -> None:
    response, body = fetch(sim, "jiji", "/robots.txt")
    assert response.status == 200 and response.getheader("Content-Type") == "text/plain; charset=UTF-8"
    lines = body.decode().splitlines()
    assert {"User-agent: *", "Disallow: /jc/search", "Disallow: /private/"} <= set(lines)
    assert "Sitemap: https://www.jiji.com/sitemap.xml" in lines
    response, body = fetch(sim, "asahi", "/robots.txt")
    text = body.decode()
    assert "User-agent: GPTBot\nDisallow: /" in text and text.endswith(
        "sitemap: https://www.asahi.com/sitemap.xml"
    )


def test_feeds(sim: Simulator) -> None:
    response, body = fetch(sim, "jiji", "/rss/ranking.rdf")
    assert response.getheader("Content-Type", "").startswith("application/rdf+xml")
    root = xml(body)
    items = root.findall(f"{RSS}item")
    newest = sorted(outlet_articles(sim, "jiji"), key=lambda a: a.published_at, reverse=True)
    assert root.findtext(f"{RSS}channel/{RSS}title") == "時事ドットコムアクセスランキング"
    assert [i.findtext(f"{RSS}link") for i in items] == [a.url + "&m=rss" for a in newest[:10]]
    assert all(i.find(f"{DC}date") is None for i in items)

    _, body = fetch(sim, "asahi", "/rss/asahi/newsheadlines.rdf")
    items = xml(body).findall(f"{RSS}item")
    newest = sorted(outlet_articles(sim, "asahi"), key=lambda a: a.published_at, reverse=True)
    assert [(i.findtext(f"{RSS}link"), i.findtext(f"{DC}date")) for i in items] == [
        (a.url, a.published_at) for a in newest[:20]
    ]


@pytest.mark.parametrize(("outlet", "ns"), [("jiji", SM), ("asahi", SM84)])
def test_sitemaps_list_every_article_with_news_fields(sim: Simulator, outlet: str, ns: str) -> None:
    response, body = fetch(sim, outlet, "/sitemap.xml")
    assert response.getheader("Content-Type") == "application/xml; charset=UTF-8"
    index = xml(body)
    assert index.tag == f"{SM}sitemapindex"
    found: dict[str, tuple[str | None, str | None, str | None]] = {}
    for child in index.findall(f"{SM}sitemap"):
        loc = child.findtext(f"{SM}loc") or ""
        assert child.findtext(f"{SM}lastmod", "").endswith("+09:00")
        assert loc.startswith(f"https://www.{outlet}.com/sitemap/")
        response, body = fetch(sim, outlet, urlsplit(loc).path)
        assert response.status == 200
        urlset = xml(body)
        assert urlset.tag == f"{ns}urlset"
        for url in urlset.findall(f"{ns}url"):
            news = url.find(f"{NEWS}news")
            assert news is not None
            assert news.findtext(f"{NEWS}publication/{NEWS}language") == "ja"
            found[url.findtext(f"{ns}loc") or ""] = (
                news.findtext(f"{NEWS}publication_date"),
                news.findtext(f"{NEWS}title"),
                news.findtext(f"{NEWS}keywords"),
            )
    expected = {a.url: (a.published_at, a.title, ",".join(a.keywords)) for a in outlet_articles(sim, outlet)}
    assert found == expected


@pytest.mark.parametrize(
    ("outlet", "first", "selector"),
    [
        (
            "jiji",
            "/jc/list?g=flash",
            "div#Main > div.MainInner.mb30 > div.ArticleListMain > ul.LinkList > li > a",
        ),
        ("asahi", "/news/history.html", "#MainInner .Section ul.List > li > a"),
    ],
)
def test_listing_pagination_covers_every_article_once(
    sim: Simulator, outlet: str, first: str, selector: str
) -> None:
    seen: list[str] = []
    next_path: str | None = first
    pages = 0
    while next_path:
        response, body = fetch(sim, outlet, next_path)
        assert response.status == 200
        doc = lxml.html.fromstring(body.decode())
        hrefs = [a.get("href") or "" for a in doc.cssselect(selector)]
        if pages == 0:
            mobile = [h for h in hrefs if h.startswith("/sp/")]
            assert len(mobile) == (2 if outlet == "jiji" else 1)
            for href in mobile:
                redirect, _ = fetch(sim, outlet, href)
                assert redirect.status == 301
        seen += hrefs
        nxt = doc.cssselect('a[rel="next"]')
        next_path = nxt[0].get("href") if nxt else None
        pages += 1
    assert pages == 3
    canonical = [h.split("?iref=")[0].replace("/sp/", "/jc/" if outlet == "jiji" else "/", 1) for h in seen]
    broken = [h for h in canonical if "k=2025031099999" in h]
    assert len(broken) == (1 if outlet == "jiji" else 0)
    if broken:
        assert fetch(sim, outlet, broken[0])[0].status == 404
    real = [h for h in canonical if h not in broken]
    newest = sorted(outlet_articles(sim, outlet), key=lambda a: a.published_at, reverse=True)
    assert real == [a.path for a in newest]
