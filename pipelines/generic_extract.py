"""The generic path: trafilatura for pages no page object understands (or fields it could not find)."""

from __future__ import annotations

import re
from configparser import ConfigParser
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import trafilatura
from trafilatura.settings import use_config

from pipelines.dates import is_dateline
from pipelines.textnorm import clean_line, fold

# Calls to action that trafilatura sometimes keeps as paragraphs. Only short paragraphs are tested, so a
# real article that talks about subscriptions keeps its sentences.
_BOILERPLATE = re.compile(
    r"有料会員|会員限定|会員登録|無料会員|読み放題|ログインして|続きを読む|この記事は有料|残り\d+文字"
    r"|アクセスランキング|関連記事|あわせて読みたい"
)
_BOILERPLATE_MAX_LEN = 120
# Whole-paragraph UI strings (buttons, toasts) that carry no article text.
_UI_STRINGS = {
    "完了しました",
    "保存しました",
    "印刷する",
    "シェア",
    "ブックマーク",
    "メールでシェアする",
    "広告",
    "PR",
    "[PR]",
}


@dataclass
class GenericFields:
    title: str = ""
    sitename: str = ""
    paragraphs: list[str] = field(default_factory=list)
    date: str | None = None  # day only (htmldate without extensive search)
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    image: str = ""


@lru_cache(maxsize=8)
def _config(min_extracted_size: int) -> ConfigParser:
    config = use_config()
    # Short Jiji flash items are below trafilatura's 250-character default.
    config.set("DEFAULT", "MIN_EXTRACTED_SIZE", str(min_extracted_size))
    # trafilatura's own timeout uses signals, which only work on the main thread; the pipeline limits
    # the time instead.
    config.set("DEFAULT", "EXTRACTION_TIMEOUT", "0")
    return config


def _split(value: str | None, sep: str) -> list[str]:
    return [v.strip() for v in (value or "").split(sep) if v.strip()]


def _block_lines(element: Any) -> list[str]:
    """A block's text split at <lb/>: Japanese sites often write paragraphs as <br>-separated lines."""
    lines = [element.text or ""]
    for child in element:
        if child.tag == "lb":
            lines.append("")
        else:
            lines[-1] += "".join(child.itertext())
        lines[-1] += child.tail or ""
    return lines


def _body_paragraphs(body: Any) -> list[str]:
    """Block-level texts of trafilatura's output tree, in order (a list contributes one per item)."""
    paragraphs: list[str] = []
    if body is None:
        return paragraphs
    for child in body:
        if child.tag == "list":
            for item in child.iter("item"):
                paragraphs.extend(_block_lines(item))
        elif child.tag not in ("table", "graphic"):
            paragraphs.extend(_block_lines(child))
    return paragraphs


def is_boilerplate(paragraph: str) -> bool:
    text = clean_line(paragraph)
    if text in _UI_STRINGS:
        return True
    return len(text) <= _BOILERPLATE_MAX_LEN and _BOILERPLATE.search(text) is not None


def filter_paragraphs(paragraphs: list[str], titles: list[str]) -> list[str]:
    """Drop the repeated headline, bare datelines and calls to action from trafilatura's paragraphs."""
    title_keys = {fold(clean_line(t)).replace(" ", "") for t in titles if t}
    kept = []
    for paragraph in paragraphs:
        text = clean_line(paragraph)
        if not text or fold(text).replace(" ", "") in title_keys or is_dateline(text) or is_boilerplate(text):
            continue
        kept.append(text)
    return kept


def run_trafilatura(html: str, url: str, *, min_extracted_size: int) -> GenericFields:
    """trafilatura on DECODED html: given bytes it guesses shift_jis_2004 and turns ～ into 〜."""
    document = trafilatura.bare_extraction(
        html,
        url=url,
        fast=True,  # same F1 on benchmarks, a third faster on Japanese pages (STACK-NOTES)
        favor_precision=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
        with_metadata=True,
        date_extraction_params={"extensive_search": False, "original_date": True},
        config=_config(min_extracted_size),
    )
    if document is None or isinstance(document, dict):
        return GenericFields()
    return GenericFields(
        title=clean_line(document.title or ""),
        sitename=clean_line(document.sitename or ""),
        paragraphs=_body_paragraphs(document.body),
        date=document.date,
        authors=_split(document.author, ";"),
        categories=[c for c in (document.categories or []) if c],
        tags=[t for tag in (document.tags or []) for t in _split(tag, ",")],
        image=document.image or "",
    )
