"""Helpers shared by the page objects: HTML loading, JSON-LD, meta tags, dates, text cleaning.

Pure functions over lxml trees: no Scrapy, no I/O (the page objects must stay replayable offline).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin

from lxml import etree, html

from core.items import Image, PageFields

JST = timezone(timedelta(hours=9), "JST")

# ASCII whitespace collapses; U+3000 (the paragraph indent of Japanese prose) is only trimmed at the ends.
_ASCII_SPACE = re.compile(r"[ \t\r\n\f\v]+")
_EDGE_SPACE = "\u3000 \t\r\n\f\v\u00a0"


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_PARSERS = threading.local()  # an lxml parser must not be used by two threads at once


def _parser() -> etree.HTMLParser:
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = etree.HTMLParser()
        # lxml.html's own parser picks each element's class in Python (form, input, label... get their
        # own); a fixed class looked up in C makes every element visited ~3x cheaper, and HtmlElement
        # still has text_content() and the rest of the lxml.html API the page objects use.
        parser.set_element_class_lookup(
            etree.ElementDefaultClassLookup(
                element=html.HtmlElement,
                comment=html.HtmlComment,
                pi=html.HtmlProcessingInstruction,
                entity=html.HtmlEntity,
            )
        )
        _PARSERS.parser = parser
    return parser


def load_html(text: str) -> html.HtmlElement:
    # lxml refuses a str that carries an XML encoding declaration; the text is already decoded.
    text = _XML_DECLARATION.sub("", text)
    return html.document_fromstring(text or "<html></html>", parser=_parser())


def clean_text(value: str | None) -> str:
    if not value:
        return ""
    return _ASCII_SPACE.sub(" ", value).strip(_EDGE_SPACE)


def meta(doc: html.HtmlElement, *, name: str | None = None, prop: str | None = None) -> str:
    """Content of <meta name=...> (case-insensitive, asahi writes TITLE) or <meta property=...>."""
    for element in doc.iter("meta"):
        if name is not None and (element.get("name") or "").lower() == name.lower():
            return clean_text(element.get("content"))
        if prop is not None and (element.get("property") or "").lower() == prop.lower():
            return clean_text(element.get("content"))
    return ""


def link_href(doc: html.HtmlElement, rel: str) -> str:
    for element in doc.iter("link"):
        if rel in (element.get("rel") or "").lower().split():
            return (element.get("href") or "").strip()
    return ""


def json_ld(doc: html.HtmlElement) -> list[dict[str, Any]]:
    """Every JSON-LD object on the page, @graph and top-level lists flattened; invalid blocks skipped."""
    found: list[dict[str, Any]] = []
    # iter() filters by tag in C: cheaper than an XPath that tests every element of the page.
    for script in doc.iter("script"):
        if script.get("type") != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        for obj in stack:
            if isinstance(obj, dict):
                found.append(obj)
                graph = obj.get("@graph")
                if isinstance(graph, list):
                    found.extend(o for o in graph if isinstance(o, dict))
    return found


def ld_of_type(objects: Iterable[dict[str, Any]], *types: str) -> dict[str, Any]:
    for obj in objects:
        kind = obj.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        if any(k in types for k in kinds):
            return obj
    return {}


def as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def person_names(value: Any) -> list[str]:
    """Names from a JSON-LD creator/author value, organisations left out (they are not bylines)."""
    names: list[str] = []
    for item in as_list(value):
        if isinstance(item, str):
            names.append(clean_text(item))
        elif isinstance(item, dict) and item.get("@type", "Person") == "Person":
            names.append(clean_text(str(item.get("name", ""))))
    return [n for n in names if n]


def article_authors(ld: dict[str, Any], organisations: Iterable[str] = ()) -> list[str]:
    """Reporters named by a JSON-LD article: `author`, else `creator`; the publisher is no byline."""
    publisher = ld.get("publisher")
    skip = set(organisations)
    if isinstance(publisher, dict):
        skip.add(clean_text(str(publisher.get("name") or "")))
    for key in ("author", "creator"):
        names = [n for n in person_names(ld.get(key)) if n not in skip]
        if names:
            return list(dict.fromkeys(names))
    return []


def ld_image_url(value: Any) -> str:
    """The first image URL of a JSON-LD `image` value (a URL, an ImageObject, or a list of either)."""
    for item in as_list(value):
        if isinstance(item, dict):
            item = item.get("url") or item.get("contentUrl") or ""
        if isinstance(item, str) and item.strip():
            return item.strip()
    return ""


def lead_image(ld: dict[str, Any], doc: html.HtmlElement, base: str) -> list[Image]:
    """The page's declared lead image (JSON-LD, else og:image) for pages whose body shows none."""
    url = ld_image_url(ld.get("image")) or meta(doc, prop="og:image")
    return [Image(absolute(url, base))] if url else []


def iso_jst(value: str | None) -> str | None:
    """An ISO 8601 date-time (any offset, or Z, or none = JST) -> ISO 8601 in +09:00; None if unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=JST)
    return moment.astimezone(JST).isoformat()


_JA_DATETIME = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日\s*(\d{1,2})時(\d{1,2})分")


def iso_from_japanese(value: str) -> str | None:
    """ "2022年10月17日19時09分" -> "2022-10-17T19:09:00+09:00"."""
    match = _JA_DATETIME.search(value or "")
    if not match:
        return None
    try:
        y, mo, d, h, mi = (int(g) for g in match.groups())
        return datetime(y, mo, d, h, mi, tzinfo=JST).isoformat()
    except ValueError:
        return None


def first_with_method(*pairs: tuple[str, str | None]) -> tuple[str, str]:
    """The first non-empty value and the name of the method that produced it."""
    for method, value in pairs:
        if value:
            return value, method
    return "", ""


def keywords(doc: html.HtmlElement, generic: Iterable[str]) -> list[str]:
    skip = set(generic)
    out: list[str] = []
    for word in re.split(r"[,、]", meta(doc, name="keywords")):
        word = clean_text(word)
        if word and word not in skip and word not in out:
            out.append(word)
    return out


def absolute(url: str, base: str) -> str:
    if url.startswith("//"):
        return "https:" + url
    return urljoin(base, url)


def has_class(element: etree._Element, name: str) -> bool:
    return name in (element.get("class") or "").split()


@dataclass(frozen=True)
class Layout:
    """One version of an outlet's article template, valid for pages published from `valid_from`."""

    valid_from: date
    name: str  # the parser id written to PageFields.parser, e.g. "page:jiji@2022"
    parse: Callable[[html.HtmlElement, str], PageFields]


def choose_layout(layouts: list[Layout], page_date: date | None) -> Layout:
    """The newest layout valid on `page_date`; an undated page gets the newest layout of all."""
    ordered = sorted(layouts, key=lambda layout: layout.valid_from)
    if page_date is None:
        return ordered[-1]
    chosen = ordered[0]
    for layout in ordered:
        if layout.valid_from <= page_date:
            chosen = layout
    return chosen


def page_date(doc: html.HtmlElement) -> date | None:
    """The publication day as the head metadata states it (used only to pick a layout)."""
    for value in (meta(doc, name="pubdate"), meta(doc, prop="article:published_time")):
        moment = iso_jst(value)
        if moment:
            return date.fromisoformat(moment[:10])
    return None
