"""robots.txt, RSS 1.0 (RDF) feeds and sitemaps of the simulated outlets, as the site spec describes them.

Written with plain string formatting (values XML-escaped) rather than an XML library so that the bytes
are stable and look like what the real servers send.
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import escape

from crawler.simulator.site import ORIGINS, SimArticle
from crawler.simulator.templating import load

JIJI_ROBOTS = (
    "User-agent: *\nDisallow: /jc/search\nDisallow: /private/\n\nSitemap: https://www.jiji.com/sitemap.xml\n"
)
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
OLD_SITEMAP_NS = "http://www.google.com/schemas/sitemap/0.84"  # asahi still uses it
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
PUBLICATION = {"jiji": "時事ドットコム", "asahi": "朝日新聞デジタル"}
_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'
_RDF_OPEN = (
    '<rdf:RDF xmlns="http://purl.org/rss/1.0/" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"'
    ' xmlns:dc="http://purl.org/dc/elements/1.1/" xml:lang="ja">\n'
)


def robots(outlet: str) -> str:
    return JIJI_ROBOTS if outlet == "jiji" else load("asahi_robots.txt")


def _rdf(
    about: str, title: str, link: str, description: str, items: list[tuple[str, str, str | None]]
) -> str:
    seq = "".join(f'<rdf:li rdf:resource="{escape(url)}"/>\n' for url, _, _ in items)
    entries = "".join(
        f'<item rdf:about="{escape(url)}">\n<title>{escape(title)}</title>\n<link>{escape(url)}</link>\n'
        + (f"<dc:date>{date}</dc:date>\n" if date else "")
        + "</item>\n"
        for url, title, date in items
    )
    return (
        f'{_XML_DECL}{_RDF_OPEN}<channel rdf:about="{escape(about)}">\n<title>{escape(title)}</title>\n'
        f"<link>{escape(link)}</link>\n<description>{escape(description)}</description>\n"
        f"<items>\n<rdf:Seq>\n{seq}</rdf:Seq>\n</items>\n</channel>\n{entries}</rdf:RDF>\n"
    )


def jiji_ranking_rdf(newest: list[SimArticle]) -> str:
    """Title and link only, no dates (as the real ranking feed); links carry `&m=rss`."""
    items: list[tuple[str, str, str | None]] = [(a.url + "&m=rss", a.title, None) for a in newest[:10]]
    return _rdf(
        "https://www.jiji.com/rss/ranking.rdf",
        "時事ドットコムアクセスランキング",
        "https://www.jiji.com/",
        "時事ドットコムのアクセスランキング",
        items,
    )


def asahi_headlines_rdf(newest: list[SimArticle]) -> str:
    items: list[tuple[str, str, str | None]] = [(a.url, a.title, a.published_at) for a in newest[:20]]
    return _rdf(
        "https://www.asahi.com/rss/asahi/newsheadlines.rdf",
        "朝日新聞デジタル",
        "https://www.asahi.com/",
        "朝日新聞デジタルの主要ニュース",
        items,
    )


def sitemap_index(children: Iterable[tuple[str, str]]) -> str:
    """`children`: (child sitemap URL, lastmod)."""
    body = "".join(
        f"<sitemap>\n<loc>{escape(loc)}</loc>\n<lastmod>{lastmod}</lastmod>\n</sitemap>\n"
        for loc, lastmod in children
    )
    return f'{_XML_DECL}<sitemapindex xmlns="{SITEMAP_NS}">\n{body}</sitemapindex>\n'


def news_urlset(outlet: str, articles: Iterable[SimArticle]) -> str:
    ns = SITEMAP_NS if outlet == "jiji" else OLD_SITEMAP_NS
    entries = "".join(
        f"<url>\n<loc>{escape(a.url)}</loc>\n<lastmod>{a.modified_at}</lastmod>\n<news:news>\n"
        f"<news:publication><news:name>{PUBLICATION[outlet]}</news:name><news:language>ja</news:language>"
        f"</news:publication>\n<news:publication_date>{a.published_at}</news:publication_date>\n"
        f"<news:title>{escape(a.title)}</news:title>\n<news:keywords>{escape(','.join(a.keywords))}</news:keywords>\n"
        "</news:news>\n</url>\n"
        for a in articles
    )
    return f'{_XML_DECL}<urlset xmlns="{ns}" xmlns:news="{NEWS_NS}">\n{entries}</urlset>\n'


def child_sitemap_url(outlet: str, key: str) -> str:
    """`key`: YYYY-MM-DD for jiji (daily children), YYYY-MM for asahi (monthly children)."""
    if outlet == "jiji":
        return f"{ORIGINS['jiji']}/sitemap/news/{key}.xml"
    return f"{ORIGINS['asahi']}/sitemap/sitemap-{key}.xml"


def group_key(outlet: str, a: SimArticle) -> str:
    return a.published_at[:10] if outlet == "jiji" else a.published_at[:7]
