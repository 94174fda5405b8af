"""What earlier runs of a root already covered, so a repeat run can skip the discovery only a first
(backfill) run needs.

Listings and site search exist to reach back in time; feeds and sitemaps show what is new. An outlet
whose newest run finished normally with a window starting no later than this run's needs only its
feeds and sitemaps (asked conditionally) to find what was published since: that is how a daily
schedule costs a handful of requests per outlet (issue 10). `crawl --full-discovery` ignores this.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from archive.paths import MANIFEST_NAME, RUNS_DIR
from archive.storage import Store


def _manifests_newest_first(root: Path, store: Store | None) -> Iterator[dict[str, Any]]:
    local = {p.parent.name: p for p in (root / RUNS_DIR).glob(f"*/{MANIFEST_NAME}") if p.is_file()}
    remote: set[str] = set()
    if store is not None:
        for info in store.list_objects(f"{RUNS_DIR}/"):
            parts = info.key.split("/")
            if len(parts) == 3 and parts[2] == MANIFEST_NAME:
                remote.add(parts[1])
    for run_id in sorted(set(local) | remote, reverse=True):
        try:
            if run_id in local:
                data = local[run_id].read_bytes()
            else:
                assert store is not None
                data = store.read_bytes(f"{RUNS_DIR}/{run_id}/{MANIFEST_NAME}")
            manifest = json.loads(data)
        except (OSError, ValueError):
            continue  # an unreadable manifest covers nothing; verify reports it
        if isinstance(manifest, dict):
            yield manifest


def covered_outlets(root: Path, store: Store | None, outlets: list[str], since: datetime) -> list[str]:
    """The outlets whose newest run (of those that crawled them) finished normally with a window that
    started no later than `since`."""
    covered, seen = [], set()
    for manifest in _manifests_newest_first(root, store):
        config = manifest.get("config") or {}
        counts = manifest.get("counts") or {}
        for outlet in config.get("outlets") or []:
            if outlet not in outlets or outlet in seen:
                continue
            seen.add(outlet)
            finished = (counts.get("finish_reasons") or {}).get(outlet) == "finished"
            accounting = (counts.get("accounting") or {}).get(outlet) or {}
            try:
                started = datetime.fromisoformat(str(config.get("since")))
            except ValueError:
                continue
            if finished and accounting.get("balanced") and started <= since:
                covered.append(outlet)
        if seen >= set(outlets):
            break
    return sorted(covered)
