"""What an archive root has been doing: its last runs, the work left pending, failures by reason and how
fresh each outlet is (`newsarchive status`).

Everything is read from the root itself, never from a running crawl:
- runs from `runs/<id>/manifest.json` (the local folder and, for an s3:// archive, the store). A run is
  `ok` when every outlet's crawl finished normally and fetched something, no spider callback raised and
  its URL accounting balances (the crawl's own exit-code rule, crawler.run_stats); older manifests
  without finish reasons or accounting are judged on what they have;
- pending work from the upload queue (archive.publish: runs not yet in the store), `.open` files (a
  crash's leftovers, which the next crawl repairs: archive.recovery, or files a running crawl is writing)
  and the URLs the last run left `pending` (its manifest's accounting);
- freshness from the catalog (refreshed first): the newest article per outlet, by publication date and
  by capture date, and the end of the last run that crawled the outlet successfully.

The clock is a parameter (`now`) so that ages are testable.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from archive.catalog import Catalog
from archive.paths import ARTICLES_DIR, MANIFEST_NAME, OPEN_SUFFIX, RUNS_DIR, WARC_DIR, relpath
from archive.publish import pending_runs
from archive.recovery import dead_runs, run_of
from archive.root_access import ArchiveRoot
from archive.warc_repair import _owner_is_gone

log = logging.getLogger(__name__)

FINISHED = "finished"
SHUTDOWN = "shutdown"  # Scrapy's finish_reason for a crawl stopped by SIGINT/SIGTERM


@dataclass
class RunStatus:
    run_id: str
    started_at: str | None
    finished_at: str | None
    duration_s: float | None
    ok: bool
    interrupted: bool
    published: (
        str  # "published" (in the store), "queued" (upload pending), "local" (no store), "not published"
    )
    outlets: dict[str, dict[str, int]]  # outlet -> {"kept": n, "errors": n}
    problems: list[str] = field(default_factory=list)  # why it is not ok


@dataclass
class OpenFile:
    path: str  # archive-relative
    run_id: str
    abandoned: bool  # its writer is gone: the next crawl repairs it; False: a crawl is writing it


@dataclass
class Freshness:
    outlet: str
    newest_published_at: str | None
    newest_published_age_s: float | None
    newest_capture_at: str | None
    newest_capture_age_s: float | None
    last_ok_run: str | None
    last_ok_finished_at: str | None
    last_ok_age_s: float | None


@dataclass
class ArchiveStatus:
    root: str
    now: str
    runs: list[RunStatus]  # newest first
    queued_runs: list[str]
    open_files: list[OpenFile]
    pending_urls: dict[str, int]  # the last run's accounting: outlet -> URLs left pending
    last_run: str | None
    errors_by_outlet: dict[str, dict[str, int]]  # the last run's errors by reason
    failed_urls: dict[str, dict[str, int]]  # the last run's accounting: outlet -> reason -> URLs
    freshness: list[Freshness]
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# -- manifests -------------------------------------------------------------------------------------------


def _manifest_key(run_id: str) -> str:
    return f"{RUNS_DIR}/{run_id}/{MANIFEST_NAME}"


def _local_run_ids(local: Path) -> set[str]:
    folder = local / RUNS_DIR
    if not folder.is_dir():
        return set()
    return {p.parent.name for p in folder.glob(f"*/{MANIFEST_NAME}") if p.is_file()}


def _store_run_ids(root: ArchiveRoot) -> set[str]:
    if root.store is None:
        return set()
    ids = set()
    for info in root.store.list_objects(f"{RUNS_DIR}/"):
        parts = PurePosixPath(info.key).parts
        if len(parts) == 3 and parts[2] == MANIFEST_NAME:
            ids.add(parts[1])
    return ids


def _read_manifest(root: ArchiveRoot, run_id: str) -> dict[str, Any] | None:
    try:
        data = json.loads(root.read_bytes(_manifest_key(run_id)))
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable manifest of run %s: %s", root.url, run_id, exc)
        return None
    return data if isinstance(data, dict) else None


def _parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _age(text: Any, now: datetime) -> float | None:
    moment = _parse_time(text)
    return None if moment is None else round((now - moment).total_seconds(), 1)


def _dict(value: Any) -> dict[str, Any]:
    """A manifest field that should be an object; {} when absent (older manifests) or malformed."""
    return value if isinstance(value, dict) else {}


def _counts(manifest: dict[str, Any]) -> dict[str, Any]:
    return _dict(manifest.get("counts"))


def _outlet_names(manifest: dict[str, Any]) -> list[str]:
    counts = _counts(manifest)
    names: set[str] = set()
    for key in ("outlets", "finish_reasons", "errors_by_outlet", "accounting"):
        value = counts.get(key)
        if isinstance(value, dict):
            names.update(value)
    return sorted(names)


def outlet_problems(manifest: dict[str, Any], outlet: str) -> list[str]:
    """Why one outlet's crawl in this run was not ok (empty when it was). Absent fields are not problems:
    a manifest written before they existed is judged on what it has."""
    counts = _counts(manifest)
    problems = []
    reason = _dict(counts.get("finish_reasons")).get(outlet)
    if reason is not None and reason != FINISHED:
        problems.append(f"{outlet}: crawl ended with '{reason}'")
    outlet_counts = _dict(counts.get("outlets")).get(outlet)
    if isinstance(outlet_counts, dict) and not int(outlet_counts.get("pages", 0)):
        problems.append(f"{outlet}: fetched nothing")
    raised = {
        k: v
        for k, v in _dict(_dict(counts.get("errors_by_outlet")).get(outlet)).items()
        if k.startswith("spider_")
    }
    if raised:
        problems.append(
            f"{outlet}: spider raised ({', '.join(f'{k} {v}' for k, v in sorted(raised.items()))})"
        )
    accounting = _dict(counts.get("accounting")).get(outlet)
    if isinstance(accounting, dict) and accounting.get("balanced") is False:
        detail = "; ".join(accounting.get("problems") or []) or "does not add up"
        problems.append(f"{outlet}: URL accounting: {detail}")
    return problems


def run_status(manifest: dict[str, Any], published: str) -> RunStatus:
    counts = _counts(manifest)
    started, finished = manifest.get("started_at"), manifest.get("finished_at")
    t0, t1 = _parse_time(started), _parse_time(finished)
    outlets = {}
    for name in _outlet_names(manifest):
        per = _dict(_dict(counts.get("outlets")).get(name))
        by_reason = _dict(_dict(counts.get("errors_by_outlet")).get(name))
        # the crawl summary's own error count when the manifest has it, else the sum by reason
        errors = per.get("errors", sum(int(v) for v in by_reason.values()))
        outlets[name] = {"kept": int(per.get("kept", 0)), "errors": int(errors)}
    problems = [p for name in _outlet_names(manifest) for p in outlet_problems(manifest, name)]
    ok = bool(manifest["ok"]) if isinstance(manifest.get("ok"), bool) else not problems
    return RunStatus(
        run_id=str(manifest.get("run_id", "")),
        started_at=started,
        finished_at=finished,
        duration_s=round((t1 - t0).total_seconds(), 1) if t0 and t1 else None,
        ok=ok,
        interrupted=SHUTDOWN in _dict(counts.get("finish_reasons")).values(),
        published=published,
        outlets=outlets,
        problems=problems,
    )


# -- pending work ----------------------------------------------------------------------------------------


def open_files(local: Path) -> list[OpenFile]:
    """`.open` WARC and article files: a crash's leftovers (repaired by the next crawl) or files a
    running crawl is writing. An article file belongs to a dead run when one of that run's WARC files
    was left by a writer that is gone (archive.recovery)."""
    dead = set(dead_runs(local))
    found = []
    warcs = local / WARC_DIR
    for path in sorted(warcs.rglob(f"*{OPEN_SUFFIX}")) if warcs.is_dir() else []:
        found.append(OpenFile(relpath(local, path), run_of(path), _owner_is_gone(path)))
    articles = local / ARTICLES_DIR
    for path in sorted(articles.rglob(f"*{OPEN_SUFFIX}")) if articles.is_dir() else []:
        # <run id>-<outlet>-<n>.jsonl.gz.open, the run id being <UTC time>-<hex> (archive.paths)
        run_id = "-".join(path.name.split("-")[:2])
        found.append(OpenFile(relpath(local, path), run_id, run_id in dead))
    return found


def _last_run_failures(
    manifest: dict[str, Any] | None,
) -> tuple[dict[str, int], dict[str, dict[str, int]], dict[str, dict[str, int]]]:
    """(pending URLs, errors by reason, failed URLs by reason) per outlet, from the last run's manifest."""
    if manifest is None:
        return {}, {}, {}
    counts = _counts(manifest)
    accounting = {o: _dict(a) for o, a in _dict(counts.get("accounting")).items()}
    pending = {o: int(a.get("pending", 0)) for o, a in accounting.items()}
    failed = {o: {k: int(v) for k, v in _dict(a.get("failed")).items()} for o, a in accounting.items()}
    errors = {
        o: {k: int(v) for k, v in _dict(e).items()} for o, e in _dict(counts.get("errors_by_outlet")).items()
    }
    return pending, {o: e for o, e in errors.items() if e}, {o: f for o, f in failed.items() if f}


# -- freshness -------------------------------------------------------------------------------------------


def _newest_articles(root: ArchiveRoot, warnings: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """outlet -> (newest published_at, newest capture date) among archived articles, from the catalog."""
    try:
        with Catalog.open(root.local, root.store) as catalog:
            catalog.refresh()
            rows = catalog.conn.execute(
                "SELECT outlet, MAX(published_at), MAX(date) FROM articles WHERE outlet IS NOT NULL GROUP BY outlet"
            ).fetchall()
    except (OSError, sqlite3.Error) as exc:
        warnings.append(f"catalog unavailable, no article freshness ({exc})")
        return {}
    return {str(outlet): (published, captured) for outlet, published, captured in rows}


def _last_ok_crawls(
    root: ArchiveRoot, run_ids: list[str], outlets: set[str], loaded: dict[str, dict[str, Any] | None]
) -> dict[str, tuple[str, str | None]]:
    """outlet -> (run id, finished_at) of the newest run that crawled it successfully. Walks manifests
    newest first and stops once every outlet has one."""
    found: dict[str, tuple[str, str | None]] = {}
    for run_id in sorted(run_ids, reverse=True):
        if outlets and outlets <= set(found):
            break
        manifest = loaded[run_id] if run_id in loaded else _read_manifest(root, run_id)
        if manifest is None:
            continue
        for outlet in _outlet_names(manifest):
            if outlet not in found and not outlet_problems(manifest, outlet):
                found[outlet] = (run_id, manifest.get("finished_at"))
    return found


# -- the report ------------------------------------------------------------------------------------------


def archive_status(root: ArchiveRoot, *, runs: int = 5, now: datetime | None = None) -> ArchiveStatus:
    """The status of an archive root (see the module docstring). `runs`: how many recent runs to list."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    warnings: list[str] = []
    local_ids = _local_run_ids(root.local)
    store_ids = _store_run_ids(root)
    queued = pending_runs(root.local)
    all_ids = sorted(local_ids | store_ids)

    def published(run_id: str) -> str:
        if root.store is None:
            return "local"
        if run_id in queued:
            return "queued"
        return "published" if run_id in store_ids else "not published"

    loaded: dict[str, dict[str, Any] | None] = {}
    recent = []
    for run_id in sorted(all_ids, reverse=True)[:runs]:
        loaded[run_id] = manifest = _read_manifest(root, run_id)
        if manifest is None:
            warnings.append(f"run {run_id}: manifest unreadable")
            continue
        recent.append(run_status(manifest, published(run_id)))
    last_id = all_ids[-1] if all_ids else None
    last = loaded.get(last_id) if last_id else None
    pending, errors, failed = _last_run_failures(last)

    newest = _newest_articles(root, warnings)
    outlets = set(newest)
    for manifest in loaded.values():
        if manifest is not None:
            outlets.update(_outlet_names(manifest))
    last_ok = _last_ok_crawls(root, all_ids, outlets, loaded)
    outlets.update(last_ok)
    freshness = []
    for outlet in sorted(outlets):
        published_at, captured_at = newest.get(outlet, (None, None))
        ok_run, ok_at = last_ok.get(outlet, (None, None))
        freshness.append(
            Freshness(
                outlet=outlet,
                newest_published_at=published_at,
                newest_published_age_s=_age(published_at, now),
                newest_capture_at=captured_at,
                newest_capture_age_s=_age(captured_at, now),
                last_ok_run=ok_run,
                last_ok_finished_at=ok_at,
                last_ok_age_s=_age(ok_at, now),
            )
        )
    return ArchiveStatus(
        root=root.url,
        now=now.isoformat(),
        runs=recent,
        queued_runs=queued,
        open_files=open_files(root.local) if root.local.is_dir() else [],
        pending_urls=pending,
        last_run=last_id,
        errors_by_outlet=errors,
        failed_urls=failed,
        freshness=freshness,
        warnings=warnings,
    )
