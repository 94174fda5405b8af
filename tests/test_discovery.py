"""Discovery documents without a crawl: feeds, sitemaps (hostile ones included) and listing pages.

NewsSpider's use of them (pagination, canonical URLs, the date window) is in test_discovery_spider.py.
"""

from __future__ import annotations

import gzip

import pytest

from spiders.asahi import AsahiSpider
from spiders.discovery import (
    DiscoveryError,
    parse_feed,
    parse_listing,
    parse_sitemap,
)
from spiders.jiji import JijiSpider

# ----------------------------------------------------------------------------------------------- feeds

RDF_NO_DATES = b"""<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://www.jiji.com/"><title>\xe6\x99\x82\xe4\xba\x8b</title></channel>
<item rdf:about="https://www.jiji.com/jc/article?k=2025032101243&amp;g=int&amp;m=rss">
<title>A</title><link>https://www.jiji.com/jc/article?k=2025032101243&amp;g=int&amp;m=rss</link></item>
<item rdf:about="https://www.jiji.com/jc/article?k=2025032000010&amp;g=pol&amp;m=rss">
<title>B</title><link>https://www.jiji.com/jc/article?k=2025032000010&amp;g=pol&amp;m=rss</link></item>
</rdf:RDF>"""

RDF_DATES = b"""<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<item rdf:about="https://www.asahi.com/articles/AST3N0000000000001.html?iref=rss">
<title>T</title><link>https://www.asahi.com/articles/AST3N0000000000001.html?iref=rss</link>
<dc:date>2025-03-21T18:58:00+09:00</dc:date></item></rdf:RDF>"""

RSS2 = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>
<item><title>R</title><link>/jc/article?k=2025031500001&amp;g=soc</link>
<pubDate>Sat, 15 Mar 2025 01:00:00 GMT</pubDate></item>
<item><title>G</title><guid>https://www.jiji.com/jc/article?k=2025031500002&amp;g=soc</guid></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>a</title>
<entry><title>E</title><link rel="alternate" href="https://www.asahi.com/articles/AST3N0000000000002.html"/>
<updated>2025-03-02T10:00:00Z</updated></entry></feed>"""


def test_rdf_without_dates():
    entries = parse_feed(RDF_NO_DATES)
    assert [e.title for e in entries] == ["A", "B"]
    assert entries[0].url == "https://www.jiji.com/jc/article?k=2025032101243&g=int&m=rss"
    assert all(e.published_at is None for e in entries)


def test_rdf_with_dc_date():
    (entry,) = parse_feed(RDF_DATES)
    assert entry.published_at is not None
    assert entry.published_at.isoformat() == "2025-03-21T18:58:00+09:00"


def test_rss2_pubdate_relative_link_and_guid():
    entries = parse_feed(RSS2, base_url="https://www.jiji.com/rss/x.xml")
    assert entries[0].url == "https://www.jiji.com/jc/article?k=2025031500001&g=soc"
    assert entries[0].published_at is not None
    assert entries[0].published_at.isoformat() == "2025-03-15T01:00:00+00:00"
    assert entries[1].url.endswith("k=2025031500002&g=soc") and entries[1].published_at is None


def test_atom_entry():
    (entry,) = parse_feed(ATOM)
    assert entry.title == "E" and entry.url.endswith("AST3N0000000000002.html")
    assert entry.published_at is not None and entry.published_at.hour == 10


def test_unknown_feed_format_is_refused():
    with pytest.raises(DiscoveryError):
        parse_feed(b"<html><body>not a feed</body></html>")


# -------------------------------------------------------------------------------------------- sitemaps

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://www.jiji.com/sitemap/news/2025-03-21.xml</loc><lastmod>2025-03-21T18:58:00+09:00</lastmod></sitemap>
<sitemap><loc>https://www.jiji.com/sitemap/news/2025-02-10.xml</loc><lastmod>2025-02-10T09:00:00+09:00</lastmod></sitemap>
</sitemapindex>"""

URLSET_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="{ns}" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>https://www.asahi.com/articles/AST3N0000000000003.html</loc><lastmod>2025-03-22T09:00:00+09:00</lastmod>
<news:news><news:publication><news:name>n</news:name><news:language>ja</news:language></news:publication>
<news:publication_date>2025-03-21T18:58:00+09:00</news:publication_date>
<news:title>露朝の軍事協力</news:title><news:keywords>ロシア,北朝鮮, 軍事協力</news:keywords></news:news></url>
<url><loc>https://www.asahi.com/articles/AST3N0000000000004.html</loc></url>
</urlset>"""


def test_sitemap_index_children_with_lastmod():
    index = parse_sitemap(INDEX)
    assert index.kind == "index"
    assert [c.url.rsplit("/", 1)[1] for c in index.children] == ["2025-03-21.xml", "2025-02-10.xml"]
    assert index.children[1].lastmod is not None and index.children[1].lastmod.day == 10


@pytest.mark.parametrize(
    "namespace", ["http://www.sitemaps.org/schemas/sitemap/0.9", "http://www.google.com/schemas/sitemap/0.84"]
)
def test_urlset_keeps_google_news_fields_in_both_namespaces(namespace):
    urlset = parse_sitemap(URLSET_TEMPLATE.format(ns=namespace).encode())
    assert urlset.kind == "urlset"
    first, second = urlset.entries
    assert first.title == "露朝の軍事協力"
    assert first.keywords == ("ロシア", "北朝鮮", "軍事協力")
    # publication_date wins over lastmod (which moves with every correction).
    assert first.published_at is not None and first.published_at.isoformat() == "2025-03-21T18:58:00+09:00"
    assert second.title is None and second.published_at is None


def test_external_entity_is_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    hostile = f"""<?xml version="1.0"?>
<!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file://{secret}">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>https://www.jiji.com/jc/article?k=2025030100001&amp;g=soc&amp;x=&xxe;</loc></url></urlset>""".encode()
    urlset = parse_sitemap(hostile)
    assert all("TOP-SECRET" not in (e.url + (e.title or "")) for e in urlset.entries)


def test_oversize_and_gzip_bomb_refused():
    body = URLSET_TEMPLATE.format(ns="http://www.sitemaps.org/schemas/sitemap/0.9").encode()
    with pytest.raises(DiscoveryError, match="larger than"):
        parse_sitemap(body, limit=100)
    bomb = gzip.compress(b"<urlset>" + b" " * 5_000_000 + b"</urlset>")
    assert len(bomb) < 20_000
    with pytest.raises(DiscoveryError, match="larger than"):
        parse_sitemap(bomb, limit=1_000_000)
    assert parse_sitemap(gzip.compress(body)).entries  # a legitimate .xml.gz is read


def test_not_xml_refused():
    with pytest.raises(DiscoveryError):
        parse_sitemap(b"<urlset><url>")


# -------------------------------------------------------------------------------------------- listings


def jiji_listing(entries: list[tuple[str, str, str]], next_page: str | None) -> str:
    items = "".join(
        f'<li><a href="{href}">{title}<span>({when})</span></a></li>' for href, title, when in entries
    )
    pager = f'<div class="Pager"><a rel="next" href="{next_page}">次へ</a></div>' if next_page else ""
    return (
        '<html><body><div id="Main"><div class="MainInner mb30"><div class="ArticleListMain">'
        f'<ul class="LinkList">{items}</ul>{pager}</div></div></div>'
        '<ul class="LinkList"><li class="ThumbList"><a href="/jc/article?k=2025010100001&g=pol">side</a></li></ul>'
        "</body></html>"
    )


def test_listing_markup_entries_and_next():
    page = jiji_listing(
        [
            ("/jc/article?k=2025032101243&g=int", "見出し", "03/21 18:58"),
            ("/sp/article?k=2025032100002&g=pol", "二", "03/21 09:00"),
        ],
        "/jc/list?g=flash&p=2",
    )
    parsed = parse_listing(page, "https://www.jiji.com/jc/list?g=flash", JijiSpider.listing_markup)
    assert [e.title for e in parsed.entries] == ["見出し", "二"]  # the sidebar is not the listing
    assert parsed.entries[0].url == "https://www.jiji.com/jc/article?k=2025032101243&g=int"
    assert parsed.entries[0].month_day_time == (3, 21, 18, 58)
    assert parsed.next_url == "https://www.jiji.com/jc/list?g=flash&p=2"


def test_asahi_listing_title_without_paid_icon():
    page = (
        '<div id="MainInner"><div class="Section"><ul class="List"><li><a href="/articles/AST3N0000000000005.html'
        '?iref=com_latest_01">有料の見出し<img src="//www.asahicom.jp/images/icon/top/icon__keyGold.svg" alt="有料会員記事">'
        '</a> <span class="Time">(3/21 18:58)</span></li></ul></div><ul class="Pager"><li>'
        '<a rel="next" href="/news/history.html?page=2">次へ</a></li></ul></div>'
    )
    parsed = parse_listing(page, "https://www.asahi.com/news/history.html", AsahiSpider.listing_markup)
    (entry,) = parsed.entries
    assert entry.title == "有料の見出し" and entry.month_day_time == (3, 21, 18, 58)
    assert parsed.next_url == "https://www.asahi.com/news/history.html?page=2"
