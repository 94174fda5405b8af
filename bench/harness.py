"""`make bench`: run every benchmark, one child process each, and write bench/results.json plus the
summary section of bench/RESULTS.md (machine, every target with its figure, what did not run).

    .venv/bin/python -m bench [--quick] [--only NAME ...]

A benchmark is a module with `run(quick: bool) -> dict` of figures (flat: name -> number; lists and
strings allowed). Adding one is one line in BENCHMARKS. Modules are imported lazily in the child, so
a module that does not exist yet, fails to import or raises is reported as such, never a crash; each
benchmark also writes its own detailed section of RESULTS.md. They run one at a time: each measures
CPU on a 2-core machine and must not share it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.report import REPO, RESULTS, write_section
from bench.summary import render_summary

RESULTS_JSON = REPO / "bench" / "results.json"

# (name, "module:function"). Order: the cheap and central ones first, peers last.
BENCHMARKS: list[tuple[str, str]] = [
    ("pipeline", "bench.pipeline:run"),
    ("capture", "bench.adapters:capture"),
    ("extraction", "bench.adapters:extraction"),
    ("body_f1", "bench.adapters:body_f1"),
    ("requests", "bench.adapters:requests"),
    ("publish", "bench.adapters:publish"),
    ("archive_access", "bench.archive_access:run"),
    ("scale_out", "bench.scale_out:run"),
    ("startup_scale", "bench.startup_scale:run"),
    ("schedule", "bench.schedule:run"),
    ("peers", "bench.peers:run"),
]
TIMEOUT_S = {"quick": 900, "full": 3600}


def run_one(target: str, quick: bool) -> dict[str, Any]:
    """In the child: import lazily and run; the outcome is always a dict with a status."""
    module_name, _, func = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return {"status": "absent", "why": f"{module_name} does not exist yet"}
        return {"status": "failed", "why": f"import: {type(exc).__name__}: {exc}"}
    t0 = time.perf_counter()
    try:
        figures = getattr(module, func or "run")(quick)
    except Exception as exc:  # a failed benchmark is a row in the report, not the end of the run
        return {"status": "failed", "why": f"{type(exc).__name__}: {exc}"}
    if not isinstance(figures, dict):
        return {
            "status": "failed",
            "why": f"run() returned a {type(figures).__name__}, not a dict of figures",
        }
    return {"status": "ok", "seconds": round(time.perf_counter() - t0, 1), "figures": figures}


def run_child(name: str, target: str, quick: bool) -> dict[str, Any]:
    """One benchmark in a child process: its memory, threads and crashes stay its own."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out = Path(tmp.name)
    argv = [sys.executable, "-m", "bench.harness", "--child", target, str(out)] + (
        ["--quick"] if quick else []
    )
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(argv, cwd=REPO, timeout=TIMEOUT_S["quick" if quick else "full"], check=False)
        if out.stat().st_size:
            result: dict[str, Any] = json.loads(out.read_text("utf-8"))
        else:
            result = {"status": "failed", "why": f"child exited {proc.returncode} with no result"}
    except subprocess.TimeoutExpired:
        result = {"status": "failed", "why": "timed out"}
    finally:
        out.unlink(missing_ok=True)
    result.setdefault("seconds", round(time.perf_counter() - t0, 1))
    print(f"bench: {name}: {result['status']} ({result['seconds']} s) {result.get('why', '')}", flush=True)
    return result


def run_all(names: list[str] | None, quick: bool) -> dict[str, dict[str, Any]]:
    old = json.loads(RESULTS_JSON.read_text("utf-8")).get("benchmarks", {}) if RESULTS_JSON.is_file() else {}
    results: dict[str, dict[str, Any]] = {}
    for name, target in BENCHMARKS:
        if names and name not in names:
            if name in old:  # --only keeps the other benchmarks' last figures, marked as such
                results[name] = {**old[name], "stale": True}
            continue
        results[name] = run_child(name, target, quick)
        results[name]["quick"] = quick
    return results


def write(results: dict[str, dict[str, Any]], quick: bool, plot: str | None) -> str:
    from bench.machine import describe

    machine = describe()
    RESULTS_JSON.write_text(
        json.dumps({"machine": machine, "quick": quick, "benchmarks": results}, indent=1, default=str) + "\n",
        encoding="utf-8",
    )
    section = render_summary(results, machine, quick, plot)
    text = RESULTS.read_text("utf-8") if RESULTS.is_file() else "# Benchmark results\n\n"
    if "<!-- summary -->" not in text:
        # The summary goes first, right under the title; every benchmark's own section follows.
        title, _, rest = text.partition("\n\n")
        RESULTS.write_text(f"{title}\n\n<!-- summary -->\n<!-- /summary -->\n\n{rest}", encoding="utf-8")
    write_section("summary", section)
    return section


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        result = run_one(argv[1], "--quick" in argv)
        Path(argv[2]).write_text(json.dumps(result, default=str), encoding="utf-8")
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", default=os.environ.get("QUICK", "") not in ("", "0"))
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help=f"of: {', '.join(n for n, _ in BENCHMARKS)}"
    )
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--report-only", action="store_true", help="rewrite the summary from results.json")
    args = parser.parse_args(argv)
    unknown = set(args.only or ()) - {n for n, _ in BENCHMARKS}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if args.report_only:  # re-render RESULTS.md's summary and the plot from results.json, measure nothing
        saved = json.loads(RESULTS_JSON.read_text("utf-8"))
        results, args.quick = saved["benchmarks"], saved["quick"]
    else:
        results = run_all(args.only, args.quick)
    plot = None
    if not args.no_plot:
        from bench.plot import make_plot

        plot = make_plot(results)
    print(write(results, args.quick, plot))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
