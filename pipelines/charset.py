"""Charset truth: what the server declared, what Scrapy used, and whether decoding lost characters."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# w3lib is what Scrapy itself decodes with, so its label resolution (shift_jis -> cp932, ...) is the one
# that tells whether the declared charset is the one actually used.
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding

REPLACEMENT_CHAR = "\ufffd"
# Tried when the declared charset could not decode the page (a server that labels Shift_JIS pages UTF-8):
# what Japanese news sites really send.
FALLBACK_CHARSETS = ("utf-8", "cp932", "euc_jp")
# cp932 "decodes" almost any bytes: undefined ones become C1 controls or private-use characters, which
# no article contains. A candidate giving any of them is refused.
_IMPOSSIBLE = re.compile("[\x80-\x9f\ue000-\uf8ff]")
# EUC-JP text read as cp932 comes out as half-width katakana, rare in news text: the fewer, the likelier.
_UNLIKELY = re.compile("[\uff61-\uff9f]")


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


def _strict(body: bytes, charset: str) -> str | None:
    try:
        return body.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return None


def decoded_text(body: bytes, used: str, text: str) -> tuple[str, str]:
    """(charset, text) of the page: `text` as Scrapy decoded it with `used`, unless that replaced bytes
    (U+FFFD) which another charset decodes without loss: the meta-declared one or FALLBACK_CHARSETS,
    the most plausible of those that decode every byte.

    A label that lies is the common charset fault, and trusting it loses the article. A page whose bytes
    no candidate decodes plausibly (truncated, or really broken) keeps Scrapy's text: its U+FFFD count in
    the charset report says so. The declared charsets stay in the report, so the lie remains visible."""
    if REPLACEMENT_CHAR not in text or _strict(body, used) is not None:
        return used, text  # nothing replaced, or the U+FFFD are in the page itself
    best: tuple[int, str, str] | None = None
    for charset in dict.fromkeys((declared_meta_charset(body), *FALLBACK_CHARSETS)):
        if not charset or charset == used:
            continue
        decoded = _strict(body, charset)
        if decoded is None or _IMPOSSIBLE.search(decoded):
            continue
        unlikely = len(_UNLIKELY.findall(decoded))
        if best is None or unlikely < best[0]:
            best = (unlikely, charset, decoded)
    return (best[1], best[2]) if best is not None else (used, text)
