"""Wire copies: articles whose bodies are the same story share a `story_cluster_id`; every copy is kept.

Two articles belong to one cluster when their normalised bodies are identical (same `text_hash`) or
nearly so: published at most `WINDOW_DAYS` apart, and the estimated Jaccard similarity of their
character 4-gram sets is at least `JACCARD_THRESHOLD`, or one body is mostly contained in the other
(`CONTAINMENT_THRESHOLD`, for a paper that prints a Kyodo/Jiji story and adds its own paragraphs). Character n-grams after NFKC and
whitespace removal suit Japanese, which has no spaces between words.

The similarity estimate is a bottom-k MinHash sketch (pipelines.story_sketch: the k smallest 64-bit
shingle hashes). No MinHash
library is installed (datasketch is not in the venv and installing one was out of scope); bottom-k needs a
single hash function, so the whole sketch is ~30 lines of standard library, is deterministic across
processes (blake2b, not Python's salted hash()), is exact for bodies of up to k shingles, and an inverted
index on the sketch values finds the candidates without comparing against every stored article.

Cluster ids: "story:" + the first 16 hex digits of the text_hash of the first article the index saw in
that cluster. What is guaranteed (tests/test_dedup.py):
- within one index, articles with the same text_hash always get the same id;
- which articles share a cluster does not depend on arrival order as long as similarity is not chained
  (A~B, B~C but not A~C: then the first arrival decides which cluster B joins);
- the id itself is the hash of the cluster's first arrival, so in a live crawl (where arrival order is not
  fixed) a pair of copies gets the id of whichever was extracted first. `seed()`-ing the index with rows
  already archived (the pipeline does it for earlier runs' JSONL; reextract for the archive it re-reads)
  makes known texts keep their archived id whatever the order.
An article with (almost) no text gets a singleton cluster keyed by its URL: all empty bodies share one
text_hash, and they are not one story.
"""

from __future__ import annotations

import logging
import threading
from array import array
from collections.abc import Iterable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from archive.jsonl import iter_row_files, read_rows
from core.config import ConfigError
from pipelines.cluster_candidates import SketchColumns, new_posting, ranked_candidates, shared_counts
from pipelines.story_sketch import (
    CONTAINMENT_THRESHOLD,
    JACCARD_THRESHOLD,
    MIN_CONTAINMENT_SHINGLES,
    MIN_NEAR_SHINGLES,
    MIN_SHARED,
    SHINGLE_SIZE,
    SKETCH_SIZE,
    STORY_PREFIX,
    WINDOW_DAYS,
    Match,
    Signature,
    Sketch,
    cluster_id_for,
    day_number,
    normalise_for_shingles,
    shingle_hashes,
    singleton_id,
)

logger = logging.getLogger(__name__)

# Re-exported: the pipeline's users and tests import the sketch's names from here.
__all__ = [
    "CONTAINMENT_THRESHOLD",
    "JACCARD_THRESHOLD",
    "MIN_CONTAINMENT_SHINGLES",
    "MIN_NEAR_SHINGLES",
    "SHINGLE_SIZE",
    "SKETCH_SIZE",
    "STORY_PREFIX",
    "WINDOW_DAYS",
    "Match",
    "Signature",
    "Sketch",
    "StoryClusterIndex",
    "cluster_id_for",
    "iter_article_rows",
    "normalise_for_shingles",
    "partition_files",
    "seed_from_rows",
    "shingle_hashes",
]


class StoryClusterIndex:
    """In-memory index of the bodies seen so far and their clusters. Thread-safe; no I/O."""

    def __init__(
        self,
        *,
        jaccard_threshold: float = JACCARD_THRESHOLD,
        containment_threshold: float = CONTAINMENT_THRESHOLD,
        min_near_shingles: int = MIN_NEAR_SHINGLES,
        window_days: int = WINDOW_DAYS,
    ) -> None:
        if not 0 < jaccard_threshold <= 1 or not 0 < containment_threshold <= 1:
            raise ConfigError("story cluster thresholds must be in (0, 1]")
        self.jaccard_threshold = jaccard_threshold
        self.containment_threshold = containment_threshold
        self.min_near_shingles = min_near_shingles
        self.window_days = window_days
        self._by_hash: dict[str, str] = {}  # text_hash -> cluster id
        self._sketches: list[tuple[Sketch, str, int | None]] = []  # (sketch, cluster, day), in order
        # JST day number (None: undated) -> sketch value -> indexes into _sketches. By day, so that a
        # body is compared only with the bodies of its window: the rest were skipped after counting
        # anyway, and counting them made a long crawl quadratic (bench/pipeline.py, 4x the pages).
        self._postings: dict[int | None, dict[int, array[int]]] = {}
        self._columns = SketchColumns()  # the numbers of _sketches the candidate filter reads
        self._shortest = SKETCH_SIZE  # the fewest values of an indexed sketch
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._by_hash)

    def assign(
        self,
        text_hash: str,
        text: str,
        url: str = "",
        published_at: str | None = None,
        *,
        signature: Signature | None = None,
    ) -> str:
        """The cluster id for a new article body (joining an existing cluster or starting one).

        `signature`: Signature.of(text) computed beforehand (e.g. in a worker process), so that only
        the index lookup is left to do here; the result is the same as without it."""
        return self.place(text_hash, text, url, published_at, signature=signature)[0]

    def place(
        self,
        text_hash: str,
        text: str,
        url: str = "",
        published_at: str | None = None,
        *,
        signature: Signature | None = None,
    ) -> tuple[str, str]:
        """As assign, with how the id was found: "copy" (an exact or near copy of a known body),
        "new" (a story not seen before) or "no_text" (too short to compare: a singleton)."""
        # The sketch is the costly part: done outside the lock (or elsewhere, given as `signature`).
        sketch = (signature or Signature.of(text)).sketch
        if sketch is None:
            return singleton_id(url or text_hash), "no_text"
        day = day_number(published_at)
        with self._lock:
            known = self._by_hash.get(text_hash)
            if known is not None:
                return known, "copy"
            match = self._best_match(sketch, day)
            cluster = match.cluster_id if match else cluster_id_for(text_hash)
            self._add(text_hash, sketch, cluster, day)
            return cluster, "copy" if match else "new"

    def seed(
        self,
        text_hash: str,
        text: str,
        cluster_id: str,
        published_at: str | None = None,
        *,
        signature: Signature | None = None,
    ) -> None:
        """Record an already archived body with the cluster id it was given (first id for a hash wins);
        `signature` as for assign."""
        if not cluster_id:
            return
        sketch = (signature or Signature.of(text)).sketch
        if sketch is None:
            return
        with self._lock:
            if text_hash not in self._by_hash:
                self._add(text_hash, sketch, cluster_id, day_number(published_at))

    def best_match(
        self, text: str, published_at: str | None = None, *, signature: Signature | None = None
    ) -> Match | None:
        """The most similar known cluster above the thresholds (for explaining a decision);
        `signature` as for assign."""
        sketch = (signature or Signature.of(text)).sketch
        if sketch is None:
            return None
        with self._lock:
            return self._best_match(sketch, day_number(published_at))

    def _add(self, text_hash: str, sketch: Sketch, cluster: str, day: int | None) -> None:
        self._by_hash[text_hash] = cluster
        index = len(self._sketches)
        self._sketches.append((sketch, cluster, day))
        self._columns.append(len(sketch.values), sketch.size, day)
        self._shortest = min(self._shortest, len(sketch.values))
        postings = self._postings.setdefault(day, {})
        for value in sketch.values:
            posting = postings.get(value)
            if posting is None:
                postings[value] = new_posting(index)
            else:
                posting.append(index)

    def _postings_near(self, day: int | None) -> list[dict[int, array[int]]]:
        """The postings of the days a body of `day` may be compared with (undated ones: with all)."""
        if day is None:
            return list(self._postings.values())
        return [p for d, p in self._postings.items() if d is None or abs(d - day) <= self.window_days]

    def _best_match(self, sketch: Sketch, day: int | None) -> Match | None:
        if sketch.size < self.min_near_shingles:
            return None
        values = sketch.values
        # One count over every posting list found, in C (pipelines.cluster_candidates: why numpy).
        indexes, counts = shared_counts(
            chain.from_iterable(
                filter(None, map(postings.get, values)) for postings in self._postings_near(day)
            )
        )
        # A pair sharing fewer than MIN_SHARED values is never compared (unless a sketch is that short;
        # the shortest indexed one decides where counting stops).
        floor = min(MIN_SHARED, len(values))
        # Each candidate's upper bound first, from the count alone (containment grows with the Jaccard
        # estimate, so its bound follows from the same one; most candidates share only a stock sentence
        # or two and fall here); then the full comparisons, highest bound first, until no bound left can
        # beat (or tie) the best found. On the simulator, where a day's bodies are near copies of each
        # other, this skips most comparisons; the result is the same.
        candidates = ranked_candidates(
            indexes,
            counts,
            self._columns,
            length=len(values),
            size=sketch.size,
            day=day,
            stop=min(floor, self._shortest),
            floor=floor,
            k=SKETCH_SIZE,
            window_days=self.window_days,
            min_near_shingles=self.min_near_shingles,
            min_containment_shingles=MIN_CONTAINMENT_SHINGLES,
            jaccard_threshold=self.jaccard_threshold,
            containment_threshold=self.containment_threshold,
        )
        mine = frozenset(sketch.values)
        best: tuple[float, int, Match] | None = None
        for bound, index in candidates:
            if best is not None and bound < best[0]:
                break
            other, cluster, _ = self._sketches[index]
            jaccard = sketch.jaccard(other, mine=mine)
            containment = sketch.containment(other, jaccard)
            if min(sketch.size, other.size) < MIN_CONTAINMENT_SHINGLES:
                containment = 0.0
            if jaccard < self.jaccard_threshold and containment < self.containment_threshold:
                continue
            # Highest similarity wins; on a tie the earliest indexed article, so the result is stable.
            key = (max(jaccard, containment), -index)
            if best is None or key > best[:2]:
                best = (key[0], key[1], Match(cluster, jaccard, containment))
        return best[2] if best else None


# ------------------------------------------------------------------ seeding from the archive


def iter_article_rows(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Rows of closed article files (a line that is not a JSON object, which closed files never have,
    is skipped: seeding uses what is there)."""
    for path in paths:
        yield from read_rows(path, skip_bad_lines=True)


def seed_from_rows(
    index: StoryClusterIndex,
    rows: Iterable[dict[str, Any]],
    *,
    signatures: Iterable[Signature | None] | None = None,
) -> int:
    """Seed the index with archived rows, in the order given. Rows from before story clusters existed
    (no story_cluster_id) are clustered as if they arrived now. `signatures`: Signature.of(row text)
    computed beforehand, one per row given (None: compute it here). Returns the number of rows read."""
    n = 0
    given = iter(signatures) if signatures is not None else None
    for row in rows:
        signature = next(given) if given is not None else None
        text, text_hash = str(row.get("text") or ""), str(row.get("text_hash") or "")
        if not text_hash:
            continue
        n += 1
        cluster = row.get("story_cluster_id")
        published = row.get("published_at")
        published = str(published) if published else None
        if cluster:
            index.seed(text_hash, text, str(cluster), published, signature=signature)
        else:
            index.assign(text_hash, text, str(row.get("url") or ""), published, signature=signature)
    return n


def partition_files(root: Path, days: Iterable[str], *, exclude_run_id: str = "") -> list[Path]:
    """Closed article files of the given day partitions (all outlets), oldest run first.

    File names start with the run id, which sorts by start time: the earliest archived id of a text wins.
    """
    found: list[Path] = []
    for day in days:
        found += iter_row_files(root, day=day)
    if exclude_run_id:
        found = [p for p in found if not p.name.startswith(exclude_run_id + "-")]
    return sorted(found, key=lambda p: (p.name, str(p)))
