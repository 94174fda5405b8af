"""The second opinion on a page object's body: compare it with trafilatura's, choose, and say why.

A page object reads its outlet's selectors; when the site changes its layout, the selectors quietly
return a part of the article (a wrapper moved) or more than the article (a caption box now matches).
trafilatura knows no outlet and fails differently, so a strong disagreement between the two on the same
page is a signal worth recording. The rule (issue 16):

- the two bodies disagree strongly when the page object's length over trafilatura's is outside
  0.6-1.6 (characters, whitespace ignored, NFKC);
- then the one whose text is contained in the other's paragraph set is preferred: everything it says
  the other extractor confirms, while the longer one carries text nobody else vouches for. When both or
  neither is contained, or trafilatura found nothing, the page object's body stays;
- both lengths and the choice go into `Article.extraction["text_fallback"]` (see docs/article-schema.md).

Cost: trafilatura costs ~100 ms on a Japanese page against a few ms for the whole page object
(STACK-NOTES), so it runs only when `suspicion` finds something wrong with the page object's body from
what the page object already returned (no parse, no trafilatura): a body shorter than 0.6 x its own
lead (the lead summarises the opening, a body shorter than its summary lost text), or a paragraph that
is a call to action, teaser or UI string (furniture that slipped in). A plausible body is never checked.
`bench/body_f1.py` runs the check on every real sample (`check_body=True`) to show the ratios.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from pipelines.generic_extract import is_boilerplate

FALLBACK_KEY = "text_fallback"  # in Article.extraction
RATIO_LOW = 0.6
RATIO_HIGH = 1.6
_WS = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _WS.sub("", unicodedata.normalize("NFKC", text))


def body_chars(paragraphs: Sequence[str]) -> int:
    return sum(len(_norm(p)) for p in paragraphs)


def suspicion(paragraphs: Sequence[str], lead: str) -> str:
    """Why the page object's body needs trafilatura's opinion; "" when it looks plausible."""
    if lead and body_chars(paragraphs) < RATIO_LOW * len(_norm(lead)):
        return "shorter-than-lead"
    if any(is_boilerplate(p) for p in paragraphs):
        return "notice-in-body"
    return ""


def contained(inner: Sequence[str], outer: Sequence[str]) -> bool:
    """Every paragraph of `inner` occurs in `outer`'s paragraphs (which may split or join lines
    differently: matched against their concatenation, a paragraph boundary never inside a match)."""
    haystack = "\u0000".join(_norm(p) for p in outer)
    needles = [n for n in (_norm(p) for p in inner) if n]
    return bool(needles) and all(n in haystack for n in needles)


@dataclass(frozen=True)
class BodyChoice:
    page_chars: int
    generic_chars: int
    chosen: str  # "page" or "trafilatura"
    reason: str

    def describe(self) -> str:
        """The provenance value: `page=N trafilatura=N chose=page|trafilatura reason=...`."""
        return f"page={self.page_chars} trafilatura={self.generic_chars} chose={self.chosen} reason={self.reason}"


def compare(page: Sequence[str], generic: Sequence[str]) -> BodyChoice | None:
    """The choice between the two bodies when they disagree strongly, None when they agree."""
    page_chars, generic_chars = body_chars(page), body_chars(generic)
    if not page_chars:
        return None  # nothing to second-guess: extract_article already uses trafilatura
    if generic_chars and RATIO_LOW <= page_chars / generic_chars <= RATIO_HIGH:
        return None
    if not generic_chars:
        return BodyChoice(page_chars, 0, "page", "trafilatura-empty")
    page_in, generic_in = contained(page, generic), contained(generic, page)
    if generic_in and not page_in:
        return BodyChoice(page_chars, generic_chars, "trafilatura", "page-has-unconfirmed-text")
    if page_in and not generic_in:
        return BodyChoice(page_chars, generic_chars, "page", "trafilatura-has-unconfirmed-text")
    return BodyChoice(page_chars, generic_chars, "page", "both-contained" if page_in else "neither-contained")
