"""Test helper: the session's demo archive (`newsarchive demo`, tests/conftest.py) published to a moto
bucket (tests/s3server.py), for the readers of `s3://` roots (get, serve). Readers use an empty spool, so
everything they read comes from the bucket.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from archive.publish import publish_run
from archive.s3store import S3Store
from tests.s3server import S3Env

PREFIX = "research/archive"


def publish_demo(
    demo_archive: tuple[Path, subprocess.CompletedProcess[str]],
    s3: S3Env,
    work: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Publish every run of the demo archive under s3://bucket/PREFIX and point the readers' spool
    (NEWSARCHIVE_SPOOL) at an empty folder of `work`. Returns the archive's s3:// URL."""
    root, proc = demo_archive
    assert proc.returncode == 0, proc.stderr[-2000:]
    # A copy: publishing may leave an upload queue in the staging root, and the demo archive is shared.
    staging = shutil.copytree(root, work / "staging", ignore=shutil.ignore_patterns(".*"))
    url = s3.url(PREFIX)
    runs = sorted(p.parent.name for p in staging.glob("runs/*/manifest.json"))
    assert runs, "the demo archive has no finished run"
    for run_id in runs:
        report = publish_run(staging, run_id, S3Store.from_url(url))
        assert report.ok, report
    monkeypatch.setenv("NEWSARCHIVE_SPOOL", str(work / "spool"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(work / "cache"))
    return url
