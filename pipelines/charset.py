"""Charset truth: what the server declared, what Scrapy used, and whether decoding lost characters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# w3lib is what Scrapy itself decodes with, so its label resolution (shift_jis -> cp932, ...) is the one
# that tells whether the declared charset is the one actually used.
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding

REPLACEMENT_CHAR = "\ufffd"


def declared_http_charset(headers: Mapping[str, Sequence[str]]) -> str | None:
    """Charset of the Content-Type header (last one wins, as in browsers), as a Python codec name."""
    values = headers.get("content-type") or headers.get("Content-Type") or []
    for value in reversed(list(values)):
        encoding = http_content_type_encoding(value)
        if encoding:
            return encoding
    return None


def declared_meta_charset(body: bytes) -> str | None:
    """Charset of <meta charset> / <meta http-equiv> (first 4 KiB), as a Python codec name."""
    return html_body_declared_encoding(body)


def charset_report(headers: Mapping[str, Sequence[str]], body: bytes, used: str, text: str) -> dict[str, Any]:
    """The Article.charset record. replacement_chars > 0 means the decoded text is not the page's text."""
    return {
        "declared_http": declared_http_charset(headers),
        "declared_meta": declared_meta_charset(body),
        "used": used,
        "replacement_chars": text.count(REPLACEMENT_CHAR),
    }
