"""Discovery parsers: feeds (RSS 1.0/RDF, RSS 2.0, Atom), sitemaps (index and urlset, Google News fields)
and listing pages. Pure functions over bytes/str, no Scrapy, so they are tested on their own.

Feeds and sitemaps are parsed with lxml directly rather than feedparser (not a dependency) or Scrapy's
`Sitemap` (it drops the nested <news:news> fields): hostile XML is refused by the parser settings below
(no entity expansion, no network, no huge trees) and by a cap on the decompressed size.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

from lxml import etree, html

from spiders.urls import JST, parse_datetime

MAX_XML_BYTES = 50 * 1024 * 1024

NS_RSS1 = "http://purl.org/rss/1.0/"
NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_DC = "http://purl.org/dc/elements/1.1/"
NS_ATOM = "http://www.w3.org/2005/Atom"
SITEMAP_NAMESPACES = (
    "http://www.sitemaps.org/schemas/sitemap/0.9",
    "http://www.google.com/schemas/sitemap/0.84",
    "http://www.google.com/schemas/sitemap/0.9",
)
NS_NEWS = "http://www.google.com/schemas/sitemap-news/0.9"


class DiscoveryError(ValueError):
    """A feed or sitemap that cannot or must not be parsed (too big, not XML, unknown format)."""


@dataclass(frozen=True)
class Entry:
    """One link found by discovery, with whatever the source said about it."""

    url: str
    title: str | None = None
    published_at: datetime | None = None
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class SitemapChild:
    url: str
    lastmod: datetime | None = None


@dataclass
class Sitemap:
    kind: str  # "index" | "urlset"
    children: list[SitemapChild] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)


def _bounded_bytes(data: bytes, limit: int) -> bytes:
    """Gunzip a `.xml.gz` body (HTTP Content-Encoding is already undone by Scrapy) within `limit`."""
    if data[:2] == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
                data = fh.read(limit + 1)
        except (OSError, EOFError) as exc:
            raise DiscoveryError(f"corrupt gzip data ({exc})") from None
    if len(data) > limit:
        raise DiscoveryError(f"document larger than {limit} bytes refused")
    return data


def parse_xml(data: bytes, limit: int = MAX_XML_BYTES) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        recover=False,
    )
    try:
        root = etree.fromstring(_bounded_bytes(data, limit), parser=parser)
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"not well-formed XML ({exc})") from None
    if root is None:
        raise DiscoveryError("empty XML document")
    return root


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _ns(tag: object) -> str:
    return (etree.QName(tag).namespace or "") if isinstance(tag, str) else ""


def _text(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    # itertext over text nodes only: an unexpanded entity reference contributes nothing.
    value = "".join(t for t in element.itertext() if isinstance(t, str)).strip()
    return value or None


def _child(element: etree._Element, namespace: str | None, name: str) -> etree._Element | None:
    for child in element:
        if _local(child.tag) == name and (namespace is None or _ns(child.tag) == namespace):
            return child
    return None


def parse_feed(data: bytes, base_url: str = "", limit: int = MAX_XML_BYTES) -> list[Entry]:
    """Items of an RSS 1.0 (RDF), RSS 2.0 or Atom feed; dates are None when the feed has none."""
    root = parse_xml(data, limit)
    name, namespace = _local(root.tag), _ns(root.tag)
    entries: list[Entry] = []
    if name == "RDF" and namespace == NS_RDF:
        for item in root.iterchildren(f"{{{NS_RSS1}}}item"):
            link = _text(_child(item, NS_RSS1, "link")) or item.get(f"{{{NS_RDF}}}about")
            date = _text(_child(item, NS_DC, "date"))
            if link:
                entries.append(
                    Entry(
                        urljoin(base_url, link), _text(_child(item, NS_RSS1, "title")), parse_datetime(date)
                    )
                )
    elif name == "rss":
        channel = _child(root, None, "channel")
        for item in channel.iterchildren("item") if channel is not None else ():
            link = _text(_child(item, None, "link"))
            guid = _child(item, None, "guid")
            if not link and guid is not None and guid.get("isPermaLink", "true") != "false":
                link = _text(guid)
            date = _text(_child(item, None, "pubDate")) or _text(_child(item, NS_DC, "date"))
            if link:
                entries.append(
                    Entry(urljoin(base_url, link), _text(_child(item, None, "title")), parse_datetime(date))
                )
    elif name == "feed" and namespace == NS_ATOM:
        for item in root.iterchildren(f"{{{NS_ATOM}}}entry"):
            href = None
            for link_el in item.iterchildren(f"{{{NS_ATOM}}}link"):
                if link_el.get("rel", "alternate") == "alternate" and link_el.get("href"):
                    href = link_el.get("href")
                    break
            date = _text(_child(item, NS_ATOM, "published")) or _text(_child(item, NS_ATOM, "updated"))
            if href:
                entries.append(
                    Entry(
                        urljoin(base_url, href), _text(_child(item, NS_ATOM, "title")), parse_datetime(date)
                    )
                )
    else:
        raise DiscoveryError(f"unknown feed format <{name}>")
    return entries


def _keywords(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(k.strip() for k in re.split(r"[,、]", value) if k.strip())


def parse_sitemap(data: bytes, base_url: str = "", limit: int = MAX_XML_BYTES) -> Sitemap:
    """A sitemap index (children with lastmod) or a urlset (entries with lastmod and Google News fields).

    Both urlset namespaces are accepted: sitemaps.org 0.9 and the old Google 0.84 that asahi still uses.
    """
    root = parse_xml(data, limit)
    name, namespace = _local(root.tag), _ns(root.tag)
    if namespace not in SITEMAP_NAMESPACES:
        raise DiscoveryError(f"unknown sitemap namespace '{namespace}'")
    if name == "sitemapindex":
        index = Sitemap("index")
        for node in root.iterchildren(f"{{{namespace}}}sitemap"):
            loc = _text(_child(node, namespace, "loc"))
            if loc:
                lastmod = parse_datetime(_text(_child(node, namespace, "lastmod")))
                index.children.append(SitemapChild(urljoin(base_url, loc), lastmod))
        return index
    if name != "urlset":
        raise DiscoveryError(f"unknown sitemap root <{name}>")
    urlset = Sitemap("urlset")
    for node in root.iterchildren(f"{{{namespace}}}url"):
        loc = _text(_child(node, namespace, "loc"))
        if not loc:
            continue
        published = lastmod = parse_datetime(_text(_child(node, namespace, "lastmod")))
        title = None
        keywords: tuple[str, ...] = ()
        news = _child(node, NS_NEWS, "news")
        if news is not None:
            # The publication date, not lastmod, decides the window: lastmod moves on every correction.
            published = parse_datetime(_text(_child(news, NS_NEWS, "publication_date"))) or lastmod
            title = _text(_child(news, NS_NEWS, "title"))
            keywords = _keywords(_text(_child(news, NS_NEWS, "keywords")))
        urlset.entries.append(Entry(urljoin(base_url, loc), title, published, keywords))
    return urlset


@dataclass(frozen=True)
class ListingMarkup:
    """Where a listing page keeps its entries; XPath so that outlets differ only in data."""

    item: str  # XPath to each entry element
    link: str  # XPath (relative to the entry) to the <a>
    time: str  # XPath (relative to the entry) to the element holding "(03/21 18:58)"
    next: str  # XPath to the pager's next href


@dataclass(frozen=True)
class ListingEntry:
    url: str
    title: str | None
    month_day_time: tuple[int, int, int, int] | None  # (month, day, hour, minute); the year is inferred
    published_at: datetime | None = None  # when the entry shows a full date with its year (search results)


@dataclass
class ListingPage:
    entries: list[ListingEntry]
    next_url: str | None


_LISTING_TIME = re.compile(r"(\d{1,2})/(\d{1,2})\s+(\d{1,2}):(\d{2})")
# "2025/03/21 18:58", "2025-03-21 18:58" or "2025年3月21日 18時58分": read in JST
_FULL_TIME = re.compile(r"(\d{4})[/年-](\d{1,2})[/月-](\d{1,2})日?\s*(\d{1,2})[:時](\d{2})")


def parse_listing(text: str, page_url: str, markup: ListingMarkup) -> ListingPage:
    if not text.strip():
        return ListingPage([], None)
    doc = html.fromstring(text)
    entries: list[ListingEntry] = []
    for item in doc.xpath(markup.item):
        links = item.xpath(markup.link)
        if not links or not links[0].get("href"):
            continue
        anchor = links[0]
        # The anchor's own text nodes only: the time <span> and the paid-key <img> are not the title.
        title = "".join(anchor.xpath("text()")).strip() or None
        when = None
        full: datetime | None = None
        for node in item.xpath(markup.time):
            text = node.text_content() if hasattr(node, "text_content") else str(node)
            dated = _FULL_TIME.search(text)
            if dated:
                year, month, day, hour, minute = (int(g) for g in dated.groups())
                try:
                    full = datetime(year, month, day, hour, minute, tzinfo=JST)
                except ValueError:
                    continue
                when = (month, day, hour, minute)
                break
            match = _LISTING_TIME.search(text)
            if match:
                month, day, hour, minute = (int(g) for g in match.groups())
                when = (month, day, hour, minute)
                break
        entries.append(ListingEntry(urljoin(page_url, anchor.get("href")), title, when, full))
    next_links = doc.xpath(markup.next)
    next_url = urljoin(page_url, str(next_links[0])) if next_links else None
    return ListingPage(entries, next_url)
