"""What an export's manifest counts (archive.export): articles, by outlet and topic, first and last day,
and the article schema versions of the rows. Filled row by row on the row path, or all at once from the
index's columns on the columnar Parquet path (archive.parquet_export): one class, so both paths give the
manifest the same fields."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from archive.article_index import accepted_topics
from archive.paths import jst_date


@dataclass
class ExportCounts:
    count: int = 0
    outlets: Counter[str] = field(default_factory=Counter)
    topics: Counter[str] = field(default_factory=Counter)
    schema_versions: set[str] = field(default_factory=set)
    first_day: str | None = None
    last_day: str | None = None
    # The runs the rows come from, when the columnar path read them with the rows' locations; the row
    # path leaves None and the export asks the index.
    runs: list[str] | None = None

    def add(self, row: dict[str, Any]) -> None:
        self.count += 1
        self.outlets[str(row.get("outlet"))] += 1
        self.topics.update(accepted_topics(row))
        self.schema_versions.add(str(row.get("schema_version")))
        day = jst_date(row.get("published_at"))
        if day != "unknown":
            self.first_day = min(self.first_day or day, day)
            self.last_day = max(self.last_day or day, day)

    def manifest_counts(self) -> dict[str, Any]:
        return {
            "articles": self.count,
            "by_outlet": dict(sorted(self.outlets.items())),
            "by_topic": dict(sorted(self.topics.items())),
            "first_day": self.first_day,
            "last_day": self.last_day,
        }
