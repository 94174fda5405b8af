"""Progress lines while crawling and the one-screen summary at the end.

Reads only Scrapy's stats dictionaries (one per outlet crawler), so it knows nothing of the components that
fill them. Stats keys follow `component/event/detail`; the ones summarised here are documented in
docs/cli.md.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, TextIO

DISCOVERY_SOURCES = ("feed", "sitemap", "listing", "search", "seed")

StatsSource = Callable[[], Mapping[str, Mapping[str, Any]]]  # outlet -> stats dict


@dataclass
class OutletCounts:
    pages: int = 0
    bytes: int = 0
    candidates: int = 0
    pruned_window: int = 0
    already_archived: int = 0
    articles_fetched: int = 0
    kept: int = 0
    off_topic: int = 0
    errors: int = 0
    warc_records: int = 0


def _sum_prefix(stats: Mapping[str, Any], prefix: str) -> int:
    return sum(int(v) for k, v in stats.items() if k.startswith(prefix) and isinstance(v, int | float))


def expected_gone(stats: Mapping[str, Any]) -> int:
    """404/410 answers to revisits (pipelines.revisits): a tombstone is news, not an error."""
    return sum(int(v) for k, v in stats.items() if k.startswith("newsarchive/revisits/gone_"))


def counts_from_stats(stats: Mapping[str, Any]) -> OutletCounts:
    """Derive the user-facing counters from one crawler's stats."""
    http_errors = sum(
        int(v)
        for k, v in stats.items()
        if k.startswith("downloader/response_status_count/") and k.rsplit("/", 1)[1][:1] in "45"
    ) - expected_gone(stats)
    return OutletCounts(
        pages=int(stats.get("downloader/response_count", 0)),
        bytes=int(stats.get("downloader/response_bytes", 0)),
        # unique URLs found by discovery: every source's finds minus those another source also found
        candidates=sum(int(stats.get(f"newsarchive/candidates/{source}", 0)) for source in DISCOVERY_SOURCES)
        - int(stats.get("newsarchive/candidates/duplicate", 0)),
        pruned_window=_sum_prefix(stats, "newsarchive/pruned/out_of_window"),
        already_archived=int(stats.get("newsarchive/pruned/already_archived", 0)),
        articles_fetched=int(stats.get("newsarchive/articles/fetched", 0)),
        kept=int(stats.get("newsarchive/articles/kept", 0)),
        off_topic=int(stats.get("newsarchive/articles/off_topic", 0)),
        # HTTP errors are counted from Scrapy's own status counts; components' http_* counters repeat them
        errors=http_errors
        + int(stats.get("downloader/exception_count", 0))
        + sum(
            int(v)
            for k, v in stats.items()
            if k.startswith("newsarchive/errors/") and not k.startswith("newsarchive/errors/http_")
        )
        + int(stats.get("log_count/ERROR", 0)),
        warc_records=int(stats.get("newsarchive/warc/records", 0)),
    )


class ProgressReporter:
    """Prints one progress line per interval, only when something changed."""

    def __init__(self, source: StatsSource, *, out: TextIO | None = None, json_lines: bool = False) -> None:
        self._source = source
        self._out = out or sys.stderr
        self._json = json_lines
        self._started = time.monotonic()
        self._last = ""

    def tick(self) -> None:
        per_outlet = {name: counts_from_stats(stats) for name, stats in self._source().items()}
        elapsed = time.monotonic() - self._started
        if self._json:
            line = json.dumps(
                {
                    "event": "progress",
                    "elapsed_s": round(elapsed, 1),
                    "outlets": {k: asdict(v) for k, v in per_outlet.items()},
                },
                ensure_ascii=False,
            )
            key = json.dumps({k: asdict(v) for k, v in per_outlet.items()})
        else:
            parts = [
                f"{name}: {c.pages} pages, {c.kept} kept, {c.errors} error{'s' if c.errors != 1 else ''}"
                for name, c in sorted(per_outlet.items())
            ]
            minutes, seconds = divmod(int(elapsed), 60)
            key = " | ".join(parts)
            line = f"[{minutes:02d}:{seconds:02d}] {key}"
        if key != self._last:
            self._last = key
            print(line, file=self._out, flush=True)


def render_summary(
    per_outlet: Mapping[str, OutletCounts], *, elapsed_s: float, run_id: str, location_lines: list[str]
) -> str:
    headers = [
        "outlet",
        "pages",
        "candidates",
        "out-of-window",
        "already archived",
        "articles",
        "kept",
        "off-topic",
        "errors",
    ]
    rows: list[list[Any]] = [
        [
            name,
            c.pages,
            c.candidates,
            c.pruned_window,
            c.already_archived,
            c.articles_fetched,
            c.kept,
            c.off_topic,
            c.errors,
        ]
        for name, c in sorted(per_outlet.items())
    ]
    if len(rows) > 1:
        rows.append(["total", *[sum(int(r[i]) for r in rows) for i in range(1, len(headers))]])
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]

    def fmt(row: list[Any]) -> str:
        cells = [str(row[0]).ljust(widths[0])] + [
            str(v).rjust(w) for v, w in zip(row[1:], widths[1:], strict=True)
        ]
        return "  ".join(cells)

    lines = [f"Run {run_id} finished in {elapsed_s:.1f} s", "", fmt(headers)]
    lines += [fmt(r) for r in rows]
    lines += ["", *location_lines]
    return "\n".join(lines)
