"""bench/performance.png: throughput and CPU per page, us vs peers, drawn with matplotlib in its own
venv (bench/.venvs/plot) so that the project does not depend on it."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from bench.report import REPO
from bench.venvs import PeerUnavailable, ensure, run_script

PNG = REPO / "bench" / "performance.png"


def bars(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Our crawl arms (bench/pipeline.py) and every peer row that has both figures."""
    out = []
    pipeline = results.get("pipeline", {}).get("figures") or {}
    arms = pipeline.get("arms", {})
    default = pipeline.get("default_arm")
    for key, label, ours in (
        (default, f"newsarchive full pipeline ({default})", True),
        ("bare", "bare Scrapy (no capture, no pipelines)", False),
        ("naive", "naive scrapy + warcio + trafilatura", False),
    ):
        arm = arms.get(key or "")
        if arm:
            out.append(
                {
                    "task": "crawl",
                    "label": label,
                    "ours": ours,
                    "pages_per_s": arm["pages_per_s"]["median"],
                    "cpu_ms_per_page": arm["cpu_ms_per_page"]["median"],
                }
            )
    for row in (results.get("peers", {}).get("figures") or {}).get("rows", []):
        if row.get("status") == "ok" and row.get("pages_per_s") and row.get("cpu_ms_per_page"):
            if "on fundus's pages" in row["tool"]:
                continue
            out.append(
                {
                    "task": row["task"].split(" (")[0],
                    "label": row["tool"],
                    "ours": row["tool"].startswith("ours"),
                    "pages_per_s": row["pages_per_s"],
                    "cpu_ms_per_page": row["cpu_ms_per_page"],
                }
            )
    return out


def make_plot(results: dict[str, dict[str, Any]]) -> str | None:
    """Draw the PNG; returns its path relative to bench/ (for RESULTS.md), None when it cannot."""
    data = bars(results)
    if not data:
        return None
    try:
        python = ensure("plot")
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "bars.json"
            src.write_text(json.dumps(data), "utf-8")
            run_script(python, "plot_figures.py", str(src), str(PNG))
    except PeerUnavailable as exc:
        print(f"bench: no plot: {exc}")
        return None
    return PNG.name
