"""Full-text search over an archive's articles, for Japanese text: SQLite FTS5 with the trigram tokenizer.

The index itself is archive.article_index (`<root>/.search.sqlite`, refreshed incrementally before each
search). A query is split on spaces (ASCII or ideographic) into terms that must all occur in the title
or the text, anywhere, mid-word included (Japanese writes no spaces between words). Terms of three
characters or more use the trigram index; shorter ones are substring tests over the articles the other
terms and filters leave. Matching ignores ASCII case. Hits come newest published first, the latest
version of each article only.

Each hit carries a snippet of the text around the first match, with the matches marked for a terminal
(`[` `]`) and as character offsets for any other rendering (`snippet_html()` wraps them in <mark>).
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.article_index import open_index, query_terms
from archive.root_access import ArchiveRoot
from archive.selection import Selection
from archive.storage import Store

SNIPPET_BEFORE = 30  # characters of context before the first match
SNIPPET_LENGTH = 120  # characters of a snippet in all
ELLIPSIS = "…"


@dataclass(frozen=True)
class SearchHit:
    url: str
    outlet: str
    published_at: str | None
    title: str
    snippet: str  # with each match between [ and ], for a terminal
    snippet_text: str = ""  # the same text without markers
    highlights: tuple[tuple[int, int], ...] = ()  # (start, end) of each match in snippet_text
    title_highlights: tuple[tuple[int, int], ...] = ()  # (start, end) of each match in title
    fetched_at: str | None = None
    topics: tuple[str, ...] = field(default=())  # the topics the article was accepted for

    def snippet_html(self) -> str:
        """The snippet as HTML, matches in <mark> (everything else escaped)."""
        return mark_html(self.snippet_text, self.highlights)

    def title_html(self) -> str:
        return mark_html(self.title, self.title_highlights)

    def as_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["highlights"] = [list(span) for span in self.highlights]
        data["title_highlights"] = [list(span) for span in self.title_highlights]
        data["topics"] = list(self.topics)
        data["snippet_html"] = self.snippet_html()
        return data


def mark_html(text: str, spans: Sequence[tuple[int, int]], tag: str = "mark") -> str:
    out, pos = [], 0
    for start, end in spans:
        out.append(html.escape(text[pos:start]))
        out.append(f"<{tag}>{html.escape(text[start:end])}</{tag}>")
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


def mark_terminal(text: str, spans: Sequence[tuple[int, int]], open_: str = "[", close: str = "]") -> str:
    out, pos = [], 0
    for start, end in spans:
        out += [text[pos:start], open_, text[start:end], close]
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    if not terms:
        return None
    # Longest first, so an alternation prefers "軍事協力" to "軍事" where both start.
    return re.compile(
        "|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True)), re.IGNORECASE
    )


def match_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    pattern = _pattern(terms)
    return [] if pattern is None else [m.span() for m in pattern.finditer(text)]


def make_snippet(text: str, terms: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """A window of `text` around the first match of any term (the start of the text when none matches)
    and the matches inside it, as offsets into the returned snippet."""
    flat = re.sub(r"\s", " ", text)  # one character for one: offsets stay valid
    spans = match_spans(flat, terms)
    start = max(0, spans[0][0] - SNIPPET_BEFORE) if spans else 0
    end = min(len(flat), start + SNIPPET_LENGTH)
    if spans and spans[0][1] > end:  # a very long term: show it whole
        end = spans[0][1]
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < len(flat) else ""
    shift = len(prefix) - start
    inside = [(s + shift, e + shift) for s, e in spans if s >= start and e <= end]
    return prefix + flat[start:end] + suffix, inside


def search(
    root: str | Path | ArchiveRoot,
    query: str,
    selection: Selection | None = None,
    *,
    limit: int = 50,
    store: Store | None = None,
) -> list[SearchHit]:
    """The articles (latest versions) matching `query` and the selection's filters, newest first.
    A query given in the selection too must match as well. An empty query raises ValueError."""
    terms = query_terms(query)
    if not terms:
        raise ValueError("empty search query")
    base = selection or Selection()
    combined = " ".join(filter(None, [base.query, query]))
    chosen = dataclasses.replace(base, query=combined)
    all_terms = query_terms(combined)
    with open_index(root, store=store) as index:
        ids = index.select_ids(chosen, limit=limit)
        docs = index.docs(ids)
        topics = index.topics_of(ids)
    hits = []
    for doc in docs:
        title = str(doc.get("title") or "")
        text, spans = make_snippet(str(doc.get("fts_text") or ""), all_terms)
        hits.append(
            SearchHit(
                url=doc["url"],
                outlet=str(doc.get("outlet") or ""),
                published_at=doc.get("published_at"),
                title=title,
                snippet=mark_terminal(text, spans),
                snippet_text=text,
                highlights=tuple(spans),
                title_highlights=tuple(match_spans(title, all_terms)),
                fetched_at=doc.get("fetched_at"),
                topics=tuple(topics.get(doc["id"], ())),
            )
        )
    return hits
