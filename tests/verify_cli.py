"""`newsarchive verify ROOT` in a child process, as the end-to-end tests check an archive after a crawl."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def verify(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", "verify", str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_verifies(root: Path, env: dict[str, str]) -> None:
    """The archive at `root` passes every check of `verify` (exit 0); its report's tail otherwise."""
    result = verify(root, env)
    assert result.returncode == 0, (
        f"exit {result.returncode}\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    )
