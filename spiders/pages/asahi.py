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

from crawler.items import Access, Image, PageFields
from spiders.pages.common import (
    Layout,
    absolute,
    as_list,
    choose_layout,
    clean_text,
    first_with_method,
    iso_jst,
    json_ld,
    keywords,
    ld_of_type,
    link_href,
    load_html,
    meta,
    node_lines,
    page_date,
    person_names,
)

GENERIC_KEYWORDS = ("朝日新聞デジタル", "朝日新聞", "ニュース", "新聞")
ORGANISATIONS = {"朝日新聞デジタル", "朝日新聞", "朝日新聞社"}
SKIPPED_TAGS = {"aside", "figure", "figcaption", "script", "style", "noscript", "img", "iframe", "svg"}
# Shown only on truncated paid articles. The CTA "有料会員になると会員限定の有料記事もお読みいただけます"
# follows every article, free ones included, so it is deliberately not a marker.
PAYWALL_MARKERS = re.compile(
    r"この記事は有料記事です|残り\s*\d+\s*文字|有料会員になると続きをお読みいただけます"
)
BOILERPLATE = re.compile(r"有料会員になると|この記事は有料記事です|残り\s*\d+\s*文字")


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


def _body_container(doc: html.HtmlElement) -> tuple[etree._Element | None, str]:
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
    main = doc.xpath("//main[@id='main']")
    if main:
        container = most_paragraphs(list(main[0].iter()))
        if container is not None:
            return container, "main"
    return None, ""


def _paragraphs(container: etree._Element) -> list[str]:
    out: list[str] = []
    for child in container:
        if child.tag not in ("p", "h2") or child.get("id") == "_gtm_LastLine":
            continue
        text = "".join(node_lines(child, lambda el: el.tag in SKIPPED_TAGS))
        if text and not BOILERPLATE.search(text):
            out.append(text)
    return out


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
    h1 = doc.xpath("//main[@id='main']//h1")
    title, _ = first_with_method(
        ("meta", meta(doc, name="TITLE")),
        ("json-ld", clean_text(str(ld.get("headline") or ""))),
        ("h1", clean_text(h1[0].text_content()) if h1 else ""),
    )
    times = doc.xpath("//main[@id='main']//time/@datetime")
    published_raw, _ = first_with_method(
        ("json-ld", str(ld.get("datePublished") or "")),
        ("meta", meta(doc, name="pubdate")),
        ("og", meta(doc, prop="article:published_time")),
        ("time", str(times[0]) if times else ""),  # UTC, converted below
    )
    modified_raw, _ = first_with_method(
        ("json-ld", str(ld.get("dateModified") or "")),
        ("og", meta(doc, prop="article:modified_time")),
    )
    authors = [n for n in person_names(ld.get("creator")) if n not in ORGANISATIONS]
    sections = [clean_text(str(s)) for s in as_list(ld.get("articleSection"))]
    # JSON-LD first (English on asahi: "National"); the Japanese cXense category is the fallback.
    section = next((s for s in sections if s), "") or meta(doc, name="cXenseParse:ash-category")
    container, _method = _body_container(doc)
    paragraphs = _paragraphs(container) if container is not None else []
    images = _images(container, url) if container is not None else []
    main = doc.xpath("//main[@id='main']")
    visible = (main[0] if main else doc).text_content()
    access: Access = "unknown"
    if PAYWALL_MARKERS.search(visible) or ld.get("isAccessibleForFree") in (False, "False", "false"):
        access = "paywalled"
    elif paragraphs:
        access = "free"
    canonical = first_with_method(
        ("link", link_href(doc, "canonical")),
        ("cxense", meta(doc, name="cXenseParse:url")),
        ("og", meta(doc, prop="og:url")),
    )[0]
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
