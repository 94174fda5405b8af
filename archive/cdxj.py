"""A CDXJ index beside every closed WARC file, written by cdxj-indexer in the form pywb reads.

`<name>.cdxj` sits next to `<name>.warc.gz`: one line per response, revisit and metadata record,
`<SURT key> <14-digit timestamp> <JSON>`, sorted, with `filename` the WARC's basename (what a pywb
collection's archive folder holds). Fields beyond cdxj-indexer's defaults (`warc-record-id`,
`warc-date`, and `warc-truncated` where set) let a later run point revisit records and article
pointers at an earlier complete response without reopening its WARC file; pywb ignores them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cdxj_indexer.main import CDXJIndexer

from archive.paths import WARC_DIR, fsync_dir

CDXJ_SUFFIX = ".cdxj"
WARC_SUFFIX = ".warc.gz"
EXTRA_FIELDS = "warc-record-id,warc-date,warc-truncated"


def cdxj_path_for(warc_path: Path) -> Path:
    name = warc_path.name
    stem = name[: -len(WARC_SUFFIX)] if name.endswith(WARC_SUFFIX) else name
    return warc_path.with_name(stem + CDXJ_SUFFIX)


def write_cdxj(warc_path: Path) -> Path:
    """Index a closed WARC file; the index appears atomically (a reader never sees half of it)."""
    warc_path = Path(warc_path)
    target = cdxj_path_for(warc_path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            CDXJIndexer(fh, [str(warc_path)], sort=True, fields=EXTRA_FIELDS).process_all()
            fh.flush()
            os.fsync(fh.fileno())
        # Same bytes whoever writes them, so a concurrent writer replacing ours is harmless.
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target


def index_missing(root: Path) -> list[Path]:
    """Write the index of every closed WARC under the root that has none (a crash between the
    rename of the WARC and its indexing leaves such a file); return the indexes written."""
    folder = Path(root) / WARC_DIR
    if not folder.is_dir():
        return []
    written = []
    for warc_path in sorted(folder.rglob(f"*{WARC_SUFFIX}")):
        if warc_path.is_file() and not cdxj_path_for(warc_path).exists():
            written.append(write_cdxj(warc_path))
    return written


@dataclass
class CdxjLine:
    urlkey: str
    timestamp: str
    fields: dict[str, Any]


def read_cdxj(path: Path) -> Iterator[CdxjLine]:
    with Path(path).open("r", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip() or line.startswith("!"):
                continue
            urlkey, timestamp, data = line.rstrip("\n").split(" ", 2)
            yield CdxjLine(urlkey, timestamp, json.loads(data))


def iter_indexes(root: Path) -> list[Path]:
    folder = Path(root) / WARC_DIR
    return sorted(folder.rglob(f"*{CDXJ_SUFFIX}")) if folder.is_dir() else []
