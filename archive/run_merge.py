"""One manifest for a distributed run: the manifests of its workers' runs merged.

Each worker of a distributed job (README "Scale-out with Redis") writes and publishes its own run with
its own manifest. `merge_manifests` writes `runs/<job>/manifest.json` (same format, `kind:
"distributed"`): every file of every part (each listed once), counts and errors summed, the earliest
start and the latest finish, and the part run ids, so a consumer can take the job as one run. The parts'
manifests stay: nothing is moved or rewritten.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from archive.paths import manifest_relpath
from archive.run import MANIFEST_VERSION
from archive.storage import Store


def _add_counts(total: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, bool):
            total.setdefault(key, value)
        elif isinstance(value, int | float):
            total[key] = total.get(key, 0) + value
        elif isinstance(value, dict):
            _add_counts(total.setdefault(key, {}), value)
        else:
            total.setdefault(key, value)


def merged_manifest(job: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    files: dict[str, dict[str, Any]] = {}
    counts: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for part in parts:
        for entry in part.get("files", []):
            files.setdefault(entry["path"], entry)
        _add_counts(counts, part.get("counts") or {})
        _add_counts(errors, part.get("errors") or {})
    first = parts[0] if parts else {}
    return {
        "manifest_version": MANIFEST_VERSION,
        "run_id": job,
        "kind": "distributed",
        "parts": [p["run_id"] for p in parts],
        "previous_run_id": None,
        "started_at": min((p.get("started_at") or "" for p in parts), default=""),
        "finished_at": max((p.get("finished_at") or "" for p in parts), default=""),
        "files": list(files.values()),
        "counts": counts,
        "errors": errors,
        "config": first.get("config", {}),
        "versions": first.get("versions", {}),
    }


def merge_manifests(store: Store, job: str, run_ids: list[str]) -> tuple[str, list[str]]:
    """Write the job's manifest into the store from the parts found; returns its key and the run ids
    that have no manifest (a worker that died, or has not published yet)."""
    parts, missing = [], []
    for run_id in run_ids:
        key = manifest_relpath(run_id)
        if store.head(key) is None:
            missing.append(run_id)
            continue
        parts.append(json.loads(store.read_bytes(key)))
    data = (json.dumps(merged_manifest(job, parts), ensure_ascii=False, indent=2) + "\n").encode()
    key = manifest_relpath(job)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manifest.json"
        path.write_bytes(data)
        store.put_file(key, path, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    return f"{store.url.rstrip('/')}/{key}", missing
