"""What the catalog (archive.catalog) reads from an archive root, and the rows each file gives it.

Sources are the CDXJ indexes under `warc/`, the closed JSONL article files under `articles/` and the
run manifests under `runs/`, found in the local root and, for an s3:// archive, in the store too. The
functions here parse them into table rows; archive.catalog writes the rows and answers questions.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from archive.cdxj import CDXJ_SUFFIX, CdxjLine
from archive.jsonl import read_rows
from archive.paths import ARTICLES_DIR, MANIFEST_NAME, RUNS_DIR, WARC_DIR, is_row_file
from archive.storage import Store
from archive.warc_records import METADATA_URI_PREFIX, warc_target_uri

# A warcinfo record is about 1 KiB compressed; read no more than this to find it.
_WARCINFO_MAX = 1 << 16


def list_sources(
    root: Path, store: Store | None, folders: tuple[str, ...] = (WARC_DIR, ARTICLES_DIR, RUNS_DIR)
) -> list[tuple[str, str]]:
    """(key, kind) of every source file in the root (and the store), kind being manifest, cdxj, jsonl or
    urls; `folders` narrows the walk (the article index needs only articles/)."""
    keys: set[str] = set()
    for folder in folders:
        keys.update(local_files(root, folder))
    if store is not None:
        for folder in folders:
            keys.update(info.key for info in store.list_objects(f"{folder}/"))
    sources = [(key, kind) for key in keys if (kind := _kind(key))]
    # Manifests before WARC indexes before rows: order does not change the result, only reads well.
    order = {"manifest": 0, "cdxj": 1, "jsonl": 2, "urls": 3}
    return sorted(sources, key=lambda item: (order[item[1]], item[0]))


def local_files(root: Path, folder: str) -> Iterator[str]:
    """Root-relative keys of the files under `root/folder` (not following links to folders).

    os.walk reads each folder once and stats no file, where rglob + is_file stats every one: every crawl
    lists the root at start (twice), so this is what its start-up pays per archived file. A name that is
    not a regular file after all (a dangling link) is skipped by read_source."""
    for dirpath, _, filenames in os.walk(root / folder):
        rel = Path(dirpath).relative_to(root).as_posix()
        yield from (f"{rel}/{name}" for name in filenames)


def read_source(root: Path, store: Store | None, key: str) -> bytes | None:
    local = root / key
    if local.is_file():
        return local.read_bytes()
    if store is not None:
        return store.read_bytes(key)
    return None


def read_head(root: Path, store: Store | None, key: str, length: int) -> bytes:
    """The first bytes of a WARC file, local or in the store; b"" when it is in neither."""
    try:
        local = root / key
        if local.is_file():
            with local.open("rb") as fh:
                return fh.read(length)
        if store is not None:
            return store.read_range(key, 0, length)
    except Exception:  # any store error: a missing or unreadable file only costs the path keys
        return b""
    return b""


def finished_warcs(key: str, data: bytes) -> list[tuple[str, str]]:
    """(warc path, run id) of every WARC file a run's manifest lists as its own."""
    manifest = json.loads(data.decode("utf-8"))
    run_id = str(manifest.get("run_id") or PurePosixPath(key).parent.name)
    return [
        (entry["path"], run_id)
        for entry in manifest.get("files", [])
        if isinstance(entry, dict) and entry.get("kind") == "warc" and entry.get("path")
    ]


def cdxj_lines(data: bytes) -> Iterator[CdxjLine]:
    for line in data.decode("utf-8").splitlines():
        if not line.strip() or line.startswith("!"):
            continue
        urlkey, timestamp, fields = line.split(" ", 2)
        yield CdxjLine(urlkey, timestamp, json.loads(fields))


def warcinfo_ends(folder: str, lines: list[CdxjLine]) -> dict[str, int]:
    """{warc path: where its warcinfo record ends} for the WARC files these index lines (of `folder`) name."""
    first: dict[str, int] = {}  # the first record after the warcinfo: where the warcinfo ends
    for line in lines:
        path = f"{folder}/{line.fields['filename']}"
        first[path] = min(first.get(path, _WARCINFO_MAX), int(line.fields["offset"]) or _WARCINFO_MAX)
    return first


def capture_rows(
    key: str, lines: list[CdxjLine], outlets: dict[str, dict[str, str]]
) -> tuple[list[tuple[Any, ...]], set[str]]:
    """The `captures` rows of a CDXJ index file and the WARC paths it covers; `outlets` is
    {warc path: {override origin: outlet}} (see origins_to_outlet)."""
    folder = PurePosixPath(key).parent.as_posix()
    warc_paths: set[str] = set()
    rows = []
    for line in lines:
        fields = line.fields
        warc_path = f"{folder}/{fields['filename']}"
        warc_paths.add(warc_path)
        uri = str(fields.get("url", ""))
        status = int(fields["status"]) if str(fields.get("status", "")).isdigit() else None
        if uri.startswith(METADATA_URI_PREFIX):
            kind = "metadata"
        elif fields.get("mime") == "warc/revisit":
            kind = "revisit"
        elif status is not None and not fields.get("warc-truncated"):
            kind = "response"
        else:
            kind = "other"  # truncated, or a record type this catalog has no use for
        outlet, path_qs = None, None
        page = uri.removeprefix(METADATA_URI_PREFIX)
        if (origin_outlet := outlets.get(warc_path, {}).get(_origin(page))) is not None:
            outlet, path_qs = origin_outlet, path_query(page)
        rows.append(
            (
                uri,
                kind,
                status,
                warc_path,
                int(fields["offset"]),
                int(fields["length"]),
                fields.get("warc-record-id"),
                fields.get("digest"),
                fields.get("warc-date"),
                outlet,
                path_qs,
            )
        )
    if not warc_paths:
        warc_paths.add(f"{folder}/{PurePosixPath(key).name.removesuffix(CDXJ_SUFFIX)}.warc.gz")
    return rows, warc_paths


def article_rows(key: str, data: bytes) -> list[tuple[Any, ...]]:
    """The `articles` rows of a JSONL article file."""
    rows = []
    for row in read_rows(data):
        pointer = row.get("warc") or {}
        rows.append(
            (
                row.get("url"),
                row.get("fetched_url"),
                row.get("outlet"),
                row.get("published_at"),
                row.get("run_id"),
                key,
                pointer.get("path"),
                pointer.get("offset"),
                pointer.get("length"),
                pointer.get("record_id"),
                pointer.get("payload_digest"),
                pointer.get("date"),
            )
        )
    return rows


def path_query(url: str) -> str:
    """The origin-independent key of a page: its path?query as in a WARC-Target-URI (fragment dropped)."""
    parts = urlsplit(warc_target_uri(url))
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def origins_to_outlet(raw: str) -> dict[str, str]:
    """warcinfo `outlet-base-urls` ({outlet: origin}, JSON) inverted; an origin of several outlets dropped."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    if not isinstance(value, dict):
        return {}
    result: dict[str, str] = {}
    shared: set[str] = set()
    for outlet, base in value.items():
        origin = _origin(str(base))
        if origin in result:
            shared.add(origin)
        result[origin] = str(outlet)
    return {origin: outlet for origin, outlet in result.items() if origin not in shared}


def warcinfo_fields(head: bytes) -> dict[str, str]:
    """The fields of the warcinfo record a WARC file starts with (its first gzip member), from its first
    bytes; {} when it does not start with one. As archive.recovery.warcinfo_fields, from bytes."""
    try:
        out = zlib.decompressobj(zlib.MAX_WBITS + 16).decompress(head)
    except zlib.error:
        return {}
    header, _, block = out.partition(b"\r\n\r\n")
    if b"WARC-Type: warcinfo" not in header:
        return {}
    fields: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            fields.setdefault(name.strip(), value.strip())
    return fields


def _kind(key: str) -> str | None:
    if any(part.startswith(".") for part in key.split("/")):
        return None  # temporary files of an atomic write, upload queues: not archive content
    if key.startswith(f"{WARC_DIR}/") and key.endswith(CDXJ_SUFFIX):
        return "cdxj"
    if is_row_file(key):
        return "jsonl"  # `.jsonl.gz.open` files are still being written (or lost): never ingested
    parts = key.split("/")
    if len(parts) == 3 and parts[0] == RUNS_DIR and parts[2] == MANIFEST_NAME:
        return "manifest"
    if (
        len(parts) == 3
        and parts[0] == RUNS_DIR
        and parts[2].startswith("urls-")
        and parts[2].endswith(".jsonl.gz")
    ):
        return "urls"  # the run's URL ledger (pipelines.url_ledger)
    return None
