"""A cheap fingerprint of a local articles/ tree, so refreshing the article index (archive.article_index)
can skip walking it when no file can have been added or removed since the last complete refresh.

Article files live in `articles/outlet=<o>/date=<d>/` and arrive by a rename into their date folder, which
changes that folder's mtime (so does a removal, or a new folder one level up): the mtimes of the tree's
top three folder levels, stat'ed without listing the files, change whenever the walk could find
something new. None (walk every time) when a folder is deeper than that (files in it would not move the
stamp) or changed within the last SETTLE_S seconds (a change within the same timestamp tick as the stamp
would not move it either).
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

STAMP_KEY = "articles_stamp"
SETTLE_S = 2.0


def folder_stamp(top: Path) -> str | None:
    """A digest of the mtimes of `top`, its subfolders and theirs; None when it cannot be trusted."""
    try:
        first = os.stat(top)
    except FileNotFoundError:
        return "absent"
    parts = [f"{first.st_mtime_ns}"]
    newest = first.st_mtime_ns
    try:
        for outlet in _subfolders(top):
            mtime = outlet.stat().st_mtime_ns
            parts.append(f"{outlet.name}\0{mtime}")
            newest = max(newest, mtime)
            for day in _subfolders(Path(outlet.path)):
                info = day.stat()
                mtime = info.st_mtime_ns
                parts.append(f"{outlet.name}/{day.name}\0{mtime}")
                newest = max(newest, mtime)
                # A link count of 2 is a folder with no subfolder (ext4, xfs, tmpfs); filesystems that do
                # not count them (btrfs: 1) get listed, once per mtime.
                if info.st_nlink != 2 and mtime != _LISTED.get(day.path) and _has_subfolder(Path(day.path)):
                    return None
                _LISTED[day.path] = mtime
    except OSError:
        return None
    if newest > time.time_ns() - int(SETTLE_S * 1e9):
        return None
    return hashlib.sha256("\n".join(sorted(parts)).encode("utf-8", "surrogateescape")).hexdigest()


# Date folders found without subfolders, by mtime: listed again only when they change.
_LISTED: dict[str, int] = {}


def _subfolders(path: Path) -> list[os.DirEntry[str]]:
    with os.scandir(path) as entries:
        return [e for e in entries if e.is_dir(follow_symlinks=False)]


def _has_subfolder(path: Path) -> bool:
    return bool(_subfolders(path))
