"""A page object driven by data: each field is read from an ordered list of *sources*.

Outlets described by a TOML file (spiders/outlets/*.toml) get their page object from here instead of a
hand-written module. A source is one string:

    jsonld:KEY            the KEY of the page's NewsArticle-like JSON-LD object
    meta:NAME             <meta name=NAME> or <meta property=NAME> (case-insensitive)
    css:SELECTOR          the text of the elements matching a CSS selector
    css:SELECTOR@ATTR     an attribute of those elements instead of their text

Paywall and registration markers use the same forms plus `text:STRING` (the string occurs in the page's
visible text), `jsonld:KEY=VALUE` and `meta:NAME=VALUE` (an exact, case-insensitive value; without
`=VALUE` a meta marker matches any non-empty content).

The first source that yields a value wins, so JSON-LD and meta tags go first and generated CSS class
names last. No Scrapy, no I/O: (html, url) -> PageFields.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from html import unescape
from typing import Any

from cssselect import GenericTranslator, SelectorError
from lxml import etree, html

from core.items import Access, Image, PageFields, PageParser
from spiders.pages.common import (
    JST,
    Layout,
    absolute,
    as_list,
    choose_layout,
    clean_text,
    first_with_method,
    iso_from_japanese,
    iso_jst,
    json_ld,
    ld_image_url,
    ld_of_type,
    link_href,
    load_html,
    node_lines,
    page_date,
    person_names,
)

ARTICLE_TYPES = ("NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting", "AnalysisNewsArticle")
SKIPPED_TAGS = {"aside", "figure", "figcaption", "script", "style", "noscript", "img", "iframe", "button"}
_MARKUP = re.compile(r"<[A-Za-z/!]")
_ATTR_SUFFIX = re.compile(r"^(?P<css>.+?)@(?P<attr>[A-Za-z_:][-A-Za-z0-9_:.]*)$")
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


# ------------------------------------------------------------------ source validation


def css_to_xpath(selector: str) -> str:
    """A CSS selector as XPath relative to the context node; SelectorError when it is not valid CSS."""
    return _css_to_xpath(selector)


@lru_cache(maxsize=512)
def _css_to_xpath(selector: str) -> str:
    return GenericTranslator().css_to_xpath(selector, prefix="descendant-or-self::")


def check_css(selector: str) -> None:
    """Raise ValueError when `selector` is not a CSS selector cssselect understands."""
    try:
        css_to_xpath(selector)
    except SelectorError as exc:
        raise ValueError(f"invalid CSS selector '{selector}' ({exc})") from None


def check_source(spec: str, *, marker: bool = False) -> None:
    """Raise ValueError explaining why `spec` is not a valid source (or paywall marker when `marker`)."""
    kind, sep, rest = spec.partition(":")
    kinds = ("jsonld", "meta", "css", "text") if marker else ("jsonld", "meta", "css")
    if not sep or kind not in kinds or not rest:
        raise ValueError(
            f"'{spec}' must start with one of {', '.join(k + ':' for k in kinds)} and name something"
        )
    if kind == "css":
        match = _ATTR_SUFFIX.match(rest)
        check_css(match["css"] if match and not marker else rest)


# ------------------------------------------------------------------ reading sources


# cssselect turns `#x` into a scan of every element; libxml2 indexes HTML ids, so id('x') is a lookup
# (~0.2 ms -> ~0.004 ms on a 100 KB page). Like getElementById it finds the first element of a
# duplicated id; [ancestor::html] keeps out an element dropped from the tree by body_exclude.
_ID_STEP = re.compile(r"(^|\| )descendant-or-self::(\*|[A-Za-z][\w-]*)\[@id = '([^'\\]*)'\]")


def _id_lookup(match: re.Match[str]) -> str:
    tag = "" if match[2] == "*" else f"[self::{match[2]}]"
    return f"{match[1]}id('{match[3]}'){tag}[ancestor::html]"


@lru_cache(maxsize=512)
def _compiled(selector: str) -> etree.XPath:
    return etree.XPath(_ID_STEP.sub(_id_lookup, css_to_xpath(selector)))


def _selected(doc: html.HtmlElement, selector: str) -> list[Any]:
    return list(_compiled(selector)(doc))


class _Page:
    """The parsed page with its article JSON-LD, and its <meta> tags indexed on first use.

    Every meta: source used to walk all <meta> elements again (a dozen walks per page).
    """

    def __init__(self, doc: html.HtmlElement) -> None:
        self.doc = doc
        self.ld = ld_of_type(json_ld(doc), *ARTICLE_TYPES)
        self._metas: dict[str, list[str]] | None = None

    def metas(self, name: str) -> list[str]:
        """Non-empty contents of <meta name=NAME> or <meta property=NAME> (case-insensitive)."""
        if self._metas is None:
            self._metas = {}
            for el in self.doc.iter("meta"):
                content = clean_text(el.get("content"))
                if content:
                    keys = {(el.get("name") or "").lower(), (el.get("property") or "").lower()} - {""}
                    for key in keys:
                        self._metas.setdefault(key, []).append(content)
        return self._metas.get(name.lower(), [])


def _values(page: _Page, spec: str) -> list[Any]:
    """Every raw value a source yields, in document order (JSON-LD values may be dicts or lists)."""
    kind, _, rest = spec.partition(":")
    doc = page.doc
    if kind == "jsonld":
        return as_list(page.ld.get(rest))
    if kind == "meta":
        return list(page.metas(rest))
    if kind == "css":
        match = _ATTR_SUFFIX.match(rest)
        if match:
            return [
                clean_text(el.get(match["attr"]))
                for el in _selected(doc, match["css"])
                if clean_text(el.get(match["attr"]))
            ]
        return [t for t in (clean_text(el.text_content()) for el in _selected(doc, rest)) if t]
    return []


def _as_text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("name") or value.get("@id") or ""
    if value is None:
        return ""
    text = str(value)
    # JSON-LD and og: values sometimes carry escaped entities or whole <p> elements (WordPress).
    if "<" in text and _MARKUP.search(text):
        text = html.fromstring(f"<div>{text}</div>").text_content()
    return clean_text(unescape(text))


def first_text(page: _Page, sources: Sequence[str]) -> tuple[str, str]:
    """The first non-empty value over `sources` and the source that gave it."""
    for spec in sources:
        for value in _values(page, spec):
            text = _as_text(value)
            if text:
                return text, spec
    return "", ""


def first_list(page: _Page, sources: Sequence[str], split: str, strip: Sequence[str] = ()) -> list[str]:
    """The values of the first source that yields any, strings split at `split` (bylines, keywords)."""
    for spec in sources:
        raw = _values(page, spec)
        if spec.startswith("jsonld:") and any(isinstance(v, dict) for v in raw):
            # Authors as JSON-LD objects: persons only, an organisation is not a byline.
            names = person_names(raw)
        else:
            names = []
            for value in raw:
                text = _as_text(value)
                for pattern in strip:
                    text = re.sub(pattern, "", text)
                names.extend(clean_text(part) for part in re.split(split, text))
        out: list[str] = []
        for name in names:
            if name and name not in out:
                out.append(name)
        if out:
            return out
    return []


def parse_date(raw: str, formats: Sequence[str]) -> str | None:
    """ISO 8601 first, then the outlet's strptime formats (read as JST), then "2025年1月14日 21時17分"."""
    if not raw:
        return None
    iso = iso_jst(raw)
    if iso:
        return iso
    for fmt in formats:
        try:
            moment = datetime.strptime(clean_text(raw), fmt)
        except ValueError:
            continue
        moment = moment if moment.tzinfo else moment.replace(tzinfo=JST)
        return moment.astimezone(JST).isoformat()
    return iso_from_japanese(raw)


def marker_hit(page: _Page, spec: str, page_text: Callable[[], str]) -> bool:
    kind, _, rest = spec.partition(":")
    if kind == "text":
        return rest in page_text()
    if kind == "css":
        return bool(_selected(page.doc, rest))
    name, sep, wanted = rest.partition("=")
    values = _values(page, f"{kind}:{name}")
    if not sep:
        return any(_as_text(v) for v in values)
    return any(str(v).strip().lower() == wanted.strip().lower() for v in values)


def _paragraphs(doc: html.HtmlElement, selectors: Sequence[str]) -> tuple[list[str], str]:
    for selector in selectors:
        out: list[str] = []
        for element in _selected(doc, selector):
            if any(a.tag in SKIPPED_TAGS for a in element.iterancestors()):
                continue
            out.extend(node_lines(element, lambda el: el.tag in SKIPPED_TAGS))
        if out:
            return out, selector
    return [], ""


def _images(doc: html.HtmlElement, selectors: Sequence[str], base: str) -> list[Image]:
    images: list[Image] = []
    for selector in selectors:
        for img in _selected(doc, selector):
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
    page = _Page(doc)
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
        ("json-ld", _as_text(ld.get("url"))),
    )[0]
    # Exclusions only now: a byline or date block may be read above and still be kept out of the body.
    for selector in rules.body_exclude:
        for element in _selected(doc, selector):
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
    moment = iso_jst(_as_text(ld_of_type(json_ld(doc), *ARTICLE_TYPES).get("datePublished")))
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
