"""What a finished crawl run reports: the result the CLI prints (a one-screen summary, or one JSON line)
and exits with.

The summary is the per-outlet table (crawler.progress.render_summary) followed by sections of lines, one
function each: where the files are, what was published, what went wrong. A new line goes into the section
it belongs to; a new section is one more function in `location_lines`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archive.publish import PublishReport
from crawler.progress import OutletCounts, render_summary
from crawler.run_stats import RunStats


@dataclass
class CrawlResult:
    run_id: str
    ok: bool
    finish_reasons: dict[str, str]
    per_outlet: dict[str, OutletCounts]
    elapsed_s: float
    manifest: Path
    files: list[tuple[str, str]] = field(default_factory=list)
    summary: str = ""
    published: list[PublishReport] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "event": "summary",
            "run_id": self.run_id,
            "ok": self.ok,
            "finish_reasons": self.finish_reasons,
            "elapsed_s": round(self.elapsed_s, 1),
            "outlets": {k: asdict(v) for k, v in self.per_outlet.items()},
            "manifest": str(self.manifest),
            "files": [{"path": p, "kind": k} for p, k in self.files],
            "published": [_published_json(r) for r in self.published],
        }


def _published_json(report: PublishReport) -> dict[str, Any]:
    return {
        "run_id": report.run_id,
        "store": report.store,
        "ok": report.ok,
        "uploaded": len(report.uploaded),
        "already_present": len(report.already_present),
        "problems": report.problems(),
        "warnings": report.warnings,
    }


def archive_lines(root: Path, result: CrawlResult, stats: RunStats) -> list[str]:
    """Where the run's files are, and how many of each."""
    warcs = [p for p, k in result.files if k == "warc"]
    articles = [p for p, k in result.files if k == "articles"]
    return [
        f"Archive root: {root}",
        f"  WARC files:     {len(warcs):>4}  ({stats.warc_records} request/response records)  under warc/",
        f"  Article files:  {len(articles):>4}  ({stats.kept} articles as gzipped JSON lines)  under articles/",
        f"  Run manifest:         {result.manifest.relative_to(root)}",
    ]


def published_lines(published: list[PublishReport]) -> list[str]:
    """One line per run published to the remote store (earlier runs that had failed come first)."""
    lines = []
    for report in published:
        state = "published" if report.ok else "NOT fully published (queued; the next run retries)"
        lines.append(
            f"Run {report.run_id} {state} to {report.store}: {len(report.uploaded)} uploaded, "
            f"{len(report.already_present)} already there"
        )
        lines += [f"  problem: {p}" for p in report.problems()]
        lines += [f"  warning: {w}" for w in report.warnings]
    return lines


def problem_lines(ok: bool, failed_outlets: list[str], stats: RunStats) -> list[str]:
    if ok:
        return []
    stopped = [o for o, reason in stats.finish_reasons.items() if reason == "shutdown"]
    if stopped:
        # SIGTERM / Ctrl-C: not a fault of the outlets; the CLI exits 130 and the next run goes on.
        return [
            f"Interrupted: {', '.join(stopped)} stopped early; pending URLs are picked up by the next run"
        ]
    return [f"Problems: {', '.join(failed_outlets) or 'see above'} (see the log above; exit code 1)"]


def body_check_lines(stats: RunStats) -> list[str]:
    checks = stats.body_crosschecks()
    return [
        f"Body cross-check: {outlet}: {c['disagreed']} page(s) where the page object's body and "
        f"trafilatura's disagreed ({c['chose_trafilatura']} took trafilatura's); the outlet's layout may "
        "have changed"
        for outlet, c in checks.items()
    ]


def accounting_lines(stats: RunStats) -> list[str]:
    """Where every discovered URL went, per outlet; reasons of failures and exclusions on the next line."""
    lines = []
    for outlet, acc in stats.accounting().items():
        lines.append(f"URLs {outlet}: {acc.line()}")
        reasons = [f"failed {k} {v}" for k, v in sorted(acc.failed.items())]
        reasons += [f"excluded {k} {v}" for k, v in sorted(acc.excluded.items())]
        if reasons:
            lines.append(f"  ({', '.join(reasons)})")
        lines += [f"  ACCOUNTING PROBLEM: {p}" for p in acc.problems()]
    return lines


def location_lines(root: Path, result: CrawlResult, stats: RunStats, outlets: list[str]) -> list[str]:
    """The lines under the table, section by section."""
    return [
        *archive_lines(root, result, stats),
        *accounting_lines(stats),
        *published_lines(result.published),
        *body_check_lines(stats),
        *problem_lines(result.ok, stats.failed_outlets(outlets), stats),
    ]


def summarize(root: Path, result: CrawlResult, stats: RunStats, outlets: list[str]) -> str:
    """The one-screen summary printed at the end of a text-mode run."""
    return render_summary(
        result.per_outlet,
        elapsed_s=result.elapsed_s,
        run_id=result.run_id,
        location_lines=location_lines(root, result, stats, outlets),
    )
