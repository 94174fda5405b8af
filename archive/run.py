"""Run identity, the ledger of files a run produced, and the run manifest written last.

A downstream consumer discovers new data by listing runs/*/manifest.json: a file listed there is
complete (it was closed and renamed before the manifest was written) and can be checked by size and
sha256.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import secrets
import tempfile
import threading
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any, ClassVar

from archive.paths import (
    MANIFEST_NAME,
    RUNS_DIR,
    fsync_dir,
    manifest_relpath,
    resolve_inside,
    safe_component,
    write_atomically,
)

MANIFEST_VERSION = 1
_HASH_CHUNK = 1 << 20


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not-installed"


def software_versions() -> dict[str, str]:
    """Versions that decide what ended up in the archive. Read from metadata: importing scrapy is slow
    and forbidden in this package."""
    names = ["newsarchive", "scrapy", "twisted", "warcio", "trafilatura", "lxml"]
    versions = {name: package_version(name) for name in names}
    versions["python"] = platform.python_version()
    return versions


def new_run_id(now: datetime | None = None) -> str:
    """A run id that sorts by start time (UTC, to the second) and is unique thanks to 24 random bits."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class RunLedger:
    """The files one run produced, shared by every component of the process that writes for that run.

    Components close their files at different moments (spider_closed, pipeline close); whoever writes
    the manifest asks the ledger for the full list.
    """

    _registry: ClassVar[dict[tuple[str, str], RunLedger]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, root: Path, run_id: str) -> None:
        self.root = root
        self.run_id = run_id
        self._files: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_run(cls, root: Path, run_id: str) -> RunLedger:
        key = (str(Path(root).resolve()), run_id)
        with cls._registry_lock:
            ledger = cls._registry.get(key)
            if ledger is None:
                ledger = cls._registry[key] = cls(Path(root), run_id)
            return ledger

    def add_file(self, relpath: str, kind: str) -> None:
        resolve_inside(self.root, relpath)  # refuses paths outside the root early, where the bug is
        with self._lock:
            self._files[relpath] = kind

    def files(self) -> list[tuple[str, str]]:
        """(relpath, kind) in the order they were added."""
        with self._lock:
            return list(self._files.items())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that a reader sees either no file or the complete file, never a partial one."""

    def fill(fh: IO[str]) -> None:
        json.dump(data, fh, ensure_ascii=False, indent=2)
        fh.write("\n")

    write_atomically(path, fill)


def write_manifest(
    root: Path,
    run_id: str,
    *,
    files: list[tuple[str, str]],
    counts: dict[str, Any],
    config: dict[str, Any],
    versions: dict[str, str],
    started_at: str,
    finished_at: str,
    errors: dict[str, int],
    previous_run_id: str | None,
) -> Path:
    """Write runs/<run_id>/manifest.json listing every file with its size and sha256. Call it last."""
    entries = []
    for rel, kind in files:
        path = resolve_inside(root, rel)
        entries.append({"path": rel, "kind": kind, "size": path.stat().st_size, "sha256": sha256_file(path)})
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "run_id": run_id,
        "previous_run_id": previous_run_id,
        "started_at": started_at,
        "finished_at": finished_at,
        "files": entries,
        "counts": counts,
        "errors": errors,
        "config": config,
        "versions": versions,
    }
    target = root / manifest_relpath(run_id)
    write_json_atomic(target, manifest)
    return target


def install_schema(root: Path, version: str, text: str) -> str:
    """Put schema/article-<version>.json into an archive root, where every consumer of the root finds
    the contract its rows follow. A version's file never changes: different text under an existing
    version is a bug (the version should have been bumped) and is refused. Returns the relative path."""
    rel = f"schema/article-{safe_component(version, 'schema version')}.json"
    target = resolve_inside(root, rel)
    if target.is_file():
        if target.read_text(encoding="utf-8") != text:
            raise ValueError(
                f"{target}: differs from the schema {version} of this software; a changed schema needs a new version"
            )
        return rel
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, target)  # no-replace: a concurrent run installing the same file is fine
        except FileExistsError:
            pass
    finally:
        Path(tmp).unlink(missing_ok=True)
    fsync_dir(target.parent)
    return rel


def latest_run_id(root: Path) -> str | None:
    """The newest run that finished (has a manifest). Run ids sort by start time."""
    runs = root / RUNS_DIR
    if not runs.is_dir():
        return None
    finished = [p.parent.name for p in runs.glob(f"*/{MANIFEST_NAME}") if p.is_file()]
    return max(finished) if finished else None
