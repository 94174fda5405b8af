"""What a researcher selects from an archive: topics, outlets, a published-date range and a full-text query,
and the articles that match, streamed from the archive's article index (archive.article_index).

Every researcher-facing command (export, search, serve, WACZ bundles) selects through here, so they all
agree on what "the articles of topic T in March" are:

- the latest version of each article (keyed by its canonical `url`; latest = newest `fetched_at`, then
  newest `run_id`: a re-extraction of a capture supersedes the row it re-extracted);
- an article matches `topics` when any topic it was *accepted* for is listed (a topic judged but not
  accepted, as `--archive-all` keeps them, does not count);
- `since`/`until` apply to the JST calendar day of `published_at`, both inclusive; an article without a
  known publication day is left out as soon as either bound is given;
- `query` is a full-text query over title and text (archive.search_index: trigram FTS5, or substring
  search for queries of fewer than three characters).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from archive.article_index import open_index
from archive.root_access import ArchiveRoot
from archive.storage import Store


@dataclass(frozen=True)
class Selection:
    topics: tuple[str, ...] = ()  # empty = any topic (an article matches when any of its topics is listed)
    outlets: tuple[str, ...] = ()  # empty = every outlet
    since: date | None = None  # on published_at, JST calendar date, inclusive
    until: date | None = None  # inclusive
    query: str | None = None  # full-text query (FTS5 trigram; see archive/search_index.py)

    def describe(self) -> dict[str, Any]:
        """The filters as JSON-able values (for manifests and logs); unset filters are null / []."""
        return {
            "topics": list(self.topics),
            "outlets": list(self.outlets),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "query": self.query or None,
        }


def select_articles(
    root: str | Path | ArchiveRoot, selection: Selection, *, store: Store | None = None
) -> Iterator[dict[str, Any]]:
    """The latest version of each selected article as its archived JSON row (schema-valid dict, with its
    `warc` pointer), newest published first, streamed (never the whole archive in memory).

    `root` is a local archive folder or an `s3://bucket/prefix` URL (see archive.root_access.open_root);
    `store` is the store of an s3:// archive whose local spool `root` is. The article index is refreshed
    first, so rows published since the last call are included.
    """
    with open_index(root, store=store) as index:
        yield from index.rows(index.select_ids(selection))


def count_articles(
    root: str | Path | ArchiveRoot, selection: Selection, *, store: Store | None = None
) -> int:
    """How many articles select_articles would give, without reading their rows."""
    with open_index(root, store=store) as index:
        return sum(1 for _ in index.select_ids(selection))
