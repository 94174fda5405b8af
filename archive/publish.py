"""Publish a finished run from a local staging root to a store, in an order a consumer can trust.

A crawl always writes locally (the archive root itself, or a spool folder for an s3:// root). Once the
run's manifest exists, `publish_run` uploads its objects in this order:

    WARC files -> their .cdxj indexes -> article JSONL -> Parquet -> other files -> schema -> manifest

so a JSONL row never points into a WARC that is not there yet, and the manifest, written last, only
exists in the store once every object it lists is complete and verified. A consumer that discovers runs
by listing runs/*/manifest.json therefore never sees an incomplete run.

The list of objects and their progress is kept on disk in `<staging>/.upload-queue/<run-id>.json`
before the first upload: a failed or killed publish leaves it there and `publish_pending` resumes it
(objects already in the store with the same sha256 count as done; different content is refused).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.paths import (
    MANIFEST_NAME,
    RUNS_DIR,
    WARC_DIR,
    is_row_file,
    manifest_relpath,
    resolve_inside,
)
from archive.run import sha256_file, write_json_atomic
from archive.storage import LocalFileChangedError, LocalStore, ObjectExistsError, Store
from archive.verify import warc_problems

log = logging.getLogger(__name__)

QUEUE_DIR = ".upload-queue"
QUEUE_VERSION = 1
SCHEMA_DIR = "schema"
_RUN_MANIFEST = re.compile(rf"^{RUNS_DIR}/([^/]+)/{re.escape(MANIFEST_NAME)}$")

DONE, PENDING, REFUSED = "done", "pending", "refused"


@dataclass
class PublishReport:
    run_id: str
    store: str
    uploaded: list[str] = field(default_factory=list)
    already_present: list[str] = field(default_factory=list)  # same bytes were already there
    refused: list[str] = field(default_factory=list)  # key exists with other content: never overwritten
    failed: dict[str, str] = field(default_factory=dict)
    bytes_uploaded: int = 0
    manifest_published: bool = False
    deleted_local: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    resumed: bool = False

    @property
    def ok(self) -> bool:
        return self.manifest_published and not self.refused and not self.failed

    def problems(self) -> list[str]:
        out = [
            f"{key}: exists in {self.store} with different content; refused to overwrite"
            for key in self.refused
        ]
        out += [f"{key}: {error}" for key, error in self.failed.items()]
        return out


def upload_rank(key: str) -> int:
    """Publication order: what is pointed into goes before what points into it; the manifest last."""
    if _RUN_MANIFEST.match(key):
        return 6
    if key.startswith(f"{SCHEMA_DIR}/"):
        return 5
    if key.startswith(f"{WARC_DIR}/") and key.endswith(".warc.gz"):
        return 0
    if key.endswith(".cdxj"):
        return 1
    if is_row_file(key):
        return 2
    if key.endswith(".parquet"):
        return 3
    return 4


def queue_path(staging_root: Path, run_id: str) -> Path:
    return Path(staging_root) / QUEUE_DIR / f"{run_id}.json"


def pending_runs(staging_root: Path) -> list[str]:
    folder = Path(staging_root) / QUEUE_DIR
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def _cdxj_siblings(staging: Path, warc_key: str) -> Iterator[str]:
    stem = warc_key.removesuffix(".warc.gz")
    for candidate in (f"{warc_key}.cdxj", f"{stem}.cdxj"):
        if (staging / candidate).is_file():
            yield candidate


def build_plan(staging_root: Path, run_id: str) -> list[dict[str, Any]]:
    """Every object of the run, in publication order, with the size and sha256 it must have."""
    staging = Path(staging_root)
    manifest_key = manifest_relpath(run_id)
    manifest_path = staging / manifest_key
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"{manifest_path}: no manifest, so run {run_id} did not finish; nothing to publish"
        )
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    entries: dict[str, dict[str, Any]] = {}
    for item in manifest.get("files", []):
        resolve_inside(staging, item["path"])
        entries[item["path"]] = {"key": item["path"], "size": int(item["size"]), "sha256": item["sha256"]}

    def add_unlisted(key: str) -> None:
        if key not in entries:
            path = staging / key
            entries[key] = {"key": key, "size": path.stat().st_size, "sha256": sha256_file(path)}

    for key in [k for k in entries if upload_rank(k) == 0]:
        for cdxj in _cdxj_siblings(staging, key):
            add_unlisted(cdxj)
    schema_dir = staging / SCHEMA_DIR
    if schema_dir.is_dir():
        for path in sorted(schema_dir.glob("*.json")):
            add_unlisted(path.relative_to(staging).as_posix())
    add_unlisted(manifest_key)
    plan = sorted(entries.values(), key=lambda e: upload_rank(e["key"]))  # stable: manifest order kept
    for entry in plan:
        entry["state"] = PENDING
    return plan


def _load_or_create_queue(staging: Path, run_id: str, store: Store) -> tuple[dict[str, Any], bool]:
    path = queue_path(staging, run_id)
    if path.is_file():
        queue = json.loads(path.read_text(encoding="utf-8"))
        if queue.get("store") != store.url:
            # Published elsewhere before: what counts as done there proves nothing here.
            log.warning(
                "%s: queued for %s, now publishing to %s: starting over", path, queue.get("store"), store.url
            )
            for entry in queue["entries"]:
                entry["state"] = PENDING
            queue["store"] = store.url
        return queue, True
    now = datetime.now(UTC).isoformat()
    queue = {
        "queue_version": QUEUE_VERSION,
        "run_id": run_id,
        "store": store.url,
        "created_at": now,
        "updated_at": now,
        "attempts": 0,
        "entries": build_plan(staging, run_id),
    }
    write_json_atomic(path, queue)
    return queue, False


def publish_run(
    staging_root: Path,
    run_id: str,
    store: Store,
    *,
    delete_local: bool = False,
    progress: Callable[[str], None] | None = None,
) -> PublishReport:
    """Upload one finished run; stop at the first object that cannot be published (the manifest is then
    not uploaded and the queue stays on disk for `publish_pending`)."""
    staging = Path(staging_root)
    if isinstance(store, LocalStore) and store.root.resolve() == staging.resolve():
        raise ValueError(f"{staging}: publishing a root onto itself")
    say = progress or (lambda _msg: None)
    queue, resumed = _load_or_create_queue(staging, run_id, store)
    report = PublishReport(run_id=run_id, store=store.url, resumed=resumed)
    qpath = queue_path(staging, run_id)
    queue["attempts"] = int(queue.get("attempts", 0)) + 1
    abort_incomplete = getattr(store, "abort_incomplete", None)
    for entry in queue["entries"]:
        key = entry["key"]
        if entry["state"] == DONE:
            continue
        if resumed and abort_incomplete is not None:
            abort_incomplete(key)  # a killed multipart upload of this key leaves invisible parts behind
        if key.endswith(".warc.gz"):
            # A WARC is published only once it is closed and valid: a bad one stops the run here, before
            # the JSON lines that point into it and before the manifest.
            problems = warc_problems(staging / key, key)
            if problems:
                entry["error"] = f"invalid WARC, not uploaded: {problems[0]}"
                report.failed[key] = entry["error"]
                write_json_atomic(qpath, queue)
                log.error("publish %s to %s stopped at %s: %s", run_id, store.url, key, entry["error"])
                break
        say(f"upload {key} ({entry['size']} bytes)")
        try:
            result = store.put_file(key, staging / key, sha256=entry["sha256"], size=entry["size"])
        except ObjectExistsError as exc:
            entry["state"], entry["error"] = REFUSED, str(exc)
            report.refused.append(key)
        except (LocalFileChangedError, OSError) as exc:
            entry["error"] = f"local copy unusable: {exc}"
            report.failed[key] = entry["error"]
        except Exception as exc:  # a store failure after retries: recorded, retried by the next run
            entry["error"] = f"{type(exc).__name__}: {exc}"
            report.failed[key] = entry["error"]
        else:
            entry["state"] = DONE
            entry.pop("error", None)
            if result.verified_by == "already-present":
                report.already_present.append(key)
            else:
                report.uploaded.append(key)
                report.bytes_uploaded += entry["size"]
        queue["updated_at"] = datetime.now(UTC).isoformat()
        write_json_atomic(qpath, queue)
        if entry["state"] != DONE:
            log.error("publish %s to %s stopped at %s: %s", run_id, store.url, key, entry.get("error"))
            break
    else:
        report.manifest_published = True
        qpath.unlink()
        if delete_local:
            report.deleted_local = _delete_local(staging, [e["key"] for e in queue["entries"]])
    report.warnings = store.warnings()
    return report


def publish_pending(
    staging_root: Path,
    store: Store,
    *,
    delete_local: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[PublishReport]:
    """Retry every run whose publication did not complete, oldest first."""
    return [
        publish_run(staging_root, run_id, store, delete_local=delete_local, progress=progress)
        for run_id in pending_runs(staging_root)
    ]


def latest_published_run_id(store: Store) -> str | None:
    """The newest run whose manifest is in the store (run ids sort by start time)."""
    runs = [m.group(1) for info in store.list_objects(f"{RUNS_DIR}/") if (m := _RUN_MANIFEST.match(info.key))]
    return max(runs) if runs else None


def _delete_local(staging: Path, keys: list[str]) -> list[str]:
    """Delete the local copies of a verified run. Schema files stay: every later run needs them."""
    deleted = []
    for key in keys:
        if upload_rank(key) == 5:
            continue
        path = staging / key
        if path.is_file():
            path.unlink()
            deleted.append(key)
            parent = path.parent
            while parent != staging:
                try:
                    parent.rmdir()  # only succeeds when empty
                except OSError:
                    break
                parent = parent.parent
    return deleted
