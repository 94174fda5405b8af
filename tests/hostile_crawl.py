"""`newsarchive crawl` of the hostile site in a subprocess, with its peak memory and duration measured.

Run as a script, this is tests/local_crawl.py (the local pace of the demo) plus the settings given as JSON
in HOSTILE_CRAWL_SETTINGS, patched into crawler.settings the same way, so that a test can shorten
DOWNLOAD_TIMEOUT or lower a cap without waiting for the production values.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@dataclass
class CrawlRun:
    code: int
    stdout: str
    stderr: str
    peak_rss_mb: float  # the crawl process's own peak resident set size (VmHWM after exec)
    seconds: float


def run_crawl(
    args: list[str], env: dict[str, str], tmp: Path, *, settings: dict[str, Any], timeout: float
) -> CrawlRun:
    """Run the CLI with `args`; killed after `timeout` seconds (the test then fails on the exit code)."""
    out, err, peak = tmp / "crawl.stdout", tmp / "crawl.stderr", tmp / "crawl.peak"
    env = dict(env, HOSTILE_CRAWL_SETTINGS=json.dumps(settings), HOSTILE_CRAWL_PEAK_FILE=str(peak))
    started = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *args], env=env, stdout=stdout, stderr=stderr
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            status = os.waitpid(proc.pid, 0)[1]
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return CrawlRun(
        code=proc.returncode,
        stdout=out.read_text("utf-8", errors="replace"),
        stderr=err.read_text("utf-8", errors="replace"),
        peak_rss_mb=int(peak.read_text()) / 1024 if peak.exists() else float("inf"),
        seconds=time.monotonic() - started,
    )


def _main() -> int:
    sys.path.insert(0, str(HERE.parent))
    import crawler.settings
    from crawler.cli import main
    from tests.local_crawl import use_local_pace

    use_local_pace()
    for name, value in json.loads(os.environ.get("HOSTILE_CRAWL_SETTINGS") or "{}").items():
        setattr(crawler.settings, name, value)
    try:
        return main()
    finally:
        # Read here, not through wait4/getrusage in the test: a child forked from a big pytest process
        # reports the parent's peak until exec. VmHWM of this process counts this crawl only.
        status = Path("/proc/self/status").read_text()
        kilobytes = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
        Path(os.environ["HOSTILE_CRAWL_PEAK_FILE"]).write_text(kilobytes)


if __name__ == "__main__":
    sys.exit(_main())
