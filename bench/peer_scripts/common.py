"""What the peer scripts share: CPU, wall time and peak RSS of a piece of work, printed as JSON."""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from pathlib import Path
from typing import Any


def rss_kib() -> int:
    for line in Path(f"/proc/{os.getpid()}/status").read_text("ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Measure:
    def __enter__(self) -> Measure:
        self.peak = rss_kib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        self.r0, self.t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, rss_kib())

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        self.cpu = (r1.ru_utime - self.r0.ru_utime) + (r1.ru_stime - self.r0.ru_stime)
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib())

    def figures(self) -> dict[str, Any]:
        return {"wall_s": self.wall, "cpu_s": self.cpu, "peak_rss_mb": self.peak * 1024 / 1e6}


def emit(result: dict[str, Any]) -> None:
    print("PEER-RESULT " + json.dumps(result), flush=True)
