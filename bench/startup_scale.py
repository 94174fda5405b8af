"""Start-up of a crawl over a large archive, next to an empty one (issue 10, "Scale").

    .venv/bin/python -m bench.startup_scale [--quick] [--records N] [--per-file 1000] [--rounds 5]

A synthetic archive of `--records` complete response records (1,000,000; `--quick`: 100,000) is
written in the real index format: CDXJ files built by archive.cdxj (cdxj_line + write_cdxj_lines, as
the WARC writer indexes its files), `--per-file` records each, under `warc/YYYY/MM/DD/` with WARC file
names as the writer makes them. The WARC files themselves are empty placeholders: start-up never
reads a record (only the one-time catalog build reads a WARC's first bytes, for its warcinfo, and
finds none), but the placeholders keep the file walks of start-up (repair, index_missing) as long as
in a real archive.

Measured in fresh child processes, arms alternating, medians of `--rounds`:
- the one-time catalog build (CatalogPayloads.open on a root without a catalog): time and peak RSS;
- start-up once the catalog is built: the path a crawl takes before its first page, in the order it
  takes it (IncrementalSkip's recover_root, the capture middleware's recover: repair, index_missing,
  PayloadIndex.use_catalog with its catalog refresh; IncrementalSkip's own Catalog.open + refresh), then
  first lookups (a payload digest known and unknown, a URL's last capture, `Catalog.archived`). Reported
  as the child's whole wall time (interpreter start to lookups done), the path alone, and peak RSS;
- for comparison, what start-up cost before: PayloadIndex.load_cdxj over the same indexes.

The child imports the archive modules the path uses and not Scrapy (a crawl imports Scrapy too, the
same in both arms): the process figures are conservative. Written into bench/RESULTS.md between
`<!-- startup_scale -->` markers.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.report import REPO, write_section

SECTION = "startup_scale"
TARGET = 1.2
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
UNKNOWN_DIGEST = "sha1:" + "2" * 32  # no record of the synthetic archive has it
_OUTLETS = ("https://www.jiji.com/jc/article?k=", "https://www.asahi.com/articles/")


# -- the synthetic archive ------------------------------------------------------------------------------


def url_of(i: int) -> str:
    return f"{_OUTLETS[i % 2]}{i:09d}"


def digest_of(i: int) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(i.to_bytes(8, "big")).digest()).decode("ascii")


def write_synthetic_archive(root: Path, records: int, per_file: int = 1000, placeholders: bool = True) -> int:
    """Write the CDXJ indexes of `records` complete responses (distinct URLs and payloads) under `root`,
    `per_file` per WARC file, with empty placeholder WARC files unless told not to, and a run manifest
    per day of files (a finished run's responses count as archived); return the WARC file count."""
    from archive.cdxj import cdxj_line, write_cdxj_lines
    from archive.paths import manifest_relpath, warc_relpath

    files = 0
    runs: dict[str, list[str]] = {}
    for start in range(0, records, per_file):
        opened = _EPOCH + timedelta(hours=files)
        warc = root / warc_relpath("newsarchive", opened, files % 100_000, "synthetic", 1)
        warc.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        offset = 1000  # after the warcinfo record
        for i in range(start, min(start + per_file, records)):
            date = (opened + timedelta(milliseconds=i - start)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            line = cdxj_line(
                rec_type="response",
                uri=url_of(i),
                warc_date=date,
                offset=offset,
                length=30_000,
                filename=warc.name,
                record_id=f"<urn:uuid:00000000-0000-4000-8000-{i:012d}>",
                payload_digest=digest_of(i),
                status=200,
                http_content_type="text/html; charset=utf-8",
            )
            assert line is not None
            lines.append(line)
            offset += 31_000  # the request record before each response
        write_cdxj_lines(warc, lines)
        if placeholders:
            warc.touch()
        runs.setdefault(f"{opened:%Y%m%d}-synthetic", []).append(warc.relative_to(root).as_posix())
        files += 1
    for run_id, paths in runs.items():
        manifest = root / manifest_relpath(run_id)
        manifest.parent.mkdir(parents=True, exist_ok=True)
        files_of_run = [{"kind": "warc", "path": path} for path in paths]
        manifest.write_text(json.dumps({"run_id": run_id, "files": files_of_run}), encoding="utf-8")
    return files


# -- children -------------------------------------------------------------------------------------------


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_build(root: Path) -> dict[str, Any]:
    from archive.catalog_payloads import CatalogPayloads

    t0 = time.perf_counter()
    payloads, ingested = CatalogPayloads.open(root)
    payloads.close()
    return {"seconds": time.perf_counter() - t0, "files": ingested, "peak_rss_mib": _peak_rss_mib()}


def child_startup(root: Path, probe: int) -> dict[str, Any]:
    """The start-up path of a crawl (see the module docstring); `probe` is a record the archive may hold."""
    from archive.catalog import Catalog
    from archive.cdxj import index_missing
    from archive.dedup import PayloadIndex
    from archive.recovery import recover_root
    from archive.warc_writer import WarcWriter

    t0 = time.perf_counter()
    recover_root(root)  # IncrementalSkip, when it is built
    WarcWriter.recover_open_files(root)  # the capture middleware's recover, at spider_opened
    index_missing(root)
    # One refresh per crawler, shared by the payload index, IncrementalSkip and the follow-ups
    # (pipelines.crawl_catalog), at spider_opened after the repairs above.
    catalog = Catalog.open(root)
    ingested = catalog.refresh()
    payloads = PayloadIndex()
    payloads.use_catalog(root, refresh=False)
    found = [
        payloads.original_for(digest_of(probe)) is not None,
        payloads.original_for(UNKNOWN_DIGEST) is None,
        payloads.last_capture_of(url_of(probe)) is not None,
        catalog.archived(url_of(probe)),
    ]
    seconds = time.perf_counter() - t0
    in_memory = len(payloads)
    catalog.close()
    payloads.close()
    return {
        "path_seconds": seconds,
        "ingested": ingested,
        "found": found,
        "in_memory": in_memory,
        "peak_rss_mib": _peak_rss_mib(),
    }


def child_load_cdxj(root: Path) -> dict[str, Any]:
    from archive.dedup import PayloadIndex

    t0 = time.perf_counter()
    known = PayloadIndex().load_cdxj(root)
    return {"seconds": time.perf_counter() - t0, "known": known, "peak_rss_mib": _peak_rss_mib()}


def _spawn(mode: str, root: Path, probe: int = 0) -> dict[str, Any]:
    started = time.time()
    cmd = [sys.executable, "-m", "bench.startup_scale", "--child", mode, str(root), "--probe", str(probe)]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True, timeout=3600)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.time() - started
    return result


# -- the measure ----------------------------------------------------------------------------------------


def run(
    quick: bool,
    records: int | None = None,
    per_file: int = 1000,
    rounds: int | None = None,
    *,
    write: bool = True,
) -> dict[str, Any]:
    """Build an empty and a large synthetic archive, measure both (see the module docstring) and, with
    `write`, replace this benchmark's section of bench/RESULTS.md (`make bench` calls run alone)."""
    result = _measure(quick, records, per_file, rounds)
    if write:
        write_section(SECTION, section(result))
    return result


def _measure(quick: bool, records: int | None, per_file: int, rounds: int | None) -> dict[str, Any]:
    records = records or (100_000 if quick else 1_000_000)
    rounds = rounds or (3 if quick else 5)
    probe = records // 2
    tmp = Path(tempfile.mkdtemp(prefix="startup-scale-"))
    try:
        empty, large = tmp / "empty", tmp / "large"
        empty.mkdir()
        t0 = time.perf_counter()
        files = write_synthetic_archive(large, records, per_file)
        generate_s = time.perf_counter() - t0
        index_bytes = sum(p.stat().st_size for p in large.rglob("*.cdxj"))
        build = {"empty": _spawn("build", empty), "large": _spawn("build", large)}
        catalog_bytes = (large / ".catalog.sqlite").stat().st_size
        starts: dict[str, list[dict[str, Any]]] = {"empty": [], "large": []}
        for _ in range(rounds):
            starts["empty"].append(_spawn("startup", empty, probe))
            starts["large"].append(_spawn("startup", large, probe))
        before = {"empty": _spawn("load_cdxj", empty), "large": _spawn("load_cdxj", large)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def median(arm: str, key: str) -> float:
        return statistics.median(float(s[key]) for s in starts[arm])

    figures = {
        arm: {key: median(arm, key) for key in ("process_seconds", "path_seconds", "peak_rss_mib")}
        for arm in starts
    }
    ratios = {key: figures["large"][key] / figures["empty"][key] for key in figures["large"]}
    return {
        "machine": machine(),
        "quick": quick,
        "records": records,
        "per_file": per_file,
        "files": files,
        "rounds": rounds,
        "generate_seconds": generate_s,
        "index_mib": index_bytes / 2**20,
        "catalog_mib": catalog_bytes / 2**20,
        "build": build,
        "startup": figures,
        "startup_rounds": starts,
        "ratios": ratios,
        "lookups_ok": all(all(s["found"]) for s in starts["large"]),
        "in_memory_after_start": max(s["in_memory"] for s in starts["large"]),
        "before": before,
        "target_met": ratios["process_seconds"] <= TARGET and ratios["peak_rss_mib"] <= TARGET,
    }


# -- report ---------------------------------------------------------------------------------------------


def machine() -> str:
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}, "
        f"warcio {version('warcio')}"
    )


def section(r: dict[str, Any]) -> str:
    e, g, b = r["startup"]["empty"], r["startup"]["large"], r["build"]["large"]
    ratio = r["ratios"]
    before_l, before_e = r["before"]["large"], r["before"]["empty"]
    verdict = "met" if r["target_met"] else "NOT met"
    return f"""<!-- {SECTION} -->
## Crawl start-up over a large archive (bench/startup_scale.py)

{r["machine"]}{" (quick mode)" if r["quick"] else ""}.
Synthetic archive: {r["records"]:,} complete response records in {r["files"]:,} CDXJ indexes written by
archive/cdxj.py ({r["per_file"]:,} per WARC file; {r["index_mib"]:.0f} MiB of index; the WARC files are
empty placeholders, which start-up never reads), next to an empty root. Fresh child process per
measure; start-up medians of {r["rounds"]} rounds, arms alternating. The machine is shared: absolute
times move from run to run, compare the two arms of one run.

| start-up, catalog built | empty archive | {r["records"]:,} records | ratio |
|---|---|---|---|
| process wall time (interpreter start to first lookups done) | {e["process_seconds"]:.3f} s | {g["process_seconds"]:.3f} s | **{ratio["process_seconds"]:.2f}x** |
| start-up path alone (repair, index check, one catalog refresh, 4 lookups) | {1000 * e["path_seconds"]:.1f} ms | {1000 * g["path_seconds"]:.1f} ms | {ratio["path_seconds"]:.2f}x |
| peak RSS of the process | {e["peak_rss_mib"]:.1f} MiB | {g["peak_rss_mib"]:.1f} MiB | **{ratio["peak_rss_mib"]:.2f}x** |

Target (within {TARGET}x of the empty archive for time and memory): **{verdict}**. Lookups answered
from the catalog: {"yes" if r["lookups_ok"] else "NO"}; payloads held in memory after start: {r["in_memory_after_start"]}.

One-time catalog build (a root without `.catalog.sqlite`, or after a catalog schema change):
{b["seconds"]:.1f} s and {b["peak_rss_mib"]:.0f} MiB peak RSS for {b["files"]:,} files (indexes and manifests)
({r["catalog_mib"]:.0f} MiB of catalog; empty root: {r["build"]["empty"]["seconds"]:.2f} s). Later
runs ingest only the files written since (each crawl's own few).

Before (PayloadIndex.load_cdxj reading every index at each start): {before_l["seconds"]:.1f} s and
{before_l["peak_rss_mib"]:.0f} MiB peak RSS for this archive (empty root: {before_e["seconds"]:.2f} s,
{before_e["peak_rss_mib"]:.0f} MiB); that cost came back at every run and grew with the archive.

What still grows with the archive at start-up: the file walks (repair, index_missing, the catalog's
listing of its source files) and the set of ingested keys, all per file, not per record; the
start-up path row shows their cost at {r["files"]:,} files. Synthetic data generated in
{r["generate_seconds"]:.0f} s.
<!-- /{SECTION} -->
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.startup_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 records instead of 1,000,000")
    parser.add_argument("--records", type=int, default=None)
    parser.add_argument("--per-file", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    parser.add_argument("--child", choices=("build", "startup", "load_cdxj"), help=argparse.SUPPRESS)
    parser.add_argument("root", nargs="?", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--probe", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        children = {
            "build": lambda: child_build(args.root),
            "startup": lambda: child_startup(args.root, args.probe),
            "load_cdxj": lambda: child_load_cdxj(args.root),
        }
        print(json.dumps(children[args.child]()))
        return 0
    result = run(args.quick, args.records, args.per_file, args.rounds, write=not args.no_write)
    print(section(result))
    return 0 if result["target_met"] and result["lookups_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
