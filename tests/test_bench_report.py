"""The benchmark harness's bookkeeping on tiny fake results: verdicts, the summary section, results.json,
and a missing benchmark reported as such. No benchmark runs here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import harness, report
from bench.summary import render_summary
from bench.targets import MET, NOT_MEASURED, NOT_MET, verdicts

FAKE = {
    "pipeline": {
        "status": "ok",
        "seconds": 1.0,
        "figures": {
            "full_vs_bare_rate": 0.7,
            "naive_vs_full_cpu_per_article": 2.0,
            "full_peak_rss_mb": 250.0,
            "default_arm": "full-w0",
            "arms": {
                "bare": {
                    "pages": 10,
                    "pages_per_s": {"median": 100.0, "min": 90.0, "max": 110.0},
                    "cpu_ms_per_page": {"median": 5.0, "min": 4.0, "max": 6.0},
                    "peak_rss_mb": {"median": 150.0, "min": 150.0, "max": 150.0},
                }
            },
        },
    },
    "startup_scale": {"status": "ok", "seconds": 2.0, "figures": {"ratios": {"process_seconds": 1.1}}},
    "scale_out": {"status": "absent", "why": "bench.scale_out does not exist yet"},
    "peers": {
        "status": "ok",
        "figures": {
            "rows": [
                {
                    "task": "WARC writing",
                    "tool": "warcio",
                    "pages": 3,
                    "pages_per_s": 9.5,
                    "cpu_ms_per_page": 1.5,
                }
            ]
        },
    },
}


def test_verdicts_read_flat_and_nested_figures_and_mark_the_missing() -> None:
    rows = {r["label"]: r for r in verdicts(FAKE)}
    assert rows["full pipeline / bare Scrapy throughput"]["verdict"] == MET
    assert rows["naive / ours CPU per article"]["verdict"] == NOT_MET
    assert rows["peak RSS of a full crawl (all processes)"]["verdict"] == MET
    assert rows["crawl start-up over a 1M-record archive / empty archive"]["verdict"] == MET
    assert rows["Redis round-trips per archived page"]["verdict"] == NOT_MEASURED
    assert rows["full-text search p95"]["verdict"] == NOT_MEASURED


def test_summary_lists_targets_status_peers_and_plot() -> None:
    machine = {
        "date": "2026-01-01 00:00 UTC",
        "cores": 2,
        "memory_gib": 24,
        "python": "3.11",
        "libraries": {},
    }
    text = render_summary(FAKE, machine, quick=True, plot="performance.png")
    assert text.startswith("<!-- summary -->") and text.rstrip().endswith("<!-- /summary -->")
    assert "| #14.5 | full pipeline / bare Scrapy throughput | 0.7x | >= 0.6x | **met** | pipeline |" in text
    assert "| scale_out | absent | - | - | bench.scale_out does not exist yet |" in text
    assert "| WARC writing | warcio | 3 | 9.50 | 1.50 |" in text
    assert "bare Scrapy (no capture, no pipelines)" in text
    assert "![throughput and CPU per page, us and peers](performance.png)" in text
    assert "QUICK" in text


def test_write_puts_the_summary_first_and_the_figures_in_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results_md, results_json = tmp_path / "RESULTS.md", tmp_path / "results.json"
    results_md.write_text("# Benchmark results\n\n<!-- capture -->\nold\n<!-- /capture -->\n", "utf-8")
    monkeypatch.setattr(report, "RESULTS", results_md)
    monkeypatch.setattr(harness, "RESULTS", results_md)
    monkeypatch.setattr(harness, "RESULTS_JSON", results_json)
    harness.write(FAKE, quick=False, plot=None)
    text = results_md.read_text("utf-8")
    assert text.index("<!-- summary -->") < text.index("<!-- capture -->")
    assert "old" in text
    data = json.loads(results_json.read_text("utf-8"))
    assert data["benchmarks"]["pipeline"]["figures"]["full_vs_bare_rate"] == 0.7
    assert data["machine"]["cores"] and data["machine"]["python"]
    harness.write(FAKE, quick=False, plot=None)  # again: one summary, replaced in place
    assert results_md.read_text("utf-8").count("<!-- summary -->") == 1


def test_a_missing_or_failing_benchmark_is_a_status_not_a_crash() -> None:
    assert harness.run_one("bench.no_such_benchmark:run", quick=True)["status"] == "absent"
    not_figures = harness.run_one("bench.targets:fmt", quick=True)  # returns a str, not a dict of figures
    assert not_figures["status"] == "failed" and "not a dict" in not_figures["why"]
    broken = harness.run_one("bench.targets:no_such_function", quick=True)
    assert broken["status"] == "failed" and "AttributeError" in broken["why"]
