"""The sources of the TOML page objects: how one source string is checked and read from a page.

A source is one string:

    jsonld:KEY            the KEY of the page's NewsArticle-like JSON-LD object
    meta:NAME             <meta name=NAME> or <meta property=NAME> (case-insensitive)
    css:SELECTOR          the text of the elements matching a CSS selector
    css:SELECTOR@ATTR     an attribute of those elements instead of their text

Paywall and registration markers use the same forms plus `text:STRING` (the string occurs in the page's
visible text), `jsonld:KEY=VALUE` and `meta:NAME=VALUE` (an exact, case-insensitive value; without
`=VALUE` a meta marker matches any non-empty content). `spiders.pages.generic` puts them together into
page objects. No Scrapy, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache
from html import unescape
from typing import Any

from cssselect import GenericTranslator, SelectorError
from lxml import etree, html

from spiders.pages.common import (
    JST,
    as_list,
    clean_text,
    iso_from_japanese,
    iso_jst,
    json_ld,
    ld_of_type,
    person_names,
)

ARTICLE_TYPES = ("NewsArticle", "Article", "ReportageNewsArticle", "BlogPosting", "AnalysisNewsArticle")
_MARKUP = re.compile(r"<[A-Za-z/!]")
_ATTR_SUFFIX = re.compile(r"^(?P<css>.+?)@(?P<attr>[A-Za-z_:][-A-Za-z0-9_:.]*)$")


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


# cssselect turns `#x` into a scan of every element; libxml2 indexes HTML ids, so id('x') is a lookup
# (~0.2 ms -> ~0.004 ms on a 100 KB page). Like getElementById it finds the first element of a
# duplicated id; [ancestor::html] keeps out an element dropped from the tree by body_exclude.
_ID_STEP = re.compile(r"(^|\| )descendant-or-self::(\*|[A-Za-z][\w-]*)\[@id = '([^'\\]*)'\]")


def _id_lookup(match: re.Match[str]) -> str:
    tag = "" if match[2] == "*" else f"[self::{match[2]}]"
    return f"{match[1]}id('{match[3]}'){tag}[ancestor::html]"


@lru_cache(maxsize=512)
def compiled_selector(selector: str) -> etree.XPath:
    return etree.XPath(_ID_STEP.sub(_id_lookup, css_to_xpath(selector)))


def selected(doc: html.HtmlElement, selector: str) -> list[Any]:
    return list(compiled_selector(selector)(doc))


class SourcePage:
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


def source_values(page: SourcePage, spec: str) -> list[Any]:
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
                for el in selected(doc, match["css"])
                if clean_text(el.get(match["attr"]))
            ]
        return [t for t in (clean_text(el.text_content()) for el in selected(doc, rest)) if t]
    return []


def as_text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("name") or value.get("@id") or ""
    if value is None:
        return ""
    text = str(value)
    # JSON-LD and og: values sometimes carry escaped entities or whole <p> elements (WordPress).
    if "<" in text and _MARKUP.search(text):
        text = html.fromstring(f"<div>{text}</div>").text_content()
    return clean_text(unescape(text))


def first_text(page: SourcePage, sources: Sequence[str]) -> tuple[str, str]:
    """The first non-empty value over `sources` and the source that gave it."""
    for spec in sources:
        for value in source_values(page, spec):
            text = as_text(value)
            if text:
                return text, spec
    return "", ""


def first_list(page: SourcePage, sources: Sequence[str], split: str, strip: Sequence[str] = ()) -> list[str]:
    """The values of the first source that yields any, strings split at `split` (bylines, keywords)."""
    for spec in sources:
        raw = source_values(page, spec)
        if spec.startswith("jsonld:") and any(isinstance(v, dict) for v in raw):
            # Authors as JSON-LD objects: persons only, an organisation is not a byline.
            names = person_names(raw)
        else:
            names = []
            for value in raw:
                text = as_text(value)
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


def marker_hit(page: SourcePage, spec: str, page_text: Callable[[], str]) -> bool:
    kind, _, rest = spec.partition(":")
    if kind == "text":
        return rest in page_text()
    if kind == "css":
        return bool(selected(page.doc, rest))
    name, sep, wanted = rest.partition("=")
    values = source_values(page, f"{kind}:{name}")
    if not sep:
        return any(as_text(v) for v in values)
    return any(str(v).strip().lower() == wanted.strip().lower() for v in values)
