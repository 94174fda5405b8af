"""Refreshing the article index skips the walk of articles/ only while no file can have been added."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import archive.article_index as article_index
from archive.article_index import open_index
from archive.article_stamp import STAMP_KEY


def _age(root: Path, mtime: int) -> None:
    for dirpath, _, _ in os.walk(root / "articles"):
        os.utime(dirpath, (mtime, mtime))


def test_a_new_article_file_is_found_after_a_skipped_walk(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "archive"
    shutil.copytree(demo_archive[0], root)
    (root / ".search.sqlite").unlink(missing_ok=True)
    old = 1_700_000_000
    _age(root, old)
    walks = []
    real = article_index.list_sources
    monkeypatch.setattr(article_index, "list_sources", lambda *a: walks.append(1) or real(*a))
    with open_index(root) as index:
        count = index.conn.execute("SELECT COUNT(*) FROM docs").fetchone()[0]
        assert index._meta(STAMP_KEY) is not None
    with open_index(root) as index:
        assert index.refresh() == 0
    assert len(walks) == 1  # the second open and the explicit refresh did not walk
    source = next(root.glob("articles/*/*/*.jsonl.gz"))
    rows = source.read_bytes()
    new = source.with_name("20990101T000000Z-000000-x-00001.jsonl.gz")
    new.with_suffix(".open").write_bytes(rows)
    os.rename(new.with_suffix(".open"), new)
    _age(root, old + 60)  # older than the settle time, yet not the stamped mtimes
    with open_index(root) as index:
        assert index.conn.execute("SELECT COUNT(*) FROM docs").fetchone()[0] > count
        assert index.conn.execute("SELECT COUNT(*) FROM ingested WHERE key LIKE '%20990101T%'").fetchone()[0]
    assert len(walks) == 2


def test_a_recent_change_is_never_stamped(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    root = tmp_path / "archive"
    shutil.copytree(demo_archive[0], root)
    (root / ".search.sqlite").unlink(missing_ok=True)
    _age(root, 1_700_000_000)
    with open_index(root) as index:
        assert index._meta(STAMP_KEY) is not None
    os.utime(next(root.glob("articles/*/*")))  # a date folder changed just now
    with open_index(root) as index:
        assert index._meta(STAMP_KEY) is None
