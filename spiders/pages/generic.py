"""A page object driven by data: each field is read from an ordered list of *sources*.

Outlets described by a TOML file (spiders/outlets/*.toml) get their page object from here instead of a
hand-written module. The source forms (jsonld:, meta:, css:, text:) are read by `spiders.pages.sources`;
what counts as body text inside the selected elements is decided by `spiders.pages.body`.

The first source that yields a value wins, so JSON-LD and meta tags go first and generated CSS class
names last. No Scrapy, no I/O: (html, url) -> PageFields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lxml import html

from core.items import Access, Image, PageFields, PageParser
from spiders.pages.body import body_lines
from spiders.pages.common import (
    Layout,
    absolute,
    choose_layout,
    clean_text,
    first_with_method,
    iso_jst,
    json_ld,
    ld_image_url,
    ld_of_type,
    link_href,
    load_html,
    page_date,
)
from spiders.pages.sources import (
    ARTICLE_TYPES,
    SourcePage,
    as_text,
    check_css,
    check_source,
    css_to_xpath,
    first_list,
    first_text,
    marker_hit,
    parse_date,
    selected,
)

# Sources extract_article would fall back to: read here too, so that an empty field is the page's
# answer (PageFields.complete_fields) and the page is parsed once.
_FALLBACK_SOURCES = {
    "modified": ("jsonld:dateModified", "meta:article:modified_time"),
    "authors": ("jsonld:author", "jsonld:creator"),
    "section": ("jsonld:articleSection",),
}
COMPLETE_FIELDS = ("authors", "images", "modified_at", "section")


def _default(*items: str) -> tuple[str, ...]:
    return tuple(items)


@dataclass(frozen=True)
class PageRules:
    """Where one layout of an outlet keeps each field. Every tuple is an ordered list of sources."""

    title: tuple[str, ...] = _default("jsonld:headline", "meta:og:title", "css:h1")
    title_strip: tuple[str, ...] = ()  # regexes removed from the title (site-name suffixes)
    subtitle: tuple[str, ...] = ()
    lead: tuple[str, ...] = _default("jsonld:description", "meta:description", "meta:og:description")
    published: tuple[str, ...] = _default("jsonld:datePublished", "meta:article:published_time")
    modified: tuple[str, ...] = _default("jsonld:dateModified", "meta:article:modified_time")
    date_formats: tuple[str, ...] = ()  # strptime formats for dates that are not ISO 8601
    authors: tuple[str, ...] = _default("jsonld:author", "jsonld:creator")
    authors_strip: tuple[str, ...] = ()  # regexes removed from a byline before splitting it
    authors_split: str = r"\s*[,、，/]\s*|\s+and\s+"
    section: tuple[str, ...] = _default("jsonld:articleSection", "meta:article:section")
    tags: tuple[str, ...] = _default("jsonld:keywords", "meta:keywords")
    tags_ignore: tuple[str, ...] = ()  # generic keywords that are not tags (the site name...)
    body: tuple[str, ...] = _default("article p")  # CSS selectors of paragraph elements, first hit wins
    body_exclude: tuple[str, ...] = ()  # CSS selectors of elements that are never body text
    images: tuple[str, ...] = ()  # CSS selectors of <img> elements of the article
    paywall: tuple[str, ...] = _default("jsonld:isAccessibleForFree=false")
    registration: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def _paragraphs(doc: html.HtmlElement, selectors: Sequence[str]) -> tuple[list[str], str]:
    for selector in selectors:
        out = body_lines(selected(doc, selector))
        if out:
            return out, selector
    return [], ""


def _images(doc: html.HtmlElement, selectors: Sequence[str], base: str) -> list[Image]:
    images: list[Image] = []
    for selector in selectors:
        for img in selected(doc, selector):
            src = img.get("data-src") or img.get("src") or ""
            # Inline data and SVG icons (zoom buttons, logos) are page furniture, not article images.
            if not src or src.startswith("data:") or src.split("?")[0].endswith(".svg"):
                continue
            figure = next((a for a in img.iterancestors() if a.tag == "figure"), None)
            caption = ""
            if figure is not None:
                caption = clean_text(" ".join(c.text_content() for c in figure.iter("figcaption")))
            url = absolute(src, base)
            if all(i.url != url for i in images):
                images.append(Image(url, caption or clean_text(img.get("alt"))))
    return images


def _with_fallbacks(sources: Sequence[str], key: str) -> tuple[str, ...]:
    return (*sources, *(f for f in _FALLBACK_SOURCES[key] if f not in sources))


def parse_with(rules: PageRules, doc: html.HtmlElement, url: str, parser_name: str) -> PageFields:
    """Read every field of one article page by `rules`. `doc` is modified (excluded elements dropped)."""
    page = SourcePage(doc)
    ld = page.ld
    title, _ = first_text(page, rules.title)
    for pattern in rules.title_strip:
        title = clean_text(re.sub(pattern, "", title))
    published_raw, _ = first_text(page, rules.published)
    modified_raw, _ = first_text(page, _with_fallbacks(rules.modified, "modified"))
    authors = first_list(
        page, _with_fallbacks(rules.authors, "authors"), rules.authors_split, rules.authors_strip
    )
    tags = [t for t in first_list(page, rules.tags, r"\s*[,、，]\s*") if t not in set(rules.tags_ignore)]
    text_cache: list[str] = []

    def page_text() -> str:
        # The whole page's text only for a text: marker (before the exclusions below drop anything).
        if not text_cache:
            body_element = doc.find("body")
            text_cache.append((body_element if body_element is not None else doc).text_content())
        return text_cache[0]

    markers = {
        "paywalled": any(marker_hit(page, m, page_text) for m in rules.paywall),
        "registration": any(marker_hit(page, m, page_text) for m in rules.registration),
    }
    canonical = first_with_method(
        ("link", link_href(doc, "canonical")),
        ("og", first_text(page, ("meta:og:url",))[0]),
        ("json-ld", as_text(ld.get("url"))),
    )[0]
    # Exclusions only now: a byline or date block may be read above and still be kept out of the body.
    for selector in rules.body_exclude:
        for element in selected(doc, selector):
            if element.getparent() is not None:
                element.drop_tree()
    paragraphs, _ = _paragraphs(doc, rules.body)
    section = first_text(page, _with_fallbacks(rules.section, "section"))[0]
    access: Access = "unknown"
    if markers["paywalled"]:
        access = "paywalled"
    elif markers["registration"]:
        access = "registration"
    elif paragraphs:
        access = "free"
    images = _images(doc, rules.images, url)
    if not images:
        lead_url = ld_image_url(ld.get("image")) or next(iter(page.metas("og:image")), "")
        images = [Image(absolute(lead_url, url))] if lead_url else []
    return PageFields(
        parser=parser_name,
        title=title,
        subtitle=first_text(page, rules.subtitle)[0],
        lead=first_text(page, rules.lead)[0],
        published_at=parse_date(published_raw, rules.date_formats),
        published_raw=published_raw,
        modified_at=parse_date(modified_raw, rules.date_formats),
        modified_raw=modified_raw,
        authors=authors,
        section=section,
        tags=tags,
        body_paragraphs=paragraphs,
        images=images,
        access=access,
        body_complete=access not in ("paywalled", "registration"),
        canonical_url=absolute(canonical, url) if canonical else "",
        # Only a page whose body was found is one this page object knows: elsewhere its "none" proves little.
        complete_fields=list(COMPLETE_FIELDS) if paragraphs else [],
    )


@dataclass(frozen=True)
class LayoutRules:
    """One version of a TOML outlet's article template."""

    valid_from: date
    version: str  # written into the parser id: "page:<outlet>@<version>"
    rules: PageRules


def make_parser(
    outlet: str, layouts: Sequence[LayoutRules], url_day: Callable[[str], date | None] | None = None
) -> PageParser:
    """The page object of a TOML outlet: picks the layout valid on the page's date, then parses with it.

    The page's date for that choice comes from the URL when the outlet writes one there (`url_day`),
    otherwise from the head metadata.
    """
    if not layouts:
        raise ValueError(f"{outlet}: at least one page layout is needed")
    table = [
        Layout(
            layout.valid_from,
            f"page:{outlet}@{layout.version}",
            # Bind the loop variables now; a late-binding lambda would parse every page with the last rules.
            (lambda rules, name: lambda doc, url: parse_with(rules, doc, url, name))(
                layout.rules, f"page:{outlet}@{layout.version}"
            ),
        )
        for layout in layouts
    ]

    def parse(text: str, url: str) -> PageFields:
        doc = load_html(text)
        day = (url_day(url) if url_day else None) or page_date(doc) or _ld_day(doc)
        layout = choose_layout(table, day)
        return layout.parse(doc, url)

    parse.__name__ = f"parse_{outlet}"
    parse.__qualname__ = f"generic.parse_{outlet}"
    return parse


def _ld_day(doc: html.HtmlElement) -> date | None:
    moment = iso_jst(as_text(ld_of_type(json_ld(doc), *ARTICLE_TYPES).get("datePublished")))
    return date.fromisoformat(moment[:10]) if moment else None


__all__ = [
    "LayoutRules",
    "PageRules",
    "check_css",
    "check_source",
    "css_to_xpath",
    "make_parser",
    "parse_with",
]
