"""The text report of `newsarchive status` (crawler.cli_status): one section per question an operator
asks of a scheduled archive (did the runs work, is anything stuck, what failed, is each outlet fresh)."""

from __future__ import annotations

from archive.status import ArchiveStatus, Freshness, RunStatus


def age(seconds: float | None) -> str:
    """`3 d 4 h`, `5 h 2 min`, `40 s`: two units are enough to judge freshness."""
    if seconds is None:
        return "-"
    if seconds < 0:
        return "in the future"
    s = int(seconds)
    days, hours, minutes = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {s % 60} s"
    return f"{s} s"


def _result(run: RunStatus) -> str:
    if run.interrupted:
        return "interrupted"
    return "ok" if run.ok else "FAILED"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def run_lines(report: ArchiveStatus) -> list[str]:
    if not report.runs:
        return ["Runs: none yet"]
    rows = [["run", "started", "duration", "result", "published", "per outlet: kept/errors"]]
    for run in report.runs:
        outlets = ", ".join(f"{o} {c['kept']}/{c['errors']}" for o, c in sorted(run.outlets.items()))
        rows.append(
            [
                run.run_id,
                (run.started_at or "-")[:19].replace("T", " "),
                "-" if run.duration_s is None else f"{run.duration_s:g} s",
                _result(run),
                run.published,
                outlets or "-",
            ]
        )
    lines = [f"Last {len(report.runs)} run(s), newest first:", *_table(rows)]
    for run in report.runs:
        lines += [f"  {run.run_id}: {p}" for p in run.problems]
    return lines


def pending_lines(report: ArchiveStatus) -> list[str]:
    lines = ["Pending work:"]
    queued = ", ".join(report.queued_runs) or "none"
    lines.append(f"  runs queued for upload: {queued}")
    if not report.open_files:
        lines.append("  open files: none")
    for item in report.open_files:
        state = "left by a stopped run; the next crawl repairs it" if item.abandoned else "being written"
        lines.append(f"  open file: {item.path} (run {item.run_id or 'unknown'}; {state})")
    if report.last_run is not None:
        pending = ", ".join(f"{o} {n}" for o, n in sorted(report.pending_urls.items()) if n) or "none"
        known = "" if report.pending_urls else " (not recorded by this run)"
        lines.append(f"  URLs left pending by the last run: {pending}{known}")
    return lines


def failure_lines(report: ArchiveStatus) -> list[str]:
    if report.last_run is None:
        return []
    lines = [f"Failures in the last run ({report.last_run}):"]
    outlets = sorted(set(report.errors_by_outlet) | set(report.failed_urls))
    for outlet in outlets:
        errors = ", ".join(f"{k} {v}" for k, v in sorted(report.errors_by_outlet.get(outlet, {}).items()))
        failed = ", ".join(f"{k} {v}" for k, v in sorted(report.failed_urls.get(outlet, {}).items()))
        parts = [f"errors {errors}" if errors else "", f"failed URLs {failed}" if failed else ""]
        lines.append(f"  {outlet}: {'; '.join(p for p in parts if p)}")
    if not outlets:
        lines.append("  none")
    return lines


def _ago(seconds: float | None) -> str:
    return "-" if seconds is None else f"{age(seconds)} ago"


def _fresh_row(item: Freshness) -> list[str]:
    published = item.newest_published_at
    return [
        item.outlet,
        f"{published} ({_ago(item.newest_published_age_s)})" if published else "-",
        _ago(item.newest_capture_age_s),
        f"{_ago(item.last_ok_age_s)} ({item.last_ok_run})" if item.last_ok_run else "never",
    ]


def freshness_lines(report: ArchiveStatus) -> list[str]:
    if not report.freshness:
        return ["Freshness: no outlet archived yet"]
    rows = [["outlet", "newest article (published)", "newest capture", "last successful crawl"]]
    rows += [_fresh_row(item) for item in report.freshness]
    return [f"Freshness (at {report.now[:19].replace('T', ' ')} UTC):", *_table(rows)]


def render_status(report: ArchiveStatus) -> str:
    sections = [
        [f"Archive {report.root}"],
        run_lines(report),
        pending_lines(report),
        failure_lines(report),
        freshness_lines(report),
        [f"warning: {w}" for w in report.warnings],
    ]
    return "\n\n".join("\n".join(s) for s in sections if s)
