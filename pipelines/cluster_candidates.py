"""The story-cluster index's counting and candidate filter, in numpy (pipelines.dedup uses them).

Why numpy here: on a crawl whose bodies of a day are near copies of each other (wire stories printed by
several papers; every body on the local simulator), each new body shares sketch values with most bodies
of its window, so its lookup walks thousands of posting entries and tests hundreds of candidates. In
Python (collections.Counter, then one loop step per candidate) that was ~0.5 ms per article on the
crawl's reactor thread, the single largest cost after extraction (bench/pipeline.py). Posting lists are
kept as `array('i')` so that they can be joined into one buffer and counted in C; they are also not
containers the garbage collector has to scan, unlike the lists they replace.

The arithmetic is the same as Sketch.jaccard_bound and Sketch.containment, step for step in float64, so a
candidate passes here exactly when it passed the scalar filter this replaced (tests/test_dedup.py checks
the index's best match against comparing every sketch in full).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

POSTING_TYPECODE = "i"  # C int: sketch indexes stay far below 2**31
_POSTING_DTYPE = np.intc
# bincount over [lowest, highest] index seen when that range is at most this many times the entries
# counted; a sparser range (an index seeded out of date order) is counted by sorting instead.
_DENSE_FACTOR = 16

IntArray = npt.NDArray[np.int64]


def new_posting(index: int) -> array[int]:
    return array(POSTING_TYPECODE, (index,))


class SketchColumns:
    """Per indexed sketch: its number of values, its shingle count and its day (NaN: undated), as numpy
    columns indexed like StoryClusterIndex._sketches. Appending doubles the capacity when full."""

    def __init__(self, capacity: int = 1024) -> None:
        self._n = 0
        self.lengths: IntArray = np.zeros(capacity, np.int64)
        self.sizes: IntArray = np.zeros(capacity, np.int64)
        self.days: npt.NDArray[np.float64] = np.full(capacity, np.nan)

    def append(self, length: int, size: int, day: int | None) -> None:
        if self._n == len(self.lengths):
            grow = len(self.lengths)
            self.lengths = np.concatenate([self.lengths, np.zeros(grow, np.int64)])
            self.sizes = np.concatenate([self.sizes, np.zeros(grow, np.int64)])
            self.days = np.concatenate([self.days, np.full(grow, np.nan)])
        self.lengths[self._n] = length
        self.sizes[self._n] = size
        self.days[self._n] = np.nan if day is None else day
        self._n += 1


def shared_counts(postings: Iterable[array[int]]) -> tuple[IntArray, IntArray]:
    """(indexes, how many of the given posting lists each appears in), for every index found."""
    flat = np.frombuffer(b"".join(postings), dtype=_POSTING_DTYPE)
    if not flat.size:
        empty = np.zeros(0, np.int64)
        return empty, empty
    low, high = int(flat.min()), int(flat.max())
    if high - low <= _DENSE_FACTOR * flat.size + 1024:
        counts = np.bincount(flat - low)
        found = np.flatnonzero(counts)
        return found + low, counts[found]
    found, sparse_counts = np.unique(flat, return_counts=True)
    return found.astype(np.int64), sparse_counts.astype(np.int64)


def ranked_candidates(
    indexes: IntArray,
    counts: IntArray,
    columns: SketchColumns,
    *,
    length: int,
    size: int,
    day: int | None,
    stop: int,
    floor: int,
    k: int,
    window_days: int,
    min_near_shingles: int,
    min_containment_shingles: int,
    jaccard_threshold: float,
    containment_threshold: float,
) -> list[tuple[float, int]]:
    """(upper bound of the similarity, index) of every sketch worth a full comparison with one of
    `length` values and `size` shingles, highest bound first, then lowest index: the scalar filter of
    StoryClusterIndex._best_match (see there for why each test holds), over all candidates at once."""
    keep = counts >= stop
    indexes, counts = indexes[keep], counts[keep]
    lengths, sizes, days = columns.lengths[indexes], columns.sizes[indexes], columns.days[indexes]
    keep = counts >= np.minimum(floor, lengths)
    if day is not None:
        keep &= ~(np.abs(days - day) > window_days)  # NaN (undated) compares False: kept
    keep &= sizes >= min_near_shingles
    indexes, counts, lengths, sizes = indexes[keep], counts[keep], lengths[keep], sizes[keep]
    # Sketch.jaccard_bound: union >= the longer sketch's length >= 1, so no division by zero.
    union = length + lengths - counts
    bound = np.minimum(1.0, counts / np.minimum(k, union))
    # Sketch.containment(other, bound), where both bodies are long enough for containment to count.
    smaller = np.minimum(size, sizes)
    with np.errstate(divide="ignore", invalid="ignore"):
        containment = np.where(
            smaller == 0, 0.0, np.minimum(1.0, bound * (size + sizes) / (1 + bound) / smaller)
        )
    long_enough = smaller >= min_containment_shingles
    bound = np.where(long_enough, np.maximum(bound, containment), bound)
    # Kept: a Jaccard bound at its threshold, or (bodies long enough) a containment bound at its own.
    keep = (bound >= jaccard_threshold) | (long_enough & (bound >= containment_threshold))
    indexes, bound = indexes[keep], bound[keep]
    order = np.lexsort((indexes, -bound))
    return list(zip(bound[order].tolist(), indexes[order].tolist(), strict=True))
