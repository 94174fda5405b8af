"""Aggregate figures about a selection, answered by the article index without reading any row: articles
per published day (the browse page's chart) and the outlets and topics an archive holds (its filters).

Same rules as archive.selection (latest version of each article, accepted topics, JST days), since the
WHERE clause is the index's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from archive.article_index import ArticleIndex, open_index
from archive.root_access import ArchiveRoot
from archive.selection import Selection
from archive.storage import Store


@dataclass(frozen=True)
class Facets:
    outlets: tuple[str, ...]  # outlets with at least one article, sorted
    topics: tuple[str, ...]  # topics at least one article was accepted for, sorted


@dataclass(frozen=True)
class SelectionStats:
    total: int  # articles selected (as archive.selection.count_articles counts them)
    per_day: dict[date, int]  # of those, per JST published day
    unknown_day: int  # of those, without a known published day
    facets: Facets  # of the whole archive, not of the selection
    generation: int  # how many article files the index holds: the facets change only when it does


def _per_day(index: ArticleIndex, selection: Selection) -> tuple[dict[date, int], int]:
    where, params = index.where(selection)
    counts: dict[date, int] = {}
    unknown = 0
    for day, n in index.conn.execute(
        f"SELECT d.day, COUNT(*) FROM docs d WHERE {where} GROUP BY d.day", params
    ):
        try:
            counts[date.fromisoformat(day)] = n
        except ValueError:
            unknown += n
    return counts, unknown


def _facets(index: ArticleIndex) -> Facets:
    outlets = [o for (o,) in index.conn.execute("SELECT DISTINCT outlet FROM docs WHERE latest = 1") if o]
    topics = [
        t
        for (t,) in index.conn.execute(
            "SELECT DISTINCT t.topic FROM doc_topics t JOIN docs d ON d.id = t.doc_id WHERE d.latest = 1"
        )
    ]
    return Facets(outlets=tuple(sorted(outlets)), topics=tuple(sorted(topics)))


def day_counts(
    root: str | Path | ArchiveRoot, selection: Selection, *, store: Store | None = None
) -> tuple[dict[date, int], int]:
    """Articles of the selection per JST published day, and how many have no known day."""
    with open_index(root, store=store) as index:
        return _per_day(index, selection)


def facets(root: str | Path | ArchiveRoot, *, store: Store | None = None) -> Facets:
    """The outlets and accepted topics present among the latest article versions."""
    with open_index(root, store=store) as index:
        return _facets(index)


def selection_stats(
    root: str | Path | ArchiveRoot,
    selection: Selection,
    *,
    store: Store | None = None,
    known: tuple[int, Facets] | None = None,
) -> SelectionStats:
    """Count, per-day counts and the archive's facets in one visit to the (refreshed) index. `known` is
    (generation, facets) from an earlier call: reused when no article file was added since (finding
    the facets reads every row: a few hundred ms at 100,000 articles)."""
    with open_index(root, store=store) as index:
        generation = int(index.conn.execute("SELECT COUNT(*) FROM ingested").fetchone()[0])
        per_day, unknown = _per_day(index, selection)
        found = known[1] if known is not None and known[0] == generation else _facets(index)
        return SelectionStats(
            total=sum(per_day.values()) + unknown,
            per_day=per_day,
            unknown_day=unknown,
            facets=found,
            generation=generation,
        )
