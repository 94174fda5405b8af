"""Wire copies: articles whose bodies are the same story share a `story_cluster_id`; every copy is kept.

Two articles belong to one cluster when their normalised bodies are identical (same `text_hash`) or
nearly so: published at most `WINDOW_DAYS` apart, and the estimated Jaccard similarity of their
character 4-gram sets is at least `JACCARD_THRESHOLD`, or one body is mostly contained in the other
(`CONTAINMENT_THRESHOLD`, for a paper that prints a Kyodo/Jiji story and adds its own paragraphs). Character n-grams after NFKC and
whitespace removal suit Japanese, which has no spaces between words.

The similarity estimate is a bottom-k MinHash sketch (the k smallest 64-bit shingle hashes). No MinHash
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

import asyncio
import hashlib
import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import chain
from pathlib import Path
from typing import Any

from archive.jsonl import iter_row_files, read_rows
from core.config import ConfigError
from core.items import Article

logger = logging.getLogger(__name__)

SHINGLE_SIZE = 4
SKETCH_SIZE = 128
# Measured on the simulator's articles, which draw sentences from one pool: different stories there reach
# Jaccard 0.58 / containment 0.73; a wire story with a few sentences reworded and another dateline stays
# above 0.65 (tests/test_dedup.py).
JACCARD_THRESHOLD = 0.6
CONTAINMENT_THRESHOLD = 0.8
# Copies of one wire story appear within a day or two of each other; a later article that repeats the
# background paragraphs of an old one is a new story. Applies only when both publication days are known.
WINDOW_DAYS = 3
# Below this many shingles a body is a headline-sized flash item: near-duplicate evidence is too thin
# (two flashes on one topic share most of their few n-grams), so only exact copies cluster.
MIN_NEAR_SHINGLES = 30
# Containment needs more text: a one-sentence paywall excerpt is "contained" in every story that opens
# with the same stock sentence (seen in the simulator's demo archive), and would chain them together.
MIN_CONTAINMENT_SHINGLES = 150
# Minimum shared sketch values for a pair to be compared at all: far below what a pair at the Jaccard
# threshold shares (about k * J / (1 + J) values), far above what two stories on one topic share.
_MIN_SHARED = 8
STORY_PREFIX = "story:"
_WS = re.compile(r"\s+")


def normalise_for_shingles(text: str) -> str:
    """NFKC (width variants equal), case folded, every whitespace removed (line wrapping is layout)."""
    return _WS.sub("", unicodedata.normalize("NFKC", text).casefold())


def shingle_hashes(text: str, size: int = SHINGLE_SIZE) -> set[int]:
    return _hashes_of_normalised(normalise_for_shingles(text), size)


def _hashes_of_normalised(norm: str, size: int = SHINGLE_SIZE) -> set[int]:
    if len(norm) < size:
        return {_h64(norm)} if norm else set()
    # Each distinct shingle hashed once: a news body repeats many (names, stock phrases).
    return {_h64(shingle) for shingle in {norm[i : i + size] for i in range(len(norm) - size + 1)}}


def _h64(value: str) -> int:
    return int.from_bytes(hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest(), "big")


@dataclass(frozen=True)
class Sketch:
    """Bottom-k MinHash of one body: the k smallest shingle hashes and the number of shingles."""

    values: tuple[int, ...]  # sorted ascending
    size: int

    @classmethod
    def of(cls, text: str, k: int = SKETCH_SIZE) -> Sketch:
        return cls.of_normalised(normalise_for_shingles(text), k)

    @classmethod
    def of_normalised(cls, norm: str, k: int = SKETCH_SIZE) -> Sketch:
        hashes = _hashes_of_normalised(norm)
        return cls(tuple(sorted(hashes)[:k]), len(hashes))

    def jaccard(self, other: Sketch, k: int = SKETCH_SIZE, *, mine: frozenset[int] | None = None) -> float:
        """Estimated |A∩B| / |A∪B|: the share of the union's k smallest hashes found in both sketches.
        `mine`: frozenset(self.values), when the caller compares this sketch with many."""
        # No set is kept per sketch: an index holds thousands of them, and one costs ~7 KB.
        both = (mine if mine is not None else frozenset(self.values)).intersection(other.values)
        union = len(self.values) + len(other.values) - len(both)
        if union <= k:
            return len(both) / union if union else 0.0
        # Both tuples are sorted, so sorting their concatenation is one merge; a shared value comes twice.
        smallest = list(dict.fromkeys(sorted(self.values + other.values)))[:k]
        return len(both.intersection(smallest)) / k

    def jaccard_bound(self, other: Sketch, shared: int, k: int = SKETCH_SIZE) -> float:
        """An upper bound of `jaccard(other)` from the number of values the two sketches share, without
        comparing them: at best every shared value is among the union's k smallest."""
        union = len(self.values) + len(other.values) - shared
        return min(1.0, shared / min(k, union)) if union else 0.0

    def containment(self, other: Sketch, jaccard: float) -> float:
        """Estimated |A∩B| / min(|A|, |B|), from the Jaccard estimate and the two set sizes."""
        smaller = min(self.size, other.size)
        if smaller == 0:
            return 0.0
        intersection = jaccard * (self.size + other.size) / (1 + jaccard)
        return min(1.0, intersection / smaller)


@dataclass(frozen=True)
class Signature:
    """What the index needs of a body, computable in another process (reextract's workers) and passed
    to assign/best_match: its sketch, or None when the body is too short to cluster by content."""

    sketch: Sketch | None

    @classmethod
    def of(cls, text: str) -> Signature:
        norm = normalise_for_shingles(text)
        if len(norm) < SHINGLE_SIZE:
            return cls(None)
        return cls(Sketch.of_normalised(norm))


def _day_number(published_at: str | None) -> int | None:
    try:
        return date.fromisoformat((published_at or "")[:10]).toordinal()
    except ValueError:
        return None


def cluster_id_for(text_hash: str) -> str:
    return STORY_PREFIX + text_hash.removeprefix("sha256:")[:16]


def _singleton_id(url: str) -> str:
    return STORY_PREFIX + "url-" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Match:
    cluster_id: str
    jaccard: float
    containment: float


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
        self._postings: dict[int | None, dict[int, list[int]]] = {}
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
        # The sketch is the costly part: done outside the lock (or elsewhere, given as `signature`).
        sketch = (signature or Signature.of(text)).sketch
        if sketch is None:
            return _singleton_id(url or text_hash)
        day = _day_number(published_at)
        with self._lock:
            known = self._by_hash.get(text_hash)
            if known is not None:
                return known
            match = self._best_match(sketch, day)
            cluster = match.cluster_id if match else cluster_id_for(text_hash)
            self._add(text_hash, sketch, cluster, day)
            return cluster

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
                self._add(text_hash, sketch, cluster_id, _day_number(published_at))

    def best_match(
        self, text: str, published_at: str | None = None, *, signature: Signature | None = None
    ) -> Match | None:
        """The most similar known cluster above the thresholds (for explaining a decision);
        `signature` as for assign."""
        sketch = (signature or Signature.of(text)).sketch
        if sketch is None:
            return None
        with self._lock:
            return self._best_match(sketch, _day_number(published_at))

    def _add(self, text_hash: str, sketch: Sketch, cluster: str, day: int | None) -> None:
        self._by_hash[text_hash] = cluster
        index = len(self._sketches)
        self._sketches.append((sketch, cluster, day))
        postings = self._postings.setdefault(day, {})
        for value in sketch.values:
            postings.setdefault(value, []).append(index)

    def _postings_near(self, day: int | None) -> list[dict[int, list[int]]]:
        """The postings of the days a body of `day` may be compared with (undated ones: with all)."""
        if day is None:
            return list(self._postings.values())
        return [p for d, p in self._postings.items() if d is None or abs(d - day) <= self.window_days]

    def _best_match(self, sketch: Sketch, day: int | None) -> Match | None:
        if sketch.size < self.min_near_shingles:
            return None
        # One count over every posting list found (Counter.update per list cost more than the lookups).
        shared = Counter(
            chain.from_iterable(
                found
                for postings in self._postings_near(day)
                for value in sketch.values
                if (found := postings.get(value))
            )
        )
        # Each candidate's upper bound first, from the count alone; then the full comparisons, highest
        # bound first, until no bound left can beat (or tie) the best found. On the simulator, where a
        # day's bodies are near copies of each other, this skips most comparisons; the result is the same.
        candidates: list[tuple[float, int]] = []
        for index, count in shared.items():
            other, _, other_day = self._sketches[index]
            if count < min(_MIN_SHARED, len(sketch.values), len(other.values)):
                continue
            if day is not None and other_day is not None and abs(day - other_day) > self.window_days:
                continue
            if other.size < self.min_near_shingles:
                continue
            # Containment grows with the Jaccard estimate, so its bound follows from the same one.
            bound = sketch.jaccard_bound(other, count)
            if min(sketch.size, other.size) >= MIN_CONTAINMENT_SHINGLES:
                bound = max(bound, sketch.containment(other, bound))
            elif bound < self.jaccard_threshold:
                continue
            if bound < self.jaccard_threshold and bound < self.containment_threshold:
                continue  # most candidates: they share a stock sentence or two
            candidates.append((-bound, index))
        candidates.sort()
        mine = frozenset(sketch.values)
        best: tuple[float, int, Match] | None = None
        for negative_bound, index in candidates:
            if best is not None and -negative_bound < best[0]:
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


class StoryClusterPipeline:
    """Scrapy item pipeline: gives every Article its story_cluster_id (after relevance, before store).

    The index lives for the run, in memory. When an article's publication day is first met, the article
    files of that day and `seed_days` days either side (every outlet, earlier runs) are loaded into it,
    so that a copy crawled today joins the cluster of a copy archived by an earlier run. Loading by day
    keeps the cost bounded by what the crawl touches, not by the size of the archive.
    """

    def __init__(self, root: Path | None, run_id: str = "", *, seed_days: int = WINDOW_DAYS) -> None:
        if seed_days < 0:
            raise ConfigError(f"STORY_CLUSTER_SEED_DAYS must be >= 0, got {seed_days}")
        self.root = Path(root) if root else None
        self.run_id = run_id
        self.seed_days = seed_days
        self.index = StoryClusterIndex()
        self._loaded_days: set[str] = set()
        self._load_lock = threading.Lock()
        self.crawler: Any = None

    @classmethod
    def from_crawler(cls, crawler: Any) -> StoryClusterPipeline:
        settings = crawler.settings
        root = settings.get("ARCHIVE_ROOT") or None
        enabled = settings.getbool("STORY_CLUSTER_SEED", True)
        pipeline = cls(
            Path(root) if root and enabled else None,
            str(settings.get("NEWSARCHIVE_RUN_ID") or ""),
            seed_days=settings.getint("STORY_CLUSTER_SEED_DAYS", WINDOW_DAYS),
        )
        pipeline.crawler = crawler
        return pipeline

    def _count(self, key: str, n: int = 1) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(key, n)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Article):
            return item
        if self._seeding_needed(item.published_at):
            # Loading the earlier articles of nearby days reads the disk: not on the reactor.
            item.story_cluster_id = await asyncio.to_thread(self.cluster_of, item)
        else:
            # Sketching is pure Python under the GIL: a thread would not run it alongside the reactor,
            # and the hand-off cost more than it freed (measured in bench/pipeline.py).
            item.story_cluster_id = self.cluster_of(item)
        return item

    def cluster_of(self, article: Article) -> str:
        self._ensure_seeded(article.published_at)
        known = len(self.index)
        cluster = self.index.assign(article.text_hash, article.text, article.url, article.published_at)
        if cluster.startswith(STORY_PREFIX + "url-"):
            self._count("newsarchive/story_clusters/no_text")
        elif len(self.index) == known or cluster != cluster_id_for(article.text_hash):
            # An exact copy (known text_hash) or a near copy that joined an existing cluster.
            self._count("newsarchive/story_clusters/copies")
        return cluster

    def _seed_days(self, published_at: str | None) -> list[str]:
        """The days whose archived articles a body published at `published_at` is compared with."""
        if self.root is None or not published_at:
            return []
        try:
            day = date.fromisoformat(published_at[:10])
        except ValueError:
            return []
        return [(day + timedelta(days=d)).isoformat() for d in range(-self.seed_days, self.seed_days + 1)]

    def _seeding_needed(self, published_at: str | None) -> bool:
        return any(d not in self._loaded_days for d in self._seed_days(published_at))

    def _ensure_seeded(self, published_at: str | None) -> None:
        wanted = self._seed_days(published_at)
        if not wanted or self.root is None:
            return
        with self._load_lock:
            missing = [d for d in wanted if d not in self._loaded_days]
            if not missing:
                return
            self._loaded_days.update(missing)
            files = partition_files(self.root, missing, exclude_run_id=self.run_id)
            seeded = seed_from_rows(self.index, iter_article_rows(files))
        if seeded:
            self._count("newsarchive/story_clusters/seeded_rows", seeded)
