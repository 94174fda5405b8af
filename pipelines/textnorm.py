"""Text normalisation shared by extraction (clean text, hashes) and topic matching."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

# ASCII whitespace only: U+3000 (ideographic space) inside a Japanese paragraph or headline is content
# (it separates a headline from its attribution, e.g. "津波注意報　気象庁"), not markup indentation.
_ASCII_WS = re.compile(r"[ \t\r\n\f\v]+")
_ANY_WS = re.compile(r"\s+")


def clean_line(value: str) -> str:
    """One paragraph or headline: HTML source line breaks collapsed, leading indentation dropped."""
    return _ASCII_WS.sub(" ", value).strip()


def join_paragraphs(paragraphs: Iterable[str]) -> str:
    """The Article.text form: cleaned, non-empty paragraphs separated by one blank line."""
    return "\n\n".join(p for p in (clean_line(p) for p in paragraphs) if p)


def fold(value: str) -> str:
    """Matching form: NFKC makes full-/half-width variants equal (ﾐｻｲﾙ -> ミサイル, Ｒｕｓｓｉａ -> Russia)
    without turning katakana into hiragana; casefold then removes case."""
    return unicodedata.normalize("NFKC", value).casefold()


def text_hash(text: str) -> str:
    """Content identity of an article body, stable across width variants and re-wrapping."""
    canonical = _ANY_WS.sub(" ", unicodedata.normalize("NFKC", text)).strip()
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
