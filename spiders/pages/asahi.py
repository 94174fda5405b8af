"""Page object for Asahi Shimbun article pages (www.asahi.com/articles/<id>.html).

The 2025 template uses hashed CSS-module class names (nfyQp, H8KYB...) that change with every
front-end build, so this parser leans on what is stable: JSON-LD, head meta tags, `main#main`, the
`cxenseparse_start`/`cxenseparse_end` comments around the body, and the body container found as the
element with the most direct <p> children between those comments.
"""

from __future__ import annotations

import re
from datetime import date

from lxml import etree, html

from core.items import Access, Image, PageFields
from spiders.pages.body import body_lines, is_furniture
from spiders.pages.common import (
    Layout,
    absolute,
    article_authors,
    as_list,
    choose_layout,
    clean_text,
    iso_jst,
    json_ld,
    keywords,
    ld_of_type,
    lead_image,
    link_href,
    load_html,
    meta,
    page_date,
)

GENERIC_KEYWORDS = ("朝日新聞デジタル", "朝日新聞", "ニュース", "新聞")
ORGANISATIONS = {"朝日新聞デジタル", "朝日新聞", "朝日新聞社"}
# Shown only on truncated paid articles. The CTA "有料会員になると会員限定の有料記事もお読みいただけます"
# follows every article, free ones included, so it is deliberately not a marker.
PAYWALL_MARKERS = re.compile(
    r"この記事は有料記事です|残り\s*\d+\s*文字|有料会員になると続きをお読みいただけます"
)
BOILERPLATE = re.compile(r"有料会員になると|この記事は有料記事です|残り\s*\d+\s*文字")
# Read from JSON-LD and the head meta tags as well as the page, so extract_article needs no fallback.
COMPLETE_FIELDS = ("authors", "images", "modified_at", "section")
_MAIN = etree.XPath("//main[@id='main']")
_H1 = etree.XPath(".//h1")
_TIME = etree.XPath(".//time/@datetime")


def _between_markers(doc: html.HtmlElement) -> list[etree._Element]:
    """Elements whose start tag lies between the cxenseparse_start and cxenseparse_end comments."""
    inside = False
    elements: list[etree._Element] = []
    for node in doc.iter():
        if not isinstance(node.tag, str):
            text = node.text or ""
            if "cxenseparse_start" in text:
                inside = True
            elif "cxenseparse_end" in text:
                break
            continue
        if inside:
            elements.append(node)
    return elements


def _body_container(doc: html.HtmlElement, main: etree._Element | None) -> tuple[etree._Element | None, str]:
    def most_paragraphs(candidates: list[etree._Element]) -> etree._Element | None:
        best, best_count = None, 0
        for element in candidates:
            count = sum(1 for child in element if child.tag == "p")
            if count > best_count:
                best, best_count = element, count
        return best

    container = most_paragraphs(_between_markers(doc))
    if container is not None:
        return container, "cxense-markers"
    if main is not None:
        container = most_paragraphs(list(main.iter()))
        if container is not None:
            return container, "main"
    return None, ""


def _paragraphs(container: etree._Element) -> list[str]:
    # Every block under the container (p, h2, list items, paragraphs moved into new wrappers), not
    # only its direct <p> children; furniture and teasers are spiders.pages.body's to drop.
    lines = body_lines([container], skip=_skip)
    return [line for line in lines if not BOILERPLATE.search(line)]


def _skip(element: etree._Element) -> bool:
    return element.get("id") == "_gtm_LastLine" or is_furniture(element)


def _images(container: etree._Element, base: str) -> list[Image]:
    images: list[Image] = []
    for img in container.iter("img"):
        src = (img.get("srcset") or "").split(",")[0].strip().split(" ")[0] or img.get("src") or ""
        if not src:
            continue
        figure = next((a for a in img.iterancestors() if a.tag == "figure"), None)
        caption = ""
        if figure is not None:
            caption = clean_text(" ".join(c.text_content() for c in figure.iter("figcaption")))
        images.append(Image(absolute(src, base), caption))
    return images


def parse_2025(doc: html.HtmlElement, url: str) -> PageFields:
    ld = ld_of_type(json_ld(doc), "NewsArticle", "Article", "ReportageNewsArticle")
    main = next(iter(_MAIN(doc)), None)
    # Each fallback runs only when the sources before it gave nothing.
    title = (
        meta(doc, name="TITLE")
        or clean_text(str(ld.get("headline") or ""))
        or next((clean_text(h1.text_content()) for h1 in (_H1(main) if main is not None else [])), "")
    )
    published_raw = (
        str(ld.get("datePublished") or "")
        or meta(doc, name="pubdate")
        or meta(doc, prop="article:published_time")
        # UTC, converted below
        or next((str(t) for t in (_TIME(main) if main is not None else [])), "")
    )
    modified_raw = str(ld.get("dateModified") or "") or meta(doc, prop="article:modified_time")
    authors = article_authors(ld, ORGANISATIONS)
    sections = [clean_text(str(s)) for s in as_list(ld.get("articleSection"))]
    # JSON-LD first (English on asahi: "National"); the Japanese cXense category is the fallback.
    section = next((s for s in sections if s), "") or meta(doc, name="cXenseParse:ash-category")
    container, _method = _body_container(doc, main)
    paragraphs = _paragraphs(container) if container is not None else []
    images = (_images(container, url) if container is not None else []) or lead_image(ld, doc, url)
    visible = (main if main is not None else doc).text_content()
    access: Access = "unknown"
    if PAYWALL_MARKERS.search(visible) or ld.get("isAccessibleForFree") in (False, "False", "false"):
        access = "paywalled"
    elif paragraphs:
        access = "free"
    canonical = link_href(doc, "canonical") or meta(doc, name="cXenseParse:url") or meta(doc, prop="og:url")
    return PageFields(
        parser="page:asahi@2025",
        title=title,
        lead=clean_text(str(ld.get("description") or "")) or meta(doc, name="description"),
        published_at=iso_jst(published_raw),
        published_raw=published_raw,
        modified_at=iso_jst(modified_raw),
        modified_raw=modified_raw,
        authors=authors,
        section=section,
        tags=keywords(doc, GENERIC_KEYWORDS),
        body_paragraphs=paragraphs,
        images=images,
        access=access,
        body_complete=access != "paywalled",
        canonical_url=absolute(canonical, url) if canonical else "",
        # Only a page whose body was found is one this page object knows: elsewhere its "none" proves little.
        complete_fields=list(COMPLETE_FIELDS) if paragraphs else [],
    )


# Layout history, oldest first; a redesign adds a Layout instead of editing parse_2025. Before 2023
# the body was `.l-main > main > div > p` (HatsuneMiku3), which parse_2025's `main#main` fallback covers.
LAYOUTS = [Layout(date(2023, 1, 1), "page:asahi@2025", parse_2025)]


def parse(text: str, url: str) -> PageFields:
    doc = load_html(text)
    layout = choose_layout(LAYOUTS, page_date(doc))
    fields = layout.parse(doc, url)
    fields.parser = layout.name
    return fields
