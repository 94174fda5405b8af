"""Structured metadata a page declares about itself: JSON-LD, <meta> tags, <time>, <html lang>.

These are the fallbacks between a page object and trafilatura: cheap to read, and more precise than
trafilatura for dates (htmldate keeps only the day) and headlines (og:title carries the site name).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import lxml.html
from lxml import etree

_ARTICLE_TYPES = {"newsarticle", "article", "reportagenewsarticle", "analysisnewsarticle", "blogposting"}
# Elements whose text is never the article's dateline.
_NON_CONTENT = ("script", "style", "noscript", "template", "nav", "footer", "header", "aside")


@dataclass
class HeadMeta:
    headline: str = ""
    meta_title: str = ""
    site_name: str = ""
    jsonld_published: str = ""
    jsonld_modified: str = ""
    meta_pubdate: str = ""
    og_published: str = ""
    og_modified: str = ""
    time_datetimes: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    section: str = ""
    image: str = ""
    accessible_for_free: bool | None = None
    lang: str = ""


def parse_html(text: str) -> lxml.html.HtmlElement | None:
    """Parse decoded HTML; None when there is nothing parseable."""
    if not text.strip():
        return None
    try:
        return lxml.html.document_fromstring(text)
    except ValueError:
        # lxml refuses str input that carries an XML encoding declaration: hand it UTF-8 bytes instead.
        parser = lxml.html.HTMLParser(encoding="utf-8")
        return lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except etree.ParserError:
        return None


def _jsonld_objects(tree: lxml.html.HtmlElement) -> Iterator[dict[str, Any]]:
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue  # malformed JSON-LD is common; the other sources still apply
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(reversed(node))
            elif isinstance(node, dict):
                if "@graph" in node:
                    stack.append(node["@graph"])
                yield node


def _is_article(node: dict[str, Any]) -> bool:
    kinds = node.get("@type", [])
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return any(isinstance(k, str) and k.lower() in _ARTICLE_TYPES for k in kinds)


def _first_str(value: Any) -> str:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str | dict)), "")
    if isinstance(value, dict):
        value = value.get("url") or value.get("name") or ""
    # Some CMSs HTML-escape inside JSON-LD ("Politics &amp; Government").
    return html.unescape(value).strip() if isinstance(value, str) else ""


def _person_names(node: dict[str, Any]) -> list[str]:
    """Reporters, not the publishing organisation (JSON-LD `author` is often the newspaper itself)."""
    names: list[str] = []
    authors = node.get("author", [])
    for author in authors if isinstance(authors, list) else [authors]:
        if (
            isinstance(author, dict)
            and author.get("@type") == "Person"
            and isinstance(author.get("name"), str)
        ):
            names.append(html.unescape(author["name"]).strip())
    if not names:
        creators = node.get("creator", [])
        for creator in creators if isinstance(creators, list) else [creators]:
            if isinstance(creator, str) and creator.strip():
                names.append(html.unescape(creator).strip())
    publisher = _first_str(node.get("publisher"))
    return [n for n in dict.fromkeys(names) if n and n != publisher]


def _meta(tree: lxml.html.HtmlElement, attr: str, name: str) -> str:
    # HTML attribute values are case-sensitive in XPath but not to publishers (asahi writes name="TITLE").
    lowered = f"translate(@{attr}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
    for value in tree.xpath(f"//meta[{lowered}=$name]/@content", name=name):
        if value.strip():
            return str(value).strip()
    return ""


def read_head_meta(tree: lxml.html.HtmlElement) -> HeadMeta:
    meta = HeadMeta()
    for node in _jsonld_objects(tree):
        if not _is_article(node):
            continue
        meta.headline = meta.headline or _first_str(node.get("headline"))
        meta.jsonld_published = meta.jsonld_published or _first_str(node.get("datePublished"))
        meta.jsonld_modified = meta.jsonld_modified or _first_str(node.get("dateModified"))
        meta.authors = meta.authors or _person_names(node)
        meta.section = meta.section or _first_str(node.get("articleSection"))
        meta.image = meta.image or _first_str(node.get("image"))
        free = node.get("isAccessibleForFree")
        if meta.accessible_for_free is None and free is not None:
            meta.accessible_for_free = free is True or str(free).lower() == "true"
    meta.meta_title = _meta(tree, "name", "title")
    meta.site_name = _meta(tree, "property", "og:site_name")
    meta.meta_pubdate = _meta(tree, "name", "pubdate") or _meta(tree, "itemprop", "datepublished")
    meta.og_published = _meta(tree, "property", "article:published_time")
    meta.og_modified = _meta(tree, "property", "article:modified_time")
    meta.image = meta.image or _meta(tree, "property", "og:image")
    meta.time_datetimes = [str(v).strip() for v in tree.xpath("//time/@datetime") if str(v).strip()]
    meta.lang = str(tree.get("lang") or "").strip()
    return meta


def visible_text(tree: lxml.html.HtmlElement) -> str:
    """Text a reader sees in the main part of the page, in document order (for the dateline regex)."""
    hidden = " or ".join(f"ancestor::{tag}" for tag in _NON_CONTENT)
    return " ".join(str(t) for t in tree.xpath(f"//body//text()[not({hidden})]"))
