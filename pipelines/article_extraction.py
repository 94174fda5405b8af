"""FetchedPage -> Article: page object first, then structured metadata, then trafilatura, per field.

`extract_article` is pure (no Scrapy, no I/O) so `newsarchive reextract`, `newsarchive parse` and the
extraction worker processes can run it on any page; `pipelines.extract` is the Scrapy adapter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata
from typing import Any, TypeVar

import py3langid

from core.items import Access, Article, FetchedPage, Image, PageFields
from pipelines.body_crosscheck import FALLBACK_KEY, compare, suspicion
from pipelines.charset import charset_report, decoded_text
from pipelines.dates import resolve_modified, resolve_published, to_jst_iso
from pipelines.generic_extract import GenericFields, filter_paragraphs, run_trafilatura
from pipelines.htmlmeta import HeadMeta, parse_html, read_head_meta, visible_text
from pipelines.textnorm import clean_line, join_paragraphs, text_hash

_T = TypeVar("_T")
_SEPARATORS = r"\s*[:：|｜\-–—]\s*"
_LANG_MIN_CHARS = 40  # below this py3langid guesses (an English headline can come out as Pidgin)
_JSONLD_ACCESS: dict[bool | None, Access | None] = {True: "free", False: "paywalled", None: None}
_KANA = re.compile(r"[\u3041-\u3096\u30a1-\u30fa]")
_KANA_MIN = 20  # and at least 5 % of the sample
_KANA_SHARE_SHORT = 5  # or, in a short text (a paywalled lead), at least 5 kana making a fifth of it
_LANG_SAMPLE = 4000  # enough for a reliable guess; classifying a whole long article costs time
_CLASSIFY_CHARS = 1000


PAGE_ERROR_KEY = "page_error"  # in Article.extraction: why the page object failed on this page
BODY_FALLBACK_KEY = FALLBACK_KEY  # in Article.extraction: page object and trafilatura bodies disagreed


class ExtractionError(Exception):
    """The page cannot become an Article (e.g. no WARC record to point to)."""


class SlowStepNeeded(Exception):
    """Raised by `extract_article(..., fast_only=True)` when the page needs trafilatura, or the language
    model before it is loaded: the caller runs the page again where a slow step cannot hold up the crawl
    (pipelines.extract)."""


_language_model_loaded = False  # py3langid loads its model on first use: ~0.5 s


@lru_cache(maxsize=1)
def extractor_versions() -> str:
    """What produced the text, so that a later reextract can tell old output from new."""
    parts = []
    for dist in ("newsarchive", "trafilatura", "htmldate", "lxml", "py3langid"):
        try:
            parts.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue
    return " ".join(parts)


def strip_site_suffix(title: str, site_names: list[str]) -> str:
    """'見出し：時事ドットコム' -> '見出し', also with an asahi-style region tag '見出し [宮崎県]：朝日新聞デジタル'."""
    for name in filter(None, site_names):
        pattern = rf"(?:\s*\[[^\]]{{1,20}}\])?{_SEPARATORS}{re.escape(name)}\s*$"
        stripped = re.sub(pattern, "", title)
        if stripped and stripped != title:
            return stripped.strip()
    return title


def detect_language(title: str, text: str, html_lang: str, *, fast_only: bool = False) -> tuple[str, str]:
    sample = f"{title}\n{text}"[:_LANG_SAMPLE]
    declared = html_lang.split("-")[0].lower()
    if len(sample.strip()) < _LANG_MIN_CHARS:
        return (declared, "html-lang") if declared else ("", "none")
    kana = len(_KANA.findall(sample))
    if (kana >= _KANA_MIN and kana * 20 >= len(sample)) or (
        kana >= _KANA_SHARE_SHORT and kana * 5 >= len(sample)
    ):
        # Kana are written only in Japanese: a page with this much of them needs no classifier
        # (py3langid costs ~1 ms per page, as much as a page object's whole parse, and loading its
        # model adds ~75 MB to the process, ~170 MB while it loads: a crawl of Japanese outlets whose
        # short paywalled leads came here used to load it for nothing; bench/pipeline.py).
        return "ja", "script:kana"
    # py3langid's cost grows with the text (~0.65 ms for 4000 characters): a thousand characters,
    # a few paragraphs, tell English from the rest as well.
    global _language_model_loaded
    if fast_only and not _language_model_loaded:
        raise SlowStepNeeded("the language model is not loaded yet")
    language, _score = py3langid.classify(sample[:_CLASSIFY_CHARS])
    _language_model_loaded = True
    return str(language), "py3langid"


def _pick(*candidates: tuple[str, Callable[[], _T]]) -> tuple[_T | None, str]:
    """The first truthy value in order, with the name of the method that produced it."""
    for method, produce in candidates:
        value = produce()
        if value:
            return value, method
    return None, "none"


def extract_article(
    page: FetchedPage,
    *,
    run_id: str,
    min_extracted_size: int = 50,
    check_body: bool = False,
    fast_only: bool = False,
) -> Article:
    """The Article of one fetched page. `check_body` compares every page object body with trafilatura's
    (benchmarks); otherwise only a body that looks wrong is compared (pipelines.body_crosscheck).
    With `fast_only`, a page that needs a slow step raises SlowStepNeeded instead."""
    if page.warc is None:
        raise ExtractionError(f"{page.url}: no WARC record for this page, an article must point to one")
    # A charset label that lies (Shift_JIS sent as UTF-8) must not cost the article: pipelines.charset.
    encoding, html = decoded_text(page.body, page.encoding, page.text)
    methods: dict[str, str] = {}
    fields: PageFields | None = None
    if page.parser is not None:
        try:
            fields = page.parser(html, page.url)
        except Exception as exc:
            # A page object broken by a layout change must not lose the outlet's articles: the generic
            # path takes over and the pipeline counts and logs the failure (PAGE_ERROR_KEY).
            methods[PAGE_ERROR_KEY] = f"{type(exc).__name__}: {exc}"
    parser_name = fields.parser if fields is not None else "page"
    # What the page object answered for good, empty or not: its fallbacks below are never consulted.
    owned = frozenset(fields.complete_fields) if fields is not None else frozenset()

    def pick(
        name: str, page_value: Callable[[], _T], *fallbacks: tuple[str, Callable[[], _T]]
    ) -> tuple[_T | None, str]:
        if name in owned:
            value = page_value()
            return (value, parser_name) if value else (None, "none")
        return _pick((parser_name, page_value), *fallbacks)

    parsed: list[tuple[Any, HeadMeta]] = []

    def head() -> HeadMeta:
        # A second lxml parse (~1.3 ms on a real page, as much as the page object itself): only when a
        # field the page object does not own (complete_fields) falls back to the page's structured
        # metadata, or the date to its visible text.
        if not parsed:
            tree = parse_html(html)
            parsed.append((tree, read_head_meta(tree) if tree is not None else HeadMeta()))
        return parsed[0][1]

    def page_text() -> str:
        head()
        tree = parsed[0][0]
        return visible_text(tree) if tree is not None else ""

    generic_cache: list[GenericFields] = []

    def generic() -> GenericFields:
        # trafilatura is the expensive step (~100 ms on Japanese pages): run it only when needed.
        if not generic_cache:
            if fast_only:
                raise SlowStepNeeded("trafilatura")
            generic_cache.append(run_trafilatura(html, page.url, min_extracted_size=min_extracted_size))
        return generic_cache[0]

    def generic_if_run() -> GenericFields:
        return generic_cache[0] if generic_cache else GenericFields()

    title, methods["title"] = _pick(
        (parser_name, lambda: clean_line(fields.title) if fields else ""),
        ("jsonld", lambda: strip_site_suffix(clean_line(head().headline), [head().site_name])),
        ("trafilatura", lambda: strip_site_suffix(generic().title, [generic().sitename, head().site_name])),
        ("meta:title", lambda: strip_site_suffix(clean_line(head().meta_title), [head().site_name])),
    )
    title = title or ""

    text, methods["text"] = _pick(
        (parser_name, lambda: join_paragraphs(fields.body_paragraphs) if fields else ""),
        (
            "trafilatura",
            lambda: join_paragraphs(
                filter_paragraphs(generic().paragraphs, [title, head().headline, generic().title])
            ),
        ),
    )
    text = text or ""
    if fields is not None and methods["text"] == parser_name:
        if check_body or suspicion(fields.body_paragraphs, fields.lead):
            generic_paragraphs = filter_paragraphs(
                generic().paragraphs, [title, head().headline, generic().title]
            )
            choice = compare(fields.body_paragraphs, generic_paragraphs)
            if choice is not None:
                methods[BODY_FALLBACK_KEY] = choice.describe()
                if choice.chosen == "trafilatura":
                    text, methods["text"] = join_paragraphs(generic_paragraphs), "trafilatura"

    page_published = fields.published_at if fields else None
    published_at, methods["published_at"] = resolve_published(
        page_published,
        # The page object's date wins when it is valid: then the metadata is never looked at.
        HeadMeta() if to_jst_iso(page_published) else head(),
        trafilatura_date=lambda: generic().date,
        text_source=page_text,
    )
    if methods["published_at"] == "page":
        methods["published_at"] = parser_name
    page_modified = fields.modified_at if fields else None
    modified_at, methods["modified_at"] = resolve_modified(
        page_modified, HeadMeta() if "modified_at" in owned or to_jst_iso(page_modified) else head()
    )
    if methods["modified_at"] == "page":
        methods["modified_at"] = parser_name

    authors, methods["authors"] = pick(
        "authors",
        lambda: list(fields.authors) if fields else [],
        ("jsonld", lambda: list(head().authors)),
        ("trafilatura", lambda: generic_if_run().authors),
    )
    section, methods["section"] = pick(
        "section",
        lambda: fields.section if fields else "",
        ("jsonld", lambda: head().section),
        ("trafilatura", lambda: next(iter(generic_if_run().categories), "")),
    )
    tags, methods["tags"] = _pick(
        (parser_name, lambda: list(fields.tags) if fields else []),
        ("trafilatura", lambda: generic_if_run().tags),
    )
    images, methods["images"] = pick(
        "images",
        lambda: list(fields.images) if fields else [],
        ("jsonld-or-og", lambda: [Image(head().image)] if head().image else []),
        ("trafilatura", lambda: [Image(generic_if_run().image)] if generic_if_run().image else []),
    )
    access, methods["access"] = _pick(
        (parser_name, lambda: fields.access if fields and fields.access != "unknown" else None),
        ("jsonld", lambda: _JSONLD_ACCESS[head().accessible_for_free]),
    )
    short = len(f"{title}\n{text}"[:_LANG_SAMPLE].strip()) < _LANG_MIN_CHARS
    language, methods["language"] = detect_language(
        title, text, head().lang if short else "", fast_only=fast_only
    )
    methods["versions"] = extractor_versions()

    return Article(
        url=page.url,
        fetched_url=page.fetched_url,
        outlet=page.outlet,
        title=title,
        published_at=published_at,
        text=text,
        topics=[],
        warc=page.warc,
        run_id=run_id,
        fetched_at=page.fetched_at,
        modified_at=modified_at,
        subtitle=clean_line(fields.subtitle) if fields else "",
        lead=clean_line(fields.lead) if fields else "",
        authors=authors or [],
        section=section or "",
        tags=tags or [],
        images=images or [],
        access=access or "unknown",
        # a body cut short in transfer is incomplete whatever the page says
        body_complete=(fields.body_complete if fields else True) and not page.truncated,
        language=language,
        charset=charset_report(page.headers, page.body, encoding, html),
        discovered_via=page.candidate.source if page.candidate else "",
        extraction=methods,
        text_hash=text_hash(text),
    )
