"""Sketches of article bodies for story clusters (pipelines.dedup): normalisation, character 4-gram
shingles, the bottom-k MinHash sketch and its Jaccard and containment estimates, and the thresholds.

No Scrapy, no I/O: reextract's worker processes compute `Signature`s with it too. Why bottom-k and
blake2b: see the docstring of pipelines.dedup.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date

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
MIN_SHARED = 8
STORY_PREFIX = "story:"
_WS = re.compile(r"\s+")


def normalise_for_shingles(text: str) -> str:
    """NFKC (width variants equal), case folded, every whitespace removed (line wrapping is layout)."""
    return _WS.sub("", unicodedata.normalize("NFKC", text).casefold())


def shingle_hashes(text: str, size: int = SHINGLE_SIZE) -> set[int]:
    return _hashes_of_normalised(normalise_for_shingles(text), size)


# Shingle -> _h64(shingle), for the shingles met most recently. News repeats its 4-grams across bodies
# (names, places, stock phrases: 北朝鮮の, と述べた), and a dict lookup costs a tenth of a blake2b call.
# Bounded: when full it is replaced by an empty one (a rebinding, not a clear(), so a thread still reading
# the old one is not disturbed; entries are never removed from a dict in use). 2**16 entries of
# 4-character strings are ~10 MB.
_MEMO_LIMIT = 1 << 16
_memo: dict[str, int] = {}


def _hashes_of_normalised(norm: str, size: int = SHINGLE_SIZE) -> set[int]:
    global _memo
    if len(norm) < size:
        return {_h64(norm)} if norm else set()
    # Each distinct shingle hashed once: a news body repeats many.
    shingles = {norm[i : i + size] for i in range(len(norm) - size + 1)}
    memo = _memo
    if len(memo) >= _MEMO_LIMIT:
        memo = _memo = {}
    for shingle in shingles.difference(memo):
        memo[shingle] = _h64(shingle)
    return {memo[shingle] for shingle in shingles}


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
        # Both tuples are sorted, so sorting their concatenation is one merge, where a shared value comes
        # twice. The union's k-th smallest value is merged[p] for the p at which the values up to it,
        # less the shared ones counted twice, number k: p = k - 1 + (shared values <= merged[p]), found
        # by iterating from k - 1 (p only grows). The estimate is then those shared values over k.
        # (Deduplicating the merge and intersecting its first k values cost twice as much, measured.)
        merged = sorted(self.values + other.values)
        shared = sorted(both)
        p = k - 1
        while (q := k - 1 + bisect_right(shared, merged[p])) != p:
            p = q
        return (p - k + 1) / k

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


def day_number(published_at: str | None) -> int | None:
    try:
        return date.fromisoformat((published_at or "")[:10]).toordinal()
    except ValueError:
        return None


def cluster_id_for(text_hash: str) -> str:
    return STORY_PREFIX + text_hash.removeprefix("sha256:")[:16]


def singleton_id(url: str) -> str:
    return STORY_PREFIX + "url-" + hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Match:
    cluster_id: str
    jaccard: float
    containment: float
