"""What became of each URL discovery found in one run, and the accounting those outcomes must add up to.

Every candidate URL ends a run in exactly one state:

- `archived`: fetched, captured in a WARC file and written as an article row;
- `unchanged`: a scheduled revisit found the archived copy still current (a 304, or the same payload);
- `changed`: a scheduled revisit found new content, archived as a new article version;
- `gone`: a scheduled revisit got 404 or 410; a tombstone is recorded, the archived copy stays;
- `failed` (with a reason: `http_503`, `extraction`, `TimeoutError`, ...): it will be retried;
- `excluded` (with a reason: `out_of_window`, `off_topic`, `already_archived`, `robots_disallowed`,
  ...): deliberately not archived this run;
- `pending`: still scheduled when the run stopped (interrupted), so the next run picks it up.

The identity `discovered = archived + unchanged + changed + gone + failed + excluded + pending` holds
per outlet by construction of the ledger; what can break is the ledger's agreement with the spider's
own candidate counter and, for a run that finished normally, `pending == 0`: a URL still pending then
was dropped somewhere without an outcome, which is a bug the run must report (it fails).

Scrapy-free: the crawl's ledger (pipelines.url_ledger), the catalog and `newsarchive status` share it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# A Scrapy signal is any unique object: the spider and the pipelines send it, pipelines.url_ledger
# listens. Sent with keyword arguments url, outlet, state (below, or "discovered" / "scheduled"),
# reason, and optionally source, published_at, response.
url_event = object()

# Candidate sources of what the catalog scheduled (pipelines.revisits) rather than discovery found.
FOLLOWUP_SOURCES = frozenset({"revisit", "retry", "catch-up"})

FINAL_STATES = ("archived", "unchanged", "changed", "gone", "failed", "excluded")
STATES = (*FINAL_STATES, "pending")
# States whose reason is part of the accounting (failures and exclusions are counted by reason).
BY_REASON = ("failed", "excluded")


@dataclass
class Accounting:
    """One outlet's outcome counts for one run."""

    discovered: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # state -> URLs (states without a reason)
    failed: dict[str, int] = field(default_factory=dict)  # reason -> URLs
    excluded: dict[str, int] = field(default_factory=dict)
    candidates_counted: int | None = None  # the spider's own distinct-candidate counter, when known
    finished: bool = True  # the crawl ended normally (not interrupted)

    @classmethod
    def from_outcomes(cls, outcomes: Iterable[Mapping[str, Any]], **kwargs: Any) -> Accounting:
        acc = cls(**kwargs)
        counts: Counter[str] = Counter()
        failed: Counter[str] = Counter()
        excluded: Counter[str] = Counter()
        for row in outcomes:
            acc.discovered += 1
            state = str(row["state"])
            if state == "failed":
                failed[str(row.get("reason") or "unknown")] += 1
            elif state == "excluded":
                excluded[str(row.get("reason") or "unknown")] += 1
            else:
                counts[state] += 1
        acc.counts, acc.failed, acc.excluded = dict(counts), dict(failed), dict(excluded)
        return acc

    def count(self, state: str) -> int:
        if state == "failed":
            return sum(self.failed.values())
        if state == "excluded":
            return sum(self.excluded.values())
        return self.counts.get(state, 0)

    @property
    def pending(self) -> int:
        return self.count("pending")

    def problems(self) -> list[str]:
        """Why this outlet's accounting does not add up; empty when it does."""
        found = []
        total = sum(self.count(s) for s in STATES)
        if total != self.discovered:
            found.append(f"{self.discovered} discovered but {total} accounted for")
        if self.candidates_counted is not None and self.candidates_counted != self.discovered:
            found.append(
                f"the spider counted {self.candidates_counted} distinct candidates, the ledger {self.discovered}"
            )
        if self.finished and self.pending:
            found.append(f"{self.pending} URL(s) left without an outcome by a run that finished normally")
        return found

    @property
    def balanced(self) -> bool:
        return not self.problems()

    def as_json(self) -> dict[str, Any]:
        return {
            "discovered": self.discovered,
            **{s: self.count(s) for s in STATES if s not in BY_REASON},
            "failed": dict(sorted(self.failed.items())),
            "excluded": dict(sorted(self.excluded.items())),
            "balanced": self.balanced,
            "problems": self.problems(),
        }

    def line(self) -> str:
        """`61 discovered = 16 archived + 1 failed + 44 excluded + 0 pending` (revisit states when any)."""
        parts = [f"{self.count(s)} {s}" for s in STATES if self.count(s) or s in ("archived", "pending")]
        return f"{self.discovered} discovered = " + " + ".join(parts)
