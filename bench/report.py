"""What every benchmark shares: where the results go and how the machine is described."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "RESULTS.md"


def median_cpu_ms(fn: Callable[[], Any], repeat: int) -> float:
    """Median CPU time of `fn` on this thread, in ms: steadier than wall time on a shared machine."""
    times = []
    for _ in range(repeat):
        t0 = time.thread_time()
        fn()
        times.append(1000 * (time.thread_time() - t0))
    return statistics.median(times)


def machine(*libraries: str) -> str:
    """Date, architecture, cores, Python, and the versions of the libraries the figures depend on."""
    libs = "; " + ", ".join(f"{name} {version(name)}" for name in libraries) if libraries else ""
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}{libs}"
    )


def write_section(name: str, section: str) -> None:
    """Replace (or append) the `<!-- name -->` ... `<!-- /name -->` section of bench/RESULTS.md."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->\n"
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.is_file() else "# Benchmark results\n\n"
    if start in old:
        head, _, rest = old.partition(start)
        _, _, tail = rest.partition(end)
        text = head + section + tail
    else:
        text = old.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")
