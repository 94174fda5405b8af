"""Draw bench/performance.png from a list of bars (run in bench/.venvs/plot, which has matplotlib).

    python plot_figures.py BARS.json OUT.png
BARS.json: [{"label", "task", "pages_per_s", "cpu_ms_per_page", "ours"}]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from common import emit


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = json.loads(Path(sys.argv[1]).read_text("utf-8"))
    labels = [f"{b['task']}: {b['label']}" for b in bars]
    colours = ["#1f77b4" if b["ours"] else "#ff7f0e" for b in bars]
    fig, axes = plt.subplots(1, 2, figsize=(13, 0.42 * len(bars) + 1.6), sharey=True)
    for ax, key, title in (
        (axes[0], "pages_per_s", "pages per second (higher is better, log scale)"),
        (axes[1], "cpu_ms_per_page", "CPU ms per page (lower is better, log scale)"),
    ):
        values = [b[key] or 0 for b in bars]
        ax.barh(range(len(bars)), values, color=colours)
        ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:.3g}", va="center", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(bars)), labels, fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle("newsarchive (blue) vs peers (orange), same input, same run", fontsize=11)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)
    emit({"bars": len(bars)})


if __name__ == "__main__":
    main()
