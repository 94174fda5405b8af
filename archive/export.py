"""Export a selection of articles as a bundle a researcher can keep, share and cite.

A bundle is a folder (`OUT/`) holding the data file (`articles.jsonl`, `articles.csv`,
`articles.parquet` or `articles.wacz`), the article JSON Schema the rows follow (`schema/`), a
`README.md` explaining the fields and how to cite an article, and `manifest.json` (the filters, the
counts, the sha256 and size of every other file, the runs the rows come from, the schema version). The
fields are documented in docs/export.md.

The bundle is built in a hidden sibling folder (`.OUT.partial-<pid>`) and renamed to OUT only once every
file is complete, so an interrupted or failed export leaves no folder that looks like a finished bundle
(the partial folder is removed on any error; one left by a killed process is plainly named). OUT must
not exist: an export never overwrites.

Rows are streamed from the article index (archive.article_index): memory stays flat whatever the size of
the selection.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.article_index import ArticleIndex, open_index
from archive.export_counts import ExportCounts
from archive.export_formats import ROW_FORMATS, open_writer
from archive.export_readme import readme_text
from archive.paths import fsync_dir, rename_no_replace
from archive.root_access import ArchiveRoot, open_root
from archive.selection import Selection
from archive.storage import Store

if TYPE_CHECKING:
    from archive.parquet_export import Where

FORMATS = ("jsonl", "parquet", "csv", "wacz")
MANIFEST_NAME = "manifest.json"
README_NAME = "README.md"
BUNDLE_KIND = "newsarchive-export"
BUNDLE_VERSION = 1
PROGRESS_EVERY = 1000

Progress = Callable[[int, int], None]
"""progress(rows written so far, rows selected in all)"""


class ExportError(ValueError):
    """A mistake in the export request (unknown format, existing output): one line, exit 2."""


class ExportSourceError(Exception):
    """The archive could not give what the export needs (a row whose WARC record is unreadable): one
    line, exit 1; no bundle is written."""


@dataclass
class ExportResult:
    out: Path
    format: str
    count: int
    files: list[tuple[str, str, int]]  # (name inside the bundle, sha256, size)
    manifest: dict[str, Any] = field(default_factory=dict)


def _tallied(
    rows: Iterator[dict[str, Any]], tally: ExportCounts, total: int, progress: Progress | None
) -> Iterator[dict[str, Any]]:
    for row in rows:
        tally.add(row)
        if progress is not None and tally.count % PROGRESS_EVERY == 0:
            progress(tally.count, total)
        yield row
    if progress is not None:
        progress(tally.count, total)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newsarchive")
    except PackageNotFoundError:
        return "unknown"


def export_selection(
    root: str | Path | ArchiveRoot,
    selection: Selection,
    fmt: str,
    out: Path,
    *,
    store: Store | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the selected articles (latest versions, newest published first) as a bundle folder `out`."""
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt}: unknown format (choose from {', '.join(FORMATS)})")
    out = Path(out)
    if out.exists():
        raise ExportError(f"--out {out}: already exists; an export never overwrites (choose a new name)")
    archive_root = open_root(root, store)
    from core.items import SCHEMA_VERSION
    from core.schema import article_schema

    json_schema = article_schema()
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    with open_index(archive_root) as index:
        located = None
        if fmt == "parquet":
            # The selection and the docs' locations in the twins, in one query (archive.parquet_export).
            from archive.parquet_export import select_located

            ids, located = select_located(index, selection)
        else:
            ids = index.select_ids(selection)
        manifest: dict[str, Any] = {
            "kind": BUNDLE_KIND,
            "bundle_version": BUNDLE_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "newsarchive_version": _version(),
            "source": {"root": archive_root.url},
            "selection": selection.describe(),
            "format": fmt,
            "schema_version": SCHEMA_VERSION,
            # Parquet: once the data file is written (the columnar path reads them with the rows' locations).
            "runs": None if fmt == "parquet" else index.run_ids(ids),
        }
        tally = ExportCounts()
        staging.mkdir(parents=True)
        try:
            rows = _tallied(index.rows(ids), tally, len(ids), progress)
            data_name = "articles.wacz" if fmt == "wacz" else ROW_FORMATS[fmt]
            if fmt == "wacz":
                _write_wacz(rows, archive_root, staging / data_name, manifest)
            elif fmt == "parquet" and (
                columnar := _columnar(index, archive_root, ids, staging / data_name, json_schema, located)
            ):
                # Written from the crawl's Parquet twins, no row decoded: progress comes once, at the end.
                tally = columnar
                if progress is not None:
                    progress(tally.count, len(ids))
            else:
                writer = open_writer(fmt, staging / data_name, json_schema)
                for row in rows:
                    writer.write(row)
                writer.close()
            if manifest["runs"] is None:
                manifest["runs"] = tally.runs if tally.runs is not None else index.run_ids(ids)
            schema_names = _write_schemas(archive_root, staging, sorted(tally.schema_versions), json_schema)
            manifest["counts"] = tally.manifest_counts()
            versions = sorted(tally.schema_versions, key=_version_key)
            manifest["schema_version"] = versions[-1] if versions else SCHEMA_VERSION
            manifest["row_schema_versions"] = versions
            manifest["schemas"] = schema_names
            (staging / README_NAME).write_text(readme_text(manifest, data_name), encoding="utf-8")
            names = [data_name, *schema_names, README_NAME]
            files = [(name, _sha256(staging / name), (staging / name).stat().st_size) for name in names]
            manifest["files"] = [{"name": n, "sha256": s, "size": z} for n, s, z in files]
            (staging / MANIFEST_NAME).write_text(
                json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
            for name in [*names, MANIFEST_NAME]:
                with (staging / name).open("rb") as fh:
                    os.fsync(fh.fileno())
            fsync_dir(staging)
            rename_no_replace(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return ExportResult(out=out, format=fmt, count=tally.count, files=files, manifest=manifest)


def _columnar(
    index: ArticleIndex,
    root: ArchiveRoot,
    ids: list[int],
    path: Path,
    json_schema: dict[str, Any],
    located: Where | None,
) -> ExportCounts | None:
    """Write a Parquet export from the twins (archive.parquet_export): its counts, or None when the row
    path must."""
    from archive.parquet_export import write_columnar

    return write_columnar(index, root, ids, path, json_schema, located)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def _write_schemas(
    root: ArchiveRoot, staging: Path, versions: list[str], current: dict[str, Any]
) -> list[str]:
    """Copy the JSON Schema of each row version into the bundle: the archive root's copy (written by
    the crawl that wrote the rows), or this software's for its own version. Returns the bundle paths."""
    from core.items import SCHEMA_VERSION
    from core.schema import schema_relpath

    names = []
    for version in versions:
        name = schema_relpath(version)
        try:
            data = root.read_bytes(name)
        except Exception:  # an archive without its schema copy: ours, if it is the same version
            if version != SCHEMA_VERSION:
                continue
            data = (json.dumps(current, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        names.append(name)
    return names


def _write_wacz(
    rows: Iterator[dict[str, Any]], root: ArchiveRoot, path: Path, manifest: dict[str, Any]
) -> None:
    from archive.catalog import Catalog
    from archive.storage import LocalStore
    from archive.wacz_export import write_wacz
    from archive.wacz_records import WaczSourceError

    store = root.store if root.store is not None else LocalStore(root.local)
    # The root's own catalog (in the spool of an s3:// root): without it the WACZ writer would build a
    # temporary one from the whole bucket.
    with Catalog.open(root.local, root.store) as catalog:
        catalog.refresh()
        try:
            result = write_wacz(
                rows, store, path, manifest=manifest, title=_wacz_title(manifest), catalog=catalog
            )
        except WaczSourceError as exc:
            raise ExportSourceError(f"--format wacz: {exc}") from None
    # Records the bundle lacks (a request record another tool never wrote, say) are named, not hidden.
    manifest.setdefault("warnings", []).extend(result.warnings)


def _wacz_title(manifest: dict[str, Any]) -> str:
    chosen = {k: v for k, v in (manifest.get("selection") or {}).items() if v}
    return "newsarchive selection" + (f" {json.dumps(chosen, ensure_ascii=False)}" if chosen else "")
