"""Field accuracy of bench/extraction.py against the fixtures' goldens: title exact (after whitespace and
NFKC normalisation), published_at to the minute (or the day), body as character-bigram F1."""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from typing import Any


def norm(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text or ""))


def bigram_f1(got: str, want: str) -> float:
    a, b = norm(got), norm(want)
    ga, gb = (
        Counter(a[i : i + 2] for i in range(len(a) - 1)),
        Counter(b[i : i + 2] for i in range(len(b) - 1)),
    )
    overlap = sum((ga & gb).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(ga.values()), overlap / sum(gb.values())
    return 2 * precision * recall / (precision + recall)


def date_right(got: str | None, want: str, day_only: bool) -> bool:
    if not got or not want:
        return False
    return got[:10] == want[:10] if day_only else got[:16] == want[:16]


def acc_summary(rows: list[dict[str, Any]], arm: str) -> str:
    n = len(rows)
    titles = sum(r["acc"][arm][0] for r in rows)
    dates = sum(r["acc"][arm][1] for r in rows)
    f1 = statistics.median(r["acc"][arm][2] for r in rows)
    low = min(r["acc"][arm][2] for r in rows)
    return f"{titles}/{n} | {dates}/{n} | {f1:.3f} (min {low:.3f})"
