"""The targets the issues set, and the verdict of each against the figures a benchmark returned.

A benchmark's `run(quick)` returns a dict of figures. A target names the benchmark and the figure
keys that can answer it (several spellings, for modules written in parallel; "a.b" reads a nested
figure); the first key present wins. A benchmark may also return its own verdicts under "targets" (a list of dicts with label, value,
target, met); those are shown as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MET, NOT_MET, NOT_MEASURED = "met", "NOT met", "not measured yet"


@dataclass(frozen=True)
class Target:
    issue: str
    label: str
    bench: str
    keys: tuple[str, ...]
    op: str  # "<=" or ">="
    bound: float
    unit: str = ""

    def find(self, figures: dict[str, Any]) -> float | None:
        for key in self.keys:
            value: Any = figures
            for part in key.split("."):  # "ratios.peak_rss_mib": a figure nested one level down
                value = value.get(part) if isinstance(value, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
        return None

    def verdict(self, value: float | None) -> str:
        if value is None:
            return NOT_MEASURED
        return MET if (value <= self.bound if self.op == "<=" else value >= self.bound) else NOT_MET


TARGETS: tuple[Target, ...] = (
    Target(
        "#14.5", "full pipeline / bare Scrapy throughput", "pipeline", ("full_vs_bare_rate",), ">=", 0.6, "x"
    ),
    Target(
        "#14.5",
        "naive / ours CPU per article",
        "pipeline",
        ("naive_vs_full_cpu_per_article",),
        ">=",
        5.0,
        "x",
    ),
    Target(
        "#14.5",
        "peak RSS of a full crawl (all processes)",
        "pipeline",
        ("full_peak_rss_mb",),
        "<=",
        300,
        "MB",
    ),
    Target(
        "#14.5",
        "peak RSS of a full crawl with 4x the pages",
        "pipeline",
        ("growth_peak_rss_mb",),
        "<=",
        300,
        "MB",
    ),
    Target("#3", "capture CPU per page, on / off", "capture", ("cpu_ratio",), "<=", 1.15, "x"),
    Target("#5", "reextract 2 / 1 workers", "extraction", ("reextract_2_vs_1",), ">=", 1.6, "x"),
    Target(
        "#5",
        "page object vs trafilatura speed, real pages",
        "extraction",
        ("po_speedup_real",),
        ">=",
        20,
        "x",
    ),
    Target(
        "#4",
        "article requests per new article (worst outlet)",
        "requests",
        ("article_requests_per_new",),
        "<=",
        1.1,
    ),
    Target(
        "#10",
        "requests / (new articles + revisits), daily runs over a month",
        "schedule",
        ("requests_per_new_or_revisit",),
        "<=",
        1.05,
        "x",
    ),
    Target(
        "#10",
        "crawl start-up over a 1M-record archive / empty archive",
        "startup_scale",
        ("startup_ratio", "ratios.process_seconds"),
        "<=",
        1.2,
        "x",
    ),
    Target(
        "#10",
        "peak memory at start-up, 1M-record / empty archive",
        "startup_scale",
        ("memory_ratio", "ratios.peak_rss_mib"),
        "<=",
        1.2,
        "x",
    ),
    Target("#11", "full-text search p95", "archive_access", ("search_p95_ms",), "<=", 100, "ms"),
    Target(
        "#11",
        "Parquet export rate",
        "archive_access",
        ("parquet_articles_per_s", "parquet_rate", "export_parquet_articles_per_s"),
        ">=",
        20000,
        "articles/s",
    ),
    Target(
        "#11",
        "WACZ export peak memory",
        "archive_access",
        ("wacz_peak_rss_mb", "wacz_peak_mb", "wacz_memory_mb"),
        "<=",
        300,
        "MB",
    ),
    Target(
        "#12",
        "Redis round-trips per archived page",
        "scale_out",
        ("redis_roundtrips_per_page", "redis_round_trips_per_page", "roundtrips_per_page"),
        "<=",
        5,
    ),
    Target("S3", "publish_run / bare upload_file time", "publish", ("publish_ratio",), "<=", 1.25, "x"),
    Target(
        "S3", "memory growth while uploading 1 GB", "publish", ("upload_memory_growth_mb",), "<=", 200, "MB"
    ),
    Target("#16", "body character-bigram F1, worst real page", "body_f1", ("worst_f1",), ">=", 0.98),
)


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    # Four significant digits below 10: a ratio of 1.153 must not read as the 1.15 it misses.
    text = f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}" if abs(value) < 10 else f"{value:.1f}"
    return f"{text} {unit}".strip() if unit not in ("x",) else f"{text}x"


def verdicts(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per target (ours, then each benchmark's own), with value, bound and verdict."""
    rows = []
    for t in TARGETS:
        figures = results.get(t.bench, {}).get("figures") or {}
        value = t.find(figures)
        rows.append(
            {
                "issue": t.issue,
                "label": t.label,
                "bench": t.bench,
                "value": value,
                "shown": fmt(value, t.unit),
                "target": f"{t.op} {fmt(t.bound, t.unit)}",
                "verdict": t.verdict(value),
            }
        )
    for name, result in results.items():
        for own in (result.get("figures") or {}).get("targets", []) or []:
            met = own.get("met")
            rows.append(
                {
                    "issue": str(own.get("issue", "")),
                    "label": str(own.get("label", "?")),
                    "bench": name,
                    "value": own.get("value"),
                    "shown": str(own.get("value", "-")),
                    "target": str(own.get("target", "")),
                    "verdict": NOT_MEASURED if met is None else MET if met else NOT_MET,
                }
            )
    return rows
