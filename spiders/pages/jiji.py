"""Page object for Jiji Press article pages (www.jiji.com/jc/article?k=...).

Sources in order of trust: JSON-LD NewsArticle, head meta tags, then the visible containers
(div.ArticleTitle h1, p.ArticleTitleData, div.ArticleText p). Jiji names no reporters: the JSON-LD
creator is the agency itself, so `authors` stays empty.
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

from lxml import etree, html

from core.items import Access, Image, PageFields
from spiders.pages.body import body_lines
from spiders.pages.common import (
    Layout,
    absolute,
    article_authors,
    as_list,
    choose_layout,
    clean_text,
    has_class,
    iso_from_japanese,
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

SITE_SUFFIX = re.compile(r"\s*[：:]\s*時事ドットコム\s*$")
GENERIC_KEYWORDS = ("ニュース", "時事ドットコム", "時事通信社", "時事通信")
ORGANISATIONS = {"時事通信社", "時事通信", "時事ドットコム"}
MEMBER_MARKERS = re.compile(r"この記事は会員限定|会員限定記事です")
GENERIC_IMAGE = re.compile(r"/jijicom_og_image\.")
# Read from JSON-LD and the head meta tags as well as the page, so extract_article needs no fallback.
COMPLETE_FIELDS = ("authors", "images", "modified_at", "section")
_TITLE_H1 = etree.XPath("//div[contains(concat(' ', normalize-space(@class), ' '), ' ArticleTitle ')]//h1")
_DATELINE = etree.XPath("//p[contains(concat(' ', normalize-space(@class), ' '), ' ArticleTitleData ')]")
_CRUMBS = etree.XPath("//div[contains(@class, 'BreadCrumbs')]//a[contains(@href, '/jc/c?')]")


def _body_container(doc: html.HtmlElement) -> html.HtmlElement | None:
    for div in doc.iter("div"):
        if has_class(div, "ArticleText"):
            return div
    return None


def _paragraphs(container: html.HtmlElement) -> list[str]:
    # One <p> holds several paragraphs, each starting "<br>　": every line is a paragraph.
    # p.ArticleTextTab is an inline related-article link; spiders.pages.body drops such links anyway,
    # the class names the intent.
    return body_lines(p for p in container.iter("p") if not has_class(p, "ArticleTextTab"))


def _images(container: html.HtmlElement, base: str) -> list[Image]:
    images: list[Image] = []
    for img in container.iter("img"):
        src = img.get("data-src") or img.get("src") or ""
        # The article template ends every body with a 1x1 tracking image.
        if not src or "dummy" in src or (img.get("width"), img.get("height")) == ("1", "1"):
            continue
        figure = next((a for a in img.iterancestors() if a.tag == "figure"), None)
        caption = ""
        if figure is not None:
            caption = clean_text(" ".join(c.text_content() for c in figure.iter("figcaption")))
        images.append(Image(absolute(src, base), caption or clean_text(img.get("alt"))))
    return images


def parse_2022(doc: html.HtmlElement, url: str) -> PageFields:
    ld = ld_of_type(json_ld(doc), "NewsArticle", "Article", "ReportageNewsArticle")
    # Each fallback runs only when the sources before it gave nothing (an XPath over the whole page
    # costs about a tenth of its parse).
    title = (
        clean_text(str(ld.get("headline") or ""))
        or SITE_SUFFIX.sub("", meta(doc, name="title"))
        or next((clean_text(h1.text_content()) for h1 in _TITLE_H1(doc)), "")
    )
    published_raw = (
        str(ld.get("datePublished") or "")
        or meta(doc, name="pubdate")
        or next((clean_text(p.text_content()) for p in _DATELINE(doc)), "")
    )
    published = iso_jst(published_raw) or iso_from_japanese(published_raw)
    modified_raw = str(ld.get("dateModified") or "") or meta(doc, prop="article:modified_time")
    sections = [clean_text(str(s)) for s in as_list(ld.get("articleSection"))]
    section = next((s for s in sections if s), "") or next(
        (clean_text(a.text_content()) for a in _CRUMBS(doc)), ""
    )
    container = _body_container(doc)
    paragraphs = _paragraphs(container) if container is not None else []
    images = _images(container, url) if container is not None else []
    if not images:
        # og:image is the agency's logo on most articles: that is no picture of the story.
        images = [i for i in lead_image(ld, doc, url) if not GENERIC_IMAGE.search(i.url)]
    article_text = container.text_content() if container is not None else ""
    access: Access = "unknown"
    if MEMBER_MARKERS.search(article_text):
        access = "paywalled"
    elif paragraphs:
        access = "free"
    canonical = link_href(doc, "canonical") or meta(doc, prop="og:url") or str(ld.get("url") or "")
    return PageFields(
        parser="page:jiji@2022",
        title=title,
        lead=clean_text(str(ld.get("description") or "")) or meta(doc, name="description"),
        published_at=published,
        published_raw=published_raw,
        modified_at=iso_jst(modified_raw),
        modified_raw=modified_raw,
        # Jiji signs with the agency's name, never a reporter's: usually no authors, and that is final.
        authors=article_authors(ld, ORGANISATIONS),
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


# Layout history, oldest first. A redesign adds a Layout here instead of editing the old parser; the
# 2017 spider in OUTLETS.md already read the same containers, hence the early start.
LAYOUTS = [Layout(date(2017, 1, 1), "page:jiji@2022", parse_2022)]


def url_day(url: str) -> date | None:
    k = parse_qs(urlsplit(url).query).get("k", [""])[0]
    match = re.fullmatch(r"(\d{4})(\d{2})(\d{2})\d{5}", k)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def parse(text: str, url: str) -> PageFields:
    doc = load_html(text)
    layout = choose_layout(LAYOUTS, url_day(url) or page_date(doc))
    fields = layout.parse(doc, url)
    fields.parser = layout.name
    return fields
