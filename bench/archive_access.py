"""Researcher access at scale (issue #11): full-text search latency, export rates and WACZ memory over a
synthetic archive of 100,000 articles (10,000 with QUICK=1).

    .venv/bin/python -m bench.archive_access [--quick]      (QUICK=1 too; BENCH_KEEP=1 keeps the
    work folder, BENCH_REUSE=FOLDER measures the archive kept there again)
    (or through the harness: `make bench`, module `bench.archive_access:run`)

The archive (bench/synthetic_archive.py) is built from the articles of a `newsarchive demo` crawl and
written through the real writers: WARC records (request, response, metadata; CDXJ), JSON lines
partitions and run manifests, one run per month of publication over two years.

Measured, each step in a fresh child process (its peak RSS is its own):
1. index: the first open of the article index (archive.article_index) ingests every row: time, size.
2. search: archive.search_index.search (limit 50, the browse page's page size) for a fixed mix of
   queries (frequent terms, rare names, two terms, filtered by outlet and month, a two-character term
   under a month filter), each 5 times; median and p95 over all calls and p95 per kind.
3. export: archive.export.export_selection of a 10,000-article selection (2,000 with QUICK) to Parquet
   (median of PARQUET_ROUNDS rounds), JSONL and CSV (articles/s), and to WACZ at two selection sizes
   (peak RSS of each: the memory must not grow with the selection).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench import synthetic_archive
from bench.report import REPO, machine, write_section
from bench.synthetic_archive import DAYS, FIRST_DAY

FULL_ARTICLES, QUICK_ARTICLES = 100_000, 10_000
FULL_SELECTION, QUICK_SELECTION = 10_000, 2_000
SEARCH_REPEAT = 5
# The Parquet export takes well under a second, on a machine others share: its figure is the median of
# this many rounds, each the whole export in a fresh process (nothing kept from one round to the next).
PARQUET_ROUNDS = 5


# -- the measured steps (each in a child process) --------------------------------------------------------


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _selection_days(n: int, size: int) -> tuple[date, date]:
    """The first days of publication that hold about `size` articles (articles are spread evenly)."""
    days = max(1, round(size * DAYS / n))
    return FIRST_DAY, FIRST_DAY + timedelta(days=days - 1)


def child_index(root: Path) -> dict[str, Any]:
    from archive.article_index import INDEX_NAME, open_index

    t0 = time.perf_counter()
    with open_index(root) as index:
        docs = index.conn.execute("SELECT COUNT(*) FROM docs").fetchone()[0]
    return {
        "index_s": time.perf_counter() - t0,
        "indexed": docs,
        "index_mib": (root / INDEX_NAME).stat().st_size / (1 << 20),
        "peak_mib": _peak_mib(),
    }


def _queries(names: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
    month = (date(2024, 6, 1), date(2024, 6, 30))
    queries: list[tuple[str, str, dict[str, Any]]] = [
        ("frequent", term, {}) for term in ("軍事協力", "北朝鮮", "ロシア", "ミサイル", "弾薬")
    ]
    queries += [("rare", name, {}) for name in names[:20]]
    queries += [("two terms", q, {}) for q in ("北朝鮮 弾薬", "ロシア 派兵", "軍事協力 ミサイル")]
    queries += [
        ("filtered", term, {"outlets": ("jiji",), "since": month[0], "until": month[1]})
        for term in ("北朝鮮", "軍事協力", "ロシア")
    ]
    queries += [("short, month", term, {"since": month[0], "until": month[1]}) for term in ("派兵", "協力")]
    return queries


def child_search(root: Path, names: list[str]) -> dict[str, Any]:
    from archive.article_index import open_index
    from archive.search_index import search
    from archive.selection import Selection

    search(root, "北朝鮮", limit=1)  # the index is refreshed on open: once, before timing
    times: dict[str, list[float]] = {}
    hits: dict[str, list[int]] = {}
    for kind, query, filters in _queries(names):
        for _ in range(SEARCH_REPEAT):
            t0 = time.perf_counter()
            found = search(root, query, Selection(**filters), limit=50)
            times.setdefault(kind, []).append(1000 * (time.perf_counter() - t0))
        hits.setdefault(kind, []).append(len(found))
    every = sorted(t for ts in times.values() for t in ts)
    # What every call pays before its query: opening the index, which refreshes it (lists the archive's
    # article files and looks for new ones; nothing new here).
    refresh = []
    for _ in range(20):
        t0 = time.perf_counter()
        open_index(root).close()
        refresh.append(1000 * (time.perf_counter() - t0))
    return {
        "search_median_ms": statistics.median(every),
        "search_p95_ms": _p95(every),
        "search_calls": len(every),
        "index_open_median_ms": statistics.median(refresh),
        "by_kind": {
            k: {"median_ms": statistics.median(v), "p95_ms": _p95(sorted(v)), "hits": hits[k]}
            for k, v in times.items()
        },
        "peak_mib": _peak_mib(),
    }


def _p95(sorted_values: list[float]) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(0.95 * len(sorted_values)))]


def child_export(root: Path, fmt: str, size: int, n: int, out: Path) -> dict[str, Any]:
    from archive.article_index import open_index
    from archive.export import export_selection
    from archive.selection import Selection

    since, until = _selection_days(n, size)
    selection = Selection(since=since, until=until)
    open_index(root).close()  # refreshed before timing (a no-op once built)
    # Imported before timing: a one-off cost of the process, not of the export.
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401

    import archive.export_formats
    import archive.parquet_export
    import archive.wacz_export  # noqa: F401

    before = _peak_mib()
    t0 = time.perf_counter()
    result = export_selection(root, selection, fmt, out)
    elapsed = time.perf_counter() - t0
    data = sum(z for _, _, z in result.files[:1])
    return {
        "articles": result.count,
        "s": elapsed,
        "articles_per_s": result.count / elapsed if elapsed else 0.0,
        "data_mib": data / (1 << 20),
        "rss_before_mib": before,
        "peak_mib": _peak_mib(),
    }


def _child(step: str, *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.archive_access", "--child", step, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=3600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {step} failed: {proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- the benchmark ---------------------------------------------------------------------------------------


def measure(n: int, selection: int, work: Path, *, reuse: bool = False) -> dict[str, Any]:
    """Build the archive in `work` (or, with `reuse`, measure the one a BENCH_KEEP run left there)."""
    root, names_file = work / "archive", work / "names.json"
    if reuse:
        templates = synthetic_archive.templates(work / "demo")
        built = {"build_s": None, "size_mib": synthetic_archive.disk_mib(root)}
    else:
        templates = synthetic_archive.templates(synthetic_archive.demo_archive(work))
        root.mkdir()
        built = synthetic_archive.build_archive(root, n, templates)
        names_file.write_text(json.dumps(built["names"], ensure_ascii=False), encoding="utf-8")
    r: dict[str, Any] = {"articles": n, "templates": len(templates), "build_s": built["build_s"]}
    r["archive_mib"] = built["size_mib"]
    r["reused"] = reuse
    r["index"] = _child("index", str(root))
    r["search"] = _child("search", str(root), str(names_file))
    r["exports"] = {}
    rounds = [
        _child("export", str(root), "parquet", str(selection), str(n), str(work / f"out-parquet-{i}"))
        for i in range(PARQUET_ROUNDS)
    ]
    r["parquet_rounds"] = [x["articles_per_s"] for x in rounds]
    r["exports"]["parquet"] = sorted(rounds, key=lambda x: float(x["articles_per_s"]))[len(rounds) // 2]
    for fmt in ("jsonl", "csv"):
        r["exports"][fmt] = _child("export", str(root), fmt, str(selection), str(n), str(work / f"out-{fmt}"))
    small = max(1, selection // 10)
    for size in (small, selection):
        r["exports"][f"wacz-{size}"] = _child(
            "export", str(root), "wacz", str(size), str(n), str(work / f"out-wacz-{size}")
        )
    r["wacz_sizes"] = (small, selection)
    return r


def figures(r: dict[str, Any]) -> dict[str, Any]:
    """The flat figures the harness records (bench/targets.py reads the target keys)."""
    small, large = r["wacz_sizes"]
    ex = r["exports"]
    peaks = [r["index"]["peak_mib"], r["search"]["peak_mib"], *(e["peak_mib"] for e in ex.values())]
    return {
        "articles": r["articles"],
        "build_s": round(r["build_s"], 1) if r["build_s"] is not None else None,
        "archive_mib": round(r["archive_mib"], 1),
        "index_s": round(r["index"]["index_s"], 1),
        "index_mib": round(r["index"]["index_mib"], 1),
        "search_median_ms": round(r["search"]["search_median_ms"], 2),
        "search_p95_ms": round(r["search"]["search_p95_ms"], 2),
        "index_open_median_ms": round(r["search"]["index_open_median_ms"], 2),
        "selection_articles": ex["parquet"]["articles"],
        "parquet_articles_per_s": round(ex["parquet"]["articles_per_s"]),
        "jsonl_articles_per_s": round(ex["jsonl"]["articles_per_s"]),
        "csv_articles_per_s": round(ex["csv"]["articles_per_s"]),
        "wacz_articles_per_s": round(ex[f"wacz-{large}"]["articles_per_s"]),
        "wacz_peak_rss_mb": round(ex[f"wacz-{large}"]["peak_mib"] * 1.048576, 1),
        "wacz_small_peak_rss_mb": round(ex[f"wacz-{small}"]["peak_mib"] * 1.048576, 1),
        "wacz_small_articles": ex[f"wacz-{small}"]["articles"],
        "wacz_large_articles": ex[f"wacz-{large}"]["articles"],
        "peak_rss_mb": round(max(peaks) * 1.048576, 1),
    }


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def render(r: dict[str, Any], quick: bool) -> str:
    f = figures(r)
    ex = r["exports"]
    large = r["wacz_sizes"][1]
    built = f", built in {r['build_s']:.0f} s" if r["build_s"] is not None else " (built by an earlier run)"
    index_how = "opened, already built" if r.get("reused") else "first open, all rows ingested"
    lines = [
        "<!-- archive_access -->",
        "## Researcher access: search and export at scale (bench/archive_access.py)",
        "",
        f"{machine('pyarrow')}; SQLite {sqlite3.sqlite_version}" + ("; QUICK mode" if quick else ""),
        "",
        f"Synthetic archive: {r['articles']:,} articles from {r['templates']} demo articles (payloads as "
        f"captured, own URLs, titles, texts and dates over {DAYS} days), written through WarcWriter "
        f"(request + response + metadata records, CDXJ) and JsonlPartitionWriter with its Parquet twins, one run per month: "
        f"{r['archive_mib']:,.0f} MiB{built}. Article index ({index_how}, FTS5 trigram): "
        f"{r['index']['index_s']:.0f} s, {r['index']['index_mib']:,.0f} MiB.",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| **search p95** ({r['search']['search_calls']} calls, "
        f"limit 50) | **{f['search_p95_ms']:.1f} ms** | < 100 ms: {_verdict(f['search_p95_ms'] < 100)} |",
        f"| search median | {f['search_median_ms']:.1f} ms | |",
        f"| of which opening (refreshing) the index, median | {f['index_open_median_ms']:.1f} ms | |",
        f"| **Parquet export**, {f['selection_articles']:,} articles | **{f['parquet_articles_per_s']:,} "
        f"articles/s** ({ex['parquet']['s']:.2f} s; median of {len(r['parquet_rounds'])} rounds: "
        f"{', '.join(f'{x:,.0f}' for x in r['parquet_rounds'])}) "
        f"| > 20,000/s: {_verdict(f['parquet_articles_per_s'] > 20000)} |",
        f"| JSONL export, same selection | {f['jsonl_articles_per_s']:,} articles/s | |",
        f"| CSV export, same selection | {f['csv_articles_per_s']:,} articles/s | |",
        f"| WACZ export, {f['wacz_large_articles']:,} articles | {f['wacz_articles_per_s']:,} articles/s "
        f"({ex[f'wacz-{large}']['s']:.1f} s, {ex[f'wacz-{large}']['data_mib']:,.0f} MiB) | |",
        f"| **WACZ export peak RSS**, {f['wacz_small_articles']:,} / {f['wacz_large_articles']:,} articles "
        f"| {f['wacz_small_peak_rss_mb']:.0f} / **{f['wacz_peak_rss_mb']:.0f} MB** | < 300 MB, flat: "
        f"{_verdict(f['wacz_peak_rss_mb'] < 300)} |",
        f"| peak RSS of any step | {f['peak_rss_mb']:.0f} MB | |",
        "",
        "Search latency by kind of query (each query 5 times; hits = results of each query, at most 50):",
        "",
        "| kind | median ms | p95 ms | hits |",
        "|---|---|---|---|",
    ]
    for kind, v in r["search"]["by_kind"].items():
        shown = v["hits"] if len(v["hits"]) <= 5 else [*v["hits"][:5], "…"]
        lines.append(f"| {kind} | {v['median_ms']:.1f} | {v['p95_ms']:.1f} | {', '.join(map(str, shown))} |")
    lines += [
        "",
        "Each step runs in a fresh child process; peak RSS is its ru_maxrss (Python, the libraries and "
        "the SQLite page cache included). Export times include the selection query, reading the rows (from "
        "the index; Parquet: from the crawl's Parquet twins), writing the data file, the README, the schema copy, sha256 of every file and fsync. "
        "`filtered` = outlet + one month; `short, month` = a two-character term (below the trigram "
        "length: a substring scan) under a one-month filter.",
        "<!-- /archive_access -->",
        "",
    ]
    return "\n".join(lines)


def run(quick: bool) -> dict[str, Any]:
    n, selection = (QUICK_ARTICLES, QUICK_SELECTION) if quick else (FULL_ARTICLES, FULL_SELECTION)
    reuse = os.environ.get("BENCH_REUSE")  # the work folder a BENCH_KEEP=1 run left
    work = Path(reuse) if reuse else Path(tempfile.mkdtemp(prefix="bench-archive-access-"))
    for old in work.glob("out-*"):
        shutil.rmtree(old)
    try:
        r = measure(n, selection, work, reuse=bool(reuse))
    finally:
        if not (reuse or os.environ.get("BENCH_KEEP")):
            shutil.rmtree(work, ignore_errors=True)
    write_section("archive_access", render(r, quick))
    out = figures(r)
    out["search_by_kind_p95_ms"] = {k: round(v["p95_ms"], 2) for k, v in r["search"]["by_kind"].items()}
    out["parquet_rounds_articles_per_s"] = [round(x) for x in r["parquet_rounds"]]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", default=os.environ.get("QUICK") == "1")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        step, *rest = args.child
        if step == "index":
            result = child_index(Path(rest[0]))
        elif step == "search":
            names = json.loads(Path(rest[1]).read_text(encoding="utf-8"))
            result = child_search(Path(rest[0]), names)
        else:
            root, fmt, size, n, out = rest
            result = child_export(Path(root), fmt, int(size), int(n), Path(out))
        print(json.dumps(result, default=str))
        return 0
    print(json.dumps(run(args.quick), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
