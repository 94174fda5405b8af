"""The story-cluster index's numpy parts (pipelines.cluster_candidates). That the index still finds the
same best match as comparing every sketch in full is tests/test_dedup.py's property test."""

from __future__ import annotations

import math
from array import array
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.cluster_candidates import POSTING_TYPECODE, SketchColumns, shared_counts


@given(st.lists(st.lists(st.integers(0, 2**31 - 1), max_size=30), max_size=12), st.booleans())
@settings(max_examples=200, deadline=None)
def test_shared_counts_count_every_index_like_a_counter(lists: list[list[int]], dense: bool) -> None:
    """Both ways of counting (bincount over a dense range, sorting a sparse one) give Counter's answer."""
    if dense:  # indexes close together: the bincount path
        lists = [[v % 500 for v in values] for values in lists]
    expected = Counter(v for values in lists for v in values)
    indexes, counts = shared_counts(array(POSTING_TYPECODE, values) for values in lists)
    assert dict(zip(indexes.tolist(), counts.tolist(), strict=True)) == expected
    assert indexes.tolist() == sorted(expected)


def test_shared_counts_of_nothing() -> None:
    indexes, counts = shared_counts(iter(()))
    assert indexes.size == 0 and counts.size == 0


def test_sketch_columns_grow_and_keep_what_was_appended() -> None:
    columns = SketchColumns(capacity=2)
    rows = [(128, 400 + i, None if i % 3 == 0 else 20000 + i) for i in range(9)]
    for row in rows:
        columns.append(*row)
    assert len(columns.lengths) >= 9
    for i, (length, size, day) in enumerate(rows):
        assert (columns.lengths[i], columns.sizes[i]) == (length, size)
        assert math.isnan(columns.days[i]) if day is None else columns.days[i] == day
