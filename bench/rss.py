"""Peak resident memory of a process and its descendants, sampled from /proc on a daemon thread.

ru_maxrss gives one process's peak (and only the largest child's): a crawl with extraction workers
needs the peak of the sum, which only sampling gives.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text("ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        for task in (
            Path(f"/proc/{current}/task").glob("*/children") if Path(f"/proc/{current}").exists() else ()
        ):
            try:
                kids = [int(x) for x in task.read_text("ascii").split()]
            except (OSError, ValueError):
                continue
            found += kids
            todo += kids
    return found


class PeakRss:
    """`with PeakRss() as peak: ...` then `peak.main_mb`, `peak.total_mb` (self + descendants)."""

    def __init__(self, pid: int | None = None, interval: float = 0.1) -> None:
        self.pid = pid or os.getpid()
        self.interval = interval
        self.main_kib = self.total_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        main = _rss_kib(self.pid)
        total = main + sum(_rss_kib(p) for p in _descendants(self.pid))
        self.main_kib, self.total_kib = max(self.main_kib, main), max(self.total_kib, total)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> PeakRss:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def main_mb(self) -> float:
        return self.main_kib * 1024 / 1e6

    @property
    def total_mb(self) -> float:
        return self.total_kib * 1024 / 1e6
